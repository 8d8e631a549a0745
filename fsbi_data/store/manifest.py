"""The manifest of a store (the commit point of every change), its checks and the writer lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StoreConflictError, StoreError, StoreIntegrityError
from ..files import published, remove_abandoned
from .encoding import quiet_zarr
from .integrity import metadata_checksums

MANIFEST = "fsbi-store.json"
LOCK = ".lock"
FRAGMENTS = "fragments"
FORMAT = "fsbi-data store"
FORMAT_VERSION = 2
"""Version 2: checksums on every chunk and metadata file, and a checksummed manifest."""
READABLE_VERSIONS = (1, 2)


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
def writable(path: str | os.PathLike) -> Iterator[None]:
    """Turn a refused write inside the store at ``path`` (read-only folder or file system)
    into a :class:`StoreError` that says so."""
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise StoreError(f"cannot write to the store {path}: {error.strerror} (the store, or "
                         f"its file system, is read-only); copy it somewhere writable, or ask "
                         f"its owner for write access") from None


@contextlib.contextmanager
def writer_lock(path: str | os.PathLike, *, wait: bool = True) -> Iterator[None]:
    """Hold the store's writer lock (``flock`` on ``<store>/.lock``).

    With ``wait=False`` a held lock raises :class:`StoreConflictError` at once. A store that
    cannot be written (read-only folder or file system) raises :class:`StoreError`.
    """
    lock_path = Path(path) / LOCK
    with writable(path):
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "Permission denied")
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
