"""The released files of the fSBI paper: where they are, what they hold, how to get them.

One table (:data:`CATALOG`) lists every data file of the release repository ``VogelsLab/fSBI``
at the pinned commit :data:`RELEASE_COMMIT`; :func:`fetch` returns a local, checksum-verified
copy of one of them (downloaded with pooch, or taken from a local copy of the release), and
:func:`datasets` tells what exists and what is cached.

Environment variables
---------------------
``FSBI_DATA_HOME``
    The cache folder (default: ``pooch.os_cache("fsbi-data")``).
``FSBI_DATA_URL``
    The base URL of a mirror of the release repository; a file is then downloaded from
    ``$FSBI_DATA_URL/<path in the repository>``.
``FSBI_DATA_TIMEOUT``
    Seconds a download may go without progress (default :data:`STALL_TIMEOUT_S`, 60): a
    download that receives less than 64 kB (one chunk) in that time is aborted with
    :class:`~fsbi_data.errors.DataUnavailableError` naming the URL, and nothing is cached.

Examples
--------
>>> from fsbi_data.catalog import CATALOG
>>> entry = CATALOG.entry("6pPol/pi3")
>>> entry.rows, entry.size
(50200, 29718912)
>>> list(CATALOG.rounds("MLP"))
['pi0', 'pi1', 'pi2', 'pi3']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from .errors import ChecksumError, DataUnavailableError, UnknownNameError
from .schema import FAMILIES, family

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

REPOSITORY = "VogelsLab/fSBI"
RELEASE_COMMIT = "d0e64b196091b13f801abac4c1e7c4957a0d5fda"
LFS_BASE_URL = f"https://media.githubusercontent.com/media/{REPOSITORY}/{RELEASE_COMMIT}"
RAW_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{RELEASE_COMMIT}"
HOME_ENV = "FSBI_DATA_HOME"
URL_ENV = "FSBI_DATA_URL"
TIMEOUT_ENV = "FSBI_DATA_TIMEOUT"
STALL_TIMEOUT_S = 60.0
PAPER = ("Confavreux, Ramesh, Gonçalves, Macke & Vogels, NeurIPS 2023, https://openreview.net/"
         "forum?id=FLFasCFJNo")
LFS_POINTER_PREFIX = b"version https://git-lfs"

Role = Literal["all", "round", "longevity", "tutorial", "tutorial-raw", "posterior"]
ChecksumKind = Literal["sha256", "git-sha1"]
DtypeKind = Literal["P", "M", "hdf5", "pickle"]

_HASH_BLOCK = 1 << 22
# Progress is counted in chunks: a download must receive one chunk per stall timeout, i.e.
# about 1 kB/s with the default 60 s.
_DOWNLOAD_CHUNK = 1 << 16
_LFS_POINTER_MAX = 1024  # Git LFS pointer files are smaller than this (Git LFS spec)
_MARKER_DIR = ".verified"


@dataclass(frozen=True)
class CatalogEntry:
    """One file of the release.

    Attributes
    ----------
    name
        Catalog name, e.g. ``"6pPol"`` (the ``_all`` file) or ``"MLP/pi3"``.
    family
        ``"6pPol"`` or ``"MLP"``.
    path
        Path of the file in the release repository.
    checksum
        Hex digest: sha256 of the content (Git LFS files) or the Git blob id (other files).
    checksum_kind
        ``"sha256"`` or ``"git-sha1"``.
    size
        Bytes, or None where unknown.
    dtype_kind
        ``"P"`` (6pPol records), ``"M"`` (MLP records), ``"hdf5"`` or ``"pickle"``.
    rows
        Records in a ``.npy`` file; None for other files.
    role
        ``"all"``, ``"round"``, ``"longevity"``, ``"tutorial"``, ``"tutorial-raw"`` or
        ``"posterior"``.
    round
        ``"pi0"`` … ``"pi3"`` for round files, else None.
    url
        Download URL pinned to :data:`RELEASE_COMMIT`.
    """

    name: str
    family: str
    path: str
    checksum: str
    checksum_kind: ChecksumKind
    size: int | None
    dtype_kind: DtypeKind
    rows: int | None
    role: Role
    round: str | None
    url: str

    @property
    def filename(self) -> str:
        """The file's name without its folders."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_lfs(self) -> bool:
        """Whether the file is a Git LFS object (served by media.githubusercontent.com)."""
        return self.checksum_kind == "sha256"


