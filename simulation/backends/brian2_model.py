"""The paper's two networks written with Brian2: equations, network, per-rule values, results.

The model follows ``docs/network-model.md`` step by step; the section numbers (§) next to the
equations are those of that page (§10.2 maps a step onto Brian2's schedule, as below). Every
deterministic part is reproduced exactly (dt, the 8-step delay on every projection, the per-step
order of §2.3, the discrete neuron updates of §3, per-neuron traces with exact exponential decay
and no same-step pairing, the two rules with clipping after every update, the rate checker of
§6, recording of §8); connectivity and Poisson input match in distribution (§4.1, §4.2,
§11.2).

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
  Brian2 resets after the synaptic updates, which is harmless here (§10.2);
* ``end``: traces x ← (x + events)·e^(−dt/τ) (arrivals counted by a one-to-one self-projection
  with the 8-step delay), weight monitors (after the step's plasticity), then the rate checker,
  which stops the run when the E-rate estimate reaches ``max_rate_checker`` and keeps the time.

The same model runs in both modes of :class:`~fsbi_data.simulation.backends.brian2.Brian2Backend`:
in this process (runtime) or compiled once per protocol (standalone,
:mod:`~fsbi_data.simulation.backends.brian2_build`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fsbi_data.metrics.raw import SimulationResult, SpikeTrains, WeightTraces

from ..protocols import Protocol
from .brian2_mlp import mlp_call, mlp_function


@dataclass
class Model:
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
    with the projection's own τ from theta (§5.2, §5.3). MLP: fast/slow pre traces of E and I
    and fast/slow post traces of E, τ from ``rule_cst_part`` (§5.4, §5.5).
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
    # §2.3 step 3 / §5.1: x <- (x + events of this step) * exp(-dt/tau), after the synapses.
    trace_update = [f"{t} = ({t} + arrivals)*decay_{t}" if kind == "pre"
                    else f"{t} = {t}*decay_{t}" for t, kind in traces.items()]
    trace_update.append("arrivals = 0")
    group.run_regularly("\n".join(trace_update), when="end", order=-10,
                        name=f"{name}_traces")
    return group


def _dedent(code: str) -> str:
    return "\n".join(line.strip() for line in code.strip().splitlines())


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
        namespace["mlp_y"] = mlp_function(b2, p)
        on_pre = (f"{conductance}_post += w\n"
                  f"w = clip(w + eta*{mlp_call(p, 'x_pre2_pre', 'x_post1_post', 'w_pre')}, "
                  f"0, wmax)")
        on_post = (f"w = clip(w + eta*{mlp_call(p, 'x_pre1_pre', 'x_post2_post', 'w_post')}, "
                   f"0, wmax)")
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
                before_connect: Any = None, after_connect: Any = None) -> Model:
    """Create every Brian2 object of ``protocol``'s network in the current device.

    ``before_connect(model)`` is called after the groups and synapse objects exist and before
    any connectivity is drawn (the place to seed); ``after_connect(model)`` after it.
    """
    p = protocol
    m = Model()
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


def assemble_result(protocol: Protocol, theta: np.ndarray, network_seed: int, *,
                    mode: str, blown: bool, t_blow: float, spikes: dict, weights: tuple,
                    synapses: dict, monitored: dict) -> SimulationResult:
    """The result of one run from the model's recorded arrays (either mode).

    ``spikes``: per population, spike times and neuron indices; ``weights``: sample times and,
    per plastic projection, the monitored weights (n_samples, n_monitored); ``synapses``: per
    plastic projection, the pre and post indices and final weights of every synapse;
    ``monitored``: per plastic projection, the indices of the monitored synapses.
    """
    info: dict[str, Any] = {"mode": mode, **synapse_info(synapses, monitored)}
    params = protocol.analysis_params()
    common = {"theta": np.asarray(theta, dtype=np.float64), "network_seed": network_seed,
              "info": info}
    if blown:
        return SimulationResult.blown_up(float(_on_grid(t_blow, protocol.dt)), params,
                                         **common)
    sizes = {"e": protocol.n_recorded, "i": protocol.n_recorded_i}
    trains = {pop: SpikeTrains.from_events(_on_grid(t, protocol.dt), i, sizes[pop])
              for pop, (t, i) in spikes.items()}
    t_w, w = weights
    traces = WeightTraces(_on_grid(t_w, protocol.dt),
                          {key: np.asarray(v).T for key, v in w.items()})
    return SimulationResult(trains.get("e"), trains.get("i"), traces, None, params, **common)


def synapse_info(synapses: dict, monitored: dict) -> dict[str, dict]:
    """Per plastic projection: count, final mean and s.d. of all weights, monitored pairs."""
    info: dict[str, dict] = {"n_synapses": {}, "w_mean": {}, "w_std": {},
                             "monitored_pre": {}, "monitored_post": {}}
    for key, (pre, post, w) in synapses.items():
        info["n_synapses"][key] = int(w.size)
        info["w_mean"][key] = float(w.mean()) if w.size else float("nan")
        info["w_std"][key] = float(w.std()) if w.size else float("nan")
        info["monitored_pre"][key] = pre[monitored[key]].tolist() if w.size else []
        info["monitored_post"][key] = post[monitored[key]].tolist() if w.size else []
    return info
