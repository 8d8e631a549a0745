"""Metrics against the conformance values of spec/metrics.md §6 and hand-worked inputs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbi_data.errors import RawFormatError, UnknownNameError
from fsbi_data.metrics import autocorrelation as ac
from fsbi_data.metrics import binning, compute
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


def test_neurons_beyond_n_recorded_are_ignored():
    mixed = mixed_example()
    extra = SpikeTrains.from_lists(mixed.spikes_e.to_lists() + [[60.5, 61.5], [62.0]])
    wider = SimulationResult(extra, mixed.spikes_i, mixed.weights, params=PARAMS,
                             info=mixed.info)
    assert compute(wider) == compute(mixed)


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
    index = binning.bin_index(times, edges)
    counts = np.bincount(index[index >= 0], minlength=edges.size - 1)
    assert np.array_equal(counts, np.histogram(times, bins=edges)[0])
    expected = np.searchsorted(edges, times, side="right") - 1
    inside = (times >= edges[0]) & (times < edges[-1])
    assert np.array_equal(index[inside], expected[inside])


def test_bin_index_does_not_count_nan_or_infinite_times():
    times = np.array([np.nan, -np.inf, 60.005, np.inf, 69.99])
    edges = f.bin_edges(60.0, 70.0, 0.01)
    index = binning.bin_index(times, edges)
    assert index.tolist() == [-1, -1, 0, -1, -1]
    counts = np.bincount(index[index >= 0], minlength=edges.size - 1)
    assert np.array_equal(counts, np.histogram(times, bins=edges)[0])


# --- auto_cov: spike-pair counting and FFT against the definition of spec/metrics.md §3.6 ---

def reference_auto_cov(trains, params):
    """§3.6 literally, one neuron at a time: NumPy histogram, std test, SciPy correlate."""
    from scipy.signal import correlate

    edges = np.arange(params.t_start_rec, params.t_stop_rec, params.bin_size_medium)
    lags = int(params.window_view_auto_cov / params.bin_size_medium)
    values = []
    for n in range(params.n_recorded):
        x = np.histogram(trains.neuron(n), bins=edges)[0]
        if np.std(x) > ac.AUTO_COV_MIN_STD:
            y = x - np.mean(x)
            g = correlate(y, y, mode="full", method="direct")
            a = np.abs(g) / np.max(g)
            mid = x.size - 1
            values.append(np.mean(a[mid - lags:mid + lags + 1]))
        else:
            values.append(1.0)
    return float(np.mean(values))


def both_autocorrelations(trains, params):
    """(active, Σ|g_m|/g_0) from spike pairs and from the FFT, for the recorded neurons."""
    edges = f.bin_edges(params.t_start_rec, params.t_stop_rec, params.bin_size_medium)
    n_bins = edges.size - 1
    max_lag = min(int(params.window_view_auto_cov / params.bin_size_medium), n_bins - 1)
    neuron, bins = f.counted_spikes(trains, edges)
    totals = np.bincount(neuron, minlength=trains.n_neurons)
    pairs = ac.pair_autocorrelation(neuron, bins, totals, n_bins, max_lag)
    counts = binning.count_matrix(neuron, bins, trains.n_neurons, n_bins)
    return pairs, ac.fft_autocorrelation(counts, max_lag)


@st.composite
def spike_trains(draw):
    """Trains on the 0.1-ms grid: silent, sparse, Poisson up to 500 Hz, bursty, regular,
    some spikes outside the window or on 10-ms edges, some trains out of order."""
    trains = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["silent", "few", "poisson", "burst", "regular", "edges"]))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        if kind == "silent":
            steps = np.empty(0, dtype=np.int64)
        elif kind == "few":
            steps = rng.integers(599_000, 701_000, draw(st.integers(1, 4)))
        elif kind == "poisson":
            rate = draw(st.sampled_from([1.0, 10.0, 50.0, 500.0]))
            steps = rng.choice(np.arange(599_000, 701_000), rng.poisson(rate * 10.2),
                               replace=False)
        elif kind == "burst":
            centres = rng.integers(600_000, 700_000, draw(st.integers(1, 5)))
            steps = np.concatenate([c + rng.integers(0, 300, 40) for c in centres])
        elif kind == "regular":
            period = draw(st.integers(50, 5_000))
            steps = np.arange(draw(st.integers(600_000, 600_000 + period)), 700_000, period)
        else:
            steps = 100 * rng.integers(5_990, 7_010, draw(st.integers(2, 60)))
        if draw(st.booleans()):
            steps = np.sort(steps)
        trains.append(np.round(steps * 1e-4, 4))
    return SpikeTrains.from_lists(trains)


# (t_stop_rec, bin_size_medium, window_view_auto_cov): the paper's; a recording shorter than
# two windows; the lag count truncated from 2.9999999999999996; finer bins.
AUTO_COV_SETTINGS = [(70.0, 0.01, 0.5), (60.7, 0.01, 0.5), (70.0, 0.1, 0.3), (65.0, 0.005, 0.2)]


@settings(max_examples=200, deadline=None)
@given(spike_trains(), st.sampled_from(AUTO_COV_SETTINGS))
def test_auto_cov_equals_the_definition(trains, setting):
    t_stop, bin_size, window = setting
    params = AnalysisParams(n_recorded=trains.n_neurons, t_stop_rec=t_stop,
                            bin_size_medium=bin_size, window_view_auto_cov=window)
    expected = reference_auto_cov(trains, params)
    assert close(f.auto_cov(trains, params), expected, rel=1e-12)
    (active_pairs, side_pairs), (active_fft, side_fft) = both_autocorrelations(trains, params)
    assert np.array_equal(active_pairs, active_fft)
    assert np.allclose(side_pairs, side_fft, rtol=1e-10, atol=0)


@settings(max_examples=100, deadline=None)
@given(spike_trains(), st.sampled_from(AUTO_COV_SETTINGS + [(70.0, 0.01, 0.01)]))
def test_lag_products_and_edge_totals_count_spikes_exactly(trains, setting):
    t_stop, bin_size, window = setting
    edges = f.bin_edges(60.0, t_stop, bin_size)
    n_bins = edges.size - 1
    max_lag = min(int(window / bin_size), n_bins - 1)
    counts = f.binned_counts(trains, edges)
    neuron, bins = f.counted_spikes(trains, edges)
    products = ac.lag_products(neuron, bins, trains.n_neurons, n_bins, max_lag)
    expected = np.stack([np.sum(counts[:, :n_bins - m] * counts[:, m:], axis=1)
                         for m in range(max_lag + 1)], axis=1)
    assert np.array_equal(products, expected)
    edges_first_last = np.cumsum(counts[:, :max_lag] + counts[:, ::-1][:, :max_lag], axis=1)
    assert np.array_equal(ac.edge_totals(neuron, bins, trains.n_neurons, n_bins, max_lag),
                          edges_first_last)


@pytest.mark.parametrize("spikes, active", [
    ([61.005, 62.005], False),  # 2 spikes in different bins: std ≈ 0.045
    ([61.005, 62.005, 63.005], True),  # 3 spikes in different bins: std ≈ 0.055
    ([61.001, 61.009], True),  # 2 spikes in one bin: std ≈ 0.063
    ([61.01, 61.02, 61.03], True),  # on 10-ms edges
    ([], False),
])
def test_auto_cov_threshold_near_the_sparsest_trains(spikes, active):
    trains = SpikeTrains.from_lists([spikes])
    params = AnalysisParams(n_recorded=1)
    value = f.auto_cov(trains, params)
    assert close(value, reference_auto_cov(trains, params), rel=1e-12)
    assert (value < 1.0) == active


@pytest.mark.parametrize("n_bins", [800, 1600])
def test_auto_cov_threshold_ties_are_decided_by_numpy(n_bins):
    # K - 2d bins with one spike, d bins with two, d empty (d = K / 800): the variance of the
    # counts is exactly 2d / K = 0.05², so only NumPy's rounding decides std > 0.05.
    params = AnalysisParams(n_recorded=1, t_stop_rec=60.0 + n_bins * 0.01 + 0.005)
    edges = f.bin_edges(params.t_start_rec, params.t_stop_rec, params.bin_size_medium)
    assert edges.size - 1 == n_bins
    doubled = n_bins // 800
    centres = 60.005 + 0.01 * np.arange(n_bins - doubled)
    trains = SpikeTrains.from_lists([np.round(np.r_[centres, centres[:doubled]], 4)])
    counts = f.binned_counts(trains, edges)
    assert counts.sum() == n_bins and np.sum(counts ** 2) == n_bins + 2 * doubled
    (active, _), (numpy_active, _) = both_autocorrelations(trains, params)
    assert active[0] == numpy_active[0] == (np.std(counts[0]) > ac.AUTO_COV_MIN_STD)
    assert f.auto_cov(trains, params) == reference_auto_cov(trains, params)


def test_auto_cov_counts_pairs_for_sparse_trains_and_uses_the_fft_for_dense_ones():
    rng = np.random.default_rng(0)
    n_bins, max_lag = 999, 50
    assert ac.pair_counting_pays(rng.poisson(100, 1000), n_bins, max_lag)  # 10 Hz
    assert not ac.pair_counting_pays(rng.poisson(5000, 1000), n_bins, max_lag)  # 500 Hz
    # A neuron with so many spikes that K² g_m could overflow int64 takes the FFT.
    assert not ac.pair_counting_pays(np.array([2**31 // n_bins]), n_bins, max_lag)
