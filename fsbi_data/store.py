"""Stores of rules on disk: open, append, compact, with crash and concurrency safety.

A store is a directory holding an immutable *base* Zarr v3 group (written by the converter or by
:func:`compact`), any number of appended *fragments* (one Zarr v3 group per batch) and a small
manifest, ``fsbi-store.json``, that names the base and the committed fragments. Every change is
published by one atomic ``os.replace`` of the manifest; a writer killed at any instant leaves
the previous manifest in place, so readers see all of a batch or none of it. Writers serialise
on ``fcntl.flock`` of ``.lock``; readers never lock. See ``docs/store.md``.

Examples
--------
>>> import fsbi_data
>>> ds = fsbi_data.open("6pPol")                       # doctest: +SKIP
>>> ds.sel(seed="0123456789abcdef0123456789abcdef")    # doctest: +SKIP
>>> report = fsbi_data.append("my.store", new_rules)   # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import DuplicateSeedError, ReleaseFormatError, StoreConflictError, StoreError
from .layout import ROUND_PREFIX, dataset_from_records, family_attrs
from .lazy_rows import concat_variables
from .schema import Family, family
from .seed_index import seed_coordinates

logger = logging.getLogger(__name__)

MANIFEST = "fsbi-store.json"
LOCK = ".lock"
FRAGMENTS = "fragments"
FORMAT = "fsbi-data store"
FORMAT_VERSION = 1
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
                      chunk_rows: int | None = None) -> dict[str, Any]:
    """Zarr encoding of a variable on ``rule``: chunked on rule, no fill masking, and
    compressed unless it is a raw column (:func:`is_raw_column`). ``chunk_rows`` overrides
    the rows per chunk of compressed variables (default :data:`CHUNK_ROWS`)."""
    raw = is_raw_column(dtype, shape)
    rows = RAW_CHUNK_ROWS if raw else chunk_rows or CHUNK_ROWS
    chunks = (max(1, min(rows, shape[0])),) + tuple(shape[1:]) if shape else ()
    return {"compressors": () if raw else (compressor(),), "chunks": chunks, "_FillValue": None}


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr's notes on fixed-width byte strings and consolidated v3 metadata."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        yield


# --- manifest -------------------------------------------------------------------------------

def is_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding a store manifest."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the store at ``path``; :class:`StoreError` if it is not a store."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.exists():
        raise StoreError(f"no store at {path}: the path does not exist; create one with "
                         f"fsbi_data.convert(release_file, {str(path)!r})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise StoreError(f"{path} is not an fsbi-data store: it has no {MANIFEST}; give the "
                         f"path of a store made by fsbi_data.convert") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StoreError(f"{manifest_path} is not valid JSON ({error}); the store is damaged, "
                         f"convert the release file again") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise StoreError(f"{manifest_path}: format {manifest.get('format')!r} version "
                         f"{manifest.get('version')!r}, expected {FORMAT!r} version "
                         f"{FORMAT_VERSION}; convert the release file again with this version")
    return manifest


def new_manifest(family_name: str, base: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": FORMAT_VERSION, "family": family_name,
            "generation": 0, "base": base, "fragments": []}


def write_manifest(path: Path, manifest: dict[str, Any], *, durable: bool = True) -> None:
    """Replace the manifest atomically (temporary file, fsync, ``os.replace``, fsync dir)."""
    tmp = path / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
    with builtins.open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.flush()
        if durable:
            os.fsync(f.fileno())
    os.replace(tmp, path / MANIFEST)
    if durable:
        fsync_dir(path)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """fsync every file and directory under ``path`` (a freshly written Zarr group)."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


@contextlib.contextmanager
def writer_lock(path: str | os.PathLike, *, wait: bool = True) -> Iterator[None]:
    """Hold the store's writer lock (``flock`` on ``<store>/.lock``).

    With ``wait=False`` a held lock raises :class:`StoreConflictError` at once.
    """
    lock_path = Path(path) / LOCK
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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
    return encoded


def _open_part(path: Path) -> xr.Dataset:
    """One Zarr group of a store, lazily indexed (no Dask: reads go straight to Zarr)."""
    with quiet_zarr():
        return xr.open_zarr(path, consolidated=None, chunks=None, mask_and_scale=False,
                            decode_times=False)


def stored_seeds(path: str | os.PathLike, manifest: dict[str, Any] | None = None) -> np.ndarray:
    """All seeds of a store (base and committed fragments) as fixed-width bytes."""
    import zarr

    path = Path(path)
    manifest = manifest or read_manifest(path)
    parts = [path / manifest["base"]] + [path / FRAGMENTS / f["name"]
                                         for f in manifest["fragments"]]
    with quiet_zarr():
        return concat_seeds([zarr.open_array(part / "seed", mode="r")[...] for part in parts])


