"""Many rules through a backend with Dask, streamed into a store: :func:`simulate`.

Each rule runs as one Dask task, on any cluster given by its scheduler address or client, or
by default on a local cluster running ``workers`` rules at once. Backends that simulate in a
subprocess (Auryn, Brian2 standalone) run there on threads of one worker in this process: the
compiled programs run in parallel, nothing is imported again, and a plain script needs no
``if __name__ == "__main__":`` guard. A backend that simulates in Python (Brian2 runtime mode)
runs on single-threaded worker processes, which need that guard in a script
(:func:`fsbi_data.cluster.check_main_guard` says so at once). The worker runs the backend and
computes the metrics with :func:`fsbi_data.metrics.compute`, so only a small record returns
to the client. The client alone writes: finished rules are appended to the store in batches
(:func:`fsbi_data.store.append`, crash-safe), each batch with its provenance (backend,
protocol, versions, network seeds, time). A rule that fails is retried (``retries``) and then
reported, without stopping the sweep; rules already in the store are skipped.

Examples
--------
>>> from fsbi_data.simulation import simulate, sample_prior
>>> thetas = sample_prior("6pPol", 8, seed=1)
>>> run = simulate(thetas, "6pPol", backend="brian2", workers=2,
...                store="new-rules.store")                          # doctest: +SKIP
>>> run.rules.sizes["rule"], len(run.failures)                        # doctest: +SKIP
(8, 0)
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from fsbi_data.cluster import dask_client
from fsbi_data.errors import (
    BackendUnavailableError,
    FsbiDataError,
    ProtocolError,
    SimulationError,
)
from fsbi_data.schema import Family
from fsbi_data.seeds import check_network_seed, network_seed_of, rule_seeds
from fsbi_data.store.layout import ROUND_PREFIX, dataset_from_arrays

from .backends.base import Backend, get_backend
from .protocols import Protocol
from .protocols import protocol as protocol_preset

log = logging.getLogger(__name__)

#: Rules appended to the store per batch (one fragment each).
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class RuleFailure:
    """A rule that could not be simulated: its seed, theta and the error (after retries)."""

    seed: str
    theta: np.ndarray
    error: str
    error_type: str


@dataclass
class SimulationRun:
    """What :func:`simulate` did.

    Attributes
    ----------
    rules
        The newly simulated rules in the layout of :mod:`fsbi_data.store.layout` (blown-up rules
        included, with NaN metrics), in input order.
    failures
        Rules that failed after their retries (the sweep went on without them).
    skipped
        Seeds of input rules that were already in the store (not simulated again).
    blow_up_time, network_seeds
        Per new rule (aligned with ``rules.rule``): blow-up time in seconds (NaN when the run
        completed) and the network seed it ran with.
    provenance
        The provenance records of the appended batches.
    """

    rules: xr.Dataset
    failures: list[RuleFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    blow_up_time: np.ndarray = field(default_factory=lambda: np.empty(0))
    network_seeds: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    provenance: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many rules were simulated, blew up, failed, were skipped."""
        n = self.rules.sizes["rule"]
        blown = int(np.sum(np.isfinite(self.blow_up_time)))
        return (f"{n} rule(s) simulated ({blown} blew up), {len(self.failures)} failed, "
                f"{len(self.skipped)} already in the store")


def run_rule(backend: Backend, protocol: Protocol, theta: np.ndarray, network_seed: int,
             seed: str, timeout: float | None = None) -> dict[str, Any]:
    """Simulate one rule and compute its metrics (runs on a Dask worker)."""
    from fsbi_data.metrics import compute

    start = time.perf_counter()
    result = backend.run(theta, protocol, network_seed=network_seed, timeout=timeout)
    metrics = compute(result)
    return {"seed": seed, "metrics": {k: float(v) for k, v in metrics.items()},
            "blow_up_time": math.nan if result.blow_up_time is None else result.blow_up_time,
            "network_seed": network_seed, "wall_time": time.perf_counter() - start}


