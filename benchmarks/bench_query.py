"""Queries on a full-scale store, side by side with the original approach.

The original analysis code loads the whole ``.npy`` and applies the bound checks to the
structured array. Here: ``fsbi_data.open`` + ``ds.fsbi.plausible()`` on a converted store,
warm ``plausible()`` (on the lazily opened store and on it ``.load()``-ed) against the same
checks on in-memory NumPy columns, and seed lookups.

    python benchmarks/bench_query.py [--rows 354300] [--workdir DIR]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from timing import best_of

import fsbi_data
from fsbi_data.schema import family
from fsbi_data.synthetic import write_release_file


def numpy_plausible(columns, conditions):
    mask = np.ones(len(columns[conditions[0].metric]), dtype=bool)
    for c in conditions:
        mask &= (columns[c.metric] >= c.low) & (columns[c.metric] <= c.high)
    return int(mask.sum())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=354_300)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    npy = write_release_file(work / "all.npy", "6pPol", args.rows, rng=0)
    store = fsbi_data.convert(npy, work / "store")
    conditions = family("6pPol").criteria("plausible")

    def original():
        records = np.load(npy)
        return numpy_plausible(records, conditions)

    def ours():
        return fsbi_data.open(store).fsbi.plausible().sizes["rule"]

    t_orig, n_orig = best_of(original, 3)
    t_ours, n_ours = best_of(ours, 3)
    assert n_orig == n_ours
    ds = fsbi_data.open(store)
    ds.fsbi.plausible()
    t_warm, _ = best_of(lambda: ds.fsbi.plausible().sizes["rule"])
    columns = {c.metric: np.array(ds[c.metric].values) for c in conditions}
    t_numpy, _ = best_of(lambda: numpy_plausible(columns, conditions))
    loaded = fsbi_data.open(store).load()
    loaded.fsbi.plausible()
    t_loaded, n_loaded = best_of(lambda: loaded.fsbi.plausible().sizes["rule"])
    assert n_loaded == n_ours
    seeds = np.asarray(ds.seed.values)
    rng = np.random.default_rng(1)
    t_one, _ = best_of(lambda: ds.fsbi.rule(seeds[rng.integers(len(seeds))]), 50)
    many = seeds[rng.choice(len(seeds), 10_000, replace=False)]
    t_many, _ = best_of(lambda: ds.fsbi.rules(many))

    print(f"rows: {args.rows:,}; plausible rules: {n_ours:,}")
    print(f"np.load + bound checks (original)   {t_orig * 1e3:9.1f} ms")
    print(f"open + plausible() count             {t_ours * 1e3:9.1f} ms   ratio "
          f"{t_ours / t_orig:.3f} (target < 1)")
    print(f"warm plausible()                     {t_warm * 1e3:9.1f} ms")
    print(f"same checks on in-memory NumPy       {t_numpy * 1e3:9.1f} ms   ratio "
          f"{t_warm / t_numpy:.2f} (target <= 2)")
    print(f"warm plausible() after .load()       {t_loaded * 1e3:9.1f} ms   ratio "
          f"{t_loaded / t_numpy:.2f} (target <= 2)")
    print(f"one seed lookup                      {t_one * 1e3:9.3f} ms   (target <= 1 ms)")
    print(f"10,000 seeds in one call             {t_many * 1e3:9.1f} ms   (target <= 50 ms)")


if __name__ == "__main__":
    main()
