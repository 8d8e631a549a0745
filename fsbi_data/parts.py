"""Reading one part of a store (a Zarr v3 group written by the store), with every byte checked.

A part is plain Zarr v3, readable by any Zarr reader. The store reads the parts it wrote itself
without Zarr's asynchronous machinery (about a millisecond per call), which keeps opening a
store and reading many columns of many parts fast:

- the metadata come from the part's consolidated ``zarr.json``, checked against its sha256 in
  the manifest;
- *raw columns* (1-D arrays stored as little-endian bytes + the CRC32C of Zarr's ``crc32c``
  codec: seeds, metrics, the bounds on ``param``) and strings (``vlen-utf8`` + ``crc32c``) are
  read straight from their chunk files: one read, one CRC check, a zero-copy view;
- compressed arrays (theta, round flags) are read through Zarr, from a
  :class:`~fsbi_data.integrity.CheckedStore`, when first used.

A missing, truncated or damaged file raises a :class:`~fsbi_data.errors.StoreIntegrityError`
naming the chunk.

Examples
--------
>>> meta = {"shape": [3], "data_type": "float64", "codecs": [{"name": "bytes", "configuration":
...         {"endian": "little"}}, {"name": "crc32c"}], "chunk_grid": {"name": "regular",
...         "configuration": {"chunk_shape": [3]}}, "chunk_key_encoding": {"name": "default"}}
>>> raw_dtype(meta)
dtype('float64')
"""

from __future__ import annotations

import json
import os
import weakref
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .errors import StoreIntegrityError
from .integrity import (
    CRC_BYTES,
    METADATA_FILE,
    CheckedStore,
    PartLocation,
    chunk_is_intact,
    sha256_bytes,
)

XARRAY_ATTRS = ("_FillValue", "coordinates")
"""Attributes xarray writes for itself, not attributes of the variable."""


def read_part(part: Path, metadata: dict[str, str], location: PartLocation) -> xr.Dataset:
    """A part as a lazy Dataset: nothing but its root metadata file is read until used.

    ``metadata`` holds the sha256 of the part's metadata files, as the manifest records them.
    """
    try:
        text = (part / METADATA_FILE).read_bytes()
    except FileNotFoundError:
        raise location.error(METADATA_FILE, "the metadata file is missing") from None
    if sha256_bytes(text) != metadata.get(METADATA_FILE):
        raise location.error(METADATA_FILE, "the metadata file differs from its sha256 in the "
                                            "manifest")
    root = json.loads(text)
    arrays = {name: meta for name, meta in root["consolidated_metadata"]["metadata"].items()
              if meta.get("node_type") == "array"}
    attrs = dict(root.get("attributes", {}))
    coord_names = set(attrs.pop("coordinates", "").split())
    columns = PartColumns(part, arrays, location)
    store = CheckedStore(part, metadata=metadata, location=location)
    variables = {}
    for name, meta in arrays.items():
        dims = tuple(meta["dimension_names"])
        coord_names |= set(meta["attributes"].get("coordinates", "").split())
        if dims == (name,):
            coord_names.add(name)
        data = columns.variable_data(name) or ZarrArray(store, name, meta)
        variables[name] = xr.Variable(
            dims, indexing.LazilyIndexedArray(data),
            {k: v for k, v in meta["attributes"].items() if k not in XARRAY_ATTRS})
    return xr.Dataset({n: v for n, v in variables.items() if n not in coord_names},
                      coords={n: v for n, v in variables.items() if n in coord_names},
                      attrs=attrs)


SIMPLE_TYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float32", "float64")


