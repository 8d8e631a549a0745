"""Correlation matrices of the parameters of plausible rules (Figs. 3 and 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import family
from .style import CONNECTION_COLOURS, data_label, paper_style

# Fig. 4 display order of MLP parameters: η_EE, EE outputs, η_IE, IE outputs (§7.2.5).
MLP_ORDER = [0, *range(2, 12), 1, *range(12, 22)]
DEFAULT_CRITERIA = {"6pPol": "plausible", "MLP": "plausible_mlp_corr"}


def parameter_correlation(ds: xr.Dataset, criteria: str | None = None):
    """Pearson correlation of the rule parameters over the rules meeting ``criteria``."""
    import matplotlib.pyplot as plt

    fam = family(ds.attrs["family"])
    criteria = criteria or DEFAULT_CRITERIA[fam.name]
    selected = ds.fsbi.criteria(criteria)
    n = len(fam.rule_param_names)
    order = MLP_ORDER if fam.name == "MLP" else list(range(n))
    names = [fam.param_names[i] for i in order]
    theta = np.asarray(selected["theta"].values)[:, order]
    matrix = np.corrcoef(theta, rowvar=False) if len(theta) > 1 else np.full((n, n), np.nan)
    table = pd.DataFrame(matrix, index=pd.Index(names, name="param"), columns=names)
    with paper_style():
        fig, ax = plt.subplots(figsize=(5.2, 4.6))
        image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(n), names, rotation=90, fontsize=6)
        ax.set_yticks(range(n), names, fontsize=6)
        for label, index in zip(ax.get_xticklabels(), order, strict=True):
            label.set_color(CONNECTION_COLOURS.get(fam.parameters[index].connection, "k"))
        for label, index in zip(ax.get_yticklabels(), order, strict=True):
            label.set_color(CONNECTION_COLOURS.get(fam.parameters[index].connection, "k"))
        fig.colorbar(image, ax=ax, label="correlation coefficient", shrink=0.8)
        ax.set_title(f"Parameters of '{criteria}' rules ({len(theta):,})\n{data_label(ds)}")
    return fig, table
