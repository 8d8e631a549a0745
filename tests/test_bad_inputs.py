"""Bad input through the real command: one clear line on stderr, exit 1, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fsbi_data.catalog import CATALOG
from fsbi_data.converters import convert
from fsbi_data.synthetic import write_release_file


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fsbi_data.cli", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=300)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed command, checked to be the package's error line."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


LFS_POINTER = (f"version https://git-lfs.github.com/spec/v1\n"
               f"oid sha256:{CATALOG.entry('MLP/pi1').checksum}\nsize 6160448\n").encode()


# --- convert ----------------------------------------------------------------------------------
@pytest.mark.parametrize("content, expected", [
    (os.urandom(4096), "is not a valid .npy file: its header cannot be read"),
    (b"\x93NUMPY\x01\x00" + os.urandom(4096), "is not a valid .npy file"),
    (b"\x93NUMPY\x01\x00\x20\x00{'descr': [('a', '<f8')], 'fortr", "is not a valid .npy file"),
    (LFS_POINTER, "this is a Git LFS pointer, not the data"),
], ids=["random bytes", "magic then garbage", "unclosed header", "lfs pointer"])
def test_convert_garbage(tmp_path, content, expected):
    (tmp_path / "in.npy").write_bytes(content)
    before = files(tmp_path)
    line = one_error_line(run("convert", "in.npy", "out.store", cwd=tmp_path))
    assert line.startswith("error: in.npy") and expected in line
    if content == LFS_POINTER:
        assert "`fsbi-data fetch MLP/pi1`" in line and "`git lfs pull`" in line
    assert files(tmp_path) == before


# --- query --out ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("query")
    src = write_release_file(folder / "all.npy", "MLP", 300, rng=4)
    return convert(src, folder / "mlp.store")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_query_out_in_a_missing_folder(tmp_path, store, suffix):
    line = one_error_line(run("query", str(store), "--out", f"nodir/rules{suffix}",
                              cwd=tmp_path))
    assert line == (f"error: --out nodir/rules{suffix}: the folder nodir does not exist; create "
                    f"it first (mkdir -p nodir) or give a path in an existing folder")
    assert files(tmp_path) == set()


def test_query_out_below_a_file(tmp_path, store):
    (tmp_path / "taken").write_text("")
    line = one_error_line(run("query", str(store), "--out", "taken/rules.csv", cwd=tmp_path))
    assert "taken is a file, not a folder" in line
    assert files(tmp_path) == {"taken"}


def test_query_out_in_an_existing_folder(tmp_path, store):
    (tmp_path / "out").mkdir()
    done = run("query", str(store), "--out", "out/rules.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "out" / "rules.csv")) == 300


def test_fit_out_in_a_missing_folder_fails_before_training(tmp_path, store):
    line = one_error_line(run("fit", str(store), "--metrics", "rate", "--out",
                              "nodir/rate.fsbi-post", cwd=tmp_path))
    assert "the folder nodir does not exist" in line and files(tmp_path) == set()


# --- simulate --thetas, and failed rules ------------------------------------------------------
def save(path: Path, array: np.ndarray) -> Path:
    with open(path, "wb") as f:  # np.save(path) would append .npy to other names
        np.save(f, array)
    return path


@pytest.mark.parametrize("make, expected", [
    (lambda p: save(p, np.zeros(3, dtype=[("a", "f8"), ("b", "f8")])),
     "holds records with fields a, b"),
    (lambda p: write_release_file(p, "MLP", 300, rng=1),
     "holds records with fields seed, theta, rate, cv_isi, ... (a release file of records: "
     "take its theta field"),
    (lambda p: p.write_text("0.1,0.2,0.3\n"), "is not a .npy file (it lacks the NumPy header)"),
    (lambda p: p.write_bytes(LFS_POINTER), "is not a .npy file"),
    (lambda p: save(p, np.zeros(23)), "has shape (23,) (for a single rule, save theta[None, :], "
                                      "of shape (1, 23))"),
    (lambda p: save(p, np.zeros(46)), "has shape (46,);"),
    (lambda p: save(p, np.zeros((2, 25))), "has shape (2, 25);"),
    (lambda p: save(p, np.array([["a"] * 23])), "holds values of type <U1"),
    (lambda p: np.save(p, np.array([None] * 23, dtype=object), allow_pickle=True),
     "cannot be read"),
], ids=["structured", "release records", "csv", "lfs pointer", "one rule as 1-D", "1-D",
        "other family", "strings", "pickled objects"])
def test_simulate_thetas_that_are_not_rules(tmp_path, make, expected):
    make(tmp_path / "rules.npy")
    line = one_error_line(run("simulate", "MLP", "--thetas", "rules.npy", "--backend",
                              "brian2", "--protocol", "quick", "--store", "s.store",
                              cwd=tmp_path))
    assert line.startswith("error: --thetas rules.npy ") and expected in line
    assert "expected a .npy of MLP rules, one per row: numbers of shape (n_rules, 23)" in line
    assert files(tmp_path) == {"rules.npy"}


def test_simulate_exits_non_zero_and_lists_failed_rules(tmp_path):
    pytest.importorskip("distributed")
    thetas = np.full((2, 23), 0.1)
    thetas[:, 5] = [np.nan, np.inf]  # refused by the protocol's checks: no simulation runs
    save(tmp_path / "rules.npy", thetas)
    done = run("simulate", "MLP", "--thetas", "rules.npy", "--backend", "brian2",
               "--protocol", "quick", "--store", "s.store", cwd=tmp_path)
    assert "0 rule(s) simulated (0 blew up), 2 failed" in done.stdout
    line = one_error_line(done)
    assert line == ("error: 2 of 2 rule(s) failed and are not in s.store; their errors and "
                    "parameters are listed in s.store.failures.csv. Fix the cause and run the "
                    "same command again: rules already in the store are skipped")
    listing = pd.read_csv(tmp_path / "s.store.failures.csv")
    assert list(listing.columns[:3]) == ["seed", "error_type", "error"]
    assert listing["error_type"].tolist() == ["ProtocolError"] * 2
    assert listing["error"].str.contains("wpre_ee_3").all()
    assert files(tmp_path) == {"rules.npy", "s.store.failures.csv"}


# --- sample -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda p: save(p, np.zeros((3, 25))),
    lambda p: p.write_text("rate\n5.0\n"),
    lambda p: p.write_bytes(os.urandom(2048)),
], ids=["npy", "text", "random bytes"])
def test_sample_from_a_file_that_is_not_a_posterior(tmp_path, make):
    make(tmp_path / "post.fsbi-post")
    line = one_error_line(run("sample", "post.fsbi-post", "--condition", "rate=7.5", "--out",
                              "rules.npy", cwd=tmp_path))
    assert line.startswith("error: post.fsbi-post is not a fsbi-data posterior file")
    assert "`fsbi-data fit ... --out x.fsbi-post`" in line
    assert files(tmp_path) == {"post.fsbi-post"}


@pytest.mark.parametrize("condition", ["rate=abc", "rate", "rate=5:abc", "rate=5:"])
def test_sample_with_a_malformed_condition(tmp_path, condition):
    (tmp_path / "post.fsbi-post").write_text("not read: the condition is checked first")
    line = one_error_line(run("sample", "post.fsbi-post", "--condition", condition, "--out",
                              "rules.npy", cwd=tmp_path))
    assert line == (f"error: condition {condition!r}: expected METRIC=VALUE or METRIC=LOW:HIGH "
                    f"with numbers, e.g. rate=7.5 or rate=5:10")
    assert files(tmp_path) == {"post.fsbi-post"}


def test_sample_out_in_a_missing_folder(tmp_path):
    (tmp_path / "post.fsbi-post").write_text("")
    line = one_error_line(run("sample", "post.fsbi-post", "--condition", "rate=7.5", "--out",
                              "nodir/rules.npy", cwd=tmp_path))
    assert "the folder nodir does not exist" in line
    assert files(tmp_path) == {"post.fsbi-post"}
