"""Readers: genuine Auryn outputs, round trips of the documented formats, bad input."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbi_data.errors import RawFormatError
from fsbi_data.metrics import (
    AnalysisParams,
    SimulationResult,
    SpikeTrains,
    WeightTraces,
    compute,
    parse_marker,
    read_auryn,
    read_hdf5,
    read_ras,
    read_syn,
    write_hdf5,
    write_ras,
    write_syn,
)

SAMPLE = Path(__file__).parent / "data" / "auryn-sample"
EXPECTED = json.loads((SAMPLE / "expected_metrics.json").read_text())
RUNS = json.loads((SAMPLE / "runs.json").read_text())
SAMPLE_RUNS = [("sample_poly_s1", "s1", "6pPol"), ("sample_poly_s2", "s2", "6pPol"),
               ("sample_mlp_m0", "m0", "MLP"), ("sample_poly_s3", "s3", "6pPol")]


@pytest.mark.parametrize("run_id, key, protocol", SAMPLE_RUNS)
def test_genuine_auryn_outputs_match_the_papers_metrics(run_id, key, protocol):
    expected = EXPECTED[run_id]
    params = AnalysisParams.for_durations(expected.get("lns", 60.0), expected.get("ls", 10.0))
    result = read_auryn(SAMPLE, run_id, protocol, params=params, stdout=RUNS[key]["stdout"])
    metrics = compute(result)
    if not expected["metrics"]:
        assert result.blow_up_time == pytest.approx(0.762)
        assert len(metrics) == 17 and all(math.isnan(v) for v in metrics.values())
        return
    assert set(metrics) == set(expected["metrics"])
    for name, text in expected["metrics"].items():
        assert metrics[name] == pytest.approx(float(text), rel=1e-9, abs=0), name


def test_marker():
    assert parse_marker("cynthia-1cynthia") is None
    assert parse_marker("noise\ncynthia23.4567cynthia") == 23.4567
    with pytest.raises(RawFormatError, match="no result marker"):
        parse_marker("Segmentation fault")


trains_strategy = st.lists(
    st.lists(st.integers(600_000, 699_999), max_size=30, unique=True).map(sorted),
    min_size=1, max_size=12)


@settings(max_examples=30, deadline=None)
@given(trains_strategy)
def test_ras_round_trip(tmp_path_factory, steps):
    trains = SpikeTrains.from_lists([np.array(s) * 1e-4 for s in steps])
    path = write_ras(tmp_path_factory.mktemp("ras") / "out.e.x.0.ras", trains)
    back = read_ras(path, trains.n_neurons, (60.0, 70.0))
    assert np.array_equal(back.offsets, trains.offsets)
    assert np.allclose(back.times, trains.times, rtol=0, atol=5e-7)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_syn_round_trip(tmp_path_factory, n_syn, n_ts, seed):
    rng = np.random.default_rng(seed)
    w = np.round(rng.uniform(0, 20, (n_syn, n_ts)), 3)
    w[0, 0] = 0.0
    t = np.round(60 + 0.1 * np.arange(n_ts), 1)
    path = write_syn(tmp_path_factory.mktemp("syn") / "con_ee.x.0.syn", t, w)
    t_back, w_back = read_syn(path)
    assert np.array_equal(t_back, t)
    assert np.allclose(w_back, w, rtol=1e-6) and w_back[0, 0] == 0.0


def test_hdf5_round_trip(tmp_path):
    completed = read_auryn(SAMPLE, "sample_poly_s1", "6pPol")
    completed = SimulationResult(completed.spikes_e, completed.spikes_i, completed.weights,
                                 None, completed.params, seed="a" * 32, theta=np.arange(25.0))
    blown = SimulationResult.blown_up(0.762, seed="b" * 32, theta=np.ones(25))
    path = write_hdf5(tmp_path / "raw.h5", [completed, blown], {"name": "sim_bg"})
    first, second = read_hdf5(path)
    assert first.seed == "a" * 32 and second.seed == "b" * 32
    assert first.spikes_e.equals(completed.spikes_e) and first.spikes_i.equals(completed.spikes_i)
    assert first.weights.equals(completed.weights) and first.params == completed.params
    assert second.blow_up_time == 0.762 and second.spikes_e is None
    assert compute(first) == compute(completed)
    with pytest.raises(RawFormatError, match="already exists"):
        write_hdf5(path, [blown])


@pytest.mark.parametrize("content, message", [
    ("60.000100 1\n60.0002\n", "malformed"),
    ("60.000100 1\nsixty 2\n", "malformed"),
    ("60.000100 1.5\n", "integers"),
    ("60.000100 7\n", "outside the recorded range 0..3"),
    ("60.000200 1\n60.000100 2\n", "line 2 goes back in time"),
    ("59.000100 1\n", "outside the scoring window"),
    ("60.000100 1 3\n", "3 columns"),
])
def test_bad_spike_files(tmp_path, content, message):
    path = tmp_path / "out.e.x.0.ras"
    path.write_text(content)
    with pytest.raises(RawFormatError, match=message) as error:
        read_ras(path, 4, (60.0, 70.0))
    assert str(path) in str(error.value)


def test_empty_spike_file_is_a_silent_population(tmp_path):
    path = tmp_path / "out.e.x.0.ras"
    path.write_text("")
    assert read_ras(path, 3).counts().tolist() == [0, 0, 0]


def test_missing_and_mismatched_weight_files(tmp_path):
    for prefix in ("out.e", "out.i"):
        (tmp_path / f"{prefix}.r.0.ras").write_text("60.000100 1\n")
    params = AnalysisParams(n_recorded=4, n_recorded_i=4)
    write_syn(tmp_path / "con_ee.r.0.syn", np.array([60.0, 60.1]), np.ones((2, 2)))
    with pytest.raises(RawFormatError, match="con_ie.r.0.syn is missing"):
        read_auryn(tmp_path, "r", "MLP", params=params)
    write_syn(tmp_path / "con_ie.r.0.syn", np.array([60.0]), np.ones((2, 1)))
    with pytest.raises(RawFormatError, match="other times"):
        read_auryn(tmp_path, "r", "MLP", params=params)
    write_syn(tmp_path / "con_ie.r.0.syn", np.array([60.0, 60.1]), np.ones((2, 2)))
    result = read_auryn(tmp_path, "r", "MLP", params=params)
    assert isinstance(result.weights, WeightTraces) and result.spikes_e.n_spikes == 1


def test_wrong_window_is_reported_not_miscomputed():
    with pytest.raises(RawFormatError, match="outside the scoring window"):
        read_auryn(SAMPLE, "sample_mlp_m0", "MLP")  # ran with lns 1 s, ls 2 s


def test_metrics_cli_end_to_end():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "metrics", str(SAMPLE), "--id",
                          "sample_poly_s1", "--json"], capture_output=True, text=True, check=True)
    values = json.loads(out.stdout)
    assert values["rate"] == pytest.approx(3.9799, rel=1e-12)
    failed = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "metrics", str(SAMPLE),
                             "--id", "sample_mlp_m0", "--protocol", "MLP"],
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "--lns, --ls" in failed.stderr
    assert "Traceback" not in failed.stderr
