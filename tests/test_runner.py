"""The Dask runner: real LocalCluster, real Brian2 runs (quick protocol), real stores."""

from __future__ import annotations

import os
import socket
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("distributed")
pytest.importorskip("brian2")

import dask  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

import fsbi_data.metrics as fsbi_metrics  # noqa: E402
from fsbi_data.errors import ProtocolError, SimulationError  # noqa: E402
from fsbi_data.seeds import network_seed_of, rule_seeds  # noqa: E402
from fsbi_data.simulation.backends.base import Backend, get_backend  # noqa: E402
from fsbi_data.simulation.prior import sample_prior  # noqa: E402
from fsbi_data.simulation.protocols import protocol  # noqa: E402
from fsbi_data.simulation.runner import simulate  # noqa: E402
from fsbi_data.store import open_path  # noqa: E402
from fsbi_data.store.layout import provenance  # noqa: E402

QUICK = protocol("6pPol", "quick")
# No dashboard, and the scheduler's HTTP routes on a free port (8787 may be taken).
QUIET_HTTP = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
# Three prior rules; with this draw the second blows up under the quick protocol.
THETAS = sample_prior("6pPol", 3, seed=0)

needs_metrics = pytest.mark.skipif(
    not hasattr(fsbi_metrics, "compute"),
    reason="fsbi_data.metrics.compute (the metric computations) is not available")



