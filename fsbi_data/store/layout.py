"""The labeled layout of a family's rules as an :class:`xarray.Dataset`.

One function builds it from released records (a NumPy structured array), one turns it back.
The store, the converters and the simulation append all use this layout:

- dims ``rule`` and ``param``;
- ``seed(rule)``: the 32-hex seeds, indexed by a :class:`~fsbi_data.store.seed_index.SeedIndex`
  (``ds.sel(seed=...)`` works);
- ``param(param)``: the family's parameter names, with ``connection``, ``low``, ``high``,
  ``units`` coordinates on ``param``;
- ``theta(rule, param)`` float64;
- one float64 variable per metric on ``rule`` with ``long_name``, ``units``, ``description``
  and, where the paper has one, ``plausible_range``;
- ``in_<round>(rule)`` booleans for round membership (added by the converter);
- attrs ``family``, ``task_name`` and ``provenance`` (a JSON list of sources and batches).

Examples
--------
>>> from fsbi_data.synthetic import release_records
>>> from fsbi_data.store.layout import dataset_from_records
>>> ds = dataset_from_records(release_records("6pPol", 5, rng=0), "6pPol")
>>> ds.theta.shape, ds.param.values[0]
((5, 25), 'tau_pre_ee')
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from ..schema import Family, family
from .seed_index import seed_coordinates

ROUND_PREFIX = "in_"


def metric_attrs(fam: Family, metric: str) -> dict[str, Any]:
    """The attributes of a metric variable."""
    m = fam.metric(metric)
    attrs: dict[str, Any] = {"long_name": m.long_name, "units": m.units,
                             "description": m.description}
    plausible = fam.plausible_range(metric)
    if plausible is not None:
        attrs["plausible_range"] = list(plausible)
    return attrs


def param_coords(fam: Family) -> dict[str, Any]:
    """The coordinates on the ``param`` dimension."""
    return {
        "param": ("param", np.array(fam.param_names, dtype=object)),
        "connection": ("param", np.array([p.connection for p in fam.parameters], dtype=object)),
        "low": ("param", fam.low),
        "high": ("param", fam.high),
        "units": ("param", np.array([p.units for p in fam.parameters], dtype=object)),
    }


def dataset_from_arrays(seeds: np.ndarray, theta: np.ndarray, metrics: dict[str, np.ndarray],
                        family_name: str | Family, provenance: list[dict] | None = None
                        ) -> xr.Dataset:
    """Build the layout from plain arrays (seeds as strings, theta (n, n_theta), metric columns)."""
    fam = family(family_name)
    seeds = np.asarray(seeds).astype(str)
    data_vars: dict[str, Any] = {
        "theta": (("rule", "param"), np.asarray(theta, dtype=np.float64),
                  {"long_name": "rule parameters",
                   "description": f"theta of the {fam.name} family; names, units and prior "
                                  f"bounds on the param coordinates"}),
    }
    for name in fam.metric_names:
        data_vars[name] = ("rule", np.asarray(metrics[name], dtype=np.float64),
                           metric_attrs(fam, name))
    ds = xr.Dataset(data_vars, coords=param_coords(fam), attrs=family_attrs(fam, provenance or []))
    return ds.assign_coords(seed_coordinates(seeds))


def dataset_from_records(records: np.ndarray, family_name: str | Family | None = None,
                         provenance: list[dict] | None = None) -> xr.Dataset:
    """Build the layout from released records (any family; inferred from the dtype if omitted)."""
    from ..schema import family_of_dtype

    fam = family(family_name) if family_name is not None else family_of_dtype(records.dtype)
    metrics = {name: records[name] for name in fam.metric_names}
    return dataset_from_arrays(records["seed"], records["theta"], metrics, fam, provenance)


def records_from_dataset(ds: xr.Dataset) -> np.ndarray:
    """The released record layout of a Dataset (the inverse of :func:`dataset_from_records`)."""
    fam = family(ds.attrs["family"])
    out = np.empty(ds.sizes["rule"], dtype=fam.record_dtype)
    out["seed"] = np.asarray(ds["seed"].values).astype(str)
    out["theta"] = ds["theta"].values
    for name in fam.metric_names:
        out[name] = ds[name].values
    return out


def family_attrs(fam: Family, provenance: list[dict]) -> dict[str, Any]:
    return {"family": fam.name, "task_name": fam.task_name,
            "provenance": json.dumps(provenance)}


def provenance(ds: xr.Dataset) -> list[dict]:
    """The provenance records of a Dataset (sources converted and batches appended)."""
    return json.loads(ds.attrs.get("provenance", "[]"))


def round_names(ds: xr.Dataset) -> tuple[str, ...]:
    """Names of the rounds whose membership the Dataset holds (e.g. ``('pi0', ..., 'pi3')``)."""
    return tuple(name[len(ROUND_PREFIX):] for name in ds.data_vars
                 if name.startswith(ROUND_PREFIX))
