"""The posterior panels of Fig. 4: sbi's conditional correlations against conditional samples
drawn the same way, the marginals over the prior box, the CLI, and their layout."""

import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from test_figures import legends_on_data, texts_outside_canvas, unlabelled_axes

import fsbi_data
from fsbi_data import figures, inference
from fsbi_data.simulation.prior import sample_prior
from fsbi_data.store.layout import dataset_from_arrays

TINY = {"n_ensemble": 1, "seed": 0, "max_epochs": 30, "batch_size": 200,
        "hidden_features": 16, "num_transforms": 1}
RELATED = {"6pPol": ("alpha_ee", "beta_ee"), "MLP": ("wpre_ee_0", "wpre_ie_0")}
QUICK = {"n_conditions": 2, "resolution": 20}


@pytest.fixture(scope="module", params=["6pPol", "MLP"])
def posterior(request):
    """A one-member posterior p(θ | rate) with rate = 10 + 2 (θ_a + θ_b): at a given rate,
    θ_a and θ_b are anticorrelated; the other parameters are unrelated to the rate."""
    torch.set_num_threads(1)
    name = request.param
    rng = np.random.default_rng(0)
    n = 3000
    fam = fsbi_data.family(name)
    theta = sample_prior(name, n, rng, dtype=np.float32)
    metrics = {m: rng.random(n) for m in fam.metric_names}
    a, b = (fam.param(p).index for p in RELATED[name])
    metrics["rate"] = 10 + 2 * (theta[:, a] + theta[:, b]) + rng.normal(0, 0.2, n)
    ds = dataset_from_arrays([f"{i:032x}" for i in range(n)], theta, metrics, name)
    return inference.fit(ds, ["rate"], **TINY)


def conditional_samples_corrcoef(post, a, b, n_conditions, resolution, seed, condition,
                                 n_draws=200_000):
    """The correlation of (θ_a, θ_b) drawn the way the panel's docstring says, by NumPy.

    Conditioning points: ``post.sample(n=n_conditions, seed=seed, **condition)``, each with its
    target x (``condition_rate``). At each point, the other parameters are fixed; (θ_a, θ_b)
    take the ``resolution`` × ``resolution`` grid over their prior box (ends included) with
    probabilities ∝ p(θ | x) (the posterior's log_prob; one member, so sbi's leakage correction
    is a constant); ``n_draws`` grid points are drawn and ``numpy.corrcoef`` taken; the
    correlations are averaged over the points.
    """
    fam = post.family
    n = len(fam.rule_param_names)
    i, j = fam.param(a).index, fam.param(b).index
    points = post.sample(n=n_conditions, seed=seed, **condition)
    rng = np.random.default_rng(1)
    values = []
    for theta, x in zip(points.theta.values[:, :n], points.condition_rate.values, strict=True):
        grid_i = np.linspace(fam.low[i], fam.high[i], resolution)
        grid_j = np.linspace(fam.low[j], fam.high[j], resolution)
        gi, gj = (g.ravel() for g in np.meshgrid(grid_i, grid_j, indexing="ij"))
        rows = np.repeat(theta[None], len(gi), axis=0)
        rows[:, i], rows[:, j] = gi, gj
        with torch.no_grad():
            log_p = post.sbi_posterior.log_prob(
                torch.as_tensor(rows, dtype=torch.float32),
                x=torch.tensor([[x]], dtype=torch.float32), norm_posterior=False).double()
        p = torch.softmax(log_p, 0).numpy()
        drawn = rng.choice(len(gi), size=n_draws, p=p / p.sum())
        values.append(np.corrcoef(gi[drawn], gj[drawn])[0, 1])
    return float(np.mean(values))


@pytest.mark.parametrize("condition", [{"rate": 9.0}, {"rate": (8.0, 12.0)}],
                         ids=["value", "range"])
def test_conditional_correlation_matches_conditional_samples(posterior, condition):
    fig, table = figures.conditional_correlation(posterior, seed=3, **QUICK, **condition)
    plt.close(fig)
    fam = posterior.family
    a, b = RELATED[fam.name]
    others = [name for name in fam.rule_param_names if name not in (a, b)]
    pairs = [(a, b), (others[0], others[-1]), (a, others[5])]
    for first, second in pairs:
        expected = conditional_samples_corrcoef(posterior, first, second, seed=3,
                                                condition=condition, **QUICK)
        assert table.loc[first, second] == pytest.approx(expected, abs=0.02)
    assert table.loc[a, b] < -0.2  # the relation the posterior learned


