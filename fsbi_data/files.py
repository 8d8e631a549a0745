"""Files and folders written atomically, and the sha256 of a file: one policy for the package.

Everything the package publishes (stores and their parts and manifests, downloads, posteriors,
raw stores, simulator builds) is written to a temporary sibling first, fsynced (the data, then
the folder), and renamed into place, so that a reader sees all of it or none of it and a crash
leaves at most a temporary sibling behind. A folder being filled is locked (``flock``), so that
:func:`remove_abandoned` removes the siblings of writers that were killed, and never one that a
live writer holds.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with published(folder / "note.txt") as tmp:
...     _ = tmp.write_text("hello")
>>> (folder / "note.txt").read_text(), sorted(p.name for p in folder.iterdir())
('hello', ['note.txt'])
>>> len(sha256_of(folder / "note.txt"))
64
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def temporary_sibling(dest: Path) -> Path:
    """A fresh name beside ``dest`` for building it: ``.<name>.<uuid>.tmp``."""
    return dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"


@contextlib.contextmanager
def published(dest: str | os.PathLike, *, directory: bool = False,
              durable: bool = True) -> Iterator[Path]:
    """Write ``dest`` atomically: fill the yielded temporary sibling, and it becomes ``dest``.

    With ``directory=True`` the sibling is a created (and locked) folder; otherwise a file
    path to create. When the block ends without error, the data and the folder are fsynced
    (unless ``durable=False``) and the sibling is renamed onto ``dest``: a file replaces an
    existing one; a folder raises :class:`OSError` if ``dest`` exists and is not empty. On any
    error the sibling is removed.
    """
    dest = Path(dest)
    tmp = temporary_sibling(dest)
    try:
        if directory:
            with claimed(tmp):
                yield tmp
                if durable:
                    fsync_tree(tmp)
                os.rename(tmp, dest)
        else:
            yield tmp
            if durable:
                fsync_tree(tmp)
            os.replace(tmp, dest)
        if durable:
            fsync_tree(dest.parent, recursive=False)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def claimed(folder: Path) -> Iterator[Path]:
    """Create ``folder`` and hold a lock on it while a writer fills it."""
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)


def remove_abandoned(dest: Path) -> None:
    """Remove the temporary sibling folders of ``dest`` left by writers killed while building
    it (files are removed by their writers, even when they fail)."""
    try:
        candidates = [c for c in dest.parent.glob(f".{glob.escape(dest.name)}.*.tmp")
                      if c.is_dir()]
    except OSError:
        return
    for candidate in candidates:
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live writer holds it
        else:
            shutil.rmtree(candidate, ignore_errors=True)
            log.info("removed %s, left by a writer that was stopped", candidate)
        finally:
            os.close(fd)


def fsync_tree(path: Path, *, recursive: bool = True) -> None:
    """fsync a file, or a folder (and with ``recursive`` every file and folder under it)."""
    if not path.is_dir():
        _fsync(path)
        return
    for root, _dirs, files in os.walk(path) if recursive else [(path, [], [])]:
        for name in files:
            _fsync(Path(root) / name)
        _fsync(Path(root))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: str | os.PathLike, *, on_block: object = None) -> str:
    """The sha256 of a file's bytes, read in blocks of 16 MiB (``on_block(n)`` after each)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 24), b""):
            digest.update(block)
            if callable(on_block):
                on_block(len(block))
    return digest.hexdigest()
