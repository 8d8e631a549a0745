"""Rounds of the method end to end: real stores, real sbi fits, real Brian2 runs (quick
protocol), the CLI in subprocesses, killed at random instants of each phase and resumed."""

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fsbi_data
from fsbi_data.converters import convert
from fsbi_data.schema import family
from fsbi_data.store import read_manifest
from fsbi_data.synthetic import release_records, write_release_file

pytest.importorskip("sbi")
pytest.importorskip("brian2")
pytest.importorskip("distributed")

TESTS = Path(__file__).resolve().parent
POSTERIOR_ROUND = ["--name", "r5to10", "--metrics", "rate", "--condition", "rate=5:10",
                   "--criteria", "tutorial training", "--n", "3", "--ensemble", "1",
                   "--max-epochs", "3", "--seed", "0", "--backend", "brian2",
                   "--protocol", "quick", "--workers", "1"]

# Run the CLI in a process that SIGKILLs itself at a random instant of one phase of the round:
# KILL = "phase:call:events" dies at the `events`-th profiler event of the `call`-th call of
# the phase's function (training, saving the posterior, keeping the drawn rules, an append).
DRIVER = """
import os, sys
sys.path.insert(0, {tests!r})
from conftest import die_at_profiler_event
import fsbi_data.inference, fsbi_data.rounds, fsbi_data.store, fsbi_data.simulation.runner
phase, call, events = os.environ.get("KILL", "none:0:0").split(":")
targets = {{"fit": (fsbi_data.inference, "fit"),
           "save": (fsbi_data.inference.RulePosterior, "save"),
           "keep": (fsbi_data.rounds, "_write_plan"),
           "append": (fsbi_data.store, "append")}}
fsbi_data.simulation.runner.simulate.__kwdefaults__["batch_size"] = 1
if phase in targets:
    owner, name = targets[phase]
    original = getattr(owner, name)
    calls = 0
    def dying(*args, **kwargs):
        global calls
        calls += 1
        if calls != int(call):
            return original(*args, **kwargs)
        stop = die_at_profiler_event(int(events))
        try:
            return original(*args, **kwargs)
        finally:
            stop()
    setattr(owner, name, dying)
from fsbi_data.cli.main import main
sys.argv = ["fsbi-data"] + sys.argv[1:]
main()
"""


def run_cli(args, kill=None, cwd=None, timeout=600):
    """The CLI in its own process group (Dask workers included); the group is killed after."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KILL": kill or "none:0:0"}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER.format(tests=str(TESTS)), *map(str, args)], cwd=cwd,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.returncode, out, err


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A 6pPol store of synthetic release rules (plenty meet the tutorial's training set)."""
    folder = tmp_path_factory.mktemp("round-template")
    return convert(write_release_file(folder / "all.npy", "6pPol", 2000, rng=0),
                   folder / "template.store")


@pytest.fixture
def store(template, tmp_path):
    return Path(shutil.copytree(template, tmp_path / "my.store"))


def round_rules(store, name):
    ds = fsbi_data.open(store)
    seeds = np.asarray(ds["seed"].values).astype(str)
    assert len(np.unique(seeds)) == len(seeds), "a rule is stored twice"
    return ds.fsbi.round(name)


def test_a_round_appends_n_labelled_rules_with_provenance(store):
    code, out, err = run_cli(["round", store, *POSTERIOR_ROUND])
    assert code == 0, err
    assert "round r5to10 complete: 3 of 3 rules" in out
    rules = round_rules(store, "r5to10")
    assert rules.sizes["rule"] == 3
    drawn = np.load(store / "rounds" / "r5to10" / "rules.npy")
    np.testing.assert_array_equal(np.sort(rules["theta"].values, axis=0), np.sort(drawn, axis=0))
    batches = [b for b in fsbi_data.store.layout.provenance(fsbi_data.open(store))
               if isinstance(b.get("round"), dict)]
    assert sum(b["rows"] for b in batches) == 3
    made = batches[0]["round"]
    assert made["name"] == "r5to10" and made["plan"]["conditions"] == {"rate": [5.0, 10.0]}
    assert made["training"]["criteria"] == "tutorial training"
    assert made["training"]["rules_used"] > 50
    posterior = store / made["posterior"]["file"]
    assert fsbi_data.files.sha256_of(posterior) == made["posterior"]["sha256"]
    assert made["store_state"] != read_manifest(store)["checksum"]  # the store has grown since
    ds = fsbi_data.open(store)
    assert "r5to10" in set(ds.fsbi.fractions()["round"])
    assert fsbi_data.store.layout.round_names(ds)[-1] == "r5to10"
    _, table = fsbi_data.figures.accumulation(ds)
    assert list(table["round"].unique())[-1] == "r5to10"
    code, out, err = run_cli(["info", store])
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("r5to10"))
    assert row.split()[1] == "3" and "posterior at rate=5:10" in row


