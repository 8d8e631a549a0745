"""The restricted prior: the part of a family's prior box whose rules do not blow up.

sbi's ``RestrictionEstimator`` (the "bonus" round of the paper's tutorial) is a classifier
trained on rules already simulated: a rule is *valid* when all the chosen metrics are finite
(by default every metric of the family), *invalid* when the network blew up. Drawing from the
prior and rejecting the draws the classifier calls invalid wastes fewer simulations on rules
that blow up; the same classifier can reject posterior draws. Parameters are the whole theta,
the input rate included (it decides blow-ups too). See ``docs/rounds.md``.

Examples
--------
>>> from fsbi_data.restriction import fit_restriction
>>> restriction = fit_restriction(ds, seed=0)              # doctest: +SKIP
>>> theta = restriction.sample(100, seed=1)                # doctest: +SKIP
>>> restriction.kept_share                                 # doctest: +SKIP
0.41
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr

from .errors import FsbiDataError
from .schema import Family

logger = logging.getLogger(__name__)

SHARE_DRAWS = 20_000
"""Prior draws that estimate the share of the prior the classifier keeps."""
MIN_KEPT_SHARE = 1e-3
"""Below this share kept, drawing from the restricted prior gives up."""
DRAWS_PER_ROUND = 10_000


class RestrictionError(FsbiDataError):
    """A restricted prior cannot be trained or drawn from as asked."""


@dataclass
class RestrictionSettings:
    """How the classifier was trained (sbi's ``RestrictionEstimator`` and ``train``)."""

    metrics: list[str]
    seed: int | None = None
    max_epochs: int | None = None
    allowed_false_negatives: float = 0.0
    model: str = "resnet"


@dataclass
class RestrictionRecord:
    """What the training saw and what the classifier keeps."""

    n_train: int
    n_invalid: int
    epochs: int
    kept_share: float


class Restriction:
    """A trained classifier of valid rules over the family's whole prior box.

    Attributes
    ----------
    restricted_prior
        sbi's ``RestrictedPrior`` (draws from the prior, rejects the invalid), for sbi's tools.
    settings, record
        How it was trained, what it saw, and the share of the prior it keeps.
    """

    def __init__(self, fam: Family, restricted_prior: Any, settings: RestrictionSettings,
                 record: RestrictionRecord) -> None:
        self.family = fam
        self.restricted_prior = restricted_prior
        self.settings = settings
        self.record = record

    @property
    def kept_share(self) -> float:
        return self.record.kept_share

    def valid(self, theta: np.ndarray) -> np.ndarray:
        """Whether the classifier calls each rule (rows of theta) valid."""
        import torch

        with torch.no_grad():
            accepted = self.restricted_prior._accept_reject_fn(
                torch.as_tensor(np.asarray(theta), dtype=torch.float32))
        return np.asarray(accepted, dtype=bool)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` rules (theta, float64) from the prior box that the classifier calls valid."""
        rng = np.random.default_rng(seed)
        if self.kept_share < MIN_KEPT_SHARE:
            raise RestrictionError(
                f"the classifier keeps {self.kept_share:.2%} of the {self.family.name} prior; "
                f"train it on more rules that did not blow up, or draw without --restrict")
        kept: list[np.ndarray] = []
        while sum(len(k) for k in kept) < n:
            draws = self.family.low + (self.family.high - self.family.low) * rng.random(
                (DRAWS_PER_ROUND, self.family.n_theta))
            kept.append(draws[self.valid(draws)])
        return np.concatenate(kept)[:n]

    def to_dict(self) -> dict[str, Any]:
        """Settings and record, for a round's provenance."""
        return {"settings": asdict(self.settings), "record": asdict(self.record)}


def fit_restriction(ds: xr.Dataset, metrics: Sequence[str] | None = None, *,
                    seed: int | None = None, max_epochs: int | None = None,
                    allowed_false_negatives: float = 0.0) -> Restriction:
    """Train sbi's restriction classifier on the rules of ``ds`` (valid: chosen metrics finite).

    Parameters
    ----------
    ds
        Rules in the store layout (typically a whole store: the blown-up rules teach it).
    metrics
        The metrics that must be finite for a rule to count as valid (default: all of the
        family's).
    seed
        Makes the training and the share estimate reproducible.
    max_epochs
        Cap on training epochs (default: sbi's early stopping alone).
    allowed_false_negatives
        sbi's threshold tuning: the share of valid rules the classifier may reject.

    Raises
    ------
    RestrictionError
        When ``ds`` holds only valid or only invalid rules (nothing to learn from).
    """
    import torch
    from sbi.utils import BoxUniform, RestrictionEstimator

    fam: Family = ds.fsbi.family
    metrics = list(metrics or fam.metric_names)
    settings = RestrictionSettings(metrics, seed, max_epochs, allowed_false_negatives)
    theta = torch.as_tensor(np.asarray(ds["theta"].values), dtype=torch.float32)
    x = torch.as_tensor(np.column_stack([ds.fsbi.column(m) for m in metrics]),
                        dtype=torch.float32)
    valid = torch.isfinite(x).all(dim=1)
    n_invalid = int((~valid).sum())
    if n_invalid in (0, len(x)):
        what = "blew up" if n_invalid else "kept all of " + ", ".join(metrics) + " finite"
        raise RestrictionError(
            f"all {len(x):,} rules {what}: the restriction classifier needs both valid and "
            f"invalid rules to learn from; simulate rules from the prior first")
    if seed is not None:
        torch.manual_seed(seed)
    prior = BoxUniform(torch.as_tensor(fam.low, dtype=torch.float32),
                       torch.as_tensor(fam.high, dtype=torch.float32))
    estimator = RestrictionEstimator(prior=prior, model=settings.model,
                                     decision_criterion=_finite_rows)
    estimator.append_simulations(theta, x)
    options = {} if max_epochs is None else {"max_num_epochs": max_epochs}
    with contextlib.redirect_stdout(io.StringIO()):  # sbi prints each epoch on stdout
        estimator.train(**options)
    restricted = estimator.restrict_prior(allowed_false_negatives=allowed_false_negatives)
    record = RestrictionRecord(len(x), n_invalid, len(estimator._validation_log_probs), 0.0)
    restriction = Restriction(fam, restricted, settings, record)
    draws = np.random.default_rng(seed).random((SHARE_DRAWS, fam.n_theta))
    record.kept_share = float(restriction.valid(fam.low + (fam.high - fam.low) * draws).mean())
    logger.info("restriction classifier: %d rules (%d invalid), keeps %.1f %% of the prior",
                len(x), n_invalid, 100 * record.kept_share)
    return restriction


def _finite_rows(x: Any) -> Any:
    """sbi's decision criterion: 1 for a valid rule (every chosen metric finite), else 0."""
    import torch

    return torch.isfinite(x).all(dim=1).long()
