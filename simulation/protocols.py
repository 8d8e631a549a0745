"""The simulation protocols of the fSBI families: every parameter named, the paper's as presets.

A :class:`Protocol` holds everything a backend needs to simulate one rule besides theta and
the network seed: network sizes, synapse and neuron constants, input, durations, recording and
the fixed part of the MLP rule. ``protocol(family, "paper")`` reproduces how the released data
were made (``docs/simulation.md``); ``protocol(family, "quick")`` is a scaled-down variant for
tests and demos whose numbers are **not** comparable with the paper's. The networks themselves
are described in ``docs/network-model.md``; section numbers (§) in this module refer to it.

Examples
--------
>>> from fsbi_data.simulation.protocols import protocol
>>> p = protocol("6pPol")
>>> p.NE, p.lns, p.ls, p.max_rate_checker
(4096, 60.0, 10.0, 100.0)
>>> p.analysis_params().t_stop_rec
70.0
>>> short = p.replace(lns=1.0, ls=2.0)
>>> short.replace(sparseness=1.5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
fsbi_data.errors.ProtocolError: protocol 6pPol/custom: sparseness must lie in [0, 1], got 1.5; ...
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from fsbi_data.errors import ProtocolError, UnknownNameError
from fsbi_data.metrics.raw import (
    PAPER_LNS,
    PAPER_LS,
    PAPER_N_RECORDED,
    PAPER_N_RECORDED_I,
    PAPER_WMAX,
    AnalysisParams,
)
from fsbi_data.mlp_constants import MLP_TRACE_TAUS, MLP_W1, RULE_CST_PART
from fsbi_data.schema import CONNECTIONS, Family, family

PRESETS = ("paper", "quick")

_QUICK_NOTE = (
    "Scaled-down protocol for tests and demos (1 s training + 1 s scoring, 1024 E / 256 I "
    "neurons, 1250 inputs, connection probabilities raised to keep the paper's in-degrees). "
    "Its metrics are NOT comparable with the paper's numbers."
)


@dataclass(frozen=True)
class Protocol:
    """One simulation protocol (``docs/simulation.md``); SI units, weights in units of g_L.

    Section numbers (§) refer to ``docs/network-model.md``, which describes the model; §9 lists
    the fields with the values of both paper protocols.

    Build one with :func:`protocol` and change it with :meth:`replace` (which validates).
    Every field below is a parameter of the network or of the run; the defaults are those of
    the paper's 6pPol protocol (``protocol("MLP")`` changes the MLP-specific ones).

    Attributes
    ----------
    family
        Rule family, ``"6pPol"`` or ``"MLP"`` (see :mod:`fsbi_data.schema`).
    name
        Preset the protocol came from (``"paper"``, ``"quick"``) or ``"custom"``.
    description
        One line for humans; says whether the numbers are comparable with the paper's.
    NE, NI
        Sizes of the excitatory and inhibitory populations (§1).
    tau_ampa, tau_gaba, tau_nmda
        Synaptic time constants (s) of both populations (§3.1).
    ampa_nmda_ratio
        r of §3.1: A_ampa = r/(1+r), A_nmda = 1/(1+r).
    wee, wei, wie, wii
        Initial weights of E→E, E→I, I→E, I→I (static weights where not plastic, §4.4).
    wmax
        Upper weight bound of every plastic synapse (lower bound 0).
    eta
        Learning rate common to the four polynomial rules (6pPol only; unused for MLP, whose
        learning rates are theta entries, §5.5).
    sparseness
        Connection probability of the four recurrent projections (§4.2).
    N_input, sparseness_poisson, weight_poisson
        Poisson input pool size, its connection probability onto E and I, its weight (§4.1).
    max_rate_checker, tau_checker
        Blow-up guard: the E-rate estimate (time constant ``tau_checker``, s) reaching
        ``max_rate_checker`` (Hz) stops the run (§6).
    lns, ls
        Training ("no scoring") and scoring durations (s); recording only during ``ls``.
    n_recorded, record_i, n_recorded_i
        Spikes of E neurons ``0..n_recorded-1`` (and of I neurons ``0..n_recorded_i-1`` when
        ``record_i``) are recorded (§8.1).
    n_monitored_synapses, weight_sample_interval
        Synapses followed per plastic projection (chosen by the floor(k·M/n) rule of §8.2) and
        the sampling interval (s) of their weights.
    dt, delay
        Integration step and transmission delay (s) of every projection (§2.1, §2.2).
    tau_mem, e_rest, v_reset, e_exc, e_inh, v_thresh, delta_thresh, tau_thresh, v_max
        Neuron constants of §3.1 (s, V): membrane time constant, resting and reset potentials,
        reversal potentials, resting threshold, threshold jump at a spike and its decay time
        constant, upper clip of V (the lower clip is ``e_inh``).
    tau_adapt, delta_adapt
        Adaptation conductance of the MLP network's CVAIF neurons (§3.2; unused for 6pPol).
    nh1, nh2
        Hidden-layer sizes of the MLP rule (§5.4).
    tau_vtrace, tau_cexc, tau_cinh
        Time constants (s) of the CVAIF state traces V̄, C_exc, C_inh read by the MLP rule.
        The defaults are the values *effectively* used for the released data (1 s each, §3.2:
        the original wrapper never passed the task file's 0.1/0.01/0.1 s, and its program tied
        τ_v̄ to τ_ce). Here the three are independent; pass the task file's values for the
        protocol as written on paper.
    rule_cst_part
        The 504 fixed numbers of the MLP rule (trace taus, W1, W2; §5.5), by default
        :data:`fsbi_data.mlp_constants.RULE_CST_PART`.
    """

    family: str = "6pPol"
    name: str = "paper"
    description: str = "The paper's protocol; reproduces how the released data were made."
    # populations and synapses (§1, §3.1)
    NE: int = 4096
    NI: int = 1024
    tau_ampa: float = 0.005
    tau_gaba: float = 0.01
    tau_nmda: float = 0.1
    ampa_nmda_ratio: float = 0.3
    # weights and plasticity (§4.4, §5)
    wee: float = 0.1
    wei: float = 0.1
    wie: float = 1.0
    wii: float = 1.0
    wmax: float = PAPER_WMAX
    eta: float = 0.01
    sparseness: float = 0.1
    # input (§4.1)
    N_input: int = 5000
    sparseness_poisson: float = 0.05
    weight_poisson: float = 0.075
    # blow-up guard (§6)
    max_rate_checker: float = 100.0
    tau_checker: float = 1.0
    # durations (§1, §2.1)
    lns: float = PAPER_LNS
    ls: float = PAPER_LS
    # recording (§8)
    n_recorded: int = PAPER_N_RECORDED
    record_i: bool = True
    n_recorded_i: int = PAPER_N_RECORDED_I
    n_monitored_synapses: int = 100
    weight_sample_interval: float = 0.1
    # kernel (§2)
    dt: float = 1e-4
    delay: float = 8e-4
    # neurons (§3.1, §3.2)
    tau_mem: float = 0.02
    e_rest: float = -0.07
    v_reset: float = -0.07
    e_exc: float = 0.0
    e_inh: float = -0.08
    v_thresh: float = -0.05
    delta_thresh: float = 0.1
    tau_thresh: float = 0.005
    v_max: float = 0.0
    tau_adapt: float = 0.1
    delta_adapt: float = 0.1
    # MLP rule (§3.2, §5.4, §5.5)
    nh1: int = 50
    nh2: int = 4
    tau_vtrace: float = 1.0
    tau_cexc: float = 1.0
    tau_cinh: float = 1.0
    rule_cst_part: tuple[float, ...] = field(default=RULE_CST_PART, repr=False)

    def __post_init__(self) -> None:
        self._validate()

    # --- derived quantities -------------------------------------------------------------------
    @property
    def rule_family(self) -> Family:
        """The :class:`fsbi_data.schema.Family` called :attr:`family`: theta layout, metrics."""
        return family(self.family)

    @property
    def plastic_connections(self) -> tuple[str, ...]:
        """Plastic projections, keyed ``"ee"``, ``"ei"``, ``"ie"``, ``"ii"`` (§4.4)."""
        return self.rule_family.plastic_connections

    @property
    def n_steps_training(self) -> int:
        """Steps of the training phase: ``round(lns / dt)`` (§2.1, §12.2)."""
        return round(self.lns / self.dt)

    @property
    def n_steps_scoring(self) -> int:
        """Steps of the scoring phase: ``round(ls / dt)``."""
        return round(self.ls / self.dt)

    @property
    def n_steps(self) -> int:
        return self.n_steps_training + self.n_steps_scoring

    @property
    def delay_steps(self) -> int:
        return round(self.delay / self.dt)

    def analysis_params(self) -> AnalysisParams:
        """Parameters of the metric computations for runs of this protocol.

        Examples
        --------
        >>> p = protocol("6pPol", "quick").analysis_params()
        >>> (p.t_start_rec, p.t_stop_rec, p.ls)
        (1.0, 2.0, 1.0)
        """
        return AnalysisParams.for_durations(
            self.lns, self.ls, n_recorded=self.n_recorded, n_recorded_i=self.n_recorded_i,
            wmax=self.wmax,
        )

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (``rule_cst_part`` as a list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["rule_cst_part"] = list(self.rule_cst_part)
        return out

    def cache_key(self) -> str:
        """Hex digest of every field that changes the simulation (not name or description).

        Two protocols with the same key simulate the same network; backends key their
        build caches on it.
        """
        values = self.to_dict()
        del values["name"], values["description"]
        text = json.dumps(values, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **overrides: Any) -> Protocol:
        """A copy with some fields changed, validated; the name becomes ``"custom"``.

        Raises :class:`~fsbi_data.errors.UnknownNameError` for a name that is not a field
        (the message lists the valid ones) and :class:`~fsbi_data.errors.ProtocolError` for an
        invalid value.

        Examples
        --------
        >>> protocol("MLP").replace(lns=2.0, ls=1.0).name
        'custom'
        """
        valid = [f.name for f in fields(self)]
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise UnknownNameError(
                f"unknown protocol parameter(s) {', '.join(map(repr, unknown))}; valid "
                f"parameters: {', '.join(valid)}"
            )
        overrides.setdefault("name", "custom")
        if overrides["name"] == "custom" and "description" not in overrides:
            overrides["description"] = f"Custom protocol derived from {self.family}/{self.name}."
            if self.name == "quick":
                overrides["description"] += " " + _QUICK_NOTE
        return dataclasses.replace(self, **overrides)

    # --- theta --------------------------------------------------------------------------------
    def validate_theta(self, theta: Any) -> np.ndarray:
        """``theta`` as a float64 vector, checked for this protocol's family.

        Checks the length, finiteness, positive trace time constants (6pPol) and an input
        rate in [0, 1/dt]; the prior bounds are *not* enforced (rules outside them can be
        simulated).

        Raises
        ------
        fsbi_data.errors.ProtocolError
            Naming the offending entry and what was expected.

        Examples
        --------
        >>> protocol("6pPol").validate_theta([0.02] * 24 + [10.0]).shape
        (25,)
        """
        fam = self.rule_family
        try:
            values = np.asarray(theta, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"theta must be a vector of numbers: {exc}") from None
        if values.ndim != 1 or values.size != fam.n_theta:
            raise ProtocolError(
                f"theta for {fam.name} must be a vector of {fam.n_theta} numbers "
                f"({', '.join(fam.param_names[:3])}, ..., {fam.param_names[-1]}); got shape "
                f"{values.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise ProtocolError(
                f"theta[{i}] ({fam.param_names[i]}) is {values[i]}; every entry must be finite"
            )
        for p in fam.parameters:
            if p.name.startswith("tau_") and values[p.index] <= 0:
                raise ProtocolError(
                    f"theta[{p.index}] ({p.name}) is {values[p.index]}; a trace time constant "
                    f"must be > 0 s"
                )
        rate = fam.input_rate_param
        if not 0 <= values[rate.index] * self.dt <= 1:
            raise ProtocolError(
                f"theta[{rate.index}] ({rate.name}) is {values[rate.index]} Hz; the input rate "
                f"must lie in [0, 1/dt] = [0, {1 / self.dt:g}] Hz"
            )
        return values

    def input_rate(self, theta: np.ndarray) -> float:
        """The Poisson input rate (Hz) of ``theta`` (its last entry)."""
        return float(np.asarray(theta)[self.rule_family.input_rate_param.index])

    def poly_rule(self, theta: np.ndarray) -> dict[str, dict[str, float]]:
        """Per-projection parameters of the polynomial rule (§5.3): tau_pre, tau_post, alpha,
        beta, gamma (post-spike Hebbian), kappa (pre-spike Hebbian), eta.

        Examples
        --------
        >>> theta = np.arange(1, 26) / 100
        >>> protocol("6pPol").poly_rule(theta)["ei"]["alpha"]
        0.09
        """
        fam = self._require("6pPol")
        out: dict[str, dict[str, float]] = {}
        for c in CONNECTIONS:
            out[c] = {stem: float(theta[fam.param(f"{stem}_{c}").index])
                      for stem in ("tau_pre", "tau_post", "alpha", "beta", "gamma", "kappa")}
            out[c]["eta"] = self.eta
        return out

    def mlp_rule(self, theta: np.ndarray) -> dict[str, dict[str, Any]]:
        """Per-projection parameters of the MLP rule (§5.4, §5.5).

        For ``"ee"`` and ``"ie"``: ``eta``; the trace taus ``tau_pre1, tau_pre2, tau_post1,
        tau_post2``; ``w1`` (nh1, 6); ``w2`` (nh2, nh1); ``w_pre`` and ``w_post`` (nh2 + 1,
        bias last).
        """
        fam = self._require("MLP")
        # rule_cst_part is laid out as fsbi_data.mlp_constants.RULE_CST_PART: the trace taus,
        # then W1 (nh1 units x the MLP's inputs) row-major, then W2 (nh2 x nh1) row-major.
        cst = np.asarray(self.rule_cst_part, dtype=np.float64)
        n_taus, n_inputs = len(MLP_TRACE_TAUS), MLP_W1.shape[1]
        w1_end = n_taus + self.nh1 * n_inputs
        taus = dict(zip(("tau_pre1", "tau_pre2", "tau_post1", "tau_post2"),
                        cst[:n_taus].tolist(), strict=True))
        w1 = cst[n_taus:w1_end].reshape(self.nh1, n_inputs)
        w2 = cst[w1_end:].reshape(self.nh2, self.nh1)
        out: dict[str, dict[str, Any]] = {}
        for c in fam.plastic_connections:
            pre = [fam.param(f"wpre_{c}_{u}").index for u in range(self.nh2 + 1)]
            post = [fam.param(f"wpost_{c}_{u}").index for u in range(self.nh2 + 1)]
            out[c] = {
                "eta": float(theta[fam.param(f"eta_{c}").index]), **taus, "w1": w1, "w2": w2,
                "w_pre": np.asarray(theta, dtype=np.float64)[pre],
                "w_post": np.asarray(theta, dtype=np.float64)[post],
            }
        return out

    # --- validation ---------------------------------------------------------------------------
    def _require(self, name: str) -> Family:
        fam = self.rule_family
        if fam.name != name:
            raise ProtocolError(f"protocol {self.family}/{self.name} is not a {name} protocol")
        return fam

    def _fail(self, name: str, message: str) -> None:
        raise ProtocolError(
            f"protocol {self.family}/{self.name}: {name} {message}; fix it with "
            f"protocol(...).replace({name}=...)"
        )

    def _validate(self) -> None:
        family(self.family)  # raises UnknownNameError listing the families
        object.__setattr__(self, "family", family(self.family).name)
        for name in ("NE", "NI", "N_input", "n_recorded", "n_recorded_i",
                     "n_monitored_synapses", "nh1", "nh2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                self._fail(name, f"must be an integer, got {value!r}")
            minimum = 0 if name in ("n_recorded_i", "n_recorded") else 1
            if value < minimum:
                self._fail(name, f"must be >= {minimum}, got {value}")
        for name in ("tau_ampa", "tau_gaba", "tau_nmda", "tau_checker", "lns", "ls",
                     "weight_sample_interval", "dt", "delay", "tau_mem", "tau_thresh",
                     "tau_adapt", "tau_vtrace", "tau_cexc", "tau_cinh", "max_rate_checker",
                     "wmax", "ampa_nmda_ratio"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                self._fail(name, f"must be a finite number > 0, got {value!r}")
        for name in ("wee", "wei", "wie", "wii", "eta", "weight_poisson", "delta_thresh",
                     "delta_adapt"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                self._fail(name, f"must be a finite number >= 0, got {value!r}")
        for name in ("sparseness", "sparseness_poisson"):
            value = getattr(self, name)
            if not _is_real(value) or not 0 <= value <= 1:
                self._fail(name, f"must lie in [0, 1], got {value!r}")
        if self.n_recorded > self.NE:
            self._fail("n_recorded", f"must be <= NE = {self.NE}, got {self.n_recorded}")
        if self.n_recorded_i > self.NI:
            self._fail("n_recorded_i", f"must be <= NI = {self.NI}, got {self.n_recorded_i}")
        for name in ("lns", "ls", "delay", "weight_sample_interval"):
            steps = getattr(self, name) / self.dt
            if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
                self._fail(name, f"must be a whole number of steps of dt = {self.dt} s, got "
                           f"{getattr(self, name)!r}")
        if self.delay_steps < 1:
            self._fail("delay", f"must be at least one step (dt = {self.dt}), got {self.delay}")
        if not (self.v_reset < self.v_thresh < self.v_max and self.e_inh <= self.v_reset):
            self._fail("v_thresh", "must satisfy e_inh <= v_reset < v_thresh < v_max")
        cst = tuple(float(v) for v in self.rule_cst_part)
        n_taus, n_inputs = len(MLP_TRACE_TAUS), MLP_W1.shape[1]
        expected = n_taus + (n_inputs + self.nh2) * self.nh1
        if len(cst) != expected:
            self._fail("rule_cst_part", f"must hold {n_taus} trace taus, W1 ({n_inputs}*nh1) "
                       f"and W2 (nh1*nh2): {expected} numbers, got {len(cst)}")
        if not all(math.isfinite(v) for v in cst) or min(cst[:n_taus]) <= 0:
            self._fail("rule_cst_part", "must be finite with trace time constants > 0")
        object.__setattr__(self, "rule_cst_part", cst)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def protocol(family_name: str | Family = "6pPol", preset: str = "paper") -> Protocol:
    """The protocol of a family: ``"paper"`` (the released data's) or ``"quick"``.

    Parameters
    ----------
    family_name
        ``"6pPol"`` or ``"MLP"`` (any alias :func:`fsbi_data.schema.family` accepts).
    preset
        ``"paper"``: reproduces how the released data were made (60 s training, 10 s scoring,
        4096 E / 1024 I neurons; for MLP the effective 1 s trace time constants, see
        :class:`Protocol`). ``"quick"``: 1 s + 1 s with 1024 E / 256 I neurons and 1250
        inputs, connection probabilities raised so each neuron keeps the paper's expected
        in-degrees; for tests and demos only, its metrics are not comparable with the paper's.

    Examples
    --------
    >>> protocol("MLP").max_rate_checker
    50.0
    >>> protocol("MLP", "quick").description.endswith("NOT comparable with the paper's numbers.")
    True
    """
    fam = family(family_name)
    if preset not in PRESETS:
        raise UnknownNameError(f"unknown protocol preset {preset!r}; valid presets: "
                               f"{', '.join(PRESETS)}")
    base = Protocol(family=fam.name)
    if fam.name == "MLP":
        base = dataclasses.replace(base, max_rate_checker=50.0)
    if preset == "quick":
        base = dataclasses.replace(
            base, name="quick", description=_QUICK_NOTE, NE=1024, NI=256, N_input=1250,
            sparseness=0.4, sparseness_poisson=0.2, lns=1.0, ls=1.0, n_recorded=500,
            n_recorded_i=250,
        )
    return base
