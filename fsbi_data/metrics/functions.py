"""The network metrics of the fSBI release as pure, vectorised functions.

Each function takes spike trains (:class:`~fsbi_data.metrics.raw.SpikeTrains`) or weight
traces (:class:`~fsbi_data.metrics.raw.WeightTraces`) and an
:class:`~fsbi_data.metrics.raw.AnalysisParams`, and returns a float. The definitions follow
``docs/metrics.md`` exactly, quirks included: bin edges from ``numpy.arange``, the last
partial interval dropped and the last bin closed, CV only for neurons with at least 4 spikes,
Fano 0 for at most 3 spikes, ``auto_cov`` 1 for nearly silent neurons, the ``kl_isi`` rate
switch at 0.1 Hz and its non-renormalised reference, strict windows in ``w_blow``, and the
float64 column means of ``w_creep``.

Work is vectorised across neurons and bins; no Python loop runs over neurons. Binning is linear
in the number of spikes: an arithmetic guess of each spike's bin, corrected against the exact
floating-point edges (:func:`bin_index`). ``auto_cov`` needs the autocorrelation of each
neuron's 10-ms counts only up to ±0.5 s; for sparse trains it is computed exactly, in integers,
from the pairs of spikes of a neuron at most that far apart (:func:`pair_autocorrelation`, with
a loop over the distance between partner spikes, not over neurons), and for dense trains, where
that is more work, from an FFT of the count matrix (:func:`fft_autocorrelation`).

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
from .raw import AnalysisParams, SpikeTrains, WeightTraces

# Below this excitatory rate (Hz, inclusive) kl_isi compares with a fixed, almost flat reference.
KL_RATE_SWITCH = 0.1
KL_FALLBACK_RATE = 0.01
AUTO_COV_MIN_STD = 0.05  # binned trains with std <= this count as A_n = 1
FANO_MIN_SPIKES = 3  # Fano factor is 0 when a slice holds at most this many spikes
CV_MIN_ISIS = 3  # CV is computed only with more than 2 ISIs (at least 4 spikes)
W_CREEP_MIN_SUM = 0.1  # connections with start + end mean weight <= this are ignored
BND_RATIO_EPSILON = 0.0001
# Bins this many ulp wide or wider make the arithmetic bin guess exact to one bin.
_GUESS_MARGIN = 2.0 ** 20
# auto_cov: spike-pair counting is chosen while its work is below this share of the FFT's.
PAIR_COST_RATIO = 0.2
# K² g_m stays exact in int64 while (K + 2) · (spikes of a neuron) is at most this.
_EXACT_PRODUCT_LIMIT = 2 ** 31
# Integer variances this close (relative) to the threshold are left to NumPy's std.
_THRESHOLD_MARGIN = 1e-9


# --- shared machinery -------------------------------------------------------------------------

def recorded(trains: SpikeTrains, n_recorded: int) -> SpikeTrains:
    """The first ``n_recorded`` neurons of ``trains`` (the neurons the metrics are about)."""
    if trains.n_neurons < n_recorded:
        raise RawFormatError(
            f"spike trains hold {trains.n_neurons} neurons but the analysis expects "
            f"n_recorded = {n_recorded}; pass the protocol's analysis parameters"
        )
    if trains.n_neurons == n_recorded:
        return trains
    return SpikeTrains(trains.times[:trains.offsets[n_recorded]],
                       trains.offsets[:n_recorded + 1])


def bin_edges(t_start: float, t_stop: float, bin_size: float) -> np.ndarray:
    """Edges exactly as the original builds them: ``numpy.arange(t_start, t_stop, bin_size)``."""
    return np.arange(t_start, t_stop, bin_size)


def bin_index(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram bin of each time (half-open bins, last bin closed); -1 where not counted.

    Equivalent to ``searchsorted(edges, times, "right") - 1`` against the exact edges, with
    NumPy's histogram rules (the last bin closed; NaN and times outside the edges not counted),
    but linear in the number of times: the arithmetic guess ``(t - e_0) / step``, clipped to a
    bin, is off by at most one bin (its rounding error is a few ulp while bins are far wider),
    so one comparison with each of the bin's exact edges puts times lying on an edge where
    NumPy puts them. Edges too fine for that bound fall back to ``searchsorted``.
    """
    n_bins = edges.size - 1
    if n_bins < 1:
        return np.full(times.shape, -1, dtype=np.int64)
    step = edges[1] - edges[0]
    if not step > _GUESS_MARGIN * np.spacing(max(abs(edges[0]), abs(edges[-1]))):
        index = np.searchsorted(edges, times, side="right") - 1
    else:
        guess = np.subtract(times, edges[0])
        guess /= step
        np.fmax(guess, 0.0, out=guess)  # also maps NaN to bin 0; it is dropped below
        np.minimum(guess, n_bins - 1, out=guess)
        index = guess.astype(np.int64)
        index -= times < edges.take(index)
        index += times >= edges[1:].take(index)
    np.minimum(index, n_bins - 1, out=index)  # the last bin is closed
    index[~((times >= edges[0]) & (times <= edges[-1]))] = -1
    return index


