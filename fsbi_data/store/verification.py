"""Verify a store: read every byte of every part and check it, as ``git fsck`` does.

:func:`verify` checks, for the store at a path:

1. the manifest: valid JSON, a store manifest of a readable version, its own checksum, the
   parts it names present;
2. every metadata file of every part against its sha256 in the manifest (none missing, none
   changed);
3. every chunk that the metadata say exists: present, of the size its encoding implies, and
   matching its CRC32C;
4. every variable decodes, with the rows the manifest records;
5. seeds are unique across the whole store.

Parts written by store format 1 carry no checksums; their chunks are read and decoded, but
damage that still decodes cannot be seen. ``fsbi_data.store.compact(path)`` (``fsbi-data
compact PATH``) rewrites them with checksums.

Examples
--------
>>> report = verify("my.store")           # doctest: +SKIP
>>> report.ok, report.summary()           # doctest: +SKIP
(True, 'intact: 2 part(s), 48 chunks, 61.2 MB, 354,305 rules, seeds unique')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FsbiDataError
from .integrity import chunk_is_intact, chunk_keys, metadata_checksums
from .manifest import part_keys, read_manifest, recovery
from .reading import concat_seeds, open_part


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``problems`` (one line each), parts without checksums."""

    store: Path
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    advice: dict[str, str] = field(default_factory=dict)
    parts: int = 0
    chunks: int = 0
    bytes: int = 0
    rules: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is damaged and every part carries checksums."""
        return not self.problems and not self.unchecked

    def summary(self) -> str:
        counts = (f"{self.parts} part(s), {self.chunks:,} chunks, {self.bytes / 1e6:.1f} MB, "
                  f"{self.rules:,} rules")
        if self.problems:
            return f"DAMAGED: {len(self.problems)} problem(s) in {self.store} ({counts})"
        if self.unchecked:
            return (f"no damage found, but {len(self.unchecked)} part(s) carry no checksums "
                    f"(store format 1), so their bytes could not be checked ({counts}); "
                    f"rewrite them with checksums: fsbi-data compact {self.store}")
        return f"intact: {counts}, seeds unique"

    def lines(self) -> list[str]:
        """One line per problem, the advice for each damaged part, then the summary."""
        return self.problems + [f"to recover {part}: {text}"
                                for part, text in self.advice.items()] + [self.summary()]


def verify(path: str | os.PathLike) -> VerifyReport:
    """Read and check every byte of the store at ``path`` (see the module's description).

    Returns
    -------
    VerifyReport
        ``report.ok`` is True only for an intact store whose every part carries checksums.
    """
    path = Path(path)
    report = VerifyReport(path)
    try:
        manifest = read_manifest(path)
    except FsbiDataError as error:
        report.problems.append(f"manifest: {error}")
        return report
    seeds = []
    for key in part_keys(manifest):
        report.parts += 1
        found = len(report.problems)
        if not (path / key).is_dir():
            report.problems.append(f"{key}: the part is missing")
        else:
            seeds += _check_part(path, manifest, key, report)
        if len(report.problems) > found:
            report.advice[key] = recovery(manifest, key)
    if seeds:
        _check_seeds(concat_seeds(seeds), report)
    return report


def _check_part(path: Path, manifest: dict, key: str, report: VerifyReport) -> list[np.ndarray]:
    part = path / key
    found = len(report.problems)
    record = manifest["parts"].get(key)
    if record is None:
        report.unchecked.append(key)
    else:
        stored = metadata_checksums(part)
        for name, checksum in record["metadata"].items():
            if name not in stored:
                report.problems.append(f"{key}/{name}: the metadata file is missing")
            elif stored[name] != checksum:
                report.problems.append(f"{key}/{name}: the metadata file differs from its "
                                       f"sha256 in the manifest")
        for name in stored.keys() - record["metadata"].keys():
            report.problems.append(f"{key}/{name}: a metadata file the manifest does not know")
    try:
        expected = chunk_keys(part)
    except (OSError, ValueError, KeyError) as error:
        report.problems.append(f"{key}: the metadata cannot be read ({error})")
        return []
    for chunks in expected.values():
        for chunk in chunks:
            file = part / chunk
            if not file.is_file():
                report.problems.append(f"{key}/{chunk}: the chunk file is missing")
                continue
            report.chunks += 1
            report.bytes += file.stat().st_size
            if record is not None and not chunk_is_intact(np.fromfile(file, dtype=np.uint8)):
                report.problems.append(f"{key}/{chunk}: the chunk's CRC32C does not match its "
                                       f"bytes (damaged or truncated)")
    try:
        ds = open_part(path, manifest, key)
        for name in ds.variables:
            _ = ds[name].values  # decodes every chunk (and checks it again, in format 2)
    except FsbiDataError as error:
        if len(report.problems) == found:  # not the damage already reported
            report.problems.append(f"{key}: {error}")
        return []
    except Exception as error:  # a decoder's own error on damaged bytes of a format-1 part
        report.problems.append(f"{key}: cannot be decoded ({type(error).__name__}: {error})")
        return []
    report.rules += ds.sizes["rule"]
    return [np.asarray(ds["seed"].values)]


def _check_seeds(seeds: np.ndarray, report: VerifyReport) -> None:
    values, counts = np.unique(seeds, return_counts=True)
    repeated = values[counts > 1]
    if repeated.size:
        report.problems.append(f"seeds: {repeated.size} seed(s) are stored more than once "
                               f"(first: {repeated[0].decode()})")
