"""Posteriors over rules: fit an ensemble of neural posterior estimators, sample new rules.

The fSBI workflow of the paper's tutorial (``spec/data-release.md`` §8) on top of stores:
choose rules and metrics, fit an ensemble of NPE density estimators (neural spline flows) with
the ``sbi`` package, sample rules conditioned on target metric values or ranges — inside the
prior bounds by rejection, with the nuisance input rate drawn from its range — and hand them to
:func:`fsbi_data.simulation.simulate`.

Examples
--------
>>> from fsbi_data import inference
>>> training = ds.fsbi.criteria("tutorial training")               # doctest: +SKIP
>>> post = inference.fit(training, metrics=["rate"])               # doctest: +SKIP
>>> rules = post.sample(n=100, rate=(5, 10))                       # doctest: +SKIP
>>> post.save("rate.fsbi-post"); inference.load("rate.fsbi-post")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import FsbiDataError, QueryError, UnknownNameError
from .layout import dataset_from_arrays, provenance
from .schema import Family, family
from .seeds import rule_seeds

logger = logging.getLogger(__name__)

FORMAT = "fsbi-data posterior"
FORMAT_VERSION = 1
# The paper's tutorial: 10 NSF members, batches of 1,000 (spec/data-release.md §8).
DEFAULT_ENSEMBLE = 10
DEFAULT_BATCH_SIZE = 1000
MIN_ACCEPTANCE = 1e-3  # below this share of draws inside the prior, sampling gives up
POSTERIOR_FILE = ("a posterior file is written by `fsbi-data fit ... --out x.fsbi-post` or "
                  "RulePosterior.save")
CONDITION_FORM = ("a value or a (low, high) range of finite numbers, e.g. rate=7.5 or "
                  "rate=(5, 10); on the command line --condition rate=7.5 or rate=5:10")


class InferenceError(FsbiDataError):
    """A posterior cannot be fitted, sampled, saved or loaded as asked."""


@dataclass
class FitConfig:
    """Everything needed to rebuild and describe a fitted posterior."""

    family: str
    metrics: list[str]
    n_ensemble: int = DEFAULT_ENSEMBLE
    density_estimator: str = "nsf"
    batch_size: int = DEFAULT_BATCH_SIZE
    seed: int | None = None
    max_epochs: int | None = None
    hidden_features: int = 50
    num_transforms: int = 5
    num_bins: int = 10
    n_train: int = 0
    n_excluded_nan: int = 0
    sources: list[dict] = field(default_factory=list)
    selection: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)


def _torch():
    try:
        import sbi  # noqa: F401
        import torch
    except ImportError:
        raise InferenceError("inference needs PyTorch and sbi: pip install "
                             "'fsbi-data[inference]'") from None
    return torch


def training_data(ds: xr.Dataset, metrics: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """(theta without the input rate, x of the chosen metrics, rows excluded for NaN/inf)."""
    fam = family(ds.attrs["family"])
    for name in metrics:
        fam.metric(name)
    n_rule = len(fam.rule_param_names)
    theta = np.asarray(ds["theta"].values)[:, :n_rule]
    x = np.stack([np.asarray(ds[m].values) for m in metrics], axis=1)
    finite = np.isfinite(x).all(axis=1)
    return theta[finite], x[finite], int((~finite).sum())


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


def _builder(config: FitConfig):
    from sbi.neural_nets import posterior_nn

    return posterior_nn(config.density_estimator, hidden_features=config.hidden_features,
                        num_transforms=config.num_transforms, num_bins=config.num_bins)


def fit(ds: xr.Dataset, metrics: Sequence[str] = ("rate",), *,
        n_ensemble: int = DEFAULT_ENSEMBLE, density_estimator: str = "nsf",
        batch_size: int = DEFAULT_BATCH_SIZE, seed: int | None = None,
        device: str | None = None, progress: bool = False, max_epochs: int | None = None,
        hidden_features: int = 50, num_transforms: int = 5,
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
        Makes training reproducible (member k uses seed + k).
    device
        ``"cpu"``, ``"cuda"``; default: CUDA when present.
    max_epochs
        Cap on training epochs per member (default: sbi's early stopping alone).
    hidden_features, num_transforms
        Size of each flow (sbi's defaults).
    train_kwargs
        Passed to ``sbi``'s ``train`` (e.g. ``stop_after_epochs``, ``learning_rate``).
    """
    torch = _torch()
    from sbi.inference import NPE

    fam = family(ds.attrs["family"])
    theta, x, n_nan = training_data(ds, list(metrics))
    if len(theta) < 2 * batch_size and len(theta) < 50:
        raise InferenceError(f"only {len(theta)} rules with finite {list(metrics)} to train on; "
                             f"select more rules")
    if n_nan:
        logger.info("excluded %d rules with non-finite %s", n_nan, list(metrics))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    import sbi

    config = FitConfig(
        family=fam.name, metrics=list(metrics), n_ensemble=n_ensemble,
        density_estimator=density_estimator, batch_size=min(batch_size, len(theta)), seed=seed,
        max_epochs=max_epochs, hidden_features=hidden_features, num_transforms=num_transforms,
        n_train=len(theta), n_excluded_nan=n_nan,
        sources=provenance(ds), selection=str(ds.attrs.get("selection", "")),
        versions={"sbi": sbi.__version__, "torch": torch.__version__,
                  "fsbi-data": _package_version()})
    theta_t = torch.as_tensor(theta, dtype=torch.float32)
    x_t = torch.as_tensor(x, dtype=torch.float32)
    estimators = []
    members = range(n_ensemble)
    if progress:
        from tqdm.auto import tqdm

        members = tqdm(members, desc="posterior ensemble")
    for k in members:
        if seed is not None:
            torch.manual_seed(seed + k)
        trainer = NPE(density_estimator=_builder(config), device=device,
                      show_progress_bars=False, tracker=_NoTracking())
        trainer.append_simulations(theta_t, x_t)
        kwargs = {"training_batch_size": config.batch_size, **train_kwargs}
        if max_epochs is not None:
            kwargs["max_num_epochs"] = max_epochs
        estimator = trainer.train(**kwargs)
        config.epochs.append(int(trainer.summary["epochs_trained"][-1]))
        estimators.append(estimator.to("cpu").eval())
    return RulePosterior(estimators, config)


