"""The Dataset layout and the release-format generator."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsbi_data.errors import RawFormatError
from fsbi_data.metrics.raw import SpikeTrains, WeightTraces
from fsbi_data.schema import family
from fsbi_data.store.layout import dataset_from_records, metric_attrs, records_from_dataset
from fsbi_data.synthetic import release_records, write_release_file, write_round_files


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["6pPol", "MLP"]), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_records_round_trip_bitwise(name, n, seed):
    records = release_records(name, n, rng=seed)
    ds = dataset_from_records(records)
    assert ds.attrs["family"] == name
    back = records_from_dataset(ds)
    assert back.dtype == records.dtype
    assert back.tobytes() == records.tobytes()


def test_layout_labels_parameters_and_metrics():
    ds = dataset_from_records(release_records("6pPol", 10, rng=0))
    fam = family("6pPol")
    assert tuple(ds.param.values) == fam.param_names
    assert ds.connection.sel(param="alpha_ie").item() == "ie"
    assert ds.low.sel(param="tau_post_ii").item() == 0.01
    assert ds.rate.attrs == metric_attrs(fam, "rate")
    assert ds.rate.attrs["units"] == "Hz" and ds.rate.attrs["plausible_range"] == [1.0, 50.0]
    assert "plausible_range" not in ds.kl_isi.attrs
    seed = ds.seed.values[3]
    assert ds.sel(seed=seed).theta.values.tolist() == ds.theta.values[3].tolist()


def test_generated_file_has_np_save_header_and_realistic_content(tmp_path):
    path = write_release_file(tmp_path / "all.npy", "6pPol", 3000, rng=4, chunk_rows=700,
                              duplicate_seeds=5)
    records = np.load(path)
    buffer = io.BytesIO()
    np.save(buffer, records)
    assert path.read_bytes()[:512] == buffer.getvalue()[:512]
    assert path.stat().st_size == 512 + 3000 * 592
    blown_up = np.isnan(records["rate"])
    assert 0.02 < blown_up.mean() < 0.1
    assert np.all(np.isnan(records["wiif"][blown_up]))
    assert len(np.unique(records["seed"])) == 3000 - 5
    assert np.array_equal(records["theta"], records["theta"].astype(np.float32))
    fam = family("6pPol")
    assert np.all((records["theta"] >= fam.low) & (records["theta"] <= fam.high))
    plausible = np.ones(3000, bool)
    for condition in fam.criteria("plausible"):
        values = records[condition.metric]
        plausible &= (values >= condition.low) & (values <= condition.high)
    assert 0.1 < plausible.mean() < 0.3


def test_round_files_are_disjoint_subsets(tmp_path):
    path = write_release_file(tmp_path / "all.npy", "MLP", 500, rng=1)
    rounds = write_round_files(path, tmp_path / "rounds", {"pi0": 50, "pi1": 70}, rng=2)
    all_seeds = set(np.load(path)["seed"])
    pi0, pi1 = (set(np.load(rounds[k])["seed"]) for k in ("pi0", "pi1"))
    assert len(pi0) == 50 and len(pi1) == 70
    assert pi0 <= all_seeds and pi1 <= all_seeds and not pi0 & pi1


def test_spike_trains_group_events_by_neuron():
    trains = SpikeTrains.from_events([0.3, 0.1, 0.2, 0.4], [2, 0, 2, 0], 4)
    assert trains.counts().tolist() == [2, 0, 2, 0]
    assert trains.neuron(0).tolist() == [0.1, 0.4]
    assert trains.neuron(2).tolist() == [0.3, 0.2]
    assert trains.neuron_ids().tolist() == [0, 0, 2, 2]
    with pytest.raises(RawFormatError, match="neuron index 7 outside the recorded range 0..3"):
        SpikeTrains.from_events([0.1], [7], 4)


def test_weight_traces_check_shapes():
    with pytest.raises(RawFormatError, match=r"connection 'ee' have shape \(3, 4\)"):
        WeightTraces(np.arange(5.0), {"ee": np.zeros((3, 4))})
