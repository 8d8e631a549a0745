"""Posteriors over rules: they learn a known relation, round-trip to disk, fail clearly."""

import numpy as np
import pytest

import fsbi_data
from fsbi_data import inference
from fsbi_data.errors import QueryError, UnknownNameError
from fsbi_data.layout import dataset_from_arrays
from fsbi_data.simulation.prior import sample_prior

SMALL = {"n_ensemble": 2, "seed": 0, "max_epochs": 25, "batch_size": 200,
         "hidden_features": 32, "num_transforms": 2}


@pytest.fixture(scope="module")
def known_relation():
    """rate = 10 + 4 alpha_ee (+ small noise): conditioning on rate pins alpha_ee down."""
    rng = np.random.default_rng(0)
    n = 2000
    theta = sample_prior("6pPol", n, rng, dtype=np.float32)
    fam = fsbi_data.family("6pPol")
    metrics = {name: rng.random(n) for name in fam.metric_names}
    metrics["rate"] = 10 + 4 * theta[:, 2] + rng.normal(0, 0.2, n)
    metrics["rate"][:40] = np.nan  # blown-up runs are excluded
    ds = dataset_from_arrays([f"{i:032x}" for i in range(n)], theta, metrics, "6pPol")
    return ds, inference.fit(ds, ["rate"], **SMALL)


def test_samples_concentrate_where_the_relation_says(known_relation):
    _, post = known_relation
    assert post.config.n_excluded_nan == 40 and post.config.n_train == 1960
    samples = post.sample(n=300, seed=1, rate=6.0)  # alpha_ee = (6 - 10) / 4 = -1
    alpha = samples.theta.sel(param="alpha_ee").values
    assert abs(np.median(alpha) - (-1.0)) < 0.25
    assert np.std(alpha) < 0.45  # the prior's std is 4 / sqrt(12) = 1.15
    other = samples.theta.sel(param="beta_ee").values
    assert np.std(other) > 0.7  # an unrelated parameter stays spread out


def test_samples_are_rules_ready_to_simulate(known_relation):
    _, post = known_relation
    samples = post.sample(n=50, seed=2, rate=(5, 10))
    fam = fsbi_data.family("6pPol")
    theta = samples.theta.values
    assert theta.shape == (50, 25)
    assert np.all((theta[:, :24] > fam.low[:24]) & (theta[:, :24] < fam.high[:24]))
    assert np.all((theta[:, 24] >= 5) & (theta[:, 24] <= 15))
    target = samples.condition_rate.values
    assert np.all((target >= 5) & (target <= 10)) and target.std() > 0.5
    assert len(set(samples.seed.values)) == 50 and np.isnan(samples.rate.values).all()


def test_save_load_gives_identical_samples(known_relation, tmp_path):
    _, post = known_relation
    path = post.save(tmp_path / "rate.fsbi-post")
    again = inference.load(path)
    assert again.config == post.config
    a = post.sample(n=20, seed=7, rate=(4, 12)).theta.values
    b = again.sample(n=20, seed=7, rate=(4, 12)).theta.values
    assert np.array_equal(a, b)


def test_bad_requests(known_relation, tmp_path):
    ds, post = known_relation
    with pytest.raises(UnknownNameError, match="missing: \\['rate'\\]"):
        post.sample(n=2, cv_isi=1.0)
    with pytest.raises(QueryError, match="reversed"):
        post.sample(n=2, rate=(10, 5))
    with pytest.raises(inference.InferenceError, match="outside what the posterior"):
        post.sample(n=5, seed=0, rate=500.0)
    (tmp_path / "junk.post").write_bytes(b"not a posterior")
    with pytest.raises(inference.InferenceError, match="not a fsbi-data posterior"):
        inference.load(tmp_path / "junk.post")
    with pytest.raises(UnknownNameError, match="no metric 'ratez'"):
        inference.fit(ds, ["ratez"])
