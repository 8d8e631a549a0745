"""The main job end to end through the CLI, offline, on the embedded sample."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fsbi_data
from fsbi_data import embedded
from fsbi_data.demo import DEMO_ROUND, MARKER, DemoFolderError, prepare_folder

N_NEW = 100


def run_demo_cli(out, tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "fsbi_data.cli", "demo", "--out", str(out),
                           "--sample", *extra], capture_output=True, text=True,
                          env={**os.environ, "FSBI_DATA_HOME": str(tmp_path)})


def test_the_posterior_finds_rules_in_range_more_often_than_the_sample_holds_them(tmp_path):
    out = tmp_path / "demo"
    done = run_demo_cli(out, tmp_path, "--new-rules", str(N_NEW), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert embedded.LABEL in done.stdout
    assert "new rules landed in rate ∈ [5, 10] Hz" in done.stdout
    report = (out / "report.md").read_text()
    assert embedded.LABEL in report and "## New rules" in report
    assert len(list((out / "figures").glob("*.png"))) == 12
    assert (out / "posterior-rate.fsbi-post").stat().st_size > 0

    ds = fsbi_data.open(out / "6pPol.store")
    assert ds.attrs["data_origin"] == embedded.LABEL
    new = ds.fsbi.round(DEMO_ROUND)
    assert new.sizes["rule"] == N_NEW
    assert fsbi_data.store.layout.provenance(ds)[-1]["backend"] == "brian2"
    sample = ds.isel(rule=~ds[f"in_{DEMO_ROUND}"].values)
    assert sample.sizes["rule"] == sum(embedded.manifest()["families"]["6pPol"]["rows"][r]
                                       for r in embedded.ROUNDS)
    # the method at work: the posterior's rules land in the range more often than the
    # sample's own rules lie there (the report's numbers are these)
    new_share = np.mean((new.rate.values >= 5) & (new.rate.values <= 10))
    sample_share = np.mean((sample.rate.values >= 5) & (sample.rate.values <= 10))
    assert new_share > sample_share
    assert f"({new_share:.0%})" in done.stdout and f"{sample_share:.0%} are there" in done.stdout

    info = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "info", str(out / "6pPol.store")],
                          capture_output=True, text=True)
    assert f"data     {embedded.LABEL}" in info.stdout
    assert f"{DEMO_ROUND}" in info.stdout and "pi3" in info.stdout


def test_a_rerun_empties_the_demo_folder_and_refuses_any_other(tmp_path):
    out = tmp_path / "demo"
    assert prepare_folder(out) is False
    (out / "6pPol.store").mkdir()
    assert prepare_folder(out) is True
    assert sorted(p.name for p in out.iterdir()) == [MARKER]

    a_file = tmp_path / "notes.txt"
    a_file.write_text("precious")
    with pytest.raises(DemoFolderError, match="notes.txt is a file; give the demo a folder"):
        prepare_folder(a_file)
    assert a_file.read_text() == "precious"

    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("precious")
    with pytest.raises(DemoFolderError, match="files the demo did not write"):
        prepare_folder(foreign)
    assert (foreign / "chapter1.tex").read_text() == "precious"
    done = run_demo_cli(foreign, tmp_path)
    assert done.returncode != 0 and "files the demo did not write" in done.stderr
    assert (foreign / "chapter1.tex").read_text() == "precious"
