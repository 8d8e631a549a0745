"""Each panel's numbers against a direct NumPy computation, and every panel rendered: sized
for the text width, no text outside the canvas, legends off the data, titles naming the data."""

import json
import subprocess
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.legend import Legend
from matplotlib.text import Text
from PIL import Image
from sklearn.decomposition import PCA

import fsbi_data
from fsbi_data import figures
from fsbi_data.figures.pca import whiten_with_prior
from fsbi_data.figures.rules import EXAMPLE_MLP, EXAMPLE_POLYNOMIAL, mlp_layers
from fsbi_data.figures.style import TEXT_WIDTH
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
    assert {p.suffix for p in paths} == {".pdf", ".png", ".csv"}


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


# --- layout: every figure function, drawn ------------------------------------------------------
def drawn_texts(fig):
    """The text artists and legends a drawn figure shows: titles, axis labels, tick labels of
    ticks inside the view, annotations, legends (hidden axes and empty texts left out)."""
    fig.canvas.draw()
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = 1e-9 * (high - low)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - slack <= tick.get_loc() <= high + slack:
                    undrawn |= {id(tick.label1), id(tick.label2)}

    def shown(artist):
        if id(artist) in undrawn or not artist.get_visible():
            return False
        if isinstance(artist, Text) and not artist.get_text().strip():
            return False
        return artist.axes is None or artist.axes.get_visible()

    return [a for a in fig.findobj(lambda a: isinstance(a, Text | Legend)) if shown(a)]


def texts_outside_canvas(fig):
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    outside = []
    for artist in drawn_texts(fig):
        box = artist.get_window_extent(renderer)
        if (box.x0 < canvas.x0 - 0.5 or box.y0 < canvas.y0 - 0.5 or box.x1 > canvas.x1 + 0.5
                or box.y1 > canvas.y1 + 0.5):
            outside.append(artist.get_text() if isinstance(artist, Text) else "a legend")
    return outside


def legends_on_data(fig):
    """Legends that overlap an axes with data (the plotting area of a visible axes)."""
    renderer = fig.canvas.get_renderer()
    legends = [a for a in drawn_texts(fig) if isinstance(a, Legend)]
    return [legend for legend in legends for ax in fig.axes
            if ax.get_visible() and ax.has_data()
            and legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))]


def unlabelled_axes(fig):
    """Axes showing tick labels on an axis without a label (own, or the figure's sup-label)."""
    missing = []
    texts = set(map(id, drawn_texts(fig)))
    sup = {"x": fig._supxlabel is not None and fig._supxlabel.get_text(),
           "y": fig._supylabel is not None and fig._supylabel.get_text()}
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            ticks_shown = any(id(t) in texts for t in axis.get_ticklabels())
            if ticks_shown and not (axis.get_label_text().strip() or sup[name]):
                missing.append(f"{ax.get_title() or 'axes'}: {name}")
    return missing


DATA_PANELS = {  # every figure function of a Dataset or of θ (posterior panels: see below)
    "accumulation": figures.accumulation,
    "pca_dimensionality": figures.pca_dimensionality,
    "parameter_correlation": figures.parameter_correlation,
    "metric_distributions": figures.metric_distributions,
    "longevity": figures.longevity,
    "rule_plot": lambda ds: figures.rule_plot(family_name=ds.attrs["family"]),
    "polynomial_rule": lambda ds: figures.polynomial_rule(),
    "mlp_rule": lambda ds: figures.mlp_rule(),
}
POSTERIOR_PANELS = {"conditional_correlation", "posterior_marginals"}  # test_posterior_figures


def test_every_figure_function_is_checked():
    writers = {"PANELS", "write_all", "write_panel", "write_posterior_panels"}
    assert set(figures.__all__) - writers == set(DATA_PANELS) | POSTERIOR_PANELS


@pytest.fixture(scope="module")
def release_like():
    """Both families with rounds, named as the demo's synthetic sample."""
    out = {}
    for name in ("6pPol", "MLP"):
        ds = dataset(name)
        ds.attrs["data_origin"] = "synthetic sample in the release format (NOT the paper's data)"
        out[name] = ds
    return out


