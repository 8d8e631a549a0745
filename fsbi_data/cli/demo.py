"""CLI commands: the main job, end to end."""

from __future__ import annotations

from pathlib import Path

import click

from ..demo import N_NEW_RULES


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True,
              help="Folder for the stores, the figures, the posterior and the report; a "
                   "folder a previous demo wrote is emptied first.")
@click.option("--release/--sample", "use_release", default=None,
              help="Use the released data (fetched if needed) or the embedded sample "
                   "(simulated by fsbi-data, quick protocol); default: the release if "
                   "cached, else the sample.")
@click.option("--new-rules", type=click.IntRange(min=1), default=N_NEW_RULES, show_default=True,
              help="Rules to draw from the posterior for rate 5-10 Hz and simulate.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Simulations at once.")
def demo(out: Path, use_release: bool | None, new_rules: int, workers: int) -> None:
    """Open, query, draw, fit, sample, simulate and append: the whole workflow once.

    Ends with how many of the new rules landed in rate 5-10 Hz, against the share of the
    store's own rules there.
    """
    from ..demo import run_demo

    report = run_demo(out, use_release=use_release, n_new_rules=new_rules, workers=workers,
                      progress=True)
    click.echo(report.summary())


commands: list[click.Command] = [demo]
