"""How a store is encoded in Zarr: codecs, chunking, seeds as bytes."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ReleaseFormatError
from .integrity import checksum_codec

CHUNK_ROWS = 65_536
"""Rows per chunk along ``rule`` of theta and the round flags (13 MB per 6pPol theta chunk)."""
RAW_CHUNK_ROWS = 4_194_304
"""Rows per chunk of a raw column (seeds, metrics): a whole release column is one chunk."""


def compressor() -> Any:
    """The codec of theta and the round flags: Blosc LZ4 with byte shuffle."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


def is_raw_column(dtype: Any, shape: tuple[int, ...]) -> bool:
    """Whether a variable on ``rule`` is a raw column: seeds and float metric columns.

    Queries read these columns whole, so they are stored uncompressed, in chunks of up to
    :data:`RAW_CHUNK_ROWS` rows. Simulated metric values barely compress (by ~7 % with LZ4 +
    shuffle), and on a warm page cache decompressing them, or reading many small chunks, costs
    more time than reading the raw bytes (``benchmarks/bench_open.py``). Theta and the round
    flags compress well and stay in compressed chunks of :data:`CHUNK_ROWS` rows.
    """
    return len(shape) == 1 and np.dtype(dtype).kind in "fS"


def variable_encoding(shape: tuple[int, ...], dtype: Any = np.float64,
                      chunk_rows: int | None = None, *, on_rule: bool = True) -> dict[str, Any]:
    """Zarr encoding of a variable: no fill masking, a CRC32C on every chunk, and compressed
    unless it is a raw column (:func:`is_raw_column`). Variables on ``rule`` are chunked on
    rule; ``chunk_rows`` overrides the rows per chunk of compressed ones (default
    :data:`CHUNK_ROWS`). Others (the coordinates on ``param``) are one chunk."""
    raw = is_raw_column(dtype, shape) or not on_rule
    compressors = (checksum_codec(),) if raw else (compressor(), checksum_codec())
    encoding: dict[str, Any] = {"compressors": compressors}
    if on_rule:
        rows = RAW_CHUNK_ROWS if raw else chunk_rows or CHUNK_ROWS
        encoding["chunks"] = (max(1, min(rows, shape[0])),) + tuple(shape[1:]) if shape else ()
        encoding["_FillValue"] = None
    return encoding


def is_compressed(encoding: dict[str, Any]) -> bool:
    return len(encoding["compressors"]) > 1


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Zarr as the store uses it: every chunk written, even one that equals the fill value
    (a missing chunk is damage, never data), and without zarr's notes on fixed-width byte
    strings and consolidated v3 metadata."""
    import zarr

    with warnings.catch_warnings(), zarr.config.set({"array.write_empty_chunks": True}):
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        yield


def encode_seeds(seeds: np.ndarray, where: str = "seeds") -> np.ndarray:
    """Seeds as fixed-width ASCII bytes, as stored (width = the longest seed)."""
    seeds = np.asarray(seeds)
    try:
        encoded = seeds.astype(str).astype("S") if seeds.dtype.kind != "S" else seeds
    except UnicodeEncodeError as error:
        raise ReleaseFormatError(f"{where}: field 'seed' holds a non-ASCII seed ({error}); "
                                 f"seeds must be ASCII identifiers such as md5 hex digests"
                                 ) from None
    width = int(np.char.str_len(encoded).max()) if encoded.size else 1
    return encoded.astype(f"S{max(width, 1)}", copy=False)
