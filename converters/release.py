"""Released ``.npy`` files → stores, streamed chunk by chunk with bounded memory.

The file is read block by block (``CHUNK_ROWS`` records at a time into one reused buffer); each
block's theta is written as one compressed Zarr chunk, while a second thread hashes the bytes
(sha256, for provenance and reuse). Only the seeds and the metric columns of all rows (8 bytes
per metric and rule, a quarter of the file for the release) are held until the end: the
seeds decide duplicates and round membership, the metrics are written as raw columns.

Examples
--------
>>> from fsbi_data.converters import convert
>>> convert("bg_IF_EEEIIEII_6pPol_all.npy", "6pPol.store")   # doctest: +SKIP
PosixPath('6pPol.store')
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import lfs_pointer_advice
from ..errors import DuplicateSeedError, ReleaseFormatError, StoreError
from ..files import sha256_of
from ..schema import Family, family, family_of_dtype, layout_problems, record_layouts
from ..store.encoding import CHUNK_ROWS, encode_seeds, quiet_zarr, variable_encoding
from ..store.layout import ROUND_PREFIX, family_attrs, metric_attrs, param_coords
from ..store.manifest import is_store, read_manifest
from ..store.writing import publish_new_store
from ..version import __version__

logger = logging.getLogger(__name__)

DUPLICATE_CHOICES = ("error", "first", "last")


def converter_version() -> str:
    return __version__


def convert(src: str | os.PathLike, dest: str | os.PathLike,
            family: str | Family | None = None, *,
            rounds: Mapping[str, str | os.PathLike] | None = None,
            duplicates: str = "error", attrs: Mapping[str, str] | None = None,
            progress: bool = False) -> Path:
    """Convert a released ``.npy`` file into a store at ``dest``.

    Parameters
    ----------
    src
        A released (or release-format) ``.npy`` of either family.
    dest
        The store directory to create. If it already holds a store converted from a file with
        the same sha256 (and the same round files), it is reused as it is.
    family
        ``"6pPol"`` or ``"MLP"``; inferred from the dtype when omitted, checked when given.
    rounds
        Round label → round file (e.g. ``{"pi0": "box_prior_metrics.npy", ...}``): each rule
        gets an ``in_<label>`` boolean, true when its seed is in that file.
    duplicates
        Rows that repeat a seed with identical contents are always reduced to one (their count
        is logged and recorded in the provenance). Different rows sharing a seed raise
        :class:`~fsbi_data.errors.DuplicateSeedError` (``"error"``, default), or keep the
        ``"first"`` or ``"last"`` of them.
    attrs
        Extra dataset attributes of the store (e.g. ``{"data_origin": "..."}``).
    progress
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Examples
    --------
    >>> from fsbi_data.synthetic import write_release_file
    >>> src = write_release_file("demo.npy", "MLP", 1000, rng=0)   # doctest: +SKIP
    >>> convert(src, "demo.store")                                 # doctest: +SKIP
    PosixPath('demo.store')
    """
    if duplicates not in DUPLICATE_CHOICES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_CHOICES}, not {duplicates!r}")
    src, dest = Path(src), Path(dest)
    header = read_header(src)
    fam = check_family(header, src, family)
    round_paths = {str(label): Path(p) for label, p in (rounds or {}).items()}
    round_headers = {label: read_header(p) for label, p in round_paths.items()}
    for label, round_header in round_headers.items():
        check_family(round_header, round_paths[label], fam)

    if dest.exists():
        return _reuse(dest, src, round_paths)

    def write_base(base: Path) -> None:
        _write_base(base, header, fam, round_paths, round_headers, duplicates, progress,
                    dict(attrs or {}))

    publish_new_store(dest, fam, write_base)
    logger.info("converted %s into %s", src, dest)
    return dest


# --- reading and checking ---------------------------------------------------------------------

class Header:
    """The ``.npy`` header of a release file and what it implies."""

    def __init__(self, path: Path, dtype: np.dtype, rows: int, offset: int):
        self.path, self.dtype, self.rows, self.offset = path, dtype, rows, offset


def read_header(path: Path) -> Header:
    """Parse and check a ``.npy`` header: 1-D structured, C order, as many bytes as declared.

    Raises
    ------
    ReleaseFormatError
        Naming the file and what is wrong with it: missing, a Git LFS pointer instead of the
        data, not a ``.npy`` file (an unreadable header), not an array of records, or
        truncated.
    """
    if not path.is_file():
        raise ReleaseFormatError(f"{path}: no such file; give the path of a released .npy")
    advice = lfs_pointer_advice(path)
    if advice:
        raise ReleaseFormatError(f"{path}: {advice}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read(f)
        except Exception as error:  # numpy raises many kinds for a garbage header
            reason = ascii(" ".join(str(error).split())[:200])[1:-1]  # one printable line
            raise ReleaseFormatError(
                f"{path} is not a valid .npy file: its header cannot be read ({reason}); "
                f"download it again (fsbi-data fetch NAME) or check that it is a released "
                f"fSBI file") from None
        offset = f.tell()
    if dtype.names is None or len(shape) != 1 or fortran_order or dtype.itemsize == 0:
        raise ReleaseFormatError(
            f"{path}: expected a 1-D structured array of records (seed, theta, metrics), "
            f"found shape {shape} of dtype {dtype}; it is not a released fSBI metrics file")
    rows = shape[0]
    if rows < 0:
        raise ReleaseFormatError(
            f"{path}: its header declares {rows} records; the header is damaged, download the "
            f"file again (fsbi-data fetch NAME)")
    expected = offset + rows * dtype.itemsize
    if size != expected:
        complete = (size - offset) // dtype.itemsize if size > offset else 0
        what = "truncated" if size < expected else "longer than its header declares"
        raise ReleaseFormatError(
            f"{path} is {what}: its header declares {rows} records ({expected} bytes) but the "
            f"file has {size} bytes ({complete} complete records); download it again")
    return Header(path, dtype, rows, offset)


def check_family(header: Header, path: Path, expected: str | Family | None) -> Family:
    """The family of a file's dtype, checked against ``expected`` field by field."""
    dtype = header.dtype
    if expected is None:
        try:
            fam = family_of_dtype(dtype)
        except ReleaseFormatError as error:
            raise ReleaseFormatError(f"{path}: {error}") from None
    else:
        fam = family(expected)
        problems = layout_problems(dtype, fam)
        if problems:
            raise ReleaseFormatError(
                f"{path} does not hold {fam.name} records: {'; '.join(problems)}; check the "
                f"family ({record_layouts()})")
    for name in dtype.names:
        kind = dtype[name].base.kind if name != "seed" else dtype[name].kind
        wanted = "U" if name == "seed" else "f"
        if kind != wanted:
            raise ReleaseFormatError(
                f"{path}: field {name!r} has type {dtype[name]}, expected "
                f"{'unicode (<U64)' if wanted == 'U' else 'float64'}")
    return fam


