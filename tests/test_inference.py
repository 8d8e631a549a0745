"""Posteriors over rules: they learn a known relation, round-trip to disk, fail clearly."""

import io
import json
from pathlib import Path

import numpy as np
import pytest

import fsbi_data
from fsbi_data import inference
from fsbi_data.cli.queries import selection_mask
from fsbi_data.errors import QueryError, UnknownNameError
from fsbi_data.simulation.prior import sample_prior
from fsbi_data.store.layout import dataset_from_arrays

FORMAT_1 = Path(__file__).parent / "data" / "posterior-format-1"
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
    assert post.record.n_excluded_nan == 40 and post.record.n_train == 1960
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
    assert again.settings == post.settings and again.record == post.record
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
    with pytest.raises(inference.InferenceError, match="at rate=60 only .* outside what"):
        post.sample(n=5, seed=0, rate=(6, 60))  # a range that leaves what was learned
    (tmp_path / "junk.post").write_bytes(b"not a posterior")
    with pytest.raises(inference.InferenceError, match="not a fsbi-data posterior"):
        inference.load(tmp_path / "junk.post")
    with pytest.raises(UnknownNameError, match="'ratez' is neither a metric"):
        inference.fit(ds, ["ratez"])



def test_the_posterior_is_sbis_own(known_relation):
    from sbi.inference import DirectPosterior, EnsemblePosterior
    from sbi.utils import BoxUniform

    _, post = known_relation
    ensemble = post.sbi_posterior
    assert isinstance(ensemble, EnsemblePosterior) and len(ensemble.posteriors) == 2
    assert all(isinstance(member, DirectPosterior) for member in ensemble.posteriors)
    fam = fsbi_data.family("6pPol")
    prior = ensemble.prior
    assert isinstance(prior, BoxUniform)  # over the rule: the input rate is a nuisance
    assert np.array_equal(prior.low.numpy(), fam.low[:24].astype(np.float32))
    assert np.array_equal(prior.high.numpy(), fam.high[:24].astype(np.float32))
    samples = post.sample(n=4, seed=3, rate=6.0)
    theta = torch_tensor(samples.theta.values[:, :24])
    x = torch_tensor([[6.0]])
    log_prob = ensemble.log_prob(theta, x=x, norm_posterior=False)
    assert log_prob.shape == (4,) and np.isfinite(log_prob.numpy()).all()
    outside = theta.clone()
    outside[:, 2] = float(fam.high[2]) + 1  # alpha_ee beyond its bound
    assert np.isneginf(ensemble.log_prob(outside, x=x, norm_posterior=False).numpy()).all()


def torch_tensor(values):
    import torch

    return torch.as_tensor(np.asarray(values), dtype=torch.float32)


def test_save_publishes_the_file_whole_or_not_at_all(known_relation, tmp_path, monkeypatch):
    import torch

    _, post = known_relation
    path = post.save(tmp_path / "rate.fsbi-post")
    before = path.read_bytes()

    def fail(payload, file):
        Path(file).write_bytes(b"half a posterior")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        post.save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_posterior_file_of_format_1_loads_and_samples():
    import torch

    payload = torch.load(FORMAT_1 / "rate.fsbi-post", weights_only=True)
    assert payload["format_version"] == 1 and "num_bins" in payload["config"]
    post = inference.load(FORMAT_1 / "rate.fsbi-post")
    assert post.settings == inference.FitSettings(
        metrics=["rate"], n_ensemble=2, density_estimator="nsf", batch_size=200, seed=0,
        max_epochs=3, hidden_features=8, num_transforms=1)
    assert post.record.family == "6pPol" and post.record.n_train == 590
    assert post.record.n_excluded_nan == 10 and post.record.epochs == [4, 4]
    assert post.record.selection == "criteria=tutorial training; where=[]"
    # Every member gives the densities it gave when the file was written.
    written = json.loads((FORMAT_1 / "log-prob.json").read_text())
    theta = torch_tensor(written["theta"])
    x = torch_tensor(written["rate"])[:, None]
    for member, expected in zip(post.sbi_posterior.posteriors, written["log_prob"], strict=True):
        with torch.no_grad():
            log_prob = member.posterior_estimator.log_prob(theta[None], condition=x)
        np.testing.assert_allclose(log_prob.reshape(-1).numpy(), expected, rtol=1e-5)
    samples = post.sample(n=20, seed=0, rate=(8, 12))
    fam = fsbi_data.family("6pPol")
    rules = samples.theta.values
    assert rules.shape == (20, 25) and np.isfinite(rules).all()
    assert np.all((rules[:, :24] >= fam.low[:24]) & (rules[:, :24] <= fam.high[:24]))


