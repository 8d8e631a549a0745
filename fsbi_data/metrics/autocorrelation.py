"""The autocorrelation behind ``auto_cov``: of each neuron's binned spike counts, up to a
maximal lag, and which neurons fluctuate at all.

For sparse trains it is computed exactly, in integers, from the pairs of spikes of a neuron at
most ``max_lag`` bins apart (:func:`pair_autocorrelation`, with a loop over the distance
between partner spikes, not over neurons); for dense trains, where that is more work, from an
FFT of the count matrix (:func:`fft_autocorrelation`). :func:`pair_counting_pays` chooses.

Examples
--------
>>> import numpy as np
>>> counts = np.array([[0, 2, 0, 2, 0, 2], [1, 1, 1, 1, 1, 1]])
>>> active, side = fft_autocorrelation(counts, 2)
>>> active.tolist(), np.round(side, 6).tolist()
([True, False], [1.5])
"""

from __future__ import annotations

import numpy as np

from .binning import count_matrix

AUTO_COV_MIN_STD = 0.05  # binned trains with std <= this count as A_n = 1
# auto_cov: spike-pair counting is chosen while its work is below this share of the FFT's.
PAIR_COST_RATIO = 0.2
# K² g_m stays exact in int64 while (K + 2) · (spikes of a neuron) is at most this.
_EXACT_PRODUCT_LIMIT = 2 ** 31
# Integer variances this close (relative) to the threshold are left to NumPy's std.
_THRESHOLD_MARGIN = 1e-9


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
    correlation equals the linear one at these lags; round-off only (``docs/metrics.md``,
    "Exactness").
    """
    import scipy.fft

    n_fft = scipy.fft.next_fast_len(y.shape[1] + max_lag, real=True)
    spectrum = scipy.fft.rfft(y, n=n_fft, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return scipy.fft.irfft(power, n=n_fft, axis=1)[:, :max_lag + 1]