def count_matrix(rows: np.ndarray, bins: np.ndarray, n_rows: int, n_bins: int) -> np.ndarray:
    """Counts of (row, bin) pairs as an ``n_rows`` × ``n_bins`` matrix; bin -1 is not counted."""
    # Bin -1 lands in a spare first column, dropped after counting.
    flat = rows * (n_bins + 1)
    flat += bins
    flat += 1
    counts = np.bincount(flat, minlength=n_rows * (n_bins + 1))
    return counts.reshape(n_rows, n_bins + 1)[:, 1:]


def binned_counts(trains: SpikeTrains, edges: np.ndarray) -> np.ndarray:
    """Spike-count matrix (neurons × bins) with NumPy histogram semantics (§2.3)."""
    n_bins = max(edges.size - 1, 0)
    if n_bins == 0:
        return np.zeros((trains.n_neurons, 0), dtype=np.int64)
    index = bin_index(trains.times, edges)
    return count_matrix(trains.neuron_ids(), index, trains.n_neurons, n_bins)


def counted_spikes(trains: SpikeTrains, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neuron and bin of every spike inside the edges (§2.3), in stored order."""
    index = bin_index(trains.times, edges)
    counted = index >= 0
    return np.compress(counted, trains.neuron_ids()), np.compress(counted, index)


def population_counts(trains: SpikeTrains, edges: np.ndarray) -> np.ndarray:
    """Mean over neurons of the binned counts: the population activity per neuron per bin."""
    n_bins = max(edges.size - 1, 0)
    index = bin_index(trains.times, edges) if n_bins else np.empty(0, dtype=np.int64)
    counts = np.bincount(index + 1, minlength=n_bins + 1)[1:]  # bin -1 dropped
    return counts / trains.n_neurons


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


def pair_counting_pays(totals: np.ndarray, n_bins: int, max_lag: int) -> bool:
    """Whether counting spike pairs is cheaper than the FFT, and exact in int64.

    Pair counting costs about (spikes + pairs within ``max_lag`` bins); for Poisson trains a
    neuron with S spikes has about S² (max_lag + 1) / K such pairs. The FFT costs about
    n_fft · log2(n_fft) per neuron with spikes, each unit about 1 / PAIR_COST_RATIO times
    cheaper (measured on paper-sized simulations: the two take equal time near 20 Hz).
    """
    if n_bins < 1 or totals.size == 0:
        return False
    if (n_bins + 2) * int(totals.max()) > _EXACT_PRODUCT_LIMIT:
        return False
    squares = float(np.dot(totals.astype(np.float64), totals))
    pair_work = totals.sum() + squares * (max_lag + 1) / n_bins
    n_fft = n_bins + max_lag
    fft_work = np.count_nonzero(totals) * n_fft * np.log2(max(n_fft, 2))
    return pair_work < PAIR_COST_RATIO * fft_work


def pair_autocorrelation(neuron: np.ndarray, bins: np.ndarray, totals: np.ndarray,
                         n_bins: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Fluctuating neurons and their Σ_{m=1..l} |g_m| / g_0, exactly, from spike pairs.

    With c the K binned counts of a neuron, S = Σ c_k, μ = S / K and y = c - μ,

        g_m = Σ_{k<K-m} y_k y_{k+m} = P_m - μ (2S - E_m) + (K - m) μ²,

    where P_m = Σ_k c_k c_{k+m} (:func:`lag_products`) and E_m is the number of spikes in the
    first m plus in the last m bins (:func:`edge_totals`). Multiplied by K² every term is an
    integer, so K² g_m = K² P_m - (K + m) S² + K S E_m and K² g_0 = K D with D = K P_0 - S²
    are exact in int64 (:func:`pair_counting_pays` checks the range): Σ_m |g_m| / g_0 =
    Σ_m |K² g_m| / (K D) is rounded only in that float64 sum and quotient. K² var(c) = D
    decides std(c) > 0.05 (:func:`fluctuating`).

    Parameters
    ----------
    neuron, bins
        Neuron and bin of every counted spike (:func:`counted_spikes`).
    totals
        Counted spikes per neuron, S.
    n_bins, max_lag
        K and the largest lag l.

    Returns
    -------
    active, side
        Boolean mask of the neurons with std(c) > 0.05, and Σ |g_m| / g_0 of those neurons.
    """
    n = totals.size
    products = lag_products(neuron, bins, n, n_bins, max_lag)
    active = fluctuating(neuron, bins, totals, products[:, 0], n_bins)
    k, s, m = n_bins, totals[active], np.arange(1, max_lag + 1)
    edges = edge_totals(neuron, bins, n, n_bins, max_lag)[active]
    lagged = k * k * products[active, 1:] - np.outer(s * s, k + m) + k * s[:, None] * edges
    at_zero = k * (k * products[active, 0] - s * s)  # K² g_0, and lagged is K² g_m
    return active, np.abs(lagged).sum(axis=1, dtype=np.float64) / at_zero


def lag_products(neuron: np.ndarray, bins: np.ndarray, n_neurons: int, n_bins: int,
                 max_lag: int) -> np.ndarray:
    """P_m = Σ_k c_k c_{k+m} of each neuron's binned counts c, lags m = 0 … max_lag (int64).

    Counted from spike pairs rather than from the count matrix: for m ≥ 1, P_m is the number of
    pairs of spikes of one neuron whose bins are m apart; P_0 = Σ c_k² is the number of ordered
    pairs sharing a bin, each spike paired with itself included. Each spike gets the key
    ``neuron · (K + max_lag) + bin``, so that spikes of different neurons lie more than max_lag
    apart and key differences within reach are lags (:func:`pairs_within_reach`).
    """
    width = n_bins + max_lag
    key_type = np.int32 if n_neurons * width + max_lag < np.iinfo(np.int32).max else np.int64
    keys = (neuron * width + bins).astype(key_type)
    if np.any(keys[1:] < keys[:-1]):  # spike times out of order within a neuron
        order = np.argsort(keys, kind="stable")
        keys, neuron = keys[order], neuron[order]
    # The pair (i, j) is counted at neuron_i · (max_lag + 1) + key_j - key_i.
    offset = (neuron * (max_lag + 1)).astype(key_type) - keys
    flat = pairs_within_reach(keys, keys + key_type(max_lag), offset)
    pairs = np.bincount(flat, minlength=n_neurons * (max_lag + 1))
    pairs = pairs.reshape(n_neurons, max_lag + 1)
    pairs[:, 0] = 2 * pairs[:, 0] + np.bincount(neuron, minlength=n_neurons)
    return pairs


def pairs_within_reach(keys: np.ndarray, reach: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``offset[i] + keys[j]`` for every pair i < j of sorted ``keys`` with keys[j] <= reach[i].

    With ``reach`` non-decreasing, the partners of i are i + 1, i + 2, … up to the first key
    beyond reach[i]. The loop runs over that shift: while most keys still have a partner at
    the shift, whole slices are compared; after that, only the keys whose partner at the
    previous shift was within reach. The work is the number of keys times their mean number
    of partners.
    """
    n = keys.size
    found = [np.empty(0, dtype=keys.dtype)]
    shift = 1
    near = np.zeros(0, dtype=bool)
    while shift < n:
        near = keys[shift:] <= reach[:n - shift]
        found.append(np.compress(near, offset[:n - shift] + keys[shift:]))
        shift += 1
        if 2 * found[-1].size < n:
            break
    start = np.flatnonzero(near)
    padded = np.append(keys, reach[-1] + 1) if n else keys  # start + shift <= n below
    while start.size:
        partner = padded.take(start + shift)
        within = np.flatnonzero(partner <= reach.take(start))
        start = start.take(within)
        found.append(offset.take(start) + partner.take(within))
        shift += 1
    return np.concatenate(found)


def edge_totals(neuron: np.ndarray, bins: np.ndarray, n_neurons: int, n_bins: int,
                max_lag: int) -> np.ndarray:
    """E_m: spikes of each neuron in its first m plus its last m bins, m = 1 … max_lag."""
    near_end = np.flatnonzero((bins < max_lag) | (bins >= n_bins - max_lag))
    rows, from_start = neuron.take(near_end), bins.take(near_end)
    from_end = n_bins - 1 - from_start
    head, tail = from_start < max_lag, from_end < max_lag  # both if K < 2 max_lag
    rows = np.concatenate([rows[head], rows[tail]])
    depth = np.concatenate([from_start[head], from_end[tail]])
    counts = np.bincount(rows * max_lag + depth, minlength=n_neurons * max_lag)
    return np.cumsum(counts.reshape(n_neurons, max_lag), axis=1)


def fluctuating(neuron: np.ndarray, bins: np.ndarray, totals: np.ndarray,
                squares: np.ndarray, n_bins: int) -> np.ndarray:
    """Neurons whose binned counts have std > AUTO_COV_MIN_STD, decided as NumPy decides.

    K² var(c) = K Σ c_k² - S² is an exact integer. Only where it lies within a relative
    ``_THRESHOLD_MARGIN`` of (0.05 K)² could NumPy's rounded std fall on the other side of
    0.05; there NumPy's own ``std`` of the count row decides.
    """
    spread = n_bins * squares - totals * totals
    bound = (AUTO_COV_MIN_STD * n_bins) ** 2
    active = spread > bound
    undecided = np.flatnonzero(np.abs(spread - bound) <= _THRESHOLD_MARGIN * bound)
    if undecided.size:
        rows = np.searchsorted(undecided, neuron)
        mine = np.isin(neuron, undecided)
        counts = count_matrix(rows[mine], bins[mine], undecided.size, n_bins)
        active[undecided] = counts.std(axis=1) > AUTO_COV_MIN_STD
    return active


def fft_autocorrelation(counts: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Fluctuating neurons and their Σ_{m=1..l} |g_m| / g_0, from an FFT of the counts.

    Round-off aside, the same as :func:`pair_autocorrelation`, for any count matrix.
    """
    if counts.shape[1] == 0:
        return np.zeros(counts.shape[0], dtype=bool), np.empty(0)
    active = counts.std(axis=1) > AUTO_COV_MIN_STD
    if not np.any(active):
        return active, np.empty(0)
    y = counts[active].astype(np.float64)
    y -= y.mean(axis=1, keepdims=True)
    g = lagged_autocorrelation(y, max_lag)
    return active, np.abs(g[:, 1:]).sum(axis=1) / g[:, 0]


def lagged_autocorrelation(y: np.ndarray, max_lag: int) -> np.ndarray:
    """Σ_k y_k y_{k+m} of each row for lags m = 0 … max_lag (linear, not circular).

    Computed with a real FFT zero-padded to at least n + max_lag points, so that the circular
    correlation equals the linear one at these lags; round-off only, as the spec allows.
    """
    import scipy.fft

    n_fft = scipy.fft.next_fast_len(y.shape[1] + max_lag, real=True)
    spectrum = scipy.fft.rfft(y, n=n_fft, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return scipy.fft.irfft(power, n=n_fft, axis=1)[:, :max_lag + 1]


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


def w_creep(traces: WeightTraces, params: AnalysisParams | None = None) -> float:
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
