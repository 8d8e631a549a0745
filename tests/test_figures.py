"""Each panel's numbers against a direct NumPy computation, and every panel rendered."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA

import fsbi_data
from fsbi_data import figures
from fsbi_data.figures.pca import whiten_with_prior
from fsbi_data.figures.rules import EXAMPLE_MLP, EXAMPLE_POLYNOMIAL, mlp_layers
from fsbi_data.schema import family
from fsbi_data.store.layout import dataset_from_records
from fsbi_data.synthetic import release_records, write_release_file, write_round_files


def dataset(name, n=3000):
    ds = dataset_from_records(release_records(name, n, rng=2))
    rng = np.random.default_rng(0)
    for label in ("pi0", "pi1", "pi2", "pi3"):
        ds[f"in_{label}"] = ("rule", rng.random(n) < 0.3)
    return ds


def mask_of(ds, conditions):
    mask = np.ones(ds.sizes["rule"], bool)
    for c in conditions:
        values = ds[c.metric].values
        mask &= (values >= c.low) & (values <= c.high)
    return mask


@pytest.mark.parametrize("name", ["6pPol", "MLP"])
def test_accumulation_fractions(name):
    ds = dataset(name)
    _, table = figures.accumulation(ds)
    fam = family(name)
    for row in table.itertuples():
        members = ds[f"in_{row.round}"].values
        expected = (mask_of(ds, fam.criteria(row.group)) & members).sum() / members.sum()
        assert row.fraction == pytest.approx(expected)
        assert row.plotted == pytest.approx(np.clip(expected, 1e-4, 2))


@pytest.mark.parametrize("name", ["6pPol", "MLP"])
def test_pca_explained_variance(name):
    ds = dataset(name)
    _, table = figures.pca_dimensionality(ds)
    fam = family(name)
    n = len(fam.rule_param_names)
    members = ds.in_pi2.values
    theta = ds.theta.values[members][:, :n]
    if name == "6pPol":
        tau = np.zeros(n, bool)
        tau[[0, 1, 6, 7, 12, 13, 18, 19]] = True
        white = np.where(tau, (theta - 0.055) / np.sqrt(0.09 ** 2 / 12), theta / np.sqrt(16 / 12))
    else:
        eta = np.zeros(n, bool)
        eta[[0, 1]] = True
        white = np.where(eta, (theta - 0.5) / np.sqrt(1 / 12), theta / np.sqrt(4 / 12))
    assert np.allclose(whiten_with_prior(theta, fam.low[:n], fam.high[:n]), white)
    expected = PCA(whiten=True).fit(white).explained_variance_ratio_
    got = table[table["round"] == "pi2"]["explained_variance_ratio"].to_numpy()
    assert np.allclose(got, expected) and len(got) == n


def test_polynomial_rule_curves_follow_the_closed_form():
    _, table = figures.polynomial_rule()
    ie = table[table.connection == "ie"]
    tau_pre, tau_post, alpha, beta, gamma, kappa = EXAMPLE_POLYNOMIAL[12:18]
    dt = ie["dt"].to_numpy()
    expected = np.where(dt < 0, alpha + beta + kappa * np.exp(dt / tau_post),
                        alpha + beta + gamma * np.exp(-dt / tau_pre))
    assert np.allclose(ie.dw, expected) and len(dt) == 1000 and 0 not in dt


def test_mlp_rule_curves_match_the_network():
    _, table = figures.mlp_rule()
    w1, w2 = mlp_layers()
    row = table[(table.connection == "ee") & (table.activity == 4)].iloc[0]
    dt = row["dt"]
    assert dt < 0
    x_post = np.exp(-abs(dt) / 0.01)

    def net(inputs, out):
        h1 = 1 / (1 + np.exp(-(w1 @ inputs)))
        h2 = 1 / (1 + np.exp(-(w2 @ h1)))
        return h2 @ out[:4] + out[4]

    context = [0.1, 15 * -0.05, 15 * 0.3, 15 * 0.3]
    pre = net(np.array([2 * 5, 2 * x_post, *context]), EXAMPLE_MLP[2:7])
    post = net(np.array([0.0, 2 * 5, *context]), EXAMPLE_MLP[7:12])
    assert row["dw"] == pytest.approx(EXAMPLE_MLP[0] * (pre + post))


def test_correlation_matrix():
    ds = dataset("MLP")
    _, table = figures.parameter_correlation(ds)
    selected = mask_of(ds, family("MLP").criteria("plausible_mlp_corr"))
    order = [0, *range(2, 12), 1, *range(12, 22)]
    expected = np.corrcoef(ds.theta.values[selected][:, order], rowvar=False)
    assert np.allclose(table.to_numpy(), expected)
    assert list(table.index[:2]) == ["eta_ee", "wpre_ee_0"] and table.index[11] == "eta_ie"


def test_distributions_and_longevity():
    ds = dataset("6pPol")
    _, table = figures.metric_distributions(ds, ["rate"])
    part = table[table["round"] == "pi1"]
    values = ds.rate.values[ds.in_pi1.values]
    edges = np.append(part.bin_left, part.bin_right.iloc[-1])
    expected, _ = np.histogram(values[np.isfinite(values)], bins=edges, density=True)
    assert np.allclose(part.density, expected)
    _, table = figures.longevity(ds)
    assert len(table) == 14 and list(table.condition[:3]) == ["rate", "rate_i", "activity"]
    everything = mask_of(ds, family("6pPol").criteria("plausible_tutorial"))
    assert table.set_index("condition").loc["all", "fraction"] == everything.mean()
    mlp_table = figures.longevity(dataset("MLP"))[1]
    assert len(mlp_table) == 12


def test_panels_render_without_font_warnings(tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Ff]ont.*")
        paths = figures.write_all(dataset("MLP"), tmp_path, longevity_ds=dataset("MLP"))
    assert len(paths) == 18 and all(p.stat().st_size > 0 for p in paths)


def test_figures_cli_writes_every_panel(tmp_path):
    npy = write_release_file(tmp_path / "all.npy", "6pPol", 2500, rng=3)
    rounds = write_round_files(npy, tmp_path / "rounds",
                               {"pi0": 300, "pi1": 300, "pi2": 300, "pi3": 400}, rng=1)
    store = fsbi_data.convert(npy, tmp_path / "store", rounds=rounds)
    out = tmp_path / "figs"
    done = subprocess.run([sys.executable, "-m", "fsbi_data.cli", "figures", str(store),
                           "--out", str(out), "--longevity", str(store)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    for panel in ("accumulation", "pca", "rule", "correlation", "distributions", "longevity"):
        assert {f"6pPol_{panel}.{ext}" for ext in ("png", "pdf", "csv")} <= names


def test_every_panel_draws_a_store_without_rounds(tmp_path):
    ds = dataset_from_records(release_records("MLP", 800, rng=4))
    paths = figures.write_all(ds, tmp_path)
    assert len(paths) == 15
    _, table = figures.accumulation(ds)
    assert set(table["round"]) == {"all"} and (table["n_rules"] == 800).all()


def test_rule_plot_of_a_dataset_needs_a_seed():
    ds = dataset("6pPol", 50)
    with pytest.raises(fsbi_data.errors.QueryError, match="pass seed="):
        figures.polynomial_rule(ds)
    seed = str(ds.seed.values[3])
    _, table = figures.polynomial_rule(ds, seed=seed)
    theta = ds.theta.values[3]
    ee = table[table.connection == "ee"]
    assert ee["dw"].iloc[-1] == pytest.approx(
        theta[2] + theta[3] + theta[4] * np.exp(-0.2 / theta[0]))
