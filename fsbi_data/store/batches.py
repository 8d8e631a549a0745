"""Batches of rules to append: brought to the store's layout and checked before any write.

A batch is refused, as a whole and with one error naming the rows and the field, when it holds
rules of another family, theta of the wrong width, theta that is not finite, theta outside the
family's prior box (unless that is asked for on purpose), or metrics that are infinite (but for
``kl_isi``, which is +inf for degenerate completed runs in the release). NaN metrics are
accepted: a NaN is a simulation that blew up, as in the release.

Examples
--------
>>> from fsbi_data.store.layout import dataset_from_records
>>> from fsbi_data.schema import family
>>> from fsbi_data.synthetic import release_records
>>> batch = dataset_from_records(release_records("6pPol", 3, rng=0), "6pPol")
>>> check_batch(batch, family("6pPol"))
0
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import DuplicateSeedError, InvalidRulesError
from ..schema import Family, family, family_of_dtype
from .layout import ROUND_PREFIX, dataset_from_records

PRIOR_TOLERANCE = 1e-6
"""Relative slack of the prior box check: rules drawn in float32 may round past a bound."""


def as_layout(rules: xr.Dataset | np.ndarray, fam: Family) -> xr.Dataset:
    """A batch as an in-memory Dataset of the family ``fam``, with the layout's variables."""
    if isinstance(rules, np.ndarray):
        if rules.dtype.names is None:
            raise InvalidRulesError(
                f"the batch is a plain {rules.dtype} array of shape {rules.shape}; give "
                f"released-format records of {fam.name} (a structured array) or a Dataset "
                f"built with fsbi_data.store.layout.dataset_from_arrays")
        try:
            batch_family = family_of_dtype(rules.dtype)
        except Exception as error:
            raise InvalidRulesError(f"the batch's records are not {fam.name} records: "
                                    f"{error}") from None
        _same_family(batch_family.name, fam)
        return dataset_from_records(rules, fam)
    if not isinstance(rules, xr.Dataset):
        raise TypeError(f"rules must be an xarray.Dataset or a structured array, "
                        f"not {type(rules).__name__}")
    _same_family(rules.attrs.get("family", fam.name), fam)
    missing = [v for v in ("theta", *fam.metric_names) if v not in rules]
    if "seed" not in rules.coords:
        missing.append("seed")
    if missing:
        raise InvalidRulesError(f"the batch lacks {', '.join(missing)}; build it with "
                                f"fsbi_data.store.layout.dataset_from_arrays (metrics may be NaN)")
    width = rules["theta"].shape[-1] if rules["theta"].ndim == 2 else None
    if width != fam.n_theta:
        raise InvalidRulesError(
            f"the batch's theta has shape {rules['theta'].shape}; {fam.name} rules have "
            f"{fam.n_theta} parameters ({', '.join(fam.param_names[:3])}, …): give theta of "
            f"shape (n_rules, {fam.n_theta})")
    names = tuple(np.asarray(rules["param"].values).astype(str))
    if names != fam.param_names:
        raise InvalidRulesError(f"the batch's theta has parameters {names}, expected the "
                                f"{fam.name} parameters {fam.param_names}")
    keep = ["theta", *fam.metric_names] + [v for v in rules.data_vars
                                           if v.startswith(ROUND_PREFIX)]
    return rules[keep].load()


def _same_family(name: str, fam: Family) -> None:
    if family(name).name != fam.name:
        raise InvalidRulesError(f"the batch holds {family(name).name} rules but the store "
                                f"holds {fam.name} rules; append to a store of the batch's "
                                f"family")


def _rows(rows: np.ndarray, seeds: np.ndarray) -> str:
    shown = ", ".join(f"{r} (seed {seeds[r]})" for r in rows[:3])
    return f"row {shown}" if len(rows) == 1 else (
        f"{len(rows)} rows: {shown}{', …' if len(rows) > 3 else ''}")


def check_batch(batch: xr.Dataset, fam: Family, allow_outside_prior: bool = False) -> int:
    """Refuse a batch (:class:`InvalidRulesError`) unless every rule is valid.

    Theta must be finite and, unless ``allow_outside_prior``, inside the family's prior box
    (up to :data:`PRIOR_TOLERANCE` of the bounds' magnitude); metrics finite or NaN (or +inf
    where a completed run can give it: ``kl_isi``).

    Returns
    -------
    int
        How many rules lie outside the prior box (accepted with ``allow_outside_prior``).
    """
    seeds = np.asarray(batch["seed"].values).astype(str)
    theta = np.asarray(batch["theta"].values, dtype=np.float64)
    not_finite = ~np.isfinite(theta)
    if not_finite.any():
        rows = np.flatnonzero(not_finite.any(axis=1))
        param = fam.param_names[int(np.flatnonzero(not_finite[rows[0]])[0])]
        raise InvalidRulesError(
            f"field 'theta': not finite in {_rows(rows, seeds)} (first: {param} = "
            f"{theta[rows[0], fam.param_names.index(param)]}); every parameter of a rule must "
            f"be a finite number; nothing was appended")
    for metric in fam.metrics:
        values = np.asarray(batch[metric.name].values, dtype=np.float64)
        infinite = (values == -np.inf) | ((values == np.inf) & (not metric.can_be_infinite))
        if infinite.any():
            rows = np.flatnonzero(infinite)
            allowed = "finite, +inf" if metric.can_be_infinite else "finite"
            raise InvalidRulesError(
                f"field {metric.name!r}: {values[rows[0]]} in {_rows(rows, seeds)}; this metric "
                f"must be {allowed}, or NaN for a simulation that blew up; nothing was appended")
    slack = PRIOR_TOLERANCE * np.maximum(np.abs(fam.low), np.abs(fam.high))
    outside = (theta < fam.low - slack) | (theta > fam.high + slack)
    rows = np.flatnonzero(outside.any(axis=1))
    if rows.size and not allow_outside_prior:
        j = int(np.flatnonzero(outside[rows[0]])[0])
        raise InvalidRulesError(
            f"field 'theta': outside the {fam.name} prior box in {_rows(rows, seeds)} (first: "
            f"{fam.param_names[j]} = {theta[rows[0], j]:g}, bounds [{fam.low[j]:g}, "
            f"{fam.high[j]:g}]); pass allow_outside_prior=True (--allow-outside-prior) to "
            f"append such rules on purpose (recorded in the batch's provenance); nothing was "
            f"appended")
    return int(rows.size)


def unique_in_batch(batch: xr.Dataset) -> tuple[xr.Dataset, int]:
    """Drop repeated identical rules of a batch; refuse two different rules with one seed."""
    seeds = np.asarray(batch["seed"].values).astype(str)
    _, first, counts = np.unique(seeds, return_index=True, return_counts=True)
    if (counts == 1).all():
        return batch, 0
    records = np.column_stack([batch["theta"].values] + [batch[v].values for v in batch.data_vars
                                                         if v != "theta"]).astype(np.float64)
    for index in first[counts > 1]:
        rows = np.flatnonzero(seeds == seeds[index])
        if not all(records[r].tobytes() == records[index].tobytes() for r in rows):
            raise DuplicateSeedError(
                f"the batch holds different rules with the seed {seeds[index]}; give each "
                f"rule its own seed")
    keep = np.sort(first)
    return batch.isel(rule=keep), int(len(seeds) - len(keep))
