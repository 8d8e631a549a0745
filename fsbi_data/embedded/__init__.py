"""The embedded sample: rules of both families that fsbi-data simulated itself.

The package ships, for 6pPol and MLP, rules simulated with the Brian2 backend on the ``quick``
protocol (``docs/simulation.md``) and scored by :mod:`fsbi_data.metrics`, made in rounds the
paper's way (:mod:`fsbi_data.rounds`): π0 drawn from the prior, then π1…π3 drawn from posteriors
conditioned on more and more of the plausibility criteria; and rules of each family with
plausible rates re-simulated with a ten-times longer training phase (the sample's stand-in for
the paper's 20-minute re-simulations, Fig. 5). **These are not the paper's data**: the network is
smaller and the protocol far shorter, so the numbers are not comparable with the release's.

The files are in the release's exact format (NumPy structured arrays, ``docs/data.md``),
gzip-compressed: one per round, and one of the longer re-simulations. :func:`write_release_files`
writes a family's files uncompressed, with the ``_all`` file (every round's rules), for
:func:`fsbi_data.convert`. ``python -m fsbi_data.embedded.make`` regenerates the sample
(``docs/embedded-sample.md``); ``sample.json`` records how it was made.

Examples
--------
>>> from fsbi_data import embedded
>>> embedded.LABEL
"simulated by fsbi-data (Brian2, quick protocol), not the paper's data"
>>> embedded.ROUNDS
('pi0', 'pi1', 'pi2', 'pi3')
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FsbiDataError
from ..files import published, sha256_of
from ..schema import family

LABEL = "simulated by fsbi-data (Brian2, quick protocol), not the paper's data"
"""What the embedded sample is; every title, report and store made from it says so."""
LONGEVITY_LABEL = f"{LABEL}; rules with plausible rates re-simulated with 10x longer training"
FAMILIES = ("6pPol", "MLP")
ROUNDS = ("pi0", "pi1", "pi2", "pi3")
"""The rounds of the shipped sample (``sample.json`` records each one's plan)."""
LONGEVITY = "longevity"
MANIFEST = "sample.json"


class EmbeddedSampleError(FsbiDataError):
    """A file of the embedded sample is missing or damaged."""


@dataclass(frozen=True)
class ReleaseFiles:
    """A family's sample as release-format ``.npy`` files on disk."""

    all: Path
    rounds: dict[str, Path]
    longevity: Path


def data_folder() -> Path:
    """The folder of the shipped files (``<family>/<round>.npy.gz``, ``sample.json``)."""
    return Path(str(resources.files(__package__) / "data"))


def manifest() -> dict[str, Any]:
    """How the sample was made: protocol, backend, round plans, versions, row counts."""
    return json.loads((data_folder() / MANIFEST).read_text())


def round_names(family_name: str) -> list[str]:
    """The rounds of a family's sample, in the order they were made."""
    return [plan["name"] for plan in _family_record(family_name)["rounds"]]


def _family_record(family_name: str) -> dict[str, Any]:
    name = family(family_name).name
    made = manifest()["families"]
    if name not in made:
        raise EmbeddedSampleError(f"the embedded sample has no {name} rules ({MANIFEST} lists "
                                  f"{sorted(made)}); regenerate it with python -m "
                                  f"fsbi_data.embedded.make")
    return made[name]


def checksums(family_name: str, parts: list[str]) -> list[str]:
    """The sha256 of the shipped files of ``parts`` (rounds or ``"longevity"``), from the
    manifest."""
    return [_family_record(family_name)["sha256"][part] for part in parts]


def shipped_file(family_name: str, part: str) -> Path:
    """The gzip-compressed ``.npy`` of one round (or ``"longevity"``) of a family."""
    name = family(family_name).name
    path = data_folder() / name / f"{part}.npy.gz"
    if not path.exists():
        raise EmbeddedSampleError(
            f"the embedded sample has no file {path}: reinstall fsbi-data, or regenerate the "
            f"sample with python -m fsbi_data.embedded.make")
    return path


def records(family_name: str, part: str) -> np.ndarray:
    """The rows of one round (or ``"longevity"``) of a family, in the release's dtype.

    Raises
    ------
    EmbeddedSampleError
        When the file is damaged or its rows are not the family's release records.
    """
    fam = family(family_name)
    path = shipped_file(fam.name, part)
    expected = _family_record(fam.name)
    if sha256_of(path) != expected["sha256"][part]:
        raise EmbeddedSampleError(f"{path} is damaged: its sha256 differs from the one in "
                                  f"{MANIFEST}; reinstall fsbi-data")
    try:
        with gzip.open(path, "rb") as f:
            rows = np.load(f, allow_pickle=False)
    except (OSError, EOFError, ValueError, zlib.error) as err:
        raise EmbeddedSampleError(f"{path} is damaged ({err}); reinstall fsbi-data") from None
    if rows.dtype != fam.record_dtype:
        raise EmbeddedSampleError(f"{path} holds records of dtype {rows.dtype}, expected the "
                                  f"{fam.name} release dtype; reinstall fsbi-data")
    if len(rows) != expected["rows"][part]:
        raise EmbeddedSampleError(f"{path} holds {len(rows)} rows, its manifest {MANIFEST} "
                                  f"says {expected['rows'][part]}; reinstall fsbi-data")
    return rows


def write_release_files(out_dir: str | os.PathLike, family_name: str) -> ReleaseFiles:
    """A family's sample as uncompressed release-format files in ``out_dir``.

    Writes ``<family>_all.npy`` (the rows of every round, in round order), one
    ``<family>_<round>.npy`` per round and ``<family>_longevity.npy``, each time from the
    checked shipped files (a file left there by another version is replaced, never used).

    Examples
    --------
    >>> files = write_release_files("demo-output/embedded-sample", "6pPol")  # doctest: +SKIP
    >>> fsbi_data.convert(files.all, "6pPol.store", rounds=files.rounds)    # doctest: +SKIP
    """
    name = family(family_name).name
    rounds = round_names(name)
    parts = {part: records(name, part) for part in rounds}
    paths = {part: _write(out_dir, name, part, rows) for part, rows in parts.items()}
    return ReleaseFiles(all=_write(out_dir, name, "all", np.concatenate(list(parts.values()))),
                        rounds=paths, longevity=write_longevity_file(out_dir, name))


def write_longevity_file(out_dir: str | os.PathLike, family_name: str) -> Path:
    """Only ``<family>_longevity.npy`` of :func:`write_release_files`."""
    name = family(family_name).name
    return _write(out_dir, name, LONGEVITY, records(name, LONGEVITY))


def _write(out_dir: str | os.PathLike, family_name: str, part: str, rows: np.ndarray) -> Path:
    path = Path(out_dir) / f"{family_name}_{part}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    with published(path) as tmp, open(tmp, "wb") as f:
        np.save(f, rows)
    return path


def save_records(rows: np.ndarray, path: Path) -> None:
    """Write release records as a gzip-compressed ``.npy`` (the same bytes for the same rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with published(path) as tmp:
        with open(tmp, "wb") as raw, \
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
            np.save(f, rows)  # no name, no time in the header: the same rows, the same bytes
