"""CLI commands: query a store with the paper's criteria and ranges, export the rules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from ..errors import FsbiDataError, QueryError

if TYPE_CHECKING:
    import xarray as xr

EXPORT_SUFFIXES = (".csv", ".parquet", ".npy")


def check_output_folder(out: Path, option: str = "--out",
                        error: type[FsbiDataError] = QueryError) -> None:
    """Refuse an output file whose folder is missing, before any work is done.

    Creating the folder would hide a mistyped path; the user creates it on purpose.
    """
    folder = out.parent
    if folder.exists() and not folder.is_dir():
        raise error(f"{option} {out}: {folder} is a file, not a folder; give a path in an "
                    f"existing folder")
    if not folder.is_dir():
        raise error(f"{option} {out}: the folder {folder} does not exist; create it first "
                    f"(mkdir -p {folder}) or give a path in an existing folder")


def parse_range(text: str) -> tuple[str, tuple[float | None, float | None]]:
    """``rate=5:10`` → ("rate", (5.0, 10.0)); an empty side is open (``cv_isi=0.7:``)."""
    name, sep, bounds = text.partition("=")
    low, colon, high = bounds.partition(":")
    if not sep or not colon or not name:
        raise QueryError(f"--where takes NAME=LOW:HIGH (an empty side is open), not {text!r}")
    try:
        parsed = name, (float(low) if low else None, float(high) if high else None)
    except ValueError:
        raise QueryError(f"--where {text!r}: bounds must be numbers") from None
    refuse_reversed("--where", text)
    return parsed


def refuse_reversed(option: str, text: str) -> None:
    """Refuse ``NAME=LOW:HIGH`` with LOW > HIGH, showing the range as the option takes it.

    Other forms pass (the option's parser says what is wrong with them).
    """
    name, _, bounds = text.partition("=")
    low, colon, high = bounds.partition(":")
    try:
        reversed_range = bool(colon and low and high) and float(low) > float(high)
    except ValueError:
        return
    if reversed_range:
        raise QueryError(f"{option} {text}: the range is reversed (low {low} > high {high}); "
                         f"write {name}={high}:{low}")


def selection_mask(ds: xr.Dataset, criteria: Sequence[str] = (), ranges: Sequence[str] = (),
                   round_label: str | None = None, bounds: str = "figures") -> np.ndarray:
    """The rules meeting every named criteria set, every ``--where`` range and the round."""
    mask = np.ones(ds.sizes["rule"], dtype=bool)
    for name in criteria:
        mask &= np.asarray(ds.fsbi.criteria_mask(name, bounds))
    if ranges:
        mask &= np.asarray(ds.fsbi.mask(**dict(parse_range(r) for r in ranges)))
    if round_label:
        mask &= np.asarray(ds.fsbi.round_mask(round_label))
    return mask


@click.command("query")
@click.argument("name_or_path")
@click.option("--plausible", is_flag=True, help="Keep the rules meeting the paper's criteria.")
@click.option("--criteria", "criteria_names", multiple=True,
              help="Keep the rules meeting a named criteria set (repeatable).")
@click.option("--where", "ranges", multiple=True, metavar="NAME=LOW:HIGH",
              help="Inclusive range on a metric or parameter; an empty side is open.")
@click.option("--round", "round_label", help="Keep the rules of a released round (pi0..pi3).")
@click.option("--bounds", type=click.Choice(["figures", "analyse"]), default="figures",
              show_default=True, help="Bounds of the published figures or of condition().")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the selected rules: .csv, .parquet or .npy (release record format).")
def query(name_or_path: str, plausible: bool, criteria_names: tuple[str, ...],
          ranges: tuple[str, ...], round_label: str | None, bounds: str,
          out: Path | None) -> None:
    """Select rules of NAME_OR_PATH (a family or a store) and optionally export them."""
    from .. import open as open_dataset
    from ..store.layout import records_from_dataset

    for text in ranges:  # a malformed or reversed range fails before the data are opened
        parse_range(text)
    if out is not None and out.suffix not in EXPORT_SUFFIXES:
        raise QueryError(f"--out {out}: the suffix must be one of {', '.join(EXPORT_SUFFIXES)}")
    if out is not None:
        check_output_folder(out)
    ds = open_dataset(name_or_path, progress=True)
    total = ds.sizes["rule"]
    if plausible:
        criteria_names = ("plausible", *criteria_names)
    selected = ds.fsbi.select(selection_mask(ds, criteria_names, ranges, round_label, bounds))
    n = selected.sizes["rule"]
    click.echo(f"{ds.attrs['family']}: {n:,} of {total:,} rules selected "
               f"({100 * n / total if total else 0:.3f} %)")
    if out is None:
        return
    if out.suffix == ".npy":
        np.save(out, records_from_dataset(selected))
    elif out.suffix == ".csv":
        selected.fsbi.to_frame().to_csv(out)
    else:
        selected.fsbi.to_frame().to_parquet(out)
    click.echo(f"wrote {out}")


commands: list[click.Command] = [query]
