"""Binning spike trains as the paper's metrics do: edges from ``numpy.arange``, the last
partial interval dropped and the last bin closed, in time linear in the number of spikes.

Examples
--------
>>> import numpy as np
>>> edges = bin_edges(0.0, 1.0, 0.25)
>>> bin_index(np.array([0.1, 0.5, 0.75, 2.0]), edges).tolist()
[0, 2, 2, -1]
"""

from __future__ import annotations

import numpy as np

from ..errors import RawFormatError
from .raw import SpikeTrains

# Bins this many ulp wide or wider make the arithmetic bin guess exact to one bin.
_GUESS_MARGIN = 2.0 ** 20


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
    """Spike-count matrix (neurons × bins) with NumPy histogram semantics (docs/metrics.md §2.3)."""
    n_bins = max(edges.size - 1, 0)
    if n_bins == 0:
        return np.zeros((trains.n_neurons, 0), dtype=np.int64)
    index = bin_index(trains.times, edges)
    return count_matrix(trains.neuron_ids(), index, trains.n_neurons, n_bins)


def counted_spikes(trains: SpikeTrains, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neuron and bin of every spike inside the edges (docs/metrics.md §2.3), in stored order."""
    index = bin_index(trains.times, edges)
    counted = index >= 0
    return np.compress(counted, trains.neuron_ids()), np.compress(counted, index)


def population_counts(trains: SpikeTrains, edges: np.ndarray) -> np.ndarray:
    """Mean over neurons of the binned counts: the population activity per neuron per bin."""
    n_bins = max(edges.size - 1, 0)
    index = bin_index(trains.times, edges) if n_bins else np.empty(0, dtype=np.int64)
    counts = np.bincount(index + 1, minlength=n_bins + 1)[1:]  # bin -1 dropped
    return counts / trains.n_neurons