def iter_blocks(header: Header, rows: int | None = None,
                on_bytes: Callable[[memoryview], Any] | None = None
                ) -> Any:
    """Yield ``(start, records)`` blocks of a file, reusing one buffer (bounded memory).

    ``on_bytes`` is called with each block's raw bytes (e.g. to hash them) in a second thread,
    overlapping the caller's work on the block.
    """
    buffer = np.empty(min(rows or CHUNK_ROWS, max(header.rows, 1)), dtype=header.dtype)
    raw = memoryview(buffer.view(np.uint8).reshape(-1))
    with open(header.path, "rb") as f, ThreadPoolExecutor(1) as pool:
        head = f.read(header.offset)  # hashed too: the digest is the whole file's sha256
        if on_bytes:
            on_bytes(head)
        start = 0
        while start < header.rows:
            n = min(len(buffer), header.rows - start)
            nbytes = n * header.dtype.itemsize
            got = f.readinto(raw[:nbytes])
            if got != nbytes:
                raise ReleaseFormatError(f"{header.path} changed while it was read; "
                                         f"convert it again")
            pending = pool.submit(on_bytes, raw[:nbytes]) if on_bytes else None
            yield start, buffer[:n]
            if pending is not None:
                pending.result()
            start += n


def file_sha256(header: Header) -> str:
    return sha256_of(header.path)


