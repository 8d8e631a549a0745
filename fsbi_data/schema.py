"""The two rule families of the fSBI release: parameters, metrics and the paper's criteria.

This module is the one place for these facts. Nothing else in the package writes a parameter
index, a bound or a metric unit; everything asks a :class:`Family`.

``docs/families.md`` shows these facts as tables (generated from this module).

Examples
--------
>>> from fsbi_data.schema import family
>>> fam = family("6pPol")
>>> fam.param_names[:3]
('tau_pre_ee', 'tau_post_ee', 'alpha_ee')
>>> fam.criteria("stable activity")
(Condition(metric='rate', low=1.0, high=50.0), Condition(metric='rate_i', low=1.0, high=50.0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .errors import UnknownNameError

CONNECTIONS = ("ee", "ei", "ie", "ii")
CONNECTION_LABELS = {"ee": "E→E", "ei": "E→I", "ie": "I→E", "ii": "I→I"}
SEED_LENGTH = 64  # characters of the released ``seed`` field (<U64); seeds are 32-hex md5 digests
SEED_PATTERN = r"^[0-9a-f]{32}$"


@dataclass(frozen=True)
class Parameter:
    """One entry of a family's theta vector."""

    name: str
    index: int
    low: float
    high: float
    units: str
    connection: str  # "ee", "ei", "ie", "ii", or "input" for the nuisance input rate
    description: str


@dataclass(frozen=True)
class Metric:
    """One network metric of the released files (definitions in ``docs/families.md``)."""

    name: str
    long_name: str
    units: str
    description: str
    can_be_infinite: bool = False
    """Whether a completed run can give +inf (``kl_isi`` of degenerate ISI histograms)."""


@dataclass(frozen=True)
class Condition:
    """``low <= metric <= high`` (both inclusive; NaN never satisfies a condition)."""

    metric: str
    low: float
    high: float



_METRICS: tuple[Metric, ...] = (
    Metric("rate", "excitatory firing rate", "Hz",
           "Population-average firing rate of the recorded excitatory neurons over the scoring "
           "phase: total spike count / n_recorded / ls."),
    Metric("cv_isi", "CV of inter-spike intervals", "1",
           "Mean over recorded excitatory neurons of std(ISI)/mean(ISI); neurons with fewer than "
           "4 spikes count as 0."),
    Metric("kl_isi", "KL divergence of the ISI distribution", "nat",
           "KL divergence of the pooled ISI histogram (99 bins on [0, 1] s) from an exponential "
           "distribution with the same mean ISI (not renormalised); can be +inf.",
           can_be_infinite=True),
    Metric("spatial_Fano", "spatial Fano factor", "1",
           "Fano factor of spike counts across neurons in 100-ms bins, averaged over bins; bins "
           "with at most 3 spikes count as 0."),
    Metric("temporal_Fano", "temporal Fano factor", "1",
           "Fano factor of each neuron's spike counts across 100-ms bins, averaged over neurons; "
           "neurons with at most 3 counted spikes count as 0."),
    Metric("auto_cov", "autocorrelation within ±0.5 s", "1",
           "Mean over neurons of the normalised autocorrelation of 10-ms spike counts within "
           "±0.5 s lags; neurons whose binned train has std <= 0.05 count as 1."),
    Metric("fft", "summed amplitude spectrum of population activity", "spikes/neuron/ms",
           "Sum of the one-sided amplitude spectrum (DC excluded) of the population spike count "
           "per neuron in 1-ms bins."),
    Metric("w_blow", "fraction of saturated weights", "1",
           "Unweighted mean over plastic connections of the fraction of monitored weight samples "
           "strictly inside the scoring window that equal exactly 0 or wmax."),
    Metric("std_rate_temporal", "temporal std of population activity", "spikes/neuron/ms",
           "Standard deviation over 1-ms bins of the population spike count per neuron "
           "(multiply by 1000 for Hz)."),
    Metric("std_rate_spatial", "spatial std of firing rates", "Hz",
           "Standard deviation over recorded excitatory neurons of their firing rates."),
    Metric("std_cv", "std of per-neuron CVs", "1",
           "Standard deviation over recorded excitatory neurons of their ISI CV (0 for neurons "
           "with fewer than 4 spikes)."),
    Metric("w_creep", "relative drift of mean weights", "1",
           "Largest |2(b - a)/(b + a)| over plastic connections, with a and b the mean monitored "
           "weight at the first and last sample; connections with a + b <= 0.1 are ignored."),
    Metric("rate_i", "inhibitory firing rate", "Hz",
           "Population-average firing rate of the recorded inhibitory neurons over the scoring "
           "phase."),
    Metric("weef", "final mean E→E weight", "g_L",
           "Mean of the monitored E→E weights at the last sample (units of the leak conductance)."),
    Metric("weif", "final mean E→I weight", "g_L",
           "Mean of the monitored E→I weights at the last sample (units of the leak conductance)."),
    Metric("wief", "final mean I→E weight", "g_L",
           "Mean of the monitored I→E weights at the last sample (units of the leak conductance)."),
    Metric("wiif", "final mean I→I weight", "g_L",
           "Mean of the monitored I→I weights at the last sample (units of the leak conductance)."),
)
METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in _METRICS})

