"""Appending a batch of rules to a store, crash-safely."""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DuplicateSeedError
from ..schema import family
from ..version import __version__
from .batches import as_layout, check_batch, unique_in_batch
from .compaction import collect_garbage, maintain
from .encoding import encode_seeds
from .layout import family_attrs
from .manifest import read_manifest, write_manifest, writer_lock
from .reading import stored_seeds
from .writing import publish_fragment

logger = logging.getLogger(__name__)


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
           allow_outside_prior: bool = False, wait: bool = True) -> AppendReport:
    """Append rules to a store, crash-safely: all of the batch is committed or none of it.

    The batch is checked before anything is written (:mod:`fsbi_data.store.batches`): rules of the
    store's family, theta finite and inside the prior box, metrics finite or NaN. Fragments
    are merged as they accumulate (:func:`maintain`), so reads stay fast.

    Parameters
    ----------
    store
        Path of a store (made by :func:`fsbi_data.convert` or :func:`create`).
    rules
        A Dataset in the layout of :mod:`fsbi_data.store.layout` or released-format records of the
        store's family. Metrics may be NaN (blown-up runs).
    provenance
        What made the batch (backend, protocol, versions, network seeds, ...); the time and
        the package version are added. Visible in ``ds.attrs["provenance"]`` after opening.
    on_duplicate
        ``"skip"`` (default): rules whose seed is already stored are left out and listed in
        the report. ``"error"``: raise :class:`DuplicateSeedError` instead.
    allow_outside_prior
        Accept rules outside the family's prior box on purpose; their number is recorded in
        the batch's provenance (``outside_prior``).
    wait
        Wait for another writer to finish (default) or raise :class:`StoreConflictError`.

    Examples
    --------
    >>> from fsbi_data.synthetic import release_records
    >>> report = append("my.store", release_records("6pPol", 10, rng=1))   # doctest: +SKIP
    >>> report.appended                                                   # doctest: +SKIP
    10
    """
    if on_duplicate not in ("skip", "error"):
        raise ValueError(f"on_duplicate must be 'skip' or 'error', not {on_duplicate!r}")
    path = Path(store)
    manifest = read_manifest(path)
    fam = family(manifest["family"])
    batch = as_layout(rules, fam)
    outside = check_batch(batch, fam, allow_outside_prior)
    batch, within = unique_in_batch(batch)
    batch.attrs = family_attrs(fam, [])  # a batch's provenance lives in the manifest
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
                  **({"outside_prior": outside} if outside else {}), **(provenance or {})}
        report = AppendReport(path, int(batch.sizes["rule"]), skipped, within, None, record)
        if batch.sizes["rule"] == 0:
            return report
        name = publish_fragment(path, manifest, batch)
        manifest["fragments"].append({"name": name, "rows": report.appended, "level": 0,
                                      "batches": [record]})
        write_manifest(path, manifest)  # the commit point
        report.fragment = name
        logger.info("appended %d rules to %s (%d skipped)", report.appended, path,
                    len(skipped))
        maintain(path, manifest)
        return report
