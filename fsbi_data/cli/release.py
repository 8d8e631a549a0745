"""CLI commands: release files (``datasets``, ``fetch``)."""

from __future__ import annotations

from pathlib import Path

import click

from .stores import table as text_table


def _size(size: float | None) -> str:
    if size is None or size != size:
        return "?"
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB"):
        size /= 1000
        if size < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"


@click.command()
def datasets() -> None:
    """List the released files: name, role, rows, size, and whether each is cached."""
    from ..catalog import cache_dir
    from ..fetching import datasets as list_datasets

    table = list_datasets().astype(object).where(lambda t: t.notna(), None)
    rows = [
        (row.name, row.role + (f" {row.round}" if row.round else ""),
         "-" if row.rows is None else f"{row.rows:,}", _size(row.size),
         "yes" if row.cached else "no")
        for row in table.itertuples(index=False)
    ]
    click.echo(text_table(("name", "role", "rows", "size", "cached"), rows, "<<>><"))
    click.echo(f"\ncache: {cache_dir()}")


@click.command()
@click.argument("name")
@click.option("--source", type=click.Path(exists=True, path_type=Path),
              help="A local copy of the release (folder or file) instead of a download.")
def fetch(name: str, source: Path | None) -> None:
    """Download (or take from --source) the released file NAME, verify it, print its path."""
    from ..fetching import fetch as fetch_file

    click.echo(str(fetch_file(name, source=source, progress=True)))


commands: list[click.Command] = [datasets, fetch]
