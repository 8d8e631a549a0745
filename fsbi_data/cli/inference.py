"""CLI commands: fit a posterior over rules, sample new rules from it."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import numpy as np

from ..inference import FitSettings
from .queries import check_output_folder, parse_range, refuse_reversed, selection_mask

log = logging.getLogger(__name__)


@click.command("fit")
@click.argument("name_or_path")
@click.option("--metrics", "metric_names", required=True,
              help="Comma-separated metrics to condition on, e.g. rate or rate,cv_isi.")
@click.option("--criteria", default=None,
              help="Train on the rules meeting this criteria set (e.g. 'tutorial training').")
@click.option("--where", "ranges", multiple=True, metavar="NAME=LOW:HIGH",
              help="Further inclusive ranges on metrics or parameters.")
@click.option("--ensemble", type=int, default=FitSettings.n_ensemble, show_default=True,
              help="Ensemble size.")
@click.option("--max-epochs", type=int, default=None, help="Cap on epochs per member.")
@click.option("--seed", type=int, default=None, help="Seed of the training.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Members trained at once, each in a worker process [default: one per 2 "
                   "free cores, 1 on a GPU].")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch threads of each member's training [default: OMP_NUM_THREADS, else "
                   "each worker's share of the free cores].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Posterior file to write.")
def fit(name_or_path: str, metric_names: str, criteria: str | None, ranges: tuple[str, ...],
        ensemble: int, max_epochs: int | None, seed: int | None, workers: int | None,
        threads: int | None, out: Path) -> None:
    """Fit p(theta | metrics) on rules of NAME_OR_PATH (a family or a store).

    A bar shows the members trained and each training member's epoch and validation loss.
    """
    from .. import inference
    from .. import open as open_dataset

    for text in ranges:  # a malformed or reversed range fails before the data are opened
        parse_range(text)
    check_output_folder(out, error=inference.InferenceError)
    ds = open_dataset(name_or_path, progress=True)
    selection = ds.fsbi.select(selection_mask(ds, [criteria] if criteria else [], ranges))
    selection.attrs["selection"] = f"criteria={criteria}; where={list(ranges)}"
    posterior = inference.fit(selection, [m.strip() for m in metric_names.split(",")],
                              n_ensemble=ensemble, max_epochs=max_epochs, seed=seed,
                              workers=workers, threads=threads, progress=True)
    posterior.save(out)
    click.echo(f"{posterior}\nwrote {out}")


@click.command("sample")
@click.argument("posterior_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--condition", "conditions", multiple=True, required=True,
              metavar="METRIC=VALUE|LOW:HIGH", help="Target of each fitted metric.")
@click.option("--n", "n_rules", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of rules to sample.")
@click.option("--seed", type=int, default=None,
              help="Seed of the sampling, for a reproducible set of rules.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="An (n, n_theta) float64 .npy, as `fsbi-data simulate --thetas` takes.")
def sample(posterior_path: str, conditions: tuple[str, ...], n_rules: int, seed: int | None,
           out: Path) -> None:
    """Sample rules from a posterior, inside the prior bounds."""
    from .. import inference

    for text in conditions:
        refuse_reversed("--condition", text)
    targets = dict(inference.parse_condition(text) for text in conditions)
    check_output_folder(out, error=inference.InferenceError)
    rules = inference.load(posterior_path).sample(n=n_rules, seed=seed, **targets)
    np.save(out, rules.theta.values)
    click.echo(f"wrote {n_rules} rules to {out}")


commands: list[click.Command] = [fit, sample]
