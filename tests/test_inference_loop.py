"""The fSBI loop end to end: select → fit → sample → simulate (Brian2) → append → query,
through the CLI."""

import subprocess
import sys

import numpy as np

import fsbi_data
from fsbi_data.synthetic import write_release_file


def cli(*args):
    done = subprocess.run([sys.executable, "-m", "fsbi_data.cli", *args], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_select_fit_sample_simulate_append_query(tmp_path):
    npy = write_release_file(tmp_path / "all.npy", "6pPol", 3000, rng=0)
    store = fsbi_data.convert(npy, tmp_path / "rules.store")
    before = fsbi_data.open(store).sizes["rule"]
    post = tmp_path / "rate.fsbi-post"
    cli("fit", str(store), "--metrics", "rate", "--criteria", "tutorial training",
        "--ensemble", "1", "--max-epochs", "5", "--seed", "0", "--out", str(post))
    thetas = tmp_path / "thetas.npy"
    cli("sample", str(post), "--condition", "rate=5:10", "--n", "2", "--seed", "1",
        "--out", str(thetas))
    sampled = np.load(thetas)
    assert sampled.shape == (2, 25)
    out = cli("simulate", "6pPol", "--thetas", str(thetas), "--backend", "brian2",
              "--protocol", "quick", "--workers", "1", "--store", str(store))
    assert "2 rule(s) simulated" in out
    extended = fsbi_data.open(store)
    assert extended.sizes["rule"] == before + 2
    new = extended.isel(rule=slice(before, None))
    assert np.array_equal(new.theta.values, sampled)
    looked_up = extended.fsbi.rules(new.seed.values)
    assert np.array_equal(looked_up.theta.values, sampled)
    rates = extended.rate.values
    assert extended.fsbi.where(rate=(5, 10)).sizes["rule"] == np.sum((rates >= 5) & (rates <= 10))
    provenance = fsbi_data.store.layout.provenance(extended)
    assert provenance[-1].get("backend") == "brian2"