# Bounds of the paper's notebooks: the ones behind the published figures.
# ``ANALYSE_CONDITION_BOUNDS`` are the differing ones of the original code's ``condition()``,
# available under the criteria name "analyse".
FIGURE_BOUNDS: Mapping[str, tuple[float, float]] = MappingProxyType({
    "rate": (1.0, 50.0),
    "rate_i": (1.0, 50.0),
    "cv_isi": (0.7, 1000.0),
    "spatial_Fano": (0.5, 2.5),
    "temporal_Fano": (0.5, 2.5),
    "auto_cov": (0.0, 0.1),
    "fft": (0.0, 1.0),
    "w_blow": (0.0, 0.1),
    "std_rate_temporal": (0.0, 0.5),
    "std_rate_spatial": (0.0, 5.0),
    "std_cv": (0.0, 0.2),
    "w_creep": (0.0, 0.05),
    "weef": (0.0, 0.5),
    "weif": (0.0, 0.5),
    "wief": (0.0, 5.0),
    "wiif": (0.0, 5.0),
})
ANALYSE_CONDITION_BOUNDS: Mapping[str, tuple[float, float]] = MappingProxyType({
    **FIGURE_BOUNDS,
    "cv_isi": (0.7, 2.7),
    "std_rate_temporal": (0.0, 0.05),
})
COMPLETED_RATE_BOUNDS = (0.0, 1000.0)  # the notebooks' "cond_no_nan": the run did not blow up
TUTORIAL_TRAINING_RATE_BOUNDS = (3.0, 15.0)
TUTORIAL_TARGET_RATE_BOUNDS = (5.0, 10.0)
# Named sets whose bounds differ from the table for some metrics.
SET_BOUNDS: Mapping[str, Mapping[str, tuple[float, float]]] = MappingProxyType({
    "tutorial training": {"rate": TUTORIAL_TRAINING_RATE_BOUNDS},
    "completed": {"rate": COMPLETED_RATE_BOUNDS},
})

_ACTIVITY = ("rate", "rate_i")
_WEIGHTS = ("w_blow", "w_creep", "weef", "weif", "wief", "wiif")
_AI = ("cv_isi", "spatial_Fano", "temporal_Fano", "auto_cov", "fft", "std_rate_temporal",
       "std_rate_spatial")


