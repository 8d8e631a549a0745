"""The stores the demo and the notebooks start from: reused only when made from the same files."""

from __future__ import annotations

import pytest

import fsbi_data
from fsbi_data import embedded
from fsbi_data.demo import StaleStoreError, default_store, longevity_store


def test_a_store_is_converted_once_then_reused(tmp_path):
    store, origin = default_store(tmp_path, use_release=False)
    assert origin == embedded.LABEL
    made = (store / "fsbi-store.json").stat().st_mtime_ns
    again, origin_again = default_store(tmp_path, use_release=False)
    assert (again, origin_again) == (store, origin)
    assert (store / "fsbi-store.json").stat().st_mtime_ns == made  # not converted a second time


@pytest.mark.parametrize("source", [{"data_source": "0123456789abcdef"}, {}],
                         ids=["another sample", "made before stores named their files"])
def test_a_store_from_other_files_raises_and_stays(tmp_path, source):
    files = embedded.write_release_files(tmp_path / "files", "6pPol")
    store = fsbi_data.convert(files.all, tmp_path / "6pPol.store", rounds=files.rounds,
                              attrs={"data_origin": embedded.LABEL, **source})
    rules = fsbi_data.open(store).sizes["rule"]
    with pytest.raises(StaleStoreError, match=r"6pPol\.store.*remove .*6pPol\.store"):
        default_store(tmp_path, use_release=False)
    assert fsbi_data.open(store).sizes["rule"] == rules  # nothing removed or rewritten


def test_the_longevity_store_checks_its_file_too(tmp_path):
    store, _ = longevity_store(tmp_path, use_release=False, family_name="MLP")
    assert longevity_store(tmp_path, use_release=False, family_name="MLP")[0] == store
    files = embedded.write_release_files(tmp_path / "files", "MLP")
    other = fsbi_data.convert(files.longevity, tmp_path / "other" / "MLP-bg20min.store",
                              attrs={"data_source": "0" * 16})
    with pytest.raises(StaleStoreError, match="MLP-bg20min.store"):
        longevity_store(other.parent, use_release=False, family_name="MLP")
