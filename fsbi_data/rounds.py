"""Rounds of the paper's method as one resumable call: select, fit, draw, simulate, append.

A round (``docs/rounds.md``) takes the training rules of a store (a named criteria set, explicit
bounds, or both), fits a posterior ensemble on the chosen metrics, draws ``n`` rules for the
conditions (or draws them from the prior: round 0), simulates them and appends them to the
store as a new round, like the released π0…π3: ``ds.fsbi.round(name)`` selects them and the
round-aware figures show them after the rounds made before.

The round keeps its posterior and its drawn rules inside the store (``rounds/<name>/``) before
the first simulation. Interrupted at any moment, the same call continues: no re-training, no
re-drawing, rules already appended are skipped; a finished round run again does nothing. A
different plan under an existing round name is refused. Every appended batch records how the
round was made (the posterior's file and sha256, its settings and versions, the conditions, the
training selection and the state of the store it was trained on).

Examples
--------
>>> from fsbi_data import rounds
>>> report = rounds.run_round("my.store", "r5to10", metrics=["rate"],
...                           conditions={"rate": (5, 10)}, criteria="tutorial training",
...                           n=1000, backend="brian2")              # doctest: +SKIP
>>> report.summary()                                                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import FsbiDataError, QueryError, UnknownNameError
from .files import published, sha256_of
from .schema import Family, family
from .seeds import rule_seeds
from .store import read_manifest
from .store.layout import ROUND_PREFIX
from .store.manifest import writable
from .store.reading import open_path, stored_seeds

logger = logging.getLogger(__name__)

ROUNDS = "rounds"
"""The folder of a store that keeps each round's plan, posterior and drawn rules."""
PLAN = "round.json"
POSTERIOR = "posterior.fsbi-post"
RULES = "rules.npy"
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


class RoundError(FsbiDataError):
    """A round cannot run as asked."""


class RoundConflictError(RoundError):
    """A round of that name exists in the store and was made another way."""


@dataclass
class RoundPlan:
    """What makes a round what it is; the same name with another plan is refused."""

    name: str
    family: str
    n: int
    from_prior: bool
    metrics: list[str]
    conditions: dict[str, Any]
    criteria: str | None
    where: dict[str, list[float | None]]
    restrict: bool
    restrict_metrics: list[str] | None
    fit: dict[str, Any]
    protocol: str
    backend: str
    seed: int | None

    def differences(self, other: dict[str, Any]) -> list[str]:
        """``key: kept -> asked`` for every entry that differs from a kept plan."""
        mine = asdict(self)
        return [f"{key}: {other.get(key)!r} -> {mine[key]!r}" for key in mine
                if _canonical(other.get(key)) != _canonical(mine[key])]


