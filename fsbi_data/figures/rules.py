"""Rule plots: weight change against the pre–post spike-time difference (Figs. 2 and 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import QueryError
from ..mlp_constants import RULE_CST_PART
from ..schema import family
from .style import CONNECTION_COLOURS, TEXT_WIDTH, data_label, new_figure, paper_style, set_title

# The paper's example rules (``docs/figures.md``).
EXAMPLE_POLYNOMIAL = np.array([
    0.04660005, 0.02327882, 0.49659052, -0.35899994, -0.37540221, -1.278193, 0.0707294,
    0.07955258, 0.63596439, -1.72025657, 0.56049812, 0.06629736, 0.03651253, 0.04398145,
    -0.31592822, -0.04090761, 1.60054791, 1.11010623, 0.09858324, 0.04056259, -1.94945908,
    1.7757206, 0.19681023, 1.9772824, 6])
EXAMPLE_MLP = np.array([
    1.29939720e-01, 4.79347276e-04, 2.96384186e-01, -4.67114270e-01, 4.24380839e-01,
    6.47823513e-01, 3.48782279e-02, 3.41926664e-01, 3.47279757e-01, 3.47070426e-01,
    -3.15040410e-01, -6.94070637e-01, 1.87801853e-01, -2.09873557e-01, -3.75144660e-01,
    8.85631084e-01, 1.43499836e-01, 6.42546713e-01, -2.99585074e-01, 5.86552262e-01,
    -9.38091934e-01, -3.76303978e-02, 8.75709915e+00])

POLY_DT = np.linspace(-0.2, 0.2, 1000)
MLP_DT = np.linspace(-0.1, 0.1, 1000)
MLP_TRACE_TAU = 0.01
# Input scaling of the MLP rule (docs/figures.md): traces × 2, w × 1, V, C_exc, C_inh × 15.
MLP_SCALES = (2.0, 2.0, 1.0, 15.0, 15.0, 15.0)
# Sweep ranges of the five activity conditions: (w, v, cexc, cinh, xpre, xpost) low → high.
MLP_SWEEPS = {
    "ee": {"w": (0.01, 0.1), "v": (-0.07, -0.05), "cexc": (0, 0.3), "cinh": (0, 0.3),
           "xpre": (0, 5), "xpost": (0, 5)},
    "ie": {"w": (0, 10), "v": (-0.07, -0.05), "cexc": (0, 1), "cinh": (0, 0.3),
           "xpre": (0, 10), "xpost": (0, 1)},
}


def polynomial_curve(dt: np.ndarray, tau_pre: float, tau_post: float, alpha: float,
                     beta: float, gamma: float, kappa: float) -> np.ndarray:
    """Total change of one pre/post pair in units of η (Δt = t_post − t_pre)."""
    return np.where(dt < 0, alpha + beta + kappa * np.exp(-np.abs(dt) / tau_post),
                    alpha + beta + gamma * np.exp(-np.abs(dt) / tau_pre))


POLY_SIZE = (TEXT_WIDTH, 2.2)  # in: four panels across the text width
MLP_SIZE = (TEXT_WIDTH, 2.5)  # in: two panels and the activity legend across the text width


def _theta_of(source, seed: str | None) -> tuple[np.ndarray, str]:
    """θ to plot and where it came from, in words (for the title)."""
    if isinstance(source, xr.Dataset):
        if seed is None:
            raise QueryError("pass seed=... to choose which rule of the Dataset to plot")
        return np.asarray(source.fsbi.rule(seed)["theta"].values), \
            f"rule {seed} of {data_label(source)}"
    theta = np.asarray(source, dtype=np.float64)
    for example, figure in ((EXAMPLE_POLYNOMIAL, 2), (EXAMPLE_MLP, 4)):
        if theta.shape == example.shape and np.array_equal(theta, example):
            return theta, f"the paper's example rule (Fig. {figure})"
    return theta, "a rule given as θ"


def polynomial_rule(source=EXAMPLE_POLYNOMIAL, seed: str | None = None):
    """Four panels (EE, EI, IE, II) of a polynomial rule; ``source`` a θ or a Dataset + seed.

    Δw of one pre/post spike pair, in units of η, against Δt = t_post − t_pre on 1,000 points
    of [−0.2, 0.2] s. The title names the rule (the paper's example by default).

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and its curves: connection, dt, dw.

    Examples
    --------
    >>> fig, table = polynomial_rule()
    >>> sorted(set(table.connection))
    ['ee', 'ei', 'ie', 'ii']
    """
    theta, what = _theta_of(source, seed)
    fam = family("6pPol")
    rows = []
    for k, connection in enumerate(fam.plastic_connections):
        dw = polynomial_curve(POLY_DT, *theta[6 * k:6 * k + 6])
        rows.append(pd.DataFrame({"connection": connection, "dt": POLY_DT, "dw": dw}))
    table = pd.concat(rows, ignore_index=True)
    with paper_style():
        fig, axes = new_figure(*POLY_SIZE, 1, 4, sharex=True)
        for ax, (connection, part) in zip(axes, table.groupby("connection", sort=False),
                                          strict=True):
            ax.plot(part["dt"], part["dw"], color=CONNECTION_COLOURS[connection], lw=1.2)
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.set_xticks([-0.2, 0, 0.2], ["−0.2", "0", "0.2"])
            ax.set_title(connection.upper())
        fig.supylabel("Δw (units of η)")
        fig.supxlabel("t_post − t_pre (s)")
        set_title(fig, "6pPol rule: weight change of one spike pair", what)
    return fig, table


def mlp_layers() -> tuple[np.ndarray, np.ndarray]:
    """The fixed hidden layers: W1 (50 × 6) and W2 (4 × 50) from ``rule_cst_part``."""
    cst = np.asarray(RULE_CST_PART)
    return cst[4:304].reshape(50, 6), cst[304:504].reshape(4, 50)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def mlp_output(inputs: np.ndarray, out_weights: np.ndarray) -> np.ndarray:
    """The MLP rule's output for rows of (6 raw inputs), with the output layer (4 + bias)."""
    w1, w2 = mlp_layers()
    hidden = _sigmoid((inputs * np.array(MLP_SCALES)) @ w1.T)
    return _sigmoid(hidden @ w2.T) @ out_weights[:4] + out_weights[4]


def mlp_curves(theta: np.ndarray, connection: str) -> pd.DataFrame:
    """Δw(Δt) of an MLP rule for the five activity conditions (``docs/figures.md``)."""
    offset = {"ee": 0, "ie": 1}[connection]
    eta = theta[offset]
    start = 2 + 10 * offset
    w_pre, w_post = theta[start:start + 5], theta[start + 5:start + 10]
    sweep = {k: np.linspace(lo, hi, 5) for k, (lo, hi) in MLP_SWEEPS[connection].items()}
    decay = np.exp(-np.abs(MLP_DT) / MLP_TRACE_TAU)
    x_post = np.where(MLP_DT < 0, decay, 0.0)
    x_pre = np.where(MLP_DT >= 0, decay, 0.0)
    rows = []
    for k in range(5):
        ones = np.ones_like(MLP_DT)
        context = [sweep["w"][k] * ones, sweep["v"][k] * ones, sweep["cexc"][k] * ones,
                   sweep["cinh"][k] * ones]
        pre_event = np.stack([sweep["xpre"][k] * ones, x_post, *context], axis=1)
        post_event = np.stack([x_pre, sweep["xpost"][k] * ones, *context], axis=1)
        dw = eta * (mlp_output(pre_event, w_pre) + mlp_output(post_event, w_post))
        rows.append(pd.DataFrame({"connection": connection, "activity": k, "dt": MLP_DT,
                                  "dw": dw}))
    return pd.concat(rows, ignore_index=True)


def mlp_rule(source=EXAMPLE_MLP, seed: str | None = None):
    """EE and IE panels of an MLP rule, from low (k = 0) to high (k = 4) activity.

    Δw of one pre/post spike pair (η included) against Δt = t_post − t_pre on 1,000 points of
    [−0.1, 0.1] s, for the five activity conditions (:func:`mlp_curves`); the activity legend
    sits to the right of the panels. The title names the rule (the paper's example by default).

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and its curves: connection, activity, dt, dw.

    Examples
    --------
    >>> fig, table = mlp_rule()
    >>> sorted(set(table.activity))
    [0, 1, 2, 3, 4]
    """
    import matplotlib.pyplot as plt

    theta, what = _theta_of(source, seed)
    table = pd.concat([mlp_curves(theta, c) for c in ("ee", "ie")], ignore_index=True)
    with paper_style():
        fig, axes = new_figure(*MLP_SIZE, 1, 2)
        palette = plt.get_cmap("viridis")
        for ax, (connection, part) in zip(axes, table.groupby("connection", sort=False),
                                          strict=True):
            for k, curve in part.groupby("activity"):
                label = {0: "0 (low)", 4: "4 (high)"}.get(k, str(k))
                ax.plot(curve["dt"], curve["dw"], color=palette(k / 4), lw=1.2, label=label)
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.set_title(connection.upper())
            ax.set_xlabel("t_post − t_pre (s)")
        fig.supylabel("Δw (g_L)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center",
                   title="activity", frameon=False)
        set_title(fig, "MLP rule: weight change of one spike pair", what)
    return fig, table


def rule_plot(source=None, seed: str | None = None, family_name: str | None = None):
    """The rule panel of a family: polynomial or MLP, an example θ by default."""
    name = family_name or (source.attrs["family"] if isinstance(source, xr.Dataset) else "6pPol")
    if family(name).name == "MLP":
        return mlp_rule(EXAMPLE_MLP if source is None else source, seed)
    return polynomial_rule(EXAMPLE_POLYNOMIAL if source is None else source, seed)
