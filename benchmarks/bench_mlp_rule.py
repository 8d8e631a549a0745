"""One evaluation of the MLP rule's network, as the Brian2 model compiles it, against the
baseline of one double-precision statement per unit (how the model first wrote it).

Both are compiled with Brian2's flags into one program that evaluates them on the same
``--events`` inputs (traces, weight and neuron variables spread like a simulation's) and prints
nanoseconds per event and the ratio baseline / new. A whole MLP simulation spends most of its
time here (40 rules of the embedded sample: 3.5 times faster end to end, measured under load).

Usage: ``python benchmarks/bench_mlp_rule.py [--events 2000000]``
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import brian2
import numpy as np

from fsbi_data.simulation.backends.brian2_mlp import INPUT_SCALES, INPUTS, mlp_cpp
from fsbi_data.simulation.protocols import protocol


def baseline_cpp(w1: np.ndarray, w2: np.ndarray) -> str:
    """``baseline_y``: one statement per unit, double precision, constants inlined."""
    scaled = [f"{s!r}*{x}" for s, x in zip(INPUT_SCALES, INPUTS, strict=True)]

    def weighted(row: np.ndarray, inputs: list[str]) -> str:
        return " + ".join(f"({float(w)!r})*{x}" for w, x in zip(row, inputs, strict=True))

    lines = [f"const double h1_{u} = 1.0/(1.0 + exp(-({weighted(row, scaled)})));"
             for u, row in enumerate(w1)]
    hidden = [f"h1_{u}" for u in range(len(w1))]
    lines += [f"const double h2_{v} = 1.0/(1.0 + exp(-({weighted(row, hidden)})));"
              for v, row in enumerate(w2)]
    y = " + ".join(f"o_{v}*h2_{v}" for v in range(len(w2)))
    outputs = ", ".join(f"double o_{v}" for v in range(len(w2) + 1))
    body = "\n    ".join(lines)
    return f"""
static double baseline_y(double a, double b, double w, double v_bar, double c_exc,
                         double c_inh, {outputs}) {{
    {body}
    return {y} + o_{len(w2)};
}}
"""


HARNESS = """
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
namespace {
%(new)s
%(baseline)s
}
template <typename F> double ns_per_event(F f, long n) {
    double sink = 0.0;
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; i++) {
        const double s = (i %% 1000) * 1e-3;
        sink += f(3 * s, 2 * (1 - s), 20 * s, -0.07 + 0.02 * s, 0.02 * s, 0.03 * (1 - s),
                  0.5, -0.3, 0.2, -0.1, 0.05);
    }
    auto stop = std::chrono::steady_clock::now();
    if (sink == 42.0) std::puts("");
    return std::chrono::duration<double, std::nano>(stop - start).count() / n;
}
int main(int argc, char** argv) {
    const long n = std::atol(argv[1]);
    for (int repeat = 0; repeat < 3; repeat++) {
        const double base = ns_per_event([](auto... x) { return baseline_y(x...); }, n);
        const double fast = ns_per_event([](auto... x) { return fsbi_mlp_y(x...); }, n);
        std::printf("baseline %%.1f ns/event, vectorised %%.1f ns/event, ratio %%.2f\\n",
                    base, fast, base / fast);
    }
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args()
    rule = protocol("MLP").mlp_rule(np.zeros(23))["ee"]
    flags = [f for f in brian2.prefs["codegen.cpp.extra_compile_args_gcc"] if f != "-std=c++11"]
    with tempfile.TemporaryDirectory() as tmp:
        source, program = Path(tmp) / "bench.cpp", Path(tmp) / "bench"
        source.write_text(HARNESS % {"new": mlp_cpp(rule["w1"], rule["w2"]),
                                     "baseline": baseline_cpp(rule["w1"], rule["w2"])})
        subprocess.run(["g++", *flags, "-std=c++14", str(source), "-o", str(program), "-lm"],
                       check=True)
        subprocess.run([str(program), str(args.events)], check=True)


if __name__ == "__main__":
    main()