@dataclass(frozen=True)
class Family:
    """A family of plasticity rules: its theta layout, metrics, protocol names and criteria."""

    name: str
    task_name: str
    description: str
    parameters: tuple[Parameter, ...]
    metric_names: tuple[str, ...]
    plastic_connections: tuple[str, ...]
    criteria_sets: Mapping[str, tuple[str, ...]]
    default_plausible: str
    round_labels: tuple[str, ...] = ("pi0", "pi1", "pi2", "pi3")
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    # --- parameters -------------------------------------------------------------------------
    @property
    def n_theta(self) -> int:
        return len(self.parameters)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def rule_param_names(self) -> tuple[str, ...]:
        """Parameters of the rule itself: theta without the nuisance input rate."""
        return tuple(p.name for p in self.parameters if p.connection != "input")

    @property
    def input_rate_param(self) -> Parameter:
        return self.parameters[-1]

    @property
    def low(self) -> np.ndarray:
        return np.array([p.low for p in self.parameters])

    @property
    def high(self) -> np.ndarray:
        return np.array([p.high for p in self.parameters])

    def param(self, name: str) -> Parameter:
        """The parameter called ``name`` (aliases such as ``input_rate`` accepted)."""
        name = self.aliases.get(name, name)
        for p in self.parameters:
            if p.name == name:
                return p
        raise UnknownNameError(
            f"{self.name} has no parameter {name!r}; valid parameters: "
            f"{', '.join(self.param_names)}"
        )

    # --- metrics ----------------------------------------------------------------------------
    @property
    def metrics(self) -> tuple[Metric, ...]:
        return tuple(METRICS[m] for m in self.metric_names)

    def metric(self, name: str) -> Metric:
        if name not in self.metric_names:
            raise UnknownNameError(
                f"{self.name} has no metric {name!r}; valid metrics: {', '.join(self.metric_names)}"
            )
        return METRICS[name]

    def plausible_range(self, metric: str) -> tuple[float, float] | None:
        """The paper's plausible range of a metric (figure bounds), or None."""
        self.metric(metric)
        return FIGURE_BOUNDS.get(metric)

    # --- release record layout ----------------------------------------------------------------
    @property
    def record_dtype(self) -> np.dtype:
        """The dtype of the released ``.npy`` records (``docs/families.md``)."""
        fields = [("seed", f"<U{SEED_LENGTH}"), ("theta", "<f8", (self.n_theta,))]
        fields += [(m, "<f8") for m in self.metric_names]
        return np.dtype(fields)

    # --- criteria ---------------------------------------------------------------------------
    @property
    def criteria_names(self) -> tuple[str, ...]:
        return tuple(self.criteria_sets)

    def criteria(self, name: str = "plausible", bounds: str = "figures") -> tuple[Condition, ...]:
        """The conditions of a named criteria set.

        Parameters
        ----------
        name
            One of :attr:`criteria_names`, e.g. ``"stable activity"``, ``"stable weights"``,
            ``"A.I. dynamics"``, ``"plausible"`` (the accumulation-figure groups), or a named set
            such as ``"plausible_tutorial"``.
        bounds
            ``"figures"`` (default): the bounds of the published figures. ``"analyse"``: the
            bounds of the original ``condition()`` function (cv_isi <= 2.7,
            std_rate_temporal <= 0.05).
        """
        if name not in self.criteria_sets:
            raise UnknownNameError(
                f"criteria {name!r} is not defined for {self.name}; defined: "
                f"{', '.join(repr(n) for n in self.criteria_names)}"
            )
        table = {"figures": FIGURE_BOUNDS, "analyse": ANALYSE_CONDITION_BOUNDS}.get(bounds)
        if table is None:
            raise UnknownNameError(f"bounds must be 'figures' or 'analyse', not {bounds!r}")
        overrides = SET_BOUNDS.get(name, {})
        return tuple(Condition(metric, *overrides.get(metric, table[metric]))
                     for metric in self.criteria_sets[name])


