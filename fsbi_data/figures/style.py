"""The shared look of every panel: a restrained seaborn style, the paper's colours, labels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr

from ..store.layout import provenance

CONNECTION_COLOURS = {"ee": "#d62728", "ei": "#ff7f0e", "ie": "#1f77b4", "ii": "#17becf"}
ROUND_COLOURS = {"pi0": "#bdbdbd", "pi1": "#9ecae1", "pi2": "#4292c6", "pi3": "#08306b"}
GROUP_COLOURS = {"stable activity": "#2ca02c", "stable weights": "#9467bd",
                 "A.I. dynamics": "#ff7f0e", "plausible": "#000000"}
ROUND_LABELS = {"pi0": "π0", "pi1": "π1", "pi2": "π2", "pi3": "π3"}
FONT = "DejaVu Sans"  # ships with matplotlib: no font warnings anywhere


@contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings of every panel (used as a context, nothing leaks to the caller)."""
    with sns.axes_style("ticks"), plt.rc_context({
        "font.family": FONT, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
        "legend.fontsize": 8, "axes.spines.top": False, "axes.spines.right": False,
        "figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight",
    }):
        yield


def data_label(ds: xr.Dataset) -> str:
    """What data a panel shows: the family and the sources of the Dataset, as one line."""
    names = sorted({s.get("source") or s.get("name") or s.get("kind", "?")
                    for s in provenance(ds) if isinstance(s, dict)})
    origin = ds.attrs.get("data_origin") or ", ".join(n for n in names if n) or "in-memory data"
    return f"{ds.attrs.get('family', '?')}: {origin} ({ds.sizes.get('rule', 0):,} rules)"
