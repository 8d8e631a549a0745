"""The paper's figure panels, one module per figure (``docs/figures.md``).

Each data-driven panel is a function of a Dataset (a store opened with :func:`fsbi_data.open`,
or any selection of one) returning ``(matplotlib.figure.Figure, pandas.DataFrame)``: the figure
and exactly the numbers it plots; the posterior panels (:func:`conditional_correlation`,
:func:`posterior_marginals`) take a :class:`~fsbi_data.inference.RulePosterior` and a
condition. Figures are sized for the paper's text width (5.5 in), laid out so that no text
leaves the canvas, and titled with where their data came from. :func:`write_all` renders every
panel of a Dataset to PDF, PNG (200 dpi) and CSV.

Examples
--------
>>> fig, table = fsbi_data.figures.accumulation(ds)          # doctest: +SKIP
>>> fsbi_data.figures.write_all(ds, "figs/")                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from .accumulation import accumulation
from .correlation import parameter_correlation
from .distributions import metric_distributions
from .longevity import longevity
from .pca import pca_dimensionality
from .posterior import (
    N_CONDITIONS,
    N_SAMPLES,
    RESOLUTION,
    conditional_correlation,
    posterior_marginals,
)
from .rules import mlp_rule, polynomial_rule, rule_plot
from .style import PNG_DPI

PANELS: dict[str, Callable] = {
    "accumulation": accumulation,
    "pca": pca_dimensionality,
    "rule": lambda ds: rule_plot(family_name=ds.attrs["family"]),
    "correlation": parameter_correlation,
    "distributions": metric_distributions,
}

__all__ = ["PANELS", "accumulation", "conditional_correlation", "longevity",
           "metric_distributions", "mlp_rule", "parameter_correlation", "pca_dimensionality",
           "polynomial_rule", "posterior_marginals", "rule_plot", "write_all", "write_panel",
           "write_posterior_panels"]


def write_panel(fig, table: pd.DataFrame, out_dir: str | Path, name: str) -> list[Path]:
    """Write one panel as ``<name>.pdf``, ``<name>.png`` (200 dpi) and its numbers as
    ``<name>.csv``; the figure is closed.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_panel(*polynomial_rule(), tempfile.mkdtemp(), "rule")
    >>> [p.suffix for p in paths]
    ['.pdf', '.png', '.csv']
    """
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.{ext}" for ext in ("pdf", "png", "csv")]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=PNG_DPI)
    table.to_csv(paths[2], index=table.index.name is not None)
    plt.close(fig)
    return paths


def write_all(ds: xr.Dataset, out_dir: str | Path, longevity_ds: xr.Dataset | None = None,
              prefix: str | None = None) -> list[Path]:
    """Render every panel of ``ds`` (and the longevity panel of ``longevity_ds``) to files.

    Each panel is written by :func:`write_panel` as ``<prefix>_<panel>.pdf``, ``.png`` and
    ``.csv`` (prefix: the family's name); the panels are those of :data:`PANELS`, then
    ``longevity``.

    Examples
    --------
    >>> paths = write_all(ds, "figs/", longevity_ds=bg20min)  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    prefix = prefix or ds.attrs["family"]
    written = []
    for name, panel in PANELS.items():
        written += write_panel(*panel(ds), out_dir, f"{prefix}_{name}")
    if longevity_ds is not None:
        written += write_panel(*longevity(longevity_ds), out_dir, f"{prefix}_longevity")
    return written


def write_posterior_panels(posterior, out_dir: str | Path, condition: Mapping[str, Any], *,
                           n_conditions: int = N_CONDITIONS, resolution: int = RESOLUTION,
                           n_samples: int = N_SAMPLES, seed: int | None = 0,
                           prefix: str | None = None) -> list[Path]:
    """Write :func:`conditional_correlation` and :func:`posterior_marginals` of a posterior at
    ``condition`` (a value or a ``(low, high)`` range per fitted metric) as
    ``<prefix>_conditional_correlation.*`` and ``<prefix>_posterior_marginals.*`` (PDF, PNG,
    CSV; prefix: the family's name).

    Examples
    --------
    >>> write_posterior_panels(post, "figs/", {"rate": 7.5})  # doctest: +SKIP
    """
    prefix = prefix or posterior.family.name
    correlation = conditional_correlation(posterior, n_conditions=n_conditions,
                                          resolution=resolution, seed=seed, **condition)
    marginals = posterior_marginals(posterior, n_samples=n_samples, seed=seed, **condition)
    return [*write_panel(*correlation, out_dir, f"{prefix}_conditional_correlation"),
            *write_panel(*marginals, out_dir, f"{prefix}_posterior_marginals")]
