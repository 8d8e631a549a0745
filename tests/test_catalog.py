"""The release catalog and the synthetic release: names, facts of the spec, checksums."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbi_data.catalog import CATALOG, RELEASE_COMMIT, Catalog, CatalogEntry
from fsbi_data.checksums import file_checksum
from fsbi_data.errors import FsbiDataError, UnknownNameError
from fsbi_data.fetching import datasets
from fsbi_data.schema import family
from fsbi_data.synthetic import write_synthetic_release

# Totals of spec/data-release.md §1.1, an independent check of the per-file numbers.
SPEC_LFS_BYTES = {"6pPol": 262_658_000, "MLP": 223_717_088}
HEADER_BYTES = {"P": 512, "M": 448}


def test_catalog_lists_every_release_file():
    names = set(CATALOG)
    for fam in ("6pPol", "MLP"):
        assert {fam, f"{fam}/pi0", f"{fam}/pi1", f"{fam}/pi2", f"{fam}/pi3",
                f"{fam}/bg20min"} <= names
    assert {"6pPol/tutorial", "6pPol/tutorial-raw", "6pPol/posterior-tutorial"} <= names
    assert sum(e.role == "posterior" for e in CATALOG.values()) == 3
    assert len(CATALOG) == 17


@pytest.mark.parametrize("fam", ["6pPol", "MLP"])
def test_npy_sizes_follow_from_rows_and_record_layout(fam):
    record = family(fam).record_dtype.itemsize
    npy = [e for e in CATALOG.of_family(fam) if e.dtype_kind in ("P", "M")]
    for entry in npy:
        assert entry.size == HEADER_BYTES[entry.dtype_kind] + entry.rows * record, entry.name
        assert entry.checksum_kind == "sha256" and len(entry.checksum) == 64
    assert sum(e.size for e in npy) == SPEC_LFS_BYTES[fam]


def test_urls_are_pinned_and_use_the_right_host():
    for entry in CATALOG.values():
        assert RELEASE_COMMIT in entry.url and entry.url.endswith("/" + entry.path)
        if entry.path.endswith(".npy"):
            assert entry.url.startswith("https://media.githubusercontent.com/media/VogelsLab/")
        else:
            assert entry.url.startswith("https://raw.githubusercontent.com/VogelsLab/")
            assert entry.checksum_kind == "git-sha1" and len(entry.checksum) == 40
            assert entry.size is None and entry.rows is None


def test_paths_live_in_the_family_task_folder():
    for entry in CATALOG.values():
        assert f"/{family(entry.family).task_name}/" in entry.path


def test_rounds_are_ordered_and_labelled():
    for fam in ("6pPol", "MLP"):
        rounds = CATALOG.rounds(fam)
        assert list(rounds) == ["pi0", "pi1", "pi2", "pi3"]
        assert all(e.role == "round" and e.round == label for label, e in rounds.items())
    assert CATALOG.rounds("mlp")["pi3"].rows == 15_500
    assert CATALOG.rounds("6pPol")["pi0"].path.endswith("/box_prior_metrics.npy")


def test_entries_are_frozen():
    with pytest.raises(AttributeError):
        CATALOG.entry("MLP").rows = 1


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError) as info:
        CATALOG.entry("6pPol/pi9")
    message = str(info.value)
    assert "'6pPol/pi9'" in message and "6pPol/pi3" in message and "MLP/bg20min" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, FsbiDataError)
    with pytest.raises(KeyError):
        CATALOG["nonsense"]
    with pytest.raises(UnknownNameError, match="valid families"):
        CATALOG.rounds("nonsense")


def test_family_part_of_a_name_is_case_insensitive():
    assert CATALOG.entry("mlp/PI0".replace("PI0", "pi0")) is CATALOG["MLP/pi0"]
    assert CATALOG.entry("6ppol") is CATALOG["6pPol"]
    with pytest.raises(UnknownNameError):
        CATALOG.entry("6pPol/PI0")


def test_duplicate_names_rejected():
    entry = CATALOG.entry("MLP")
    with pytest.raises(ValueError, match="duplicate"):
        Catalog([entry, entry])


def test_datasets_table_has_one_row_per_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("FSBI_DATA_HOME", str(tmp_path))
    table = datasets()
    assert list(table["name"]) == list(CATALOG)
    assert list(table.columns) == ["name", "family", "role", "round", "rows", "size",
                                   "cached", "path", "url"]
    assert not table["cached"].any() and table["path"].isna().all()
    assert table.set_index("name").loc["6pPol", "rows"] == 354_300


# --- checksums ---------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=3000))
def test_sha256_matches_hashlib(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("h") / "f.bin"
    path.write_bytes(content)
    assert file_checksum(path) == hashlib.sha256(content).hexdigest()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@settings(max_examples=15, deadline=None)
@given(content=st.binary(max_size=3000))
def test_git_blob_id_matches_git(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("g") / "f.bin"
    path.write_bytes(content)
    expected = subprocess.run(["git", "hash-object", str(path)], check=True,
                              capture_output=True, text=True).stdout.strip()
    assert file_checksum(path, "git-sha1") == expected


def test_unknown_checksum_kind(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(ValueError, match="git-sha1"):
        file_checksum(tmp_path / "f", "md5")


# --- the synthetic release ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    return root, write_synthetic_release(root, scale=0.01, rng=3)


def test_synthetic_release_mirrors_the_catalog(synthetic):
    root, cat = synthetic
    npy = [e for e in CATALOG.values() if e.dtype_kind in ("P", "M")]
    assert list(cat) == [e.name for e in npy]
    for entry in npy:
        fake = cat.entry(entry.name)
        assert (fake.path, fake.role, fake.round, fake.family, fake.url) == (
            entry.path, entry.role, entry.round, entry.family, entry.url)
        path = root / fake.path
        assert path.stat().st_size == fake.size
        assert file_checksum(path) == fake.checksum
        records = np.load(path, mmap_mode="r")
        assert len(records) == fake.rows
        assert records.dtype == family(entry.family).record_dtype
        assert fake.size == HEADER_BYTES[entry.dtype_kind] + fake.rows * records.dtype.itemsize
    assert cat.entry("6pPol").rows == round(354_300 * 0.01)
    assert cat.entry("6pPol/pi1").rows == 300  # 50 scaled rows, raised to the minimum
    assert cat.entry("6pPol/tutorial").rows == 10  # fewer real rows than the minimum


def test_synthetic_rounds_are_disjoint_subsets_of_all(synthetic):
    root, cat = synthetic
    for fam in ("6pPol", "MLP"):
        everything = np.load(root / cat.entry(fam).path)
        by_seed = {s: i for i, s in enumerate(everything["seed"])}
        seen = set()
        for entry in cat.rounds(fam).values():
            rows = np.load(root / entry.path)
            index = [by_seed[s] for s in rows["seed"]]
            assert everything[index].tobytes() == rows.tobytes()  # NaN-safe
            assert seen.isdisjoint(rows["seed"])
            seen.update(rows["seed"])


def test_synthetic_release_is_deterministic(tmp_path):
    a = write_synthetic_release(tmp_path / "a", families=("MLP",), scale=0.005, rng=7)
    b = write_synthetic_release(tmp_path / "b", families=("MLP",), scale=0.005, rng=7)
    c = write_synthetic_release(tmp_path / "c", families=("MLP",), scale=0.005, rng=8)
    assert [e.checksum for e in a.values()] == [e.checksum for e in b.values()]
    assert a.entry("MLP").checksum != c.entry("MLP").checksum
    assert all(isinstance(e, CatalogEntry) for e in a.values())


def test_synthetic_release_rejects_bad_scale(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        write_synthetic_release(tmp_path, scale=0)


def test_full_scale_synthetic_release_has_the_real_row_counts_and_sizes(tmp_path):
    cat = write_synthetic_release(tmp_path, scale=1.0, rng=0)
    assert len(cat) == len([e for e in CATALOG.values() if e.rows is not None])
    for entry in cat.values():
        real = CATALOG.entry(entry.name)
        assert (entry.rows, entry.size) == (real.rows, real.size)


def test_entries_view_is_read_only():
    assert list(CATALOG.entries.values()) == list(CATALOG.values())
    with pytest.raises(TypeError):
        CATALOG.entries["x"] = CATALOG.entry("MLP")