def test_a_posterior_of_format_1_saves_as_the_current_format(tmp_path):
    old = inference.load(FORMAT_1 / "rate.fsbi-post")
    again = inference.load(old.save(tmp_path / "rate.fsbi-post"))
    assert again.settings == old.settings and again.record == old.record
    a = old.sample(n=10, seed=4, rate=9.0).theta.values
    assert np.array_equal(a, again.sample(n=10, seed=4, rate=9.0).theta.values)


def test_fit_trains_on_the_rules_a_query_selects(known_relation):
    ds, _ = known_relation
    mask = selection_mask(ds, ["completed"], ["rate=5:10", "alpha_ee=:0"])
    expected = (np.asarray(ds.fsbi.criteria_mask("completed"))
                & np.asarray(ds.fsbi.mask(rate=(5, 10), alpha_ee=(None, 0))))
    assert np.array_equal(mask, expected) and 0 < mask.sum() < mask.size

# --- files that are not posteriors, conditions that are not numbers -------------------------
def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("content", [
    npy_bytes(np.zeros((3, 25))),
    b"rate,cv_isi\n5.0,1.0\n",
    bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 10\n",
], ids=["npy", "csv", "random bytes", "lfs pointer"])
def test_loading_a_file_that_is_not_a_posterior(tmp_path, content):
    path = tmp_path / "not-a-posterior.fsbi-post"
    path.write_bytes(content)
    with pytest.raises(inference.InferenceError) as info:
        inference.load(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a fsbi-data posterior file")
    assert "fsbi-data fit ... --out x.fsbi-post" in message and len(message.splitlines()) == 1


def test_loading_other_torch_files_and_damaged_posteriors(known_relation, tmp_path):
    import torch

    _, post = known_relation
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(inference.InferenceError, match="holds no 'fsbi-data posterior' record"):
        inference.load(other)
    damaged = tmp_path / "damaged.fsbi-post"
    payload = torch.load(post.save(tmp_path / "good.fsbi-post"), weights_only=True)
    payload["settings"] = payload["settings"].replace('"metrics"', '"metricz"')
    torch.save(payload, damaged)
    with pytest.raises(inference.InferenceError, match=r"damaged\.fsbi-post is a damaged "
                                                       r"fsbi-data posterior file .*fit it again"):
        inference.load(damaged)
    with pytest.raises(inference.InferenceError, match="no such file"):
        inference.load(tmp_path / "missing.fsbi-post")


@pytest.mark.parametrize("text, expected", [
    ("rate=7.5", ("rate", 7.5)), ("rate=5:10", ("rate", (5.0, 10.0))),
    (" cv_isi = 0.7 : 1.2 ", ("cv_isi", (0.7, 1.2))),
])
def test_parse_condition(text, expected):
    assert inference.parse_condition(text) == expected


@pytest.mark.parametrize("text", ["rate=abc", "rate", "rate=", "=5", "rate=5:", "rate=:10",
                                  "rate=5:abc", "rate=nan", "rate=1:inf"])
def test_malformed_conditions_name_the_expected_form(text):
    with pytest.raises(QueryError) as info:
        inference.parse_condition(text)
    assert "rate=7.5" in str(info.value) and "rate=5:10" in str(info.value)


def test_sample_refuses_conditions_that_are_not_numbers(known_relation):
    _, post = known_relation
    for value in ("abc", (5, "x"), (5, 6, 7), float("nan"), None):
        with pytest.raises(QueryError, match="condition rate=.*rate=7.5"):
            post.sample(n=2, rate=value)
    assert post.sample(n=2, seed=0, rate="7.5").sizes["rule"] == 2  # a number as text is fine
