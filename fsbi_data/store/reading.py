"""Reading a store: its parts, checked, combined into one lazy Dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from ..errors import StoreError, StoreIntegrityError
from .encoding import quiet_zarr
from .integrity import METADATA_FILE, PartLocation
from .layout import ROUND_PREFIX
from .layout import provenance as recorded_provenance
from .lazy_rows import concat_variables
from .manifest import fragment_key, part_keys, read_manifest, recovery
from .parts import PartRows, StoreColumnArray, StoreColumns, read_part
from .seed_index import seed_coordinates


def open_part(path: Path, manifest: dict[str, Any], key: str, *,
              rule_only: bool = False) -> xr.Dataset | PartRows:
    """One part of a store, lazily indexed (no Dask: reads go straight to Zarr).

    Parts of format version 2 are read by :func:`fsbi_data.store.parts.read_part`: every chunk and
    metadata file read is checked against its checksum. Parts of version 1 carry none.
    """
    part = path / key
    record = manifest["parts"].get(key)
    location = PartLocation(path, key, recovery(manifest, key))
    if not part.is_dir():
        raise StoreIntegrityError(f"store {path}: the manifest names the part {key}, which is "
                                  f"missing. {location.recovery}")
    try:
        if record is not None:
            ds = read_part(part, record["metadata"], location, rule_only=rule_only)
        else:
            with quiet_zarr():
                ds = xr.open_zarr(str(part), chunks=None, mask_and_scale=False,
                                  decode_times=False)
    except StoreIntegrityError:
        raise
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise location.error(METADATA_FILE, f"the part's metadata cannot be read ({error})"
                             ) from None
    rows = record["rows"] if record else next(
        (f["rows"] for f in manifest["fragments"] if fragment_key(f) == key), None)
    if "seed" not in ds.variables or (rows is not None and ds.sizes.get("rule") != rows):
        raise location.error("seed/zarr.json", f"the part holds {ds.sizes.get('rule')} rules, "
                                               f"the manifest says {rows}")
    return ds


def stored_seeds(path: str | os.PathLike, manifest: dict[str, Any] | None = None) -> np.ndarray:
    """All seeds of a store (base and committed fragments) as fixed-width bytes."""
    path = Path(path)
    manifest = manifest or read_manifest(path)
    return concat_seeds([np.asarray(open_part(path, manifest, key, rule_only=True)["seed"]
                                    .values) for key in part_keys(manifest)])


def concat_seeds(arrays: list[np.ndarray]) -> np.ndarray:
    """The stored seeds of several parts as one fixed-width bytes array."""
    if len(arrays) == 1:
        return arrays[0]
    width = max(a.dtype.itemsize for a in arrays)
    return np.concatenate([a.astype(f"S{width}", copy=False) for a in arrays])


def open_path(path: str | os.PathLike, chunks: Any = None) -> xr.Dataset:
    """Open the store at ``path`` as one lazy Dataset (base and committed fragments).

    Variables are lazily indexed: selections compose without reading, and reads go straight
    to Zarr, touching only the chunks of the rows asked for. ``chunks`` (as in
    :meth:`xarray.Dataset.chunk`) makes them Dask arrays instead. Every byte read is checked
    against its checksum (:class:`~fsbi_data.errors.StoreIntegrityError` if damaged).
    """
    path = Path(path)
    manifest = read_manifest(path)
    ds = combine_parts(open_parts(path, manifest, part_keys(manifest)),
                       [b for f in manifest["fragments"] for b in f["batches"]])
    ds.encoding["source"] = str(path)
    return ds if chunks is None else ds.chunk(chunks)


def open_parts(path: Path, manifest: dict[str, Any], keys: list[str]
               ) -> list[xr.Dataset | PartRows]:
    """Parts of a store: the first whole, the others with their variables on ``rule`` only."""
    return [open_part(path, manifest, key, rule_only=i > 0) for i, key in enumerate(keys)]


def combine_parts(parts: list[xr.Dataset | PartRows], batches: list[dict[str, Any]]
                  ) -> xr.Dataset:
    """Parts of a store as one lazy Dataset, in order; the provenance of the first part (the
    converted sources and the batches merged into it) followed by ``batches``.

    When every part carries checksums, the numeric columns on ``rule`` (the metrics) are read
    together across the parts (:class:`~fsbi_data.store.parts.StoreColumns`); other variables of
    several parts are concatenated lazily (:func:`~fsbi_data.store.lazy_rows.concat_variables`).
    """
    first = parts[0]
    seeds = concat_seeds([np.asarray(p["seed"].values) for p in parts])
    columns = None
    if all("columns" in p.encoding for p in parts):
        columns = StoreColumns([p.encoding["columns"] for p in parts])
    variables = {}
    for name, variable in _union_of_variables(parts).items():
        if name == "seed":
            continue
        if "rule" not in variable.dims:
            variable = variable.load()  # small per-parameter coordinates
        elif columns is not None and name in columns.names:
            data = indexing.LazilyIndexedArray(StoreColumnArray(columns, name))
            variable = xr.Variable(variable.dims, data, variable.attrs)
        elif len(parts) > 1:
            variable = concat_variables([_part_variable(p, name, variable) for p in parts])
        variables[name] = variable
    coords = {name: variables.pop(name) for name in first.coords if name in variables}
    ds = xr.Dataset(variables, coords=coords).assign_coords(seed_coordinates(seeds))
    ds.attrs = {**first.attrs, "provenance": json.dumps(recorded_provenance(first) + batches)}
    return ds


def _union_of_variables(parts: list[xr.Dataset | PartRows]) -> dict[str, xr.Variable]:
    """The variables of the first part, then the round flags that later parts add (a round
    made after the first part was written), in the order they first appear."""
    variables = dict(parts[0].variables)
    for part in parts[1:]:
        for name, variable in part.variables.items():
            if name.startswith(ROUND_PREFIX) and name not in variables:
                variables[name] = variable
    return variables


def _part_variable(part: xr.Dataset | PartRows, name: str, like: xr.Variable) -> xr.Variable:
    """A variable of one part; round flags a part does not hold are False there."""
    if name in part.variables:
        return part.variables[name]
    columns = part.encoding.get("columns")
    if columns is not None and name in columns.arrays:  # a raw column left out of the part
        data = indexing.LazilyIndexedArray(columns.variable_data(name))
        return xr.Variable(like.dims, data, like.attrs)
    if not name.startswith(ROUND_PREFIX):
        raise StoreError(f"a fragment of the store lacks the variable {name!r}")
    return xr.Variable(like.dims, np.zeros(part.sizes["rule"], dtype=like.dtype), like.attrs)
