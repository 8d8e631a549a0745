"""Open a full-scale store and read every metric column, side by side with np.load of the .npy.

Both run with a warm page cache (each is run once before timing). Bytes read from disk are the
compressed chunk files of the metric variables (what open + read touches) against the whole
``.npy``.

    python benchmarks/bench_open.py [--rows 354300] [--family 6pPol]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from timing import best_of

import fsbi_data
from fsbi_data.schema import family
from fsbi_data.synthetic import write_release_file


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=354_300)
    parser.add_argument("--family", default="6pPol")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    src = write_release_file(work / "all.npy", args.family, args.rows, rng=0)
    store = fsbi_data.convert(src, work / "store")
    metrics = list(family(args.family).metric_names)

    def numpy_way():
        return np.load(src)

    def store_way():
        ds = fsbi_data.open(store)
        return {name: ds[name].values for name in metrics}

    def store_way_with_seeds():
        ds = fsbi_data.open(store)
        return ds[metrics].compute()  # the seed coordinate (11 MB) is read and decoded too

    t_numpy, _ = best_of(numpy_way, warm_up=True)
    t_store, _ = best_of(store_way, warm_up=True)
    t_with_seeds, _ = best_of(store_way_with_seeds, warm_up=True)
    base = next(store.glob("base-*"))
    metric_bytes = sum(p.stat().st_size for m in metrics for p in (base / m).rglob("*")
                       if p.is_file())
    print(f"np.load of the whole .npy           {t_numpy * 1e3:8.1f} ms")
    print(f"open + read all {len(metrics)} metric columns   {t_store * 1e3:8.1f} ms   ratio "
          f"{t_store / t_numpy:.2f} (target <= 1)")
    print(f"  the same with the seeds: ds[metrics].compute() {t_with_seeds * 1e3:8.1f} ms   ratio "
          f"{t_with_seeds / t_numpy:.2f}")
    print(f"bytes read: {metric_bytes / 1e6:.1f} MB of the metric chunks vs "
          f"{src.stat().st_size / 1e6:.1f} MB → {metric_bytes / src.stat().st_size:.3f} "
          f"(target <= 0.333)")


if __name__ == "__main__":
    main()
