"""Posteriors over rules: fit an ensemble of neural posterior estimators, sample new rules.

The fSBI workflow of the paper's tutorial (``docs/inference.md``) on top of stores: choose rules
and metrics, fit an ensemble of NPE density estimators (neural spline flows) with the ``sbi``
package, sample rules conditioned on target metric values or ranges, and hand them to
:func:`fsbi_data.simulation.simulate`.

The posterior is sbi's own: an ``EnsemblePosterior`` of ``DirectPosterior`` members over a
``BoxUniform`` prior on the rule's parameters (the family's bounds, without the nuisance input
rate), so that sbi rejects the draws outside the prior and its analysis tools take
``RulePosterior.sbi_posterior`` as it is.

Members train one after another in this process, or in parallel worker processes where there
are free cores for them (:func:`fit`'s ``workers``), each with its share of the cores as torch
threads (``threads``), so that a fit does not oversubscribe a machine that others share.

Examples
--------
>>> from fsbi_data import inference
>>> training = ds.fsbi.criteria("tutorial training")               # doctest: +SKIP
>>> post = inference.fit(training, metrics=["rate"])               # doctest: +SKIP
>>> rules = post.sample(n=100, rate=(5, 10))                       # doctest: +SKIP
>>> post.save("rate.fsbi-post"); inference.load("rate.fsbi-post")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .cluster import refuse_unguarded_script, unguarded_script
from .errors import FsbiDataError, QueryError, UnknownNameError
from .files import published
from .schema import Family, family
from .seeds import rule_seeds
from .store.layout import dataset_from_arrays, provenance
from .version import __version__

if TYPE_CHECKING:
    import torch
    from sbi.inference import EnsemblePosterior
    from sbi.utils import BoxUniform

logger = logging.getLogger(__name__)

FORMAT = "fsbi-data posterior"
# Version 1 held the fit's settings and record together in one "config" (it is still read).
FORMAT_VERSION = 2
MIN_ACCEPTANCE = 1e-3  # below this share of draws inside the prior, sampling gives up
ACCEPTANCE_DRAWS = 1000  # draws without rejection that measure that share
SAMPLING_BATCH = 100_000  # most draws per round of sbi's rejection, all targets together
POSTERIOR_FILE = ("a posterior file is written by `fsbi-data fit ... --out x.fsbi-post` or "
                  "RulePosterior.save")
CORES_PER_WORKER = 2  # members train in worker processes only with this many free cores each
PROGRESS_POLL = 0.2  # seconds between looks at the workers' epoch reports
CONDITION_FORM = ("a value or a (low, high) range of finite numbers, e.g. rate=7.5 or "
                  "rate=(5, 10); on the command line --condition rate=7.5 or rate=5:10")


class InferenceError(FsbiDataError):
    """A posterior cannot be fitted, sampled, saved or loaded as asked."""


@dataclass
class FitSettings:
    """What a fit was asked for: the metrics to condition on and how to train.

    The defaults are the paper's tutorial: 10 neural spline flows of sbi's size, batches of
    1,000 rules, sbi's early stopping alone.
    """

    metrics: list[str]
    n_ensemble: int = 10
    density_estimator: str = "nsf"
    batch_size: int = 1000
    seed: int | None = None
    max_epochs: int | None = None
    hidden_features: int = 50
    num_transforms: int = 5


@dataclass
class FitRecord:
    """What a fit did: the family and rules it trained on, the versions, the epochs trained."""

    family: str
    n_train: int
    n_excluded_nan: int
    selection: str
    sources: list[dict]
    versions: dict[str, str]
    epochs: list[int]


def _torch():
    try:
        import sbi  # noqa: F401
        import torch
    except ImportError:
        raise InferenceError("inference needs PyTorch and sbi: pip install "
                             "'fsbi-data[inference]'") from None
    return torch


class _NoTracking:
    """An sbi experiment tracker that records nothing (sbi would write ./sbi-logs)."""

    log_dir = None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        pass

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        pass

    def log_params(self, params: dict) -> None:
        pass

    def add_figure(self, name: str, figure: Any, step: int | None = None) -> None:
        pass

    def flush(self) -> None:
        pass


def _log_printout(printout: str) -> None:
    """What sbi printed while training, logged line by line at info level.

    sbi prints its training summary ("Neural network successfully converged after N epochs.")
    to stdout with carriage returns and no newline, so that an ensemble's lines would run
    together and land among a program's results.
    """
    for line in re.split(r"[\r\n]+", printout):
        if line.strip():
            logger.info("sbi: %s", line.strip())


def _prior(fam: Family, device: str = "cpu") -> BoxUniform:
    """sbi's uniform prior over the rule's parameters: theta without the nuisance input rate."""
    torch = _torch()
    from sbi.utils import BoxUniform

    n_rule = len(fam.rule_param_names)
    return BoxUniform(torch.as_tensor(fam.low[:n_rule], dtype=torch.float32),
                      torch.as_tensor(fam.high[:n_rule], dtype=torch.float32), device=device)


def _builder(settings: FitSettings):
    from sbi.neural_nets import posterior_nn

    return posterior_nn(settings.density_estimator, hidden_features=settings.hidden_features,
                        num_transforms=settings.num_transforms)


def free_cores() -> int:
    """The cores this process may use that other processes leave idle (at least one).

    Those of the process's CPU affinity (``os.sched_getaffinity``: a job's allocation, a
    container's limit) less the 1-minute load average, rounded: with one other busy process on
    a 2-core machine, one. The load average also counts this process when it has been busy;
    too few threads cost a fit at most that share of cores, too many cost it far more (torch's
    threads wait for each other at every operation while one of them waits for a core).

    Examples
    --------
    >>> 1 <= free_cores() <= (os.cpu_count() or 1)
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        load = 0.0
    return max(1, cores - round(load))