def origin_url(path: str, lfs: bool) -> str:
    """The pinned download URL of a repository path (LFS media URL or raw URL)."""
    return f"{LFS_BASE_URL if lfs else RAW_BASE_URL}/{path}"


def make_entry(name: str, fam: str, path: str, checksum: str, size: int | None,
               dtype_kind: DtypeKind, rows: int | None, role: Role,
               round: str | None = None) -> CatalogEntry:
    """A :class:`CatalogEntry` whose checksum kind and URL follow from its file type."""
    lfs = path.endswith(".npy")
    return CatalogEntry(name=name, family=fam, path=path, checksum=checksum,
                        checksum_kind="sha256" if lfs else "git-sha1", size=size,
                        dtype_kind=dtype_kind, rows=rows, role=role, round=round,
                        url=origin_url(path, lfs))


class Catalog(Mapping[str, CatalogEntry]):
    """Catalog name → :class:`CatalogEntry`, in release order.

    Parameters
    ----------
    entries
        The entries; names must be unique.

    Examples
    --------
    >>> from fsbi_data.catalog import CATALOG
    >>> CATALOG["MLP"].path
    'data_synapsesbi/bg_CVAIF_EEIE_T4wvceciMLP/bg_CVAIF_EEIE_T4wvceciMLP_all.npy'
    """

    def __init__(self, entries: Iterable[CatalogEntry]):
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"duplicate catalog name {entry.name!r}")
            self._entries[entry.name] = entry

    def __getitem__(self, name: str) -> CatalogEntry:
        return self.entry(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} files: {', '.join(self._entries)}>"

    @property
    def entries(self) -> Mapping[str, CatalogEntry]:
        """Read-only name → entry mapping (the catalog itself iterates over names)."""
        return MappingProxyType(self._entries)

    def entry(self, name: str) -> CatalogEntry:
        """The entry called ``name``; the family part is case-insensitive (``"mlp/pi0"``).

        Raises
        ------
        UnknownNameError
            If no entry has that name; the message lists the valid names.
        """
        found = self._entries.get(name)
        if found is None and isinstance(name, str):
            head, sep, tail = name.partition("/")
            try:
                found = self._entries.get(family(head).name + sep + tail)
            except UnknownNameError:
                found = None
        if found is None:
            raise UnknownNameError(
                f"unknown dataset name {name!r}; valid names: {', '.join(self._entries)} "
                f"(see fsbi_data.datasets() or `fsbi-data datasets`)"
            )
        return found

    def rounds(self, fam: str) -> dict[str, CatalogEntry]:
        """The round files of a family, ``{"pi0": entry, …}`` in round order."""
        name = family(fam).name
        found = [e for e in self._entries.values() if e.family == name and e.role == "round"]
        return {e.round: e for e in sorted(found, key=lambda e: e.round)}

    def of_family(self, fam: str) -> list[CatalogEntry]:
        """All entries of a family, in catalog order."""
        name = family(fam).name
        return [e for e in self._entries.values() if e.family == name]


