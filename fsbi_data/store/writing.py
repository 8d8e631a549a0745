"""Writing parts of a store (Zarr v3 groups, checksummed) and publishing new stores."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import StoreConflictError, StoreError
from ..files import published, remove_abandoned
from ..schema import Family, family
from .encoding import encode_seeds, is_compressed, quiet_zarr, variable_encoding
from .manifest import FRAGMENTS, new_manifest, part_record, write_manifest


def publish_fragment(path: Path, manifest: dict[str, Any], ds: xr.Dataset) -> str:
    """Write ``ds`` as the next fragment of the store and record it in ``manifest`` (which
    the caller commits)."""
    sequence = manifest["next_fragment"]
    name = f"fragment-{sequence:06d}"
    (path / FRAGMENTS).mkdir(exist_ok=True)
    manifest["parts"][f"{FRAGMENTS}/{name}"] = publish_part(ds, path / FRAGMENTS / name)
    manifest["next_fragment"] = sequence + 1
    return name


def publish_part(ds: xr.Dataset, dest: Path) -> dict[str, Any]:
    """Write ``ds`` as a part at ``dest`` (beside it first, then renamed); its record."""
    with published(dest, directory=True) as tmp:
        write_part(ds, tmp)
        record = part_record(tmp)
    return record


def write_part(ds: xr.Dataset, path: Path) -> None:
    """Write a Dataset of the layout as a Zarr v3 group (seeds as ASCII bytes, strings as
    UTF-8), every chunk with its CRC32C, metadata consolidated.

    Zarr's asynchronous API writes the arrays concurrently: one round creates them, then each
    round writes one block of rows of every array (a chunk of :data:`CHUNK_ROWS` rows of the
    compressed ones, raw columns whole), read from ``ds`` beforehand, so that memory stays
    bounded when a whole store is compacted.
    """
    from zarr.api.asynchronous import consolidate_metadata, create_group
    from zarr.core.sync import sync

    arrays = {name: _array_of(name, variable) for name, variable in ds.variables.items()}
    coordinates = " ".join(name for name in ds.coords if name not in ds.dims)
    attrs = {**ds.attrs, **({"coordinates": coordinates} if coordinates else {})}

    async def create() -> dict[str, Any]:
        group = await create_group(store=str(path), zarr_format=3, attributes=attrs)
        created = await asyncio.gather(*(_create_array(group, name, *array)
                                         for name, array in arrays.items()))
        return dict(zip(arrays, created, strict=True))

    async def write(blocks: list[tuple[Any, slice, np.ndarray]]) -> None:
        await asyncio.gather(*(array.setitem(rows, data) for array, rows, data in blocks))

    with quiet_zarr():
        created = sync(create())
        steps = {name: _rows_per_write(array[0], array[3]) for name, array in arrays.items()}
        for block in range(max([-(-a[0].shape[0] // steps[n]) for n, a in arrays.items()
                                if a[0].size] or [0])):
            rows = {name: slice(block * step, (block + 1) * step)
                    for name, step in steps.items() if block * step < arrays[name][0].shape[0]}
            sync(write([(created[name], rows[name], np.asarray(arrays[name][0][rows[name]]
                                                               .values)) for name in rows]))
        sync(consolidate_metadata(str(path), zarr_format=3))


def _array_of(name: str, variable: xr.Variable) -> tuple[Any, ...]:
    """How one variable is stored: its data (lazy), dtype, fill value, encoding, attributes."""
    data = variable if name != "seed" else xr.Variable(
        variable.dims, encode_seeds(np.asarray(variable.values)))
    dtype = data.dtype
    if dtype.kind in "OUT":
        strings = np.array(np.asarray(variable.values).tolist(), dtype=np.dtypes.StringDType())
        data, dtype = xr.Variable(variable.dims, strings), str
    fill = {"f": np.nan, "b": False, "S": b"", "U": ""}.get(np.dtype(dtype).kind, 0)
    on_rule = variable.dims[:1] == ("rule",)
    encoding = variable_encoding(variable.shape, data.dtype, on_rule=on_rule)
    attrs = {k: v for k, v in variable.attrs.items() if k not in ("_FillValue", "coordinates")}
    return data, dtype, fill, encoding, attrs


def _rows_per_write(data: xr.Variable, encoding: dict[str, Any]) -> int:
    """Rows written at once: one chunk of a compressed variable on ``rule``, else all."""
    if data.dims[:1] == ("rule",) and is_compressed(encoding):
        return encoding["chunks"][0]
    return max(1, data.shape[0] if data.shape else 1)


async def _create_array(group: Any, name: str, data: xr.Variable, dtype: Any, fill: Any,
                        encoding: dict[str, Any], attrs: dict[str, Any]) -> Any:
    chunks = encoding.get("chunks") or data.shape
    return await group.create_array(
        name, shape=data.shape, dtype=dtype, chunks=tuple(max(1, c) for c in chunks),
        compressors=encoding["compressors"], fill_value=fill, attributes=attrs,
        dimension_names=data.dims, config={"write_empty_chunks": True})


def create(path: str | os.PathLike, family_name: str | Family) -> Path:
    """An empty store of a family, ready for :func:`append`.

    Examples
    --------
    >>> create("my.store", "6pPol")          # doctest: +SKIP
    """
    from .layout import dataset_from_arrays

    fam = family(family_name)
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path} already exists; give a new path for the store")
    empty = dataset_from_arrays(np.array([], dtype=str), np.empty((0, fam.n_theta)),
                                {m: np.empty(0) for m in fam.metric_names}, fam)
    return publish_new_store(path, fam, lambda base: write_part(empty, base))


def publish_new_store(path: Path, fam: Family, write_base: Any) -> Path:
    """Build a whole store beside ``path`` and publish it with one atomic rename.

    A writer killed meanwhile leaves its temporary sibling behind; the next attempt to
    create or open ``path`` removes it (:func:`fsbi_data.files.remove_abandoned`).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(path)
        with published(path, directory=True) as tmp:
            base = "base-000000"
            write_base(tmp / base)
            write_manifest(tmp, new_manifest(fam.name, base, part_record(tmp / base)),
                           durable=False)
    except OSError as error:
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST) and path.exists():
            raise StoreConflictError(f"could not publish the store at {path}: {error}; "
                                     f"another process created it meanwhile") from None
        if error.errno not in (errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM,
                               errno.EROFS):
            raise
        raise StoreError(f"cannot create the store {path}: {error.strerror} ({error.filename}); "
                         f"give a destination inside a writable folder") from None
    return path
