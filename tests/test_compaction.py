"""Fragments merge as they accumulate: reads never change, parts stay few, crashes are safe."""

from __future__ import annotations

import multiprocessing
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import die_at_profiler_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsbi_data.converters import convert
from fsbi_data.store import append, compact, create, open_path, read_manifest
from fsbi_data.store.compaction import FRAGMENT_FANOUT
from fsbi_data.store.layout import provenance, records_from_dataset
from fsbi_data.store.verification import verify
from fsbi_data.synthetic import release_records


def batch(k: int, rows: int) -> np.ndarray:
    return release_records("6pPol", rows, rng=5000 + k, first_salt=100_000 * (k + 1))


def test_appends_merge_in_levels_and_read_the_same(tmp_path):
    store = create(tmp_path / "grow.store", "6pPol")
    expected = []
    most_parts = 0
    for k in range(60):
        records = batch(k, 3)
        append(store, records, provenance={"batch": k})
        expected.append(records)
        manifest = read_manifest(store)
        most_parts = max(most_parts, len(manifest["fragments"]))
        levels = [f["level"] for f in manifest["fragments"]]
        assert levels == sorted(levels, reverse=True)  # older fragments are bigger
        assert all(levels.count(level) < FRAGMENT_FANOUT for level in set(levels))
    ds = open_path(store)
    assert records_from_dataset(ds).tobytes() == np.concatenate(expected).tobytes()
    assert [b["batch"] for b in provenance(ds) if b["kind"] == "batch"] == list(range(60))
    assert most_parts <= 2 * (FRAGMENT_FANOUT - 1)
    assert verify(store).ok


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=14),
       base_rows=st.sampled_from([0, 20, 200]), compact_at=st.integers(0, 14))
def test_merging_never_changes_what_a_store_reads(tmp_path_factory, sizes, base_rows,
                                                  compact_at):
    root = tmp_path_factory.mktemp("merge")
    if base_rows:
        np.save(root / "base.npy", release_records("6pPol", base_rows, rng=9))
        store = convert(root / "base.npy", root / "s.store")
    else:
        store = create(root / "s.store", "6pPol")
    expected = [release_records("6pPol", base_rows, rng=9)]
    for k, rows in enumerate(sizes):
        records = batch(k, rows)
        append(store, records, provenance={"batch": k})
        expected.append(records)
        if k == compact_at:
            compact(store)
        ds = open_path(store)
        assert records_from_dataset(ds).tobytes() == np.concatenate(expected).tobytes()
    batches = [b["batch"] for b in provenance(open_path(store)) if b["kind"] == "batch"]
    assert batches == list(range(len(sizes)))


def test_a_reader_opened_before_merges_keeps_reading(tmp_path):
    np.save(tmp_path / "base.npy", release_records("6pPol", 40, rng=2))
    store = convert(tmp_path / "base.npy", tmp_path / "s.store")
    append(store, batch(0, 4))
    old = open_path(store)
    expected = records_from_dataset(old.load())
    old = open_path(store)  # lazy again: its parts are about to be merged away
    for k in range(1, 2 * FRAGMENT_FANOUT):
        append(store, batch(k, 4))
    compact(store)
    assert read_manifest(store)["base"] != "base-000000"
    assert records_from_dataset(old).tobytes() == expected.tobytes()


# --- SIGKILL during merges -------------------------------------------------------------------

def _merge_until_killed(store: str, kill_at: int, events) -> None:
    stop = die_at_profiler_event(kill_at)
    compact(store)
    events.put(stop())


def test_compaction_killed_at_random_points_keeps_the_store(tmp_path):
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fsbi_data.store", "fsbi_data.synthetic", "xarray", "zarr"])
    np.save(tmp_path / "base.npy", release_records("6pPol", 400, rng=4))
    pristine = convert(tmp_path / "base.npy", tmp_path / "pristine.store")
    for k in range(3):
        append(pristine, batch(k, 5), provenance={"batch": k})
    expected = records_from_dataset(open_path(pristine)).tobytes()
    events = context.Queue()

    def trial(kill_at: int) -> int:
        import shutil

        store = tmp_path / f"trial-{kill_at}.store"
        shutil.copytree(pristine, store)
        worker = context.Process(target=_merge_until_killed, args=(str(store), kill_at, events))
        worker.start()
        worker.join()
        ds = open_path(store)  # always opens: all of the merge or none of it
        assert records_from_dataset(ds).tobytes() == expected
        assert [b["batch"] for b in provenance(ds) if b["kind"] == "batch"] == [0, 1, 2]
        assert verify(store).ok
        compact(store)  # and a later writer finishes the job
        assert read_manifest(store)["fragments"] == [] and verify(store).ok
        assert records_from_dataset(open_path(store)).tobytes() == expected
        return worker.exitcode

    assert trial(-1) == 0
    total = events.get(timeout=60)
    rng = np.random.default_rng(7)
    exits = [trial(int(kill_at)) for kill_at in rng.integers(1, total, 12)]
    assert -signal.SIGKILL in exits


@pytest.mark.parametrize("rows", [1, 7])
def test_append_records_its_batches_through_merges(tmp_path, rows):
    store: Path = create(tmp_path / "s.store", "6pPol")
    for k in range(9):
        append(store, batch(k, rows), provenance={"batch": k, "backend": "brian2"})
    records = [b for b in provenance(open_path(store)) if b["kind"] == "batch"]
    assert [r["batch"] for r in records] == list(range(9))
    assert all(r["rows"] == rows and r["backend"] == "brian2" and "time" in r for r in records)


def test_a_merge_does_not_wait_for_a_busy_dask_client_in_the_process(tmp_path):
    """A sweep appends while its own Dask workers are busy: the merge computes on its own."""
    import threading

    from distributed import Client, Event, LocalCluster

    store = create(tmp_path / "busy.store", "6pPol")
    append(store, batch(0, 8), provenance={"batch": 0})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        release = Event("release", client=client)
        busy = client.submit(lambda: release.wait(120), pure=False)  # the only worker thread
        done = threading.Event()
        appending = threading.Thread(target=lambda: (append(store, batch(1, 8)), done.set()),
                                     daemon=True)
        appending.start()  # 8 fragment rows >= BASE_SHARE of 8 base rows: merges into a base
        merged = done.wait(60)
        release.set()
        busy.result()
    assert merged, "the merge waited for the busy Dask worker"
    assert read_manifest(store)["fragments"] == []
    assert open_path(store).sizes["rule"] == 16