@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      **QUIET_HTTP) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def thread_client():
    """One worker thread in this process, for backends defined in this test module."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      **QUIET_HTTP) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def sweep(client, tmp_path_factory):
    path = tmp_path_factory.mktemp("runner") / "rules.store"
    run = simulate(THETAS, QUICK, "brian2", client=client, store=path, batch_size=2)
    return path, run


@needs_metrics
def test_sweep_returns_and_stores_every_rule(sweep):
    path, run = sweep
    seeds = rule_seeds(THETAS, "6pPol")
    assert run.failures == [] and run.skipped == []
    assert sorted(run.rules["seed"].values.tolist()) == sorted(seeds.tolist())
    ds = open_path(path)
    assert sorted(ds["seed"].values.astype(str).tolist()) == sorted(seeds.tolist())
    stored = ds.sel(rule=ds["seed"] == seeds[0])
    np.testing.assert_array_equal(stored["theta"].values[0], THETAS[0])


@needs_metrics
def test_blown_up_rule_has_nan_metrics_and_its_time(sweep):
    _, run = sweep
    blown = np.isfinite(run.blow_up_time)
    assert blown.sum() == 1
    assert 0 < run.blow_up_time[blown][0] < QUICK.lns + QUICK.ls
    rule = run.rules.isel(rule=np.flatnonzero(blown)[0])
    assert all(np.isnan(rule[m].item()) for m in QUICK.rule_family.metric_names)
    completed = run.rules.isel(rule=np.flatnonzero(~blown))
    assert np.all(completed["rate"].values > 0)


@needs_metrics
def test_batches_carry_provenance_with_network_seeds(sweep):
    path, run = sweep
    assert len(run.provenance) == 2  # 3 rules in batches of 2
    recorded = {}
    for record in run.provenance:
        assert record["backend"] == "brian2"
        assert record["protocol"] == "6pPol/quick"
        assert record["versions"]["fsbi_data"]
        recorded.update(record["network_seeds"])
    assert recorded == {s: network_seed_of(s) for s in rule_seeds(THETAS, "6pPol")}
    assert run.network_seeds.tolist() == [recorded[s] for s in run.rules["seed"].values]
    batches = [p for p in provenance(open_path(path)) if p.get("source") == "simulation"]
    assert len(batches) == 2


@needs_metrics
def test_rules_already_stored_are_skipped(sweep, client):
    path, _ = sweep
    before = open_path(path).sizes["rule"]
    run = simulate(THETAS, QUICK, "brian2", client=client, store=path)
    assert sorted(run.skipped) == sorted(rule_seeds(THETAS, "6pPol").tolist())
    assert run.rules.sizes["rule"] == 0
    assert open_path(path).sizes["rule"] == before


@needs_metrics
def test_dataset_input_and_one_network_seed(client):
    fam = QUICK.rule_family
    ds = xr.Dataset({"theta": (("sample", "param"), THETAS[[0, 2]])},
                    coords={"param": list(fam.param_names)})
    run = simulate(ds, QUICK, "brian2", client=client, network_seed=42)
    assert run.network_seeds.tolist() == [42, 42]
    assert run.rules.sizes["rule"] == 2


@needs_metrics
def test_invalid_rules_fail_alone(client):
    thetas = THETAS[[0, 0, 2]].copy()
    thetas[1, 3] = np.nan  # an invalid rule between two valid ones
    run = simulate(thetas, QUICK, "brian2", client=client)
    assert run.rules.sizes["rule"] == 2
    assert len(run.failures) == 1 and run.failures[0].error_type == "ProtocolError"
    assert "finite" in run.failures[0].error


def test_bad_shapes_and_names_are_rejected():
    with pytest.raises(ProtocolError, match=r"\(n_rules, 25\)"):
        simulate(np.zeros((2, 23)), QUICK, "brian2")
    wrong = xr.Dataset({"theta": (("rule", "param"), np.zeros((1, 25)))},
                       coords={"param": [f"p{i}" for i in range(25)]})
    with pytest.raises(ProtocolError, match="param names"):
        simulate(wrong, QUICK, "brian2")
    with pytest.raises(ProtocolError, match="network seeds for"):
        simulate(THETAS, QUICK, "brian2", network_seed=[1, 2])


@dataclass
class FlakyBackend(Backend):
    """Brian2, but the first attempt of every rule fails, and one rule always fails.

    Attempts are counted in files, so the count survives however Dask ships the backend.
    """

    counter_dir: str = ""
    always_failing: float = -1.0
    name: str = "brian2"

    def available(self) -> bool:
        return True

    def why_unavailable(self) -> str:
        return ""

    def attempts(self, theta0: float) -> int:
        path = Path(self.counter_dir) / f"{theta0!r}"
        return len(path.read_text()) if path.exists() else 0

    def run(self, theta, protocol, *, network_seed, workdir=None, timeout=None):
        key = float(theta[0])
        with open(Path(self.counter_dir) / f"{key!r}", "a") as handle:
            handle.write("x")
        if key == self.always_failing:
            raise SimulationError("this rule always fails")
        if self.attempts(key) == 1:
            raise SimulationError("transient failure")
        return get_backend("brian2").run(theta, protocol, network_seed=network_seed)


@needs_metrics
def test_transient_failures_are_retried_and_permanent_ones_reported(thread_client, tmp_path):
    backend = FlakyBackend(str(tmp_path), always_failing=float(THETAS[2, 0]))
    run = simulate(THETAS[[0, 2]], QUICK, backend, client=thread_client, retries=1)
    assert run.rules["seed"].values.tolist() == rule_seeds(THETAS[[0]], "6pPol").tolist()
    assert [f.seed for f in run.failures] == rule_seeds(THETAS[[2]], "6pPol").tolist()
    assert "always fails" in run.failures[0].error
    assert backend.attempts(float(THETAS[0, 0])) == 2
    assert backend.attempts(float(THETAS[2, 0])) == 2


@dataclass
class PidBackend(Backend):
    """Brian2, recording the process each rule ran in (in a file, however Dask ships it)."""

    record_dir: str = ""
    name: str = "brian2"

    def available(self) -> bool:
        return True

    def why_unavailable(self) -> str:
        return ""

    def run(self, theta, protocol, *, network_seed, workdir=None, timeout=None):
        (Path(self.record_dir) / f"pid-{os.getpid()}").touch()
        return get_backend("brian2").run(theta, protocol, network_seed=network_seed)


@needs_metrics
def test_the_local_cluster_runs_subprocess_backends_in_this_process(tmp_path):
    backend = PidBackend(str(tmp_path))
    assert backend.runs_in_subprocess
    run = simulate(THETAS[[0, 2]], QUICK, backend, workers=2)
    assert run.rules.sizes["rule"] == 2 and run.failures == []
    # threads of one worker in this process: nothing imports the caller's script again
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"pid-{os.getpid()}"]


def test_brian2_runs_in_a_subprocess_only_in_standalone_mode():
    from fsbi_data.simulation.backends.brian2 import Brian2Backend

    assert Brian2Backend("standalone").runs_in_subprocess
    assert not Brian2Backend("runtime").runs_in_subprocess


@needs_metrics
def test_a_sweep_waits_for_its_first_worker():
    # Workers of a batch system may connect long after the client: scattering the backend
    # to no worker would fail after the connect timeout (here 2 s; the first worker comes
    # after 4 s).
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            LocalCluster(n_workers=0, threads_per_worker=1, processes=False,
                         **QUIET_HTTP) as cluster, Client(cluster) as client:
        timer = threading.Timer(4, cluster.scale, args=(1,))
        timer.start()
        try:
            run = simulate(THETAS[[0]], QUICK, "brian2", client=client)
        finally:
            timer.cancel()
    assert run.rules.sizes["rule"] == 1 and run.failures == []


@needs_metrics
def test_a_busy_dashboard_port_is_no_warning():
    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:
        pass  # held by another process: the same situation
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = simulate(THETAS[[0]], QUICK, "brian2", workers=1)
    finally:
        holder.close()
    assert run.rules.sizes["rule"] == 1
    assert [str(w.message) for w in caught if "8787" in str(w.message)] == []
