"""The paper's data-driven figure panels, one module per figure.

Each panel is a function of a Dataset (a store opened with :func:`fsbi_data.open`, or any
selection of one) returning ``(matplotlib.figure.Figure, pandas.DataFrame)``: the figure and
exactly the numbers it plots. :func:`write_all` renders every panel to PNG, PDF and CSV.

Examples
--------
>>> fig, table = fsbi_data.figures.accumulation(ds)          # doctest: +SKIP
>>> fsbi_data.figures.write_all(ds, "figs/")                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import xarray as xr

from .accumulation import accumulation
from .correlation import parameter_correlation
from .distributions import metric_distributions
from .longevity import longevity
from .pca import pca_dimensionality
from .rules import mlp_rule, polynomial_rule, rule_plot

PANELS: dict[str, Callable] = {
    "accumulation": accumulation,
    "pca": pca_dimensionality,
    "rule": lambda ds: rule_plot(family_name=ds.attrs["family"]),
    "correlation": parameter_correlation,
    "distributions": metric_distributions,
}

__all__ = ["PANELS", "accumulation", "longevity", "metric_distributions", "mlp_rule",
           "parameter_correlation", "pca_dimensionality", "polynomial_rule", "rule_plot",
           "write_all"]


def write_panel(fig, table, out_dir: Path, name: str) -> list[Path]:
    """Write one panel as ``<name>.png``, ``<name>.pdf`` and the numbers as ``<name>.csv``."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.{ext}" for ext in ("png", "pdf", "csv")]
    fig.savefig(paths[0])
    fig.savefig(paths[1])
    table.to_csv(paths[2], index=table.index.name is not None)
    plt.close(fig)
    return paths


def write_all(ds: xr.Dataset, out_dir: str | Path, longevity_ds: xr.Dataset | None = None,
              prefix: str | None = None) -> list[Path]:
    """Render every panel of ``ds`` (and the longevity panel of ``longevity_ds``) to files."""
    out_dir = Path(out_dir)
    prefix = prefix or ds.attrs["family"]
    written = []
    for name, panel in PANELS.items():
        written += write_panel(*panel(ds), out_dir, f"{prefix}_{name}")
    if longevity_ds is not None:
        written += write_panel(*longevity(longevity_ds), out_dir, f"{prefix}_longevity")
    return written
