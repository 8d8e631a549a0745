"""Damaged stores: every damage raises the integrity error on read and fails verify.

The matrix: every kind of variable (seeds, theta, a metric, a round flag, coordinates on
``param``), in the base and in an appended fragment; deleted, truncated, overwritten with
same-size garbage, one flipped bit; and damages of the manifest and of metadata files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fsbi_data.converters import convert
from fsbi_data.errors import StoreError, StoreIntegrityError
from fsbi_data.store import append, compact, open_path, read_manifest
from fsbi_data.store.layout import records_from_dataset
from fsbi_data.store.verification import verify
from fsbi_data.synthetic import release_records

BASE_ROWS = 300


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A store with round flags in its base and one appended fragment."""
    root = tmp_path_factory.mktemp("integrity")
    records = release_records("6pPol", BASE_ROWS, rng=0)
    np.save(root / "all.npy", records)
    np.save(root / "pi0.npy", records[:100])
    store = convert(root / "all.npy", root / "pristine.store",
                    rounds={"pi0": root / "pi0.npy"})
    append(store, release_records("6pPol", 5, rng=1, first_salt=10**6))
    assert len(read_manifest(store)["fragments"]) == 1
    return store


@pytest.fixture
def store(pristine, tmp_path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "damaged.store"))


def read_everything(store: Path) -> None:
    ds = open_path(store)
    for name in ds.variables:
        np.asarray(ds[name].values)
    ds.fsbi.plausible().fsbi.to_frame()


def flip_bit(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x10
    file.write_bytes(bytes(data))


DAMAGES = {
    "deleted": lambda file: file.unlink(),
    "truncated": lambda file: os.truncate(file, file.stat().st_size // 2),
    "same-size garbage": lambda file: file.write_bytes(
        np.random.default_rng(0).bytes(file.stat().st_size)),
    "one flipped bit": flip_bit,
}
BASE_CHUNKS = ["seed/c/0", "theta/c/0/0", "rate/c/0", "in_pi0/c/0", "low/c/0", "param/c/0"]
FRAGMENT_CHUNKS = ["seed/c/0", "theta/c/0/0", "rate/c/0", "w_blow/c/0"]
CASES = [("base-000000", chunk) for chunk in BASE_CHUNKS] + [
    ("fragments/fragment-000000", chunk) for chunk in FRAGMENT_CHUNKS]


def test_the_intact_store_verifies_clean(pristine):
    report = verify(pristine)
    assert report.ok and report.problems == [] and report.unchecked == []
    assert report.rules == BASE_ROWS + 5 and report.parts == 2
    assert report.summary().startswith("intact: 2 part(s)")
    read_everything(pristine)


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("part, chunk", CASES)
def test_a_damaged_chunk_raises_on_read_and_fails_verify(store, part, chunk, damage):
    DAMAGES[damage](store / part / chunk)
    variable = chunk.split("/")[0]
    with pytest.raises(StoreIntegrityError) as raised:
        read_everything(store)
    message = str(raised.value)
    assert f"part {part}, variable {variable}, chunk {chunk}" in message
    assert str(store) in message and "fsbi-data verify" in message
    assert ("convert the release file again" in message if part.startswith("base")
            else "appended batch(es)" in message)
    report = verify(store)
    assert not report.ok
    assert any(line.startswith(f"{part}/{chunk}:") for line in report.problems), report.problems


@pytest.mark.parametrize("damage", ["one flipped bit", "deleted"])
@pytest.mark.parametrize("file", ["base-000000/zarr.json", "base-000000/rate/zarr.json",
                                  "fragments/fragment-000000/zarr.json"])
def test_a_damaged_metadata_file_fails_verify(store, file, damage):
    DAMAGES[damage](store / file)
    report = verify(store)
    assert not report.ok
    assert any(line.startswith(file) for line in report.problems), report.problems
    if file.endswith("0/zarr.json"):  # the root metadata are read on every open
        with pytest.raises(StoreIntegrityError, match="metadata zarr.json"):
            open_path(store)


MANIFEST_DAMAGES = {
    "an empty list": lambda m: [],
    "no base": lambda m: {k: v for k, v in m.items() if k != "base"},
    "a missing part": lambda m: {**m, "fragments": m["fragments"] + [
        {**m["fragments"][0], "name": "fragment-000099"}]},
    "a changed row count": lambda m: {**m, "fragments": [{**m["fragments"][0], "rows": 6}]},
}


@pytest.mark.parametrize("damage", MANIFEST_DAMAGES)
def test_a_damaged_manifest_raises_and_fails_verify(store, damage):
    manifest_file = store / "fsbi-store.json"
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps(MANIFEST_DAMAGES[damage](manifest)))
    with pytest.raises(StoreIntegrityError, match="manifest"):
        open_path(store)
    report = verify(store)
    assert not report.ok and report.problems[0].startswith("manifest:")


def test_a_missing_part_is_named(store):
    shutil.rmtree(store / "fragments" / "fragment-000000")
    with pytest.raises(StoreIntegrityError, match="names the part fragments/fragment-000000, "
                                                  "which is missing"):
        open_path(store)
    assert any("fragment-000000: the part is missing" in line for line in verify(store).problems)


def test_verify_finds_duplicate_seeds(store, tmp_path):
    # a second store whose fragment repeats a seed of the base: made by hand, as damage would
    ds = open_path(store)
    seed = ds.seed.values[0]
    manifest = read_manifest(store)
    report = verify(store)
    assert report.ok
    from fsbi_data.store.manifest import write_manifest
    from fsbi_data.store.writing import publish_fragment

    copy = ds.isel(rule=[0]).load()
    name = publish_fragment(store, manifest, copy)
    manifest["fragments"].append({"name": name, "rows": 1, "level": 0, "batches": [{}]})
    write_manifest(store, manifest)
    report = verify(store)
    assert not report.ok and f"(first: {seed})" in report.problems[-1]


def test_verify_through_the_cli(pristine, store):
    ok = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "verify", str(pristine)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("intact: 2 part(s)")
    flip_bit(store / "base-000000" / "rate" / "c" / "0")
    bad = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "verify", str(store)],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    lines = bad.stderr.splitlines()
    assert lines[0] == ("base-000000/rate/c/0: the chunk's CRC32C does not match its bytes "
                        "(damaged or truncated)")
    assert lines[-1].startswith("DAMAGED: 1 problem(s)")


