"""A raw store: many simulations' spike trains and weight traces in one Zarr group.

Layout (one Zarr v3 group, attributes ``family``, ``connections``, ``analysis_params``):

- ``seed`` (n_sims, 32) uint8 — ASCII seeds; ``theta`` (n_sims, n_theta) float64;
  ``blow_up_time`` (n_sims,) float64, NaN for completed runs;
- ``e_times`` / ``i_times``: every spike time of every simulation, concatenated;
  ``e_sim_offsets`` / ``i_sim_offsets`` (n_sims + 1,): where each simulation's spikes start;
  ``e_neuron_offsets`` / ``i_neuron_offsets`` (n_sims, n_recorded + 1): per-neuron offsets
  inside the simulation (ragged trains, as :class:`~fsbi_data.metrics.raw.SpikeTrains`);
- ``weight_t`` (n_sims, n_ts) and ``weights_<connection>`` (n_sims, n_synapses, n_ts);
  NaN for blown-up runs.

A store is written to a temporary sibling and renamed into place, so it is never half-written.

Examples
--------
>>> write_raw_store(results, "raw.zarr", "6pPol")         # doctest: +SKIP
>>> read_simulations("raw.zarr", 0, 1)                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import RawFormatError, StoreError
from ..files import published
from ..schema import family
from .raw import AnalysisParams, SimulationResult, SpikeTrains, WeightTraces

SEED_BYTES = 32


def _spike_columns(trains: Sequence[SpikeTrains | None], n_neurons: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times, sim_offsets, neuron_offsets = [], [0], []
    for t in trains:
        if t is None:
            t = SpikeTrains(np.empty(0), np.zeros(n_neurons + 1, dtype=np.int64))
        if t.n_neurons != n_neurons:
            raise RawFormatError(f"a simulation has {t.n_neurons} recorded neurons, "
                                 f"expected {n_neurons}")
        times.append(t.times)
        sim_offsets.append(sim_offsets[-1] + t.n_spikes)
        neuron_offsets.append(t.offsets)
    return (np.concatenate(times) if times else np.empty(0), np.array(sim_offsets),
            np.stack(neuron_offsets))


def write_raw_store(results: Sequence[SimulationResult], dest: str | os.PathLike,
                    family_name: str) -> Path:
    """Write simulations (all of one family and one analysis protocol) as a raw store."""
    import zarr

    fam = family(family_name)
    dest = Path(dest)
    if dest.exists():
        raise StoreError(f"{dest} exists; choose a new path for the raw store")
    if not results:
        raise RawFormatError("no simulations to write")
    params = results[0].params
    if any(r.params != params for r in results):
        raise RawFormatError("all simulations of a raw store must share analysis parameters")
    completed = [r for r in results if not r.blew_up]
    if not completed:
        raise RawFormatError("a raw store needs at least one completed simulation")
    template = completed[0].weights
    n_ts = template.t.size
    connections = fam.plastic_connections
    n = len(results)
    columns: dict[str, np.ndarray] = {}
    seeds = np.zeros((n, SEED_BYTES), dtype=np.uint8)
    for i, r in enumerate(results):
        if r.seed is None or len(r.seed) != SEED_BYTES:
            raise RawFormatError(f"simulation {i} needs a 32-character seed, got {r.seed!r}")
        seeds[i] = np.frombuffer(r.seed.encode("ascii"), dtype=np.uint8)
    columns["seed"] = seeds
    columns["theta"] = np.stack([np.full(fam.n_theta, np.nan) if r.theta is None
                                 else np.asarray(r.theta, dtype=np.float64) for r in results])
    columns["blow_up_time"] = np.array([np.nan if r.blow_up_time is None else r.blow_up_time
                                        for r in results])
    for prefix, attr, count in (("e", "spikes_e", params.n_recorded),
                                ("i", "spikes_i", params.n_recorded_i)):
        times, sims, neurons = _spike_columns([getattr(r, attr) for r in results], count)
        columns[f"{prefix}_times"] = times
        columns[f"{prefix}_sim_offsets"] = sims
        columns[f"{prefix}_neuron_offsets"] = neurons
    weight_t = np.full((n, n_ts), np.nan)
    weights = {c: np.full((n, template.weights[c].shape[0], n_ts), np.nan) for c in connections}
    for i, r in enumerate(results):
        if r.blew_up:
            continue
        if r.weights.t.size != n_ts:
            raise RawFormatError(f"simulation {r.seed} has {r.weights.t.size} weight samples, "
                                 f"expected {n_ts}")
        weight_t[i] = r.weights.t
        for c in connections:
            weights[c][i] = r.weights.weights[c]
    columns["weight_t"] = weight_t
    columns.update({f"weights_{c}": w for c, w in weights.items()})

    with published(dest, directory=True) as tmp:
        group = zarr.open_group(tmp, mode="w", zarr_format=3)
        for name, data in columns.items():
            chunks = (max(1, min(len(data), 1 << 20)),) + data.shape[1:] if name.endswith(
                "_times") else (min(len(data), 64),) + data.shape[1:]
            group.create_array(name, data=data, chunks=chunks)
        group.attrs.update({"family": fam.name, "connections": list(connections),
                            "record_i": any(r.spikes_i is not None for r in completed),
                            "analysis_params": json.dumps(params.to_dict())})
    return dest


def raw_store_size(path: str | os.PathLike) -> int:
    """Number of simulations in a raw store."""
    import zarr

    return zarr.open_group(Path(path), mode="r")["seed"].shape[0]


def read_simulations(path: str | os.PathLike, start: int = 0, stop: int | None = None
                     ) -> list[SimulationResult]:
    """Simulations ``start … stop - 1`` of a raw store."""
    import zarr

    group = zarr.open_group(Path(path), mode="r")
    stop = group["seed"].shape[0] if stop is None else stop
    attrs = dict(group.attrs)
    params = AnalysisParams.from_mapping(json.loads(attrs["analysis_params"]))
    seeds = group["seed"][start:stop]
    theta = group["theta"][start:stop]
    blow_up = group["blow_up_time"][start:stop]
    trains = {}
    for prefix in ("e", "i"):
        sims = group[f"{prefix}_sim_offsets"][start:stop + 1]
        flat = group[f"{prefix}_times"][sims[0]:sims[-1]]
        neurons = group[f"{prefix}_neuron_offsets"][start:stop]
        trains[prefix] = [SpikeTrains(flat[sims[k] - sims[0]:sims[k + 1] - sims[0]], neurons[k])
                          for k in range(stop - start)]
    weight_t = group["weight_t"][start:stop]
    weights = {c: group[f"weights_{c}"][start:stop] for c in attrs["connections"]}
    results = []
    for k in range(stop - start):
        seed = seeds[k].tobytes().decode("ascii")
        info = {"family": attrs["family"]}
        if np.isfinite(blow_up[k]):
            results.append(SimulationResult.blown_up(float(blow_up[k]), params, seed=seed,
                                                     theta=theta[k], info=info))
            continue
        traces = WeightTraces(weight_t[k], {c: w[k] for c, w in weights.items()})
        spikes_i = trains["i"][k] if attrs["record_i"] else None
        results.append(SimulationResult(trains["e"][k], spikes_i, traces, None, params,
                                        seed=seed, theta=theta[k], info=info))
    return results
