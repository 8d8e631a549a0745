"""Conversion of a full-scale release file, side by side with np.load + np.save of it.

Each measurement runs in a fresh subprocess so that its peak memory (``ru_maxrss``) is its own.

    python benchmarks/bench_convert.py [--rows 354300] [--family 6pPol]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
src, dest, what = sys.argv[1:4]
if what != "numpy":
    import fsbi_data, fsbi_data.converters, fsbi_data.store, xarray, zarr, dask.array
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
before = rss()
start = time.perf_counter()
if what == "numpy":
    np.save(dest, np.load(src))
else:
    fsbi_data.convert(src, dest)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "work_bytes": peak - before}))
"""


def measure(src: Path, dest: Path, what: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(src), str(dest), what],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=354_300)
    parser.add_argument("--family", default="6pPol")
    args = parser.parse_args()
    from fsbi_data.synthetic import write_release_file

    work = Path(tempfile.mkdtemp())
    src = write_release_file(work / "all.npy", args.family, args.rows, rng=0)
    size = src.stat().st_size
    baseline = measure(src, work / "copy.npy", "numpy")
    ours = measure(src, work / "store", "convert")
    store_bytes = sum(p.stat().st_size for p in (work / "store").rglob("*") if p.is_file())
    print(f"file: {args.rows:,} rows, {size / 1e6:.1f} MB; "
          f"store on disk {store_bytes / 1e6:.1f} MB")
    for label, m in (("np.load + np.save", baseline), ("fsbi_data.convert", ours)):
        print(f"{label:<18}  {m['seconds']:6.2f} s   peak RSS {m['peak_bytes'] / 1e6:5.0f} MB, "
              f"of which {m['work_bytes'] / 1e6:5.0f} MB above the RSS after imports")
    print(f"time ratio {ours['seconds'] / baseline['seconds']:.2f} (target <= 1); memory of the "
          f"work {ours['work_bytes'] / size:.2f} x the file size (target < 1)")


if __name__ == "__main__":
    main()
