"""Raw stores of many simulations, HDF5 → raw store, and metrics recomputed with Dask."""

import math

import numpy as np
import pytest

from fsbi_data.converters.raw import convert_raw
from fsbi_data.errors import StoreError
from fsbi_data.metrics import AnalysisParams, compute, write_hdf5
from fsbi_data.metrics.raw import SimulationResult, SpikeTrains, WeightTraces
from fsbi_data.metrics.rawstore import read_simulations, write_raw_store
from fsbi_data.metrics.recompute import recompute
from fsbi_data.schema import family

PARAMS = AnalysisParams(n_recorded=60, n_recorded_i=30, ls=2.0, t_start_rec=1.0, t_stop_rec=3.0)


def poisson(n, rate, rng):
    return SpikeTrains.from_lists(
        np.round(1.0 + np.sort(rng.choice(20_000, rng.poisson(rate * 2), replace=False)) * 1e-4, 4)
        for _ in range(n))


def simulations(count, seed=0):
    rng = np.random.default_rng(seed)
    fam = family("6pPol")
    t = np.round(1.0 + 0.1 * np.arange(20), 1)
    results = []
    for k in range(count):
        theta = fam.low + rng.random(fam.n_theta) * (fam.high - fam.low)
        seed_text = f"{k:032x}"
        if k % 17 == 5:
            results.append(SimulationResult.blown_up(0.5 + k / 1000, PARAMS, seed=seed_text,
                                                     theta=theta))
            continue
        weights = {c: np.clip(rng.normal(1.0, 0.5, (10, t.size)), 0, 20)
                   for c in fam.plastic_connections}
        results.append(SimulationResult(poisson(60, rng.uniform(2, 20), rng),
                                        poisson(30, rng.uniform(2, 20), rng),
                                        WeightTraces(t, weights), None, PARAMS, seed=seed_text,
                                        theta=theta))
    return results


def test_raw_store_round_trip(tmp_path):
    results = simulations(30)
    path = write_raw_store(results, tmp_path / "raw.zarr", "6pPol")
    back = read_simulations(path, 3, 12)
    for original, read in zip(results[3:12], back, strict=True):
        assert read.seed == original.seed and np.array_equal(read.theta, original.theta)
        assert read.blow_up_time == original.blow_up_time
        if original.blew_up:
            assert read.spikes_e is None
            continue
        assert read.spikes_e.equals(original.spikes_e) and read.spikes_i.equals(original.spikes_i)
        assert read.weights.equals(original.weights)
    with pytest.raises(StoreError, match="exists"):
        write_raw_store(results, path, "6pPol")


def test_hdf5_to_raw_store(tmp_path):
    results = simulations(12, seed=4)
    h5 = write_hdf5(tmp_path / "raw.h5", results)
    raw = convert_raw(h5, tmp_path / "raw.zarr", family="6pPol")
    for original, read in zip(results, read_simulations(raw), strict=True):
        assert compute(read) == compute(original) or all(
            math.isnan(v) for v in compute(read).values())


def test_recompute_on_a_two_worker_cluster(tmp_path):
    results = simulations(210, seed=1)
    raw = write_raw_store(results, tmp_path / "raw.zarr", "6pPol")
    ds = recompute(raw, workers=2, block=30, out=tmp_path / "metrics.npy")
    assert ds.sizes["rule"] == 210 and ds.attrs["family"] == "6pPol"
    assert list(ds.seed.values) == [r.seed for r in results]
    for k in (0, 5, 77, 209):
        expected = compute(results[k])
        for name, value in expected.items():
            got = float(ds[name].values[k])
            assert (math.isnan(got) and math.isnan(value)) or got == value, (k, name)
    records = np.load(tmp_path / "metrics.npy")
    assert records.dtype == family("6pPol").record_dtype and len(records) == 210
    assert np.isnan(records["rate"][5]) and np.isfinite(records["rate"][0])
