"""What the ``fsbi-data`` command prints: results on stdout, nothing else unless asked (-v).

Each command runs in a subprocess (``python -m fsbi_data.cli``), so that logging, warnings and
the imports of Dask and sbi are those of a real run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fsbi_data.demo import default_store

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_cli(*args: str, cwd: Path, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fsbi_data.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, check=False, env=env or ENV)


def log_lines(stderr: str) -> list[str]:
    """The log lines of stderr (progress bars, which end in carriage returns, left out)."""
    lines = re.split(r"[\r\n]+", stderr)
    return [line for line in lines if re.match(r"(DEBUG|INFO|WARNING|ERROR) \S+: ", line)]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """The demo's 6pPol store on the embedded sample."""
    path, _ = default_store(tmp_path_factory.mktemp("cli-output") / "data", use_release=False)
    return path


SIMULATE = ("simulate", "6ppol", "--from", "prior", "--n", "1", "--seed", "0", "--backend",
            "brian2", "--protocol", "quick", "--workers", "1", "--store")


@pytest.mark.parametrize("verbose", [[], ["-v"], ["-vv"]], ids=["quiet", "-v", "-vv"])
def test_simulate_prints_its_result_and_logs_only_when_asked(tmp_path, verbose):
    pytest.importorskip("distributed")
    pytest.importorskip("brian2")
    # every warning shown, as in a development setup, unless the command filters it
    done = run_cli(*verbose, *SIMULATE, "new.store", cwd=tmp_path,
                   env={**ENV, "PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"1 rule\(s\) simulated \([01] blew up\), 0 failed, 0 already in the "
                        r"store; store: new.store\n", done.stdout)
    lines = log_lines(done.stderr)
    dask_info = [line for line in lines if line.startswith("INFO distributed.")]
    if not verbose:
        assert lines == [] and "Warning" not in done.stderr
    elif verbose == ["-v"]:
        assert "INFO fsbi_data.simulation.runner: simulate: 1 done, 0 failed, 0 skipped" in lines
        assert dask_info == [] and "Warning" not in done.stderr
    else:  # -vv: the cluster's start-up and shutdown, and every warning
        assert any(line.startswith("INFO distributed.scheduler: ") for line in dask_info)
        assert "PyparsingDeprecationWarning" in done.stderr  # Brian2's use of pyparsing


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "-v"])
def test_fit_keeps_sbi_training_printout_out_of_the_result(tmp_path, store, verbose):
    pytest.importorskip("sbi")
    done = run_cli(*(["-v"] if verbose else []), "fit", str(store), "--metrics", "rate",
                   "--criteria", "stable activity", "--ensemble", "2", "--seed", "0",
                   "--out", "post.fsbi-post", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("RulePosterior(6pPol: p(theta | rate), 2 x")
    assert done.stdout.splitlines()[1:] == ["wrote post.fsbi-post"]
    converged = [line for line in log_lines(done.stderr) if "successfully converged" in line]
    if verbose:
        assert len(converged) == 2  # one line per ensemble member
        assert all(re.fullmatch(r"INFO fsbi_data\.inference: sbi: Neural network "
                                r"successfully converged after \d+ epochs\.", line)
                   for line in converged)
    else:
        assert "converged" not in done.stderr and log_lines(done.stderr) == []


@pytest.mark.parametrize("args", [
    ("query", "{store}", "--where", "rate=10:5"),
    ("fit", "{store}", "--metrics", "rate", "--where", "rate=10:5", "--out", "p.fsbi-post"),
    ("sample", "empty.fsbi-post", "--condition", "rate=10:5", "--out", "rules.npy"),
])
def test_a_reversed_range_is_refused_in_the_options_syntax(tmp_path, store, args):
    (tmp_path / "empty.fsbi-post").touch()
    done = run_cli(*(a.format(store=store) for a in args), cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    option = args[args.index("rate=10:5") - 1]
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {option} rate=10:5: the range is reversed (low 10 > high 5); write rate=5:10")
    assert not (tmp_path / "p.fsbi-post").exists() and not (tmp_path / "rules.npy").exists()


def test_help_names_the_families_and_explains_every_sampling_option(tmp_path):
    simulate = run_cli("simulate", "--help", cwd=tmp_path, timeout=120)
    assert "Usage: python -m fsbi_data.cli simulate [OPTIONS] {6pPol|MLP}" in simulate.stdout
    wrong = run_cli("simulate", "6pPoly", cwd=tmp_path, timeout=120)
    assert wrong.returncode == 2
    assert "'6pPoly' is not a family; choose 6pPol or MLP (any case)." in wrong.stderr
    sample = run_cli("sample", "--help", cwd=tmp_path, timeout=120)
    text = " ".join(sample.stdout.split())
    assert "--n INTEGER RANGE Number of rules to sample." in text
    assert "--seed INTEGER Seed of the sampling" in text
