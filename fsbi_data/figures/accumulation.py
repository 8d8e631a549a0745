"""Figs. 2 and 4: fraction of rules meeting each criteria group, per round (log axis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import ACCUMULATION_GROUPS
from ..store.layout import round_names
from .style import GROUP_COLOURS, ROUND_LABELS, data_label, paper_style

FLOOR = 1e-4  # values below are drawn at the floor and labelled "<10⁻⁴" (spec §7.1.1)
CEILING = 2.0


def accumulation(ds: xr.Dataset, groups=ACCUMULATION_GROUPS):
    """The accumulation plot: one short bar per (group, round), dashed lines across rounds.

    A Dataset without round membership is drawn as one column, "all". Returns the figure and
    the table of fractions (NaN rows in the denominator).
    """
    import matplotlib.pyplot as plt

    table: pd.DataFrame = ds.fsbi.fractions(groups, by="round" if round_names(ds) else None)
    table["plotted"] = np.clip(table["fraction"].to_numpy(), FLOOR, CEILING)
    rounds = list(dict.fromkeys(table["round"]))
    with paper_style():
        fig, ax = plt.subplots(figsize=(4.2, 3.2))
        for group in groups:
            rows = table[table["group"] == group]
            x = np.array([rounds.index(r) for r in rows["round"]])
            colour = GROUP_COLOURS.get(group, "grey")
            ax.hlines(rows["plotted"], x - 0.3, x + 0.3, colors=colour, lw=2.5, label=group)
            ax.plot(x, rows["plotted"], ls="--", lw=0.8, color=colour)
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 1.5, CEILING)
        ticks = [FLOOR, 1e-3, 1e-2, 1e-1, 1]
        ax.set_yticks(ticks, ["<10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "1"])
        ax.set_xticks(range(len(rounds)), [ROUND_LABELS.get(r, r) for r in rounds])
        ax.set_ylabel("fraction of rules")
        ax.legend(frameon=False, loc="lower right")
        ax.set_title(f"Criteria met per round\n{data_label(ds)}")
    return fig, table
