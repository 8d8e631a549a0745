"""Appending rules: semantics, provenance, compaction, crash safety (SIGKILL), two writers."""

from __future__ import annotations

import multiprocessing
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import die_at_profiler_event

from fsbi_data.converters import convert
from fsbi_data.errors import (
    DuplicateSeedError,
    StoreConflictError,
    StoreError,
    StoreIntegrityError,
)
from fsbi_data.store import append, compact, create, open_path, read_manifest
from fsbi_data.store.layout import dataset_from_records, provenance, records_from_dataset
from fsbi_data.store.manifest import FRAGMENTS, writer_lock
from fsbi_data.store.writing import write_part
from fsbi_data.synthetic import release_records

BATCH_ROWS = 4


def batch(k: int, fam: str = "6pPol") -> np.ndarray:
    """Batch ``k``: rows with seeds of their own (salts 10_000 k ...)."""
    return release_records(fam, BATCH_ROWS, rng=1000 + k, first_salt=10_000 * (k + 1))


@pytest.fixture
def store(tmp_path) -> Path:
    src = tmp_path / "base.npy"
    np.save(src, release_records("6pPol", 30, rng=0))
    return convert(src, tmp_path / "rules.store")


def test_append_records_and_dataset(store):
    report = append(store, batch(0), provenance={"backend": "brian2", "network_seeds": [1, 2]})
    assert report.appended == BATCH_ROWS and report.skipped == [] and report.fragment
    ds = open_path(store)
    assert ds.sizes["rule"] == 30 + BATCH_ROWS
    assert records_from_dataset(ds)[-BATCH_ROWS:].tobytes() == batch(0).tobytes()
    assert not ds["theta"].variable._in_memory  # lazy across base and fragment

    report = append(store, dataset_from_records(batch(1), "6pPol"))
    assert report.appended == BATCH_ROWS
    ds = open_path(store)
    assert ds.sizes["rule"] == 30 + 2 * BATCH_ROWS
    records = provenance(ds)
    assert [r["kind"] for r in records] == ["source", "batch", "batch"]
    assert records[1]["backend"] == "brian2" and records[1]["network_seeds"] == [1, 2]
    assert records[1]["rows"] == BATCH_ROWS and "time" in records[1]
    assert records[1]["fsbi_data_version"]


def test_nan_metrics_are_appended(store):
    rules = batch(2)
    for metric in ("rate", "cv_isi", "w_blow"):
        rules[metric][:] = np.nan
    append(store, rules)
    ds = open_path(store).isel(rule=slice(-BATCH_ROWS, None))
    assert np.isnan(ds["rate"].values).all() and np.isnan(ds["w_blow"].values).all()


def test_stored_seeds_are_skipped_or_refused(store):
    append(store, batch(0))
    mixed = np.concatenate([batch(0)[:2], batch(1)])
    report = append(store, mixed)
    assert report.appended == BATCH_ROWS
    assert report.skipped == list(batch(0)["seed"][:2])
    with pytest.raises(DuplicateSeedError, match="already in .*on_duplicate='skip'"):
        append(store, batch(0), on_duplicate="error")
    ds = open_path(store)
    assert ds.sizes["rule"] == 30 + 2 * BATCH_ROWS
    assert len(set(ds["seed"].values)) == ds.sizes["rule"]
    # a batch wholly present commits nothing
    fragments = len(read_manifest(store)["fragments"])
    assert append(store, batch(1)).appended == 0
    assert len(read_manifest(store)["fragments"]) == fragments


def test_repeats_within_a_batch(store):
    rules = batch(3)
    report = append(store, np.concatenate([rules, rules[:1]]))
    assert report.appended == BATCH_ROWS and report.duplicates_in_batch == 1
    clash = np.concatenate([batch(4), batch(4)[:1]])
    clash["rate"][-1] = 1234.5
    with pytest.raises(DuplicateSeedError, match="different rules with the seed"):
        append(store, clash)


