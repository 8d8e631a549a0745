"""Overhead of the Auryn backend over running the same compiled program by hand.

Runs one rule under the quick protocol (or ``--preset paper`` with short durations) ``--repeat``
times each way, alternating, in one process:

* by hand: ``subprocess.run`` of the exact argument list the backend would use;
* backend: ``AurynBackend.run`` (working directory, program, marker, reading the monitor files
  with the metrics readers, cleanup).

Prints the median wall times and the ratio (target: backend / by hand <= 1.05).
Needs ``AURYN_DIR``. Usage: ``python benchmarks/bench_auryn.py [--repeat 5] [--family 6pPol]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fsbi_data.seeds import rule_seed
from fsbi_data.simulation.backends.auryn import AurynBackend, command_line, program_name
from fsbi_data.simulation.protocols import protocol

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "auryn-sample"


def plausible_theta(family_name: str) -> np.ndarray:
    if family_name == "MLP":
        theta = np.zeros(23)
        theta[-1] = 10.0
        return theta
    args = json.loads((SAMPLE / "runs.json").read_text())["s1"]["args"]
    theta = []
    for name in ("--ruleEE", "--ruleEI", "--ruleIE", "--ruleII"):
        theta += [float(v) for v in args[args.index(name) + 1][1:-1].split("a")]
    return np.array(theta + [float(args[args.index("--rate_poisson") + 1])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--family", default="6pPol")
    parser.add_argument("--seconds", type=float, default=None,
                        help="training and scoring duration each (default: the quick preset)")
    options = parser.parse_args()
    backend = AurynBackend()
    if not backend.available():
        sys.exit(f"skipped: {backend.why_unavailable()}")
    proto = protocol(options.family, "quick")
    if options.seconds:
        proto = proto.replace(lns=options.seconds, ls=options.seconds)
    theta = plausible_theta(options.family)
    program = backend.programs() / program_name(options.family)
    by_hand, through_backend = [], []
    for _ in range(options.repeat):
        workdir = Path(tempfile.mkdtemp())
        args = command_line(program, theta, proto, workdir=workdir,
                            run_id=rule_seed(theta, options.family), network_seed=5)
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True)
        by_hand.append(time.perf_counter() - start)
        shutil.rmtree(workdir)
        start = time.perf_counter()
        result = backend.run(theta, proto, network_seed=5)
        through_backend.append(time.perf_counter() - start)
        assert result.blow_up_time is None
    hand, back = statistics.median(by_hand), statistics.median(through_backend)
    print(f"protocol {proto.family}/{proto.name} (lns={proto.lns}, ls={proto.ls}), "
          f"{options.repeat} runs each")
    print(f"by hand (subprocess only)       median {hand:8.3f} s")
    print(f"AurynBackend.run (+parse, I/O)  median {back:8.3f} s")
    print(f"overhead ratio backend/by-hand  {back / hand:8.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