# --- the release at RELEASE_COMMIT (spec/data-release.md §1) ----------------------------------
def _release_entries() -> list[CatalogEntry]:
    p, m = FAMILIES["6pPol"].task_name, FAMILIES["MLP"].task_name
    data_p, data_m = f"data_synapsesbi/{p}", f"data_synapsesbi/{m}"
    runs_p, runs_m = f"runs_synapsesbi/{p}", f"runs_synapsesbi/{m}"
    # (name, family, path, checksum, size, dtype kind, rows, role, round)
    table = [
        ("6pPol", "6pPol", f"{data_p}/{p}_all.npy",
         "df5297b3c75f63b967355faa8d433cc20c79bdc7e1caf7a8161a08bd2e6abeba", 209_746_112,
         "P", 354_300, "all", None),
        ("6pPol/pi0", "6pPol", f"{data_p}/box_prior_metrics.npy",
         "0792a7e27e93515eec33ce1db9a7d1576e90bc614664e702c341b217410c0910", 5_920_512,
         "P", 10_000, "round", "pi0"),
        ("6pPol/pi1", "6pPol", f"{data_p}/0rate_filter2_metrics.npy",
         "aefa27598e65d7609d238979e557089cd2d88a1381fe5a96ce82062b84e7b391", 2_960_512,
         "P", 5_000, "round", "pi1"),
        ("6pPol/pi2", "6pPol", f"{data_p}/0rate_filter2_1wblowwcreep_filter4_metrics.npy",
         "2ae525cc73be972f90f1a89ca722ee00857c2e030f65eff44b20bf6d2519c8b0", 5_920_512,
         "P", 10_000, "round", "pi2"),
        ("6pPol/pi3", "6pPol", f"{data_p}/0r_f2_1wc_f2_metrics.npy",
         "e1820cd65410def01e243b2f6d7e4140028d9581217fbbe0889f5815fd4171c2", 29_718_912,
         "P", 50_200, "round", "pi3"),
        ("6pPol/bg20min", "6pPol", f"{data_p}/bg20min_metrics.npy",
         "d22a999704c1238861a8fc3a14008de4baade1dbd9fe68c1d72237b5680c526f", 8_385_008,
         "P", 14_163, "longevity", None),
        ("6pPol/tutorial", "6pPol", f"{data_p}/pi3_r5to10Hz_metrics.npy",
         "4ec05a83e7f1445186f2f429a76ed95a97750a52b4145e78edbca07db003f986", 6_432,
         "P", 10, "tutorial", None),
        ("6pPol/tutorial-raw", "6pPol", f"{data_p}/pi3_r5to10Hz.h5",
         "1c730c8d8f8dc448b74fbb491a5b0fc0cf1905ca", None, "hdf5", None, "tutorial-raw", None),
        ("6pPol/posterior-tutorial", "6pPol", f"{runs_p}/posterior_pi3_r5to10Hz.pkl",
         "5efaace2a540e20d13de481b6f3371052372a622", None, "pickle", None, "posterior", None),
        ("6pPol/posterior-0r_f2_1r_f0", "6pPol", f"{runs_p}/posterior_0r_f2_1r_f0.pkl",
         "93bfa577218f3c0f03015d1d14bf5588e07d62e4", None, "pickle", None, "posterior", None),
        ("MLP", "MLP", f"{data_m}/{m}_all.npy",
         "90cb9c7081dca4d90323929d47423af09993d4f7c7acc10e60645b835941b1db", 184_234_848,
         "M", 328_990, "all", None),
        ("MLP/pi0", "MLP", f"{data_m}/0rate_filter0_metrics.npy",
         "790281076f5c2806a6efac7aaa49a9c4261a79d832d91db408505cf20fe4a719", 6_160_448,
         "M", 11_000, "round", "pi0"),
        ("MLP/pi1", "MLP", f"{data_m}/0rate_filter1_metrics.npy",
         "ee6f86410ca3349d705caec9f6c4158361716f6a08c7e8202b45d9e1b1e8c052", 6_160_448,
         "M", 11_000, "round", "pi1"),
        ("MLP/pi2", "MLP", f"{data_m}/0r_f2_1wb_f2_2wbcv_f0_metrics.npy",
         "99f28ab21a3106f3b5c0bb46eac92f351e46ba8abd9e45394fd7942a3d6abdb0", 10_080_448,
         "M", 18_000, "round", "pi2"),
        ("MLP/pi3", "MLP", f"{data_m}/0r_f2_1wb_f2_2wbcv_f3_2wbwcac_f0_metrics.npy",
         "b28d04ba45689016e3385632147592ba49bf9d3721f0c9c7958685cb8b6b849a", 8_680_448,
         "M", 15_500, "round", "pi3"),
        ("MLP/bg20min", "MLP", f"{data_m}/bg20min_metrics.npy",
         "476dac2ff9e9d6a7cb74cf9cdb5ff4c78fd18aab7c83e957edca5eb5d1678095", 8_400_448,
         "M", 15_000, "longevity", None),
        ("MLP/posterior-fig4", "MLP",
         f"{runs_m}/posterior_0r_f2_1wb_f2_2wbcv_f3_2wbwcac_f0_3rwbwcac_f0.pkl",
         "a25c80bce9829f3bc67d475a690e80ef6d667385", None, "pickle", None, "posterior", None),
    ]
    return [make_entry(*row) for row in table]


