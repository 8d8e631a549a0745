"""Fig. 4: a posterior over rules at a condition — conditional correlations and marginals.

Both panels take a :class:`~fsbi_data.inference.RulePosterior` (fitted with
:func:`fsbi_data.inference.fit` or loaded with :func:`fsbi_data.inference.load`) and a value or a
``(low, high)`` range for each metric it was fitted on, as :meth:`RulePosterior.sample` does.

Examples
--------
>>> post = fsbi_data.inference.load("rate.fsbi-post")           # doctest: +SKIP
>>> fig, matrix = conditional_correlation(post, rate=7.5)        # doctest: +SKIP
>>> fig, samples = posterior_marginals(post, rate=(5, 10))       # doctest: +SKIP
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..inference import InferenceError
from ..schema import METRICS, Family
from .correlation import display_order, matrix_figure
from .style import (
    CONNECTION_COLOURS,
    TEXT_WIDTH,
    new_figure,
    paper_style,
    provenance_origin,
    set_title,
    wrap,
)

if TYPE_CHECKING:
    from ..inference import RulePosterior

N_CONDITIONS = 10  # posterior draws the conditional correlations are averaged over (the paper's)
RESOLUTION = 50  # grid points per parameter of each conditional density (sbi's default)
N_SAMPLES = 2000  # posterior draws of the marginals
N_BINS = 20  # histogram bins across the prior range
PANEL_HEIGHT = 1.0  # in: one row of marginals
UNIT_LABELS = {"eta": "η"}  # units of the polynomial coefficients: multiples of η


def condition_text(posterior: RulePosterior, condition: dict[str, Any]) -> str:
    """The condition in words with units, e.g. ``"rate = 7.5 Hz"``, ``"rate ∈ [5, 10] Hz"``.

    Examples
    --------
    >>> condition_text(post, {"rate": (5, 10), "cv_isi": 0.9})  # doctest: +SKIP
    'rate ∈ [5, 10] Hz, cv_isi = 0.9'
    """
    parts = []
    for name in posterior.settings.metrics:
        value = condition.get(name)
        units = METRICS[name].units if name in METRICS else ""
        units = "" if units in ("", "1") else f" {units}"
        if isinstance(value, tuple | list):
            parts.append(f"{name} ∈ [{value[0]:g}, {value[1]:g}]{units}")
        else:
            parts.append(f"{name} = {value:g}{units}")
    return ", ".join(parts)


def posterior_origin(posterior: RulePosterior) -> str:
    """Which posterior and which rules it was fitted on, in words (for titles)."""
    record = posterior.record
    return (f"{record.family} posterior p(θ | {', '.join(posterior.settings.metrics)}), "
            f"{posterior.settings.n_ensemble} × {posterior.settings.density_estimator}, fitted "
            f"on {record.n_train:,} rules of {provenance_origin(record.sources)}")


def _conditional_corrcoeff():
    try:
        from sbi.analysis import conditional_corrcoeff
    except ImportError as error:
        raise InferenceError(f"the conditional correlations need sbi's analysis tools, which do "
                             f"not import here ({error}); pip install 'fsbi-data[inference]' "
                             f"and what the message names") from None
    return conditional_corrcoeff


def conditional_correlation(posterior: RulePosterior, *, n_conditions: int = N_CONDITIONS,
                            resolution: int = RESOLUTION, seed: int | None = 0,
                            **condition: Any):
    """The conditional correlation matrix of the rule parameters at a condition (Fig. 4).

    sbi's :func:`sbi.analysis.conditional_corrcoeff`, as in the paper: for a pair of
    parameters (i, j), every other parameter is fixed at a conditioning point θ_c and the
    posterior density p(θ | x) is evaluated on a ``resolution`` × ``resolution`` grid spanning
    the prior box of θ_i and θ_j (both ends included); the Pearson correlation of θ_i and θ_j
    under that gridded density is one entry, and the matrix is averaged over the conditioning
    points.

    The conditioning points are posterior draws at the condition, ``posterior.sample(
    n=n_conditions, seed=seed, **condition)`` (the paper: 10 draws), each with its own x:
    the value of each metric, or a uniform draw from its range (the draw's
    ``condition_<metric>``). The density at x is sbi's ensemble posterior
    (``posterior.sbi_posterior``, leakage-corrected, with x as its default). A MAP estimate
    would give a single point where the density is steepest; draws show the correlations
    where the posterior's mass is.

    The cost is ``n_conditions`` × (number of parameter pairs) × ``resolution``² evaluations
    of every ensemble member: minutes for a full-size ensemble (lower ``resolution`` or
    ``n_conditions`` for a quick look).

    Parameters
    ----------
    posterior
        A fitted or loaded :class:`~fsbi_data.inference.RulePosterior`.
    n_conditions
        Conditioning points (posterior draws) the matrix is averaged over.
    resolution
        Grid points per parameter.
    seed
        Seed of the conditioning draws (and of sbi's leakage correction).
    condition
        A value or a ``(low, high)`` range for each metric the posterior was fitted on.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and the matrix (symmetric, unit diagonal), indexed and columned by
        parameter names in the paper's display order
        (:func:`~fsbi_data.figures.correlation.display_order`).

    Examples
    --------
    >>> fig, matrix = conditional_correlation(post, rate=7.5)  # doctest: +SKIP
    >>> matrix.loc["eta_ee", "wpre_ee_0"]                      # doctest: +SKIP
    """
    import torch

    corrcoeff = _conditional_corrcoeff()
    fam = posterior.family
    n = len(fam.rule_param_names)
    points = posterior.sample(n=n_conditions, seed=seed, **condition)
    theta = torch.as_tensor(np.asarray(points["theta"].values)[:, :n], dtype=torch.float32)
    x = np.stack([points[f"condition_{m}"].values for m in posterior.settings.metrics], axis=1)
    limits = torch.as_tensor(np.stack([fam.low[:n], fam.high[:n]], axis=1), dtype=torch.float32)
    if seed is not None:
        torch.manual_seed(seed)
    matrix = np.zeros((n, n))
    with torch.no_grad():
        for x_value in np.unique(x, axis=0):  # one sbi call per distinct x, over its points
            rows = np.flatnonzero((x == x_value).all(axis=1))
            # A fresh copy per x: sbi keeps the leakage correction of the first default x.
            density = copy.deepcopy(posterior.sbi_posterior).set_default_x(
                torch.as_tensor(x_value[None], dtype=torch.float32))
            part = corrcoeff(density, limits, theta[rows], resolution=resolution)
            matrix += part.double().numpy() * len(rows) / len(x)
    order = display_order(fam)
    names = [fam.param_names[i] for i in order]
    matrix = matrix[np.ix_(order, order)]
    table = pd.DataFrame(matrix, index=pd.Index(names, name="param"), columns=names)
    fig = matrix_figure(
        matrix, fam, order,
        f"Conditional correlations at {condition_text(posterior, condition)} (mean over "
        f"{n_conditions} posterior draws, {resolution}² grid)",
        posterior_origin(posterior), "conditional correlation coefficient (1)")
    return fig, table


def marginal_layout(fam: Family) -> list[list[int | None]]:
    """Rows of parameter indices of the marginals panel (None: an empty cell).

    6pPol: one row per connection (τ_pre, τ_post, α, β, γ, κ). MLP: per connection, η and the
    pre-event outputs, then the post-event outputs (the paper's display order).

    Examples
    --------
    >>> from fsbi_data.schema import family
    >>> marginal_layout(family("MLP"))[1]
    [None, 7, 8, 9, 10, 11]
    """
    if fam.name == "MLP":
        return [[0, *range(2, 7)], [None, *range(7, 12)], [1, *range(12, 17)],
                [None, *range(17, 22)]]
    n = len(fam.rule_param_names)
    return [list(range(k, min(k + 6, n))) for k in range(0, n, 6)]


def posterior_marginals(posterior: RulePosterior, *, n_samples: int = N_SAMPLES,
                        seed: int | None = 0, **condition: Any):
    """Marginals of posterior samples at a condition, each over the prior box (Fig. 4).

    The diagonal of a pairplot, one histogram (density) per rule parameter, laid out by
    connection (:func:`marginal_layout`), each axis spanning the parameter's prior range with
    the uniform prior drawn as a dashed box (height 1 / (high − low); ``gid="prior-box"``).
    The samples are ``posterior.sample(n=n_samples, seed=seed, **condition)``: draws inside
    the prior, one per target (a range gives each draw a uniform target from it).

    Parameters
    ----------
    posterior
        A fitted or loaded :class:`~fsbi_data.inference.RulePosterior`.
    n_samples
        Posterior draws.
    seed
        Seed of the draws.
    condition
        A value or a ``(low, high)`` range for each metric the posterior was fitted on.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and the samples: one row per draw, the rule parameters in the paper's
        display order, then ``condition_<metric>`` (the draw's target).

    Examples
    --------
    >>> fig, samples = posterior_marginals(post, rate=(5, 10))  # doctest: +SKIP
    >>> samples["alpha_ee"].median()                           # doctest: +SKIP
    """
    fam = posterior.family
    n = len(fam.rule_param_names)
    rules = posterior.sample(n=n_samples, seed=seed, **condition)
    theta = np.asarray(rules["theta"].values)[:, :n]
    order = display_order(fam)
    table = pd.DataFrame(theta[:, order], columns=[fam.param_names[i] for i in order],
                         index=pd.RangeIndex(n_samples, name="sample"))
    for metric in posterior.settings.metrics:
        table[f"condition_{metric}"] = rules[f"condition_{metric}"].values
    layout = marginal_layout(fam)
    columns = max(len(row) for row in layout)
    panel_width = TEXT_WIDTH / columns - 0.1
    with paper_style():
        fig, axes = new_figure(TEXT_WIDTH, PANEL_HEIGHT * len(layout) + 0.9, len(layout),
                               columns, squeeze=False)
        for r, row in enumerate(layout):
            for c in range(columns):
                ax = axes[r, c]
                index = row[c] if c < len(row) else None
                if index is None:
                    ax.set_visible(False)
                    continue
                _marginal(ax, fam, index, theta[:, index], panel_width)
                if c == 0 or row[0] is None and c == 1:
                    ax.set_ylabel("density")
        handles = [axes[0, 0].patches[0], axes[0, 0].get_lines()[0]]
        fig.legend(handles, [f"posterior ({n_samples:,} draws)", "uniform prior"],
                   loc="outside lower center", ncols=2, frameon=False)
        set_title(fig, f"Posterior marginals at {condition_text(posterior, condition)}",
                  posterior_origin(posterior))
    return fig, table


def _marginal(ax, fam: Family, index: int, values: np.ndarray, width_in: float) -> None:
    """One parameter's histogram over its prior range, with the prior's box."""
    param = fam.parameters[index]
    low, high = param.low, param.high
    colour = CONNECTION_COLOURS.get(param.connection, "k")
    ax.hist(values, bins=np.linspace(low, high, N_BINS + 1), density=True, color=colour,
            alpha=0.6, lw=0)
    height = 1 / (high - low)
    ax.plot([low, low, high, high], [0, height, height, 0], color="k", ls="--", lw=0.8,
            gid="prior-box")
    margin = (high - low) * 0.05
    ax.set_xlim(low - margin, high + margin)
    ax.set_ylim(0, None)
    ax.set_xticks([low, high], [f"{low:g}", f"{high:g}"])
    ax.tick_params(axis="y", left=False, labelleft=False)
    units = UNIT_LABELS.get(param.units, param.units)
    ax.set_xlabel(wrap(f"{param.name} ({units})", width_in, fontsize=7), fontsize=7)
