"""Compaction: fragments merge as they accumulate (as the levels of an LSM tree do)."""

from __future__ import annotations

import datetime
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import dask

from .encoding import CHUNK_ROWS
from .manifest import (
    FRAGMENTS,
    MANIFEST,
    fragment_key,
    part_keys,
    read_manifest,
    write_manifest,
    writer_lock,
)
from .reading import combine_parts, open_part, open_parts, open_path
from .writing import publish_fragment, publish_part

logger = logging.getLogger(__name__)

FRAGMENT_FANOUT = 4
"""This many fragments of one level merge into one fragment of the next level."""
BASE_SHARE = 0.25
"""Fragments holding at least this share of the base's rows are merged into a new base."""
SUPERSEDED_GRACE_S = 3600.0
"""Seconds a merged part stays on disk for Datasets opened before the merge."""


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
    name = publish_fragment(path, manifest, ds)
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
    # Computed here, in threads: a distributed Client in this process (a simulation sweep
    # appending its batches) would otherwise queue the merge behind its own busy workers.
    with dask.config.set(scheduler="threads"):
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