def test_the_table_is_a_correlation_matrix_in_the_papers_order(posterior):
    fig, table = figures.conditional_correlation(posterior, n_conditions=1, resolution=12,
                                                 rate=9.0)
    plt.close(fig)
    fam = posterior.family
    matrix = table.to_numpy()
    assert np.allclose(matrix, matrix.T) and np.allclose(np.diag(matrix), 1.0)
    assert np.all(np.abs(matrix) <= 1 + 1e-6)
    names = list(table.index)
    assert names == list(table.columns) and sorted(names) == sorted(fam.rule_param_names)
    if fam.name == "MLP":
        assert names[:2] == ["eta_ee", "wpre_ee_0"] and names[11] == "eta_ie"
        assert names[12] == "wpre_ie_0" and names[-1] == "wpost_ie_4"
    else:
        assert names == list(fam.rule_param_names)


def test_marginals_are_the_posterior_samples_over_the_prior_box(posterior):
    fig, samples = figures.posterior_marginals(posterior, n_samples=300, seed=5,
                                               rate=(8.0, 12.0))
    fam = posterior.family
    expected = posterior.sample(n=300, seed=5, rate=(8.0, 12.0))
    for name in fam.rule_param_names:
        assert np.array_equal(samples[name], expected.theta.sel(param=name).values)
    assert np.array_equal(samples["condition_rate"], expected.condition_rate.values)
    boxes = {}
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        box = [line for line in ax.get_lines() if line.get_gid() == "prior-box"]
        assert len(box) == 1
        name = ax.get_xlabel().split("(")[0].replace("\n", "").strip()
        param = fam.param(name)
        assert list(box[0].get_xdata()) == [param.low, param.low, param.high, param.high]
        assert box[0].get_ydata()[1] == pytest.approx(1 / (param.high - param.low))
        low, high = ax.get_xlim()
        assert low < param.low and high > param.high
        boxes[name] = ax
    assert sorted(boxes) == sorted(fam.rule_param_names)
    plt.close(fig)


def test_posterior_panels_keep_their_text_inside_and_say_what_they_show(posterior):
    for panel in (figures.conditional_correlation, figures.posterior_marginals):
        options = {"n_conditions": 1, "resolution": 8} if panel is \
            figures.conditional_correlation else {"n_samples": 200}
        fig, _ = panel(posterior, rate=(8.0, 12.0), **options)
        fig.canvas.draw()
        assert texts_outside_canvas(fig) == [] and legends_on_data(fig) == []
        assert unlabelled_axes(fig) == [] and fig.get_size_inches()[0] <= 5.5
        title = " ".join(fig.get_suptitle().split())
        assert "rate ∈ [8, 12] Hz" in title and "fitted on 3,000 rules" in title
        assert f"{posterior.family.name} posterior p(θ | rate)" in title
        plt.close(fig)


def test_cli_writes_both_panels_and_their_tables(posterior, tmp_path):
    path = posterior.save(tmp_path / "rate.fsbi-post")
    out = tmp_path / "figs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fsbi_data.cli", "figures", "--posterior", str(path),
               "--condition", "rate=8:12", "--n-conditions", "1", "--resolution", "6",
               "--samples", "100", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    name = posterior.family.name
    for panel in ("conditional_correlation", "posterior_marginals"):
        assert {f"{name}_{panel}.{ext}" for ext in ("pdf", "png", "csv")} <= \
            {p.name for p in out.iterdir()}
        with Image.open(out / f"{name}_{panel}.png") as image:
            assert image.info["dpi"][0] >= 150
    matrix = pd.read_csv(out / f"{name}_conditional_correlation.csv", index_col=0)
    assert list(matrix.index) == list(matrix.columns) and np.allclose(np.diag(matrix), 1)
    samples = pd.read_csv(out / f"{name}_posterior_marginals.csv")
    assert len(samples) == 100 and samples["condition_rate"].between(8, 12).all()
    missing = subprocess.run(command[:6] + ["--out", str(out)], capture_output=True,
                             text=True, env=env)
    assert missing.returncode != 0 and "needs a --condition" in missing.stderr
    bad = subprocess.run(command[:6] + ["--condition", "rate=fast", "--out", str(out)],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "condition 'rate=fast'" in bad.stderr
