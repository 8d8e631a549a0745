"""The Brian2 backend: exact rule semantics on a tiny network, network runs of both families.

Compiled standalone programs are cached in pytest's cache directory (keyed by protocol and
Brian2 version, as in normal use), so only the first session pays for compiling them.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from fsbi_data.errors import ProtocolError
from fsbi_data.simulation.backends import brian2_build
from fsbi_data.simulation.backends.base import get_backend
from fsbi_data.simulation.backends.brian2 import BACKEND, Brian2Backend, compiler_available
from fsbi_data.simulation.protocols import protocol

#: The plausible rule of the paper's Fig. 2 (data-release.md §7.1.3) with input 8 Hz.
FIG2_THETA = np.array([
    0.04660005, 0.02327882, 0.49659052, -0.35899994, -0.37540221, -1.278193,
    0.0707294, 0.07955258, 0.63596439, -1.72025657, 0.56049812, 0.06629736,
    0.03651253, 0.04398145, -0.31592822, -0.04090761, 1.60054791, 1.11010623,
    0.09858324, 0.04056259, -1.94945908, 1.7757206, 0.19681023, 1.9772824, 8.0])
#: Strong potentiation of E→E and depression of I→E: runaway excitation.
VIOLENT_THETA = np.r_[[0.05, 0.05, 2.0, 2.0, 2.0, 2.0],
                      [0.05, 0.05, 0.0, 0.0, 0.0, 0.0],
                      [0.05, 0.05, -2.0, -2.0, -2.0, -2.0],
                      [0.05, 0.05, 0.0, 0.0, 0.0, 0.0], 15.0]
STATIC_POLY = np.r_[[0.02, 0.05, 0.0, 0.0, 0.0, 0.0] * 4, 10.0]
STATIC_MLP = np.r_[0.0, 0.0, np.linspace(-1, 1, 20), 10.0]

needs_compiler = pytest.mark.skipif(not compiler_available(),
                                    reason="standalone mode needs a C++ compiler and make")


@pytest.fixture(scope="module", autouse=True)
def brian2_cache(request):
    """Keep compiled programs across sessions in pytest's cache (cleared by --cache-clear)."""
    home = request.config.cache.mkdir("fsbi-data-home")
    old = os.environ.get("FSBI_DATA_HOME")
    os.environ["FSBI_DATA_HOME"] = str(home)
    yield home
    if old is None:
        del os.environ["FSBI_DATA_HOME"]
    else:
        os.environ["FSBI_DATA_HOME"] = old


def tiny(family: str, **overrides):
    """A few dozen neurons, strong input, every neuron and every step recorded."""
    values = dict(NE=40, NI=10, N_input=200, sparseness=0.5, sparseness_poisson=0.5,
                  weight_poisson=0.3, lns=1e-4, ls=0.4, n_recorded=40, n_recorded_i=10,
                  n_monitored_synapses=12, weight_sample_interval=1e-4)
    values.update(overrides)
    return protocol(family, "quick").replace(**values)


def replay_poly_rule(p, rule, pre_steps, post_steps, n_steps, w0):
    """Closed-form §5.1/§5.2 weight of one synapse after every step, from its spike steps."""
    d_pre = np.exp(-p.dt / rule["tau_pre"])
    d_post = np.exp(-p.dt / rule["tau_post"])
    arrivals = np.bincount(np.asarray(pre_steps, dtype=int) + p.delay_steps,
                           minlength=n_steps + p.delay_steps)[:n_steps]
    posts = np.bincount(np.asarray(post_steps, dtype=int), minlength=n_steps)[:n_steps]
    x_pre = x_post = 0.0
    w = w0
    out = np.empty(n_steps)
    for n in range(n_steps):
        for _ in range(arrivals[n]):  # transmit, then the pre-event update with x_post(n)
            w = min(max(w + p.eta * (rule["alpha"] + rule["kappa"] * x_post), 0.0), p.wmax)
        if posts[n]:
            w = min(max(w + p.eta * (rule["beta"] + rule["gamma"] * x_pre), 0.0), p.wmax)
        x_pre = (x_pre + arrivals[n]) * d_pre  # events of step n count from step n + 1
        x_post = (x_post + posts[n]) * d_post
        out[n] = w
    return out


