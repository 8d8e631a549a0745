"""The Brian2 backend: the paper's two networks written with Brian2, no Auryn needed.

The model follows ``spec/network-models.md`` step by step; section numbers are cited next to
the equations. Every deterministic part is reproduced exactly (dt, the 8-step delay on every
projection, the per-step order of §2.3, the discrete neuron updates of §3, per-neuron traces
with exact exponential decay and no same-step pairing, the two rules with clipping after every
update, the rate checker of §6, recording of §8); connectivity and Poisson input match in
distribution (§11.2, §13).

How a step maps onto Brian2's schedule (``groups`` → ``thresholds`` → ``synapses`` →
``resets`` → ``end``):

* ``groups``: the explicit discrete neuron update of §3.1 / §3.2 (a ``run_regularly``
  operation, not a generic integrator), V clipped to [E_I, 0];
* ``thresholds``: spike if V > V_T + θ (strict);
* ``synapses``: arrivals of spikes emitted 8 steps earlier add the current weight to the
  target's conductance, then apply the pre-event rule; post-event updates follow (Brian2 runs
  ``on_pre`` pathways before ``on_post``); traces are neuron-level variables that are not
  touched here, so an update sees only events of earlier steps (§5.1);
* ``resets``: V ← V_reset, θ ← Δθ (CVAIF: g_w += Δg_w) and the post traces count the spike —
  Brian2 resets after the synaptic updates, which is harmless here (§13.9);
* ``end``: traces x ← (x + events)·e^(−dt/τ) (arrivals counted by a one-to-one self-projection
  with the 8-step delay), weight monitors (after the step's plasticity), then the rate checker,
  which stops the run when the E-rate estimate reaches ``max_rate_checker`` and keeps the time.

Two modes. **Standalone** (default when a C++ compiler works): the network is generated and
compiled once per protocol and Brian2 version into the fsbi-data cache
(``$FSBI_DATA_HOME/brian2`` or ``pooch.os_cache("fsbi-data")/brian2``), under a file lock;
each rule then runs the compiled program with theta and the network seed passed on its
command line, in its own results directory, so several processes can run rules at once.
**Runtime** (NumPy code generation, no compiler): slower, for machines without one.

Examples
--------
>>> import numpy as np
>>> from fsbi_data.simulation.backends.brian2 import Brian2Backend
>>> from fsbi_data.simulation.protocols import protocol
>>> theta = np.r_[[0.02, 0.05, 0.0, 0.0, 0.0, 0.0] * 4, 10.0]
>>> backend = Brian2Backend()
>>> result = backend.run(theta, protocol("6pPol", "quick"), network_seed=1)  # doctest: +SKIP
>>> result.blew_up, result.spikes_e.n_neurons                          # doctest: +SKIP
(False, 500)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fsbi_data.errors import SimulationError
from fsbi_data.metrics.raw import SimulationResult, SpikeTrains, WeightTraces

from ..protocols import Protocol
from .base import Backend, check_network_seed

logger = logging.getLogger(__name__)

MODES = ("auto", "standalone", "runtime")


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

@dataclass
class _Model:
    """The Brian2 objects of one network and where its run-time parameters live."""

    objects: list = field(default_factory=list)
    groups: dict = field(default_factory=dict)      # name -> NeuronGroup
    synapses: dict = field(default_factory=dict)    # connection key -> plastic Synapses
    projections: dict = field(default_factory=dict)  # every Synapses by name
    spike_monitors: dict = field(default_factory=dict)  # "e", "i" -> SpikeMonitor
    weight_monitors: dict = field(default_factory=dict)  # connection key -> StateMonitor
    checker: Any = None
    stop_holder: dict = field(default_factory=dict)


def _trace_names(protocol: Protocol) -> dict[str, dict[str, str]]:
    """Per group, each trace variable and whether arrivals (pre) or emissions (post) drive it.

    6pPol: one pre trace per outgoing and one post trace per incoming plastic projection, each
    with the projection's own τ from theta (§5.2). MLP: fast/slow pre traces of E and I and
    fast/slow post traces of E, τ from ``rule_cst_part`` (§5.4).
    """
    if protocol.family == "6pPol":
        return {"exc": {"x_pre_ee": "pre", "x_pre_ei": "pre",
                        "x_post_ee": "post", "x_post_ie": "post"},
                "inh": {"x_pre_ie": "pre", "x_pre_ii": "pre",
                        "x_post_ei": "post", "x_post_ii": "post"}}
    return {"exc": {"x_pre1": "pre", "x_pre2": "pre", "x_post1": "post", "x_post2": "post"},
            "inh": {"x_pre1": "pre", "x_pre2": "pre"}}


def _neuron_group(b2: Any, protocol: Protocol, name: str, size: int) -> Any:
    """An E or I population: IF (§3.1) for 6pPol, CVAIF (§3.2) for MLP."""
    p = protocol
    cvaif = p.family == "MLP"
    traces = _trace_names(p)[name]
    model = """
    v : volt                 # membrane potential
    theta_thr : volt         # moving threshold (absolute + relative refractoriness)
    g_ampa : 1               # AMPA conductance, in units of the leak conductance
    g_nmda : 1               # NMDA conductance: low-pass of g_ampa, no Mg block (§3.1)
    g_gaba : 1               # GABA conductance
    arrivals : 1             # own spikes arriving at their targets in this step (§2.2)
    """
    if cvaif:
        model += """
    g_w : 1                  # spike-triggered adaptation conductance (§3.2)
    v_bar : volt             # low-passed membrane potential, read by the MLP rule
    c_exc : volt             # low-passed excitatory current
    c_inh : volt             # low-passed inhibitory current
    """
    for trace in traces:
        model += f"\n    {trace} : 1\n    decay_{trace} : 1 (shared)"
    namespace = {
        "k_mem": p.dt / p.tau_mem,
        "A_ampa": p.ampa_nmda_ratio / (1 + p.ampa_nmda_ratio),
        "A_nmda": 1 / (1 + p.ampa_nmda_ratio),
        "d_ampa": math.exp(-p.dt / p.tau_ampa),
        "d_gaba": math.exp(-p.dt / p.tau_gaba),
        "d_thr": math.exp(-p.dt / p.tau_thresh),
        "E_rest": p.e_rest * b2.volt, "E_inh": p.e_inh * b2.volt, "v_max": p.v_max * b2.volt,
        "v_thresh": p.v_thresh * b2.volt, "v_reset": p.v_reset * b2.volt,
        "delta_thresh": p.delta_thresh * b2.volt,
    }
    if cvaif:
        # §3.2: decay first, Euler NMDA filter, traces from the old V, then the membrane.
        namespace.update({
            "m_nmda": p.dt / p.tau_nmda, "d_w": math.exp(-p.dt / p.tau_adapt),
            "delta_w": p.delta_adapt, "m_v": p.dt / p.tau_vtrace,
            "m_e": p.dt / p.tau_cexc, "m_i": p.dt / p.tau_cinh,
        })
        update = """
        g_ampa = d_ampa*g_ampa
        g_gaba = d_gaba*g_gaba
        g_w = d_w*g_w
        g_nmda = (1 - m_nmda)*(g_nmda + m_nmda*g_ampa)
        I_exc = -(A_ampa*g_ampa + A_nmda*g_nmda)*v
        I_inh = (v - E_inh)*(g_gaba + g_w)
        c_exc = (1 - m_e)*(c_exc + m_e*I_exc)
        c_inh = (1 - m_i)*(c_inh + m_i*I_inh)
        v_bar = (1 - m_v)*(v_bar + m_v*v)
        theta_thr = d_thr*theta_thr
        v = v + k_mem*(I_exc - I_inh - (v - E_rest))
        v = clip(v, E_inh, v_max)
        """
        reset = "v = v_reset\ntheta_thr = delta_thresh\ng_w = g_w + delta_w"
    else:
        # §3.1: currents from the old state, exponential NMDA filter, decay, membrane.
        namespace["m_nmda"] = 1 - math.exp(-p.dt / p.tau_nmda)
        update = """
        I_E = -(A_ampa*g_ampa + A_nmda*g_nmda)*v
        I_I = (v - E_inh)*g_gaba
        g_nmda = (1 - m_nmda)*(g_nmda + m_nmda*g_ampa)
        g_ampa = d_ampa*g_ampa
        g_gaba = d_gaba*g_gaba
        theta_thr = d_thr*theta_thr
        v = v + k_mem*(I_E - I_I - (v - E_rest))
        v = clip(v, E_inh, v_max)
        """
        reset = "v = v_reset\ntheta_thr = delta_thresh"
    # §5.1: a post trace counts the neuron's own spike; this runs after the synaptic updates.
    reset += "".join(f"\n{t} = {t} + 1" for t, kind in traces.items() if kind == "post")
    group = b2.NeuronGroup(size, model, threshold="v > v_thresh + theta_thr", reset=reset,
                           namespace=namespace, name=name, method=None)
    group.v = p.e_rest * b2.volt
    if cvaif:
        group.v_bar = p.e_rest * b2.volt
    group.run_regularly(_dedent(update), when="groups", name=f"{name}_update")
    # §2.3 step 4 / §5.1: x <- (x + events of this step) * exp(-dt/tau), after the synapses.
    trace_update = [f"{t} = ({t} + arrivals)*decay_{t}" if kind == "pre"
                    else f"{t} = {t}*decay_{t}" for t, kind in traces.items()]
    trace_update.append("arrivals = 0")
    group.run_regularly("\n".join(trace_update), when="end", order=-10,
                        name=f"{name}_traces")
    return group


def _dedent(code: str) -> str:
    return "\n".join(line.strip() for line in code.strip().splitlines())


def _mlp_statements(protocol: Protocol, a: str, b: str, out: str) -> str:
    """Abstract code evaluating the MLP of §5.4 into ``y``; W1, W2 are protocol constants."""
    rules = protocol.mlp_rule(np.zeros(protocol.schema.n_theta))
    w1, w2 = rules["ee"]["w1"], rules["ee"]["w2"]
    # Fixed input rescaling: 2 for the traces, 1 for the weight, 15 for V̄, C_exc, C_inh.
    inputs = (f"2*{a}", f"2*{b}", "w", "15*v_bar_post/volt", "15*c_exc_post/volt",
              "15*c_inh_post/volt")
    lines = []
    for u in range(protocol.nh1):
        z = " + ".join(f"({float(w1[u, k])!r})*{inputs[k]}" for k in range(6))
        lines.append(f"h1_{u} = 1/(1 + exp(-({z})))")
    for v in range(protocol.nh2):
        z = " + ".join(f"({float(w2[v, u])!r})*h1_{u}" for u in range(protocol.nh1))
        lines.append(f"h2_{v} = 1/(1 + exp(-({z})))")
    y = " + ".join(f"{out}_{v}*h2_{v}" for v in range(protocol.nh2))
    lines.append(f"y = {y} + {out}_{protocol.nh2}")
    return "\n".join(lines)


def _plastic_synapses(b2: Any, protocol: Protocol, key: str, source: Any, target: Any) -> Any:
    """One plastic recurrent projection: the polynomial rule (§5.2) or the MLP rule (§5.4)."""
    p = protocol
    conductance = "g_gaba" if key[0] == "i" else "g_ampa"  # §4.3: I → GABA, E → AMPA
    namespace = {"wmax": p.wmax}
    if p.family == "6pPol":
        model = """
        w : 1                    # weight, in units of the leak conductance
        alpha : 1 (shared)       # change at each presynaptic arrival
        beta : 1 (shared)        # change at each postsynaptic spike
        gamma : 1 (shared)       # × pre trace, at each postsynaptic spike
        kappa : 1 (shared)       # × post trace, at each presynaptic arrival
        """
        namespace["eta"] = p.eta
        on_pre = f"""
        {conductance}_post += w
        w = clip(w + eta*(alpha + kappa*x_post_{key}_post), 0, wmax)
        """
        on_post = f"w = clip(w + eta*(beta + gamma*x_pre_{key}_pre), 0, wmax)"
    else:
        n_out = p.nh2 + 1
        model = "w : 1\neta : 1 (shared)\n" + "\n".join(
            f"w_{event}_{u} : 1 (shared)" for event in ("pre", "post") for u in range(n_out))
        # Pre event: slow pre trace and fast post trace; post event: fast pre, slow post.
        on_pre = (f"{conductance}_post += w\n"
                  + _mlp_statements(p, "x_pre2_pre", "x_post1_post", "w_pre")
                  + "\nw = clip(w + eta*y, 0, wmax)")
        on_post = (_mlp_statements(p, "x_pre1_pre", "x_post2_post", "w_post")
                   + "\nw = clip(w + eta*y, 0, wmax)")
    syn = b2.Synapses(source, target, model=_dedent(model), on_pre=_dedent(on_pre),
                      on_post=_dedent(on_post), delay=p.delay * b2.second,
                      namespace=namespace, name=f"syn_{key}")
    return syn


def _static_synapses(b2: Any, protocol: Protocol, name: str, source: Any, target: Any,
                     weight: float, conductance: str) -> Any:
    return b2.Synapses(source, target, on_pre=f"{conductance}_post += w_static",
                       delay=protocol.delay * b2.second, namespace={"w_static": weight},
                       name=name)


def _stop_function(b2: Any, holder: dict) -> Any:
    """``stop_run(flag)``: end the current run when flag != 0 (the rate checker's abort, §6)."""

    def stop_run(flag):
        if np.any(flag) and holder.get("net") is not None:
            holder["net"].stop()
        return flag

    function = b2.Function(stop_run, arg_units=[1], return_unit=1, stateless=False)
    function.implementations.add_implementation("cpp", """
    double fsbi_stop_run(double flag) {
        if (flag != 0) Network::_globally_stopped = true;
        return flag;
    }
    """, name="fsbi_stop_run")
    return function


def build_model(b2: Any, protocol: Protocol, *, standalone: bool,
                before_connect: Any = None, after_connect: Any = None) -> _Model:
    """Create every Brian2 object of ``protocol``'s network in the current device.

    ``before_connect(model)`` is called after the groups and synapse objects exist and before
    any connectivity is drawn (the place to seed); ``after_connect(model)`` after it.
    """
    p = protocol
    m = _Model()
    exc = _neuron_group(b2, p, "exc", p.NE)
    inh = _neuron_group(b2, p, "inh", p.NI)
    poisson = b2.NeuronGroup(p.N_input, "rate : Hz (shared)", threshold="rand() < rate*dt",
                             name="poisson")  # §4.1: Bernoulli, probability ν·dt per step
    checker = b2.NeuronGroup(1, """
        r : Hz                   # E-rate estimate (§6)
        count : 1                # E spikes arriving in this step
        blown : 1                # 1 once the estimate reached max_rate_checker
        t_blow : second          # time of the step in which it did
        stop_flag : 1
        network_seed : integer   # seed of connectivity and input, set at run time
        """, name="checker", namespace={})
    checker.r = p.max_rate_checker / 2 * b2.Hz  # (r_min + r_max)/2 with r_min = 0
    checker.t_blow = -1 * b2.second
    m.groups = {"exc": exc, "inh": inh, "poisson": poisson}
    m.checker = checker
    m.objects += [exc, inh, poisson, checker]

    populations = {"e": exc, "i": inh}
    initial = {"ee": p.wee, "ei": p.wei, "ie": p.wie, "ii": p.wii}
    projections = {}
    for key in ("ee", "ei", "ie", "ii"):
        source, target = populations[key[0]], populations[key[1]]
        if key in p.plastic_connections:
            syn = _plastic_synapses(b2, p, key, source, target)
            m.synapses[key] = syn
        else:
            syn = _static_synapses(b2, p, f"syn_{key}", source, target, initial[key],
                                   "g_gaba" if key[0] == "i" else "g_ampa")
        projections[f"syn_{key}"] = (syn, "i != j" if key in ("ee", "ii") else None,
                                     p.sparseness)  # §4.2: no autapses in EE and II
    for key, target in (("xe", exc), ("xi", inh)):
        syn = _static_synapses(b2, p, f"syn_{key}", poisson, target, p.weight_poisson,
                               "g_ampa")
        projections[f"syn_{key}"] = (syn, None, p.sparseness_poisson)
    for name, group in populations.items():  # arrivals of the group's own spikes (§5.1)
        syn = b2.Synapses(group, group, on_pre="arrivals_post += 1",
                          delay=p.delay * b2.second, name=f"arrivals_{name}")
        projections[syn.name] = (syn, "one-to-one", None)
    syn = b2.Synapses(exc, checker, on_pre="count_post += 1", delay=p.delay * b2.second,
                      name="arrivals_checker")  # §6: arrivals of E spikes
    projections[syn.name] = (syn, "all", None)
    m.projections = {name: value[0] for name, value in projections.items()}
    m.objects += list(m.projections.values())

    if before_connect is not None:
        before_connect(m)
    for syn, condition, probability in projections.values():
        if condition == "one-to-one":
            syn.connect(j="i")
        elif condition == "all":
            syn.connect()
        elif condition is None:
            syn.connect(p=probability)
        else:
            syn.connect(condition=condition, p=probability)
    for key, syn in m.synapses.items():
        syn.w = initial[key]
    if after_connect is not None:
        after_connect(m)

    # §8: spikes of the first n_recorded neurons, 100 weights per plastic projection every
    # 0.1 s after the step's plasticity; both active only during the scoring run.
    m.spike_monitors["e"] = b2.SpikeMonitor(exc[:p.n_recorded], name="spikes_e")
    if p.record_i and p.n_recorded_i:
        m.spike_monitors["i"] = b2.SpikeMonitor(inh[:p.n_recorded_i], name="spikes_i")
    for key, syn in m.synapses.items():
        n = p.n_monitored_synapses
        record = np.arange(n) if standalone else (np.arange(n) * len(syn)) // n
        m.weight_monitors[key] = b2.StateMonitor(
            syn, "w", record=record, dt=p.weight_sample_interval * b2.second, when="end",
            order=0, name=f"weights_{key}")
    for monitor in [*m.spike_monitors.values(), *m.weight_monitors.values()]:
        monitor.active = False
    m.objects += [*m.spike_monitors.values(), *m.weight_monitors.values()]

    stop_run = _stop_function(b2, m.stop_holder)
    checker.run_regularly(_dedent("""
        r = r*decay_checker + count/(tau_checker*n_checked)
        count = 0
        crossed = int(r >= r_max)
        t_blow = t_blow*int(blown > 0 or crossed == 0) + t*int(blown == 0 and crossed > 0)
        blown = int(blown > 0 or crossed > 0)
        stop_flag = stop_run(blown)
        """), when="end", order=100, name="rate_checker")
    checker.namespace.update({
        # the decay factor is held in single precision, the estimate in double (§6)
        "decay_checker": float(np.float32(math.exp(-p.dt / p.tau_checker))),
        "tau_checker": p.tau_checker * b2.second, "n_checked": p.NE,
        "r_max": p.max_rate_checker * b2.Hz, "stop_run": stop_run,
    })
    return m


def runtime_values(protocol: Protocol, theta: np.ndarray,
                   network_seed: int) -> list[tuple[str, str, float]]:
    """``(object name, variable, value)`` of everything set per rule, in SI units.

    These are the only inputs that differ between rules of one protocol, so the compiled
    standalone program takes them on its command line.
    """
    p = protocol
    values: list[tuple[str, str, float]] = [
        ("poisson", "rate", p.input_rate(theta)),
        ("checker", "network_seed", float(network_seed)),
    ]
    traces = _trace_names(p)
    if p.family == "6pPol":
        rules = p.poly_rule(theta)
        owner = {"e": "exc", "i": "inh"}
        for key, rule in rules.items():
            for coefficient in ("alpha", "beta", "gamma", "kappa"):
                values.append((f"syn_{key}", coefficient, rule[coefficient]))
            values.append((owner[key[0]], f"decay_x_pre_{key}",
                           math.exp(-p.dt / rule["tau_pre"])))
            values.append((owner[key[1]], f"decay_x_post_{key}",
                           math.exp(-p.dt / rule["tau_post"])))
    else:
        rules = p.mlp_rule(theta)
        taus = {"x_pre1": "tau_pre1", "x_pre2": "tau_pre2", "x_post1": "tau_post1",
                "x_post2": "tau_post2"}
        for group, names in traces.items():
            for trace in names:
                values.append((group, f"decay_{trace}",
                               math.exp(-p.dt / rules["ee"][taus[trace]])))
        for key, rule in rules.items():
            values.append((f"syn_{key}", "eta", rule["eta"]))
            for event in ("pre", "post"):
                for u, weight in enumerate(rule[f"w_{event}"]):
                    values.append((f"syn_{key}", f"w_{event}_{u}", float(weight)))
    return values


def _on_grid(t: np.ndarray | float, dt: float) -> np.ndarray:
    """Times as steps·dt, rounded like the decimal times of Auryn's files (n / 10000 for
    dt = 0.1 ms is the double nearest to the decimal value, as parsing "60.000700" gives)."""
    steps = np.round(np.asarray(t, dtype=np.float64) / dt)
    per_second = round(1 / dt)
    return steps / per_second if abs(per_second * dt - 1) < 1e-12 else steps * dt


def _assemble(protocol: Protocol, theta: np.ndarray, network_seed: int, *, blown: bool,
              t_blow: float, spikes: dict, weights: tuple | None,
              info: dict) -> SimulationResult:
    params = protocol.analysis_params()
    common = {"theta": np.asarray(theta, dtype=np.float64), "network_seed": network_seed,
              "info": info}
    if blown:
        return SimulationResult.blown_up(float(_on_grid(t_blow, protocol.dt)), params,
                                         **common)
    trains = {}
    sizes = {"e": protocol.n_recorded, "i": protocol.n_recorded_i}
    for pop, (t, i) in spikes.items():
        trains[pop] = SpikeTrains.from_events(_on_grid(t, protocol.dt), i, sizes[pop])
    t_w, w = weights
    traces = WeightTraces(_on_grid(t_w, protocol.dt),
                          {key: np.asarray(v).T for key, v in w.items()})
    return SimulationResult(trains.get("e"), trains.get("i"), traces, None, params, **common)


# --------------------------------------------------------------------------------------------
# Runtime mode
# --------------------------------------------------------------------------------------------

def _run_runtime(protocol: Protocol, theta: np.ndarray, network_seed: int) -> SimulationResult:
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = protocol.dt * b2.second
    values = runtime_values(protocol, theta, network_seed)

    def before_connect(model: _Model) -> None:
        b2.seed(network_seed)

    def after_connect(model: _Model) -> None:
        owners = {**model.groups, "checker": model.checker, **model.projections}
        for owner, variable, value in values:
            setattr(owners[owner], variable + "_", value)  # SI value, no units

    model = build_model(b2, protocol, standalone=False, before_connect=before_connect,
                        after_connect=after_connect)
    net = b2.Network(*model.objects)
    model.stop_holder["net"] = net
    net.run(protocol.lns * b2.second, namespace={})
    for monitor in [*model.spike_monitors.values(), *model.weight_monitors.values()]:
        monitor.active = True
    net.run(protocol.ls * b2.second, namespace={})
    blown = bool(model.checker.blown[0] > 0)
    spikes = {pop: (np.asarray(mon.t_), np.asarray(mon.i[:]))
              for pop, mon in model.spike_monitors.items()}
    first = next(iter(model.weight_monitors.values()))
    weights = (np.asarray(first.t_), {k: np.asarray(mon.w) .T
                                      for k, mon in model.weight_monitors.items()})
    info = _synapse_info(
        protocol,
        {k: (np.asarray(s.i[:]), np.asarray(s.j[:]), np.asarray(s.w[:]))
         for k, s in model.synapses.items()},
        {k: np.asarray(mon.record) for k, mon in model.weight_monitors.items()})
    info["mode"] = "runtime"
    return _assemble(protocol, theta, network_seed, blown=blown,
                     t_blow=float(model.checker.t_blow_[0]), spikes=spikes,
                     weights=weights, info=info)


def _synapse_info(protocol: Protocol, synapses: dict, monitored: dict) -> dict:
    """Per plastic projection: count, final mean and s.d. of all weights, monitored pairs."""
    info: dict[str, Any] = {"n_synapses": {}, "w_mean": {}, "w_std": {},
                            "monitored_pre": {}, "monitored_post": {}}
    for key, (pre, post, w) in synapses.items():
        info["n_synapses"][key] = int(w.size)
        info["w_mean"][key] = float(w.mean()) if w.size else float("nan")
        info["w_std"][key] = float(w.std()) if w.size else float("nan")
        info["monitored_pre"][key] = pre[monitored[key]].tolist() if w.size else []
        info["monitored_post"][key] = post[monitored[key]].tolist() if w.size else []
    return info


# --------------------------------------------------------------------------------------------
# Standalone mode: build once per protocol, run many rules
# --------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where compiled networks live: ``$FSBI_DATA_HOME/brian2`` or the OS cache."""
    home = os.environ.get("FSBI_DATA_HOME")
    if home:
        return Path(home).expanduser().resolve() / "brian2"
    import pooch

    return Path(pooch.os_cache("fsbi-data")) / "brian2"


def build_directory(protocol: Protocol) -> Path:
    """The cache directory of ``protocol``'s compiled program.

    Keyed by the protocol, the Brian2 version and this module's source (so that a changed
    model is never run from a stale build).
    """
    import brian2

    model = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
    return cache_dir() / (f"{protocol.family}-{protocol.cache_key()}-brian2-"
                          f"{brian2.__version__}-model{model}")


def _build_here(protocol: Protocol, directory: Path) -> None:
    """Generate and compile the standalone program in this (fresh) process."""
    import brian2 as b2

    b2.set_device("cpp_standalone", directory=str(directory), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.defaultclock.dt = protocol.dt * b2.second
    device = b2.get_device()
    manifest: dict[str, Any] = {"inputs": {}, "outputs": {}}

    def before_connect(model: _Model) -> None:
        device.apply_run_args()
        seed_array = device.get_array_name(model.checker.variables["network_seed"])
        # the network seed (a run-time argument) seeds the generator before any draw (§13)
        device.insert_code("main", f"brian::_random_generators[0].seed("
                                   f"(unsigned long) brian::{seed_array}[0]);")

    model = build_model(b2, protocol, standalone=True, before_connect=before_connect)
    for key, syn in model.synapses.items():  # §8.2: floor(k·M/n) among the M synapses
        monitor = model.weight_monitors[key]
        indices = device.get_array_name(monitor.variables["_indices"])
        pre = device.get_array_name(syn.variables["_synaptic_pre"], access_data=False)
        n = protocol.n_monitored_synapses
        device.insert_code("main", f"""
        {{
            const size_t _m = brian::{pre}.size();
            for (size_t _k = 0; _k < {n}; _k++)
                brian::{indices}[_k] = (int32_t) ((_k * _m) / {n});
        }}""")
    net = b2.Network(*model.objects)
    net.run(protocol.lns * b2.second, namespace={})
    for monitor in [*model.spike_monitors.values(), *model.weight_monitors.values()]:
        monitor.active = True
    net.run(protocol.ls * b2.second, namespace={})

    def output(name: str, variable: Any) -> None:
        manifest["outputs"][name] = [device.get_array_filename(variable),
                                     np.dtype(variable.dtype).str]

    output("blown", model.checker.variables["blown"])
    output("t_blow", model.checker.variables["t_blow"])
    for pop, monitor in model.spike_monitors.items():
        output(f"spikes_{pop}_t", monitor.variables["t"])
        output(f"spikes_{pop}_i", monitor.variables["i"])
    for key, monitor in model.weight_monitors.items():
        output(f"weights_{key}_t", monitor.variables["t"])
        output(f"weights_{key}_w", monitor.variables["w"])
        output(f"weights_{key}_indices", monitor.variables["_indices"])
        syn = model.synapses[key]
        output(f"syn_{key}_pre", syn.variables["_synaptic_pre"])
        output(f"syn_{key}_post", syn.variables["_synaptic_post"])
        output(f"syn_{key}_w", syn.variables["w"])
    manifest["n_monitored"] = protocol.n_monitored_synapses
    manifest["protocol"] = protocol.to_dict()
    device.build(directory=str(directory), compile=True, run=False, with_output=False)
    (directory / "fsbi_manifest.json").write_text(json.dumps(manifest, indent=1))


def ensure_build(protocol: Protocol, *, timeout: float | None = None) -> Path:
    """The compiled program of ``protocol``, building it (once, under a lock) if needed."""
    from filelock import FileLock

    target = build_directory(protocol)
    if (target / "fsbi_manifest.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "fsbi_manifest.json").exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".build-", dir=target.parent))
        spec = staging / "protocol.json"
        spec.write_text(json.dumps(protocol.to_dict()))
        logger.info("compiling the Brian2 network of %s/%s into %s", protocol.family,
                    protocol.name, target)
        code = ("import json, sys; from pathlib import Path; "
                "from fsbi_data.simulation.protocols import Protocol; "
                "from fsbi_data.simulation.backends.brian2 import _build_here; "
                "_build_here(Protocol(**json.loads(Path(sys.argv[1]).read_text())), "
                "Path(sys.argv[2]))")
        try:
            done = subprocess.run([sys.executable, "-c", code, str(spec), str(staging)],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise SimulationError(f"building the Brian2 program took longer than {timeout} s"
                                  ) from exc
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise SimulationError(
                f"building the Brian2 standalone program failed (exit {done.returncode}); "
                f"use Brian2Backend(mode='runtime') if no C++ compiler is available. Last "
                f"output:\n{(done.stdout + done.stderr)[-3000:]}")
        shutil.rmtree(staging / "results", ignore_errors=True)
        staging.rename(target)  # atomic: other processes see a complete build or none
    return target


def _read(results: Path, manifest: dict, name: str) -> np.ndarray:
    filename, dtype = manifest["outputs"][name]
    path = results / filename
    if not path.exists():  # Brian2 writes no file content for an empty dynamic array
        return np.empty(0, dtype=dtype)
    return np.fromfile(path, dtype=dtype)


def _run_standalone(protocol: Protocol, theta: np.ndarray, network_seed: int,
                    workdir: Path | None, timeout: float | None) -> SimulationResult:
    directory = ensure_build(protocol)
    manifest = json.loads((directory / "fsbi_manifest.json").read_text())
    args = [f"{owner}.{variable}={value!r}" if variable != "network_seed"
            else f"{owner}.{variable}={int(value)}"
            for owner, variable, value in runtime_values(protocol, theta, network_seed)]
    own_dir = workdir is None
    run_dir = Path(tempfile.mkdtemp(prefix="fsbi-brian2-")) if own_dir else Path(workdir)
    results = run_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    try:
        try:
            done = subprocess.run([str(directory / "main"), "--results_dir", f"{results}/",
                                   *args], cwd=directory, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise SimulationError(
                f"the Brian2 run of {protocol.family}/{protocol.name} exceeded its timeout "
                f"of {timeout} s") from exc
        if done.returncode != 0:
            raise SimulationError(
                f"the compiled Brian2 program {directory / 'main'} failed with exit status "
                f"{done.returncode}; delete {directory} to rebuild it. Output:\n"
                f"{(done.stdout + done.stderr)[-3000:]}")
        blown = bool(_read(results, manifest, "blown")[0] > 0)
        t_blow = float(_read(results, manifest, "t_blow")[0])
        spikes = {pop: (_read(results, manifest, f"spikes_{pop}_t"),
                        _read(results, manifest, f"spikes_{pop}_i"))
                  for pop in ("e", "i") if f"spikes_{pop}_t" in manifest["outputs"]}
        n = manifest["n_monitored"]
        weights_t: np.ndarray | None = None
        weights, synapses, monitored = {}, {}, {}
        for key in protocol.plastic_connections:
            t = _read(results, manifest, f"weights_{key}_t")
            weights_t = t if weights_t is None else weights_t
            weights[key] = _read(results, manifest, f"weights_{key}_w").reshape(t.size, n)
            synapses[key] = tuple(_read(results, manifest, f"syn_{key}_{part}")
                                  for part in ("pre", "post", "w"))
            monitored[key] = _read(results, manifest, f"weights_{key}_indices")
        info = _synapse_info(protocol, synapses, monitored)
        info["mode"] = "standalone"
        return _assemble(protocol, theta, network_seed, blown=blown, t_blow=t_blow,
                         spikes=spikes, weights=(weights_t, weights), info=info)
    finally:
        if own_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            shutil.rmtree(results, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------------

def compiler_available() -> bool:
    """Whether a C++ compiler that Brian2's standalone mode can use is on this machine."""
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") \
        or shutil.which("clang++")
    return compiler is not None and shutil.which("make") is not None


class Brian2Backend(Backend):
    """Simulate rules with Brian2 (see the module docstring for the model and the modes).

    Parameters
    ----------
    mode
        ``"standalone"`` (compiled once per protocol, fast), ``"runtime"`` (NumPy, no
        compiler needed, slow) or ``"auto"`` (standalone when a compiler is found).
    """

    name = "brian2"

    def __init__(self, mode: str = "auto") -> None:
        if mode not in MODES:
            raise SimulationError(f"Brian2 mode must be one of {', '.join(MODES)}, "
                                  f"not {mode!r}")
        self.mode = mode

    def available(self) -> bool:
        try:
            import brian2  # noqa: F401
        except ImportError:
            return False
        return self.mode != "standalone" or compiler_available()

    def why_unavailable(self) -> str:
        try:
            import brian2  # noqa: F401
        except ImportError:
            return "brian2 is not installed; pip install 'fsbi-data[simulate]'"
        if self.mode == "standalone" and not compiler_available():
            return ("standalone mode needs a C++ compiler and make on PATH; install them "
                    "(e.g. apt install g++ make) or use mode='runtime'")
        return ""

    def resolved_mode(self) -> str:
        if self.mode == "auto":
            return "standalone" if compiler_available() else "runtime"
        return self.mode

    def run(self, theta: np.ndarray, protocol: Protocol, *, network_seed: int,
            workdir: Path | None = None, timeout: float | None = None) -> SimulationResult:
        """Simulate one rule (see :meth:`Backend.run`).

        The first standalone run of a protocol compiles its program (minutes). ``workdir``
        and ``timeout`` apply to the compiled program; runtime mode runs in this process and
        ignores them.
        """
        self.check_available()
        theta = protocol.validate_theta(theta)
        network_seed = check_network_seed(network_seed)
        if self.resolved_mode() == "standalone":
            return _run_standalone(protocol, theta, network_seed, workdir, timeout)
        return _run_runtime(protocol, theta, network_seed)

    def __repr__(self) -> str:
        return f"<Brian2Backend mode={self.mode!r}>"


BACKEND = Brian2Backend()