def _package_version() -> str:
    from . import __version__

    return __version__


class RulePosterior:
    """An equal-weight ensemble of density estimators of p(θ | metrics) for one family."""

    def __init__(self, estimators: list, config: FitConfig) -> None:
        self.estimators = estimators
        self.config = config

    @property
    def family(self) -> Family:
        return family(self.config.family)

    def __repr__(self) -> str:
        c = self.config
        return (f"RulePosterior({c.family}: p(theta | {', '.join(c.metrics)}), "
                f"{c.n_ensemble} x {c.density_estimator}, trained on {c.n_train:,} rules)")

    def _conditions(self, n: int, rng: np.random.Generator, conditions: dict[str, Any]
                    ) -> np.ndarray:
        missing = [m for m in self.config.metrics if m not in conditions]
        unknown = [m for m in conditions if m not in self.config.metrics]
        if missing or unknown:
            raise UnknownNameError(
                f"the posterior is conditioned on {self.config.metrics}; give a value or a "
                f"(low, high) range for each (missing: {missing or 'none'}, not fitted: "
                f"{unknown or 'none'})"
            )
        columns = []
        for name in self.config.metrics:
            value = _condition_value(name, conditions[name])
            if isinstance(value, tuple):
                low, high = value
                columns.append(low + (high - low) * rng.random(n))
            else:
                columns.append(np.full(n, value))
        return np.stack(columns, axis=1)

    def sample(self, n: int = 1, *, seed: int | None = None, max_attempts: int = 10_000,
               **conditions: Any) -> xr.Dataset:
        """Draw ``n`` rules, one per conditioning value, strictly inside the prior bounds.

        Each condition is a metric value or a ``(low, high)`` range; ranges are sampled
        uniformly, one value per rule, as in the paper's tutorial. The nuisance input rate is
        drawn uniformly from its prior range. Raises :class:`InferenceError` when fewer than
        0.1 % of draws fall inside the prior (hopeless acceptance) or after ``max_attempts``
        draws per rule.

        Returns a Dataset in the store layout (NaN metrics; seeds from
        :func:`fsbi_data.seeds.rule_seed`) with the conditioning values as
        ``condition_<metric>`` variables — ready for ``simulation.simulate``.
        """
        torch = _torch()
        rng = np.random.default_rng(seed)
        if seed is not None:
            torch.manual_seed(seed)
        fam = self.family
        n_rule = len(fam.rule_param_names)
        low = torch.as_tensor(fam.low[:n_rule], dtype=torch.float32)
        high = torch.as_tensor(fam.high[:n_rule], dtype=torch.float32)
        x = self._conditions(n, rng, conditions)
        x_t = torch.as_tensor(x, dtype=torch.float32)
        theta = np.full((n, n_rule), np.nan)
        pending = np.arange(n)
        draws = accepted = 0
        while pending.size:
            member = rng.integers(len(self.estimators), size=pending.size)
            for k in np.unique(member):
                rows = pending[member == k]
                with torch.no_grad():
                    proposal = self.estimators[k].sample(torch.Size([1]), condition=x_t[rows])
                proposal = proposal.reshape(len(rows), n_rule)
                inside = ((proposal > low) & (proposal < high)).all(dim=1).numpy()
                theta[rows[inside]] = proposal[inside].numpy()
                draws += len(rows)
                accepted += int(inside.sum())
            pending = np.flatnonzero(np.isnan(theta[:, 0]))
            if pending.size and draws >= 1000 and accepted / draws < MIN_ACCEPTANCE:
                raise InferenceError(
                    f"only {accepted} of {draws} posterior draws fell inside the prior bounds "
                    f"for {conditions}; these targets are outside what the posterior has "
                    f"learned — choose values seen in training"
                )
            if pending.size and draws >= max_attempts * n:
                raise InferenceError(f"gave up after {draws} draws; {pending.size} rules left")
        rate = fam.input_rate_param
        input_rate = rate.low + (rate.high - rate.low) * rng.random((n, 1))
        full = np.concatenate([theta.astype(np.float32).astype(np.float64), input_rate], axis=1)
        seeds = rule_seeds(full, fam)
        nan = {m: np.full(n, np.nan) for m in fam.metric_names}
        out = dataset_from_arrays(seeds, full, nan, fam,
                                  provenance=[{"kind": "posterior samples",
                                               "metrics": self.config.metrics,
                                               "conditions": {k: _jsonable(v) for k, v
                                                              in conditions.items()},
                                               "seed": seed}])
        for j, name in enumerate(self.config.metrics):
            out[f"condition_{name}"] = ("rule", x[:, j], {"long_name": f"target {name}"})
        return out

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the posterior: state dicts and JSON metadata, loadable without pickle code."""
        torch = _torch()
        path = Path(path)
        payload = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "config": json.dumps(asdict(self.config)),
            "state_dicts": [e.state_dict() for e in self.estimators],
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)
        return path


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


def load(path: str | os.PathLike) -> RulePosterior:
    """Load a posterior written by :meth:`RulePosterior.save` (``weights_only``: no code runs)."""
    torch = _torch()
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
    if payload.get("format_version") != FORMAT_VERSION:
        raise InferenceError(f"{path} has format version {payload.get('format_version')}; this "
                             f"fsbi-data reads version {FORMAT_VERSION}")
    try:
        config = FitConfig(**json.loads(payload["config"]))
        fam = family(config.family)
        n_rule = len(fam.rule_param_names)
        estimators = []
        for state in payload["state_dicts"]:
            # Build an estimator of the same shape, then restore every weight and buffer.
            theta = torch.rand(64, n_rule) * torch.as_tensor(
                fam.high[:n_rule] - fam.low[:n_rule], dtype=torch.float32)
            x = torch.rand(64, len(config.metrics)) + 1.0
            estimator = _builder(config)(theta, x)
            estimator.load_state_dict(state)
            estimators.append(estimator.eval())
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError,
            FsbiDataError) as error:
        reason = ascii(" ".join(str(error).split())[:160])[1:-1]
        raise InferenceError(f"{path} is a damaged fsbi-data posterior file ({reason}); fit "
                             f"it again with `fsbi-data fit ... --out {path.name}`") from None
    return RulePosterior(estimators, config)
