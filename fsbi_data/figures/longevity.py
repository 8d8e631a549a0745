"""Fig. 5: rules re-simulated for longer (20 minutes in the paper) — which criteria still hold
(docs/figures.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..schema import Condition, family
from .style import TEXT_WIDTH, data_label, new_figure, paper_style, set_title

MAX_POINTS = 20_000  # points drawn in the PCA scatter
SIZE = (TEXT_WIDTH, 3.1)  # in: the text width


def stable_set(family_name: str) -> str:
    """The criteria a re-simulated rule must still meet to count as stable (Fig. 5 "all")."""
    return "plausible_tutorial" if family(family_name).name == "6pPol" else "plausible_mlp"


def longevity_conditions(family_name: str) -> list[tuple[str, tuple[Condition, ...]]]:
    """The labelled condition lists of the Fig. 5 fraction plot, in the paper's order."""
    fam = family(family_name)
    bounds = {c.metric: c for c in fam.criteria(stable_set(fam.name))}
    weights = [m for m in ("w_blow", "w_creep", "weef", "weif", "wief", "wiif")
               if m in fam.metric_names]
    return [("rate", (bounds["rate"],)), ("rate_i", (bounds["rate_i"],)),
            ("activity", fam.criteria("stable activity")),
            *[(m, (bounds[m],)) for m in weights],
            ("weights", fam.criteria("stable weights")),
            ("cv_isi", (bounds["cv_isi"],)),
            ("std_rate_temporal", (bounds["std_rate_temporal"],)),
            ("A.I.", fam.criteria("longevity A.I.")),
            ("all", fam.criteria(stable_set(fam.name)))]


def longevity(ds: xr.Dataset):
    """Fraction of all re-simulated rules meeting each condition, and a PCA of the
    completed rules coloured by whether they stayed stable (meet every condition).

    ``ds`` holds rules re-simulated with a longer protocol (the release's ``bg20min`` file of a
    family: 20 minutes; the embedded sample's: ten times longer training than the quick
    protocol), converted to a store. Fractions count every rule, NaN rows included; the PCA is
    of the unstandardised rule parameters of the completed rules (at most 20,000 shown, a fixed
    random subset). The legend sits to the right of the scatter.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The figure and the fractions: condition, n_rules, n_meeting, fraction.

    Examples
    --------
    >>> fig, table = longevity(fsbi_data.open("6pPol-bg20min.store"))  # doctest: +SKIP
    """
    from sklearn.decomposition import PCA

    fam = family(ds.attrs["family"])
    n = ds.sizes["rule"]
    rows = []
    for label, conditions in longevity_conditions(fam.name):
        mask = ds.fsbi._mask_of(conditions).values
        rows.append({"condition": label, "n_rules": n, "n_meeting": int(mask.sum()),
                     "fraction": mask.sum() / n if n else np.nan})
    table = pd.DataFrame(rows)
    completed = ds.fsbi.criteria_mask("completed").values
    stable = ds.fsbi.criteria_mask(stable_set(fam.name)).values
    theta = np.asarray(ds["theta"].values)[completed][:, :len(fam.rule_param_names)]
    with paper_style():
        fig, (bars, scatter) = new_figure(*SIZE, 1, 2, width_ratios=[1.5, 1])
        bars.bar(range(len(table)), table["fraction"], color="#4d4d4d")
        bars.set_xticks(range(len(table)), table["condition"], rotation=60, ha="right",
                        rotation_mode="anchor")
        bars.set_xlim(-0.6, len(table) - 0.4)
        bars.set_ylim(0, 1.01)
        bars.set_xlabel("condition (in the longer run)")
        bars.set_ylabel("fraction of all rules")
        bars.set_title("Criteria met in the longer run")
        scatter.set_title(f"Completed rules ({min(len(theta), MAX_POINTS):,} shown)")
        if len(theta) > 2:
            scores = PCA(n_components=2).fit_transform(theta)
            flags = stable[completed]
            if len(scores) > MAX_POINTS:  # a fixed random subset keeps large stores legible
                shown = np.random.default_rng(0).choice(len(scores), MAX_POINTS, replace=False)
                scores, flags = scores[shown], flags[shown]
            scatter.scatter(*scores[~flags].T, s=2, color="#bdbdbd", label="unstable",
                            rasterized=True, lw=0)
            scatter.scatter(*scores[flags].T, s=2, color="#08306b", label="stable",
                            rasterized=True, lw=0)
            scatter.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                           markerscale=4, handletextpad=0.2)
        scatter.set_xlabel("PC 1 of θ (θ units)")
        scatter.set_ylabel("PC 2 of θ (θ units)")
        set_title(fig, "Longevity: rules re-simulated for longer", data_label(ds))
    return fig, table