def simulate(thetas: np.ndarray | xr.Dataset | xr.DataArray,
             protocol: Protocol | str,
             backend: Backend | str | None = None, *,
             client: Any = None, scheduler: str | None = None, workers: int | None = None,
             store: str | os.PathLike | None = None,
             network_seed: int | Iterable[int] | None = None,
             retries: int = 1, timeout: float | None = None,
             batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False,
             round_name: str | None = None,
             provenance: dict[str, Any] | None = None) -> SimulationRun:
    """Simulate many rules, compute their metrics, and append them to a store.

    Parameters
    ----------
    thetas
        Rules as an array (n_rules, n_theta) in the family's theta layout, or a Dataset /
        DataArray with a ``theta(rule, param)`` variable (e.g. posterior samples or a query
        of a store) whose ``param`` names are the family's.
    protocol
        A :class:`~fsbi_data.simulation.protocols.Protocol`, or a family name for the
        paper's protocol of that family.
    backend
        ``"auryn"``, ``"brian2"``, a :class:`Backend`, or None for the best available.
    client, scheduler, workers
        Where to run: an existing ``distributed.Client``; else a scheduler address
        (``"tcp://host:8786"``); else a new local cluster that runs ``workers`` rules at once
        (default: the number of CPUs), closed afterwards: threads of one worker in this
        process when the backend simulates in a subprocess (:attr:`Backend.runs_in_subprocess`:
        Auryn, Brian2 standalone), else single-threaded worker processes, which a script
        must start under ``if __name__ == "__main__":``.
    store
        Path of a store of the protocol's family; created if absent. Rules already in it are
        skipped; new rules are appended in batches of ``batch_size``. None: nothing is
        written, the rules are only returned.
    network_seed
        None (default): each rule's network seed is derived from its rule seed
        (:func:`~fsbi_data.seeds.network_seed_of`), so a rule always gets the same
        network. An int: that seed for every rule (common random numbers). A sequence: one
        seed per rule. Seeds are recorded in the provenance and the result.
    retries
        How often a failing rule is tried again before it is reported as failed.
    timeout
        Wall-clock limit per rule in seconds (None: no limit).
    progress
        Show a progress bar (tqdm).
    round_name
        Label the appended rules as members of this round (``ds.fsbi.round(round_name)``);
        :func:`fsbi_data.rounds.run_round` uses it.
    provenance
        Recorded with every appended batch, beside what the runner records itself.

    Returns
    -------
    SimulationRun
        The new rules (layout Dataset), failures, skipped seeds, blow-up times, network seeds
        and the provenance of each appended batch.

    Raises
    ------
    fsbi_data.errors.ProtocolError
        For thetas of the wrong shape or parameter names, or network seeds out of range.
    fsbi_data.errors.BackendUnavailableError
        When the backend cannot run here (the message says how to install it).
    fsbi_data.cluster.MainGuardError
        When local worker processes are needed and this is called from a script's top level
        outside ``if __name__ == "__main__":``.
    """
    if isinstance(protocol, str):
        protocol = protocol_preset(protocol)
    fam = protocol.rule_family
    thetas = _as_theta_array(thetas, fam)
    seeds = rule_seeds(thetas, fam) if len(thetas) else np.empty(0, dtype=str)
    net_seeds = _network_seeds(network_seed, seeds)
    backend = get_backend(backend)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    # Rules that repeat within the input or are already stored are not simulated again.
    _, first = np.unique(seeds, return_index=True)
    todo = np.zeros(len(seeds), dtype=bool)
    todo[np.sort(first)] = True
    skipped: list[str] = []
    if store is not None and Path(store).exists():
        present = np.isin(seeds, _stored_seeds(Path(store), fam))
        skipped = [str(s) for s in seeds[present & todo]]
        todo &= ~present

    failures: list[RuleFailure] = []
    for i in np.flatnonzero(todo):  # invalid thetas fail now, without a task
        try:
            protocol.validate_theta(thetas[i])
        except ProtocolError as exc:
            failures.append(RuleFailure(str(seeds[i]), thetas[i], str(exc), "ProtocolError"))
            todo[i] = False

    index = np.flatnonzero(todo)
    records: dict[str, dict[str, Any]] = {}
    batches: list[dict[str, Any]] = []
    writer = _BatchWriter(store, fam, protocol, backend, batch_size, batches,
                          round_name, provenance or {})
    if index.size:
        if client is None and scheduler is None:  # a local cluster: check here, in this
            # thread (Brian2 must first be imported in a main thread, not a worker thread)
            backend.check_available()
        with dask_client(client, scheduler, workers,
                         processes=not backend.runs_in_subprocess) as client:
            _wait_for_a_worker(client)
            _check_workers(client, backend)
            futures = {}
            backend_future = client.scatter(backend, broadcast=True, hash=False)
            protocol_future = client.scatter(protocol, broadcast=True, hash=False)
            for i in index:
                future = client.submit(run_rule, backend_future, protocol_future, thetas[i],
                                       int(net_seeds[i]), str(seeds[i]), timeout,
                                       retries=retries, pure=False,
                                       key=f"fsbi-rule-{seeds[i]}-{time.time_ns()}")
                futures[future] = i
            _collect(futures, thetas, seeds, records, failures, writer, progress)
        writer.flush()

    done = [i for i in index if str(seeds[i]) in records]
    rules = _dataset(fam, [records[str(seeds[i])] for i in done], thetas[done])
    log.info("simulate: %d done, %d failed, %d skipped", len(done), len(failures),
             len(skipped))
    return SimulationRun(
        rules=rules, failures=failures, skipped=skipped,
        blow_up_time=np.array([records[str(seeds[i])]["blow_up_time"] for i in done],
                              dtype=np.float64),
        network_seeds=np.array([int(net_seeds[i]) for i in done], dtype=np.int64),
        provenance=batches,
    )