def _reuse(dest: Path, src: Path, round_paths: Mapping[str, Path]) -> Path:
    """Return ``dest`` if it is a store converted from these very files; else refuse."""
    if not is_store(dest):
        raise StoreError(f"{dest} exists and is not an fsbi-data store; give a new path for "
                         f"the store, or remove {dest} first")
    manifest = read_manifest(dest)
    import zarr

    with quiet_zarr():
        attrs = zarr.open_group(dest / manifest["base"], mode="r").attrs
    sources = json.loads(attrs.get("provenance", "[]"))
    stored = {(s.get("round") or "", s.get("sha256")) for s in sources}
    wanted = {("", file_sha256(read_header(src)))}
    wanted |= {(label, file_sha256(read_header(p))) for label, p in round_paths.items()}
    if stored == wanted:
        logger.info("%s was already converted from the same files; reusing it", dest)
        return dest
    raise StoreError(f"{dest} holds a store converted from other files ({sorted(stored)}); "
                     f"give a new path, or remove {dest} to convert {src.name} there")


# --- writing ----------------------------------------------------------------------------------

def _write_base(base: Path, header: Header, fam: Family, round_paths: Mapping[str, Path],
                round_headers: Mapping[str, Header], duplicates: str, progress: bool,
                attrs: dict[str, str]) -> None:
    import zarr

    seeds, sha256 = _write_columns(base, header, fam, None, progress)
    keep, report = resolve_duplicates(seeds, header, duplicates)
    if keep is not None:
        shutil.rmtree(base)
        seeds, _ = _write_columns(base, header, fam, keep, progress)
    sources = [{"kind": "source", "name": header.path.name, "sha256": sha256,
                "rows": header.rows, "rules": int(len(seeds)), **report,
                "converter": "fsbi_data.converters.release",
                "converter_version": converter_version()}]
    membership = {}
    for label, path in round_paths.items():
        round_seeds, round_sha = _read_seeds(round_headers[label])
        inside = np.isin(seeds, round_seeds)
        missing = int(len(np.setdiff1d(round_seeds, seeds)))
        if missing:
            logger.warning("%d rows of round %s (%s) are not in %s", missing, label, path.name,
                           header.path.name)
        membership[f"{ROUND_PREFIX}{label}"] = ("rule", inside,
                                                {"long_name": f"rule is in round {label}",
                                                 "source": path.name})
        sources.append({"kind": "round", "round": label, "name": path.name,
                        "sha256": round_sha, "rows": round_headers[label].rows,
                        "rows_not_in_source": missing,
                        "converter_version": converter_version()})
    import xarray as xr

    extra = xr.Dataset(membership, coords={"seed": ("rule", seeds)})
    encoding = {name: variable_encoding(extra[name].shape, extra[name].dtype, CHUNK_ROWS)
                for name in extra.variables}
    with quiet_zarr():
        extra.to_zarr(base, mode="a", zarr_format=3, encoding=encoding, consolidated=False)
        group = zarr.open_group(base, mode="r+")
        group.attrs.update({**attrs, **family_attrs(fam, sources)})
        zarr.consolidate_metadata(base)


def _write_columns(base: Path, header: Header, fam: Family, keep: np.ndarray | None,
                   progress: bool) -> tuple[np.ndarray, str]:
    """Stream theta and metrics into ``base``; return all kept seeds (ASCII bytes) and sha256.

    Theta is written block by block; the metric columns (raw columns, one chunk each: see
    :func:`fsbi_data.store.is_raw_column`) are gathered in memory, 8 bytes per rule and metric,
    and written at the end.
    """
    import dask.array as da
    import xarray as xr
    import zarr

    n = header.rows if keep is None else len(keep)
    theta_chunks = (min(CHUNK_ROWS, max(n, 1)), fam.n_theta)
    data_vars: dict[str, Any] = {
        "theta": (("rule", "param"), da.empty((n, fam.n_theta), chunks=theta_chunks),
                  {"long_name": "rule parameters",
                   "description": f"theta of the {fam.name} family; names, units and prior "
                                  f"bounds on the param coordinates"}),
    }
    metric_chunks = variable_encoding((n,))["chunks"]
    for name in fam.metric_names:
        data_vars[name] = ("rule", da.empty(n, chunks=metric_chunks), metric_attrs(fam, name))
    template = xr.Dataset(data_vars, coords=param_coords(fam))
    encoding = {name: variable_encoding(template[name].shape, template[name].dtype, CHUNK_ROWS,
                                        on_rule="rule" in template[name].dims)
                for name in template.variables}
    with quiet_zarr():
        template.to_zarr(base, mode="w-", zarr_format=3, compute=False, encoding=encoding,
                         consolidated=False)
        group = zarr.open_group(base, mode="r+")
        arrays = {name: group[name] for name in data_vars}

    digest = hashlib.sha256()
    seeds = np.empty(n, dtype=f"S{header.dtype['seed'].itemsize // 4}")
    metrics = {name: np.empty(n) for name in fam.metric_names}
    bar = _progress_bar(header, progress)
    out = 0
    with ThreadPoolExecutor(2) as writers:
        for start, block in iter_blocks(header, on_bytes=digest.update):
            source_rows = len(block)
            if keep is not None:
                block = block[keep[(keep >= start) & (keep < start + len(block))] - start]
            rows = slice(out, out + len(block))
            seeds[rows] = encode_seeds(block["seed"], str(header.path))
            theta = writers.submit(arrays["theta"].__setitem__, rows,
                                   np.ascontiguousarray(block["theta"]))
            for name, column in metrics.items():
                column[rows] = block[name]
            theta.result()
            out += len(block)
            bar.update(source_rows)
        jobs = [writers.submit(arrays[name].__setitem__, slice(None), column)
                for name, column in metrics.items()]
        for job in jobs:
            job.result()
    bar.close()
    width = max(1, int(np.char.str_len(seeds).max())) if n else 1
    return seeds.astype(f"S{width}"), digest.hexdigest()


