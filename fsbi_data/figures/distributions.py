"""Metric distributions per round, with the paper's plausible ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import family
from ..store.layout import round_names
from .style import (
    PLAUSIBLE_COLOUR,
    ROUND_COLOURS,
    ROUND_LABELS,
    TEXT_WIDTH,
    data_label,
    new_figure,
    paper_style,
    set_title,
    wrap,
)

N_BINS = 40
QUANTILES = (0.01, 0.99)  # the drawn range of each metric: these quantiles of its finite values
COLUMNS = 4
PANEL_HEIGHT = 1.25  # in: one row of panels


def drawn_range(values: np.ndarray, plausible: tuple[float, float] | None = None
                ) -> tuple[float, float] | None:
    """The range a metric is drawn over: the 1st–99th percentiles of its finite values,
    widened to a plausible bound that lies within a quarter of that range of it (so that
    rate's bound of 1 Hz or the bound 0 of a non-negative metric is drawn, not cv_isi's 1000).

    Examples
    --------
    >>> values = np.append(np.arange(101.0), np.nan)
    >>> drawn_range(values)
    (1.0, 99.0)
    >>> drawn_range(values, (0, 1000))
    (0.0, 99.0)
    >>> drawn_range(np.array([np.nan])) is None
    True
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = (float(q) for q in np.quantile(finite, QUANTILES))
    high = high if high > low else low + 1
    reach = (high - low) / 4
    if plausible is not None:
        if low - reach <= plausible[0] < low:
            low = float(plausible[0])
        if high < plausible[1] <= high + reach:
            high = float(plausible[1])
    return low, high


def metric_distributions(ds: xr.Dataset, metrics=None):
    """Histograms (density) of each metric per round, over its 1st–99th percentile range
    (widened to a nearby plausible bound, :func:`drawn_range`).

    The plausible range is shaded green where it overlaps the drawn range; a bound outside the
    drawn range is written at that edge with an arrow (cv_isi's upper bound of 1000, say).
    Metrics without finite values are left out. The legend (rounds) sits below the panels.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and every bin plotted: metric, round, bin_left, bin_right, density.

    Examples
    --------
    >>> fig, table = metric_distributions(ds, ["rate", "cv_isi"])  # doctest: +SKIP
    """
    fam = family(ds.attrs["family"])
    labels = round_names(ds) or ("all",)
    rows, ranges = [], {}
    for name in list(metrics or fam.metric_names):
        values = ds.fsbi.column(name)
        drawn = drawn_range(values, fam.plausible_range(name))
        if drawn is None:
            continue
        ranges[name] = drawn
        edges = np.linspace(*drawn, N_BINS + 1)
        for label in labels:
            members = np.ones(values.size, bool) if label == "all" else \
                np.asarray(ds[f"in_{label}"].values)
            part = values[members]
            density, _ = np.histogram(part[np.isfinite(part)], bins=edges, density=True)
            rows.append(pd.DataFrame({"metric": name, "round": label, "bin_left": edges[:-1],
                                      "bin_right": edges[1:], "density": density}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["metric", "round", "bin_left", "bin_right", "density"])
    n_rows = max(1, -(-len(ranges) // COLUMNS))
    width = TEXT_WIDTH
    panel_width = width / COLUMNS - 0.1
    with paper_style():
        fig, axes = new_figure(width, PANEL_HEIGHT * n_rows + 0.9, n_rows, COLUMNS,
                               squeeze=False)
        for k, (ax, name) in enumerate(zip(axes.ravel(), ranges, strict=False)):
            for label, part in table[table["metric"] == name].groupby("round", sort=False):
                ax.stairs(part["density"], np.append(part["bin_left"], part["bin_right"].iloc[-1]),
                          color=ROUND_COLOURS.get(label, "k"), label=ROUND_LABELS.get(label, label))
            _mark_plausible(ax, fam.plausible_range(name), ranges[name])
            ax.set_xlim(*ranges[name])
            ax.set_xlabel(wrap(f"{name} ({fam.metric(name).units})", panel_width))
            ax.locator_params(axis="x", nbins=3)
            ax.tick_params(axis="y", labelleft=False, left=False)
            if k % COLUMNS == 0:
                ax.set_ylabel("probability density")
        for ax in axes.ravel()[len(ranges):]:
            ax.set_visible(False)
        handles, names = axes[0, 0].get_legend_handles_labels()
        handles.append(_plausible_patch())
        names.append("plausible range")
        fig.legend(handles, names, loc="outside lower center", ncols=len(names),
                   frameon=False, handlelength=1.5)
        set_title(fig, "Metric distributions per round (1st–99th percentile range)",
                  data_label(ds))
    return fig, table


def _plausible_patch():
    from matplotlib.patches import Patch

    return Patch(color=PLAUSIBLE_COLOUR, alpha=0.15, lw=0)


def _mark_plausible(ax, plausible: tuple[float, float] | None,
                    drawn: tuple[float, float]) -> None:
    """Shade the plausible range inside the drawn range; write the bounds that lie outside it
    at the edge they lie beyond."""
    if plausible is None:
        return
    low, high = plausible
    if max(low, drawn[0]) < min(high, drawn[1]):
        ax.axvspan(max(low, drawn[0]), min(high, drawn[1]), color=PLAUSIBLE_COLOUR, alpha=0.15,
                   lw=0)
    left = f"[{low:g}, {high:g}] ←" if high < drawn[0] else f"{low:g} ←" if low < drawn[0] else ""
    right = (f"→ [{low:g}, {high:g}]" if low > drawn[1] else
             f"→ {high:g}" if high > drawn[1] else "")
    for text, x, ha in ((left, 0.02, "left"), (right, 0.98, "right")):
        if text:
            ax.text(x, 0.97, text, transform=ax.transAxes, ha=ha, va="top", fontsize=6,
                    color=PLAUSIBLE_COLOUR, gid="plausible-bound")
