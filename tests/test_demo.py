"""The main job end to end through the CLI, offline, on the embedded sample."""

import os
import subprocess
import sys

import fsbi_data


def test_demo_writes_store_figures_posterior_and_report(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "demo", "--out", str(out),
                           "--sample", "--new-rules", "2", "--workers", "1"],
                          capture_output=True, text=True,
                          env={**os.environ, "FSBI_DATA_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "NOT the paper's data" in done.stdout
    report = (out / "report.md").read_text()
    assert "synthetic sample" in report and "## New rules" in report
    assert len(list((out / "figures").glob("*.png"))) == 12
    assert (out / "posterior-rate.fsbi-post").stat().st_size > 0
    ds = fsbi_data.open(out / "6pPol.store")
    assert ds.attrs["data_origin"].startswith("synthetic sample")
    assert fsbi_data.store.layout.provenance(ds)[-1]["backend"] == "brian2"
    source = next(s for s in fsbi_data.store.layout.provenance(ds) if s.get("kind") == "source")
    assert ds.sizes["rule"] == source["rows"] + 2
