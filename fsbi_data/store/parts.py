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
  :class:`~fsbi_data.store.integrity.CheckedStore`, when first used.

A missing, truncated or damaged file raises a :class:`~fsbi_data.errors.StoreIntegrityError`
naming the chunk.

Examples
--------
>>> import numpy as np
>>> meta = {"shape": [3], "data_type": "float64", "codecs": [{"name": "bytes", "configuration":
...         {"endian": "little"}}, {"name": "crc32c"}], "chunk_grid": {"name": "regular",
...         "configuration": {"chunk_shape": [3]}}, "chunk_key_encoding": {"name": "default"}}
>>> raw_dtype(meta) == np.dtype("<f8")
True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import google_crc32c
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ..errors import StoreIntegrityError
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
SIMPLE_TYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float32", "float64")


def read_part(part: Path, metadata: dict[str, str], location: PartLocation, *,
              rule_only: bool = False) -> xr.Dataset | PartRows:
    """A part as a lazy Dataset: nothing but its root metadata file is read until used.

    ``metadata`` holds the sha256 of the part's metadata files, as the manifest records them.
    ``rule_only`` gives the variables on ``rule`` only, as :class:`PartRows` (the coordinates
    on ``param`` are alike in every part), without the numeric raw columns: read them from the
    part's :class:`PartColumns`, which is in ``encoding["columns"]`` (:class:`StoreColumns`
    reads them for a whole store).
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
              if meta.get("node_type") == "array"
              and (not rule_only or meta["dimension_names"][:1] == ["rule"])}
    attrs = dict(root.get("attributes", {}))
    coord_names = set(attrs.pop("coordinates", "").split())
    columns = PartColumns(part, arrays, location)
    store = CheckedStore(part, metadata=metadata, location=location)
    variables = {}
    for name, meta in arrays.items():
        if rule_only and columns.is_numeric(name):
            continue
        dims = tuple(meta["dimension_names"])
        coord_names |= set(meta["attributes"].get("coordinates", "").split())
        if dims == (name,):
            coord_names.add(name)
        data = columns.variable_data(name) or ZarrArray(store, name, meta)
        variables[name] = xr.Variable(
            dims, indexing.LazilyIndexedArray(data),
            {k: v for k, v in meta["attributes"].items() if k not in XARRAY_ATTRS})
    if rule_only:  # no Dataset to build: its merge of coordinates costs more than the rest
        return PartRows(variables, {"rule": arrays["seed"]["shape"][0]},
                        {"columns": columns}, attrs)
    ds = xr.Dataset({n: v for n, v in variables.items() if n not in coord_names},
                    coords={n: v for n, v in variables.items() if n in coord_names},
                    attrs=attrs)
    ds.encoding["columns"] = columns
    return ds


@dataclass
class PartRows:
    """The variables on ``rule`` of a part (what a store needs of every part but the first):
    ``variables``, ``sizes``, ``encoding`` and ``attrs`` as a Dataset has them."""

    variables: dict[str, xr.Variable]
    sizes: dict[str, int]
    encoding: dict[str, Any]
    attrs: dict[str, Any]

    def __getitem__(self, name: str) -> xr.Variable:
        return self.variables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.variables


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
    """The raw columns of one part, read straight from their chunk files and checked."""

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

    def variable_data(self, name: str) -> RawColumnArray | None:
        return RawColumnArray(self, name) if name in self.arrays else None

    def is_numeric(self, name: str) -> bool:
        return name in self.arrays and self.arrays[name][2].kind in "biuf"

    def chunk(self, name: str, index: int) -> np.ndarray:
        """The rows of chunk ``index`` of column ``name`` (fresh memory), checked."""
        n_rows, chunk_rows, dtype = self.arrays[name]
        rows = min(chunk_rows, n_rows - index * chunk_rows)
        if dtype.kind != "T":
            out = np.empty(rows, dtype=dtype)
            self._read_chunk(name, index, out.view(np.uint8))
            return out
        data = self._read_file(name, index)
        if not chunk_is_intact(data):
            raise self._damaged(name, index)
        return decode_vlen_utf8(data[:-CRC_BYTES], rows, self.location, f"{name}/c/{index}")

    def read_into(self, name: str, out: np.ndarray) -> None:
        """Every row of the numeric column ``name`` into ``out`` (its dtype and length)."""
        n_rows, chunk_rows, _ = self.arrays[name]
        for index, start in enumerate(range(0, n_rows, chunk_rows)):
            self._read_chunk(name, index, out[start:start + chunk_rows].view(np.uint8))

    def _read_chunk(self, name: str, index: int, out: np.ndarray) -> None:
        """The bytes of rows of a fixed-size chunk into ``out`` (uint8), checked: the rest of
        the chunk (the padding of a last chunk, the CRC) is read beside them."""
        _, chunk_rows, dtype = self.arrays[name]
        size = chunk_rows * dtype.itemsize + CRC_BYTES
        key = f"{name}/c/{index}"
        try:
            with open(self.folder / name / "c" / str(index), "rb", buffering=0) as file:
                found = os.fstat(file.fileno()).st_size
                if found == size:
                    read = file.readinto(out)
                    rest = file.read()
        except FileNotFoundError:
            raise self.location.error(key, "the chunk file is missing") from None
        if found != size or read != out.size:
            raise self.location.error(key, f"the chunk file holds {found} bytes, expected "
                                           f"{size} (truncated or damaged)")
        crc = google_crc32c.extend(google_crc32c.value(out), rest[:-CRC_BYTES])
        if crc != int.from_bytes(rest[-CRC_BYTES:], "little"):
            raise self._damaged(name, index)

    def _read_file(self, name: str, index: int) -> np.ndarray:
        key = f"{name}/c/{index}"
        try:
            return np.fromfile(self.folder / name / "c" / str(index), dtype=np.uint8)
        except FileNotFoundError:
            raise self.location.error(key, "the chunk file is missing") from None

    def _damaged(self, name: str, index: int) -> StoreIntegrityError:
        return self.location.error(f"{name}/c/{index}", "the chunk's CRC32C does not match "
                                                        "its bytes (damaged)")


class StoreColumns:
    """The numeric raw columns on ``rule`` of a whole store (every part, in order), read
    together.

    Reading one column reads every such column of every part into one buffer, kept until each
    column has been handed out once; asking for a column again reads again, so that every read
    returns fresh memory that the caller may change. One large buffer is much cheaper than many
    small ones: NumPy asks the kernel for huge pages for it (one page fault per 2 MiB instead
    of one per 4 KiB), and each part's bytes are copied once, straight into place.
    """

    def __init__(self, parts: list[PartColumns]) -> None:
        self.parts = parts
        self.names = [name for name in parts[0].arrays
                      if all(part.is_numeric(name) for part in parts)]
        self.rows = sum(part.arrays[self.names[0]][0] for part in parts) if self.names else 0
        self._shared: dict[str, np.ndarray] = {}

    def dtype(self, name: str) -> np.dtype:
        return np.result_type(*[part.arrays[name][2] for part in self.parts])

    def column(self, name: str) -> np.ndarray:
        """Every row of column ``name``, in fresh memory, checked."""
        if name not in self._shared:
            try:
                self._shared = self._read(self.names)
            except StoreIntegrityError:
                return self._read([name])[name]  # only a damaged column raises
        return self._shared.pop(name)

    def _read(self, names: list[str]) -> dict[str, np.ndarray]:
        sizes = [self.rows * self.dtype(name).itemsize for name in names]
        shared = np.empty(sum(sizes), dtype=np.uint8)
        columns, at = {}, 0
        for name, size in zip(names, sizes, strict=True):
            column = shared[at:at + size].view(self.dtype(name))
            start = 0
            for part in self.parts:
                n_rows, _, dtype = part.arrays[name]
                if dtype == column.dtype:
                    part.read_into(name, column[start:start + n_rows])
                else:
                    column[start:start + n_rows] = RawColumnArray(part, name).whole()
                start += n_rows
            columns[name] = column
            at += size
        return columns


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

    def whole(self) -> np.ndarray:
        return self._basic_index((slice(None),))


class StoreColumnArray(BackendArray):
    """A numeric raw column of a whole store (see :class:`StoreColumns`), lazily indexed."""

    def __init__(self, columns: StoreColumns, name: str) -> None:
        self.columns = columns
        self.name = name
        self.shape = (columns.rows,)
        self.dtype = columns.dtype(name)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC,
            lambda k: self.columns.column(self.name)[k])
