"""All figure panels for a full-scale store (354,300 rules) — target under 10 s.

    python benchmarks/bench_figures.py [--rows 354300]
"""

import argparse
import tempfile
import time
from pathlib import Path

import fsbi_data
from fsbi_data import figures
from fsbi_data.synthetic import write_release_file, write_round_files

ROUND_ROWS = {"pi0": 10_000, "pi1": 5_000, "pi2": 10_000, "pi3": 50_200}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=354_300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    npy = write_release_file(work / "all.npy", "6pPol", args.rows, rng=0)
    scale = min(1.0, args.rows / 354_300)
    rounds = write_round_files(npy, work / "rounds",
                               {k: int(v * scale) for k, v in ROUND_ROWS.items()}, rng=1)
    store = fsbi_data.convert(npy, work / "store", rounds=rounds)
    start = time.perf_counter()
    ds = fsbi_data.open(store)
    timings = {}
    for name, panel in {**figures.PANELS, "longevity": figures.longevity}.items():
        t = time.perf_counter()
        figures.write_panel(*panel(ds), work / "figs", name)
        timings[name] = time.perf_counter() - t
    total = time.perf_counter() - start
    for name, seconds in timings.items():
        print(f"{name:<14} {seconds:6.2f} s")
    print(f"all panels (open + draw + write PNG/PDF/CSV): {total:.2f} s for {args.rows:,} rules "
          f"(target < 10 s)")


if __name__ == "__main__":
    main()
