"""Stores of rules on disk: open, append, compact, with crash and concurrency safety.

A store is a directory holding an immutable *base* Zarr v3 group (written by the converter or by
:func:`compact`), a few appended *fragments* (Zarr v3 groups of appended batches) and a small
manifest, ``fsbi-store.json``, that names the base and the committed fragments. Every change is
published by one atomic ``os.replace`` of the manifest; a writer killed at any instant leaves
the previous manifest in place, so readers see all of a batch or none of it. Writers serialise
on ``fcntl.flock`` of ``.lock``; readers never lock.

Every stored byte is checksummed (:mod:`fsbi_data.integrity`) and checked when read; appended
batches are checked before anything is written; fragments are merged as they accumulate, so
that reads stay fast however many batches a store has seen. See ``docs/store.md``.

Examples
--------
>>> import fsbi_data
>>> ds = fsbi_data.open("6pPol")                       # doctest: +SKIP
>>> ds.sel(seed="0123456789abcdef0123456789abcdef")    # doctest: +SKIP
>>> report = fsbi_data.append("my.store", new_rules)   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from .errors import (
    DuplicateSeedError,
    ReleaseFormatError,
    StoreConflictError,
    StoreError,
    StoreIntegrityError,
)
from .files import published, remove_abandoned
from .integrity import (
    METADATA_FILE,
    PartLocation,
    checksum_codec,
    metadata_checksums,
)
from .layout import ROUND_PREFIX, family_attrs
from .layout import provenance as recorded_provenance
from .lazy_rows import concat_variables
from .parts import PartRows, StoreColumnArray, StoreColumns, read_part
from .schema import Family, family
from .seed_index import seed_coordinates
from .version import __version__

logger = logging.getLogger(__name__)

MANIFEST = "fsbi-store.json"
LOCK = ".lock"
FRAGMENTS = "fragments"
FORMAT = "fsbi-data store"
FORMAT_VERSION = 2
"""Version 2: checksums on every chunk and metadata file, and a checksummed manifest."""
READABLE_VERSIONS = (1, 2)
CHUNK_ROWS = 65_536
"""Rows per chunk along ``rule`` of theta and the round flags (13 MB per 6pPol theta chunk)."""
RAW_CHUNK_ROWS = 4_194_304
"""Rows per chunk of a raw column (seeds, metrics): a whole release column is one chunk."""
FRAGMENT_FANOUT = 4
"""This many fragments of one level merge into one fragment of the next level."""
BASE_SHARE = 0.25
"""Fragments holding at least this share of the base's rows are merged into a new base."""
SUPERSEDED_GRACE_S = 3600.0
"""Seconds a merged part stays on disk for Datasets opened before the merge."""


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


# --- manifest -------------------------------------------------------------------------------

