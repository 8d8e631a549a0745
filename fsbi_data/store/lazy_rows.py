"""Lazy row operations on variables, without Dask: concatenation and selection of rows.

A store with appended fragments is one Dataset made of several Zarr groups. Concatenating
their lazily indexed variables with :func:`xarray.concat` would read every part into memory;
:class:`ConcatenatedArray` keeps them lazy: indexing it reads only the rows asked for, from the
parts that hold them. A query's result selects rows of every variable; :class:`SelectedRows`
records the selection once, where xarray's lazy indexing would compose each variable's indexer
with the selection at once (an array as long as the store, per variable). Both are
:class:`xarray.backends.BackendArray` s, wrapped in xarray's lazy indexing like the arrays of any
backend.

Examples
--------
>>> import numpy as np, xarray as xr
>>> parts = [xr.Variable("rule", np.arange(3.0)), xr.Variable("rule", np.arange(3.0, 5.0))]
>>> variable = concat_variables(parts)
>>> variable[[4, 0]].values
array([4., 0.])
>>> select_rows(variable, np.array([1, 3])).values
array([1., 3.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing


class ConcatenatedArray(BackendArray):
    """Variables concatenated along their first axis; rows are read from their own part."""

    def __init__(self, parts: Sequence[xr.Variable]) -> None:
        self.parts = list(parts)
        lengths = np.array([part.shape[0] for part in self.parts], dtype=np.int64)
        self.stops = np.cumsum(lengths)
        self.starts = self.stops - lengths
        self.shape = (int(self.stops[-1]),) + tuple(self.parts[0].shape[1:])
        self.dtype = np.result_type(*[part.dtype for part in self.parts])

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._outer_index)

    def _outer_index(self, key: tuple[Any, ...]) -> np.ndarray:
        rows, rest = key[0], tuple(key[1:])
        if isinstance(rows, slice) and rows.step in (None, 1):
            start, stop, _ = rows.indices(self.shape[0])
            pieces = [np.asarray(part[(slice(max(start - first, 0), max(stop - first, 0)),)
                                      + rest].values)
                      for part, first in zip(self.parts, self.starts, strict=True)]
            return np.concatenate(pieces).astype(self.dtype, copy=False)
        positions = np.arange(self.shape[0])[rows]
        if positions.ndim == 0:
            return self._rows(positions[None], rest)[0]
        return self._rows(positions, rest)

    def _rows(self, positions: np.ndarray, rest: tuple[Any, ...]) -> np.ndarray:
        owner = np.searchsorted(self.stops, positions, side="right")
        template = self.parts[0][(np.zeros(0, dtype=np.int64),) + rest]
        out = np.empty((positions.size,) + template.shape[1:], dtype=self.dtype)
        for i in np.unique(owner):
            here = owner == i
            local = positions[here] - self.starts[i]
            out[here] = np.asarray(self.parts[i][(local,) + rest].values)
        return out


def concat_variables(parts: Sequence[xr.Variable]) -> xr.Variable:
    """One lazy variable of ``parts`` (same dims) concatenated along their first dimension."""
    first = parts[0]
    if len(parts) == 1:
        return first
    data = indexing.LazilyIndexedArray(ConcatenatedArray(parts))
    return xr.Variable(first.dims, data, first.attrs, first.encoding)


class SelectedRows(BackendArray):
    """The rows ``rows`` (positions along the first axis) of a variable, read when used."""

    def __init__(self, variable: xr.Variable, rows: np.ndarray) -> None:
        self.variable = variable
        self.rows = rows
        self.shape = (len(rows),) + tuple(variable.shape[1:])
        self.dtype = variable.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._outer_index)

    def _outer_index(self, key: tuple[Any, ...]) -> np.ndarray:
        return np.asarray(self.variable[(self.rows[key[0]],) + tuple(key[1:])].values)


def select_rows(variable: xr.Variable, rows: np.ndarray) -> xr.Variable:
    """``variable`` at the positions ``rows`` (non-negative ints) of its first dimension, lazily."""
    data = indexing.LazilyIndexedArray(SelectedRows(variable, np.asarray(rows)))
    return xr.Variable(variable.dims, data, variable.attrs, variable.encoding)