def test_a_finished_round_run_again_changes_nothing_and_a_conflict_is_refused(store):
    assert run_cli(["round", store, "--name", "r0", "--from-prior", "--n", "2", "--seed", "3",
                    "--backend", "brian2", "--protocol", "quick", "--workers", "1"])[0] == 0
    manifest = (store / "fsbi-store.json").read_bytes()
    code, out, err = run_cli(["round", store, "--name", "r0", "--from-prior", "--n", "2",
                              "--seed", "3", "--backend", "brian2", "--protocol", "quick"])
    assert code == 0 and "already complete" in out, err
    assert (store / "fsbi-store.json").read_bytes() == manifest
    code, out, err = run_cli(["round", store, "--name", "r0", "--from-prior", "--n", "5",
                              "--seed", "3", "--backend", "brian2", "--protocol", "quick"])
    assert code == 1
    assert "another plan" in err and "n: 2 -> 5" in err and len(err.strip().splitlines()) == 1
    assert (store / "fsbi-store.json").read_bytes() == manifest
    assert round_rules(store, "r0").sizes["rule"] == 2


@pytest.mark.parametrize("phase,call,most_events", [
    ("fit", 1, 400_000),     # training
    ("save", 1, 3_000),      # writing the posterior into the store
    ("keep", 2, 2_000),      # keeping the drawn rules (the plan's second write)
    ("append", 1, 30_000),   # the first batch of simulated rules
    ("append", 2, 30_000),   # a later batch, the simulation under way
])
def test_killed_at_a_random_instant_the_same_command_ends_with_exactly_n_rules(
        store, phase, call, most_events):
    events = random.Random().randint(1, most_events)
    kill = f"{phase}:{call}:{events}"
    code, _, err = run_cli(["round", store, *POSTERIOR_ROUND], kill=kill)
    assert code in (0, -signal.SIGKILL), f"{kill}: {err}"
    code, out, err = run_cli(["round", store, *POSTERIOR_ROUND])
    assert code == 0, f"{kill}: {err}"
    assert "3 of 3 rules" in out, f"{kill}: {out}"
    assert round_rules(store, "r5to10").sizes["rule"] == 3, kill
    assert fsbi_data.verify(store).ok, kill


def test_restrict_keeps_draws_out_of_a_region_that_blows_up(tmp_path):
    fam = family("6pPol")
    records = release_records("6pPol", 3000, rng=1, nan_fraction=0)
    middle = (fam.low[0] + fam.high[0]) / 2
    blows_up = records["theta"][:, 0] > middle
    for name in fam.metric_names:
        records[name][blows_up] = np.nan
    store = convert(save(tmp_path / "all.npy", records), tmp_path / "x.store")
    out = tmp_path / "rules.npy"
    code, _, err = run_cli(["round", store, "--name", "r0", "--from-prior", "--restrict",
                            "--n", "400", "--seed", "0", "--max-epochs", "60", "--dry-run",
                            "--out", out])
    assert code == 0, err
    theta = np.load(out)
    assert theta.shape == (400, fam.n_theta)
    assert ((theta >= fam.low) & (theta <= fam.high)).all()
    assert (theta[:, 0] > middle).mean() < 0.25  # half the prior blows up
    assert not (store / "rounds").exists()  # a dry run leaves the store alone


def save(path, records):
    np.save(path, records)
    return path


@pytest.mark.parametrize("args,expected", [
    (["--metrics", "nope", "--condition", "nope=1"], "metric 'nope': not a metric"),
    (["--metrics", "rate", "--condition", "rate=5:10", "--criteria", "nope"], "nope"),
    (["--metrics", "rate", "--condition", "cv_isi=1"], "not among the metrics: ['cv_isi']"),
    (["--metrics", "rate", "--condition", "nope=1"], "condition 'nope': not a metric"),
    (["--metrics", "rate", "--condition", "rate=1e6"], "outside what the posterior"),
    (["--metrics", "rate", "--condition", "rate=5:10", "--n", "0"], "at least one rule"),
])
def test_bad_inputs_are_one_line_errors_and_write_nothing(store, args, expected):
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    manifest = (store / "fsbi-store.json").read_bytes()
    n = [] if "--n" in args else ["--n", "3"]
    code, _, err = run_cli(["round", store, "--name", "bad", *n, "--backend", "brian2",
                            "--protocol", "quick", *args])
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before
    assert (store / "fsbi-store.json").read_bytes() == manifest


def test_a_metric_of_the_other_family_is_named_as_such(tmp_path):
    store = convert(write_release_file(tmp_path / "mlp.npy", "MLP", 300, rng=2),
                    tmp_path / "mlp.store")
    code, _, err = run_cli(["round", store, "--name", "r1", "--n", "3", "--metrics", "weif",
                            "--condition", "weif=0.5", "--backend", "brian2"])
    assert code == 1
    assert "not a metric of the store's family MLP (weif is a metric of 6pPol)" in err
    assert not (store / "rounds").exists()
