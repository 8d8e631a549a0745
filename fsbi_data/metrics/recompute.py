"""Recompute the metrics of every simulation of a raw store, in parallel with Dask.

Examples
--------
>>> ds = recompute("raw.zarr")                     # a 2-worker LocalCluster  # doctest: +SKIP
>>> ds = recompute("raw.zarr", scheduler="tcp://host:8786")      # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..cluster import dask_client
from ..schema import family
from ..store.layout import dataset_from_arrays, records_from_dataset
from .compute import compute
from .rawstore import raw_store_size, read_simulations

DEFAULT_BLOCK = 25  # simulations per task


def metrics_of_block(path: str, start: int, stop: int) -> dict[str, Any]:
    """Seeds, theta and metrics of simulations ``start … stop - 1`` (runs on a worker)."""
    results = read_simulations(path, start, stop)
    metrics = [compute(r) for r in results]
    return {"seeds": [r.seed for r in results],
            "theta": np.stack([r.theta for r in results]),
            "metrics": {name: np.array([m[name] for m in metrics]) for name in metrics[0]}}


def recompute(raw_store: str | os.PathLike, *, client: Any = None, scheduler: str | None = None,
              workers: int = 2, block: int = DEFAULT_BLOCK, out: str | os.PathLike | None = None,
              progress: bool = False) -> xr.Dataset:
    """Metrics of every simulation of ``raw_store`` as a Dataset in the release's schema.

    Parameters
    ----------
    raw_store
        A raw store (:func:`~fsbi_data.metrics.rawstore.write_raw_store`,
        :func:`fsbi_data.converters.raw.convert_raw`).
    client, scheduler, workers
        An existing ``distributed.Client``; else a scheduler address; else a new
        ``LocalCluster`` with ``workers`` single-threaded processes, closed afterwards.
    block
        Simulations per task.
    out
        Also write the metrics as a release-format ``.npy`` file here.
    """
    from distributed import as_completed

    path = str(Path(raw_store).resolve())
    n = raw_store_size(path)
    with dask_client(client, scheduler, workers) as client:
        futures = [client.submit(metrics_of_block, path, start, min(start + block, n),
                                 key=f"fsbi-metrics-{start}-{path}")
                   for start in range(0, n, block)]
        done = as_completed(futures)
        if progress:
            from tqdm.auto import tqdm

            done = tqdm(done, total=len(futures), desc="metrics")
        for _ in done:
            pass
        blocks = client.gather(futures)
    import zarr

    fam = family(zarr.open_group(path, mode="r").attrs["family"])
    seeds = [s for b in blocks for s in b["seeds"]]
    theta = np.concatenate([b["theta"] for b in blocks])
    metrics = {name: np.concatenate([b["metrics"][name] for b in blocks])
               for name in fam.metric_names}
    ds = dataset_from_arrays(seeds, theta, metrics, fam,
                             provenance=[{"kind": "recomputed", "raw_store": path}])
    if out is not None:
        np.save(out, records_from_dataset(ds))
    return ds
