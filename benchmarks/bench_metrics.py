"""All 17 metrics of one simulation: the vectorised package against a per-neuron loop.

One simulation as in the paper's protocol: 1,000 excitatory and 500 inhibitory recorded
neurons at ~10 Hz over a 10-s scoring window (spike times on the 0.1-ms grid), 4 × 100
monitored synapses sampled every 0.1 s. Prints both times, the speed-up, and the largest
relative difference between the two implementations.

    python benchmarks/bench_metrics.py [--repeats 5]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from metrics_baseline import metrics_loop  # noqa: E402
from timing import best_of  # noqa: E402

from fsbi_data.metrics import (  # noqa: E402
    AnalysisParams,
    SimulationResult,
    SpikeTrains,
    WeightTraces,
    compute,  # noqa: E402
)


def poisson_trains(n, rate, rng):
    steps = [np.sort(rng.choice(100_000, rng.poisson(rate * 10), replace=False))
             for _ in range(n)]
    return [np.round(60.0 + s * 1e-4, 4) for s in steps]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    e, i = poisson_trains(1000, 10.0, rng), poisson_trains(500, 10.0, rng)
    t = np.round(60.0 + 0.1 * np.arange(100), 1)
    weights = {c: rng.uniform(0, 20, (100, 100)) for c in ("ee", "ei", "ie", "ii")}
    result = SimulationResult(SpikeTrains.from_lists(e), SpikeTrains.from_lists(i),
                              WeightTraces(t, weights), params=AnalysisParams())
    params = AnalysisParams().to_dict()

    fast, ours = best_of(lambda: compute(result), args.repeats)
    slow, theirs = best_of(lambda: metrics_loop(e, i, {"t": t, **weights}, params),
                           max(1, args.repeats // 2))
    worst = max(abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-300) for k in theirs)
    print(f"per-neuron loop baseline : {slow * 1e3:9.1f} ms")
    print(f"fsbi_data.metrics.compute: {fast * 1e3:9.1f} ms")
    print(f"speed-up                 : {slow / fast:9.1f} x")
    print(f"largest relative difference over 17 metrics: {worst:.2e}")


if __name__ == "__main__":
    main()