def test_poly_rule_matches_closed_form_on_recorded_spikes():
    p = tiny("6pPol", eta=0.05, wmax=0.6)
    theta = np.r_[[0.02, 0.04, 0.3, -0.2, 1.5, -1.0],
                  [0.03, 0.015, -0.1, 0.4, -0.8, 1.2],
                  [0.05, 0.02, 0.5, 0.3, -1.5, 0.7],
                  [0.015, 0.06, -0.4, 0.2, 1.0, -0.5], 15.0]
    result = Brian2Backend("runtime").run(theta, p, network_seed=5)
    assert not result.blew_up
    spikes = {"e": result.spikes_e, "i": result.spikes_i}
    assert spikes["e"].n_spikes > 50 and spikes["i"].n_spikes > 10
    steps = {pop: [np.round(train.neuron(n) / p.dt).astype(int)
                   for n in range(train.n_neurons)] for pop, train in spikes.items()}
    sample_steps = np.round(result.weights.t / p.dt).astype(int)
    n_steps = p.n_steps
    assert sample_steps[0] == 1 and sample_steps[-1] == n_steps - 1
    rules = p.poly_rule(theta)
    initial = {"ee": p.wee, "ei": p.wei, "ie": p.wie, "ii": p.wii}
    changed = hit_bounds = 0
    for key, rule in rules.items():
        recorded = result.weights.weights[key]
        for k, (i, j) in enumerate(zip(result.info["monitored_pre"][key],
                                       result.info["monitored_post"][key], strict=True)):
            expected = replay_poly_rule(p, rule, steps[key[0]][i], steps[key[1]][j], n_steps,
                                        initial[key])
            np.testing.assert_allclose(recorded[k], expected[sample_steps], rtol=1e-4,
                                       atol=1e-9, err_msg=f"{key} synapse {i}->{j}")
            changed += not np.allclose(expected, expected[0])
            hit_bounds += bool(np.any(expected == 0.0) or np.any(expected == p.wmax))
    assert changed >= 20 and hit_bounds >= 2  # the check exercised the rule and the clipping


def test_runtime_mlp_without_plasticity_keeps_weights():
    p = tiny("MLP", ls=0.1, weight_sample_interval=0.01)
    result = Brian2Backend("runtime").run(STATIC_MLP, p, network_seed=2)
    assert not result.blew_up and result.spikes_e.n_spikes > 0
    assert np.all(result.weights.weights["ee"] == p.wee)
    assert np.all(result.weights.weights["ie"] == p.wie)
    assert result.weights.connections == ("ee", "ie")


def test_bad_theta_and_seed_are_rejected():
    with pytest.raises(ProtocolError, match="25 numbers"):
        BACKEND.run(STATIC_POLY[:-1], protocol("6pPol", "quick"), network_seed=1)
    with pytest.raises(ProtocolError, match="network_seed"):
        BACKEND.run(STATIC_POLY, protocol("6pPol", "quick"), network_seed=0)


def test_get_backend_finds_brian2():
    assert isinstance(get_backend("brian2"), Brian2Backend)
    if not os.environ.get("AURYN_DIR"):
        assert get_backend(None).name == "brian2"


# ---- standalone runs of the quick protocols ------------------------------------------------

def rates(result, p):
    return (result.spikes_e.n_spikes / p.n_recorded / p.ls,
            result.spikes_i.n_spikes / p.n_recorded_i / p.ls)


@needs_compiler
def test_quick_6ppol_plausible_rule_and_seeds():
    p = protocol("6pPol", "quick")
    backend = Brian2Backend("standalone")
    first = backend.run(FIG2_THETA, p, network_seed=11)
    again = backend.run(FIG2_THETA, p, network_seed=11)
    other = backend.run(FIG2_THETA, p, network_seed=12)
    assert first.info["mode"] == "standalone" and first.network_seed == 11
    assert not first.blew_up
    rate_e, rate_i = rates(first, p)
    assert 0.5 < rate_e < 50 and 0.5 < rate_i < 100
    assert first.spikes_e.equals(again.spikes_e) and first.weights.equals(again.weights)
    assert not first.spikes_e.equals(other.spikes_e)
    assert first.params == p.analysis_params()
    times = first.spikes_e.times
    assert times.min() >= p.lns and times.max() < p.lns + p.ls
    np.testing.assert_allclose(first.weights.t, p.lns + 0.1 * np.arange(10))
    assert first.weights.weights["ee"].shape == (100, 10)
    assert not np.allclose(first.weights.weights["ee"], p.wee)  # the rule acted
    # §8.2: the monitored synapses are spread over the presynaptic population
    assert np.all(np.diff(first.info["monitored_pre"]["ee"]) >= 0)
    assert first.info["monitored_pre"]["ee"][-1] > 0.9 * p.NE


@needs_compiler
def test_quick_6ppol_violent_rule_blows_up_and_static_rule_is_static():
    p = protocol("6pPol", "quick")
    backend = Brian2Backend("standalone")
    blown = backend.run(VIOLENT_THETA, p, network_seed=3)
    assert blown.blew_up and blown.spikes_e is None and blown.weights is None
    assert 0 < blown.blow_up_time < p.lns + p.ls
    assert abs(blown.blow_up_time / p.dt - round(blown.blow_up_time / p.dt)) < 1e-9
    static = backend.run(STATIC_POLY, p, network_seed=3)  # alpha..kappa = 0: no change
    assert not static.blew_up
    for key, w in static.weights.weights.items():
        initial = {"ee": p.wee, "ei": p.wei, "ie": p.wie, "ii": p.wii}[key]
        assert np.all(w == initial)
        assert static.info["w_mean"][key] == pytest.approx(initial)