def _threads_from_environment() -> int | None:
    """The thread count ``OMP_NUM_THREADS`` asks for, if it is set to a positive integer."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _parallelism(n_ensemble: int, device: str, workers: int | None,
                 threads: int | None) -> tuple[int, int]:
    """How many members train at once (worker processes) and torch threads for each.

    Workers: as asked, at most one per member; by default one per ``CORES_PER_WORKER`` free
    cores; one on a GPU (members train there one after another) and, by default, one when
    worker processes would run the calling script's unguarded top level again. Threads: as
    asked; else ``OMP_NUM_THREADS`` when set; else each worker's share of the free cores.
    """
    for name, value in (("workers", workers), ("threads", threads)):
        if value is not None and value < 1:
            raise InferenceError(f"{name}={value}: expected a positive number, or None to "
                                 f"choose from the free cores")
    free = free_cores()
    if device != "cpu":
        if workers not in (None, 1):
            logger.info("members train one after another on %s (workers=%d ignored)", device,
                        workers)
        workers = 1
    elif workers is None:
        workers = max(1, min(n_ensemble, free // CORES_PER_WORKER))
        if workers > 1 and unguarded_script() is not None:
            logger.info("members train in this process: worker processes would run the "
                        "script's top level again (put it under if __name__ == '__main__')")
            workers = 1
    workers = min(workers, n_ensemble)
    if workers > 1:
        refuse_unguarded_script("worker processes of a posterior fit")
    if threads is None:
        threads = _threads_from_environment() or max(1, free // workers)
    return workers, threads


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` inside, and back to what they were after."""
    torch = _torch()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _Training:
    """What every member of an ensemble trains on and how, sent as it is to worker processes."""

    settings: FitSettings
    family: str
    theta: np.ndarray
    x: np.ndarray
    options: dict[str, Any]
    device: str


@dataclass
class _TrainedMember:
    """A trained member: its weights (``torch.save`` bytes), epochs, and what sbi printed and
    warned, to be logged and warned in the calling process."""

    state: bytes
    epochs: int
    printout: str
    warnings: list[tuple[str, type[Warning], str, int, str]]  # message, category, where