def concat_seeds(arrays: list[np.ndarray]) -> np.ndarray:
    """The stored seeds of several parts as one fixed-width bytes array."""
    width = max(a.dtype.itemsize for a in arrays)
    return np.concatenate([a.astype(f"S{width}", copy=False) for a in arrays])


def open_path(path: str | os.PathLike, chunks: Any = None) -> xr.Dataset:
    """Open the store at ``path`` as one lazy Dataset (base and committed fragments).

    Variables are lazily indexed: selections compose without reading, and reads go straight
    to Zarr, touching only the chunks of the rows asked for. ``chunks`` (as in
    :meth:`xarray.Dataset.chunk`) makes them Dask arrays instead.
    """
    path = Path(path)
    manifest = read_manifest(path)
    base = _open_part(path / manifest["base"])
    parts = [base] + [_open_part(path / FRAGMENTS / f["name"]) for f in manifest["fragments"]]
    seeds = concat_seeds([np.asarray(p["seed"].values) for p in parts])
    variables = {}
    for name, variable in base.variables.items():
        if name == "seed":
            continue
        if "rule" not in variable.dims:
            variable = variable.load()  # small per-parameter coordinates
        elif len(parts) > 1:
            variable = concat_variables([_part_variable(p, name, variable) for p in parts])
        variables[name] = variable
    coords = {name: variables.pop(name) for name in base.coords if name in variables}
    ds = xr.Dataset(variables, coords=coords).assign_coords(seed_coordinates(seeds))
    sources = json.loads(base.attrs.get("provenance", "[]"))
    batches = [f["provenance"] for f in manifest["fragments"]]
    ds.attrs = {**base.attrs, "provenance": json.dumps(sources + batches)}
    ds.encoding["source"] = str(path)
    return ds if chunks is None else ds.chunk(chunks)


def _part_variable(part: xr.Dataset, name: str, like: xr.Variable) -> xr.Variable:
    """A variable of one part; round flags a fragment does not hold are False there."""
    if name in part.variables:
        return part.variables[name]
    if not name.startswith(ROUND_PREFIX):
        raise StoreError(f"a fragment of the store lacks the variable {name!r}")
    return xr.Variable(like.dims, np.zeros(part.sizes["rule"], dtype=like.dtype), like.attrs)


def open(name_or_path: str | os.PathLike, *, source: str | os.PathLike | None = None,
         catalog: Any = None, rounds: bool = True, progress: bool = False,
         chunks: Any = None) -> xr.Dataset:
    """Open a family of the release, or any store, as a labeled lazy Dataset.

    Parameters
    ----------
    name_or_path
        A family of the catalog (``"6pPol"``, ``"MLP"``) or the path of a store. A family is
        fetched (checksum-verified), converted once into ``cache_dir()/stores/<name>-<sha12>``
        and opened from there on every later call, without reading the release file again.
    source
        A local copy of the release (folder or file) to use instead of downloading.
    catalog
        The catalog to resolve names with (default: the package's release catalog).
    rounds
        Also fetch the family's round files and record each rule's membership as
        ``in_<round>`` booleans.
    progress
        Show progress bars while fetching and converting.
    chunks
        Dask chunks for the variables, as in :meth:`xarray.Dataset.chunk` (e.g.
        ``{"rule": 65536}``); default: no Dask.

    Returns
    -------
    xarray.Dataset
        Lazily indexed variables (``theta``, one per metric, round flags): selections compose
        without reading, and values are read from the store's chunks when first used (or
        Dask arrays with ``chunks``). ``seed`` is indexed (hashed on the first lookup);
        provenance of the sources and of every appended batch is in
        ``ds.attrs["provenance"]``.

    Examples
    --------
    >>> ds = open("6pPol")                                    # doctest: +SKIP
    >>> ds.rate.sel(seed=ds.seed.values[0]).item()            # doctest: +SKIP
    """
    path = Path(name_or_path)
    if path.exists() or not isinstance(name_or_path, str):
        return open_path(path, chunks)  # a store, or a StoreError saying what it is not
    from .errors import UnknownNameError

    try:
        store = store_for_name(name_or_path, source=source, catalog=catalog, rounds=rounds,
                               progress=progress)
    except UnknownNameError as error:
        raise StoreError(f"{name_or_path!r} is neither a store path nor a dataset name: "
                         f"{error}") from None
    ds = open_path(store, chunks)
    if not rounds:
        ds = ds.drop_vars([v for v in ds.data_vars if v.startswith(ROUND_PREFIX)])
    return ds


