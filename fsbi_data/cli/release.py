"""CLI commands: release files (``datasets``, ``fetch``)."""

from __future__ import annotations

from pathlib import Path

import click


def _size(size: float | None) -> str:
    if size is None or size != size:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


@click.command()
def datasets() -> None:
    """List the released files: name, role, rows, size, and whether each is cached."""
    from ..catalog import cache_dir
    from ..catalog import datasets as list_datasets

    table = list_datasets().astype(object).where(lambda t: t.notna(), None)
    header = ("name", "role", "rows", "size", "cached")
    lines = [
        (row.name, row.role + (f" {row.round}" if row.round else ""),
         "-" if row.rows is None else f"{row.rows:,}", _size(row.size),
         "yes" if row.cached else "no")
        for row in table.itertuples(index=False)
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    align = ("<", "<", ">", ">", "<")

    def fmt(cells: tuple[str, ...]) -> str:
        padded = (f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths, strict=True))
        return "  ".join(padded).rstrip()

    click.echo(fmt(header))
    click.echo("  ".join("-" * w for w in widths))
    for line in lines:
        click.echo(fmt(line))
    click.echo(f"\ncache: {cache_dir()}")


@click.command()
@click.argument("name")
@click.option("--source", type=click.Path(exists=True, path_type=Path),
              help="A local copy of the release (folder or file) instead of a download.")
def fetch(name: str, source: Path | None) -> None:
    """Download (or take from --source) the released file NAME, verify it, print its path."""
    from ..catalog import fetch as fetch_file

    click.echo(str(fetch_file(name, source=source, progress=True)))


commands: list[click.Command] = [datasets, fetch]
