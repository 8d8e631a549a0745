"""Correlation matrices of the parameters of plausible rules (Figs. 3 and 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import Family, family
from .style import CONNECTION_COLOURS, TEXT_WIDTH, data_label, new_figure, paper_style, set_title

# Fig. 4 display order of MLP parameters: η_EE, EE outputs, η_IE, IE outputs (docs/figures.md).
MLP_ORDER = [0, *range(2, 12), 1, *range(12, 22)]
DEFAULT_CRITERIA = {"6pPol": "plausible", "MLP": "plausible_mlp_corr"}
SIZE = (TEXT_WIDTH, 5.0)  # in: the text width; the matrix is square


def display_order(fam: Family) -> list[int]:
    """Indices of the rule parameters in the paper's display order (MLP: η_EE, EE outputs,
    η_IE, IE outputs; 6pPol: θ order, connection by connection).

    Examples
    --------
    >>> display_order(family("MLP"))[:3], display_order(family("MLP"))[11]
    ([0, 2, 3], 1)
    """
    return MLP_ORDER if fam.name == "MLP" else list(range(len(fam.rule_param_names)))


def matrix_figure(matrix: np.ndarray, fam: Family, order: list[int], title: str, origin: str,
                  colour_label: str):
    """A correlation matrix over parameters in ``order``, tick labels coloured per connection,
    colour range [−1, 1], with a colour bar."""
    n = len(order)
    names = [fam.param_names[i] for i in order]
    with paper_style():
        fig, ax = new_figure(*SIZE)
        image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(n), names, rotation=90, fontsize=6)
        ax.set_yticks(range(n), names, fontsize=6)
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            for label, index in zip(labels, order, strict=True):
                label.set_color(CONNECTION_COLOURS.get(fam.parameters[index].connection, "k"))
        ax.set_xlabel("rule parameter")
        ax.set_ylabel("rule parameter")
        fig.colorbar(image, ax=ax, label=colour_label, shrink=0.8)
        set_title(fig, title, origin)
    return fig


def parameter_correlation(ds: xr.Dataset, criteria: str | None = None):
    """Pearson correlation of the rule parameters over the rules meeting ``criteria``.

    The default criteria are the paper's: ``"plausible"`` (6pPol), ``"plausible_mlp_corr"``
    (MLP); MLP parameters are shown in the paper's order (:func:`display_order`).

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and the matrix, indexed and columned by parameter names.

    Examples
    --------
    >>> fig, matrix = parameter_correlation(ds)  # doctest: +SKIP
    """
    fam = family(ds.attrs["family"])
    criteria = criteria or DEFAULT_CRITERIA[fam.name]
    selected = ds.fsbi.criteria(criteria)
    order = display_order(fam)
    n = len(order)
    names = [fam.param_names[i] for i in order]
    theta = np.asarray(selected["theta"].values)[:, order]
    matrix = np.corrcoef(theta, rowvar=False) if len(theta) > 1 else np.full((n, n), np.nan)
    table = pd.DataFrame(matrix, index=pd.Index(names, name="param"), columns=names)
    fig = matrix_figure(matrix, fam, order,
                        f"Correlation of the parameters of '{criteria}' rules ({len(theta):,})",
                        data_label(ds), "Pearson correlation coefficient (1)")
    return fig, table
