"""The ``.fsbi`` accessor on rule Datasets: the paper's criteria and range queries.

Importing :mod:`fsbi_data` registers it on every :class:`xarray.Dataset` in the layout of
:mod:`fsbi_data.store.layout` — a store opened with :func:`fsbi_data.open` (lazy) or one built in
memory alike. Every bound comes from :mod:`fsbi_data.schema`; both ends of a range are
inclusive and NaN fails every bound, as in the paper.

Examples
--------
>>> import fsbi_data
>>> from fsbi_data.store.layout import dataset_from_records
>>> from fsbi_data.synthetic import release_records
>>> ds = dataset_from_records(release_records("6pPol", 2000, rng=0))
>>> ds.fsbi.plausible().sizes["rule"] <= ds.fsbi.criteria("stable activity").sizes["rule"]
True
>>> ds.fsbi.where(rate=(5, 10), cv_isi=(0.7, None)).sizes["rule"] > 0
True
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .errors import QueryError, UnknownNameError
from .schema import ACCUMULATION_GROUPS, Condition, Family, family
from .store.layout import ROUND_PREFIX, round_names
from .store.lazy_rows import select_rows

Range = tuple[float | None, float | None]
MASK_BLOCK_ROWS = 65_536  # rules per block when evaluating bounds (cache-sized)


class UnknownSeedError(UnknownNameError):
    """A seed that is not in the Dataset (a ``KeyError``); the message shows the closest."""


def source(variable: xr.Variable) -> tuple[Any, ...]:
    """What a copy of the values of a variable that is not in memory stays valid for.

    The variable object (item assignment, ``update`` and ``assign`` put a new one in the
    Dataset), the array behind it (``.load()`` and ``.data = ...`` swap it) and the name of a
    Dask graph (item assignment on a Dask array changes its graph and name in place).
    """
    data = variable._data
    return variable, data, getattr(data, "name", None)


def bound_checks(condition: Condition) -> list[tuple[np.ufunc, float]]:
    """The comparisons that decide ``low <= value <= high``, NaN failing.

    An infinite end needs no comparison when the other end is finite (that comparison already
    fails NaN); a range open at both ends keeps one, so that NaN still fails it.
    """
    checks = []
    if condition.low != -np.inf:
        checks.append((np.greater_equal, condition.low))
    if condition.high != np.inf or not checks:
        checks.append((np.less_equal, condition.high))
    return checks


@xr.register_dataset_accessor("fsbi")
class FsbiAccessor:
    """Queries of a family's rules: ``ds.fsbi.plausible()``, ``ds.fsbi.where(...)``, …"""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds
        # xarray keeps this accessor on the Dataset for as long as the Dataset lives, through
        # every change to its variables: what it keeps says what it was computed from.
        self._read: dict[str, tuple[tuple[Any, ...], np.ndarray]] = {}
        self._sorted_seeds: tuple[pd.Index, list[str]] | None = None

    # --- names and columns ------------------------------------------------------------------
    @property
    def family(self) -> Family:
        """The rule family of the Dataset (from its ``family`` attribute)."""
        if "family" not in self._ds.attrs:
            raise QueryError("this Dataset has no 'family' attribute; open it with fsbi_data.open")
        return family(self._ds.attrs["family"])

    def _canonical(self, name: str) -> tuple[str, str]:
        """('metric' | 'param', canonical name) for a metric or parameter name."""
        fam = self.family
        if name in fam.metric_names:
            return "metric", name
        canonical = fam.aliases.get(name, name)
        if canonical in fam.param_names:
            return "param", canonical
        raise UnknownNameError(
            f"{name!r} is neither a metric nor a parameter of {fam.name}; metrics: "
            f"{', '.join(fam.metric_names)}; parameters: {', '.join(fam.param_names)}"
        )

    def _values(self, name: str) -> np.ndarray:
        """The values of the Dataset's variable ``name``, as they are now.

        A variable in memory gives its own array, without a copy, so that changes made in
        place are seen. Any other (a store's, Dask, a query's result) is read through the
        variable. If it then keeps the values itself (xarray's memory cache of a backend array)
        it is in memory from then on; if not, the accessor keeps the copy read for as long as
        the Dataset holds that same variable over the same array (see :func:`source`).
        """
        variable = self._ds.variables[name]
        if variable._in_memory:
            return variable.values
        kept = self._kept(name, variable)
        if kept is None:
            kept = np.asarray(variable.values)
            if not variable._in_memory:  # it keeps no copy of its own
                self._read[name] = source(variable), kept
        return kept

    def _kept(self, name: str, variable: xr.Variable) -> np.ndarray | None:
        """The copy of ``variable``'s values read earlier, if it still holds them."""
        if name not in self._read:
            return None
        read_from, values = self._read[name]
        current = source(variable)
        return values if all(a is b for a, b in zip(read_from, current, strict=True)) else None

    def column(self, name: str) -> np.ndarray:
        """The current values of a metric or parameter as a NumPy array.

        Read from the Dataset's variable as :meth:`_values` says; a parameter is a column (a
        view) of ``theta``, which is read whole.
        """
        kind, canonical = self._canonical(name)
        if kind == "metric":
            return self._values(canonical)
        return self._values("theta")[:, self.family.param_names.index(canonical)]

    # --- masks and selections -----------------------------------------------------------------
    def _conditions(self, ranges: dict[str, Any]) -> list[Condition]:
        conditions = []
        for name, bounds in ranges.items():
            _, canonical = self._canonical(name)
            if not (isinstance(bounds, Sequence) and not isinstance(bounds, str)
                    and len(bounds) == 2):
                raise QueryError(
                    f"the range of {name!r} must be a pair (low, high), with None for an open "
                    f"end; got {bounds!r}"
                )
            low = -np.inf if bounds[0] is None else float(bounds[0])
            high = np.inf if bounds[1] is None else float(bounds[1])
            if np.isnan(low) or np.isnan(high):
                raise QueryError(f"the range of {name!r} has a NaN bound: {bounds!r}")
            if low > high:
                raise QueryError(
                    f"the range of {name!r} is reversed: low {low} > high {high}; write "
                    f"{name}=({high}, {low})"
                )
            conditions.append(Condition(canonical, low, high))
        return conditions

    def _mask_of(self, conditions: Iterable[Condition]) -> xr.DataArray:
        checks = [(self.column(c.metric), compare, bound)
                  for c in conditions for compare, bound in bound_checks(c)]
        n = self._ds.sizes["rule"]
        mask = np.ones(n, dtype=bool)
        scratch = np.empty(min(n, MASK_BLOCK_ROWS), dtype=bool)
        # Block by block, so that the mask and the scratch stay in the CPU cache.
        for start in range(0, n, MASK_BLOCK_ROWS):
            block = mask[start:start + MASK_BLOCK_ROWS]
            out = scratch[:len(block)]
            for values, compare, bound in checks:
                compare(values[start:start + MASK_BLOCK_ROWS], bound, out=out)
                block &= out
        return self._on_rules(mask)

    def _on_rules(self, values: np.ndarray) -> xr.DataArray:
        """``values`` as a DataArray on ``rule``, with the Dataset's indexed ``seed`` coordinate."""
        if "seed" not in self._ds.coords:
            return xr.DataArray(values, dims="rule")
        indexes = {"seed": self._ds.xindexes["seed"]} if "seed" in self._ds.xindexes else {}
        seed = xr.Coordinates({"seed": self._ds.variables["seed"]}, indexes=indexes)
        # Through a Dataset: the DataArray constructor would deep-copy the seeds (45 MB in
        # memory at full scale, 4 ms per query).
        return xr.Dataset({"values": ("rule", values)}, coords=seed)["values"].rename(None)

    def mask(self, **ranges: Range) -> xr.DataArray:
        """Boolean mask on ``rule``: every ``name=(low, high)`` range holds (inclusive).

        Names are metrics or parameters (``input_rate`` is an alias of ``rate_poisson``);
        ``None`` leaves an end open.
        """
        return self._mask_of(self._conditions(ranges))

    def select(self, mask: xr.DataArray | np.ndarray) -> xr.Dataset:
        """The rules where ``mask`` is true.

        The selection is lazy: nothing is read or copied until its values are used. Values
        this accessor has read and kept (see :meth:`column`) are then indexed in memory, every
        other variable read from where it lives.
        """
        index = np.flatnonzero(np.asarray(mask))
        data_vars = {}
        for name, variable in self._ds.variables.items():
            if name in self._ds.coords:
                continue
            kept = self._kept(name, variable)
            if kept is not None:
                variable = variable.copy(deep=False, data=kept)
            if variable.dims[:1] == ("rule",):
                variable = select_rows(variable, index)
            elif "rule" in variable.dims:
                variable = variable.isel(rule=index)
            data_vars[name] = variable
        coords = self._ds.coords.to_dataset().isel(rule=index).coords
        return xr.Dataset(data_vars, coords=coords, attrs=self._ds.attrs)

    def where(self, **ranges: Range) -> xr.Dataset:
        """The rules meeting every range, e.g. ``where(rate=(5, 10), cv_isi=(0.7, None))``."""
        return self.select(self.mask(**ranges))

    def criteria_mask(self, name: str = "plausible", bounds: str = "figures") -> xr.DataArray:
        """Mask of a named criteria set of the family (see :meth:`criteria`)."""
        return self._mask_of(self.family.criteria(name, bounds))

    def criteria(self, name: str = "plausible", bounds: str = "figures") -> xr.Dataset:
        """The rules meeting a named criteria set.

        ``name`` is one of the accumulation-figure groups ``"stable activity"``,
        ``"stable weights"``, ``"A.I. dynamics"``, ``"plausible"``, or another set of the
        family (``fsbi_data.family(...).criteria_names``). ``bounds="analyse"`` uses the
        original code's ``condition()`` bounds instead of the published figures'.
        """
        return self.select(self.criteria_mask(name, bounds))

    def plausible(self, bounds: str = "figures") -> xr.Dataset:
        """The rules meeting the paper's plausibility criteria for the family."""
        return self.criteria("plausible", bounds)

    # --- rounds -----------------------------------------------------------------------------
    def round_mask(self, label: str) -> xr.DataArray:
        if not isinstance(label, str):
            raise QueryError(
                f"a round is named by its label, such as 'pi3', not {label!r}; rounds: "
                f"{', '.join(round_names(self._ds)) or 'none'}")
        name = ROUND_PREFIX + label
        if name not in self._ds:
            raise UnknownNameError(
                f"no round {label!r} in this Dataset; rounds: "
                f"{', '.join(round_names(self._ds)) or 'none (convert with round files)'}"
            )
        return self._ds[name].load()

    def round(self, label: str) -> xr.Dataset:
        """The rules of a released round file, e.g. ``round("pi3")``."""
        return self.select(self.round_mask(label))

    def fractions(self, groups: Iterable[str] = ACCUMULATION_GROUPS, by: str | None = "round",
                  bounds: str = "figures") -> pd.DataFrame:
        """Fraction of rules meeting each criteria group, per round (tidy table).

        Columns: ``round``, ``group``, ``n_rules``, ``n_meeting``, ``fraction``. Blown-up rules
        (NaN metrics) count in the denominator, as in the paper. ``by=None`` gives one row per
        group over the whole Dataset (round ``"all"``).
        """
        if by not in ("round", None):
            raise QueryError(f"fractions(by=...) takes 'round' or None, not {by!r}")
        groups = list(groups)
        masks = {g: np.asarray(self.criteria_mask(g, bounds)) for g in groups}
        if by is None:
            selections = {"all": np.ones(self._ds.sizes["rule"], dtype=bool)}
        else:
            labels = round_names(self._ds)
            if not labels:
                raise QueryError("this Dataset holds no round membership; use by=None")
            selections = {label: np.asarray(self.round_mask(label)) for label in labels}
        rows = []
        for label, members in selections.items():
            n_rules = int(members.sum())
            for group in groups:
                n_meeting = int((masks[group] & members).sum())
                rows.append({"round": label, "group": group, "n_rules": n_rules,
                             "n_meeting": n_meeting,
                             "fraction": n_meeting / n_rules if n_rules else np.nan})
        return pd.DataFrame(rows)

    # --- seeds ------------------------------------------------------------------------------
    def _seed_index(self) -> pd.Index:
        if "seed" not in self._ds.indexes:
            raise QueryError("this Dataset has no indexed 'seed' coordinate; "
                             "use ds.set_xindex('seed')")
        return self._ds.indexes["seed"]

    def _closest(self, seed: str, n: int = 3) -> list[str]:
        index = self._seed_index()
        if self._sorted_seeds is None or self._sorted_seeds[0] is not index:
            self._sorted_seeds = index, sorted(map(str, index))
        seeds = self._sorted_seeds[1]
        at = bisect.bisect_left(seeds, seed)
        return seeds[max(0, at - n // 2 - 1):at + n // 2 + 1][:n]

    def _unknown(self, missing: list[str]) -> UnknownSeedError:
        shown = ", ".join(repr(s) for s in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        closest = ", ".join(repr(s) for s in self._closest(str(missing[0])))
        return UnknownSeedError(
            f"seed {shown}{more} not in this Dataset of {self._ds.sizes['rule']:,} rules; "
            f"closest seeds: {closest}"
        )

    def positions(self, seeds: Iterable[str]) -> np.ndarray:
        """Row positions of the given seeds (KeyError with the closest seeds if one is absent)."""
        seeds = np.asarray(list(seeds) if not isinstance(seeds, np.ndarray) else seeds,
                           dtype=object)
        index = self._seed_index()
        if not index.is_unique:
            raise QueryError("the seeds of this Dataset are not unique; convert it with "
                             "fsbi_data.convert, which resolves duplicate seeds")
        positions = index.get_indexer(seeds)
        if np.any(positions < 0):
            raise self._unknown([str(s) for s in seeds[positions < 0]])
        return positions

    def rule(self, seed: str) -> xr.Dataset:
        """The rule with this seed (indexed lookup)."""
        try:
            position = self._seed_index().get_loc(seed)
        except KeyError:
            raise self._unknown([seed]) from None
        return self._ds.isel(rule=position)

    def rules(self, seeds: Iterable[str]) -> xr.Dataset:
        """The rules with these seeds, in the given order."""
        return self._ds.isel(rule=self.positions(seeds))

    # --- exports ----------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame: one row per rule (seed index), parameter and metric columns."""
        fam = self.family
        data: dict[str, np.ndarray] = {}
        theta = self._values("theta")
        for j, name in enumerate(fam.param_names):
            data[name] = theta[:, j]
        for name in fam.metric_names:
            data[name] = self.column(name)
        for label in round_names(self._ds):
            data[ROUND_PREFIX + label] = np.asarray(self._ds[ROUND_PREFIX + label].values)
        index = pd.Index(np.asarray(self._ds["seed"].values).astype(str), name="seed")
        return pd.DataFrame(data, index=index)

    def to_torch(self, metrics: Sequence[str] = ("rate",), dtype: Any = None):
        """``(theta, x)`` as torch tensors for sbi.

        ``theta`` is the rule's parameters without the nuisance input rate; ``x`` holds the
        chosen metrics, one column each. Both float32 unless ``dtype`` says otherwise.
        """
        try:
            import torch
        except ImportError:
            raise QueryError("to_torch needs PyTorch: pip install 'fsbi-data[inference]'"
                             ) from None
        fam = self.family
        for name in metrics:
            if self._canonical(name)[0] != "metric":
                raise UnknownNameError(f"{name!r} is not a metric of {fam.name}; metrics: "
                                       f"{', '.join(fam.metric_names)}")
        dtype = dtype or torch.float32
        n_rule = len(fam.rule_param_names)
        theta = self._values("theta")[:, :n_rule]
        x = np.stack([self.column(m) for m in metrics], axis=1)
        return torch.as_tensor(theta, dtype=dtype), torch.as_tensor(x, dtype=dtype)

    def describe(self, bounds: str = "figures") -> pd.DataFrame:
        """A summary of every metric: completed runs, quantiles, plausible range, share inside."""
        fam = self.family
        n = self._ds.sizes["rule"]
        ranges = {c.metric: (c.low, c.high) for c in fam.criteria("plausible", bounds)}
        rows = []
        for name in fam.metric_names:
            values = self.column(name)
            finite = values[np.isfinite(values)]
            low, high = ranges.get(name, (np.nan, np.nan))
            inside = np.count_nonzero((values >= low) & (values <= high)) / n if n else np.nan
            q = np.quantile(finite, [0.05, 0.5, 0.95]) if finite.size else [np.nan] * 3
            rows.append({
                "metric": name, "units": fam.metric(name).units, "n_nan": int(np.isnan(values)
                                                                             .sum()),
                "p05": q[0], "median": q[1], "p95": q[2],
                "plausible_low": low, "plausible_high": high,
                "fraction_inside": inside if name in ranges else np.nan,
            })
        return pd.DataFrame(rows).set_index("metric")
