"""The Dask client that parallel work runs on: a given client, a scheduler, or a local cluster."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def dask_client(client: Any = None, scheduler: str | None = None,
                workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: ``client`` itself; else one connected to ``scheduler``; else
    one of a new ``LocalCluster`` of ``workers`` single-threaded processes (default: the
    number of CPUs). What this function opened is closed on exit; ``client`` is left open.

    Examples
    --------
    >>> with dask_client(workers=2) as client:                   # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            scheduler = stack.enter_context(LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                processes=True, dashboard_address=None))
        yield stack.enter_context(Client(scheduler))
