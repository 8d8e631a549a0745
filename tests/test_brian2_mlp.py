"""The MLP rule's network as Brian2 runs it: NumPy and compiled C++ against the formula."""

from __future__ import annotations

import platform
import shutil
import subprocess

import numpy as np
import pytest

from fsbi_data.simulation.backends.brian2_mlp import mlp_cpp, mlp_output
from fsbi_data.simulation.protocols import protocol

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs the g++ compiler")


def network(theta_seed: int = 0):
    """W1, W2 of the MLP protocol and the E→E pre-event output layer of a random theta."""
    rng = np.random.default_rng(theta_seed)
    theta = np.r_[0.3, 0.7, rng.uniform(-1, 1, 20), 10.0]
    rule = protocol("MLP").mlp_rule(theta)["ee"]
    return rule["w1"], rule["w2"], rule["w_pre"]


def formula(w1, w2, w_out, inputs):
    """The network of docs/network-model.md §5.4, written out in double precision."""
    a, b, w, v_bar, c_exc, c_inh = inputs
    h1 = np.array([1 / (1 + np.exp(-(2 * a * r[0] + 2 * b * r[1] + w * r[2] + 15 * v_bar * r[3]
                                     + 15 * c_exc * r[4] + 15 * c_inh * r[5]))) for r in w1])
    h2 = np.array([1 / (1 + np.exp(-sum(h1[u] * r[u] for u in range(len(r))))) for r in w2])
    return sum(w_out[v] * h2[v] for v in range(len(w2))) + w_out[len(w2)]


def random_inputs(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(0, 3, n), rng.uniform(0, 3, n), rng.uniform(0, 20, n),
                     rng.uniform(-0.08, -0.05, n), rng.uniform(0, 0.05, n),
                     rng.uniform(0, 0.05, n)])


def test_numpy_network_is_the_formula_in_single_precision():
    w1, w2, w_out = network()
    inputs = random_inputs(50)
    expected = formula(w1, w2, w_out, inputs)
    np.testing.assert_allclose(mlp_output(w1, w2, inputs, w_out, np.float64), expected,
                               rtol=1e-12)
    single = mlp_output(w1, w2, inputs, w_out)
    np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(single, expected)  # it did compute in single precision


def compile_harness(tmp_path, w1, w2):
    """A program that evaluates ``fsbi_mlp_y`` (inside an anonymous namespace, as Brian2 puts
    support code) on lines of 11 numbers, compiled with Brian2's flags."""
    import brian2

    flags = [f for f in brian2.prefs["codegen.cpp.extra_compile_args_gcc"] if f != "-w"]
    source = tmp_path / "harness.cpp"
    source.write_text("#include <cmath>\n#include <cstdio>\nnamespace {\n" + mlp_cpp(w1, w2)
                      + """}
int main() {
    double v[11];
    while (std::scanf("%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", v, v + 1, v + 2, v + 3,
                      v + 4, v + 5, v + 6, v + 7, v + 8, v + 9, v + 10) == 11)
        std::printf("%.17g\\n", fsbi_mlp_y(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                                          v[8], v[9], v[10]));
}
""")
    subprocess.run(["g++", *flags, "-c", str(source), "-o", str(tmp_path / "harness.o")],
                   check=True, capture_output=True)
    subprocess.run(["g++", str(tmp_path / "harness.o"), "-o", str(tmp_path / "harness"), "-lm"],
                   check=True, capture_output=True)
    return tmp_path / "harness"


@needs_gxx
def test_compiled_network_is_the_formula(tmp_path):
    w1, w2, w_out = network(3)
    inputs = random_inputs(200)
    inputs[0, 0] = inputs[1, 1] = 300.0  # saturated units, both ways: e^(-z) overflows
    program = compile_harness(tmp_path, w1, w2)
    lines = "\n".join(" ".join(repr(float(v)) for v in [*column, *w_out])
                      for column in inputs.T)
    done = subprocess.run([str(program)], input=lines, capture_output=True, text=True,
                          check=True)
    got = np.array(done.stdout.split(), dtype=float)
    expected = formula(w1, w2, w_out, inputs)
    assert got.shape == expected.shape and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, mlp_output(w1, w2, inputs, w_out), rtol=1e-5, atol=1e-6)


@needs_gxx
@pytest.mark.skipif(platform.machine() != "x86_64" or platform.system() != "Linux"
                    or "glibc" not in " ".join(platform.libc_ver()),
                    reason="glibc's vector exponentials exist on x86-64 Linux only")
def test_compiled_network_uses_vector_exponentials(tmp_path):
    """The loops call glibc's vector expf (what makes an MLP rule several times cheaper)."""
    w1, w2, _ = network()
    compile_harness(tmp_path, w1, w2)
    symbols = subprocess.run(["nm", "-u", str(tmp_path / "harness.o")], capture_output=True,
                             text=True, check=True).stdout
    assert any(name.startswith("_ZGV") and name.endswith("_expf") for name in symbols.split())


def test_runtime_mode_applies_the_rule():
    """Brian2's NumPy mode calls the NumPy network on whole arrays of synapses: weights move,
    within their bounds, and the same run gives the same weights."""
    from fsbi_data.simulation.backends.brian2 import Brian2Backend

    p = protocol("MLP", "quick").replace(
        NE=40, NI=10, N_input=200, sparseness=0.5, sparseness_poisson=0.5, weight_poisson=0.3,
        lns=1e-4, ls=0.2, n_recorded=40, n_recorded_i=10, n_monitored_synapses=12,
        weight_sample_interval=0.01)
    theta = np.r_[0.5, 0.5, np.linspace(-1, 1, 20), 10.0]
    runs = [Brian2Backend("runtime").run(theta, p, network_seed=3) for _ in range(2)]
    weights = runs[0].weights.weights
    assert runs[0].spikes_e.n_spikes > 0
    for key, initial in (("ee", p.wee), ("ie", p.wie)):
        assert not np.allclose(weights[key], initial)
        assert np.all((weights[key] >= 0) & (weights[key] <= p.wmax))
        np.testing.assert_array_equal(weights[key], runs[1].weights.weights[key])
