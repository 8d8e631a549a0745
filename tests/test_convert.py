"""The release → store converter: exactness at full scale, rounds, duplicates, bad input."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsbi_data.converters import convert
from fsbi_data.errors import DuplicateSeedError, ReleaseFormatError, StoreError
from fsbi_data.opening import open as open_store
from fsbi_data.schema import family
from fsbi_data.store.layout import metric_attrs, provenance, records_from_dataset
from fsbi_data.synthetic import release_records, write_release_file, write_round_files

FULL_ROWS = {"6pPol": 354_300, "MLP": 328_990}


def bits(values: np.ndarray) -> np.ndarray:
    """The raw bytes of float64 values: equality here is bitwise, NaN payloads included."""
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)


def assert_no_store_left(dest: Path) -> None:
    assert not dest.exists()
    leftovers = [p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]
    assert leftovers == []


def save(path: Path, records: np.ndarray) -> Path:
    np.save(path, records)
    return path


@pytest.mark.parametrize("name", ["6pPol", "MLP"])
def test_full_scale_file_converts_bitwise_exact(tmp_path, name):
    fam = family(name)
    src = write_release_file(tmp_path / f"{name}_all.npy", name, FULL_ROWS[name], rng=7)
    dest = convert(src, tmp_path / "store")  # family inferred from the dtype
    ds = open_store(dest)
    expected = np.load(src)

    assert not ds["theta"].variable._in_memory  # lazy: nothing read yet
    assert ds.sizes["rule"] == FULL_ROWS[name]
    assert ds.attrs["family"] == name
    np.testing.assert_array_equal(ds["seed"].values.astype(str), expected["seed"])
    assert (bits(ds["theta"].values) == bits(expected["theta"])).all()
    for metric in fam.metric_names:
        assert (bits(ds[metric].values) == bits(expected[metric])).all(), metric
        assert ds[metric].attrs == metric_attrs(fam, metric)
    assert tuple(ds["param"].values) == fam.param_names
    np.testing.assert_array_equal(ds["low"].values, fam.low)
    np.testing.assert_array_equal(ds["high"].values, fam.high)
    assert list(ds["connection"].values) == [p.connection for p in fam.parameters]
    (source,) = provenance(ds)
    assert source["rows"] == FULL_ROWS[name] and source["name"] == src.name
    assert len(source["sha256"]) == 64 and source["converter_version"]
    # the seed index answers lookups
    row = 123_456
    picked = ds.sel(seed=str(expected["seed"][row]))
    assert bits(picked["rate"].values) == bits(expected["rate"][row])


def test_rounds_membership_by_seed(tmp_path):
    src = write_release_file(tmp_path / "all.npy", "6pPol", 3000, rng=3)
    rounds = write_round_files(src, tmp_path / "rounds",
                               {"pi0": 400, "pi1": 200, "pi2": 300, "pi3": 500}, rng=4)
    ds = open_store(convert(src, tmp_path / "store", "6pPol", rounds=rounds))
    seeds = ds["seed"].values.astype(str)
    for label, path in rounds.items():
        member = np.load(path)["seed"]
        expected = np.isin(seeds, member)
        np.testing.assert_array_equal(ds[f"in_{label}"].values, expected)
        assert ds[f"in_{label}"].values.sum() == len(member)
    labels = {p["round"]: p["rows"] for p in provenance(ds) if p["kind"] == "round"}
    assert labels == {"pi0": 400, "pi1": 200, "pi2": 300, "pi3": 500}


def test_round_rows_outside_the_source_are_reported(tmp_path, caplog):
    src = save(tmp_path / "all.npy", release_records("MLP", 50, rng=1))
    other = save(tmp_path / "other.npy", release_records("MLP", 5, rng=2, first_salt=999))
    with caplog.at_level(logging.WARNING):
        ds = open_store(convert(src, tmp_path / "store", rounds={"pi9": other}))
    assert not ds["in_pi9"].values.any()
    (round_record,) = [p for p in provenance(ds) if p["kind"] == "round"]
    assert round_record["rows_not_in_source"] == 5
    assert "not in all.npy" in caplog.text


def test_nan_and_inf_metrics_are_kept(tmp_path):
    records = release_records("6pPol", 200, rng=5, nan_fraction=0.3)
    records["kl_isi"][:3] = np.inf
    records["w_blow"][3] = -np.inf
    ds = open_store(convert(save(tmp_path / "f.npy", records), tmp_path / "store"))
    for metric in family("6pPol").metric_names:
        assert (bits(ds[metric].values) == bits(records[metric])).all()
    assert np.isnan(ds["rate"].values).sum() == np.isnan(records["rate"]).sum() > 0


def test_identical_duplicates_are_dropped_and_counted(tmp_path, caplog):
    records = release_records("6pPol", 100, rng=6, duplicate_seeds=7)
    with caplog.at_level(logging.WARNING):
        ds = open_store(convert(save(tmp_path / "d.npy", records), tmp_path / "store"))
    assert ds.sizes["rule"] == 93
    assert len(set(ds["seed"].values)) == 93
    (source,) = provenance(ds)
    assert source["duplicate_rows_dropped"] == 7 and source["rows"] == 100
    assert "dropped 7 rows" in caplog.text
    np.testing.assert_array_equal(ds["seed"].values.astype(str), records["seed"][:93])


def conflicting_records() -> np.ndarray:
    records = release_records("MLP", 20, rng=8)
    records["seed"][[5, 12]] = records["seed"][2]
    return records


def test_different_rules_with_one_seed_are_refused(tmp_path):
    src = save(tmp_path / "c.npy", conflicting_records())
    dest = tmp_path / "store"
    with pytest.raises(DuplicateSeedError, match=r"c\.npy.*1 seed\(s\).*rows \[2, 5, 12\].*"
                                                 r"duplicates='first'"):
        convert(src, dest)
    assert_no_store_left(dest)


@pytest.mark.parametrize(("choice", "kept"), [("first", 2), ("last", 12)])
def test_duplicate_resolution_keeps_first_or_last(tmp_path, choice, kept):
    records = conflicting_records()
    ds = open_store(convert(save(tmp_path / "c.npy", records), tmp_path / "store",
                            duplicates=choice))
    assert ds.sizes["rule"] == 18
    row = ds.sel(seed=str(records["seed"][2]))
    assert bits(row["theta"].values).tolist() == bits(records["theta"][kept]).tolist()
    (source,) = provenance(ds)
    assert source["conflicting_seeds"] == 1 and source["conflicting_rows_dropped"] == 2


def test_truncated_file_is_refused(tmp_path):
    src = save(tmp_path / "t.npy", release_records("6pPol", 40, rng=9))
    data = src.read_bytes()
    src.write_bytes(data[:-1000])
    dest = tmp_path / "store"
    with pytest.raises(ReleaseFormatError, match=r"t\.npy is truncated.*40 records.*"
                                                 r"38 complete records.*download it again"):
        convert(src, dest)
    assert_no_store_left(dest)


def test_corrupt_header_is_refused(tmp_path):
    src = tmp_path / "garbage.npy"
    src.write_bytes(b"PK\x03\x04 this is a zip, not a numpy file" * 10)
    dest = tmp_path / "store"
    with pytest.raises(ReleaseFormatError, match=r"garbage\.npy is not a valid \.npy file"):
        convert(src, dest)
    assert_no_store_left(dest)


NPY_MAGIC = b"\x93NUMPY"


def header_of(text: str) -> bytes:
    """A version 1.0 .npy header holding ``text`` as its dictionary."""
    return NPY_MAGIC + b"\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin-1")


@pytest.mark.parametrize("content", [
    b"",
    bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    NPY_MAGIC + b"\x01\x00" + bytes(np.random.default_rng(1).integers(0, 256, 4096,
                                                                     dtype=np.uint8)),
    header_of("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), ") + b"\0" * 24,
    header_of("{'descr': [('a', 'V0')], 'fortran_order': False, 'shape': (3,), }\n"),
    header_of("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (-3,), }\n"),
    b"seed,rate\n1,2.5\n",
], ids=["empty", "random bytes", "magic then garbage", "unclosed header", "empty records",
        "negative length", "csv"])
def test_garbage_is_refused_by_name(tmp_path, content):
    src = tmp_path / "garbage.npy"
    src.write_bytes(content)
    dest = tmp_path / "store"
    with pytest.raises(ReleaseFormatError) as info:
        convert(src, dest)
    assert str(info.value).startswith(str(src))
    assert len(str(info.value).splitlines()) == 1 and str(info.value).isascii()
    assert_no_store_left(dest)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from([b"", NPY_MAGIC, NPY_MAGIC + b"\x01\x00",
                               NPY_MAGIC + b"\x02\x00", header_of("{'descr': ")[:-1]]),
       rest=st.binary(max_size=300))
def test_any_damaged_header_is_a_release_format_error(tmp_path, prefix, rest):
    src = tmp_path / "damaged.npy"
    src.write_bytes(prefix + rest)
    with pytest.raises(ReleaseFormatError, match="damaged.npy"):
        convert(src, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_lfs_pointer_says_it_is_not_the_data(tmp_path):
    from fsbi_data.catalog import CATALOG

    entry = CATALOG.entry("6pPol/pi3")
    src = tmp_path / entry.filename
    src.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{entry.checksum}\n"
                   f"size {entry.size}\n")
    with pytest.raises(ReleaseFormatError) as info:
        convert(src, tmp_path / "store")
    message = str(info.value)
    assert message.startswith(f"{src}: this is a Git LFS pointer, not the data")
    assert "`fsbi-data fetch 6pPol/pi3`" in message and "`git lfs pull`" in message
    assert_no_store_left(tmp_path / "store")


def test_plain_array_is_refused(tmp_path):
    src = save(tmp_path / "plain.npy", np.zeros((5, 3)))
    with pytest.raises(ReleaseFormatError, match="1-D structured array"):
        convert(src, tmp_path / "store")
    assert_no_store_left(tmp_path / "store")


def drop_field(records: np.ndarray, name: str) -> np.ndarray:
    names = [n for n in records.dtype.names if n != name]
    out = np.empty(len(records), dtype=[(n, records.dtype[n]) for n in names])
    for n in names:
        out[n] = records[n]
    return out


def test_missing_metric_is_named(tmp_path):
    src = save(tmp_path / "m.npy", drop_field(release_records("6pPol", 10, rng=1), "fft"))
    with pytest.raises(ReleaseFormatError, match=r"m\.npy.*closest family 6pPol: missing "
                                                 r"fields \['fft'\]"):
        convert(src, tmp_path / "store")
    with pytest.raises(ReleaseFormatError, match=r"missing fields \['fft'\]"):
        convert(src, tmp_path / "store", "6pPol")
    assert_no_store_left(tmp_path / "store")


def test_wrong_theta_length_and_unknown_fields_are_named(tmp_path):
    fam = family("MLP")
    dtype = [("seed", "<U64"), ("theta", "<f8", (24,))] + [(m, "<f8") for m in fam.metric_names]
    dtype.append(("novelty", "<f8"))
    src = save(tmp_path / "w.npy", np.zeros(4, dtype=dtype))
    with pytest.raises(ReleaseFormatError, match=r"unknown fields \['novelty'\]; theta of 24 "
                                                 r"entries, expected 23"):
        convert(src, tmp_path / "store", "MLP")
    with pytest.raises(ReleaseFormatError, match="theta has 24 entries"):
        convert(src, tmp_path / "store")
    assert_no_store_left(tmp_path / "store")


def test_file_of_the_other_family_is_refused(tmp_path):
    src = save(tmp_path / "mlp.npy", release_records("MLP", 10, rng=2))
    with pytest.raises(ReleaseFormatError, match=r"does not hold 6pPol records: missing "
                                                 r"fields \['weif', 'wiif'\]"):
        convert(src, tmp_path / "store", "6pPol")
    assert_no_store_left(tmp_path / "store")


def test_destination_that_is_not_a_store_is_refused(tmp_path):
    src = save(tmp_path / "a.npy", release_records("6pPol", 10, rng=3))
    dest = tmp_path / "results"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="exists and is not an fsbi-data store"):
        convert(src, dest)
    assert (dest / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]


def test_same_source_reuses_the_store(tmp_path):
    src = save(tmp_path / "a.npy", release_records("6pPol", 30, rng=4))
    dest = convert(src, tmp_path / "store")
    manifest = (dest / "fsbi-store.json").stat()
    base_files = sorted((p.name, p.stat().st_mtime_ns) for p in (dest / "base-000000").rglob("*"))
    assert convert(src, dest) == dest
    assert (dest / "fsbi-store.json").stat().st_mtime_ns == manifest.st_mtime_ns
    after = sorted((p.name, p.stat().st_mtime_ns) for p in (dest / "base-000000").rglob("*"))
    assert after == base_files

    other = save(tmp_path / "b.npy", release_records("6pPol", 30, rng=5))
    with pytest.raises(StoreError, match="converted from other files"):
        convert(other, dest)


def test_output_is_deterministic(tmp_path):
    src = save(tmp_path / "a.npy", release_records("MLP", 300, rng=6))
    one, two = convert(src, tmp_path / "one"), convert(src, tmp_path / "two")
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_multi_chunk_file_with_duplicates_across_chunks(tmp_path, monkeypatch):
    from fsbi_data.converters import release
    from fsbi_data.store import encoding

    monkeypatch.setattr(release, "CHUNK_ROWS", 64)
    monkeypatch.setattr(encoding, "RAW_CHUNK_ROWS", 100)  # metric columns in several chunks
    records = release_records("6pPol", 500, rng=10, duplicate_seeds=30)
    ds = open_store(convert(save(tmp_path / "x.npy", records), tmp_path / "store"))
    assert ds.sizes["rule"] == 470
    assert (bits(ds["theta"].values) == bits(records["theta"][:470])).all()
    assert (bits(ds["rate"].values) == bits(records["rate"][:470])).all()


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def record_arrays(draw):
    name = draw(st.sampled_from(["6pPol", "MLP"]))
    fam = family(name)
    n = draw(st.integers(1, 40))
    records = release_records(fam, n, rng=draw(st.integers(0, 2**32 - 1)))
    for metric in draw(st.lists(st.sampled_from(fam.metric_names), max_size=4)):
        row = draw(st.integers(0, n - 1))
        records[metric][row] = draw(floats)
    repeats = draw(st.lists(st.integers(0, n - 1), max_size=5))
    if repeats:
        records = np.concatenate([records, records[repeats]])
    return records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_arrays())
def test_convert_open_records_round_trip(records):
    with tempfile.TemporaryDirectory() as tmp:
        src = save(Path(tmp) / "r.npy", records)
        ds = open_store(convert(src, Path(tmp) / "store"))
        back = records_from_dataset(ds)
    _, first = np.unique(records["seed"], return_index=True)
    expected = records[np.sort(first)]
    assert back.dtype == expected.dtype
    assert back.tobytes() == expected.tobytes()
    assert json.loads(ds.attrs["provenance"])[0]["duplicate_rows_dropped"] == (
        len(records) - len(expected))