# --- helpers ----------------------------------------------------------------------------------
def _as_theta_array(thetas: Any, fam: Family) -> np.ndarray:
    if isinstance(thetas, xr.Dataset):
        if "theta" not in thetas:
            raise ProtocolError("the Dataset of rules has no 'theta' variable; expected "
                                "theta(rule, param) as made by fsbi_data.open or a posterior")
        thetas = thetas["theta"]
    if isinstance(thetas, xr.DataArray):
        if "param" in thetas.dims:
            names = tuple(str(p) for p in thetas["param"].values) if "param" in thetas.coords \
                else fam.param_names
            if names != fam.param_names:
                raise ProtocolError(
                    f"the rules' param names {names[:3]}... are not those of {fam.name} "
                    f"({fam.param_names[:3]}...); simulate them with their own family's "
                    f"protocol")
            thetas = thetas.transpose(..., "param")
        thetas = thetas.values
    values = np.asarray(thetas, dtype=np.float64)
    if values.ndim == 1 and values.size == fam.n_theta:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != fam.n_theta:
        raise ProtocolError(
            f"thetas for {fam.name} must have shape (n_rules, {fam.n_theta}); got "
            f"{values.shape}")
    return values


def _network_seeds(network_seed: Any, seeds: np.ndarray) -> np.ndarray:
    if network_seed is None:
        return np.array([network_seed_of(str(s)) for s in seeds], dtype=np.int64)
    if isinstance(network_seed, (int, np.integer)):
        return np.full(len(seeds), check_network_seed(network_seed), dtype=np.int64)
    values = [check_network_seed(int(s)) for s in network_seed]
    if len(values) != len(seeds):
        raise ProtocolError(f"{len(values)} network seeds for {len(seeds)} rules; give one "
                            f"per rule, a single int, or None")
    return np.array(values, dtype=np.int64)


def _stored_seeds(path: Path, fam: Family) -> np.ndarray:
    """The seeds in the store at ``path`` (as str), which must hold rules of ``fam``."""
    from fsbi_data import store as stores

    manifest = stores.read_manifest(path)
    if manifest["family"] != fam.name:
        raise ProtocolError(f"the store {path} holds {manifest['family']} rules, not "
                            f"{fam.name}; choose another --store")
    return stores.stored_seeds(path, manifest).astype(str)


def _wait_for_a_worker(client: Any) -> None:
    """Wait until a worker is connected (those of a batch system may still be queued);
    scattering the backend to no worker would fail after Dask's connect timeout."""
    if not client.scheduler_info()["workers"]:
        log.info("waiting for a Dask worker to connect to %s", client.scheduler.address)
        client.wait_for_workers(1)


def _check_workers(client: Any, backend: Backend) -> None:
    """Check the backend on every worker, in the worker's main thread.

    Tasks run in worker threads, but some simulators must first be imported in a main thread
    (Brian2 installs a signal handler at import); ``available()`` imports them there.
    """
    answers = client.run(backend.available)
    broken = sorted(worker for worker, ok in answers.items() if not ok)
    if broken:
        raise BackendUnavailableError(
            f"backend {backend.name!r} is unavailable on worker(s) {', '.join(broken)}: "
            f"{backend.why_unavailable()}")