def _read_seeds(header: Header) -> tuple[np.ndarray, str]:
    digest = hashlib.sha256()
    parts = [encode_seeds(block["seed"], str(header.path))
             for _, block in iter_blocks(header, on_bytes=digest.update)]
    seeds = np.concatenate(parts) if parts else np.array([], dtype="S1")
    return seeds, digest.hexdigest()


def resolve_duplicates(seeds: np.ndarray, header: Header, duplicates: str
                       ) -> tuple[np.ndarray | None, dict[str, int]]:
    """Rows to keep (None: all) and counts of dropped duplicates, by seed.

    Rows repeating a seed with bitwise-identical records are reduced to the first; different
    records under one seed follow ``duplicates``.
    """
    order = np.argsort(seeds, kind="stable")
    ordered = seeds[order]
    repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    if len(repeat) == 0:
        return None, {"duplicate_rows_dropped": 0, "conflicting_seeds": 0}
    records = np.load(header.path, mmap_mode="r")
    drop: list[int] = []
    identical = conflicting = 0
    group_starts = np.unique(np.searchsorted(ordered, ordered[repeat], side="left"))
    for g in group_starts:
        stop = np.searchsorted(ordered, ordered[g], side="right")
        rows = np.sort(order[g:stop])
        raw = [records[r].tobytes() for r in rows]
        if all(r == raw[0] for r in raw[1:]):
            identical += len(rows) - 1
            drop.extend(rows[1:])
            continue
        if duplicates == "error":
            n_conflict = sum(1 for s in group_starts
                             if _differs(records, order, ordered, s))
            raise DuplicateSeedError(
                f"{header.path}: {n_conflict} seed(s) name different rules, e.g. "
                f"{ordered[g].decode()!r} at rows {rows.tolist()}; pass duplicates='first' or "
                f"'last' to keep one of each")
        conflicting += 1
        kept = rows[0] if duplicates == "first" else rows[-1]
        drop.extend(r for r in rows if r != kept)
    keep = np.setdiff1d(np.arange(header.rows), np.array(drop, dtype=np.int64))
    logger.warning("%s: dropped %d rows repeating a seed with identical contents and %d rows "
                   "of %d seeds naming different rules (duplicates=%r)", header.path,
                   identical, len(drop) - identical, conflicting, duplicates)
    return keep, {"duplicate_rows_dropped": identical,
                  "conflicting_seeds": conflicting,
                  "conflicting_rows_dropped": len(drop) - identical}


def _differs(records: np.ndarray, order: np.ndarray, ordered: np.ndarray, g: int) -> bool:
    stop = np.searchsorted(ordered, ordered[g], side="right")
    raw = {records[r].tobytes() for r in order[g:stop]}
    return len(raw) > 1


def _progress_bar(header: Header, progress: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=header.rows, unit="rule", desc=header.path.name, disable=not progress)