@dataclass
class RoundReport:
    """What :func:`run_round` did.

    ``state`` is ``"complete"``, ``"incomplete"`` (rules failed; run the same call again),
    ``"already complete"`` (nothing to do) or ``"dry run"``.
    """

    name: str
    store: Path
    state: str
    n: int
    in_store: int = 0
    appended: int = 0
    blown_up: int = 0
    failures: list[str] = field(default_factory=list)
    out: Path | None = None
    record: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for people."""
        if self.state == "dry run":
            return f"round {self.name}: drew {self.n} rules into {self.out} (dry run)"
        text = (f"round {self.name} {self.state}: {self.in_store} of {self.n} rules in "
                f"{self.store}")
        if self.state != "already complete":
            text += f" ({self.appended} appended now, {self.blown_up} blew up"
            text += f", {len(self.failures)} failed)" if self.failures else ")"
        return text


def run_round(store: str | os.PathLike, name: str, *, n: int,
              metrics: Sequence[str] = ("rate",),
              conditions: dict[str, Any] | None = None, criteria: str | None = None,
              where: dict[str, Any] | None = None, from_prior: bool = False,
              restrict: bool = False, restrict_metrics: Sequence[str] | None = None,
              protocol: Any = None, backend: Any = None, seed: int | None = None,
              n_ensemble: int | None = None, max_epochs: int | None = None,
              fit_options: dict[str, Any] | None = None,
              client: Any = None, scheduler: str | None = None, workers: int | None = None,
              retries: int = 1, timeout: float | None = None, batch_size: int | None = None,
              dry_run: bool = False, out: str | os.PathLike | None = None,
              progress: bool = False) -> RoundReport:
    """Run (or continue) one round of the paper's method on a store.

    Parameters
    ----------
    store
        Path of a store; the round's rules are appended to it.
    name
        The round's name (letters, digits, ``_``; starting with a letter): the rules get the
        flag ``in_<name>`` and ``ds.fsbi.round(name)`` selects them.
    n
        Rules to draw and simulate.
    metrics, conditions
        The metrics the posterior is conditioned on, and a value or a ``(low, high)`` range for
        each (as :meth:`~fsbi_data.inference.RulePosterior.sample` takes them).
    criteria, where
        The training rules: a named criteria set (``fsbi_data.family(...).criteria_names``),
        inclusive ``{name: (low, high)}`` bounds on metrics or parameters, or both. Rules with a
        non-finite chosen metric are excluded and counted.
    from_prior
        Draw from the family's prior box (round 0) instead of a posterior.
    restrict, restrict_metrics
        First train sbi's restriction classifier (:mod:`fsbi_data.restriction`) on the store's
        rules and reject the draws it calls invalid (blow-ups); valid means all
        ``restrict_metrics`` finite (default: every metric of the family).
    protocol, backend
        A :class:`~fsbi_data.simulation.protocols.Protocol` or the name of a preset of the
        store's family (default ``"paper"``; ``"quick"`` for tests and demos), and the backend
        as :func:`fsbi_data.simulation.simulate` takes it (default: the best available).
    seed
        Makes the fit, the draws and the restriction reproducible.
    n_ensemble, max_epochs, fit_options
        As :func:`fsbi_data.inference.fit` takes them.
    client, scheduler, workers, retries, timeout, batch_size
        Where and how to simulate, as :func:`~fsbi_data.simulation.simulate` takes them.
    dry_run, out
        Draw the rules and write theta, shape (n, n_theta), to the ``.npy`` file ``out``,
        without simulating or writing anything to the store.
    progress
        Progress bars for the fit and the simulations.

    Returns
    -------
    RoundReport

    Raises
    ------
    RoundConflictError
        When the store holds a round of that name made with another plan (both are shown).
    fsbi_data.errors.UnknownNameError, fsbi_data.errors.QueryError, RoundError
        For unknown metrics, criteria or conditions, conditions outside the training rules,
        ``n < 1``, or a store that is not one. Nothing is written then.
    """
    from .inference import FitSettings
    from .simulation.backends.base import get_backend
    from .simulation.protocols import Protocol
    from .simulation.protocols import protocol as protocol_preset

    path = Path(store)
    fam = family(read_manifest(path)["family"])
    if not isinstance(protocol, Protocol):
        protocol = protocol_preset(fam.name, protocol or "paper")
    if protocol.rule_family.name != fam.name:
        raise RoundError(f"the protocol {protocol.family}/{protocol.name} simulates "
                         f"{protocol.rule_family.name} rules but the store {path} holds "
                         f"{fam.name} rules; choose a {fam.name} protocol")
    fit = {"n_ensemble": n_ensemble or FitSettings.n_ensemble, "max_epochs": max_epochs,
           **(fit_options or {})}
    plan = _checked_plan(fam, RoundPlan(
        name=name, family=fam.name, n=n, from_prior=from_prior,
        metrics=[] if from_prior else list(metrics),
        conditions={} if from_prior else dict(conditions or {}),
        criteria=None if from_prior else criteria,
        where={} if from_prior else {k: list(v) for k, v in (where or {}).items()},
        restrict=restrict, restrict_metrics=list(restrict_metrics) if restrict_metrics else None,
        fit={} if from_prior else fit, protocol=f"{protocol.family}/{protocol.name}",
        backend=get_backend(backend).name if not dry_run else str(backend or "any"),
        seed=seed))
    if dry_run:
        if out is None:
            raise RoundError("a dry run writes the drawn rules to a .npy file: give out=")
        ds, training, record = _prepare(path, plan)
        theta = _draw(ds, training, record, plan, progress, None)
        with published(Path(out)) as tmp, open(tmp, "wb") as f:
            np.save(f, theta)
        return RoundReport(name, path, "dry run", n, out=Path(out), record=record)

    folder = path / ROUNDS / name
    with _round_lock(path):
        kept = _read_plan(folder)
        if kept is not None:
            differences = plan.differences(kept["plan"])
            if differences:
                raise RoundConflictError(
                    f"the store {path} already holds a round {name!r} made with another plan "
                    f"({'; '.join(differences)}); run it with its own plan, or choose another "
                    f"name")
            if kept["state"] == "complete":
                return RoundReport(name, path, "already complete", n,
                                   in_store=kept["in_store"], record=kept["record"])
        elif f"{ROUND_PREFIX}{name}" in open_path(path).data_vars:
            raise RoundConflictError(f"the store {path} already holds a round {name!r} that "
                                     f"was not made by run_round (e.g. a released round); "
                                     f"choose another name")
        theta, record = _kept_draws(folder, plan, kept)
        if theta is None:
            ds, training, record = _prepare(path, plan)
            new_round = kept is None
            if new_round:
                _write_plan(folder, plan, "started", record)
            try:
                theta = _draw(ds, training, record, plan, progress, folder)
            except Exception:
                if new_round:  # a round refused at its first draw leaves nothing behind
                    shutil.rmtree(folder, ignore_errors=True)
                    with contextlib.suppress(OSError):
                        folder.parent.rmdir()  # the rounds folder, if it holds no other
                raise
            with published(folder / RULES) as tmp, open(tmp, "wb") as f:
                np.save(f, theta)
            _write_plan(folder, plan, "drawn", record)
        return _simulate(path, folder, plan, record, theta, protocol, backend,
                         {"client": client, "scheduler": scheduler, "workers": workers,
                          "retries": retries, "timeout": timeout, "progress": progress,
                          **({"batch_size": batch_size} if batch_size else {})})


# --- the plan ---------------------------------------------------------------------------------

def _checked_plan(fam: Family, plan: RoundPlan) -> RoundPlan:
    """The plan, with every name and number checked against the family (nothing written)."""
    from .inference import _condition_value

    if not NAME_PATTERN.fullmatch(plan.name):
        raise RoundError(f"round name {plan.name!r}: use letters, digits and _ , starting with "
                         f"a letter (at most 64), e.g. r5to10")
    if not isinstance(plan.n, (int, np.integer)) or plan.n < 1:
        raise RoundError(f"n = {plan.n!r}: a round draws at least one rule; give n >= 1")
    for what, names in (("metric", plan.metrics), ("metric", plan.restrict_metrics or [])):
        for metric in names:
            _known_metric(fam, metric, what)
    if plan.criteria is not None:
        fam.criteria(plan.criteria)  # UnknownNameError names the known sets
    for key in plan.where:
        if key not in fam.metric_names and key not in fam.param_names:
            raise UnknownNameError(f"--where {key}: not a metric or parameter of {fam.name} "
                                   f"(metrics: {', '.join(fam.metric_names)})")
    if not plan.from_prior:
        if not plan.metrics:
            raise RoundError("a posterior round conditions on at least one metric; give "
                             "metrics, or draw from the prior (from_prior)")
        missing = [m for m in plan.metrics if m not in plan.conditions]
        extra = [m for m in plan.conditions if m not in plan.metrics]
        if extra:
            _known_metric(fam, extra[0], "condition")
        if missing or extra:
            raise QueryError(f"the round conditions on {plan.metrics}: give one condition per "
                             f"metric (missing: {missing or 'none'}, not among the metrics: "
                             f"{extra or 'none'}), e.g. rate=5:10")
        plan.conditions = {k: _plain(_condition_value(k, v)) for k, v in plan.conditions.items()}
    return plan


def _known_metric(fam: Family, metric: str, what: str) -> None:
    if metric in fam.metric_names:
        return
    other = [f.name for f in _families() if f.name != fam.name and metric in f.metric_names]
    hint = f" ({metric} is a metric of {other[0]})" if other else ""
    raise UnknownNameError(f"{what} {metric!r}: not a metric of the store's family {fam.name}"
                           f"{hint}; its metrics are {', '.join(fam.metric_names)}")


def _families() -> list[Family]:
    from .schema import FAMILIES

    return [family(name) for name in FAMILIES]


def _plain(value: Any) -> Any:
    return [float(v) for v in value] if isinstance(value, tuple) else float(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- drawing ----------------------------------------------------------------------------------

def _training(ds: xr.Dataset, plan: RoundPlan) -> tuple[xr.Dataset, dict[str, Any]]:
    """The training rules of a posterior round and how they were chosen."""
    mask = np.ones(ds.sizes["rule"], dtype=bool)
    if plan.criteria is not None:
        mask &= np.asarray(ds.fsbi.criteria_mask(plan.criteria))
    if plan.where:
        mask &= np.asarray(ds.fsbi.mask(**{k: tuple(v) for k, v in plan.where.items()}))
    training = ds.fsbi.select(mask)
    training.attrs["selection"] = f"criteria={plan.criteria}; where={plan.where}"
    values = np.column_stack([training.fsbi.column(m) for m in plan.metrics])
    finite = np.isfinite(values).all(axis=1)
    if not finite.any():
        raise RoundError(f"no training rule has finite {plan.metrics} (criteria "
                         f"{plan.criteria!r}, where {plan.where}); select other rules")
    for j, metric in enumerate(plan.metrics):
        low, high = float(values[finite, j].min()), float(values[finite, j].max())
        target = plan.conditions[metric]
        ends = target if isinstance(target, list) else [target]
        if min(ends) < low or max(ends) > high:
            raise QueryError(
                f"condition {metric}={target}: outside what the posterior would learn (the "
                f"training rules' {metric} spans {low:g} … {high:g}); choose a target inside")
    return training, {"criteria": plan.criteria, "where": plan.where,
                      "rules_selected": int(mask.sum()), "rules_used": int(finite.sum()),
                      "excluded_non_finite": int((~finite).sum())}


def _prepare(path: Path, plan: RoundPlan) -> tuple[xr.Dataset, xr.Dataset | None,
                                                    dict[str, Any]]:
    """The store's rules, the training rules (None for a prior round) and the start of the
    round's record; every check that can refuse the round runs here, before any write."""
    manifest = read_manifest(path)
    ds = open_path(path)
    record: dict[str, Any] = {"store_state": manifest.get("checksum"),
                              "store_rules": int(ds.sizes["rule"])}
    training = None
    if not plan.from_prior:
        training, record["training"] = _training(ds, plan)
    return ds, training, record