def test_a_format_1_store_opens_verifies_as_unchecked_and_compact_upgrades_it(tmp_path):
    store = write_format_1_store(tmp_path)
    before = open_path(store).load()
    report = verify(store)
    assert not report.ok and report.problems == [] and report.unchecked == ["base-000000"]
    assert "carry no checksums" in report.summary()
    cli = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "verify", str(store)],
                         capture_output=True, text=True)
    assert cli.returncode == 2 and "fsbi-data compact" in cli.stderr
    batch = release_records("MLP", 4, rng=8, first_salt=10**6)
    append(store, batch)  # a checksummed fragment beside the format-1 base
    mixed = open_path(store)
    assert records_from_dataset(mixed)[-4:].tobytes() == batch.tobytes()
    assert verify(store).unchecked == ["base-000000"]
    before = mixed.load()
    compact(store)
    assert verify(store).ok and read_manifest(store)["version"] == 2
    after = open_path(store)
    for name in before.variables:
        np.testing.assert_array_equal(np.asarray(after[name].values),
                                      np.asarray(before[name].values))


def write_format_1_store(tmp_path: Path) -> Path:
    """A store as fsbi-data wrote it with format 1: no checksums, a manifest of version 1."""
    import xarray as xr

    from fsbi_data.store.encoding import quiet_zarr
    from fsbi_data.store.layout import dataset_from_records

    store = tmp_path / "old.store"
    store.mkdir()
    ds = dataset_from_records(release_records("MLP", 50, rng=3), "MLP").drop_indexes("seed")
    ds = ds.assign_coords(seed=ds.seed.astype("S32"),
                          param=ds.param.astype(str), connection=ds.connection.astype(str),
                          units=ds.units.astype(str))
    with quiet_zarr():
        ds.to_zarr(store / "base-000000", zarr_format=3, consolidated=True)
    assert isinstance(ds, xr.Dataset)
    (store / "fsbi-store.json").write_text(json.dumps(
        {"format": "fsbi-data store", "version": 1, "family": "MLP", "generation": 0,
         "base": "base-000000", "fragments": []}))
    return store


@pytest.fixture
def read_only_store(pristine, tmp_path):
    """A copy of the store that this process cannot write: on a read-only file system when
    running as root (root writes to read-only folders), else in read-only folders."""
    if os.geteuid() != 0:
        store = Path(shutil.copytree(pristine, tmp_path / "ro.store"))
        modes = [(Path(root) / d) for root, dirs, _ in os.walk(store) for d in dirs] + [store]
        for folder in modes:
            folder.chmod(0o555)
        yield store
        for folder in modes:
            folder.chmod(0o755)
        return
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"root, and no read-only file system can be mounted here: {made.stderr}")
    try:
        store = Path(shutil.copytree(pristine, mount / "ro.store"))
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield store
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_read_only_store_refuses_appends_in_one_line(read_only_store):
    before = sorted(p.name for p in read_only_store.iterdir())
    with pytest.raises(StoreError, match="cannot write to the store .* read-only"):
        append(read_only_store, release_records("6pPol", 2, rng=5, first_salt=10**7))
    assert sorted(p.name for p in read_only_store.iterdir()) == before
    assert verify(read_only_store).ok


def test_a_read_only_store_refuses_appends_through_the_cli(read_only_store, tmp_path):
    np.save(tmp_path / "batch.npy", release_records("6pPol", 2, rng=5, first_salt=10**7))
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "append", str(read_only_store),
                          str(tmp_path / "batch.npy")], capture_output=True, text=True)
    assert run.returncode == 1 and len(run.stderr.splitlines()) == 1
    assert "cannot write to the store" in run.stderr and "read-only" in run.stderr


def test_converting_into_a_read_only_folder_is_one_clear_error(read_only_store, tmp_path):
    np.save(tmp_path / "base.npy", release_records("6pPol", 5, rng=0))
    dest = read_only_store.parent / "new.store"
    with pytest.raises(StoreError, match=f"cannot create the store {dest}: "):
        convert(tmp_path / "base.npy", dest)
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "convert",
                          str(tmp_path / "base.npy"), str(dest)], capture_output=True, text=True)
    assert run.returncode == 1 and len(run.stderr.splitlines()) == 1
    assert not dest.exists()


@pytest.mark.parametrize("damage", MANIFEST_DAMAGES)
def test_a_damaged_manifest_is_one_line_through_the_cli(store, damage):
    manifest_file = store / "fsbi-store.json"
    manifest_file.write_text(json.dumps(MANIFEST_DAMAGES[damage](
        json.loads(manifest_file.read_text()))))
    for command in (["info", str(store)], ["query", str(store), "--plausible"]):
        run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", *command],
                             capture_output=True, text=True)
        assert run.returncode == 1 and run.stdout == ""
        assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith("error: ")
        assert "manifest" in run.stderr
