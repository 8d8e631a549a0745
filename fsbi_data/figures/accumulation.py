"""Figs. 2 and 4: fraction of rules meeting each criteria group, per round (log axis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import ACCUMULATION_GROUPS
from ..store.layout import round_names
from .style import (
    GROUP_COLOURS,
    HALF_WIDTH,
    ROUND_LABELS,
    data_label,
    new_figure,
    paper_style,
    set_title,
)

FLOOR = 1e-4  # values below are drawn at the floor and labelled "<10⁻⁴" (docs/figures.md)
CEILING = 2.0
SIZE = (HALF_WIDTH, 3.0)  # in: half the text width, beside the PCA panel as in the paper


def accumulation(ds: xr.Dataset, groups=ACCUMULATION_GROUPS):
    """The accumulation plot: one short bar per (group, round), dashed lines across rounds.

    A Dataset without round membership is drawn as one column, "all". The legend sits below
    the axes; the title names the data (:func:`~fsbi_data.figures.style.data_label`).

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and the table of fractions (NaN rows in the denominator): round, group,
        n_rules, n_meeting, fraction, plotted (clipped to [1e-4, 2]).

    Examples
    --------
    >>> fig, table = accumulation(ds)  # doctest: +SKIP
    """
    table: pd.DataFrame = ds.fsbi.fractions(groups, by="round" if round_names(ds) else None)
    table["plotted"] = np.clip(table["fraction"].to_numpy(), FLOOR, CEILING)
    rounds = list(dict.fromkeys(table["round"]))
    with paper_style():
        fig, ax = new_figure(*SIZE)
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
        ax.minorticks_off()
        ax.set_xlim(-0.5, len(rounds) - 0.5)
        ax.set_xticks(range(len(rounds)), [ROUND_LABELS.get(r, r) for r in rounds])
        ax.set_xlabel("round of fSBI" if round_names(ds) else "rules")
        ax.set_ylabel("fraction of rules (log scale)")
        fig.legend(loc="outside lower center", ncols=2, frameon=False, handlelength=1.2,
                   columnspacing=1.0)
        set_title(fig, "Criteria met per round", data_label(ds))
    return fig, table