def store_for_name(name: str, *, source: Any = None, catalog: Any = None, rounds: bool = True,
                   progress: bool = False) -> Path:
    """The local store of a catalog file (a family name means its ``_all`` file).

    Converted on first use into ``cache_dir()/stores/<name>-<sha12>``; later calls return
    that store without reading the release file again.
    """
    from . import catalog as catalog_module
    from .converters import convert

    cat = catalog if catalog is not None else catalog_module.CATALOG
    entry = cat.entry(name)
    if entry.dtype_kind not in ("P", "M"):
        raise StoreError(f"{entry.name} ({entry.filename}) is not a file of rules; open a "
                         f"released .npy such as {entry.family!r}")
    with_rounds = rounds and entry.role == "all"
    label = entry.name.replace("/", "-")
    suffix = "" if with_rounds or entry.role != "all" else "-norounds"
    dest = catalog_module.cache_dir() / "stores" / f"{label}-{entry.checksum[:12]}{suffix}"
    if is_store(dest):
        return dest  # trust the store's provenance: no checksum of the release file again
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = catalog_module.fetch(entry.name, source=source, catalog=cat, progress=progress)
    round_paths = {}
    if with_rounds:
        round_paths = {label: catalog_module.fetch(e.name, source=source, catalog=cat,
                                                   progress=progress)
                       for label, e in cat.rounds(entry.family).items()}
    return convert(src, dest, entry.family, rounds=round_paths or None, progress=progress)


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
           wait: bool = True) -> AppendReport:
    """Append rules to a store, crash-safely: all of the batch is committed or none of it.

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
    wait
        Wait for another writer to finish (default) or raise :class:`StoreConflictError`.

    Examples
    --------
    >>> from fsbi_data.testing import release_records
    >>> report = append("my.store", release_records("6pPol", 10, rng=1))   # doctest: +SKIP
    >>> report.appended                                                   # doctest: +SKIP
    10
    """
    from . import __version__

    if on_duplicate not in ("skip", "error"):
        raise ValueError(f"on_duplicate must be 'skip' or 'error', not {on_duplicate!r}")
    path = Path(store)
    manifest = read_manifest(path)
    fam = family(manifest["family"])
    batch = _as_layout(rules, fam)
    batch, within = _unique_in_batch(batch)
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
                  **(provenance or {})}
        report = AppendReport(path, int(batch.sizes["rule"]), skipped, within, None, record)
        if batch.sizes["rule"] == 0:
            return report
        sequence = manifest.get("next_fragment", len(manifest["fragments"]))
        name = f"fragment-{sequence:06d}"
        (path / FRAGMENTS).mkdir(exist_ok=True)
        tmp = path / FRAGMENTS / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            write_part(batch, tmp)
            fsync_tree(tmp)
            os.rename(tmp, path / FRAGMENTS / name)
            fsync_dir(path / FRAGMENTS)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        manifest["fragments"].append({"name": name, "rows": report.appended,
                                      "provenance": record})
        manifest["next_fragment"] = sequence + 1
        write_manifest(path, manifest)  # the commit point
        report.fragment = name
        logger.info("appended %d rules to %s (%d skipped)", report.appended, path,
                    len(skipped))
        return report


def _as_layout(rules: xr.Dataset | np.ndarray, fam: Family) -> xr.Dataset:
    """A batch as a Dataset of the store's family, checked for the layout's variables."""
    if isinstance(rules, np.ndarray):
        return dataset_from_records(rules, fam)
    if not isinstance(rules, xr.Dataset):
        raise TypeError(f"rules must be an xarray.Dataset or a structured array, "
                        f"not {type(rules).__name__}")
    batch_family = rules.attrs.get("family", fam.name)
    if family(batch_family).name != fam.name:
        raise StoreError(f"the batch holds {batch_family} rules but the store holds "
                         f"{fam.name} rules; append to a store of the batch's family")
    missing = [v for v in ("theta", *fam.metric_names) if v not in rules]
    if "seed" not in rules.coords:
        missing.append("seed")
    if missing:
        raise StoreError(f"the batch lacks {', '.join(missing)}; build it with "
                         f"fsbi_data.layout.dataset_from_arrays (metrics may be NaN)")
    names = tuple(np.asarray(rules["param"].values).astype(str))
    if names != fam.param_names:
        raise StoreError(f"the batch's theta has parameters {names}, expected the "
                         f"{fam.name} parameters {fam.param_names}")
    keep = ["theta", *fam.metric_names] + [v for v in rules.data_vars
                                           if v.startswith(ROUND_PREFIX)]
    return rules[keep].load()