@needs_compiler
def test_quick_mlp_runs_and_blows_up():
    p = protocol("MLP", "quick")
    backend = Brian2Backend("standalone")
    static = backend.run(STATIC_MLP, p, network_seed=4)
    assert not static.blew_up and static.weights.connections == ("ee", "ie")
    assert np.all(static.weights.weights["ee"] == p.wee)
    rate_e, rate_i = rates(static, p)
    assert 0.5 < rate_e < 50 and 0.5 < rate_i < 100
    # E→E outputs all positive: runaway potentiation of E→E, the checker stops the run
    growing = np.r_[1.0, 0.0, [1.0] * 10, [-1.0] * 10, 15.0]
    blown = backend.run(growing, p, network_seed=4)
    assert blown.blew_up and 0 < blown.blow_up_time < p.lns + p.ls
    assert blown.blow_up_time == round(blown.blow_up_time, 4)


def _run_in_child(seed: int) -> tuple[list[float], int]:
    """Run a rule in this fresh process: its first spike times and the builds it compiled."""
    compiled = []
    compile_build = brian2_build._compile

    def counted(*args):
        compiled.append(args)
        compile_build(*args)

    brian2_build._compile = counted
    result = Brian2Backend("standalone").run(STATIC_POLY, tiny("6pPol"), network_seed=seed)
    return result.spikes_e.times[:50].tolist(), len(compiled)


@needs_compiler
def test_parallel_processes_share_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("FSBI_DATA_HOME", str(tmp_path))  # no build yet, for both processes
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        (first, builds_1), (second, builds_2) = pool.map(_run_in_child, [21, 21])
    assert builds_1 + builds_2 == 1  # one process compiled, the other waited and reused it
    folders = [p.name for p in (tmp_path / "brian2").iterdir() if p.is_dir()]
    assert folders == [brian2_build.build_directory(tiny("6pPol")).name]
    assert first == second and first


@pytest.mark.skipif(not os.environ.get("AURYN_DIR"), reason="AURYN_DIR is not set: the "
                    "statistical comparison with Auryn needs an Auryn installation")
def test_statistically_equivalent_to_auryn():
    """Paper network, 1 s + 1 s, five seeds each: rates within 10 %, CV(ISI) within 0.06,
    the violent rule blows up in both with stop times within 20 %."""
    auryn = get_backend("auryn")
    p = protocol("6pPol").replace(lns=1.0, ls=1.0)
    backends = {"auryn": auryn, "brian2": Brian2Backend("standalone")}

    def cv(result):
        values = []
        for n in range(result.spikes_e.n_neurons):
            isi = np.diff(result.spikes_e.neuron(n))
            values.append(isi.std() / isi.mean() if isi.size > 2 else 0.0)
        return np.mean(values)

    for theta in (FIG2_THETA, STATIC_POLY):
        stats = {}
        for name, backend in backends.items():
            runs = [backend.run(theta, p, network_seed=seed) for seed in range(1, 6)]
            stats[name] = np.array([[*rates(r, p), cv(r)] for r in runs]).mean(0)
        np.testing.assert_allclose(stats["brian2"][:2], stats["auryn"][:2], rtol=0.1)
        assert abs(stats["brian2"][2] - stats["auryn"][2]) < 0.06
    stops = {name: [b.run(VIOLENT_THETA, p, network_seed=s).blow_up_time for s in (1, 2, 3)]
             for name, b in backends.items()}
    assert None not in stops["auryn"] and None not in stops["brian2"]
    assert np.mean(stops["brian2"]) == pytest.approx(np.mean(stops["auryn"]), rel=0.2)


def test_builds_are_kept_apart_per_kind_of_processor(tmp_path, monkeypatch):
    """A cache shared by a cluster's nodes: a build for one processor never runs on another."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("processor\t: 0\nmodel name\t: Xeon E5-2680\nflags\t\t: fpu sse4_2 avx\n")
    new.write_text("processor\t: 0\nmodel name\t: Xeon Gold 6248\nflags\t\t: fpu sse4_2 avx "
                   "avx2 avx512f\n")
    assert brian2_build.cpu_signature(old) != brian2_build.cpu_signature(new)
    assert brian2_build.cpu_signature(old) == brian2_build.cpu_signature(old)
    assert brian2_build.cpu_signature(tmp_path / "absent") == brian2_build.cpu_signature(
        tmp_path / "also-absent")
    directories = set()
    for cpuinfo in (old, new):
        signature = brian2_build.cpu_signature(cpuinfo)
        monkeypatch.setattr(brian2_build, "cpu_signature", lambda s=signature: s)
        directories.add(brian2_build.build_directory(tiny("6pPol")).name)
    assert len(directories) == 2
