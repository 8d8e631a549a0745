"""Metric distributions per round, with the paper's plausible ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import family
from ..store.layout import round_names
from .style import ROUND_COLOURS, ROUND_LABELS, data_label, paper_style

N_BINS = 40


def metric_distributions(ds: xr.Dataset, metrics=None):
    """Histograms (density) of each metric per round, over the 1st–99th percentile range.

    The table holds every bin plotted: metric, round, bin edges and density.
    """
    import matplotlib.pyplot as plt

    fam = family(ds.attrs["family"])
    metrics = list(metrics or fam.metric_names)
    labels = round_names(ds) or ("all",)
    rows = []
    for name in metrics:
        values = ds.fsbi.column(name)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        low, high = np.quantile(finite, [0.01, 0.99])
        edges = np.linspace(low, high if high > low else low + 1, N_BINS + 1)
        for label in labels:
            members = np.ones(values.size, bool) if label == "all" else \
                np.asarray(ds[f"in_{label}"].values)
            part = values[members]
            density, _ = np.histogram(part[np.isfinite(part)], bins=edges, density=True)
            rows.append(pd.DataFrame({"metric": name, "round": label, "bin_left": edges[:-1],
                                      "bin_right": edges[1:], "density": density}))
    table = pd.concat(rows, ignore_index=True)
    columns = 4
    n_rows = -(-len(metrics) // columns)
    with paper_style():
        fig, axes = plt.subplots(n_rows, columns, figsize=(10, 2.0 * n_rows), squeeze=False)
        for ax, name in zip(axes.ravel(), metrics, strict=False):
            for label, part in table[table["metric"] == name].groupby("round", sort=False):
                ax.stairs(part["density"], np.append(part["bin_left"], part["bin_right"].iloc[-1]),
                          color=ROUND_COLOURS.get(label, "k"), label=ROUND_LABELS.get(label, label))
            plausible = fam.plausible_range(name)
            if plausible is not None:
                ax.axvspan(*plausible, color="green", alpha=0.08, lw=0)
            ax.set_title(f"{name} ({fam.metric(name).units})")
        for ax in axes.ravel()[len(metrics):]:
            ax.set_visible(False)
        axes[0, 0].legend(frameon=False)
        fig.suptitle(f"Metric distributions (green: plausible range)\n{data_label(ds)}", y=1.02)
        fig.tight_layout()
    return fig, table