CATALOG = Catalog(_release_entries())
"""Every data file of the release at :data:`RELEASE_COMMIT`."""


# --- checksums -------------------------------------------------------------------------------
def file_checksum(path: str | os.PathLike, kind: ChecksumKind = "sha256", *,
                  progress: bool = False) -> str:
    """Hex digest of a file: its sha256, or its Git blob id (``kind="git-sha1"``).

    The Git blob id is the SHA-1 of ``b"blob <size>\\0"`` followed by the content.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "hello"
    >>> _ = f.write_bytes(b"hello\\n")
    >>> file_checksum(f, "git-sha1")   # same as `git hash-object hello`
    'ce013625030ba8dba906f756967f9e9ca394464a'
    """
    path = Path(path)
    size = path.stat().st_size
    if kind == "sha256":
        digest = hashlib.sha256()
    elif kind == "git-sha1":
        digest = hashlib.sha1(f"blob {size}\0".encode())
    else:
        raise ValueError(f"unknown checksum kind {kind!r}; expected 'sha256' or 'git-sha1'")
    bar = _progress_bar(size, f"verifying {path.name}") if progress else None
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
            if bar is not None:
                bar.update(len(block))
    if bar is not None:
        bar.close()
    return digest.hexdigest()


def _progress_bar(total: int, desc: str, delay: float = 0.0):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False, delay=delay)


def verify(path: str | os.PathLike, entry: CatalogEntry, *, progress: bool = False) -> None:
    """Check a file's size and checksum against ``entry``.

    Raises
    ------
    ChecksumError
        Naming the file, the expected and found size or digest, and the fix.
    """
    path = Path(path)
    _check_size(path, entry, path.stat().st_size)
    _check_digest(path, entry, file_checksum(path, entry.checksum_kind, progress=progress))


def _check_size(path: Path, entry: CatalogEntry, size: int, url: str | None = None) -> None:
    if entry.size is not None and size != entry.size:
        raise _mismatch(path, entry, url, f"size {size:,} bytes",
                        f"{entry.size:,} bytes", "truncated")


def _check_digest(path: Path, entry: CatalogEntry, found: str, url: str | None = None) -> None:
    if found != entry.checksum:
        raise _mismatch(path, entry, url, f"{entry.checksum_kind} {found}",
                        f"{entry.checksum_kind} {entry.checksum}", "corrupted")


def _mismatch(path: Path, entry: CatalogEntry, url: str | None, found: str, expected: str,
              damage: str) -> ChecksumError:
    """The error for a file that is not ``entry``: a local ``path``, or a download from ``url``.

    A download is named by its URL: its temporary file is deleted before anyone reads this.
    """
    if url is None:
        advice = lfs_pointer_advice(path, Catalog([entry]))
        return ChecksumError(
            f"{path}: {found}, but catalog entry {entry.name!r} ({entry.path}) expects "
            f"{expected}{f' ({advice})' if advice else ''}. The file is {damage} or not the "
            f"released one; delete it and fetch {entry.name!r} again, or point source= at an "
            f"intact copy."
        )
    hint = ""
    if read_lfs_pointer(path) is not None:
        hint = (" (the server sent a Git LFS pointer, not the data: it serves the repository "
                "without its LFS content; unset FSBI_DATA_URL to download from "
                "media.githubusercontent.com, or run `git lfs pull` in the mirror's clone)")
    mirror = (f", or check that the mirror ({URL_ENV}) serves release commit "
              f"{RELEASE_COMMIT[:10]}" if url != entry.url else "")
    return ChecksumError(
        f"download of {entry.name!r} from {url}: {found}, but catalog entry {entry.name!r} "
        f"({entry.path}) expects {expected}{hint}. The download was {damage} or is not the "
        f"released file, and nothing was cached: fetch {entry.name!r} again{mirror}."
    )