def _poly_parameters() -> tuple[Parameter, ...]:
    rows = [
        ("tau_pre", 0.01, 0.1, "s", "time constant of the presynaptic trace"),
        ("tau_post", 0.01, 0.1, "s", "time constant of the postsynaptic trace"),
        ("alpha", -2.0, 2.0, "eta", "constant change at each presynaptic spike"),
        ("beta", -2.0, 2.0, "eta", "constant change at each postsynaptic spike"),
        ("gamma", -2.0, 2.0, "eta",
         "Hebbian coefficient at a postsynaptic spike, times the presynaptic trace"),
        ("kappa", -2.0, 2.0, "eta",
         "Hebbian coefficient at a presynaptic spike, times the postsynaptic trace"),
    ]
    params = []
    for k, connection in enumerate(CONNECTIONS):
        for j, (stem, low, high, units, text) in enumerate(rows):
            params.append(Parameter(f"{stem}_{connection}", 6 * k + j, low, high, units,
                                    connection, f"{text}, {CONNECTION_LABELS[connection]}"))
    params.append(_input_rate(24))
    return tuple(params)


def _mlp_parameters() -> tuple[Parameter, ...]:
    params = [
        Parameter("eta_ee", 0, 0.0, 1.0, "1", "ee", "learning rate of the E→E rule"),
        Parameter("eta_ie", 1, 0.0, 1.0, "1", "ie", "learning rate of the I→E rule"),
    ]
    index = 2
    for connection in ("ee", "ie"):
        for event in ("pre", "post"):
            for unit in range(5):
                what = "output bias" if unit == 4 else f"output weight from hidden unit {unit}"
                params.append(Parameter(
                    f"w{event}_{connection}_{unit}", index, -1.0, 1.0, "1", connection,
                    f"{CONNECTION_LABELS[connection]}, {event}synaptic-event network: {what}"))
                index += 1
    params.append(_input_rate(22))
    return tuple(params)


def _input_rate(index: int) -> Parameter:
    return Parameter("rate_poisson", index, 5.0, 15.0, "Hz", "input",
                     "rate of each Poisson input neuron (nuisance parameter)")


_METRICS_6PPOL = tuple(m.name for m in _METRICS)
_METRICS_MLP = tuple(m for m in _METRICS_6PPOL if m not in ("weif", "wiif"))

_SETS_6PPOL = {
    "stable activity": _ACTIVITY,
    "stable weights": _WEIGHTS,
    "A.I. dynamics": _AI + ("std_cv",),
    "plausible": _ACTIVITY + _WEIGHTS + _AI + ("std_cv",),
    "plausible_fig2": _ACTIVITY + _WEIGHTS + _AI + ("std_cv",),
    "plausible_tutorial": _ACTIVITY + _WEIGHTS + _AI,
    "tutorial training": _ACTIVITY + _WEIGHTS + _AI,
    "longevity A.I.": _AI,
    "completed": ("rate",),
}
_WEIGHTS_MLP = ("w_blow", "w_creep", "weef", "wief")
_SETS_MLP = {
    "stable activity": _ACTIVITY,
    "stable weights": _WEIGHTS_MLP,
    "A.I. dynamics": _AI,
    "plausible": _ACTIVITY + _WEIGHTS_MLP + _AI,
    "plausible_mlp": _ACTIVITY + _WEIGHTS_MLP + _AI,
    "plausible_mlp_corr": _ACTIVITY + _WEIGHTS_MLP + _AI + ("std_cv",),
    "tutorial training": _ACTIVITY + _WEIGHTS_MLP + _AI,
    "longevity A.I.": _AI,
    "completed": ("rate",),
}

ACCUMULATION_GROUPS = ("stable activity", "stable weights", "A.I. dynamics", "plausible")