def raw_dtype(meta: dict[str, Any]) -> np.dtype | None:
    """The NumPy dtype of a 1-D array stored as raw bytes (or UTF-8 strings) + CRC32C; None
    for any other array."""
    codecs = [codec["name"] for codec in meta.get("codecs", [])]
    endian = (meta.get("codecs") or [{}])[0].get("configuration", {}).get("endian", "little")
    encoding = meta.get("chunk_key_encoding", {})
    if (codecs[-1:] != ["crc32c"] or endian != "little" or len(meta.get("shape", [])) != 1
            or meta.get("chunk_grid", {}).get("name") != "regular"
            or encoding.get("name") != "default"
            or encoding.get("configuration", {}).get("separator", "/") != "/"):
        return None
    data_type = meta["data_type"]
    if codecs == ["vlen-utf8", "crc32c"] and data_type == "string":
        return np.dtypes.StringDType()
    if codecs != ["bytes", "crc32c"]:
        return None
    if isinstance(data_type, str) and data_type in SIMPLE_TYPES:
        return np.dtype(data_type).newbyteorder("<")
    if isinstance(data_type, dict) and data_type.get("name") == "null_terminated_bytes":
        return np.dtype(f"S{data_type['configuration']['length_bytes']}")
    return None


class PartColumns:
    """The raw columns of one part, read straight from their chunk files and checked.

    Reading chunk ``i`` of a numeric column reads chunk ``i`` of every numeric column of the
    same length into one buffer. Each column's rows are handed out (checked) once from that
    buffer; asking for a column again reads again, so that every read returns fresh memory
    that the caller may change. One large buffer is much cheaper than many small ones: NumPy
    asks the kernel for huge pages for it, one page fault per 2 MiB instead of one per 4 KiB.
    Byte strings (the seeds, read at every open) and UTF-8 strings are read on their own.
    """

    def __init__(self, folder: Path, arrays: dict[str, dict[str, Any]],
                 location: PartLocation) -> None:
        self.folder = folder
        self.location = location
        self.arrays: dict[str, tuple[int, int, np.dtype]] = {}
        for name, meta in arrays.items():
            dtype = raw_dtype(meta)
            if dtype is not None:
                chunk_rows = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
                self.arrays[name] = (int(meta["shape"][0]), chunk_rows, dtype)
        self._shared: dict[tuple[int, int, int], tuple[weakref.ref, dict[str, slice]]] = {}

    def variable_data(self, name: str) -> RawColumnArray | None:
        return RawColumnArray(self, name) if name in self.arrays else None

    def chunk(self, name: str, index: int) -> np.ndarray:
        """The rows of chunk ``index`` of column ``name``, checked against its CRC32C."""
        n_rows, chunk_rows, dtype = self.arrays[name]
        data = self._claim(name, index) if dtype.kind in "biuf" else None
        if data is None:
            data = self._read(name, index, None if dtype.kind == "T" else
                              np.empty(chunk_rows * dtype.itemsize + CRC_BYTES, np.uint8))
        if not chunk_is_intact(data):
            raise self.location.error(f"{name}/c/{index}", "the chunk's CRC32C does not match "
                                                           "its bytes (damaged)")
        rows = min(chunk_rows, n_rows - index * chunk_rows)
        if dtype.kind == "T":
            return decode_vlen_utf8(data[:-CRC_BYTES], rows, self.location, f"{name}/c/{index}")
        return data[:-CRC_BYTES].view(dtype)[:rows]

    def _claim(self, name: str, index: int) -> np.ndarray | None:
        """Column ``name``'s bytes of the shared read of chunk ``index``, once; a new shared
        read when this column's bytes were handed out already."""
        n_rows, chunk_rows, _ = self.arrays[name]
        group = (n_rows, chunk_rows, index)
        reference, unclaimed = self._shared.get(group, (lambda: None, {}))
        shared = reference()
        if shared is None or name not in unclaimed:
            names = [n for n, (rows, chunk, dtype) in self.arrays.items()
                     if (rows, chunk) == (n_rows, chunk_rows) and dtype.kind in "biuf"]
            sizes = [chunk_rows * self.arrays[n][2].itemsize + CRC_BYTES for n in names]
            ends = np.cumsum(sizes)
            unclaimed = {n: slice(int(end - size), int(end))
                         for n, size, end in zip(names, sizes, ends, strict=True)}
            shared = np.empty(int(ends[-1]), dtype=np.uint8)
            try:
                for n, where in unclaimed.items():
                    self._read(n, index, shared[where])
            except StoreIntegrityError:
                return None  # read each column on its own, so that only a damaged one raises
            self._shared[group] = (weakref.ref(shared), unclaimed)
        return shared[unclaimed.pop(name)]

    def _read(self, name: str, index: int, out: np.ndarray | None) -> np.ndarray:
        """Chunk ``index`` of ``name`` into ``out`` (its exact size), or whole if None."""
        key = f"{name}/c/{index}"
        try:
            with open(self.folder / name / "c" / str(index), "rb", buffering=0) as file:
                size = os.fstat(file.fileno()).st_size
                if out is None:
                    out = np.empty(size, dtype=np.uint8)
                if size == out.size:
                    size = file.readinto(out)
        except FileNotFoundError:
            raise self.location.error(key, "the chunk file is missing") from None
        if size != out.size:
            raise self.location.error(key, f"the chunk file holds {size} bytes, expected "
                                           f"{out.size} (truncated or damaged)")
        return out