class _HashingWriter:
    """A binary file that also feeds what it writes to a sha256 (one pass over a download)."""

    def __init__(self, file):
        self.file, self.digest, self.size = file, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def read_lfs_pointer(path: str | os.PathLike) -> dict[str, str] | None:
    """The fields of a Git LFS pointer file (``version``, ``oid``, ``size``), or None.

    Git stores such a small text file instead of the data when a repository is cloned or
    served without its Git LFS content.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "pointer.npy"
    >>> _ = f.write_text("version https://git-lfs.github.com/spec/v1\\noid sha256:ab12\\n"
    ...                  "size 6432\\n")
    >>> read_lfs_pointer(f)["size"]
    '6432'
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_LFS_POINTER_MAX)
    except OSError:
        return None
    if not head.startswith(LFS_POINTER_PREFIX):
        return None
    fields = {}
    for line in head.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    return fields


def lfs_pointer_advice(path: str | os.PathLike, catalog: Catalog | None = None) -> str | None:
    """What to tell a user who has a Git LFS pointer instead of data; None if it is not one.

    The pointer's ``oid`` names the data's sha256; when the catalog knows it, the advice
    names the file to fetch.

    Examples
    --------
    >>> lfs_pointer_advice("box_prior_metrics.npy")          # doctest: +SKIP
    'this is a Git LFS pointer, not the data ...: get the data with `fsbi-data fetch 6pPol/pi0`,
    or run `git lfs pull` in your clone of VogelsLab/fSBI'
    """
    pointer = read_lfs_pointer(path)
    if pointer is None:
        return None
    oid = pointer.get("oid", "").removeprefix("sha256:")
    names = [e.name for e in (catalog or CATALOG).values() if e.is_lfs and e.checksum == oid]
    how = (f"`fsbi-data fetch {names[0]}`" if names
           else "`fsbi-data fetch NAME` (the names: `fsbi-data datasets`)")
    return (f"this is a Git LFS pointer, not the data (the data, {pointer.get('size', '?')} "
            f"bytes with sha256 {oid[:12] or '?'}..., is stored in Git LFS): get it with {how}, "
            f"or run `git lfs pull` in your clone of {REPOSITORY}")


# Verified markers: a small JSON file per verified file, under <cache>/.verified/, recording
# the file's path, size and modification time and the checksum it was verified against. A
# marker is valid only while all four still match, so replacing or touching the file, or a
# catalog with another checksum, forces a new verification.
def _marker_path(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    return cache_dir() / _MARKER_DIR / f"{key}.json"


def _file_state(path: Path, entry: CatalogEntry) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "checksum": entry.checksum}


def _is_marked(path: Path, entry: CatalogEntry) -> bool:
    marker = _marker_path(path)
    try:
        return path.is_file() and json.loads(marker.read_text()) == _file_state(path, entry)
    except (OSError, ValueError):
        return False


def _mark(path: Path, entry: CatalogEntry) -> None:
    marker = _marker_path(path)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(marker, json.dumps(_file_state(path, entry)))
    except OSError as error:  # a read-only cache only costs a re-verification next time
        log.warning("could not record verification of %s: %s", path, error)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ensure_verified(path: Path, entry: CatalogEntry, progress: bool) -> Path:
    if not _is_marked(path, entry):
        log.info("verifying %s against %s", path, entry.name)
        verify(path, entry, progress=progress)
        _mark(path, entry)
    return path


# --- cache, sources, download ----------------------------------------------------------------
def cache_dir() -> Path:
    """The cache folder: ``$FSBI_DATA_HOME`` if set, else ``pooch.os_cache("fsbi-data")``.

    Released files are cached at ``<cache_dir>/<path in the release repository>``.

    Examples
    --------
    >>> import os
    >>> os.environ["FSBI_DATA_HOME"] = "/tmp/fsbi-cache"
    >>> str(cache_dir())
    '/tmp/fsbi-cache'
    >>> del os.environ["FSBI_DATA_HOME"]
    """
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    import pooch

    return Path(pooch.os_cache("fsbi-data"))


def cache_path(entry: CatalogEntry) -> Path:
    """Where ``entry`` is (or would be) cached."""
    return cache_dir() / entry.path


def download_url(entry: CatalogEntry) -> str:
    """The URL :func:`fetch` downloads from: ``$FSBI_DATA_URL/<path>``, else ``entry.url``."""
    base = os.environ.get(URL_ENV)
    return f"{base.rstrip('/')}/{entry.path}" if base else entry.url


def _find_in_source(source: Path, entry: CatalogEntry) -> Path:
    if source.is_file():
        return source
    if source.is_dir():
        for candidate in (source / entry.path, source / entry.filename):
            if candidate.is_file():
                return candidate
        raise DataUnavailableError(
            f"{entry.name!r} is not in the local copy {source}: looked for "
            f"{source / entry.path} (repository layout) and {source / entry.filename} "
            f"(flat folder). Put the file {entry.filename} at one of these places, or fetch "
            f"without source= to download it from {entry.url}."
        )
    raise DataUnavailableError(
        f"source {source} does not exist; give a folder holding the release (repository "
        f"layout data_synapsesbi/<task>/<file> or a flat folder of file names) or the file "
        f"itself"
    )


def _unavailable(entry: CatalogEntry, url: str, reason: str) -> DataUnavailableError:
    if url != entry.url:
        url = f"{url}\n    (mirror of {entry.url})"
    return DataUnavailableError(
        f"cannot get {entry.name!r} ({entry.filename}): {reason}. Nothing is cached at "
        f"{cache_path(entry)}. To get the data:\n"
        f"  - download {url}\n"
        f"    and put it at {cache_path(entry)} (the cache; set {HOME_ENV} to move it), or\n"
        f"  - pass source=<folder or file> (CLI: --source) pointing at a local copy of the "
        f"release, or\n"
        f"  - set {URL_ENV} to the base URL of a mirror of the release repository.\n"
        f"The .npy files are Git LFS objects: when the repository owner's GitHub LFS "
        f"bandwidth quota is used up, GitHub refuses downloads until it resets; use a copy or a "
        f"mirror meanwhile. Data: https://github.com/{REPOSITORY} (no licence file; cite "
        f"{PAPER})."
    )


def stall_timeout() -> float:
    """Seconds a download may go without progress: ``$FSBI_DATA_TIMEOUT``, else 60.

    Raises
    ------
    DataUnavailableError
        If ``FSBI_DATA_TIMEOUT`` is not a positive number.
    """
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return STALL_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise DataUnavailableError(
            f"{TIMEOUT_ENV}={text!r}: expected a positive number of seconds a download may go "
            f"without progress (default {STALL_TIMEOUT_S:g}); set it to a number or unset it")
    return seconds


class _StallWatch:
    """Aborts a download that receives less than one chunk in ``timeout`` seconds.

    The read timeout of requests bounds each socket read, so a server that trickles a byte
    now and then keeps a download alive forever. This thread watches the bytes written and,
    when no chunk has arrived for ``timeout`` seconds, shuts the response's socket down: the
    blocked read then ends as a broken connection, and :attr:`stalled` says why.
    """

    def __init__(self, writer: _HashingWriter, timeout: float):
        self.writer, self.timeout = writer, timeout
        self.response = None
        self.stalled = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fsbi-data download watch",
                                        daemon=True)

    def hook(self, response, *args, **kwargs) -> None:
        """The requests response hook: remembers the response whose socket to shut down."""
        self.response = response

    def __enter__(self) -> _StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        size, since = self.writer.size, time.monotonic()
        while not self._done.wait(min(self.timeout / 4, 1.0)):
            now = time.monotonic()
            if self.writer.size != size:
                size, since = self.writer.size, now
            elif now - since >= self.timeout and self.response is not None:
                self.stalled = True
                try:
                    self.response.raw.shutdown()  # urllib3 >= 2.3
                except (AttributeError, ValueError, RuntimeError) as error:
                    log.warning("cannot interrupt the stalled download: %s", error)
                return


def _timed_out(error: Exception) -> bool:
    """Whether a requests error is a read or connect timeout (requests wraps some of them)."""
    import requests
    import urllib3

    return isinstance(error, requests.Timeout) or any(
        isinstance(arg, urllib3.exceptions.TimeoutError) for arg in error.args)


def _download(entry: CatalogEntry, target: Path, progress: bool) -> Path:
    import pooch
    import requests

    url = download_url(entry)
    timeout = stall_timeout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    stalled = (f"the download stalled: less than {_DOWNLOAD_CHUNK // 1024} kB arrived in "
               f"{timeout:g} s (set {TIMEOUT_ENV} to wait longer)")
    # Our own bar, closed here even when the download fails (pooch leaves its own open), and
    # shown only once data flows, so that a refused connection prints just the error.
    bar = _progress_bar(0, f"downloading {entry.filename}", delay=0.5) if progress else None
    try:
        log.info("downloading %s from %s", entry.name, url)
        with open(tmp, "wb") as file:
            writer = _HashingWriter(file)
            with _StallWatch(writer, timeout) as watch:
                downloader = pooch.HTTPDownloader(
                    progressbar=bar or False, chunk_size=_DOWNLOAD_CHUNK, timeout=timeout,
                    hooks={"response": watch.hook})
                try:
                    downloader(url, writer, None)
                except requests.HTTPError as error:
                    status = error.response.status_code if error.response is not None else "?"
                    raise _unavailable(entry, url,
                                       f"the server answered HTTP {status}") from error
                except requests.RequestException as error:
                    reason = (stalled if watch.stalled or _timed_out(error)
                              else f"no connection ({type(error).__name__})")
                    raise _unavailable(entry, url, reason) from error
        if watch.stalled:  # a response without a length just ends when its socket is shut
            raise _unavailable(entry, url, stalled)
        _check_size(tmp, entry, writer.size, url)
        if entry.checksum_kind == "sha256":  # hashed while downloading
            _check_digest(tmp, entry, writer.digest.hexdigest(), url)
        else:  # a Git blob id needs the size first: hash the file afterwards
            _check_digest(tmp, entry, file_checksum(tmp, "git-sha1", progress=progress), url)
        os.replace(tmp, target)
    finally:
        if bar is not None:
            bar.close()
        tmp.unlink(missing_ok=True)
    _mark(target, entry)
    return target


def fetch(name: str, *, source: str | os.PathLike | None = None,
          catalog: Catalog | None = None, progress: bool = False) -> Path:
    """The local, verified copy of a released file.

    A verified cached copy is returned without network access; otherwise the file is taken
    from ``source`` or downloaded, and its size and checksum are checked before use. A
    download that fails the check is deleted, never cached.

    Parameters
    ----------
    name
        Catalog name, e.g. ``"6pPol"``, ``"MLP/pi3"``, ``"6pPol/bg20min"``.
    source
        A local copy of the release instead of a download: a folder in the repository layout
        (``<source>/data_synapsesbi/<task>/<file>``), a flat folder of file names, or the file
        itself. The file is verified and returned in place (not copied).
    catalog
        The catalog to look ``name`` up in (default :data:`CATALOG`).
    progress
        Show tqdm progress bars for download and verification.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    UnknownNameError
        ``name`` is not in the catalog.
    ChecksumError
        The file's size or checksum differs from the catalog.
    DataUnavailableError
        The file is neither cached nor in ``source`` nor downloadable; the message says how
        to get it.

    Examples
    --------
    >>> path = fetch("6pPol/pi3")                                    # doctest: +SKIP
    >>> path = fetch("6pPol", source="~/fSBI")                        # doctest: +SKIP
    """
    entry = (catalog or CATALOG).entry(name)
    if source is not None:
        found = _find_in_source(Path(source).expanduser(), entry)
        return _ensure_verified(found, entry, progress)
    target = cache_path(entry)
    if target.is_file():
        try:
            return _ensure_verified(target, entry, progress)
        except ChecksumError:
            log.warning("cached %s fails verification; downloading it again", target)
    return _download(entry, target, progress)


def is_cached(entry: CatalogEntry) -> bool:
    """Whether ``entry`` is in the cache and was verified (no checksum is computed)."""
    return _is_marked(cache_path(entry), entry)


def datasets(catalog: Catalog | None = None) -> pd.DataFrame:
    """The released files, one row each, and whether they are cached.

    Columns: ``name``, ``family``, ``role``, ``round``, ``rows``, ``size``, ``cached``,
    ``path`` (the local file, or None), ``url``.

    Examples
    --------
    >>> df = datasets()
    >>> df.set_index("name").loc["MLP", "rows"]
    np.int64(328990)
    """
    import pandas as pd

    rows = []
    for entry in (catalog or CATALOG).values():
        cached = is_cached(entry)
        rows.append({
            "name": entry.name, "family": entry.family, "role": entry.role,
            "round": entry.round, "rows": entry.rows, "size": entry.size, "cached": cached,
            "path": str(cache_path(entry)) if cached else None, "url": entry.url,
        })
    frame = pd.DataFrame(rows)
    for column in ("rows", "size"):
        frame[column] = frame[column].astype("Int64")
    return frame
