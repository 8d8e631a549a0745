"""CLI commands: write the paper's figure panels of a store, or of a posterior at a condition."""

from __future__ import annotations

from pathlib import Path

import click

from ..figures.posterior import N_CONDITIONS, N_SAMPLES, RESOLUTION


@click.command("figures")
@click.argument("name_or_path", required=False)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the panels (PDF, PNG) and the numbers behind them (CSV).")
@click.option("--longevity", "longevity_source",
              help="Also draw the 20-minute longevity panel from this store or catalog name "
                   "(e.g. 6pPol/bg20min converted to a store).")
@click.option("--posterior", "posterior_path", type=click.Path(exists=True, dir_okay=False),
              help="Draw the posterior panels (conditional correlations, marginals) of this "
                   "posterior file, at --condition.")
@click.option("--condition", "conditions", multiple=True, metavar="METRIC=VALUE|LOW:HIGH",
              help="Target of each metric the posterior was fitted on (as `fsbi-data sample`).")
@click.option("--n-conditions", type=click.IntRange(min=1), default=N_CONDITIONS,
              show_default=True,
              help="Posterior draws the conditional correlations are averaged over.")
@click.option("--resolution", type=click.IntRange(min=2), default=RESOLUTION,
              show_default=True, help="Grid points per parameter of the conditional densities.")
@click.option("--samples", "n_samples", type=click.IntRange(min=1), default=N_SAMPLES,
              show_default=True, help="Posterior draws of the marginals.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the posterior draws.")
def figures(name_or_path: str | None, out: Path, longevity_source: str | None,
            posterior_path: str | None, conditions: tuple[str, ...], n_conditions: int,
            resolution: int, n_samples: int, seed: int) -> None:
    """Write every data-driven panel of the paper for NAME_OR_PATH (a family or a store),
    and/or the posterior panels of --posterior at --condition."""
    from .. import inference
    from .. import open as open_dataset
    from ..figures import write_all, write_posterior_panels

    if name_or_path is None and posterior_path is None:
        raise click.UsageError("give NAME_OR_PATH (a family or a store), --posterior FILE, or "
                               "both")
    if posterior_path is None and conditions:
        raise click.UsageError("--condition is the target of --posterior; give --posterior")
    if posterior_path is not None and not conditions:
        raise click.UsageError("--posterior needs a --condition for each fitted metric, e.g. "
                               "--condition rate=7.5")
    targets = dict(inference.parse_condition(text) for text in conditions)
    posterior = inference.load(posterior_path) if posterior_path else None
    written = []
    if name_or_path is not None:
        ds = open_dataset(name_or_path, progress=True)
        longevity_ds = open_dataset(longevity_source, progress=True) if longevity_source \
            else None
        written += write_all(ds, out, longevity_ds)
    if posterior is not None:
        written += write_posterior_panels(posterior, out, targets, n_conditions=n_conditions,
                                          resolution=resolution, n_samples=n_samples,
                                          seed=seed)
    click.echo(f"wrote {len(written)} files to {out}")


commands: list[click.Command] = [figures]
