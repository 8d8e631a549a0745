"""CLI commands: the main job, end to end."""

from __future__ import annotations

import warnings
from pathlib import Path

import click


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True,
              help="Folder for the store, the figures, the posterior and the report.")
@click.option("--release/--sample", "use_release", default=None,
              help="Use the released data (fetched if needed) or the embedded synthetic "
                   "sample; default: the release if cached, else the sample.")
@click.option("--new-rules", type=int, default=4, show_default=True,
              help="Rules to sample from the posterior and simulate.")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Dask workers for the simulations.")
def demo(out: Path, use_release: bool | None, new_rules: int, workers: int) -> None:
    """Open, query, draw, fit, sample, simulate and append: the whole workflow once."""
    from ..demo import run_demo

    with warnings.catch_warnings():
        # The demo caps training at a few epochs on purpose: sbi's warning that the cap was
        # reached before convergence says nothing the user can act on here.
        warnings.filterwarnings("ignore", r"Maximum number of epochs .* reached",
                                UserWarning)
        report = run_demo(out, use_release=use_release, n_new_rules=new_rules,
                          workers=workers, progress=True)
    click.echo(report.summary())


commands: list[click.Command] = [demo]