@functools.cache
def _reporting_npe() -> type:
    """sbi's NPE, reporting each epoch's validation loss to its ``on_epoch`` (if set).

    sbi's ``train`` has no epoch callback; ``_summarize_epoch`` is the hook it calls after
    every epoch (sbi's own trainers extend it), so results are those of NPE itself.
    """
    from sbi.inference import NPE

    class ReportingNPE(NPE):
        on_epoch: Callable[[int, float], None] | None = None

        def _summarize_epoch(self, train_loss, val_loss, epoch_start_time,
                             summarization_kwargs):
            super()._summarize_epoch(train_loss, val_loss, epoch_start_time,
                                     summarization_kwargs)
            if self.on_epoch is not None:
                self.on_epoch(len(self._summary["validation_loss"]), float(val_loss))

    return ReportingNPE


def _train_member(training: _Training, k: int,
                  on_epoch: Callable[[int, float], None] | None) -> _TrainedMember:
    """Train member ``k`` (seeded ``seed + k``), in this process or a worker alike."""
    torch = _torch()
    settings = training.settings
    if settings.seed is not None:
        torch.manual_seed(settings.seed + k)
    trainer = _reporting_npe()(prior=_prior(family(training.family), training.device),
                               density_estimator=_builder(settings), device=training.device,
                               show_progress_bars=False, tracker=_NoTracking())
    trainer.on_epoch = on_epoch
    printed, state = io.StringIO(), io.BytesIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")  # the calling process's filters decide what is shown
        estimator = trainer.append_simulations(torch.from_numpy(training.theta),
                                               torch.from_numpy(training.x)
                                               ).train(**training.options)
    torch.save(estimator.state_dict(), state)
    module_of = {getattr(module, "__file__", None): name  # for filters on the warning's module
                 for name, module in list(sys.modules.items())}
    return _TrainedMember(state.getvalue(), int(trainer.summary["epochs_trained"][-1]),
                          printed.getvalue(),
                          [(str(w.message), w.category, w.filename, w.lineno,
                            module_of.get(w.filename, "")) for w in caught])


class _EnsembleProgress:
    """A bar over an ensemble's members; its postfix shows each training member's epoch and
    validation loss. Shows nothing unless ``shown``."""

    def __init__(self, n_ensemble: int, shown: bool) -> None:
        self.bar = None
        self.training: dict[int, str] = {}
        self.finished: set[int] = set()
        if shown:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_ensemble, desc="posterior ensemble", unit="member")

    def epoch(self, member: int, epoch: int, validation_loss: float) -> None:
        if member in self.finished:  # a worker's report read after its member's result
            return
        self.training[member] = f"member {member}: epoch {epoch}, loss {validation_loss:.4g}"
        self._show()

    def done(self, member: int) -> None:
        self.finished.add(member)
        self.training.pop(member, None)
        if self.bar is not None:
            self.bar.update()
        self._show()

    def _show(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str("; ".join(self.training[k] for k in sorted(self.training)))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _train_here(training: _Training, n_ensemble: int, threads: int,
                progress: _EnsembleProgress) -> list[_TrainedMember]:
    """The members trained one after another in this process, on ``threads`` torch threads."""
    trained = []
    with _torch_threads(threads):
        for k in range(n_ensemble):
            trained.append(_train_member(training, k, functools.partial(progress.epoch, k)))
            progress.done(k)
    return trained


_epoch_reports = None  # in a worker process: the queue its members' epochs are reported to


def _start_worker(threads: int, epoch_reports: multiprocessing.Queue) -> None:
    """Set up a worker process: its torch threads, and where it reports epochs."""
    global _epoch_reports
    _torch().set_num_threads(threads)
    _epoch_reports = epoch_reports


def _train_member_in_worker(training: _Training, k: int) -> _TrainedMember:
    return _train_member(training, k, lambda epoch, loss: _epoch_reports.put((k, epoch, loss)))


def _train_in_workers(training: _Training, n_ensemble: int, workers: int, threads: int,
                      progress: _EnsembleProgress) -> list[_TrainedMember]:
    """The members trained by ``workers`` spawned processes of ``threads`` threads each.

    Processes are spawned, not forked (torch's threads do not survive a fork); the workers
    report epochs on a queue that this process reads while it waits.
    """
    context = multiprocessing.get_context("spawn")
    epoch_reports = context.Queue()
    trained: dict[int, _TrainedMember] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(threads, epoch_reports)) as pool:
        members = {pool.submit(_train_member_in_worker, training, k): k
                   for k in range(n_ensemble)}
        pending: set[Future] = set(members)
        try:
            while pending:
                finished, pending = wait(pending, PROGRESS_POLL, FIRST_COMPLETED)
                while not epoch_reports.empty():
                    progress.epoch(*epoch_reports.get())
                for future in finished:
                    trained[members[future]] = future.result()
                    progress.done(members[future])
        finally:
            for future in pending:
                future.cancel()
    return [trained[k] for k in range(n_ensemble)]


