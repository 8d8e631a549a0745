"""Wall time per simulated second of the paper's 6pPol network: Brian2 (and Auryn).

Runs the Fig. 2 rule (input 8 Hz) on the paper's 6pPol protocol shortened to 1 s training +
1 s scoring, on one core, after the one-off build, and prints seconds of wall time per
simulated second for each backend; with ``AURYN_DIR`` set, Auryn runs in the same process and
the Brian2/Auryn ratio is printed (target: <= 2).

Usage: ``python benchmarks/bench_brian2.py [--seconds 2] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from fsbi_data.simulation.backends.base import get_backend
from fsbi_data.simulation.backends.brian2 import Brian2Backend, ensure_build
from fsbi_data.simulation.protocols import protocol

FIG2_THETA = np.array([
    0.04660005, 0.02327882, 0.49659052, -0.35899994, -0.37540221, -1.278193,
    0.0707294, 0.07955258, 0.63596439, -1.72025657, 0.56049812, 0.06629736,
    0.03651253, 0.04398145, -0.31592822, -0.04090761, 1.60054791, 1.11010623,
    0.09858324, 0.04056259, -1.94945908, 1.7757206, 0.19681023, 1.9772824, 8.0])


def per_simulated_second(backend, p, repeats: int) -> float:
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        result = backend.run(FIG2_THETA, p, network_seed=seed)
        times.append(time.perf_counter() - start)
        if result.blew_up:
            raise SystemExit(f"{backend.name}: the benchmark rule blew up")
    return min(times) / (p.lns + p.ls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="simulated seconds")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    half = round(args.seconds / 2, 4)
    p = protocol("6pPol").replace(lns=half, ls=half)
    start = time.perf_counter()
    ensure_build(p)
    print(f"brian2 standalone build (once per protocol, cached): "
          f"{time.perf_counter() - start:.1f} s")
    results = {"brian2": per_simulated_second(Brian2Backend("standalone"), p, args.repeats)}
    if os.environ.get("AURYN_DIR"):
        results["auryn"] = per_simulated_second(get_backend("auryn"), p, args.repeats)
    print(f"6pPol paper network (4096 E / 1024 I, 5000 inputs), {args.seconds:g} s simulated, "
          f"best of {args.repeats}, one core")
    for name, value in results.items():
        print(f"  {name:7s} {value:8.2f} s wall per simulated second")
    if "auryn" in results:
        print(f"  ratio brian2/auryn: {results['brian2'] / results['auryn']:.2f} (target <= 2)")
    else:
        print("  auryn: skipped (AURYN_DIR is not set)")
    print(f"  paper protocol (70 s) with brian2: ~{results['brian2'] * 70 / 60:.1f} min per rule")


if __name__ == "__main__":
    main()