def test_wrong_family_or_layout_is_refused(store):
    with pytest.raises(StoreError, match="MLP rules but the store holds 6pPol"):
        append(store, dataset_from_records(batch(0, "MLP"), "MLP"))
    ds = dataset_from_records(batch(0), "6pPol").drop_vars("fft")
    with pytest.raises(StoreError, match="lacks fft"):
        append(store, ds)
    assert open_path(store).sizes["rule"] == 30


def test_round_membership_is_false_for_appended_rules(tmp_path):
    all_records = release_records("MLP", 40, rng=1)
    np.save(tmp_path / "all.npy", all_records)
    np.save(tmp_path / "pi0.npy", all_records[:10])
    store = convert(tmp_path / "all.npy", tmp_path / "s", rounds={"pi0": tmp_path / "pi0.npy"})
    append(store, batch(0, "MLP"))
    ds = open_path(store)
    assert ds["in_pi0"].values.tolist() == [True] * 10 + [False] * (30 + BATCH_ROWS)


def test_compact_keeps_everything(store, monkeypatch):
    monkeypatch.setattr("fsbi_data.store.compaction.BASE_SHARE", 100.0)  # keep the fragments apart
    for k in range(3):
        append(store, batch(k), provenance={"batch": k})
    assert len(read_manifest(store)["fragments"]) == 3
    before = open_path(store).load()
    compact(store)
    after = open_path(store)
    manifest = read_manifest(store)
    assert manifest["fragments"] == [] and manifest["base"] == "base-000001"
    assert records_from_dataset(after).tobytes() == records_from_dataset(before).tobytes()
    assert provenance(after) == provenance(before)
    # the merged parts stay readable for Datasets opened before, for the grace period
    assert (store / "base-000000").is_dir() and len(list((store / "fragments").iterdir())) == 3
    np.testing.assert_array_equal(before["rate"].values, open_path(store)["rate"].values)
    monkeypatch.setattr("fsbi_data.store.compaction.SUPERSEDED_GRACE_S", 0.0)
    append(store, batch(5))  # removes the parts merged before
    compact(store)
    assert sorted(p.name for p in store.iterdir()) == [".lock", "base-000001", "base-000002",
                                                        "fragments", "fsbi-store.json"]
    assert [p.name for p in (store / "fragments").iterdir()] == ["fragment-000003"]
    assert open_path(store).sizes["rule"] == 30 + 4 * BATCH_ROWS


def test_a_rewritten_fragment_is_named_and_the_base_is_untouched(store):
    append(store, batch(0))
    manifest = read_manifest(store)
    fragment = store / FRAGMENTS / manifest["fragments"][0]["name"]
    damaged = open_path(store).isel(rule=slice(30, None)).drop_vars("rate").load()
    shutil.rmtree(fragment)
    write_part(damaged, fragment)  # the fragment's rules, without their 'rate' metric
    with pytest.raises(StoreIntegrityError, match=f"part fragments/{fragment.name}, variable "
                                                  f"\\(group\\), metadata zarr.json: the "
                                                  f"metadata file differs"):
        open_path(store)
    assert read_manifest(store) == manifest
    base = xr.open_zarr(store / manifest["base"])
    np.testing.assert_array_equal(base["rate"].values, release_records("6pPol", 30, rng=0)["rate"])


def test_empty_store_then_append(tmp_path):
    store = create(tmp_path / "new.store", "MLP")
    assert open_path(store).sizes["rule"] == 0
    append(store, batch(0, "MLP"))
    ds = open_path(store)
    assert records_from_dataset(ds).tobytes() == batch(0, "MLP").tobytes()
    with pytest.raises(StoreError, match="already exists"):
        create(store, "MLP")


def test_busy_store_conflicts_without_waiting(store):
    with writer_lock(store):
        with pytest.raises(StoreConflictError, match="another process is writing"):
            append(store, batch(0), wait=False)
    assert open_path(store).sizes["rule"] == 30
    append(store, batch(0), wait=False)


def test_leftovers_of_a_crashed_writer_are_ignored_then_removed(store):
    append(store, batch(0))
    orphan = store / "fragments" / "fragment-000001"
    (orphan / "theta").mkdir(parents=True)
    (store / ".fsbi-store.json.dead.tmp").write_text("{")
    assert open_path(store).sizes["rule"] == 30 + BATCH_ROWS
    append(store, batch(1))
    assert not (store / ".fsbi-store.json.dead.tmp").exists()
    assert open_path(store).sizes["rule"] == 30 + 2 * BATCH_ROWS