def fit(ds: xr.Dataset, metrics: Sequence[str] = ("rate",), *,
        n_ensemble: int = FitSettings.n_ensemble,
        density_estimator: str = FitSettings.density_estimator,
        batch_size: int = FitSettings.batch_size, seed: int | None = FitSettings.seed,
        device: str | None = None, progress: bool = False,
        max_epochs: int | None = FitSettings.max_epochs,
        hidden_features: int = FitSettings.hidden_features,
        num_transforms: int = FitSettings.num_transforms,
        workers: int | None = None, threads: int | None = None,
        **train_kwargs: Any) -> RulePosterior:
    """Fit an ensemble of neural posterior estimators p(θ | metrics) on a selection of rules.

    Parameters
    ----------
    ds
        Rules in the store layout (any selection, e.g. ``ds.fsbi.criteria(...)``); rows with a
        non-finite chosen metric (blown-up runs) are excluded and counted.
    metrics
        The metrics to condition on.
    n_ensemble, density_estimator, batch_size
        Ensemble size, sbi density estimator (``"nsf"``, ``"maf"``, …), training batch size.
    seed
        Makes training reproducible (member k uses seed + k), whatever ``workers``; torch's
        sums, and so the last digits, depend on ``threads``.
    device
        ``"cpu"``, ``"cuda"``; default: CUDA when present, where members train one after
        another in this process.
    progress
        Show a bar over the members with each training member's epoch and validation loss.
    max_epochs
        Cap on training epochs per member (default: sbi's early stopping alone).
    hidden_features, num_transforms
        Size of each flow (sbi's defaults).
    workers
        Members trained at once, each in a worker process (1: one after another in this
        process). Default: one per 2 free cores (:func:`free_cores`), at most one per member;
        1 on a GPU, and 1 where worker processes would run the calling script's top level
        again (outside ``if __name__ == "__main__":``; asking for more there raises
        :class:`~fsbi_data.cluster.MainGuardError`).
    threads
        torch threads of each member's training. Default: ``OMP_NUM_THREADS`` when set, else
        each worker's share of the free cores. This process's own setting is restored after.
    train_kwargs
        Passed to ``sbi``'s ``train`` (e.g. ``stop_after_epochs``, ``learning_rate``).

    Returns
    -------
    RulePosterior
        sbi's ensemble posterior, with the settings asked for and the record of the fit.

    Examples
    --------
    >>> post = fit(ds.fsbi.criteria("tutorial training"), ["rate"])  # doctest: +SKIP
    >>> post.record.n_train, post.settings.n_ensemble                # doctest: +SKIP
    >>> post = fit(training, ["rate"], workers=4, threads=2, progress=True)  # doctest: +SKIP
    """
    torch = _torch()
    import sbi
    from sbi.inference import DirectPosterior, EnsemblePosterior

    settings = FitSettings(
        metrics=list(metrics), n_ensemble=n_ensemble, density_estimator=density_estimator,
        batch_size=batch_size, seed=seed, max_epochs=max_epochs,
        hidden_features=hidden_features, num_transforms=num_transforms)
    theta, x = ds.fsbi.to_torch(settings.metrics)
    finite = torch.isfinite(x).all(dim=1)
    theta, x, n_nan = theta[finite], x[finite], int((~finite).sum())
    if len(theta) < min(50, 2 * batch_size):
        raise InferenceError(f"only {len(theta)} rules with finite {settings.metrics} to train "
                             f"on; select more rules")
    if n_nan:
        logger.info("excluded %d rules with non-finite %s", n_nan, settings.metrics)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    workers, threads = _parallelism(n_ensemble, device, workers, threads)
    logger.info("training %d members: %d at a time, %d torch thread(s) each", n_ensemble,
                workers, threads)
    fam = ds.fsbi.family
    options = {"training_batch_size": min(batch_size, len(theta)), **train_kwargs}
    if max_epochs is not None:
        options["max_num_epochs"] = max_epochs
    training = _Training(settings, fam.name, theta.numpy(), x.numpy(), options, device)
    bar = _EnsembleProgress(n_ensemble, progress)
    try:
        if workers == 1:
            trained = _train_here(training, n_ensemble, threads, bar)
        else:
            trained = _train_in_workers(training, n_ensemble, workers, threads, bar)
    finally:
        bar.close()  # sbi's printout and warnings come after the bar, not across it
    shown: dict = {}  # one registry for the ensemble: a warning repeated by members shows once
    for member in trained:
        _log_printout(member.printout)
        for message, category, filename, lineno, module in member.warnings:
            warnings.warn_explicit(message, category, filename, lineno, module or None,
                                   registry=shown)
    prior = _prior(fam)
    posteriors = [DirectPosterior(_estimator(settings, prior, torch.load(
        io.BytesIO(member.state), weights_only=True, map_location="cpu")), prior)
        for member in trained]
    record = FitRecord(
        family=fam.name, n_train=len(theta), n_excluded_nan=n_nan,
        selection=str(ds.attrs.get("selection", "")), sources=provenance(ds),
        versions={"sbi": sbi.__version__, "torch": torch.__version__, "fsbi-data": __version__},
        epochs=[member.epochs for member in trained])
    return RulePosterior(EnsemblePosterior(posteriors), settings, record)


