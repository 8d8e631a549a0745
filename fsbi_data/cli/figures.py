"""CLI commands: write the paper's figure panels of a store."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("figures")
@click.argument("name_or_path")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the panels (PNG, PDF) and the numbers behind them (CSV).")
@click.option("--longevity", "longevity_source",
              help="Also draw the 20-minute longevity panel from this store or catalog name "
                   "(e.g. 6pPol/bg20min converted to a store).")
def figures(name_or_path: str, out: Path, longevity_source: str | None) -> None:
    """Write every data-driven panel of the paper for NAME_OR_PATH (a family or a store)."""
    from .. import open as open_dataset
    from ..figures import write_all

    ds = open_dataset(name_or_path, progress=True)
    longevity_ds = open_dataset(longevity_source, progress=True) if longevity_source else None
    written = write_all(ds, out, longevity_ds)
    click.echo(f"wrote {len(written)} files to {out}")


commands: list[click.Command] = [figures]