def _collect(futures: dict, thetas: np.ndarray, seeds: np.ndarray,
             records: dict[str, dict[str, Any]], failures: list[RuleFailure],
             writer: _BatchWriter, progress: bool) -> None:
    from distributed import as_completed

    if progress:
        from tqdm.auto import tqdm
    else:  # tqdm.auto warns at import in a notebook without ipywidgets, bar or not
        from tqdm import tqdm

    with tqdm(total=len(futures), disable=not progress, unit="rule",
              desc="simulating") as bar:
        for future in as_completed(futures):
            i = futures[future]
            if future.status == "finished":
                record = future.result()
                records[record["seed"]] = record
                writer.add(record, thetas[i])
            else:
                error = future.exception() if future.status == "error" else None
                if error is None:  # cancelled or lost: report the state
                    error = SimulationError(f"the task ended in state {future.status!r}")
                failures.append(RuleFailure(str(seeds[i]), thetas[i], str(error),
                                            type(error).__name__))
                log.warning("rule %s failed: %s", seeds[i], error)
            future.release()
            bar.update()


def _dataset(fam: Family, records: list[dict[str, Any]], thetas: np.ndarray) -> xr.Dataset:
    metrics = {m: np.array([r["metrics"].get(m, math.nan) for r in records], dtype=np.float64)
               for m in fam.metric_names}
    seeds = np.array([r["seed"] for r in records], dtype=object)
    return dataset_from_arrays(seeds, thetas.reshape(len(records), fam.n_theta), metrics, fam)


def _versions(backend: Backend) -> dict[str, str]:
    from fsbi_data import __version__

    versions = {"fsbi_data": __version__, "numpy": np.__version__,
                "python": platform.python_version()}
    try:
        versions["backend"] = str(getattr(backend, "version", "") or backend.name)
    except FsbiDataError as exc:
        versions["backend"] = f"{backend.name} (version unknown: {exc})"
    return versions


class _BatchWriter:
    """The single writer: appends finished rules to the store in batches."""

    def __init__(self, store: str | os.PathLike | None, fam: Family, protocol: Protocol,
                 backend: Backend, batch_size: int, provenance: list[dict[str, Any]],
                 round_name: str | None = None, extra: dict[str, Any] | None = None):
        self.store = None if store is None else Path(store)
        self.fam, self.protocol, self.backend = fam, protocol, backend
        self.batch_size = batch_size
        self.provenance = provenance
        self.round_name, self.extra = round_name, extra or {}
        self.pending: list[tuple[dict[str, Any], np.ndarray]] = []

    def add(self, record: dict[str, Any], theta: np.ndarray) -> None:
        self.pending.append((record, theta))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending or self.store is None:
            self.pending.clear()
            return
        from fsbi_data import store as stores

        records = [r for r, _ in self.pending]
        batch = _dataset(self.fam, records, np.array([t for _, t in self.pending]))
        if self.round_name is not None:
            batch[f"{ROUND_PREFIX}{self.round_name}"] = ("rule", np.ones(len(records), bool))
        params = self.protocol.to_dict()
        params.pop("rule_cst_part")
        provenance = {
            "source": "simulation",
            "backend": self.backend.name,
            "protocol": f"{self.protocol.family}/{self.protocol.name}",
            "protocol_key": self.protocol.cache_key(),
            "protocol_params": params,
            "versions": _versions(self.backend),
            "network_seeds": {r["seed"]: int(r["network_seed"]) for r in records},
            "blow_up_times": {r["seed"]: r["blow_up_time"] for r in records
                              if np.isfinite(r["blow_up_time"])},
            "simulated_at": datetime.datetime.now(datetime.UTC).isoformat(),
            **self.extra,
        }
        if not stores.is_store(self.store):
            if self.store.exists():
                raise SimulationError(f"{self.store} exists but is not a store; choose "
                                      f"another --store path")
            stores.create(self.store, self.fam)
        stores.append(self.store, batch, provenance=provenance)
        self.provenance.append(provenance)
        self.pending.clear()