class RulePosterior:
    """p(θ | metrics) over the rules of one family: sbi's posterior, and how it was fitted.

    Attributes
    ----------
    sbi_posterior
        sbi's ``EnsemblePosterior`` of equally weighted ``DirectPosterior`` members over the
        family's rule prior, for sbi's own tools (``log_prob``, ``map``, ``sbi.analysis``); its
        parameters are theta without the input rate.
    settings
        What the fit was asked for (:class:`FitSettings`).
    record
        What the fit did (:class:`FitRecord`).
    """

    def __init__(self, sbi_posterior: EnsemblePosterior, settings: FitSettings,
                 record: FitRecord) -> None:
        self.sbi_posterior = sbi_posterior
        self.settings = settings
        self.record = record

    @property
    def family(self) -> Family:
        return family(self.record.family)

    def __repr__(self) -> str:
        s, r = self.settings, self.record
        return (f"RulePosterior({r.family}: p(theta | {', '.join(s.metrics)}), "
                f"{s.n_ensemble} x {s.density_estimator}, trained on {r.n_train:,} rules)")

    def _targets(self, conditions: dict[str, Any]) -> dict[str, float | tuple[float, float]]:
        """Each fitted metric's target, a value or a (low, high) range, checked."""
        metrics = self.settings.metrics
        missing = [m for m in metrics if m not in conditions]
        unknown = [m for m in conditions if m not in metrics]
        if missing or unknown:
            raise UnknownNameError(
                f"the posterior is conditioned on {metrics}; give a value or a "
                f"(low, high) range for each (missing: {missing or 'none'}, not fitted: "
                f"{unknown or 'none'})"
            )
        return {name: _condition_value(name, conditions[name]) for name in metrics}

    def _acceptance(self, targets: dict[str, float | tuple[float, float]]) -> float:
        """The least share of posterior draws inside the prior at a corner of the targets.

        Each corner (a value, or both ends of each range) gets ``ACCEPTANCE_DRAWS`` draws
        without rejection; where hardly any is inside, the targets are refused, for sbi's
        rejection would draw for them without end.
        """
        torch = _torch()
        ends = [value if isinstance(value, tuple) else (value,) for value in targets.values()]
        corners = torch.as_tensor(list(itertools.product(*ends)), dtype=torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sbi warns of draws outside the prior: counted here
            draws = self.sbi_posterior.sample_batched(
                (ACCEPTANCE_DRAWS,), x=corners, reject_outside_prior=False,
                show_progress_bars=False)
        inside = self.sbi_posterior.prior.support.check(draws).double().mean(dim=0)
        worst = int(inside.argmin())
        if inside[worst] < MIN_ACCEPTANCE:
            at = ", ".join(f"{name}={value:g}"
                           for name, value in zip(targets, corners[worst].tolist(), strict=True))
            raise InferenceError(
                f"at {at} only {round(float(inside[worst]) * ACCEPTANCE_DRAWS)} of "
                f"{ACCEPTANCE_DRAWS} posterior draws fell inside the prior bounds: the targets "
                f"reach outside what the posterior has learned — choose values seen in training"
            )
        return float(inside[worst])

    def _draw(self, x: torch.Tensor, rng: np.random.Generator, acceptance: float,
              max_sampling_time: float | None) -> np.ndarray:
        """One draw inside the prior per target, each from a member chosen for that target.

        sbi's ensemble would choose one member for the whole batch of targets; the members'
        ``sample_batched`` reject the draws outside the prior, in rounds of
        :func:`_draws_per_round` draws per target.
        """
        members = self.sbi_posterior.posteriors
        weights = self.sbi_posterior.weights.double().numpy()
        member = rng.choice(len(members), size=len(x), p=weights / weights.sum())
        theta = np.empty((len(x), len(self.family.rule_param_names)), dtype=np.float32)
        deadline = None if max_sampling_time is None else time.monotonic() + max_sampling_time
        for k in np.unique(member):
            rows = np.flatnonzero(member == k)
            per_round = _draws_per_round(acceptance, len(rows))
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                draws = members[k].sample_batched(
                    (1,), x=x[rows], show_progress_bars=False, max_sampling_time=left,
                    max_sampling_batch_size=per_round)
            except RuntimeError as error:
                if "max_sampling_time" not in str(error):
                    raise
                raise InferenceError(
                    f"sampling stopped after {max_sampling_time} s: few posterior draws fall "
                    f"inside the prior bounds for some of the targets; narrow them to values "
                    f"seen in training or allow more time (max_sampling_time)"
                ) from None
            theta[rows] = draws[0].numpy()
        return theta

    def sample(self, n: int = 1, *, seed: int | None = None,
               max_sampling_time: float | None = 600.0, **conditions: Any) -> xr.Dataset:
        """Draw ``n`` rules, one per conditioning value, inside the prior bounds.

        Each condition is a metric value or a ``(low, high)`` range; ranges are sampled
        uniformly, one value per rule, as in the paper's tutorial. Each rule comes from an
        ensemble member chosen for it; sbi rejects the draws outside the prior. The nuisance
        input rate is drawn uniformly from its prior range.

        Parameters
        ----------
        n
            Number of rules.
        seed
            Makes the targets, the members and the draws reproducible.
        max_sampling_time
            Seconds after which sampling stops with :class:`InferenceError` (``None``: no
            limit), for targets whose draws are rarely inside the prior.
        conditions
            A value or a ``(low, high)`` range for each fitted metric.

        Returns
        -------
        xarray.Dataset
            The rules in the store layout (NaN metrics; seeds from
            :func:`fsbi_data.seeds.rule_seed`) with the conditioning values as
            ``condition_<metric>`` variables — ready for ``simulation.simulate``.

        Raises
        ------
        InferenceError
            When fewer than 0.1 % of 1,000 draws fall inside the prior at a corner of the
            targets (a value, or the ends of each range: outside what the posterior has
            learned), or after ``max_sampling_time``.

        Examples
        --------
        >>> rules = post.sample(n=100, seed=0, rate=(5, 10))  # doctest: +SKIP
        """
        torch = _torch()
        rng = np.random.default_rng(seed)
        if seed is not None:
            torch.manual_seed(seed)
        fam = self.family
        targets = self._targets(conditions)
        columns = []
        for value in targets.values():  # a range gives each rule a uniform draw from it
            if isinstance(value, tuple):
                low, high = value
                columns.append(low + (high - low) * rng.random(n))
            else:
                columns.append(np.full(n, value))
        x = np.stack(columns, axis=1)
        with torch.no_grad():
            acceptance = self._acceptance(targets)
            theta = self._draw(torch.as_tensor(x, dtype=torch.float32), rng, acceptance,
                               max_sampling_time)
        rate = fam.input_rate_param
        input_rate = rate.low + (rate.high - rate.low) * rng.random((n, 1))
        full = np.concatenate([theta.astype(np.float64), input_rate], axis=1)
        seeds = rule_seeds(full, fam)
        nan = {m: np.full(n, np.nan) for m in fam.metric_names}
        out = dataset_from_arrays(seeds, full, nan, fam,
                                  provenance=[{"kind": "posterior samples",
                                               "metrics": self.settings.metrics,
                                               "conditions": {k: _jsonable(v) for k, v
                                                              in targets.items()},
                                               "seed": seed}])
        for j, name in enumerate(self.settings.metrics):
            out[f"condition_{name}"] = ("rule", x[:, j], {"long_name": f"target {name}"})
        return out

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the posterior: each member's state dict, the settings and the record as JSON.

        The file loads without running pickled code and is published whole or not at all.

        Examples
        --------
        >>> post.save("rate.fsbi-post")  # doctest: +SKIP
        """
        torch = _torch()
        path = Path(path)
        payload = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "settings": json.dumps(asdict(self.settings)),
            "record": json.dumps(asdict(self.record)),
            "state_dicts": [member.posterior_estimator.state_dict()
                            for member in self.sbi_posterior.posteriors],
        }
        with published(path) as tmp:
            torch.save(payload, tmp)
        return path


def _draws_per_round(acceptance: float, n_targets: int) -> int:
    """Draws per target in a round of sbi's rejection, with ``acceptance`` inside the prior.

    sbi's batched rejection ends at the first round that accepts a draw for every target, so
    each round draws enough for that to happen 99 times in 100 (its own rounds are either one
    draw or as many as memory allows).
    """
    if acceptance >= 1:
        return 1
    needed = math.ceil(math.log(100 * n_targets) / -math.log1p(-acceptance))
    return max(1, min(needed, SAMPLING_BATCH // n_targets))


def _condition_value(name: str, value: Any) -> float | tuple[float, float]:
    """A condition as a float or a (low, high) pair, checked: finite, not reversed."""
    try:
        if isinstance(value, Sequence) and not isinstance(value, str):
            low, high = (float(v) for v in value)
            parsed: float | tuple[float, float] = (low, high)
        else:
            parsed = float(value)
    except (TypeError, ValueError):
        raise QueryError(f"condition {name}={value!r}: expected {CONDITION_FORM}") from None
    if not np.all(np.isfinite(parsed)):
        raise QueryError(f"condition {name}={value!r}: expected {CONDITION_FORM}")
    if isinstance(parsed, tuple) and parsed[0] > parsed[1]:
        raise QueryError(f"the range of {name!r} is reversed: {value!r}; give (low, high)")
    return parsed


def parse_condition(text: str) -> tuple[str, float | tuple[float, float]]:
    """``"rate=7.5"`` → ``("rate", 7.5)``; ``"rate=5:10"`` → ``("rate", (5.0, 10.0))``.

    Raises
    ------
    QueryError
        Naming the condition and the expected form.

    Examples
    --------
    >>> parse_condition("rate=5:10")
    ('rate', (5.0, 10.0))
    """
    name, sep, value = (part.strip() for part in text.partition("="))
    low, colon, high = value.partition(":")
    try:
        if not (name and sep and value):
            raise ValueError(text)
        parsed = (float(low), float(high)) if colon else float(value)
    except ValueError:
        raise QueryError(f"condition {text!r}: expected METRIC=VALUE or METRIC=LOW:HIGH with "
                         f"numbers, e.g. rate=7.5 or rate=5:10") from None
    return name, _condition_value(name, parsed)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [float(v) for v in value]
    return float(value)


def _settings_and_record(payload: dict) -> tuple[FitSettings, FitRecord]:
    """The fit's settings and record from a payload of either format version."""
    if payload["format_version"] == 1:
        config = json.loads(payload["config"])
        config.pop("num_bins")  # sbi's default, which fit never changed
        asked = {f.name for f in fields(FitSettings)}
        return (FitSettings(**{k: v for k, v in config.items() if k in asked}),
                FitRecord(**{k: v for k, v in config.items() if k not in asked}))
    return (FitSettings(**json.loads(payload["settings"])),
            FitRecord(**json.loads(payload["record"])))


def _estimator(settings: FitSettings, prior: BoxUniform, state: dict):
    """A density estimator of the fitted shape, holding the saved weights."""
    torch = _torch()
    # sbi builds an estimator from a batch of (theta, x), which fixes its shapes and z-scoring;
    # the state dict then restores the fitted z-scoring and weights. The prior's corners serve.
    theta = torch.stack([prior.low, prior.high])
    estimator = _builder(settings)(theta, torch.zeros(2, len(settings.metrics)))
    estimator.load_state_dict(state)
    return estimator.eval()


def load(path: str | os.PathLike) -> RulePosterior:
    """Load a posterior written by :meth:`RulePosterior.save` (``weights_only``: no code runs).

    Files of format version 1 load too.

    Examples
    --------
    >>> post = load("rate.fsbi-post")  # doctest: +SKIP
    """
    torch = _torch()
    from sbi.inference import DirectPosterior, EnsemblePosterior

    path = Path(path)
    if not path.is_file():
        raise InferenceError(f"{path}: no such file; {POSTERIOR_FILE}")
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises many kinds for foreign files
        raise InferenceError(f"{path} is not a fsbi-data posterior file (torch cannot read "
                             f"it: {type(error).__name__}); {POSTERIOR_FILE}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InferenceError(f"{path} is not a fsbi-data posterior file (it holds no "
                             f"{FORMAT!r} record); {POSTERIOR_FILE}")
    if payload.get("format_version") not in (1, FORMAT_VERSION):
        raise InferenceError(f"{path} has format version {payload.get('format_version')}; this "
                             f"fsbi-data reads versions 1 to {FORMAT_VERSION}")
    try:
        settings, record = _settings_and_record(payload)
        states = payload["state_dicts"]
        if len(states) != settings.n_ensemble:
            raise ValueError(f"{len(states)} members, {settings.n_ensemble} in its settings")
        prior = _prior(family(record.family))
        members = [DirectPosterior(_estimator(settings, prior, state), prior)
                   for state in states]
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError,
            FsbiDataError) as error:
        reason = ascii(" ".join(str(error).split())[:160])[1:-1]
        raise InferenceError(f"{path} is a damaged fsbi-data posterior file ({reason}); fit "
                             f"it again with `fsbi-data fit ... --out {path.name}`") from None
    return RulePosterior(EnsemblePosterior(members), settings, record)