@pytest.fixture(scope="module", params=[(panel, name) for panel in sorted(DATA_PANELS)
                                        for name in ("6pPol", "MLP")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def drawn(request, release_like):
    """Each figure function's figure for each family, drawn once for the checks below."""
    panel, family_name = request.param
    fig, _ = DATA_PANELS[panel](release_like[family_name])
    fig.canvas.draw()
    yield panel, fig
    plt.close(fig)


def test_no_text_outside_the_canvas(drawn):
    _, fig = drawn
    assert texts_outside_canvas(fig) == []


def test_legends_sit_off_the_data(drawn):
    _, fig = drawn
    assert legends_on_data(fig) == []


def test_every_axis_with_numbers_is_labelled(drawn):
    _, fig = drawn
    assert unlabelled_axes(fig) == []


def test_sized_for_the_text_width_and_titled_with_the_data(drawn):
    panel, fig = drawn
    assert fig.get_size_inches()[0] <= TEXT_WIDTH
    title = fig.get_suptitle()
    if panel in ("polynomial_rule", "mlp_rule", "rule_plot"):
        assert "the paper's example rule" in title
    else:
        assert "synthetic sample" in title and "3,000 rules" in title


def test_a_long_origin_is_wrapped_inside_the_canvas():
    ds = dataset("MLP", 500)
    ds.attrs["data_origin"] = " ".join(["a-long-description-of-where-the-data-came-from"] * 6)
    for panel in ("accumulation", "pca_dimensionality", "longevity"):
        fig, _ = DATA_PANELS[panel](ds)
        assert texts_outside_canvas(fig) == [] and fig.get_suptitle().count("\n") >= 3
        plt.close(fig)


def test_titles_say_where_the_data_came_from():
    from fsbi_data.catalog import CATALOG

    ds = dataset("6pPol", 400)
    records = [{"kind": "source", "name": "x_all.npy", "sha256": CATALOG.entry("6pPol").checksum},
               {"kind": "batch", "source": "simulation", "rows": 7, "backend": "brian2",
                "protocol": "6pPol/quick"},
               {"kind": "batch", "source": "mine.npy", "rows": 3}]
    ds.attrs["provenance"] = json.dumps(records)
    fig, _ = figures.accumulation(ds)
    title = " ".join(fig.get_suptitle().split())
    plt.close(fig)
    assert "the fSBI release (6pPol file)" in title
    assert "7 rules simulated by fsbi-data (brian2, 6pPol/quick)" in title
    assert "3 rules appended from mine.npy" in title and "400 rules" in title
    records[0]["sha256"] = "0" * 64
    ds.attrs["provenance"] = json.dumps(records[:1])
    fig, _ = figures.pca_dimensionality(ds)
    title = " ".join(fig.get_suptitle().split())
    plt.close(fig)
    assert "x_all.npy (not a released file)" in title and "release" not in title.split("(")[0]
    seed = str(ds.seed.values[0])
    fig, _ = figures.polynomial_rule(ds, seed=seed)
    assert seed in fig.get_suptitle().replace("\n", "") and "x_all.npy" in fig.get_suptitle()
    plt.close(fig)


def test_cv_isi_is_drawn_over_its_data_and_its_far_bound_is_named():
    ds = dataset("6pPol")
    fig, table = figures.metric_distributions(ds, ["cv_isi", "rate"])
    cv, rate = fig.axes[0], fig.axes[1]
    values = ds.cv_isi.values[np.isfinite(ds.cv_isi.values)]
    assert cv.get_xlim() == pytest.approx(tuple(np.quantile(values, [0.01, 0.99])))
    assert cv.get_xlim()[1] < 10  # not stretched to the plausible bound of 1000
    marks = [t.get_text() for t in cv.texts if t.get_gid() == "plausible-bound"]
    assert marks == ["→ 1000"]
    part = table[table.metric == "cv_isi"]
    assert part.bin_right.max() == pytest.approx(np.quantile(values, 0.99))
    # rate's lower bound of 1 Hz lies just below its 1st percentile: the range reaches it
    assert rate.get_xlim()[0] <= 1 and not [t for t in rate.texts if t.get_gid()]
    plt.close(fig)


def test_pngs_are_at_least_150_dpi_beside_the_pdfs(tmp_path):
    fig, table = figures.accumulation(dataset("6pPol", 500))
    width, height = fig.get_size_inches()
    paths = figures.write_panel(fig, table, tmp_path, "acc")
    with Image.open(tmp_path / "acc.png") as image:
        dpi = image.info["dpi"][0]
        assert dpi >= 150
        assert abs(image.size[0] - width * dpi) <= 1 and abs(image.size[1] - height * dpi) <= 1
    assert (tmp_path / "acc.pdf").read_bytes().startswith(b"%PDF") and len(paths) == 3


def test_readme_images_are_one_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fsbi_data.figures.readme_images",
                           str(tmp_path / "img")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert names == ["6pPol_accumulation.png", "6pPol_pca.png", "6pPol_rule.png"]
    for name in names:
        with Image.open(tmp_path / "img" / name) as image:
            assert image.info["dpi"][0] >= 150 and image.size[0] >= 540