def _draw(ds: xr.Dataset, training: xr.Dataset | None, record: dict[str, Any],
          plan: RoundPlan, progress: bool, folder: Path | None) -> np.ndarray:
    """Fit (or take the kept posterior) and draw ``plan.n`` rules; the posterior is kept in
    ``folder`` (None: a dry run, nothing kept) and described in ``record``."""
    from . import inference

    fam = family(plan.family)
    restriction = None
    if plan.restrict:
        from .restriction import fit_restriction

        restriction = fit_restriction(ds, plan.restrict_metrics, seed=plan.seed,
                                      max_epochs=plan.fit.get("max_epochs"))
        record["restriction"] = restriction.to_dict()
    if training is None:
        record["source"] = "restricted prior" if restriction is not None else "prior"
        if restriction is not None:
            return restriction.sample(plan.n, seed=plan.seed)
        rng = np.random.default_rng(plan.seed)
        return fam.low + (fam.high - fam.low) * rng.random((plan.n, fam.n_theta))
    kept = folder / POSTERIOR if folder is not None else None
    if kept is not None and kept.is_file():
        posterior = inference.load(kept)
    else:
        posterior = inference.fit(training, plan.metrics, seed=plan.seed, progress=progress,
                                  **plan.fit)
        if kept is not None:
            posterior.save(kept)
    theta = _posterior_draws(posterior, plan, restriction)
    record["source"] = "posterior"
    record["posterior"] = {
        "file": f"{ROUNDS}/{plan.name}/{POSTERIOR}" if kept is not None else None,
        "sha256": sha256_of(kept) if kept is not None else None,
        "settings": asdict(posterior.settings), "n_train": posterior.record.n_train,
        "n_excluded_nan": posterior.record.n_excluded_nan, "epochs": posterior.record.epochs,
        "versions": posterior.record.versions}
    return theta