def _unique_in_batch(batch: xr.Dataset) -> tuple[xr.Dataset, int]:
    """Drop repeated identical rules of a batch; refuse two different rules with one seed."""
    seeds = np.asarray(batch["seed"].values).astype(str)
    _, first, counts = np.unique(seeds, return_index=True, return_counts=True)
    if (counts == 1).all():
        return batch, 0
    records = np.column_stack([batch["theta"].values] + [batch[v].values for v in batch.data_vars
                                                         if v != "theta"]).astype(np.float64)
    for index in first[counts > 1]:
        rows = np.flatnonzero(seeds == seeds[index])
        if not all(records[r].tobytes() == records[index].tobytes() for r in rows):
            raise DuplicateSeedError(
                f"the batch holds different rules with the seed {seeds[index]}; give each "
                f"rule its own seed")
    keep = np.sort(first)
    return batch.isel(rule=keep), int(len(seeds) - len(keep))


def write_part(ds: xr.Dataset, path: Path) -> None:
    """Write a Dataset of the layout as a Zarr v3 group (seeds as ASCII bytes)."""
    ds = ds.copy()
    attrs = dict(ds.attrs)
    if "seed" in ds.xindexes:
        ds = ds.drop_indexes("seed")
    ds = ds.assign_coords(seed=("rule", encode_seeds(ds["seed"].values, str(path))))
    ds.attrs = attrs
    ds = ds.assign_coords({name: ds[name].astype(str) for name in ds.coords
                           if ds[name].dtype == object and "rule" not in ds[name].dims})
    encoding = {name: variable_encoding(ds[name].shape, ds[name].dtype)
                for name in ds.variables
                if ds[name].dims and ds[name].dims[0] == "rule"}
    for name in list(ds.variables):
        if name in encoding and ds[name].chunks and ds.sizes["rule"]:
            # Dask chunks aligned with the Zarr chunks; raw columns are small: one read.
            raw = not encoding[name]["compressors"]
            ds[name] = ds[name].load() if raw else ds[name].chunk({"rule": CHUNK_ROWS})
        ds[name].encoding = {}
    with quiet_zarr():
        ds.to_zarr(path, mode="w-", zarr_format=3, encoding=encoding, consolidated=True)


def collect_garbage(path: Path, manifest: dict[str, Any]) -> None:
    """Remove what no committed manifest names: parts of crashed or superseded writers."""
    kept = set(manifest.get("superseded", []))
    live = {manifest["base"]} | kept
    for entry in path.iterdir():
        if entry.is_dir() and entry.name not in live and entry.name != FRAGMENTS and (
                entry.name.startswith("base-") or entry.name.startswith(".base-")):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{MANIFEST}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)
    fragments = {f["name"] for f in manifest["fragments"]}
    if (path / FRAGMENTS).is_dir():
        for entry in (path / FRAGMENTS).iterdir():
            if entry.name not in fragments and f"{FRAGMENTS}/{entry.name}" not in kept:
                shutil.rmtree(entry, ignore_errors=True)


def compact(store: str | os.PathLike, *, wait: bool = True, progress: bool = False) -> Path:
    """Merge the base and all fragments of a store into a new base (atomic, crash-safe).

    The superseded base and fragments stay on disk until the next compaction, so Datasets
    opened before this one keep reading correct values until then; open the store again
    after compacting.

    Examples
    --------
    >>> compact("my.store")                  # doctest: +SKIP
    """
    path = Path(store)
    with writer_lock(path, wait=wait):
        manifest = read_manifest(path)
        if not manifest["fragments"]:
            return path
        if manifest.get("superseded"):  # parts replaced by the previous compaction
            manifest["superseded"] = []
            write_manifest(path, manifest)
        collect_garbage(path, manifest)
        ds = open_path(path, chunks={"rule": CHUNK_ROWS})  # streamed, chunk by chunk
        generation = manifest.get("generation", 0) + 1
        name = f"base-{generation:06d}"
        tmp = path / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            write_part(ds, tmp)
            fsync_tree(tmp)
            os.rename(tmp, path / name)
            fsync_dir(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        superseded = [manifest["base"]] + [f"{FRAGMENTS}/{f['name']}"
                                           for f in manifest["fragments"]]
        manifest.update(base=name, generation=generation, fragments=[],
                        superseded=superseded)
        write_manifest(path, manifest)
        logger.info("compacted %s into %s (%d rules)", path, name, ds.sizes["rule"])
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
    """Build a whole store beside ``path`` and publish it with one atomic rename."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir(parents=True)
    try:
        base = "base-000000"
        write_base(tmp / base)
        write_manifest(tmp, new_manifest(fam.name, base), durable=False)
        try:
            os.rename(tmp, path)
        except OSError as error:
            raise StoreConflictError(f"could not publish the store at {path}: {error}; another "
                                     f"process created it meanwhile") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


__all__ = ["AppendReport", "append", "compact", "create", "family_attrs", "is_store", "open",
           "open_path", "read_manifest"]
