"""The ``convert`` and ``info`` commands, end to end through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from fsbi_data.store import append, open_path
from fsbi_data.synthetic import release_records, write_release_file, write_round_files


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fsbi_data.cli", *args], cwd=cwd,
                          capture_output=True, text=True, check=False)


def test_convert_then_info(tmp_path):
    src = write_release_file(tmp_path / "all.npy", "6pPol", 2000, rng=1)
    rounds = write_round_files(src, tmp_path / "rounds", {"pi0": 300, "pi3": 100}, rng=2)
    result = run("convert", str(src), "my.store", "--family", "6pPol",
                 "--round", f"pi0={rounds['pi0']}", "--round", f"pi3={rounds['pi3']}",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "my.store"
    assert "2000/2000" in result.stderr  # the progress bar
    batch = release_records("6pPol", 3, rng=5, first_salt=10**6)
    append(tmp_path / "my.store", batch, provenance={"backend": "brian2", "protocol": "quick"})

    result = run("info", "my.store", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    nan_rate = int(np.isnan(np.load(src)["rate"]).sum() + np.isnan(batch["rate"]).sum())
    assert "rules    2,003" in out
    assert "tau_pre_ee    ee          0.01   0.1  s" in out
    assert "rate_poisson  input          5    15  Hz" in out
    rate_line = next(line for line in out.splitlines() if line.startswith("rate   "))
    assert rate_line.split()[1] == "Hz" and rate_line.split()[-1] == f"{nan_rate:,}"
    assert "pi0      300" in out and "pi3      100" in out
    assert "source      all.npy" in out and "brian2" in out and '"protocol": "quick"' in out


def test_cli_errors_are_one_clear_line(tmp_path):
    src = tmp_path / "all.npy"
    np.save(src, release_records("MLP", 10, rng=1))
    result = run("convert", str(src), "s", "--family", "6pPol", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "does not hold 6pPol records" in result.stderr
    assert not (tmp_path / "s").exists()
    result = run("convert", str(src), "s", "--round", "pi0", cwd=tmp_path)
    assert result.returncode == 2 and "expected LABEL=PATH" in result.stderr
    result = run("info", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and "is not an fsbi-data store" in result.stderr


def test_convert_reuses_store(tmp_path):
    src = write_release_file(tmp_path / "all.npy", "MLP", 500, rng=3)
    assert run("convert", str(src), "s", cwd=tmp_path).returncode == 0
    before = (tmp_path / "s" / "fsbi-store.json").stat().st_mtime_ns
    assert run("convert", str(src), "s", cwd=tmp_path).returncode == 0
    assert (tmp_path / "s" / "fsbi-store.json").stat().st_mtime_ns == before
    assert open_path(tmp_path / "s").sizes["rule"] == 500


def test_info_summarises_many_batches_in_short_lines(tmp_path):
    from fsbi_data.store import append, create
    from fsbi_data.synthetic import release_records

    store = create(tmp_path / "s.store", "6pPol")
    for k in range(8):
        append(store, release_records("6pPol", 2, rng=k, first_salt=10**6 * (k + 1)),
               provenance={"backend": "brian2", "network_seeds": list(range(200))})
    run = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "info", str(store)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    provenance_lines = [line for line in lines if line.startswith(("batch ", "source "))]
    assert provenance_lines and max(map(len, provenance_lines)) <= 140
    assert sum(line.startswith("batch ") for line in lines) == 5
    assert "... and 3 earlier batches (6 rules)" in run.stdout


def test_a_round_named_by_a_number_is_one_clear_error(tmp_path):
    import pytest

    from fsbi_data.errors import QueryError
    from fsbi_data.store.layout import dataset_from_records
    from fsbi_data.synthetic import release_records

    ds = dataset_from_records(release_records("6pPol", 5, rng=0), "6pPol")
    with pytest.raises(QueryError, match="named by its label, such as 'pi3', not 3"):
        ds.fsbi.round(3)
