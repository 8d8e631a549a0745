"""A file against its catalog entry: size, sha256 or Git blob id, and Git LFS pointers.

:func:`verify` is the check every released file passes before use (downloaded, cached or a
local copy); its :class:`~fsbi_data.errors.ChecksumError` names the file or the URL, what was
expected, what was found, and the fix.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import catalog as registry
from .catalog import RELEASE_COMMIT, REPOSITORY, URL_ENV, Catalog, CatalogEntry, ChecksumKind
from .errors import ChecksumError
from .files import sha256_of

LFS_POINTER_PREFIX = b"version https://git-lfs"

_LFS_POINTER_MAX = 1024  # Git LFS pointer files are smaller than this (Git LFS spec)


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
    if kind == "git-sha1":  # the release's plain Git files are small: no progress bar
        header = f"blob {path.stat().st_size}\0".encode()
        with open(path, "rb") as file:
            return hashlib.file_digest(file, lambda: hashlib.sha1(header)).hexdigest()
    if kind != "sha256":
        raise ValueError(f"unknown checksum kind {kind!r}; expected 'sha256' or 'git-sha1'")
    from tqdm.auto import tqdm

    with tqdm(total=path.stat().st_size, desc=f"verifying {path.name}", unit="B",
              unit_scale=True, leave=False, disable=None if progress else True) as bar:
        return sha256_of(path, on_block=bar.update)  # disable=None: terminals only


def verify(path: str | os.PathLike, entry: CatalogEntry, *, url: str | None = None,
           progress: bool = False) -> None:
    """Check a file's size, then its checksum, against ``entry``.

    ``url`` names a download that ``path`` holds temporarily: the error then names the URL,
    not the file, which is deleted before anyone reads the message.

    Raises
    ------
    ChecksumError
        Naming the file (or URL), the expected and found size or digest, and the fix.
    """
    path = Path(path)
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise _mismatch(path, entry, url, f"size {size:,} bytes", f"{entry.size:,} bytes",
                        "truncated")
    found = file_checksum(path, entry.checksum_kind, progress=progress)
    if found != entry.checksum:
        raise _mismatch(path, entry, url, f"{entry.checksum_kind} {found}",
                        f"{entry.checksum_kind} {entry.checksum}", "corrupted")


def _mismatch(path: Path, entry: CatalogEntry, url: str | None, found: str, expected: str,
              damage: str) -> ChecksumError:
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
                f"without its LFS content; unset {URL_ENV} to download from "
                "media.githubusercontent.com, or run `git lfs pull` in the mirror's clone)")
    mirror = (f", or check that the mirror ({URL_ENV}) serves release commit "
              f"{RELEASE_COMMIT[:10]}" if url != entry.url else "")
    return ChecksumError(
        f"download of {entry.name!r} from {url}: {found}, but catalog entry {entry.name!r} "
        f"({entry.path}) expects {expected}{hint}. The download was {damage} or is not the "
        f"released file, and nothing was cached: fetch {entry.name!r} again{mirror}."
    )


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
    names = [e.name for e in (catalog or registry.CATALOG).values()
             if e.checksum_kind == "sha256" and e.checksum == oid]
    how = (f"`fsbi-data fetch {names[0]}`" if names
           else "`fsbi-data fetch NAME` (the names: `fsbi-data datasets`)")
    return (f"this is a Git LFS pointer, not the data (the data, {pointer.get('size', '?')} "
            f"bytes with sha256 {oid[:12] or '?'}..., is stored in Git LFS): get it with {how}, "
            f"or run `git lfs pull` in your clone of {REPOSITORY}")