FAMILIES: Mapping[str, Family] = MappingProxyType({
    "6pPol": Family(
        name="6pPol",
        task_name="bg_IF_EEEIIEII_6pPol",
        description="six-parameter polynomial (doublet) rules on EE, EI, IE and II, "
                    "conductance-based integrate-and-fire network",
        parameters=_poly_parameters(),
        metric_names=_METRICS_6PPOL,
        plastic_connections=CONNECTIONS,
        criteria_sets=MappingProxyType(_SETS_6PPOL),
        default_plausible="plausible_fig2",
        aliases=MappingProxyType({"input_rate": "rate_poisson"}),
    ),
    "MLP": Family(
        name="MLP",
        task_name="bg_CVAIF_EEIE_T4wvceciMLP",
        description="multilayer-perceptron rules on EE and IE, adaptive integrate-and-fire "
                    "network",
        parameters=_mlp_parameters(),
        metric_names=_METRICS_MLP,
        plastic_connections=("ee", "ie"),
        criteria_sets=MappingProxyType(_SETS_MLP),
        default_plausible="plausible_mlp",
        aliases=MappingProxyType({"input_rate": "rate_poisson"}),
    ),
})
_FAMILY_ALIASES = {"6ppol": "6pPol", "poly": "6pPol", "polynomial": "6pPol",
                   "bg_if_eeeiieii_6ppol": "6pPol", "mlp": "MLP",
                   "bg_cvaif_eeie_t4wvcecimlp": "MLP"}


def family(name: str | Family) -> Family:
    """The family called ``name`` (``"6pPol"``, ``"MLP"``, or a task name; case-insensitive)."""
    if isinstance(name, Family):
        return name
    key = _FAMILY_ALIASES.get(str(name).lower())
    if key is None:
        raise UnknownNameError(
            f"unknown rule family {name!r}; valid families: {', '.join(FAMILIES)}"
        )
    return FAMILIES[key]


def family_of_dtype(dtype: np.dtype) -> Family:
    """The family whose released record layout has exactly the fields of ``dtype``.

    Raises :class:`~fsbi_data.errors.ReleaseFormatError` naming the closest family and the
    differences when no family matches.
    """
    from .errors import ReleaseFormatError

    names = tuple(dtype.names or ())
    if "theta" not in names or "seed" not in names:
        raise ReleaseFormatError(
            f"record fields {names} lack 'seed' and/or 'theta'; a released fSBI file has "
            f"'seed', 'theta' and one field per metric ({record_layouts()})"
        )
    problems = {fam.name: layout_problems(dtype, fam) for fam in FAMILIES.values()}
    for fam in FAMILIES.values():
        if not problems[fam.name]:
            return fam
    n_theta = dtype["theta"].shape[0] if dtype["theta"].shape else 1
    best = min(FAMILIES.values(), key=lambda f: (abs(f.n_theta - n_theta), len(problems[f.name])))
    raise ReleaseFormatError(
        f"record layout matches no family: theta has {n_theta} entries ({record_layouts()}); "
        f"closest family {best.name}: {'; '.join(problems[best.name])}"
    )


def layout_problems(dtype: np.dtype, fam: Family) -> list[str]:
    """How a record dtype differs from the released layout of ``fam`` (empty: it matches)."""
    names = tuple(dtype.names or ())
    expected = fam.record_dtype.names
    problems = []
    missing = [n for n in expected if n not in names]
    unknown = [n for n in names if n not in expected]
    if missing:
        problems.append(f"missing fields {missing}")
    if unknown:
        problems.append(f"unknown fields {unknown}")
    if "theta" in names and dtype["theta"].shape != (fam.n_theta,):
        n_theta = dtype["theta"].shape[0] if dtype["theta"].shape else 1
        problems.append(f"theta of {n_theta} entries, expected {fam.n_theta}")
    return problems


def record_layouts() -> str:
    """The released record layouts in one phrase: theta entries and metrics per family."""
    return ", ".join(f"{fam.name}: {fam.n_theta} theta entries and {len(fam.metric_names)} "
                     f"metrics" for fam in FAMILIES.values())
