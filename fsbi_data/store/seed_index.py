"""The ``seed`` index of a rule Dataset: fixed-width strings, hashed on first lookup.

A store holds hundreds of thousands of seeds. Turning them into Python strings and hashing
them costs ~100 ms, which :func:`fsbi_data.open` should not pay for queries that never look a
seed up. :class:`SeedIndex` is an :class:`xarray.Index` that keeps the seeds as they are
stored (fixed-width ASCII bytes) or as a fixed-width unicode array, shows them as ``str``
through a lazily decoded coordinate, and builds its :class:`pandas.Index` (and the hash table
behind it) only when a label is first looked up. ``ds.sel(seed=...)``, ``ds.fsbi.rule(...)``,
``isel``, ``concat`` and alignment all work as with a plain pandas index.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"rate": ("rule", [1.0, 2.0, 3.0])},
...                 coords={"seed": ("rule", np.array(["a", "b", "c"]))})
>>> ds = ds.set_xindex("seed", SeedIndex)
>>> float(ds.sel(seed="b").rate)
2.0
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing
from xarray.core.indexes import Index, PandasIndex
from xarray.core.indexing import IndexSelResult

SEED = "seed"


def ascii_to_unicode(raw: np.ndarray) -> np.ndarray:
    """Fixed-width ASCII bytes (``S<n>``) as fixed-width unicode (``<U<n>``), without a loop.

    Each byte becomes one UTF-32 code unit: a widening copy, ~10× faster than ``astype``.
    """
    raw = np.ascontiguousarray(raw)
    if raw.dtype.itemsize == 0:
        return np.zeros(raw.shape, dtype="<U1")
    codes = raw.view(np.uint8).astype("<u4")
    return codes.view(f"<U{raw.dtype.itemsize}").reshape(raw.shape)


class DecodedSeeds(BackendArray):
    """Fixed-width ASCII seeds seen as unicode strings, decoding only the elements read."""

    def __init__(self, raw: np.ndarray) -> None:
        self.raw = raw
        self.shape = raw.shape
        self.dtype = np.dtype(f"<U{max(raw.dtype.itemsize, 1)}")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER,
            lambda k: ascii_to_unicode(self.raw[k]))

    def __deepcopy__(self, memo: dict[int, Any]) -> DecodedSeeds:
        return self  # read-only: every read returns newly decoded strings


class SeedIndex(Index):
    """An index of unique string seeds along one dimension, hashed lazily.

    ``seeds`` is a fixed-width array: ASCII bytes (``S<n>``, as stored) or unicode (``<U<n>``).
    """

    def __init__(self, seeds: np.ndarray, dim: Hashable, name: Hashable = SEED) -> None:
        self.raw = np.asarray(seeds)
        self.dim = dim
        self.name = name
        self._strings: np.ndarray | None = None
        self._pandas: pd.Index | None = None

    @property
    def seeds(self) -> np.ndarray:
        """The seeds as a fixed-width unicode array (bytes decoded once, on first use)."""
        if self.raw.dtype.kind != "S":
            return self.raw
        if self._strings is None:
            self._strings = ascii_to_unicode(self.raw)
        return self._strings

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def from_variables(cls, variables: Mapping[Any, xr.Variable], *,
                       options: Mapping[str, Any]) -> SeedIndex:
        if len(variables) != 1:
            raise ValueError(f"a SeedIndex indexes one coordinate, got {list(variables)}")
        name, variable = next(iter(variables.items()))
        if variable.ndim != 1:
            raise ValueError(f"the {name!r} coordinate of a SeedIndex must be 1-D")
        return cls(np.asarray(variable.values), variable.dims[0], name)

    def create_variables(self, variables: Mapping[Any, xr.Variable] | None = None
                         ) -> dict[Hashable, xr.Variable]:
        attrs, encoding = {}, {}
        if variables and self.name in variables:
            attrs = variables[self.name].attrs
            encoding = variables[self.name].encoding
        if self.raw.dtype.kind == "S" and self._strings is None:  # decoded where read
            data = indexing.LazilyIndexedArray(DecodedSeeds(self.raw))
        else:
            data = self.seeds
        return {self.name: xr.Variable(self.dim, data, attrs, encoding)}

    def _new(self, seeds: np.ndarray) -> SeedIndex:
        return type(self)(seeds, self.dim, self.name)

    @classmethod
    def concat(cls, indexes: Sequence[SeedIndex], dim: Hashable,
               positions: Iterable[Iterable[int]] | None = None) -> SeedIndex:
        kinds = {index.raw.dtype.kind for index in indexes}
        arrays = [index.raw if kinds == {"S"} else index.seeds for index in indexes]
        seeds = np.concatenate(arrays) if arrays else np.array([], dtype="<U1")
        if positions is not None:
            seeds = seeds[np.argsort(np.concatenate([np.asarray(p) for p in positions]))]
        first = indexes[0] if indexes else None
        return cls(seeds, dim, first.name if first is not None else SEED)

    # --- the pandas view, built on first use ------------------------------------------------
    def to_pandas_index(self) -> pd.Index:
        if self._pandas is None:
            self._pandas = pd.Index(self.seeds.astype(object), dtype=object, name=self.name)
        return self._pandas

    def _as_pandas_index(self) -> PandasIndex:
        return PandasIndex(self.to_pandas_index(), self.dim, coord_dtype=self.seeds.dtype)

    # --- selection --------------------------------------------------------------------------
    def sel(self, labels: dict[Any, Any], method: Any = None, tolerance: Any = None
            ) -> IndexSelResult:
        if method is not None or tolerance is not None:
            raise ValueError("seeds are exact labels: sel(seed=...) takes no method or tolerance")
        (label,) = labels.values()
        if isinstance(label, xr.DataArray | xr.Variable):
            label = label.values
        index = self.to_pandas_index()
        if np.ndim(label) == 0:
            return IndexSelResult({self.dim: index.get_loc(np.asarray(label).item())})
        wanted = np.asarray(label).ravel().astype(object)
        positions = index.get_indexer(wanted)
        if np.any(positions < 0):
            missing = wanted[positions < 0]
            raise KeyError(f"{len(missing)} seeds not found, e.g. {missing[0]!r}")
        return IndexSelResult({self.dim: positions.reshape(np.shape(label))})

    def isel(self, indexers: Mapping[Any, Any]) -> SeedIndex | None:
        indexer = indexers[self.dim]
        if isinstance(indexer, xr.Variable):
            if indexer.ndim != 1 or indexer.dims[0] != self.dim:
                return None
            indexer = indexer.values
        if np.ndim(indexer) == 0 and not isinstance(indexer, slice):
            return None
        return self._new(self.raw[indexer])

    # --- comparison and alignment -----------------------------------------------------------
    def equals(self, other: Index, **kwargs: Any) -> bool:
        if isinstance(other, SeedIndex):
            if self.raw.dtype.kind == other.raw.dtype.kind:
                return self.raw.shape == other.raw.shape and bool(np.all(self.raw == other.raw))
            return self.seeds.shape == other.seeds.shape and bool(np.all(self.seeds == other.seeds))
        if isinstance(other, PandasIndex):
            return self.to_pandas_index().equals(other.index)
        return False

    def join(self, other: Index, how: str = "inner") -> Index:
        joined = self._as_pandas_index().join(_as_pandas(other), how=how)
        return self._new(np.asarray(joined.index).astype(str))

    def reindex_like(self, other: Index, **kwargs: Any) -> dict[Hashable, Any]:
        return self._as_pandas_index().reindex_like(_as_pandas(other), **kwargs)

    def rename(self, name_dict: Mapping[Any, Hashable], dims_dict: Mapping[Any, Hashable]
               ) -> SeedIndex:
        renamed = type(self)(self.raw, dims_dict.get(self.dim, self.dim),
                             name_dict.get(self.name, self.name))
        renamed._strings, renamed._pandas = self._strings, self._pandas
        return renamed

    def _copy(self, deep: bool = True, memo: dict[int, Any] | None = None) -> SeedIndex:
        copied = type(self)(self.raw.copy() if deep else self.raw, self.dim, self.name)
        copied._pandas = self._pandas  # immutable
        if not deep:
            copied._strings = self._strings
        return copied

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"SeedIndex({len(self.raw):,} seeds on {self.dim!r})"


def _as_pandas(index: Index) -> PandasIndex:
    return index._as_pandas_index() if isinstance(index, SeedIndex) else index


def seed_coordinates(seeds: np.ndarray, dim: Hashable = "rule") -> xr.Coordinates:
    """The indexed ``seed`` coordinate on ``dim`` (seeds as fixed-width bytes or strings)."""
    index = SeedIndex(np.asarray(seeds), dim)
    return xr.Coordinates(index.create_variables(), indexes={SEED: index})
