"""Metrics against the conformance values of spec/metrics.md §6 and hand-worked inputs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbi_data.errors import RawFormatError, UnknownNameError
from fsbi_data.metrics import compute
from fsbi_data.metrics import functions as f
from fsbi_data.metrics.raw import AnalysisParams, SimulationResult, SpikeTrains, WeightTraces

PARAMS = AnalysisParams(n_recorded=4, n_recorded_i=2)
T = np.round(60.0 + 0.1 * np.arange(100), 1)


def close(value, expected, rel=1e-9):
    return value == pytest.approx(expected, rel=rel, abs=0)


def result(e_trains, i_trains=None, ee=None, ie=None, params=PARAMS):
    ee = np.full((1, 100), 0.5) if ee is None else ee
    weights = {"ee": ee} if ie is None else {"ee": ee, "ie": ie}
    spikes_i = SpikeTrains.from_lists(i_trains) if i_trains is not None else None
    return SimulationResult(SpikeTrains.from_lists(e_trains), spikes_i, WeightTraces(T, weights),
                            params=params, info={"family": "MLP"})


EE_ONLY = ("rate", "cv_isi", "kl_isi", "spatial_Fano", "temporal_Fano", "auto_cov", "fft",
           "w_blow", "std_rate_temporal", "std_rate_spatial", "std_cv", "w_creep", "rate_i",
           "weef")


def mixed_example():
    e = [np.round(60.0505 + 0.1 * np.arange(100), 4), np.round(60.0255 + 0.2 * np.arange(50), 4),
         [65.0005, 65.0025, 65.0045, 65.0065], [61.5005, 68.2505]]
    i = [np.round(60.0105 + 0.05 * np.arange(200), 4), []]
    ee = np.stack([np.full(100, 0.1), np.linspace(0.1, 0.3, 100), np.full(100, 20.0)])
    ie = np.stack([np.zeros(100), np.ones(100), np.ones(100)])
    return result(e, i, ee, ie)


MIXED_EXPECTED = {
    "rate": 3.9, "kl_isi": 2.853939717, "spatial_Fano": 0.01515151515,
    "temporal_Fano": 1.113636364, "auto_cov": 0.3276070829, "fft": 1.276595496,
    "w_blow": 0.3333333333, "std_rate_temporal": 0.03118309987, "std_rate_spatial": 4.011234224,
    "w_creep": 0.009852216749, "rate_i": 10.0, "weef": 6.8, "wief": 0.6666666667,
}


@pytest.mark.parametrize("name", sorted(MIXED_EXPECTED))
def test_mixed_conformance_example(name):
    # The spec prints 10 significant digits.
    assert close(compute(mixed_example())[name], MIXED_EXPECTED[name], rel=5e-10)


def test_regular_trains_have_cv_near_zero():
    metrics = compute(mixed_example())
    assert 0 <= metrics["cv_isi"] < 1e-11 and 0 <= metrics["std_cv"] < 1e-11


def test_all_silent():
    m = compute(result([[]] * 4, [[], []]), EE_ONLY)
    assert m["auto_cov"] == 1.0
    for name in ("rate", "cv_isi", "kl_isi", "spatial_Fano", "temporal_Fano", "fft", "w_blow",
                 "std_rate_temporal", "std_rate_spatial", "std_cv", "w_creep", "rate_i"):
        assert m[name] == 0.0, name
    assert m["weef"] == 0.5


def test_one_spike_per_neuron():
    m = compute(result([[65.0]] * 4, [[], []]), EE_ONLY)
    assert close(m["rate"], 0.1) and m["cv_isi"] == 0 and m["kl_isi"] == 0
    assert m["spatial_Fano"] == 0 and m["temporal_Fano"] == 0 and m["auto_cov"] == 1
    assert close(m["fft"], 0.9997, rel=1e-4) and close(m["std_rate_temporal"], 0.01, rel=1e-3)


def test_two_spikes_per_neuron():
    m = compute(result([[61.0, 62.0]] * 4, [[], []]), EE_ONLY)
    assert close(m["rate"], 0.2) and m["cv_isi"] == 0 and m["temporal_Fano"] == 0
    assert close(m["kl_isi"], 5.590065, rel=1e-6) and m["auto_cov"] == 1


def test_four_spikes_per_neuron():
    m = compute(result([[61.0, 62.0, 63.5, 66.0]] * 4, [[], []]), EE_ONLY)
    assert close(m["cv_isi"], 0.374166, rel=1e-5)
    assert close(m["temporal_Fano"], 0.959596, rel=1e-5)
    assert m["spatial_Fano"] == 0
    assert close(m["auto_cov"], 0.013983, rel=1e-4)


def test_spikes_after_the_last_big_edge():
    m = compute(result([[69.95, 69.96, 69.97, 69.98]] * 4, [[], []]), EE_ONLY)
    assert close(m["rate"], 0.4) and m["spatial_Fano"] == 0 and m["temporal_Fano"] == 0
    assert close(m["auto_cov"], 0.039705, rel=1e-4)


def test_missing_inhibitory_spikes_only_affect_rate_i():
    with_i, without_i = compute(mixed_example()), compute(result(
        [np.round(60.0505 + 0.1 * np.arange(100), 4), np.round(60.0255 + 0.2 * np.arange(50), 4),
         [65.0005, 65.0025, 65.0045, 65.0065], [61.5005, 68.2505]], None,
        mixed_example().weights.weights["ee"], mixed_example().weights.weights["ie"]))
    assert math.isnan(without_i["rate_i"])
    assert {k: v for k, v in without_i.items() if k != "rate_i"} == {
        k: v for k, v in with_i.items() if k != "rate_i"}


@pytest.mark.parametrize("missing", ["spikes", "weights", "blow_up"])
def test_missing_data_gives_nan_everywhere(missing):
    base = mixed_example()
    if missing == "spikes":
        r = SimulationResult(None, base.spikes_i, base.weights, info={"family": "6pPol"})
    elif missing == "weights":
        r = SimulationResult(base.spikes_e, base.spikes_i, None, info={"family": "6pPol"})
    else:
        r = SimulationResult.blown_up(12.5, info={"family": "6pPol"})
    m = compute(r)
    assert len(m) == 17 and all(math.isnan(v) for v in m.values())


def test_saturating_weights():
    ee = np.concatenate([np.zeros(50), np.full(50, 20.0)])[None, :]
    m = compute(result([[]] * 4, [[], []], ee=ee), EE_ONLY)
    assert m["w_blow"] == 1.0 and m["w_creep"] == 2.0 and m["weef"] == 20.0


def test_weight_ramp_creep():
    m = compute(result([[]] * 4, [[], []], ee=np.linspace(0.5, 1.0, 100)[None, :]), EE_ONLY)
    assert close(m["w_creep"], 2 * 0.5 / 1.5) and m["weef"] == 1.0


def test_w_creep_guard_uses_column_means():
    # 0.02 -> 0.08: the column means sum to 0.09999999999999998, below the strict guard.
    w = np.tile(np.linspace(0.02, 0.08, 100), (3, 1))
    traces = WeightTraces(T, {"ee": w})
    assert f.w_creep(traces) == 0.0


def test_w_blow_keeps_samples_strictly_inside_the_window():
    w = np.ones((2, 100))
    w[:, 0] = 0.0  # t = 60.0 is not strictly after t_start_rec
    assert f.w_blow(WeightTraces(T, {"ee": w}), PARAMS) == 0.0
    w[:, 1] = 20.0
    assert close(f.w_blow(WeightTraces(T, {"ee": w}), PARAMS), 1 / 99)
    with pytest.raises(RawFormatError, match="outside the recording window"):
        f.w_blow(WeightTraces(T + 100, {"ee": w}), PARAMS)


def test_binning_uses_float_edges_of_arange():
    edges = f.bin_edges(60.0, 70.0, 0.1)
    assert edges.size == 100
    # 60.3 lies just below its floating-point edge: it falls into the previous bin.
    trains = SpikeTrains.from_lists([[60.3, 69.9, 69.95]])
    counts = f.binned_counts(trains, edges)
    assert counts[0, 2] == 1 and counts[0, 98] == 1 and counts.sum() == 2


def test_hand_worked_rates_and_cv():
    trains = SpikeTrains.from_lists([[60.0, 60.1, 60.3, 60.6], [60.5]])
    params = AnalysisParams(n_recorded=2, ls=10.0)
    assert f.rate(trains, params) == 5 / 2 / 10
    isi = np.array([0.1, 0.2, 0.3])
    assert close(f.cv_isi(trains, params), np.mean([np.std(np.diff([60.0, 60.1, 60.3, 60.6]))
                                                   / np.mean(np.diff([60.0, 60.1, 60.3, 60.6])),
                                                   0.0]))
    assert close(np.std(isi) / np.mean(isi), f.neuron_cvs(trains)[0], rel=1e-12)
    assert f.std_rate_spatial(trains, params) == pytest.approx(np.std([0.4, 0.1]))


def test_fano_helper():
    counts = np.array([[0, 1, 2], [3, 0, 0], [1, 1, 1]])
    assert np.allclose(f.fano(counts, axis=1), [0.0, 0.0, 0.0])  # each row sums to <= 3
    big = np.array([[0, 2, 4, 6]])
    assert f.fano(big, axis=1)[0] == pytest.approx(np.var([0, 2, 4, 6]) / 3.0)


def test_task_metrics():
    trains = SpikeTrains.from_lists([[1.0, 2.0, 2.5], [2.0, 4.0]])
    task = {"lpt": 0.5, "lt": 0.5, "lb0": 0.5, "lb1": 0.5, "lp": 0.5, "lb2": 1.0}
    r = SimulationResult(trains, None, WeightTraces(T, {"ee": np.ones((1, 100))}),
                         params=AnalysisParams(n_recorded=2))
    m = compute(r, ["r_nov", "r_fam", "std_nov", "std_fam", "ratio_nov_fam"], task=task)
    # novel window [2.0, 2.5]: counts (2, 1); familiar [3.5, 4.0]: counts (0, 1)
    assert m["r_nov"] == 1.5 and m["std_nov"] == 0.5
    assert m["r_fam"] == 0.5 and m["std_fam"] == 0.5
    assert m["ratio_nov_fam"] == pytest.approx((1.5 - 0.5) / 0.5001)
    with pytest.raises(RawFormatError, match="lpt"):
        compute(r, ["r_nov"], task={})


def test_unknown_metric_names():
    with pytest.raises(UnknownNameError, match="weif"):
        compute(mixed_example(), ["weif"])
    with pytest.raises(RawFormatError, match="n_recorded = 4"):
        f.rate(SpikeTrains.from_lists([[60.0]]), PARAMS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(590_000, 710_000), max_size=200),
       st.sampled_from([0.001, 0.01, 0.1, 0.003]))
def test_bin_index_equals_numpy_histogram(steps, bin_size):
    times = np.round(np.array(steps, dtype=np.float64) * 1e-4, 4)
    edges = f.bin_edges(60.0, 70.0, bin_size)
    index = f.bin_index(times, edges)
    counts = np.bincount(index[index >= 0], minlength=edges.size - 1)
    assert np.array_equal(counts, np.histogram(times, bins=edges)[0])
    expected = np.searchsorted(edges, times, side="right") - 1
    inside = (times >= edges[0]) & (times < edges[-1])
    assert np.array_equal(index[inside], expected[inside])
