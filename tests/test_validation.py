"""Appends are checked before anything is written; a refused batch leaves the store as it was."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from fsbi_data.converters import convert
from fsbi_data.errors import InvalidRulesError, StoreError
from fsbi_data.schema import family
from fsbi_data.store import append, open_path
from fsbi_data.store.layout import dataset_from_records, provenance
from fsbi_data.synthetic import release_records


@pytest.fixture
def store(tmp_path) -> Path:
    np.save(tmp_path / "base.npy", release_records("6pPol", 50, rng=0))
    return convert(tmp_path / "base.npy", tmp_path / "s.store")


def snapshot(store: Path) -> dict[str, str]:
    """Every file of the store and the sha256 of its bytes."""
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.rglob("*")) if p.is_file()}


def rules(n: int = 6) -> np.ndarray:
    return release_records("6pPol", n, rng=7, first_salt=10**6, nan_fraction=0.0)


def with_theta(value: float, row: int = 2, column: int = 0) -> np.ndarray:
    records = rules()
    records["theta"][row, column] = value
    return records


def with_metric(name: str, value: float, row: int = 4) -> np.ndarray:
    records = rules()
    records[name][row] = value
    return records


FAM = family("6pPol")
BAD = {
    "theta NaN": (with_theta(np.nan), "field 'theta': not finite in row 2"),
    "theta +inf": (with_theta(np.inf, 1, 5), "field 'theta': not finite in row 1"),
    "theta outside the prior": (with_theta(FAM.high[3] * 10 + 1, 3, 3),
                                f"field 'theta': outside the 6pPol prior box in row 3 .*"
                                f"{FAM.param_names[3]}"),
    "metric -inf": (with_metric("rate", -np.inf), "field 'rate': -inf in row 4"),
    "metric +inf": (with_metric("cv_isi", np.inf), "field 'cv_isi': inf in row 4"),
    "kl_isi -inf": (with_metric("kl_isi", -np.inf), "field 'kl_isi': -inf in row 4"),
    "records of the other family": (release_records("MLP", 3, rng=1),
                                    "the batch holds MLP rules but the store holds 6pPol"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_batch_is_refused_and_the_store_is_untouched(store, case):
    records, message = BAD[case]
    before = snapshot(store)
    with pytest.raises(InvalidRulesError, match=message) as raised:
        append(store, records)
    assert "\n" not in str(raised.value)
    assert snapshot(store) == before


@pytest.mark.parametrize("case", BAD)
def test_a_bad_batch_is_refused_through_the_cli(store, case, tmp_path):
    records, message = BAD[case]
    np.save(tmp_path / "batch.npy", records)
    before = snapshot(store)
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "append", str(store),
                          str(tmp_path / "batch.npy")], capture_output=True, text=True)
    assert run.returncode == 1 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith("error: ")
    assert snapshot(store) == before


def test_theta_of_the_wrong_width_is_refused(store):
    ds = dataset_from_records(rules(), "6pPol")
    narrow = xr.Dataset({**{m: ds[m] for m in FAM.metric_names},
                         "theta": (("rule", "param"), ds.theta.values[:, :-1])},
                        attrs=ds.attrs)
    before = snapshot(store)
    with pytest.raises(InvalidRulesError, match=r"theta has shape \(6, 24\); 6pPol rules have "
                                                r"25 parameters"):
        append(store, narrow)
    with pytest.raises(InvalidRulesError, match="plain float64 array of shape"):
        append(store, ds.theta.values)
    assert snapshot(store) == before


def test_nan_metrics_and_kl_isi_inf_are_accepted(store):
    records = with_metric("kl_isi", np.inf)
    records["rate"][0] = np.nan
    assert append(store, records).appended == len(records)
    ds = open_path(store)
    assert np.isinf(ds.kl_isi.values[-2]) and np.isnan(ds.rate.values[-len(records)])


def test_rules_outside_the_prior_on_purpose_are_recorded(store, tmp_path):
    outside = with_theta(FAM.high[0] * 2 + 1)
    report = append(store, outside, allow_outside_prior=True, provenance={"why": "a sweep"})
    assert report.appended == len(outside) and report.provenance["outside_prior"] == 1
    assert provenance(open_path(store))[-1]["outside_prior"] == 1

    np.save(tmp_path / "more.npy", with_theta(FAM.low[0] - 1, row=0) [:3])
    more = np.load(tmp_path / "more.npy")
    more["seed"] = [f"{i:032x}" for i in range(3)]
    np.save(tmp_path / "more.npy", more)
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "append", str(store),
                          str(tmp_path / "more.npy"), "--allow-outside-prior"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"appended 3 rule(s) to {store}; 0 already there"
    assert provenance(open_path(store))[-1]["source"] == "more.npy"


def test_appending_a_file_that_is_not_records_is_one_line(store, tmp_path):
    (tmp_path / "notes.npy").write_text("rate,cv_isi\n1,2\n")
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "append", str(store),
                          str(tmp_path / "notes.npy")], capture_output=True, text=True)
    assert run.returncode == 1 and len(run.stderr.splitlines()) == 1
    assert "notes.npy" in run.stderr


def test_an_abandoned_conversion_is_cleaned_on_the_next_convert_or_open(tmp_path):
    np.save(tmp_path / "base.npy", release_records("6pPol", 20, rng=0))
    dest = tmp_path / "new.store"
    leftover = tmp_path / ".new.store.0123456789abcdef.tmp"
    (leftover / "base-000000" / "theta").mkdir(parents=True)
    (leftover / "base-000000" / "theta" / "c").write_bytes(b"\0" * 4096)
    with pytest.raises(StoreError, match="no store at"):
        open_path(dest)
    assert not leftover.exists()

    (leftover / "base-000000").mkdir(parents=True)
    convert(tmp_path / "base.npy", dest)
    assert not leftover.exists() and open_path(dest).sizes["rule"] == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.npy", "new.store"]


def test_a_conversion_in_progress_is_not_removed(tmp_path):
    from fsbi_data.files import claimed, remove_abandoned

    dest = tmp_path / "busy.store"
    with claimed(tmp_path / ".busy.store.feedfacefeedface.tmp") as live:
        (live / "part").mkdir()
        remove_abandoned(dest)
        assert (live / "part").is_dir()
    remove_abandoned(dest)
    assert not live.exists()


@pytest.mark.parametrize("parent", ["a file", "missing below a file"])
def test_a_destination_under_a_file_is_one_clear_error(tmp_path, parent):
    np.save(tmp_path / "base.npy", release_records("6pPol", 5, rng=0))
    (tmp_path / "plain").write_text("not a folder")
    dest = tmp_path / "plain" / "s.store" if parent == "a file" else \
        tmp_path / "plain" / "deeper" / "s.store"
    with pytest.raises(StoreError, match=f"cannot create the store {dest}: .*plain"):
        convert(tmp_path / "base.npy", dest)
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "convert",
                          str(tmp_path / "base.npy"), str(dest)], capture_output=True, text=True)
    assert run.returncode == 1 and len(run.stderr.splitlines()) == 1
    assert (tmp_path / "plain").read_text() == "not a folder"
