"""The raw output of one simulation: spike trains, weight traces, blow-up time, parameters.

Every backend (Auryn, Brian2) and every reader (Auryn monitor files, the release's HDF5)
produces a :class:`SimulationResult`; the metric functions take one.

Examples
--------
>>> import numpy as np
>>> from fsbi_data.metrics.raw import SpikeTrains
>>> trains = SpikeTrains.from_lists([[60.1, 60.5], [], [61.0]])
>>> trains.n_neurons, trains.counts().tolist()
(3, [2, 0, 1])
>>> trains.neuron(0).tolist()
[60.1, 60.5]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import RawFormatError

#: The paper's training ("no scoring") and scoring durations (s): every released rule was
#: simulated for PAPER_LNS + PAPER_LS seconds and scored on the last PAPER_LS.
PAPER_LNS = 60.0
PAPER_LS = 10.0
#: The paper's recording: spikes of the first PAPER_N_RECORDED E neurons and the first
#: PAPER_N_RECORDED_I I neurons; weights bounded by PAPER_WMAX (in units of the leak conductance).
PAPER_N_RECORDED = 1000
PAPER_N_RECORDED_I = 500
PAPER_WMAX = 20.0


@dataclass(frozen=True)
class AnalysisParams:
    """Parameters of the metric computations (``docs/metrics.md`` §1), paper values as defaults."""

    n_recorded: int = PAPER_N_RECORDED
    n_recorded_i: int = PAPER_N_RECORDED_I
    ls: float = PAPER_LS
    t_start_rec: float = PAPER_LNS
    t_stop_rec: float = PAPER_LNS + PAPER_LS
    bin_size_small: float = 0.001
    bin_size_medium: float = 0.01
    bin_size_big: float = 0.1
    window_view_auto_cov: float = 0.5
    n_bins_kl_isi: int = 100
    isi_lim_kl_isi: tuple[float, float] = (0.0, 1.0)
    wmax: float = PAPER_WMAX

    @classmethod
    def for_durations(cls, lns: float, ls: float, **overrides: Any) -> AnalysisParams:
        """Parameters for a run with a training phase ``lns`` and a scoring phase ``ls`` (s)."""
        return cls(ls=ls, t_start_rec=lns, t_stop_rec=lns + ls, **overrides)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AnalysisParams:
        """Build from a mapping such as HDF5 attributes; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key in known & set(values):
            value = values[key]
            if key == "isi_lim_kl_isi":
                value = tuple(float(v) for v in np.asarray(value).ravel())
            elif key in ("n_recorded", "n_recorded_i", "n_bins_kl_isi"):
                value = int(value)
            else:
                value = float(value)
            kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **changes: Any) -> AnalysisParams:
        return replace(self, **changes)


@dataclass(frozen=True)
class SpikeTrains:
    """Ragged spike trains of a population: flat times plus per-neuron offsets.

    Neuron ``n`` fired at ``times[offsets[n]:offsets[n + 1]]`` (seconds, absolute simulation
    time, in recorded order).
    """

    times: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        times = np.ascontiguousarray(self.times, dtype=np.float64)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0:
            raise RawFormatError("spike-train offsets must be 1-D and start at 0")
        if offsets[-1] != times.size or np.any(np.diff(offsets) < 0):
            raise RawFormatError(
                f"spike-train offsets must be non-decreasing and end at the number of spikes "
                f"({times.size}); found last offset {offsets[-1]}"
            )
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "offsets", offsets)

    @property
    def n_neurons(self) -> int:
        return self.offsets.size - 1

    @property
    def n_spikes(self) -> int:
        return int(self.times.size)

    def neuron(self, n: int) -> np.ndarray:
        return self.times[self.offsets[n]:self.offsets[n + 1]]

    def counts(self) -> np.ndarray:
        """Number of spikes of each neuron."""
        return np.diff(self.offsets)

    @cached_property
    def _neuron_ids(self) -> np.ndarray:
        ids = np.repeat(np.arange(self.n_neurons), self.counts())
        ids.flags.writeable = False
        return ids

    def neuron_ids(self) -> np.ndarray:
        """The neuron index of every entry of :attr:`times` (read-only, computed once)."""
        return self._neuron_ids

    def to_lists(self) -> list[np.ndarray]:
        return [self.neuron(n) for n in range(self.n_neurons)]

    @classmethod
    def from_lists(cls, trains: Iterable[Iterable[float]]) -> SpikeTrains:
        arrays = [np.asarray(t, dtype=np.float64).ravel() for t in trains]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([a.size for a in arrays])
        times = np.concatenate(arrays) if arrays else np.empty(0)
        return cls(times, offsets)

    @classmethod
    def from_events(cls, times: np.ndarray, neurons: np.ndarray, n_neurons: int) -> SpikeTrains:
        """Group (time, neuron) events by neuron, keeping each neuron's events in input order.

        Raises :class:`~fsbi_data.errors.RawFormatError` for a neuron index outside
        ``[0, n_neurons)``.
        """
        times = np.asarray(times, dtype=np.float64).ravel()
        neurons = np.asarray(neurons).ravel()
        if times.size != neurons.size:
            raise RawFormatError(
                f"{times.size} spike times but {neurons.size} neuron indices"
            )
        if neurons.size and (neurons.min() < 0 or neurons.max() >= n_neurons):
            bad = neurons[(neurons < 0) | (neurons >= n_neurons)][0]
            raise RawFormatError(
                f"neuron index {bad} outside the recorded range 0..{n_neurons - 1}"
            )
        order = np.argsort(neurons, kind="stable")
        offsets = np.zeros(n_neurons + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(np.bincount(neurons.astype(np.int64), minlength=n_neurons))
        return cls(times[order], offsets)

    def equals(self, other: SpikeTrains) -> bool:
        return (np.array_equal(self.offsets, other.offsets)
                and np.array_equal(self.times, other.times))


@dataclass(frozen=True)
class WeightTraces:
    """Monitored weights: sample times ``t`` (n_ts,) and per connection (n_syn, n_ts)."""

    t: np.ndarray
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.t, dtype=np.float64).ravel()
        weights = {}
        for name, w in self.weights.items():
            w = np.asarray(w, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != t.size:
                raise RawFormatError(
                    f"weights of connection {name!r} have shape {w.shape}; expected "
                    f"(n_synapses, {t.size}) to match the {t.size} sample times"
                )
            weights[name] = w
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "weights", weights)

    @property
    def connections(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def equals(self, other: WeightTraces) -> bool:
        return (np.array_equal(self.t, other.t) and self.connections == other.connections
                and all(np.array_equal(self.weights[c], other.weights[c])
                        for c in self.connections))


@dataclass(frozen=True)
class SimulationResult:
    """What one simulation of one rule produced.

    ``blow_up_time`` is None when the run completed, otherwise the simulated time (s) at which
    the rate checker stopped it; then spikes and weights are None and every metric is NaN.
    """

    spikes_e: SpikeTrains | None
    spikes_i: SpikeTrains | None
    weights: WeightTraces | None
    blow_up_time: float | None = None
    params: AnalysisParams = field(default_factory=AnalysisParams)
    seed: str | None = None
    theta: np.ndarray | None = None
    network_seed: int | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def blew_up(self) -> bool:
        return self.blow_up_time is not None

    @classmethod
    def blown_up(cls, time: float, params: AnalysisParams | None = None,
                 **kwargs: Any) -> SimulationResult:
        return cls(None, None, None, float(time), params or AnalysisParams(), **kwargs)
