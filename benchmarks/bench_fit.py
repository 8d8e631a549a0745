"""A 10-member posterior fit on ~24,000 rules: torch's default threads against fit's choice of
threads and worker processes, on a quiet machine and beside one busy process.

The old behaviour is the members one after another on torch's default threads (one per core);
the new is ``fit``'s defaults (threads and workers from the free cores), and 1 and 2 workers
with the threads it chooses for them. The busy process is a Python loop on one core. Each line
prints seconds and the ratio old / new; the load average is printed with each condition, as the
numbers say little without it.

    python benchmarks/bench_fit.py [--rules 24000] [--members 10] [--max-epochs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

import numpy as np
import torch
from timing import best_of

import fsbi_data
from fsbi_data import inference
from fsbi_data.simulation.prior import sample_prior
from fsbi_data.store.layout import dataset_from_arrays

TORCH_DEFAULT_THREADS = torch.get_num_threads()


def rules(n: int):
    """``n`` rules whose rate follows alpha_ee, the other metrics noise."""
    rng = np.random.default_rng(0)
    theta = sample_prior("6pPol", n, rng, dtype=np.float32)
    metrics = {name: rng.random(n) for name in fsbi_data.family("6pPol").metric_names}
    metrics["rate"] = 10 + 4 * theta[:, 2] + rng.normal(0, 0.2, n)
    return dataset_from_arrays([f"{i:032x}" for i in range(n)], theta, metrics, "6pPol")


@contextlib.contextmanager
def busy_process(busy: bool):
    """One process spinning a CPU loop inside, if ``busy``."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=24_000)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--max-epochs", type=int, default=3)
    args = parser.parse_args()
    ds = rules(args.rules)
    fit_options = {"n_ensemble": args.members, "seed": 0, "max_epochs": args.max_epochs}
    variants = {
        f"old: sequential, torch's {TORCH_DEFAULT_THREADS} threads":
            {"workers": 1, "threads": TORCH_DEFAULT_THREADS},
        "new defaults": {},
        "new, workers=1": {"workers": 1},
        "new, workers=2": {"workers": 2},
    }
    print(f"{args.members} members, {args.rules:,} rules, max_epochs={args.max_epochs}, "
          f"{len(os.sched_getaffinity(0))} cores")
    for busy in (False, True):
        with busy_process(busy):
            print(f"\n{'beside one busy process' if busy else 'no busy process of ours'}; "
                  f"load average {os.getloadavg()[0]:.1f}")
            seconds = {}
            for name, choice in variants.items():
                chosen = inference._parallelism(args.members, "cpu", choice.get("workers"),
                                                choice.get("threads"))
                seconds[name], _ = best_of(lambda c=choice: inference.fit(
                    ds, ["rate"], **fit_options, **c), 1)
                old = next(iter(seconds.values()))
                print(f"  {name:38s} workers, threads {chosen}  {seconds[name]:7.1f} s   "
                      f"old / this {old / seconds[name]:5.2f}   load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