def decode_vlen_utf8(data: np.ndarray, rows: int, location: PartLocation,
                     key: str) -> np.ndarray:
    """Strings of a ``vlen-utf8`` chunk: a uint32 count, then per item a uint32 length and
    its UTF-8 bytes (all little-endian)."""
    raw = data.tobytes()
    try:
        count = int.from_bytes(raw[:4], "little")
        items, at = [], 4
        for _ in range(count):
            length = int.from_bytes(raw[at:at + 4], "little")
            items.append(raw[at + 4:at + 4 + length].decode())
            at += 4 + length
    except UnicodeDecodeError as error:
        raise location.error(key, f"the strings cannot be decoded ({error})") from None
    if count < rows or at != len(raw):
        raise location.error(key, f"the chunk holds {count} strings in {len(raw)} bytes, not "
                                  f"{rows} strings")
    return np.array(items[:rows], dtype=np.dtypes.StringDType())


class ZarrArray(BackendArray):
    """A compressed array of a part, read through Zarr from a checked store when first used."""

    def __init__(self, store: CheckedStore, name: str, meta: dict[str, Any]) -> None:
        self.store = store
        self.name = name
        self.shape = tuple(meta["shape"])
        data_type = meta["data_type"]
        self.dtype = (np.dtype(data_type) if isinstance(data_type, str)
                      and data_type in SIMPLE_TYPES else self.array.dtype)

    @cached_property
    def array(self) -> Any:
        import zarr

        return zarr.open_array(self.store, path=self.name, mode="r")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER,
            lambda k: np.asarray(self.array.oindex[k]))


class RawColumnArray(BackendArray):
    """A raw column of a part, lazily indexed: the chunks holding the rows asked for are read
    and checked (with the part's other columns, see :class:`PartColumns`)."""

    def __init__(self, columns: PartColumns, name: str) -> None:
        self.columns = columns
        self.name = name
        n_rows, self.chunk_rows, self.dtype = columns.arrays[name]
        self.shape = (n_rows,)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._basic_index)

    def _basic_index(self, key: tuple[Any, ...]) -> np.ndarray:
        rows = key[0]
        if not isinstance(rows, slice):
            position = int(rows)
            return self._chunk(position // self.chunk_rows)[position % self.chunk_rows]
        positions = range(*rows.indices(self.shape[0]))
        if not positions:
            return np.empty(0, dtype=self.dtype)
        low, high = min(positions[0], positions[-1]), max(positions[0], positions[-1])
        first, last = low // self.chunk_rows, high // self.chunk_rows
        data = self._chunk(first) if first == last else np.concatenate(
            [self._chunk(i) for i in range(first, last + 1)])
        offset = first * self.chunk_rows
        if positions.step == 1:  # a view into the chunk's bytes
            return data[positions.start - offset:positions.stop - offset]
        return data[np.asarray(positions) - offset]

    def _chunk(self, index: int) -> np.ndarray:
        return self.columns.chunk(self.name, index)