# --- crash and concurrency ------------------------------------------------------------------

def _append_until_killed(store: str, k: int, kill_at: int, events) -> None:
    """Append batch ``k``; SIGKILL this process at the ``kill_at``-th profiler event."""
    stop = die_at_profiler_event(kill_at)
    append(store, batch(k), provenance={"batch": k})
    events.put(stop())


def _append_batches(store: str, ks: list[int]) -> None:
    for k in ks:
        append(store, batch(k), provenance={"batch": k})


@pytest.fixture(scope="module")
def forkserver():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fsbi_data.store", "fsbi_data.synthetic", "xarray", "zarr"])
    return context


def check_batches(store: Path, attempted: dict[int, bool]) -> dict[str, int]:
    """The store opens, holds each batch wholly or not at all, and no seed twice."""
    ds = open_path(store)
    seeds = ds["seed"].values
    assert len(set(seeds)) == len(seeds), "duplicate seeds"
    outcome = {"all": 0, "none": 0}
    present = set(seeds)
    for k, must_be_there in attempted.items():
        expected = batch(k)
        inside = [s in present for s in expected["seed"]]
        assert all(inside) or not any(inside), f"batch {k} is partly stored"
        if must_be_there:
            assert all(inside), f"batch {k} finished but is missing"
        if all(inside):
            got = records_from_dataset(ds.sel(seed=list(expected["seed"])))
            assert got.tobytes() == expected.tobytes()
            outcome["all"] += 1
        else:
            outcome["none"] += 1
    return outcome


def test_writer_killed_at_random_points_leaves_all_or_none(store, forkserver):
    events = forkserver.Queue()
    calibration = forkserver.Process(target=_append_until_killed,
                                     args=(str(store), 100, -1, events))
    calibration.start()
    calibration.join()
    total = events.get(timeout=60)
    assert calibration.exitcode == 0 and total > 100

    rng = np.random.default_rng(2026)
    attempted = {100: True}
    outcomes = {"all": 0, "none": 0}
    trials = 32
    for k in range(trials):
        kill_at = int(rng.integers(1, int(total * 1.1)))
        writer = forkserver.Process(target=_append_until_killed,
                                    args=(str(store), k, kill_at, events))
        writer.start()
        writer.join()
        assert writer.exitcode in (0, -signal.SIGKILL)
        attempted[k] = writer.exitcode == 0
        outcome = check_batches(store, {k: attempted[k]})
        for key in outcome:
            outcomes[key] += outcome[key]
    check_batches(store, attempted)
    assert outcomes["all"] > 0 and outcomes["none"] > 0, outcomes
    # the survivors' batches still append and compact after all those crashes
    append(store, batch(999))
    compact(store)
    assert check_batches(store, {**attempted, 999: True})["all"] == outcomes["all"] + 2
    committed = [b for b in provenance(open_path(store)) if b["kind"] == "batch"]
    assert len(committed) == outcomes["all"] + 2


def test_two_concurrent_writers_are_serialised(store, forkserver):
    one = forkserver.Process(target=_append_batches, args=(str(store), [0, 1, 2, 3, 4, 5]))
    two = forkserver.Process(target=_append_batches, args=(str(store), [6, 3, 7, 8, 1, 9]))
    one.start()
    two.start()
    one.join()
    two.join()
    assert one.exitcode == 0 and two.exitcode == 0
    outcome = check_batches(store, {k: True for k in range(10)})
    assert outcome == {"all": 10, "none": 0}
    ds = open_path(store)
    assert ds.sizes["rule"] == 30 + 10 * BATCH_ROWS
    manifest = read_manifest(store)
    batches = [b["batch"] for f in manifest["fragments"] for b in f["batches"]]
    batches += [b.get("batch") for b in provenance(ds) if b["kind"] == "batch"]
    assert sorted(b for b in set(batches) if b is not None) == list(range(10))
