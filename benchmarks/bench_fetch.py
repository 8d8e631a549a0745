"""fetch on a full-scale synthetic ``_all`` file, side by side with plain baselines.

Measured in one process, after imports, on a 6pPol ``_all`` file of 354,300 rows (210 MB):

* download from a local HTTP server: ``fetch`` (pooch download into a temporary file, size and
  sha256 check, move into place) against a bare ``urllib`` download into a file, and one that
  also computes the sha256;
* first use of a local copy: ``fetch(source=...)`` (sha256 + size check) against ``hashlib``
  sha256 of the file;
* repeated use of a cached file: ``fetch`` (verified marker) against ``np.load(mmap_mode="r")``
  of the file, the cheapest way to open it.

Run: ``python benchmarks/bench_fetch.py [--scale 1.0]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path

import numpy as np
from timing import best_of

from fsbi_data.catalog import cache_dir
from fsbi_data.fetching import fetch
from fsbi_data.synthetic import write_synthetic_release


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(root: Path):
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def row(label: str, ours: float, baseline: float, baseline_label: str) -> None:
    print(f"{label:<34} {ours * 1e3:10.2f} ms   {baseline_label:<28} {baseline * 1e3:10.2f} ms"
          f"   ratio {ours / baseline:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cat = write_synthetic_release(tmp / "release", families=("6pPol",), scale=args.scale)
        entry = cat.entry("6pPol")
        path = tmp / "release" / entry.path
        print(f"file: {entry.rows:,} rows, {entry.size / 1e6:.1f} MB")
        os.environ["FSBI_DATA_HOME"] = str(tmp / "cache")

        with serve(tmp / "release") as url:
            os.environ["FSBI_DATA_URL"] = url

            def download() -> None:
                shutil.rmtree(cache_dir(), ignore_errors=True)
                fetch("6pPol", catalog=cat)

            def bare_download() -> None:
                with urllib.request.urlopen(f"{url}/{entry.path}") as response, \
                        open(tmp / "bare.npy", "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)

            def hashed_download() -> None:
                digest = hashlib.sha256()
                with urllib.request.urlopen(f"{url}/{entry.path}") as response, \
                        open(tmp / "bare.npy", "wb") as out:
                    while block := response.read(1 << 20):
                        digest.update(block)
                        out.write(block)

            ours = best_of(download, args.repeats)[0]
            row("fetch: download + verify", ours, best_of(bare_download, args.repeats)[0],
                "urllib download")
            row("fetch: download + verify", ours, best_of(hashed_download, args.repeats)[0],
                "urllib download + sha256")

        del os.environ["FSBI_DATA_URL"]

        def first_source_use() -> None:
            shutil.rmtree(cache_dir() / ".verified", ignore_errors=True)
            fetch("6pPol", source=path, catalog=cat)

        def sha256() -> None:
            with open(path, "rb") as f:
                hashlib.file_digest(f, "sha256")

        row("fetch(source=): first use", best_of(first_source_use, args.repeats)[0],
            best_of(sha256, args.repeats)[0], "hashlib sha256")

        fetch("6pPol", catalog=cat)
        cached = best_of(lambda: fetch("6pPol", catalog=cat), max(args.repeats, 20))[0]
        mmap = best_of(lambda: np.load(path, mmap_mode="r"), max(args.repeats, 20))[0]
        row("fetch: cached (verified marker)", cached, mmap, "np.load(mmap_mode='r')")


if __name__ == "__main__":
    main()
