"""All metrics of one simulation at once: :func:`compute`.

Examples
--------
>>> from fsbi_data.metrics.raw import SimulationResult
>>> metrics = compute(SimulationResult.blown_up(0.76), family="MLP")
>>> len(metrics), metrics["rate"]
(15, nan)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping

from ..errors import UnknownNameError
from ..schema import FAMILIES
from ..schema import family as family_named
from . import functions as f
from .raw import SimulationResult

TASK_METRICS = ("r_nov", "r_fam", "std_nov", "std_fam", "ratio_nov_fam")
WEIGHT_METRICS = {"weef": "ee", "weif": "ei", "wief": "ie", "wiif": "ii"}


def infer_family(result: SimulationResult) -> str:
    """The rule family of a result: recorded in ``info``, else from its plastic connections."""
    if "family" in result.info:
        return family_named(result.info["family"]).name
    if result.weights is not None:
        for fam in FAMILIES.values():
            if set(result.weights.connections) == set(fam.plastic_connections):
                return fam.name
    return "6pPol"


def compute(result: SimulationResult, names: Iterable[str] | None = None, *,
            family: str | None = None, task: Mapping[str, float] | None = None
            ) -> dict[str, float]:
    """Compute metrics of one simulation.

    Parameters
    ----------
    result
        The simulation's raw output; its ``params`` set the analysis window and bins.
    names
        Metric names; default: the released metrics of the family, in release order. The
        novelty/familiarity task metrics (``r_nov`` …) are computed when named, with ``task``.
    family
        ``"6pPol"`` or ``"MLP"``; default: ``result.info["family"]`` or inferred from the
        plastic connections of the weights.
    task
        Durations ``lpt``, ``lt``, ``lb0``, ``lb1``, ``lp``, ``lb2`` (s) for the task metrics.

    Returns
    -------
    dict
        Metric name → float. A blown-up run (no spikes or no weights) gives NaN for every
        metric (``docs/metrics.md`` §2.1).
    """
    fam = family_named(family or infer_family(result))
    wanted = tuple(fam.metric_names if names is None else names)
    known = set(fam.metric_names) | set(TASK_METRICS)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UnknownNameError(
            f"unknown metrics {unknown} for {fam.name}; valid: "
            f"{', '.join(fam.metric_names + TASK_METRICS)}"
        )
    if result.spikes_e is None or result.weights is None:
        return {name: math.nan for name in wanted}

    p, spikes, weights = result.params, result.spikes_e, result.weights

    # Intermediate results shared by several metrics, computed at most once.
    @functools.cache
    def recorded():  # sliced once, so that the neuron index of every spike is computed once
        return f.recorded(spikes, p.n_recorded)

    @functools.cache
    def big_counts():
        return f._big_bins(recorded(), p)

    @functools.cache
    def activity():
        return f._small_bin_activity(recorded(), p)

    @functools.cache
    def intervals():
        return f.isis(recorded())

    @functools.cache
    def cvs():
        return f.neuron_cvs(recorded(), intervals())

    @functools.cache
    def task_metrics():
        return f.bnd_metrics(spikes, task or {})

    compute_one = {
        "rate": lambda: f.rate(recorded(), p),
        "cv_isi": lambda: f.cv_isi(recorded(), p, cvs()),
        "kl_isi": lambda: f.kl_isi(recorded(), p, intervals()[0]),
        "spatial_Fano": lambda: f.spatial_fano(recorded(), p, big_counts()),
        "temporal_Fano": lambda: f.temporal_fano(recorded(), p, big_counts()),
        "auto_cov": lambda: f.auto_cov(recorded(), p),
        "fft": lambda: f.fft(recorded(), p, activity()),
        "w_blow": lambda: f.w_blow(weights, p),
        "std_rate_temporal": lambda: f.std_rate_temporal(recorded(), p, activity()),
        "std_rate_spatial": lambda: f.std_rate_spatial(recorded(), p),
        "std_cv": lambda: f.std_cv(recorded(), p, cvs()),
        "w_creep": lambda: f.w_creep(weights),
        "rate_i": lambda: f.rate_i(result.spikes_i, p),
        **{name: (lambda c=c: f.final_mean_weight(weights, c))
           for name, c in WEIGHT_METRICS.items()},
        **{name: (lambda n=name: task_metrics()[n]) for name in TASK_METRICS},
    }
    return {name: float(compute_one[name]()) for name in wanted}
