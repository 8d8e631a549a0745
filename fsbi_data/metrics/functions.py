"""The network metrics of the fSBI release as pure, vectorised functions.

Each function takes spike trains (:class:`~fsbi_data.metrics.raw.SpikeTrains`) or weight
traces (:class:`~fsbi_data.metrics.raw.WeightTraces`) and an
:class:`~fsbi_data.metrics.raw.AnalysisParams`, and returns a float. The definitions follow
``docs/metrics.md`` exactly, quirks included: bin edges from ``numpy.arange``, the last
partial interval dropped and the last bin closed, CV only for neurons with at least 4 spikes,
Fano 0 for at most 3 spikes, ``auto_cov`` 1 for nearly silent neurons, the ``kl_isi`` rate
switch at 0.1 Hz and its non-renormalised reference, strict windows in ``w_blow``, and the
float64 column means of ``w_creep``. Section numbers (§) in the docstrings below refer to the
numbered definitions of ``docs/metrics.md``.

Work is vectorised across neurons and bins; no Python loop runs over neurons. Binning is linear
in the number of spikes: an arithmetic guess of each spike's bin, corrected against the exact
floating-point edges (:mod:`fsbi_data.metrics.binning`). ``auto_cov`` needs the
autocorrelation of each neuron's 10-ms counts only up to ±0.5 s: exact integer spike-pair
counts for sparse trains, an FFT for dense ones (:mod:`fsbi_data.metrics.autocorrelation`).

Examples
--------
>>> from fsbi_data.metrics.raw import AnalysisParams, SpikeTrains
>>> trains = SpikeTrains.from_lists([[60.0 + 0.1 * k for k in range(100)], []])
>>> rate(trains, AnalysisParams(n_recorded=2))
5.0
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import rel_entr

from ..errors import RawFormatError
from .autocorrelation import fft_autocorrelation, pair_autocorrelation, pair_counting_pays
from .binning import (
    bin_edges,
    binned_counts,
    count_matrix,
    counted_spikes,
    population_counts,
    recorded,
)
from .raw import AnalysisParams, SpikeTrains, WeightTraces

# Below this excitatory rate (Hz, inclusive) kl_isi compares with a fixed, almost flat reference.
KL_RATE_SWITCH = 0.1
KL_FALLBACK_RATE = 0.01
FANO_MIN_SPIKES = 3  # Fano factor is 0 when a slice holds at most this many spikes
CV_MIN_ISIS = 3  # CV is computed only with more than 2 ISIs (at least 4 spikes)
W_CREEP_MIN_SUM = 0.1  # connections with start + end mean weight <= this are ignored
BND_RATIO_EPSILON = 0.0001


# --- shared machinery (binning: :mod:`.binning`; autocorrelation: :mod:`.autocorrelation`) ----

def isis(trains: SpikeTrains) -> tuple[np.ndarray, np.ndarray]:
    """Inter-spike intervals in stored order and the neuron of each (§2.4)."""
    neurons = trains.neuron_ids()
    same = neurons[1:] == neurons[:-1]
    return np.diff(trains.times)[same], neurons[1:][same]


def neuron_cvs(trains: SpikeTrains,
               intervals: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """CV of the ISIs per neuron; 0 for neurons with at most 2 ISIs (§2.4).

    ``intervals``: ``isis(trains)`` if already computed.
    """
    intervals, owner = isis(trains) if intervals is None else intervals
    n = trains.n_neurons
    n_isi = np.bincount(owner, minlength=n)
    sums = np.bincount(owner, weights=intervals, minlength=n)
    active = n_isi >= CV_MIN_ISIS
    mean = np.divide(sums, n_isi, out=np.zeros(n), where=active)
    deviation = (intervals - mean[owner]) ** 2
    var = np.divide(np.bincount(owner, weights=deviation, minlength=n), n_isi,
                    out=np.zeros(n), where=active)
    return np.divide(np.sqrt(var), mean, out=np.zeros(n), where=active)


def fano(counts: np.ndarray, axis: int) -> np.ndarray:
    """Fano factor of a count matrix along ``axis``; 0 where the slice sums to <= 3 (§2.5).

    With n counts c of sum S, var / mean = (n Σ c² - S²) / (n S): integers, divided once.
    """
    n = counts.shape[axis]
    total = counts.sum(axis=axis)
    squares = np.einsum("ij,ij->" + "ij"[1 - axis], counts, counts)  # Σ c² along axis
    active = total > FANO_MIN_SPIKES
    return np.divide(n * squares - total * total, n * total, out=np.zeros(total.shape),
                     where=active)


def weight_samples_in_window(traces: WeightTraces, connection: str,
                             params: AnalysisParams) -> np.ndarray:
    """Weight samples strictly inside (t_start_rec, t_stop_rec), flattened (§2.6)."""
    t = traces.t
    if params.t_start_rec > t[-1] or params.t_stop_rec < t[0]:
        raise RawFormatError(
            f"weights of {connection!r} were sampled in [{t[0]}, {t[-1]}] s, outside the "
            f"recording window [{params.t_start_rec}, {params.t_stop_rec}] s "
            f"(t_start or t_stop are outside the recorded range)"
        )
    keep = (t > params.t_start_rec) & (t < params.t_stop_rec)
    return traces.weights[connection][:, keep].ravel()


# --- metrics of the released files ----------------------------------------------------------

def rate(trains: SpikeTrains, params: AnalysisParams) -> float:
    """Mean excitatory rate: (total spikes / n_recorded) / ls, in that order (§3.1)."""
    trains = recorded(trains, params.n_recorded)
    return trains.n_spikes / params.n_recorded / params.ls


def cv_isi(trains: SpikeTrains, params: AnalysisParams, cvs: np.ndarray | None = None) -> float:
    """Mean over neurons of the ISI CV, zeros included (§3.2)."""
    cvs = neuron_cvs(recorded(trains, params.n_recorded)) if cvs is None else cvs
    return float(np.mean(cvs))


def kl_isi(trains: SpikeTrains, params: AnalysisParams,
           intervals: np.ndarray | None = None) -> float:
    """KL divergence of the pooled ISI histogram from an exponential reference (§3.3).

    ``intervals``: the pooled ISIs of the recorded neurons if already computed.
    """
    trains = recorded(trains, params.n_recorded)
    intervals = isis(trains)[0] if intervals is None else intervals
    low, high = params.isi_lim_kl_isi
    edges = np.linspace(low, high, params.n_bins_kl_isi)
    hist, _ = np.histogram(np.clip(intervals, low, high), bins=edges)
    p = hist / max(intervals.size, 1)
    if rate(trains, params) <= KL_RATE_SWITCH:
        lam = KL_FALLBACK_RATE
    else:
        lam = 1.0 / np.mean(intervals)
    q = np.exp(-lam * edges[:-1]) - np.exp(-lam * edges[1:])
    return float(np.abs(np.sum(rel_entr(p, q))))


def _big_bins(trains: SpikeTrains, params: AnalysisParams) -> np.ndarray:
    edges = bin_edges(params.t_start_rec, params.t_stop_rec, params.bin_size_big)
    return binned_counts(recorded(trains, params.n_recorded), edges)


def spatial_fano(trains: SpikeTrains, params: AnalysisParams,
                 big_counts: np.ndarray | None = None) -> float:
    """Fano factor across neurons per 100-ms bin, averaged over bins (§3.4)."""
    counts = _big_bins(trains, params) if big_counts is None else big_counts
    if counts.shape[1] == 0:
        return float("nan")
    return float(np.mean(fano(counts, axis=0)))


def temporal_fano(trains: SpikeTrains, params: AnalysisParams,
                  big_counts: np.ndarray | None = None) -> float:
    """Fano factor across 100-ms bins per neuron, averaged over neurons (§3.5)."""
    counts = _big_bins(trains, params) if big_counts is None else big_counts
    return float(np.mean(fano(counts, axis=1)))


def auto_cov(trains: SpikeTrains, params: AnalysisParams) -> float:
    """Mean normalised autocorrelation of 10-ms counts within ±window lags (§3.6).

    The autocorrelation g of the mean-removed counts is symmetric and peaks at lag 0, so the
    mean of |g|/max(g) over lags -l..l is (1 + 2 Σ_{m=1..l} |g_m| / g_0) / (2l + 1). Sparse
    trains take g exactly from integer spike-pair counts (:func:`pair_autocorrelation`), dense
    ones from an FFT of the count matrix (:func:`fft_autocorrelation`), whichever is cheaper.
    """
    trains = recorded(trains, params.n_recorded)
    edges = bin_edges(params.t_start_rec, params.t_stop_rec, params.bin_size_medium)
    n_bins = max(edges.size - 1, 0)
    lags = int(params.window_view_auto_cov / params.bin_size_medium)
    max_lag = min(lags, n_bins - 1)
    neuron, bins = counted_spikes(trains, edges)
    n = trains.n_neurons
    totals = np.bincount(neuron, minlength=n)
    if pair_counting_pays(totals, n_bins, max_lag):
        active, side = pair_autocorrelation(neuron, bins, totals, n_bins, max_lag)
    else:
        active, side = fft_autocorrelation(count_matrix(neuron, bins, n, n_bins), max_lag)
    result = np.ones(n)
    result[active] = (1.0 + 2.0 * side) / (2 * lags + 1)
    return float(np.mean(result))


def _small_bin_activity(trains: SpikeTrains, params: AnalysisParams) -> np.ndarray:
    edges = bin_edges(params.t_start_rec, params.t_stop_rec, params.bin_size_small)
    return population_counts(recorded(trains, params.n_recorded), edges)


def fft(trains: SpikeTrains, params: AnalysisParams,
        activity: np.ndarray | None = None) -> float:
    """Summed one-sided amplitude spectrum of the population activity, DC excluded (§3.7)."""
    p = _small_bin_activity(trains, params) if activity is None else activity
    n_bins = p.size
    amplitude = 2.0 / n_bins * np.abs(np.fft.fft(p)[:n_bins // 2])
    return float(np.sum(amplitude[1:]))


def std_rate_temporal(trains: SpikeTrains, params: AnalysisParams,
                      activity: np.ndarray | None = None) -> float:
    """Standard deviation over 1-ms bins of the population activity (§3.9)."""
    p = _small_bin_activity(trains, params) if activity is None else activity
    return float(np.std(p))


def std_rate_spatial(trains: SpikeTrains, params: AnalysisParams) -> float:
    """Standard deviation over neurons of the single-neuron rates (§3.10)."""
    return float(np.std(recorded(trains, params.n_recorded).counts() / params.ls))


def std_cv(trains: SpikeTrains, params: AnalysisParams, cvs: np.ndarray | None = None) -> float:
    """Standard deviation over neurons of the ISI CVs, zeros included (§3.11)."""
    cvs = neuron_cvs(recorded(trains, params.n_recorded)) if cvs is None else cvs
    return float(np.std(cvs))


def w_blow(traces: WeightTraces, params: AnalysisParams) -> float:
    """Mean over connections of the fraction of samples exactly at 0 or wmax (§3.8)."""
    fractions = []
    for connection in traces.connections:
        samples = weight_samples_in_window(traces, connection, params)
        saturated = np.count_nonzero((samples == 0.0) | (samples == params.wmax))
        fractions.append(saturated / samples.size if samples.size else float("nan"))
    if not fractions:
        raise RawFormatError("w_blow needs the weights of at least one connection")
    return float(sum(fractions) / len(fractions))


def w_creep(traces: WeightTraces) -> float:
    """Largest relative drift of a connection's mean weight, first to last sample (§3.12)."""
    creep = 0.0
    for connection in traces.connections:
        w = traces.weights[connection]
        start, end = np.mean(w[:, 0]), np.mean(w[:, -1])
        if start + end > W_CREEP_MIN_SUM:
            creep = max(creep, abs(2.0 * (end - start) / (end + start)))
    return float(creep)