def _posterior_draws(posterior: Any, plan: RoundPlan, restriction: Any) -> np.ndarray:
    """``plan.n`` posterior draws at the conditions; with a restriction, only valid ones."""
    conditions = {k: tuple(v) if isinstance(v, list) else v for k, v in plan.conditions.items()}
    seed = plan.seed
    kept: list[np.ndarray] = []
    while sum(len(k) for k in kept) < plan.n:
        draws = posterior.sample(plan.n, seed=seed, **conditions)["theta"].values
        if restriction is not None:
            draws = draws[restriction.valid(draws)]
        kept.append(draws)
        seed = None if seed is None else seed + 1_000_003
    return np.concatenate(kept)[:plan.n]


# --- what a round keeps in the store ------------------------------------------------------------

@contextlib.contextmanager
def _round_lock(path: Path) -> Iterator[None]:
    """One round at a time on a store (``flock`` on the store's folder: nothing is written)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RoundError(f"another process is running a round on {path}; wait for it to "
                             f"finish") from None
        yield
    finally:
        os.close(fd)


def _read_plan(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / PLAN).read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RoundError(f"{folder / PLAN} is damaged ({error}); remove the folder {folder} to "
                         f"start the round over (its appended rules stay in the store)"
                         ) from None


def _write_plan(folder: Path, plan: RoundPlan, state: str, record: dict[str, Any],
                in_store: int = 0) -> None:
    with writable(folder.parent.parent):
        folder.mkdir(parents=True, exist_ok=True)
    body = {"plan": asdict(plan), "state": state, "record": record, "in_store": in_store,
            "updated": datetime.datetime.now(datetime.UTC).isoformat()}
    with published(folder / PLAN) as tmp:
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True))


def _kept_draws(folder: Path, plan: RoundPlan, kept: dict[str, Any] | None
                ) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The rules drawn by an earlier run of the round, checked; None if none were kept."""
    if kept is None or kept["state"] == "started" or not (folder / RULES).is_file():
        return None, {}
    theta = np.load(folder / RULES)
    fam = family(plan.family)
    if theta.shape != (plan.n, fam.n_theta) or not np.isfinite(theta).all():
        raise RoundError(f"{folder / RULES} holds {theta.shape} values, expected the round's "
                         f"{plan.n} rules of {fam.n_theta} parameters; remove the folder "
                         f"{folder} to start the round over")
    return theta, kept["record"]


def _simulate(path: Path, folder: Path, plan: RoundPlan, record: dict[str, Any],
              theta: np.ndarray, protocol: Any, backend: Any, how: dict[str, Any]
              ) -> RoundReport:
    from .simulation.runner import simulate

    fam = family(plan.family)
    provenance = {"round": {"name": plan.name, "plan": asdict(plan), **record}}
    run = simulate(theta, protocol, backend, store=path, round_name=plan.name,
                   provenance=provenance, **how)
    seeds = rule_seeds(theta, fam)
    in_store = int(np.isin(seeds.astype("S"), stored_seeds(path)).sum())
    state = "complete" if in_store == plan.n else "incomplete"
    _write_plan(folder, plan, state, record, in_store)
    return RoundReport(plan.name, path, state, plan.n, in_store=in_store,
                       appended=run.rules.sizes["rule"],
                       blown_up=int(np.isfinite(run.blow_up_time).sum()),
                       failures=[f.seed for f in run.failures], record=record)

