"""The release's raw-simulation HDF5 layout (``docs/network-model.md`` §8.3), read and written.

One group per simulation, named by its seed: dataset ``theta``; attributes (protocol keys,
``t_start_rec``, ``t_stop_rec``, ``blow_up`` = -1 if completed, else the blow-up time);
for completed runs groups ``spiketimes`` and ``spiketimes_i`` (one dataset per neuron, named
by its index) and ``weights`` (``t`` and one (n_synapses, n_ts) dataset per connection).

Examples
--------
>>> for result in read_hdf5("pi3_r5to10Hz.h5"):          # doctest: +SKIP
...     print(result.seed, compute(result)["rate"])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np

from ..errors import RawFormatError
from .raw import AnalysisParams, SimulationResult, SpikeTrains, WeightTraces


def _trains(group: h5py.Group, n_neurons: int, where: str) -> SpikeTrains:
    names = [str(n) for n in range(n_neurons)]
    missing = [n for n in names if n not in group]
    if missing:
        raise RawFormatError(
            f"{where}: {len(missing)} of {n_neurons} recorded neurons have no dataset "
            f"(first missing: {missing[0]!r})"
        )
    return SpikeTrains.from_lists(group[n][()] for n in names)


def _result(name: str, group: h5py.Group, where: str) -> SimulationResult:
    attrs = dict(group.attrs)
    if "blow_up" not in attrs:
        raise RawFormatError(f"{where}: group {name!r} has no 'blow_up' attribute")
    params = AnalysisParams.from_mapping(attrs)
    theta = group["theta"][()] if "theta" in group else None
    blow_up = float(attrs["blow_up"])
    info = {k: v for k, v in attrs.items()}
    if blow_up >= 0:
        return SimulationResult.blown_up(blow_up, params, seed=name, theta=theta, info=info)
    spikes_e = _trains(group["spiketimes"], params.n_recorded, f"{where}/{name}/spiketimes")
    spikes_i = None
    if "spiketimes_i" in group:
        spikes_i = _trains(group["spiketimes_i"], params.n_recorded_i,
                           f"{where}/{name}/spiketimes_i")
    weights_group = group["weights"]
    weights = {k: weights_group[k][()] for k in weights_group if k != "t"}
    traces = WeightTraces(weights_group["t"][()], weights)
    return SimulationResult(spikes_e, spikes_i, traces, None, params, seed=name, theta=theta,
                            info=info)


def read_hdf5(path: str | os.PathLike, seeds: Iterable[str] | None = None
              ) -> Iterator[SimulationResult]:
    """Iterate over the simulations of a raw HDF5 file (all, or the given seeds)."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        names = list(f) if seeds is None else list(seeds)
        for name in names:
            if name not in f:
                raise RawFormatError(f"{path}: no simulation group {name!r}")
            yield _result(name, f[name], str(path))


def write_hdf5(path: str | os.PathLike, results: Iterable[SimulationResult],
               protocol_attrs: dict | None = None) -> Path:
    """Write simulations in the release's HDF5 layout (appending groups; seeds must be new)."""
    path = Path(path)
    with h5py.File(path, "a") as f:
        for result in results:
            if result.seed is None:
                raise RawFormatError("every result written to HDF5 needs a seed")
            if result.seed in f:
                raise RawFormatError(f"{path}: a simulation {result.seed!r} already exists")
            group = f.create_group(result.seed)
            if result.theta is not None:
                group["theta"] = np.asarray(result.theta)
            for key, value in {**(protocol_attrs or {}), **result.params.to_dict()}.items():
                group.attrs[key] = value
            group.attrs["blow_up"] = -1.0 if result.blow_up_time is None else result.blow_up_time
            if result.blew_up:
                continue
            for name, trains in (("spiketimes", result.spikes_e),
                                 ("spiketimes_i", result.spikes_i)):
                if trains is None:
                    continue
                sub = group.create_group(name)
                for n in range(trains.n_neurons):
                    sub[str(n)] = trains.neuron(n)
            weights = group.create_group("weights")
            weights["t"] = result.weights.t
            for connection, w in result.weights.weights.items():
                weights[connection] = w
    return path
