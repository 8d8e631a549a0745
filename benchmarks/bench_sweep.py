"""Dask sweep throughput on 1 vs 2 workers (LocalCluster, one thread per worker process).

Simulates the same rules (drawn from the prior) on a 1-worker and on a 2-worker cluster and
prints rules per second and the ratio (target: 2 workers / 1 worker >= 1.8). Cluster start-up
and one warm-up rule per worker (backend build caches) are excluded from the timing.

Usage: ``python benchmarks/bench_sweep.py [--backend brian2] [--n 16] [--family 6pPol]``
"""

from __future__ import annotations

import argparse
import time

from fsbi_data.cluster import dask_client
from fsbi_data.simulation.prior import sample_prior
from fsbi_data.simulation.protocols import protocol
from fsbi_data.simulation.runner import simulate


def throughput(n_workers: int, thetas, proto, backend: str) -> float:
    with dask_client(workers=n_workers) as client:
        warm = sample_prior(proto.family, n_workers, seed=12345)
        simulate(warm, proto, backend, client=client)
        start = time.perf_counter()
        run = simulate(thetas, proto, backend, client=client)
        elapsed = time.perf_counter() - start
    assert not run.failures, run.failures
    return len(thetas) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="brian2")
    parser.add_argument("--family", default="6pPol")
    parser.add_argument("--n", type=int, default=16)
    options = parser.parse_args()
    proto = protocol(options.family, "quick")
    thetas = sample_prior(proto.family, options.n, seed=7)
    one = throughput(1, thetas, proto, options.backend)
    two = throughput(2, thetas, proto, options.backend)
    print(f"{options.n} rules, {options.backend}, protocol {proto.family}/{proto.name}")
    print(f"1 worker : {one:7.3f} rules/s")
    print(f"2 workers: {two:7.3f} rules/s")
    print(f"throughput ratio 2/1: {two / one:5.2f}  (target >= 1.8)")


if __name__ == "__main__":
    main()
