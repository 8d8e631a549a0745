"""A store that grows by many small appends: append time and open + read time along the way.

Appends ``--appends`` batches of ``--batch`` rules to a converted store of ``--base-rows``
rules (fragments merge as they accumulate), and prints the curve: after every ``--every``
appends, the median append time of that stretch, its slowest append (a merge), the number of
parts, and open + read every metric column. At the end, the same open + read on a store freshly
converted from the very same rows, side by side (ratio, target <= 2).

    python benchmarks/bench_growth.py [--base-rows 354300] [--appends 1000] [--batch 5]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import best_of

import fsbi_data
from fsbi_data.schema import family
from fsbi_data.store import read_manifest
from fsbi_data.store.layout import records_from_dataset
from fsbi_data.synthetic import release_records, write_release_file


def open_and_read(store, metrics):
    ds = fsbi_data.open(store)
    return {name: ds[name].values for name in metrics}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-rows", type=int, default=354_300)
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    metrics = list(family("6pPol").metric_names)
    if args.base_rows:
        src = write_release_file(work / "base.npy", "6pPol", args.base_rows, rng=0)
        store = fsbi_data.convert(src, work / "grown.store")
    else:
        store = fsbi_data.store.create(work / "grown.store", "6pPol")

    print(f"base: {args.base_rows:,} rules; {args.appends} appends of {args.batch} rules")
    print(f"{'appends':>8} {'median append':>14} {'slowest':>9} {'parts':>6} "
          f"{'open+read':>10}")
    times = []
    for k in range(args.appends):
        records = release_records("6pPol", args.batch, rng=k + 1, first_salt=10**7 * (k + 1))
        start = time.perf_counter()
        fsbi_data.append(store, records)
        times.append(time.perf_counter() - start)
        if (k + 1) % args.every == 0:
            stretch = times[-args.every:]
            parts = 1 + len(read_manifest(store)["fragments"])
            t_read, _ = best_of(lambda: open_and_read(store, metrics), 3, warm_up=True)
            print(f"{k + 1:>8} {np.median(stretch) * 1e3:>11.1f} ms {max(stretch) * 1e3:>6.0f} ms "
                  f"{parts:>6} {t_read * 1e3:>7.1f} ms")

    fresh_src = work / "fresh.npy"
    np.save(fresh_src, records_from_dataset(fsbi_data.open(store)))
    fresh = fsbi_data.convert(fresh_src, work / "fresh.store")
    t_grown, _ = best_of(lambda: open_and_read(store, metrics), 5, warm_up=True)
    t_fresh, _ = best_of(lambda: open_and_read(fresh, metrics), 5, warm_up=True)
    print(f"open + read, grown store ({1 + len(read_manifest(store)['fragments'])} parts) "
          f"{t_grown * 1e3:7.1f} ms")
    print(f"open + read, fresh store (1 part)       {t_fresh * 1e3:7.1f} ms   ratio "
          f"{t_grown / t_fresh:.2f} (target <= 2)")
    first, last = times[:args.every], times[-args.every:]
    print(f"median append: first {args.every} {np.median(first) * 1e3:.1f} ms, last "
          f"{args.every} {np.median(last) * 1e3:.1f} ms; mean over all {np.mean(times) * 1e3:.1f} "
          f"ms (merges included)")


if __name__ == "__main__":
    main()
