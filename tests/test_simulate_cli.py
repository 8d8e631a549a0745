"""End-to-end: ``fsbi-data simulate`` through the installed command, into a real store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest.importorskip("brian2")

import fsbi_data.metrics as fsbi_metrics  # noqa: E402
from fsbi_data.seeds import rule_seeds  # noqa: E402
from fsbi_data.simulation.prior import sample_prior  # noqa: E402
from fsbi_data.store import open_path  # noqa: E402

needs_metrics = pytest.mark.skipif(
    not hasattr(fsbi_metrics, "compute"),
    reason="fsbi_data.metrics.compute (the metric computations) is not available")



def fsbi_data_command() -> list[str]:
    script = Path(sys.executable).with_name("fsbi-data")
    if script.exists():
        return [str(script)]
    found = shutil.which("fsbi-data")
    if found is None:
        pytest.skip("the fsbi-data command is not installed (pip install -e .)")
    return [found]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(fsbi_data_command() + list(args), capture_output=True, text=True,
                          cwd=cwd, timeout=600, check=False)


@needs_metrics
def test_simulate_from_prior_into_a_store(tmp_path):
    done = run_cli("simulate", "6pPol", "--from", "prior", "--n", "3", "--backend", "brian2",
                   "--protocol", "quick", "--store", "tmp.store", "--seed", "0",
                   "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 rule(s) simulated (1 blew up), 0 failed" in done.stdout
    ds = open_path(tmp_path / "tmp.store")
    expected = rule_seeds(sample_prior("6pPol", 3, seed=0), "6pPol")
    assert sorted(ds["seed"].values.astype(str).tolist()) == sorted(expected.tolist())
    assert int(np.isnan(ds["rate"].values).sum()) == 1  # the rule that blew up

    again = run_cli("simulate", "6pPol", "--from", "prior", "--n", "3", "--backend",
                    "brian2", "--protocol", "quick", "--store", "tmp.store", "--seed", "0",
                    "--workers", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 rule(s) simulated" in again.stdout and "3 already in the store" in again.stdout
    assert open_path(tmp_path / "tmp.store").sizes["rule"] == 3


@needs_metrics
def test_simulate_thetas_file(tmp_path):
    np.save(tmp_path / "rules.npy", sample_prior("MLP", 1, seed=3))
    done = run_cli("simulate", "MLP", "--thetas", "rules.npy", "--backend", "brian2",
                   "--protocol", "quick", "--store", "mlp.store", "--workers", "1",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert open_path(tmp_path / "mlp.store").sizes["rule"] == 1


@needs_metrics
def test_failed_rules_make_the_command_fail_and_are_listed(tmp_path):
    good = sample_prior("MLP", 1, seed=3)
    bad = good.copy()
    bad[0, 4] = np.nan  # refused by the protocol's checks, without a simulation
    np.save(tmp_path / "rules.npy", np.concatenate([good, bad]))
    done = run_cli("simulate", "MLP", "--thetas", "rules.npy", "--backend", "brian2",
                   "--protocol", "quick", "--store", "mlp.store", "--workers", "1",
                   cwd=tmp_path)
    assert done.returncode == 1
    assert "1 rule(s) simulated (0 blew up), 1 failed" in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 rule(s) failed and are not in mlp.store; their "
                           "errors and parameters are listed in mlp.store.failures.csv")
    ds = open_path(tmp_path / "mlp.store")  # the rule that ran is kept
    assert ds["seed"].values.astype(str).tolist() == rule_seeds(good, "MLP").tolist()
    listing = pd.read_csv(tmp_path / "mlp.store.failures.csv")
    assert listing["seed"].tolist() == rule_seeds(bad, "MLP").tolist()
    assert "is nan" in listing["error"][0] and np.isnan(listing["wpre_ee_2"][0])


@needs_metrics
def test_a_rule_failing_in_the_simulator_is_a_failure(tmp_path):
    np.save(tmp_path / "rules.npy", sample_prior("MLP", 1, seed=3))
    done = run_cli("simulate", "MLP", "--thetas", "rules.npy", "--backend", "brian2",
                   "--protocol", "quick", "--store", "mlp.store", "--workers", "1",
                   "--timeout", "0.01", "--retries", "0", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: 1 of 1 rule(s) failed" in done.stderr.strip().splitlines()[-1]
    listing = pd.read_csv(tmp_path / "mlp.store.failures.csv")
    assert listing["error_type"].tolist() == ["SimulationError"]
    assert "exceeded its timeout" in listing["error"][0]
    assert not (tmp_path / "mlp.store").exists()


@pytest.mark.parametrize("args, message", [
    (["--backend", "brian2", "--store", "s"], "exactly one of --from prior"),
    (["--from", "prior", "--backend", "brian2", "--store", "s"], "needs --n"),
    (["--from", "prior", "--n", "2", "--workers", "2", "--scheduler", "tcp://x:1",
      "--store", "s"], "not both"),
])
def test_usage_errors(tmp_path, args, message):
    done = run_cli("simulate", "6pPol", *args, cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stderr
    assert not (tmp_path / "s").exists()


def test_wrong_theta_width_is_a_clear_error(tmp_path):
    np.save(tmp_path / "rules.npy", np.zeros((2, 23)))
    done = run_cli("simulate", "6pPol", "--thetas", "rules.npy", "--backend", "brian2",
                   "--protocol", "quick", "--store", "s", cwd=tmp_path)
    assert done.returncode == 1
    assert "(n_rules, 25)" in done.stderr
    assert not (tmp_path / "s").exists()


def test_unavailable_auryn_says_how_to_install(tmp_path):
    done = subprocess.run(
        fsbi_data_command() + ["simulate", "6pPol", "--from", "prior", "--n", "1",
                               "--backend", "auryn", "--store", "s"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 1
    assert "AURYN_DIR" in done.stderr and "git clone https://github.com/fzenke/auryn" in \
        done.stderr
