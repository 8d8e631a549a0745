"""Checksums of a store's bytes, checked on every read.

Two kinds of files make a part of a store (a Zarr v3 group), and each is covered:

- **chunks**: every chunk of every array is written with Zarr's standard ``crc32c`` codec, which
  appends the CRC32C of the chunk's bytes (as Parquet pages and HDF5's Fletcher32 filter do);
  any Zarr v3 reader checks it;
- **metadata** (the ``zarr.json`` files): their sha256 are recorded in the store's manifest
  when the part is committed (:func:`metadata_checksums`).

:class:`CheckedStore` is the Zarr store the package reads parts through. It checks the CRC of
every chunk and the sha256 of every metadata file it reads, and a chunk file that is missing
raises instead of reading as Zarr's fill value. Each failure is a
:class:`~fsbi_data.errors.StoreIntegrityError` naming the store, the part, the variable and the
chunk, and saying how to recover. See ``docs/store.md``.

Examples
--------
>>> import numpy as np
>>> data = np.arange(4, dtype=np.uint8)
>>> chunk_is_intact(append_crc(data)), chunk_is_intact(append_crc(data)[:-1])
(True, False)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google_crc32c
import numpy as np
from zarr.storage import LocalStore

from ..errors import StoreIntegrityError

METADATA_FILE = "zarr.json"
CRC_BYTES = 4


def checksum_codec() -> Any:
    """The bytes-to-bytes codec that ends every chunk of a store: Zarr's ``crc32c``."""
    from zarr.codecs import Crc32cCodec

    return Crc32cCodec()


def append_crc(data: np.ndarray) -> np.ndarray:
    """``data`` (bytes as uint8) followed by its CRC32C, as the ``crc32c`` codec writes it."""
    data = np.ascontiguousarray(data, dtype=np.uint8)
    crc = np.array([google_crc32c.value(data)], dtype="<u4").view(np.uint8)
    return np.concatenate([data, crc])


def chunk_is_intact(chunk: np.ndarray | bytes) -> bool:
    """Whether a stored chunk's last four bytes are the CRC32C of the bytes before them."""
    chunk = np.frombuffer(chunk, dtype=np.uint8) if isinstance(chunk, bytes) else chunk
    if chunk.size < CRC_BYTES:
        return False
    stored = int(chunk[-CRC_BYTES:].view("<u4")[0])
    return google_crc32c.value(chunk[:-CRC_BYTES]) == stored


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata_checksums(part: str | os.PathLike) -> dict[str, str]:
    """sha256 of every metadata file of a part, keyed by its path inside the part."""
    part = Path(part)
    checksums = {}
    for root, _dirs, files in os.walk(part):
        if METADATA_FILE in files:
            file = Path(root) / METADATA_FILE
            checksums[file.relative_to(part).as_posix()] = sha256_bytes(file.read_bytes())
    return dict(sorted(checksums.items()))


def is_chunk_key(key: str) -> bool:
    """Whether a key of a part names a chunk of an array (``"theta/c/3/0"``, ``"rate/c.0"``)."""
    parts = key.split("/")
    return len(parts) >= 2 and (parts[1] == "c" or parts[1].startswith("c."))


def variable_of_key(key: str) -> str:
    """The variable a key of a part belongs to (``"theta/c/3/0"`` → ``"theta"``)."""
    return key.split("/", 1)[0] if "/" in key else "(group)"


@dataclass(frozen=True)
class PartLocation:
    """Where a part lives, and what a user can do if its bytes are damaged."""

    store: Path
    part: str
    recovery: str

    def error(self, key: str, problem: str) -> StoreIntegrityError:
        what = "chunk" if is_chunk_key(key) else "metadata"
        return StoreIntegrityError(
            f"store {self.store}, part {self.part}, variable {variable_of_key(key)}, "
            f"{what} {key}: {problem}. {self.recovery}")


class CheckedStore(LocalStore):
    """A read-only Zarr store of one part that checks every byte it reads.

    A missing chunk raises (Zarr would read it as the fill value), a chunk whose CRC32C differs
    raises, a metadata file whose sha256 differs from ``metadata`` raises.
    """

    def __init__(self, root: str | os.PathLike, *, read_only: bool = True,
                 metadata: dict[str, str] | None = None,
                 location: PartLocation | None = None) -> None:
        super().__init__(root, read_only=True)
        self.metadata = metadata or {}
        self.location = location or PartLocation(Path(root), Path(root).name, "")

    def with_read_only(self, read_only: bool = True) -> CheckedStore:
        return self

    def _checked(self, key: str, buffer: Any, byte_range: Any) -> Any:
        if not is_chunk_key(key):  # metadata, or a probe for another format's metadata
            expected = self.metadata.get(key)
            if buffer is None:
                if expected is not None:
                    raise self.location.error(key, "the metadata file is missing")
                return None
            if expected is not None and sha256_bytes(buffer.to_bytes()) != expected:
                raise self.location.error(key, "the metadata file differs from its sha256 "
                                                "in the manifest")
            return buffer
        if buffer is None:
            raise self.location.error(key, "the chunk file is missing")
        if byte_range is None and not chunk_is_intact(buffer.as_numpy_array()):
            raise self.location.error(key, "the chunk's CRC32C does not match its bytes "
                                           "(damaged or truncated)")
        return buffer

    def get_sync(self, key: str, *, prototype: Any = None, byte_range: Any = None) -> Any:
        return self._checked(key, super().get_sync(key, prototype=prototype,
                                                   byte_range=byte_range), byte_range)

    async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
        return self._checked(key, await super().get(key, prototype, byte_range), byte_range)


def chunk_keys(part: str | os.PathLike) -> dict[str, list[str]]:
    """Every chunk key a part must hold, per array, from its metadata (regular grids)."""
    import itertools
    import json

    part = Path(part)
    keys = {}
    for file in sorted(part.glob(f"*/{METADATA_FILE}")):
        meta = json.loads(file.read_text())
        if meta.get("node_type") != "array":
            continue
        shape = meta["shape"]
        chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
        separator = meta["chunk_key_encoding"].get("configuration", {}).get("separator", "/")
        counts = [-(-s // c) if c else 0 for s, c in zip(shape, chunks, strict=True)]
        name = file.parent.name
        keys[name] = [separator.join(["c", *map(str, index)]) if index else "c"
                      for index in itertools.product(*map(range, counts))]
        keys[name] = [f"{name}/{key}" for key in keys[name]]
    return keys
