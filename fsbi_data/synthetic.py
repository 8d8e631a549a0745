"""Synthetic files in the exact format of the release, for tests, benchmarks and demos.

The released data cannot always be downloaded (GitHub LFS quotas, offline machines). These
generators write ``.npy`` files with the release's dtype and the header ``np.save`` writes for
it, at any size up to full scale, with realistic metric distributions: a share of plausible
rules, blown-up rows (every metric NaN), degenerate completed rows (``kl_isi`` = +inf), and,
on request, duplicate seeds. **The values are synthetic**: they mimic the shape of the
released distributions, not the paper's results.

Examples
--------
>>> from fsbi_data.synthetic import release_records
>>> rec = release_records("MLP", 1000, rng=1)
>>> rec.dtype.itemsize, len(rec)
(560, 1000)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .schema import Family, family
from .simulation.prior import sample_prior

if TYPE_CHECKING:
    from .catalog import Catalog

# Share of rows by kind, roughly as in the late rounds of the release.
DEFAULT_NAN_FRACTION = 0.05
DEFAULT_PLAUSIBLE_FRACTION = 0.2


def synthetic_seed(theta_row: np.ndarray, salt: int = 0) -> str:
    """An md5 seed for a synthetic row (a digest of the float64 bytes and a salt)."""
    digest = hashlib.md5(np.ascontiguousarray(theta_row, dtype="<f8").tobytes())
    digest.update(int(salt).to_bytes(8, "little"))
    return digest.hexdigest()


def release_records(fam: Family | str, n: int, rng: np.random.Generator | int | None = None,
                    *, nan_fraction: float = DEFAULT_NAN_FRACTION,
                    plausible_fraction: float = DEFAULT_PLAUSIBLE_FRACTION,
                    duplicate_seeds: int = 0, first_salt: int = 0) -> np.ndarray:
    """``n`` synthetic records in the release's dtype.

    Parameters
    ----------
    fam
        Family name or :class:`~fsbi_data.schema.Family`.
    n
        Number of rows.
    rng
        Seed or generator (deterministic output for a fixed seed).
    nan_fraction
        Share of blown-up rows (all metrics NaN).
    plausible_fraction
        Share of rows drawn inside the family's plausible bounds.
    duplicate_seeds
        Number of rows (at the end) that repeat an earlier row exactly, seed included.
    first_salt
        Salt of the first row's seed; use distinct ranges to make disjoint files.
    """
    fam = family(fam)
    rng = np.random.default_rng(rng)
    out = np.empty(n, dtype=fam.record_dtype)
    theta = sample_prior(fam, n, rng, dtype=np.float32)
    out["theta"] = theta
    out["seed"] = [synthetic_seed(theta[i], first_salt + i) for i in range(n)]

    plausible = rng.random(n) < plausible_fraction
    rate_poisson = theta[:, -1]
    metrics = _metric_columns(fam, n, rng, rate_poisson, plausible)
    for name, values in metrics.items():
        out[name] = values

    blown_up = rng.random(n) < nan_fraction
    for name in fam.metric_names:
        out[name][blown_up] = np.nan
    # A few completed runs with degenerate ISI statistics, as in the release.
    degenerate = (~blown_up) & (rng.random(n) < 0.002)
    out["kl_isi"][degenerate] = np.inf

    if duplicate_seeds:
        if duplicate_seeds >= n:
            raise ValueError("duplicate_seeds must be smaller than n")
        source = rng.choice(n - duplicate_seeds, size=duplicate_seeds, replace=False)
        out[n - duplicate_seeds:] = out[source]
    return out


def _metric_columns(fam: Family, n: int, rng: np.random.Generator, rate_poisson: np.ndarray,
                    plausible: np.ndarray) -> dict[str, np.ndarray]:
    """Heavy-tailed metric values; rows flagged ``plausible`` are drawn inside the bounds."""
    wild = {
        "rate": np.exp(rng.normal(1.5, 1.6, n)) * rate_poisson / 10.0,
        "cv_isi": np.abs(rng.normal(0.8, 0.4, n)),
        "kl_isi": np.abs(rng.normal(0.3, 0.4, n)),
        "spatial_Fano": np.exp(rng.normal(0.3, 0.9, n)),
        "temporal_Fano": np.exp(rng.normal(0.3, 0.9, n)),
        "auto_cov": rng.beta(0.6, 3.0, n),
        "fft": np.exp(rng.normal(0.0, 1.2, n)),
        "w_blow": rng.beta(0.5, 2.0, n),
        "std_rate_temporal": np.exp(rng.normal(-4.0, 2.0, n)),
        "std_rate_spatial": np.exp(rng.normal(1.0, 1.2, n)),
        "std_cv": np.abs(rng.normal(0.15, 0.15, n)),
        "w_creep": np.abs(rng.normal(0.05, 0.1, n)),
        "rate_i": np.exp(rng.normal(2.0, 1.4, n)),
        "weef": np.exp(rng.normal(-1.0, 1.5, n)),
        "weif": np.exp(rng.normal(-1.0, 1.5, n)),
        "wief": np.exp(rng.normal(0.5, 1.5, n)),
        "wiif": np.exp(rng.normal(0.5, 1.5, n)),
    }
    from .schema import FIGURE_BOUNDS

    # Plausible rows of the sample fall inside the figure bounds; kl_isi has none in any
    # criteria set, and its values are drawn inside (0, 0.5) as in the release.
    shaping = {**FIGURE_BOUNDS, "kl_isi": (0.0, 0.5)}
    out = {}
    k = int(plausible.sum())
    for name in fam.metric_names:
        values = wild[name]
        low, high = shaping[name]
        if name == "cv_isi":
            high = 1.5
        values[plausible] = low + (high - low) * rng.uniform(0.02, 0.98, k)
        # Exact zeros occur in the release (silent populations, no saturated weights).
        zero = rng.random(n) < 0.01
        if low <= 0.0:
            values[zero & ~plausible] = 0.0
        out[name] = values
    return out


def write_release_file(path: str | os.PathLike, fam: Family | str, n: int,
                       rng: np.random.Generator | int | None = None, *,
                       chunk_rows: int = 50_000, **kwargs) -> Path:
    """Write ``n`` synthetic rows as a release-format ``.npy`` (streamed, bounded memory).

    The header is the one ``np.save`` writes for the family's dtype, so the file is
    byte-identical in layout to a released file of that many rows. Keyword arguments go to
    :func:`release_records` (``duplicate_seeds`` is applied to the last chunk).
    """
    fam = family(fam)
    path = Path(path)
    rng = np.random.default_rng(rng)
    duplicates = kwargs.pop("duplicate_seeds", 0)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.lib.format.dtype_to_descr(fam.record_dtype),
                "fortran_order": False, "shape": (n,)})
        start = 0
        while start < n:
            rows = min(chunk_rows, n - start)
            last = start + rows == n
            block = release_records(fam, rows, rng, first_salt=start,
                                    duplicate_seeds=duplicates if last else 0, **kwargs)
            f.write(block.tobytes())
            start += rows
    return path


def write_round_files(all_path: str | os.PathLike, out_dir: str | os.PathLike,
                      sizes: dict[str, int], rng: np.random.Generator | int | None = None
                      ) -> dict[str, Path]:
    """Write round files as disjoint random subsets of an ``_all`` file's rows.

    Returns a mapping from round label (e.g. ``"pi0"``) to the written path
    (``<out_dir>/<label>.npy``).
    """
    rng = np.random.default_rng(rng)
    records = np.load(all_path, mmap_mode="r")
    total = sum(sizes.values())
    picked = rng.choice(len(records), size=total, replace=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, start = {}, 0
    for label, size in sizes.items():
        rows = np.sort(picked[start:start + size])
        paths[label] = out_dir / f"{label}.npy"
        np.save(paths[label], np.asarray(records[rows]))
        start += size
    return paths


MIN_SYNTHETIC_ROWS = 300  # smallest synthetic file (files with fewer real rows keep their count)
MIN_SYNTHETIC_ALL_ROWS = 2000  # room for four disjoint round files of MIN_SYNTHETIC_ROWS


def _synthetic_rows(real: int, scale: float, minimum: int = MIN_SYNTHETIC_ROWS) -> int:
    return max(round(real * scale), min(real, minimum))


def write_synthetic_release(root: str | os.PathLike, *,
                            families: tuple[str, ...] = ("6pPol", "MLP"), scale: float = 0.01,
                            rng: np.random.Generator | int | None = 0) -> Catalog:
    """Write a synthetic copy of the release's ``.npy`` files under ``root``.

    Each ``.npy`` file of :data:`fsbi_data.catalog.CATALOG` for the given families is written
    at its repository path (``root/data_synapsesbi/<task>/<file>``) with ``scale`` × its real
    row count (at least 300 rows; files with fewer real rows, such as the 10-row tutorial file,
    keep their count; an ``_all`` file has at least 2,000). Round files are disjoint subsets of
    the family's ``_all`` rows; the longevity and tutorial files are independent rows.
    ``scale=1.0`` writes full-scale files (6pPol ``_all``: 354,300 rows, 210 MB). The HDF5 and
    pickle files of the release are not written.

    Parameters
    ----------
    root
        Folder to write into (created if missing).
    families
        Families to write.
    scale
        Fraction of the real row counts.
    rng
        Seed or generator; a fixed seed gives byte-identical files.

    Returns
    -------
    fsbi_data.catalog.Catalog
        Entries with the same names, paths and roles as the real catalog, and the written
        files' sha256, size and row count. Pass it as ``catalog=`` to
        :func:`fsbi_data.catalog.fetch` and serve ``root`` as a mirror or ``source=``.

    Examples
    --------
    >>> import tempfile
    >>> cat = write_synthetic_release(tempfile.mkdtemp(), families=("MLP",), scale=0.01)
    >>> cat.entry("MLP").rows, cat.entry("MLP/pi0").rows
    (3290, 300)
    """
    import shutil
    import tempfile
    from dataclasses import replace

    from .catalog import CATALOG, Catalog, file_checksum

    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = np.random.default_rng(rng)
    root = Path(root)
    entries = []
    for name in families:
        fam = family(name)
        real = [e for e in CATALOG.of_family(fam.name) if e.dtype_kind in ("P", "M")]
        rows = {e.name: _synthetic_rows(e.rows, scale) for e in real}
        all_entry = next(e for e in real if e.role == "all")
        rows[all_entry.name] = max(rows[all_entry.name],
                                   min(all_entry.rows, MIN_SYNTHETIC_ALL_ROWS))
        rounds = {e.round: e for e in real if e.role == "round"}
        if sum(rows[e.name] for e in rounds.values()) > rows[all_entry.name]:
            raise ValueError(f"scale {scale} leaves too few {fam.name} rows for disjoint rounds")

        all_path = root / all_entry.path
        all_path.parent.mkdir(parents=True, exist_ok=True)
        write_release_file(all_path, fam, rows[all_entry.name], rng)
        with tempfile.TemporaryDirectory(dir=all_path.parent) as tmp:
            written = write_round_files(all_path, tmp,
                                        {label: rows[e.name] for label, e in rounds.items()},
                                        rng)
            for label, path in written.items():
                shutil.move(path, root / rounds[label].path)
        for entry in real:
            if entry.role in ("longevity", "tutorial"):
                write_release_file(root / entry.path, fam, rows[entry.name], rng)
        for entry in real:
            path = root / entry.path
            entries.append(replace(entry, checksum=file_checksum(path),
                                   size=path.stat().st_size, rows=rows[entry.name]))
    return Catalog(entries)