def is_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding a store manifest."""
    return (Path(path) / MANIFEST).is_file()


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """sha256 of a manifest's content (every key but ``checksum``, canonical JSON)."""
    body = {key: value for key, value in manifest.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the store at ``path``, checked (:class:`StoreError` if it is not a
    store, :class:`StoreIntegrityError` if it is damaged).

    Manifests of format version 1 (no checksums) are returned in the shape of version 2:
    fragments with ``batches`` and ``level``, ``superseded`` parts with the time since when,
    and no ``parts`` records (the parts of version 1 carry no checksums).
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.exists():
        remove_abandoned(path)
        raise StoreError(f"no store at {path}: the path does not exist; create one with "
                         f"fsbi_data.convert(release_file, {str(path)!r})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise StoreError(f"{path} is not an fsbi-data store: it has no {MANIFEST}; give the "
                         f"path of a store made by fsbi_data.convert") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StoreIntegrityError(f"{manifest_path} is not valid JSON ({error}); the store's "
                                  f"manifest is damaged: {DAMAGED_MANIFEST}") from None
    if not isinstance(manifest, dict):
        raise StoreIntegrityError(f"{manifest_path} holds a JSON {type(manifest).__name__}, not "
                                  f"a store manifest; the manifest is damaged: "
                                  f"{DAMAGED_MANIFEST}")
    if manifest.get("format") != FORMAT or manifest.get("version") not in READABLE_VERSIONS:
        raise StoreError(f"{manifest_path}: format {manifest.get('format')!r} version "
                         f"{manifest.get('version')!r}, expected {FORMAT!r} version "
                         f"{' or '.join(map(str, READABLE_VERSIONS))}; convert the release "
                         f"file again with this version of fsbi-data")
    if manifest["version"] >= 2 and manifest.get("checksum") != manifest_checksum(manifest):
        raise StoreIntegrityError(f"{manifest_path}: the manifest's content does not match its "
                                  f"checksum; the manifest is damaged: {DAMAGED_MANIFEST}")
    missing = [key for key in ("family", "base", "fragments") if key not in manifest]
    if missing or not isinstance(manifest["fragments"], list):
        lacks = ", ".join(missing) or "a list of fragments"
        raise StoreIntegrityError(f"{manifest_path} lacks {lacks}; the manifest is damaged: "
                                  f"{DAMAGED_MANIFEST}")
    return _as_current(manifest)


DAMAGED_MANIFEST = ("restore fsbi-store.json from a backup, or convert the release file "
                    "again into a new store and append the later batches again")


def _as_current(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest of any readable version in the shape of the current one."""
    manifest.setdefault("parts", {})
    manifest.setdefault("generation", 0)
    manifest.setdefault("next_fragment", len(manifest["fragments"]))
    for fragment in manifest["fragments"]:
        if "batches" not in fragment:
            fragment["batches"] = [fragment.pop("provenance", {})]
        fragment.setdefault("level", 0)
    manifest["superseded"] = [entry if isinstance(entry, dict) else {"part": entry, "since": 0}
                              for entry in manifest.get("superseded", [])]
    return manifest


def new_manifest(family_name: str, base: str, base_record: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "version": FORMAT_VERSION, "family": family_name,
            "generation": 0, "base": base, "fragments": [], "next_fragment": 0,
            "parts": {base: base_record}, "superseded": []}


def write_manifest(path: Path, manifest: dict[str, Any], *, durable: bool = True) -> None:
    """Replace the manifest atomically (the commit point of every change of a store)."""
    manifest = {**manifest, "format": FORMAT, "version": FORMAT_VERSION}
    manifest["checksum"] = manifest_checksum(manifest)
    with published(path / MANIFEST, durable=durable) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))


def part_keys(manifest: dict[str, Any]) -> list[str]:
    """The parts of a store, in row order: the base, then the fragments (paths in the store)."""
    return [manifest["base"]] + [fragment_key(f) for f in manifest["fragments"]]


def fragment_key(fragment: dict[str, Any]) -> str:
    return f"{FRAGMENTS}/{fragment['name']}"


def part_record(part: Path) -> dict[str, Any]:
    """What the manifest records of a written part: its rows and its metadata checksums."""
    import zarr

    with quiet_zarr():
        rows = zarr.open_array(part / "seed", mode="r").shape[0]
    return {"rows": int(rows), "metadata": metadata_checksums(part)}


def recovery(manifest: dict[str, Any], key: str) -> str:
    """How to recover the rules of a damaged part of a store."""
    advice = "`fsbi-data verify STORE` lists every damaged chunk."
    if key == manifest["base"]:
        return ("This part is the store's base (the converted release file and the batches "
                "merged into it, see ds.attrs['provenance']): convert the release file again "
                "(fsbi-data convert) into a new store and append those batches again. " + advice)
    fragment = next((f for f in manifest["fragments"] if fragment_key(f) == key), None)
    if fragment is None:
        return ("This part is no longer in the store: it was merged since this Dataset was "
                "opened (merged parts are kept for an hour); open the store again.")
    batches = "; ".join(
        ", ".join(f"{k} {b[k]}" for k in ("time", "rows", "backend", "protocol") if k in b)
        for b in fragment["batches"][:3])
    more = f" and {len(fragment['batches']) - 3} more" if len(fragment["batches"]) > 3 else ""
    return (f"This part holds {len(fragment['batches'])} appended batch(es) ({batches}{more}; "
            f"full provenance in the manifest): append those rules again from where they "
            f"came from. " + advice)


@contextlib.contextmanager
def writer_lock(path: str | os.PathLike, *, wait: bool = True) -> Iterator[None]:
    """Hold the store's writer lock (``flock`` on ``<store>/.lock``).

    With ``wait=False`` a held lock raises :class:`StoreConflictError` at once. A store that
    cannot be written (read-only folder or file system) raises :class:`StoreError`.
    """
    lock_path = Path(path) / LOCK
    try:
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "Permission denied")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise StoreError(f"cannot write to the store {path}: {error.strerror} (the store, or "
                         f"its file system, is read-only); copy it somewhere writable, or ask "
                         f"its owner for write access") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StoreConflictError(
                    f"another process is writing to the store {path}; wait for it to finish "
                    f"or call again with wait=True") from None
            raise
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --- reading --------------------------------------------------------------------------------

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


def open_part(path: Path, manifest: dict[str, Any], key: str, *,
              rule_only: bool = False) -> xr.Dataset | PartRows:
    """One part of a store, lazily indexed (no Dask: reads go straight to Zarr).

    Parts of format version 2 are read by :func:`fsbi_data.parts.read_part`: every chunk and
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
    together across the parts (:class:`~fsbi_data.parts.StoreColumns`); other variables of
    several parts are concatenated lazily (:func:`~fsbi_data.lazy_rows.concat_variables`).
    """
    first = parts[0]
    seeds = concat_seeds([np.asarray(p["seed"].values) for p in parts])
    columns = None
    if all("columns" in p.encoding for p in parts):
        columns = StoreColumns([p.encoding["columns"] for p in parts])
    variables = {}
    for name, variable in first.variables.items():
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


def _part_variable(part: xr.Dataset | PartRows, name: str, like: xr.Variable) -> xr.Variable:
    """A variable of one part; round flags a fragment does not hold are False there."""
    if name in part.variables:
        return part.variables[name]
    columns = part.encoding.get("columns")
    if columns is not None and name in columns.arrays:  # a raw column left out of the part
        data = indexing.LazilyIndexedArray(columns.variable_data(name))
        return xr.Variable(like.dims, data, like.attrs)
    if not name.startswith(ROUND_PREFIX):
        raise StoreError(f"a fragment of the store lacks the variable {name!r}")
    return xr.Variable(like.dims, np.zeros(part.sizes["rule"], dtype=like.dtype), like.attrs)


def open(name_or_path: str | os.PathLike, **kwargs: Any) -> xr.Dataset:
    """Open a dataset by name or path: see :func:`fsbi_data.opening.open`."""
    from .opening import open as open_dataset

    return open_dataset(name_or_path, **kwargs)


# --- appending ------------------------------------------------------------------------------

@dataclass
class AppendReport:
    """What :func:`append` did."""

    store: Path
    appended: int
    skipped: list[str] = field(default_factory=list)
    duplicates_in_batch: int = 0
    fragment: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


def append(store: str | os.PathLike, rules: xr.Dataset | np.ndarray, *,
           provenance: dict[str, Any] | None = None, on_duplicate: str = "skip",
           allow_outside_prior: bool = False, wait: bool = True) -> AppendReport:
    """Append rules to a store, crash-safely: all of the batch is committed or none of it.

    The batch is checked before anything is written (:mod:`fsbi_data.batches`): rules of the
    store's family, theta finite and inside the prior box, metrics finite or NaN. Fragments
    are merged as they accumulate (:func:`maintain`), so reads stay fast.

    Parameters
    ----------
    store
        Path of a store (made by :func:`fsbi_data.convert` or :func:`create`).
    rules
        A Dataset in the layout of :mod:`fsbi_data.layout` or released-format records of the
        store's family. Metrics may be NaN (blown-up runs).
    provenance
        What made the batch (backend, protocol, versions, network seeds, ...); the time and
        the package version are added. Visible in ``ds.attrs["provenance"]`` after opening.
    on_duplicate
        ``"skip"`` (default): rules whose seed is already stored are left out and listed in
        the report. ``"error"``: raise :class:`DuplicateSeedError` instead.
    allow_outside_prior
        Accept rules outside the family's prior box on purpose; their number is recorded in
        the batch's provenance (``outside_prior``).
    wait
        Wait for another writer to finish (default) or raise :class:`StoreConflictError`.

    Examples
    --------
    >>> from fsbi_data.testing import release_records
    >>> report = append("my.store", release_records("6pPol", 10, rng=1))   # doctest: +SKIP
    >>> report.appended                                                   # doctest: +SKIP
    10
    """
    from .batches import as_layout, check_batch, unique_in_batch

    if on_duplicate not in ("skip", "error"):
        raise ValueError(f"on_duplicate must be 'skip' or 'error', not {on_duplicate!r}")
    path = Path(store)
    manifest = read_manifest(path)
    fam = family(manifest["family"])
    batch = as_layout(rules, fam)
    outside = check_batch(batch, fam, allow_outside_prior)
    batch, within = unique_in_batch(batch)
    batch.attrs = family_attrs(fam, [])  # a batch's provenance lives in the manifest
    with writer_lock(path, wait=wait):
        manifest = read_manifest(path)  # the committed state, now that no one else writes
        collect_garbage(path, manifest)
        existing = stored_seeds(path, manifest)
        seeds = encode_seeds(batch["seed"].values)
        present = np.isin(seeds, existing)
        skipped = [s.decode() for s in seeds[present]]
        if skipped and on_duplicate == "error":
            raise DuplicateSeedError(
                f"{len(skipped)} rule(s) of the batch are already in {path} (first: "
                f"{skipped[0]}); pass on_duplicate='skip' to leave them out")
        batch = batch.isel(rule=np.flatnonzero(~present))
        record = {"kind": "batch", "time": datetime.datetime.now(datetime.UTC).isoformat(),
                  "fsbi_data_version": __version__, "rows": int(batch.sizes["rule"]),
                  **({"outside_prior": outside} if outside else {}), **(provenance or {})}
        report = AppendReport(path, int(batch.sizes["rule"]), skipped, within, None, record)
        if batch.sizes["rule"] == 0:
            return report
        name = _publish_fragment(path, manifest, batch)
        manifest["fragments"].append({"name": name, "rows": report.appended, "level": 0,
                                      "batches": [record]})
        write_manifest(path, manifest)  # the commit point
        report.fragment = name
        logger.info("appended %d rules to %s (%d skipped)", report.appended, path,
                    len(skipped))
        maintain(path, manifest)
        return report


def _publish_fragment(path: Path, manifest: dict[str, Any], ds: xr.Dataset) -> str:
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


# --- compaction -----------------------------------------------------------------------------

def maintain(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Merge fragments as they accumulate, under the writer lock the caller holds.

    Like the levels of an LSM tree: a batch is a fragment of level 0; whenever the last
    :data:`FRAGMENT_FANOUT` fragments share a level, they merge into one fragment of the next
    level, and when the fragments hold :data:`BASE_SHARE` of the base's rows, everything merges
    into a new base. The number of fragments stays logarithmic in the rows appended, and each
    row is rewritten a bounded number of times per level, so appends stay cheap. Each merge is
    committed on its own, crash-safely; merged parts stay on disk for
    :data:`SUPERSEDED_GRACE_S` seconds, for Datasets opened before.
    """
    while True:
        tail = manifest["fragments"][-FRAGMENT_FANOUT:]
        if len(tail) < FRAGMENT_FANOUT or len({f["level"] for f in tail}) > 1:
            break
        manifest = _merge_fragments(path, manifest, len(manifest["fragments"]) - len(tail))
    fragment_rows = sum(f["rows"] for f in manifest["fragments"])
    if fragment_rows and fragment_rows >= BASE_SHARE * _base_rows(path, manifest):
        manifest = _merge_into_base(path, manifest)
    return manifest


def _base_rows(path: Path, manifest: dict[str, Any]) -> int:
    record = manifest["parts"].get(manifest["base"])
    if record is not None:
        return record["rows"]
    return open_part(path, manifest, manifest["base"], rule_only=True).sizes["rule"]


def _supersede(manifest: dict[str, Any], keys: list[str]) -> None:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    manifest["superseded"] += [{"part": key, "since": now} for key in keys]
    for key in keys:
        manifest["parts"].pop(key, None)


def _merge_fragments(path: Path, manifest: dict[str, Any], first: int) -> dict[str, Any]:
    """Merge the fragments from position ``first`` on into one fragment (committed)."""
    merged = manifest["fragments"][first:]
    keys = [fragment_key(f) for f in merged]
    ds = combine_parts(open_parts(path, manifest, keys), [])
    name = _publish_fragment(path, manifest, ds)
    manifest["fragments"][first:] = [{
        "name": name, "rows": sum(f["rows"] for f in merged),
        "level": max(f["level"] for f in merged) + 1,
        "batches": [b for f in merged for b in f["batches"]]}]
    _supersede(manifest, keys)
    write_manifest(path, manifest)
    logger.info("merged %d fragments of %s into %s", len(merged), path, name)
    return manifest


def _merge_into_base(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Merge the base and every fragment into a new base (committed)."""
    ds = open_path(path, chunks={"rule": CHUNK_ROWS})  # streamed, chunk by chunk
    generation = manifest["generation"] + 1
    name = f"base-{generation:06d}"
    record = publish_part(ds, path / name)
    _supersede(manifest, part_keys(manifest))
    manifest.update(base=name, generation=generation, fragments=[])
    manifest["parts"][name] = record
    write_manifest(path, manifest)
    logger.info("compacted %s into %s (%d rules)", path, name, ds.sizes["rule"])
    return manifest


def collect_garbage(path: Path, manifest: dict[str, Any], *,
                    grace_s: float | None = None) -> None:
    """Remove what no committed manifest names (parts of crashed writers), and merged parts
    older than ``grace_s`` (default :data:`SUPERSEDED_GRACE_S`). The caller holds the writer
    lock and commits ``manifest``."""
    grace_s = SUPERSEDED_GRACE_S if grace_s is None else grace_s
    now = datetime.datetime.now(datetime.UTC).timestamp()
    expired = {e["part"] for e in manifest["superseded"] if now - e["since"] >= grace_s}
    manifest["superseded"] = [e for e in manifest["superseded"] if e["part"] not in expired]
    kept = {e["part"] for e in manifest["superseded"]} | set(part_keys(manifest))
    for entry in path.iterdir():
        if entry.is_dir() and entry.name not in kept and (
                entry.name.startswith("base-") or entry.name.startswith(".base-")):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{MANIFEST}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    if (path / FRAGMENTS).is_dir():
        for entry in (path / FRAGMENTS).iterdir():
            if f"{FRAGMENTS}/{entry.name}" not in kept:
                shutil.rmtree(entry, ignore_errors=True)


def compact(store: str | os.PathLike, *, wait: bool = True, progress: bool = False) -> Path:
    """Merge the base and all fragments of a store into a new base (atomic, crash-safe).

    Also rewrites a store whose parts carry no checksums (written by fsbi-data store format
    1) with checksums: ``fsbi_data.compact(path)`` upgrades it. Appends merge fragments by
    themselves (:func:`maintain`); call this to end with one part. Merged parts stay on disk
    for :data:`SUPERSEDED_GRACE_S` seconds, so Datasets opened before keep reading correct
    values.

    Examples
    --------
    >>> compact("my.store")                  # doctest: +SKIP
    """
    path = Path(store)
    with writer_lock(path, wait=wait):
        manifest = read_manifest(path)
        collect_garbage(path, manifest)
        unchecked = [key for key in part_keys(manifest) if key not in manifest["parts"]]
        if manifest["fragments"] or unchecked:
            _merge_into_base(path, manifest)
        return path


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


__all__ = ["AppendReport", "append", "compact", "create", "family_attrs", "is_store",
           "open_path", "read_manifest"]