def rate_i(trains: SpikeTrains | None, params: AnalysisParams) -> float:
    """Mean inhibitory rate (§3.13); NaN when inhibitory spikes were not recorded."""
    if trains is None:
        return float("nan")
    trains = recorded(trains, params.n_recorded_i)
    return trains.n_spikes / params.n_recorded_i / params.ls


def final_mean_weight(traces: WeightTraces, connection: str) -> float:
    """Mean of the monitored weights of a connection at the last sample (§3.14)."""
    if connection not in traces.weights:
        raise RawFormatError(
            f"no weights recorded for connection {connection!r}; recorded: "
            f"{', '.join(traces.connections) or 'none'}"
        )
    return float(np.mean(traces.weights[connection][:, -1]))


# --- task metrics of the familiarity/novelty task --------------------------------------------

BND_TASK_KEYS = ("lpt", "lt", "lb0", "lb1", "lp", "lb2")


def window_counts(trains: SpikeTrains, start: float, length: float) -> np.ndarray:
    """Spikes per neuron in [start, start + length], both ends inclusive."""
    inside = (trains.times >= start) & (trains.times <= start + length)
    return np.bincount(trains.neuron_ids()[inside], minlength=trains.n_neurons)


def bnd_metrics(trains: SpikeTrains, task: Mapping[str, float]) -> dict[str, float]:
    """``r_nov``, ``r_fam``, ``std_nov``, ``std_fam``, ``ratio_nov_fam`` (spike counts, §4)."""
    missing = [k for k in BND_TASK_KEYS if k not in task]
    if missing:
        raise RawFormatError(
            f"the novelty/familiarity metrics need the task durations {', '.join(missing)} "
            f"(seconds); pass them as task={{...}}"
        )
    t_nov = task["lpt"] + task["lt"] + task["lb0"] + task["lb1"]
    t_fam = t_nov + task["lp"] + task["lb2"]
    novel = window_counts(trains, t_nov, task["lp"])
    familiar = window_counts(trains, t_fam, task["lp"])
    r_nov, r_fam = float(np.mean(novel)), float(np.mean(familiar))
    return {
        "r_nov": r_nov,
        "r_fam": r_fam,
        "std_nov": float(np.std(novel)),
        "std_fam": float(np.std(familiar)),
        "ratio_nov_fam": (r_nov - r_fam) / (r_fam + BND_RATIO_EPSILON),
    }
