"""Opening stores: by path and by catalog name (fetch, convert once, reuse), lazily, indexed."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsbi_data
from fsbi_data.catalog import fetch
from fsbi_data.errors import StoreError
from fsbi_data.opening import open as open_store
from fsbi_data.store import is_store, open_path, read_manifest
from fsbi_data.store.layout import provenance, round_names


@pytest.mark.parametrize("name", ["6pPol", "MLP"])
def test_open_by_name_converts_once_with_rounds(release, home, name):
    root, catalog = release
    ds = fsbi_data.open(name, source=root, catalog=catalog)
    entry = catalog.entry(name)
    store = home / "stores" / f"{name}-{entry.checksum[:12]}"
    assert is_store(store)
    records = np.load(fetch(name, source=root, catalog=catalog))
    assert ds.sizes["rule"] == entry.rows == len(records)
    np.testing.assert_array_equal(ds["seed"].values.astype(str), records["seed"])
    assert round_names(ds) == ("pi0", "pi1", "pi2", "pi3")
    for label, round_entry in catalog.rounds(name).items():
        assert int(ds[f"in_{label}"].sum()) == round_entry.rows
    (source, *rounds) = provenance(ds)
    assert source["sha256"] == entry.checksum and len(rounds) == 4

    # later calls open the store: the release files are not read, even if they vanish
    manifest_time = (store / "fsbi-store.json").stat().st_mtime_ns
    moved = root.parent / f"{root.name}-away"
    root.rename(moved)
    try:
        again = fsbi_data.open(name, source=moved / "missing", catalog=catalog)
    finally:
        moved.rename(root)
    assert again.sizes["rule"] == ds.sizes["rule"]
    assert (store / "fsbi-store.json").stat().st_mtime_ns == manifest_time


def test_open_without_rounds(release, home):
    root, catalog = release
    ds = fsbi_data.open("MLP/pi3", source=root, catalog=catalog)
    assert ds.sizes["rule"] == catalog.entry("MLP/pi3").rows and round_names(ds) == ()
    ds = fsbi_data.open("6pPol", source=root, catalog=catalog, rounds=False)
    assert round_names(ds) == ()


def test_unknown_name_and_non_store_paths(tmp_path, home):
    with pytest.raises(StoreError, match="neither a store path nor a dataset name.*valid names"):
        open_store("7pPol")
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="is not an fsbi-data store: it has no fsbi-store.json"):
        open_store(tmp_path / "plain")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nowhere")
    (tmp_path / "plain" / "fsbi-store.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        read_manifest(tmp_path / "plain")
    (tmp_path / "plain" / "fsbi-store.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(StoreError, match="format 'other'"):
        open_path(tmp_path / "plain")


def test_open_is_lazy_and_indexed(release, home):
    root, catalog = release
    ds = fsbi_data.open("6pPol", source=root, catalog=catalog)
    assert not any(ds[v].variable._in_memory for v in ds.data_vars)
    assert all(ds[v].chunks is None for v in ds.data_vars)  # read straight from Zarr
    chunked = fsbi_data.open("6pPol", source=root, catalog=catalog, chunks={"rule": 100})
    assert all(chunked[v].chunks is not None for v in chunked.data_vars)
    assert chunked.fsbi.plausible().sizes == ds.fsbi.plausible().sizes
    seeds = ds["seed"].values
    picked = ds.sel(seed=[seeds[10], seeds[3]])
    np.testing.assert_array_equal(picked["rate"].values, ds["rate"].values[[10, 3]])
    assert ds.indexes["seed"].is_unique
