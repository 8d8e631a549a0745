"""Figs. 2 and 4: explained variance per principal component of the whitened parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import family
from ..store.layout import round_names
from .style import (
    HALF_WIDTH,
    ROUND_COLOURS,
    ROUND_LABELS,
    data_label,
    new_figure,
    paper_style,
    set_title,
)

SIZE = (HALF_WIDTH, 3.0)  # in: half the text width, beside the accumulation panel


def whiten_with_prior(theta: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Standardise with the uniform prior's moments: (θ − (a+b)/2) / sqrt((b−a)²/12).

    Examples
    --------
    >>> whiten_with_prior(np.array([1.0]), np.array([0.0]), np.array([2.0]))
    array([0.])
    """
    return (theta - (low + high) / 2) / np.sqrt((high - low) ** 2 / 12)


def explained_variance(theta: np.ndarray) -> np.ndarray:
    """Explained-variance ratios of a full PCA (scikit-learn, whitened) of the rows."""
    from sklearn.decomposition import PCA

    return PCA(whiten=True).fit(theta).explained_variance_ratio_


def pca_dimensionality(ds: xr.Dataset):
    """Explained variance per component of the prior-whitened rule parameters, per round.

    Rounds with no more rules than parameters are left out. The legend sits below the axes.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and its numbers: round, component, explained_variance_ratio.

    Examples
    --------
    >>> fig, table = pca_dimensionality(ds)  # doctest: +SKIP
    """
    fam = family(ds.attrs["family"])
    n = len(fam.rule_param_names)
    low, high = fam.low[:n], fam.high[:n]
    theta = np.asarray(ds["theta"].values)[:, :n]
    labels = round_names(ds) or ("all",)
    rows = []
    for label in labels:
        members = np.ones(len(theta), bool) if label == "all" else \
            np.asarray(ds[f"in_{label}"].values)
        if members.sum() <= n:
            continue
        ratios = explained_variance(whiten_with_prior(theta[members], low, high))
        rows += [{"round": label, "component": k + 1, "explained_variance_ratio": r}
                 for k, r in enumerate(ratios)]
    table = pd.DataFrame(rows, columns=["round", "component", "explained_variance_ratio"])
    with paper_style():
        fig, ax = new_figure(*SIZE)
        for label, part in table.groupby("round", sort=False):
            ax.plot(part["component"], part["explained_variance_ratio"], marker="o", ms=2,
                    lw=1, color=ROUND_COLOURS.get(label, "k"),
                    label=ROUND_LABELS.get(label, label))
        ax.set_xlabel("principal component (rank)")
        ax.set_ylabel("explained variance ratio")
        ax.set_xlim(0.5, n + 0.5)
        ax.set_ylim(0, max(0.1, float(table["explained_variance_ratio"].max()) * 1.05)
                    if len(table) else 0.1)
        if len(table):
            fig.legend(loc="outside lower center", ncols=4, frameon=False, handlelength=1.5,
                       columnspacing=1.0)
        set_title(fig, "Dimensionality of prior-whitened θ", data_label(ds))
    return fig, table
