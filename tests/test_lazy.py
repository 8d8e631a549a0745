"""The lazy pieces of an opened store: the seed index and the concatenation of its parts."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from xarray.core import indexing

from fsbi_data.store.lazy_rows import ConcatenatedArray, concat_variables, select_rows
from fsbi_data.store.seed_index import SeedIndex, ascii_to_unicode, seed_coordinates

SEED_TEXT = st.text(alphabet="0123456789abcdefXYZ_-", min_size=0, max_size=12)


@given(st.lists(SEED_TEXT, max_size=30))
def test_ascii_to_unicode_equals_numpy_astype(seeds):
    raw = np.array(seeds, dtype="S") if seeds else np.array([], dtype="S3")
    decoded = ascii_to_unicode(raw)
    assert decoded.dtype == np.dtype(f"<U{raw.dtype.itemsize}")
    np.testing.assert_array_equal(decoded, raw.astype(f"U{raw.dtype.itemsize}"))


def rules(seeds, stored_as_bytes=True):
    raw = np.array(seeds, dtype="S" if stored_as_bytes else "U")
    return xr.Dataset({"rate": ("rule", np.arange(len(seeds), dtype=float))},
                      coords=seed_coordinates(raw))


@pytest.mark.parametrize("stored_as_bytes", [True, False])
def test_seed_index_behaves_like_a_pandas_index(stored_as_bytes):
    seeds = [f"{i:032x}" for i in range(50, 0, -1)]
    ds = rules(seeds, stored_as_bytes)
    plain = xr.Dataset({"rate": ("rule", np.arange(50.0))},
                       coords={"seed": ("rule", np.array(seeds, dtype=object))}
                       ).set_xindex("seed")
    assert isinstance(ds.xindexes["seed"], SeedIndex)
    assert ds["seed"].values.dtype.kind == "U" and list(ds["seed"].values) == seeds
    assert ds.sel(seed=seeds[7]).rate.item() == 7
    wanted = [seeds[3], seeds[40], seeds[3]]
    assert ds.sel(seed=wanted).rate.values.tolist() == plain.sel(seed=wanted).rate.values.tolist()
    assert list(ds.isel(rule=[5, 1]).seed.values) == [seeds[5], seeds[1]]
    assert ds.isel(rule=slice(10, 20)).sel(seed=seeds[12]).rate.item() == 12
    assert "seed" not in ds.isel(rule=4).xindexes  # a scalar selection drops the index
    assert ds.indexes["seed"].equals(pd.Index(seeds))
    with pytest.raises(KeyError):
        ds.sel(seed="not-a-seed")
    with pytest.raises(KeyError):
        ds.sel(seed=[seeds[0], "not-a-seed"])


def test_seed_index_concat_align_and_frame():
    seeds = [f"s{i:03d}" for i in range(20)]
    ds = rules(seeds)
    joined = xr.concat([ds.isel(rule=slice(0, 8)), ds.isel(rule=slice(8, None))], dim="rule")
    assert isinstance(joined.xindexes["seed"], SeedIndex)
    assert joined.xindexes["seed"].equals(ds.xindexes["seed"])
    xr.testing.assert_identical(joined, ds)
    # Arithmetic aligns on seeds: an inner join keeps the common rules.
    total = ds.rate.isel(rule=slice(0, 12)) + ds.rate.isel(rule=slice(5, None))
    assert list(total.seed.values) == seeds[5:12]
    np.testing.assert_array_equal(total.values, 2 * np.arange(5.0, 12.0))
    plain = ds.drop_indexes("seed").set_xindex("seed")  # a pandas index
    assert ds.to_dataframe().equals(plain.to_dataframe())
    assert ds.copy(deep=True).sel(seed="s004").rate.item() == 4
    renamed = ds.rename({"seed": "rule_seed"})
    assert renamed.sel(rule_seed="s004").rate.item() == 4


def test_seed_index_hashes_only_when_a_label_is_looked_up():
    ds = rules([f"{i:032x}" for i in range(1000)])
    index = ds.xindexes["seed"]
    subset = ds.isel(rule=np.arange(0, 1000, 3))
    assert index._pandas is None and subset.xindexes["seed"]._pandas is None
    assert index._strings is None  # not even decoded: the coordinate decodes what it shows
    ds.sel(seed=f"{5:032x}")
    assert index._pandas is not None


def parts_and_whole(lengths, width, rng):
    whole = rng.normal(size=(sum(lengths), width))
    stops = np.cumsum(lengths)
    parts = [xr.Variable(("rule", "param"), whole[stop - n:stop])
             for n, stop in zip(lengths, stops, strict=True)]
    return parts, whole


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(0, 7), min_size=2, max_size=5).filter(lambda x: sum(x) > 0),
       data=st.data())
def test_concatenated_array_indexes_like_numpy(lengths, data):
    rng = np.random.default_rng(sum(lengths))
    parts, whole = parts_and_whole(lengths, 3, rng)
    variable = concat_variables(parts)
    n = whole.shape[0]
    rows = data.draw(st.one_of(
        st.integers(-n, n - 1),
        st.lists(st.integers(0, n - 1), max_size=12).map(lambda r: np.array(r, dtype=np.int64)),
        st.builds(slice, st.none() | st.integers(-n, n), st.none() | st.integers(-n, n),
                  st.sampled_from([None, 1, 2, -1])),
    ))
    cols = data.draw(st.sampled_from([slice(None), 1, [2, 0]]))
    if isinstance(rows, slice) and (rows.step or 1) < 0 and not range(n)[rows]:
        return  # xarray's lazy indexing fails on empty reversed slices, for every backend
    expected = whole[rows][..., cols] if np.ndim(rows) or isinstance(rows, slice) \
        else whole[rows, cols]
    np.testing.assert_array_equal(variable[rows, cols].values, expected)


class RecordingBackend(xr.backends.BackendArray):
    """An in-memory backend array that records every read."""

    def __init__(self, values, reads):
        self.values, self.reads = values, reads
        self.shape, self.dtype = values.shape, values.dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER,
                                                  self.read)

    def read(self, key):
        self.reads.append(key)
        return self.values[key]


def test_concatenated_array_reads_only_the_parts_asked_for():
    reads = []
    parts = [xr.Variable("rule", indexing.LazilyIndexedArray(
        RecordingBackend(np.arange(start, start + 5.0), reads))) for start in (0, 5, 10)]
    variable = concat_variables(parts)
    assert reads == []
    assert variable[[11, 2]].values.tolist() == [11.0, 2.0]
    assert len(reads) == 2  # the first and the last part; the middle one is not read
    assert variable.isel(rule=slice(6, 9)).values.tolist() == [6.0, 7.0, 8.0]


def test_concatenated_array_shape_and_dtype():
    array = ConcatenatedArray([xr.Variable("rule", np.zeros(2, dtype=np.float32)),
                               xr.Variable("rule", np.ones(3))])
    assert array.shape == (5,) and array.dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.integers(0, 29), max_size=15), data=st.data())
def test_selected_rows_index_like_numpy(rows, data):
    whole = np.random.default_rng(len(rows)).normal(size=(30, 4))
    parts = [xr.Variable(("rule", "param"), whole[:12]),
             xr.Variable(("rule", "param"), whole[12:])]
    rows = np.array(rows, dtype=np.int64)
    selected = select_rows(concat_variables(parts), rows)  # a selection of a concatenation
    assert selected.shape == (len(rows), 4)
    if len(rows):
        inner = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=6))
        cols = data.draw(st.sampled_from([slice(None), 3, [1, 0]]))
        np.testing.assert_array_equal(selected[inner, cols].values,
                                      whole[rows][inner][:, cols])
    np.testing.assert_array_equal(selected.values, whole[rows])


def test_selected_rows_are_read_when_used():
    reads = []
    variable = xr.Variable("rule", indexing.LazilyIndexedArray(
        RecordingBackend(np.arange(10.0), reads)))
    selected = select_rows(variable, np.array([7, 2]))
    assert reads == []
    assert selected.values.tolist() == [7.0, 2.0] and len(reads) == 1
