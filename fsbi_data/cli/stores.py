"""CLI commands: stores (``convert``, ``info``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np


def table(header: Sequence[str], rows: Sequence[Sequence[object]],
          align: str | None = None) -> str:
    """A plain-text table: a header, a rule, one line per row (``align``: '<' or '>' each)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    align = align or "<" * len(header)

    def line(row: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths,
                                                          strict=True)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in cells])


def parse_rounds(values: Sequence[str]) -> dict[str, Path]:
    rounds = {}
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not label or not path:
            raise click.BadParameter(f"{value!r}: expected LABEL=PATH, e.g. pi0=box_prior.npy",
                                     param_hint="--round")
        rounds[label] = Path(path)
    return rounds


@click.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--family", "family_name", help="6pPol or MLP (default: from the file's dtype).")
@click.option("--round", "rounds", multiple=True, metavar="LABEL=PATH",
              help="A round file whose rules get in_LABEL = true (repeatable).")
@click.option("--duplicates", type=click.Choice(["error", "first", "last"]), default="error",
              show_default=True,
              help="Different rules sharing one seed: refuse, or keep the first or last.")
def convert(src: Path, dest: Path, family_name: str | None, rounds: tuple[str, ...],
            duplicates: str) -> None:
    """Convert the released .npy file SRC into a store at DEST."""
    from ..converters import convert as convert_file

    path = convert_file(src, dest, family_name, rounds=parse_rounds(rounds) or None,
                        duplicates=duplicates, progress=True)
    click.echo(str(path))


def _how_made(round_record: dict | None) -> str:
    """A round's origin in a few words: released, or the prior / the conditions it drew for."""
    if round_record is None:
        return "released (or converted)"
    plan = round_record["plan"]
    source = round_record.get("source", "posterior")
    if plan["from_prior"]:
        return f"fsbi-data round from the {source}"
    conditions = ", ".join(
        f"{k}=" + (":".join(f"{x:g}" for x in v) if isinstance(v, list) else f"{v:g}")
        for k, v in plan["conditions"].items())
    return f"fsbi-data round, posterior at {conditions}"


@click.command()
@click.argument("name_or_path")
@click.option("--source", type=click.Path(exists=True, path_type=Path),
              help="A local copy of the release, when NAME must be fetched first.")
def info(name_or_path: str, source: Path | None) -> None:
    """Describe a store or a released family: rules, parameters, metrics, rounds, provenance."""
    from ..opening import open as open_store
    from ..schema import family
    from ..store.layout import ROUND_PREFIX, provenance

    ds = open_store(name_or_path, source=source, progress=True)
    fam = family(ds.attrs["family"])
    location = ds.encoding.get("source", name_or_path)
    click.echo(f"store    {location}")
    click.echo(f"family   {fam.name} ({fam.task_name}): {fam.description}")
    click.echo(f"rules    {ds.sizes['rule']:,}")
    if "data_origin" in ds.attrs:
        click.echo(f"data     {ds.attrs['data_origin']}")
    click.echo()

    click.echo(table(("parameter", "connection", "low", "high", "units"),
                     [(p.name, p.connection, f"{p.low:g}", f"{p.high:g}", p.units)
                      for p in fam.parameters], "<<>><"))
    nan_counts = {m: int(n) for m, n in ds[list(fam.metric_names)].isnull().sum().compute()
                  .items()}
    click.echo()
    click.echo(table(("metric", "units", "long name", "NaN"),
                     [(m.name, m.units, m.long_name, f"{nan_counts[m.name]:,}")
                      for m in fam.metrics], "<<<>"))
    records = provenance(ds)
    rounds = [v for v in ds.data_vars if v.startswith(ROUND_PREFIX)]
    if rounds:
        made = {r["round"]["name"]: r["round"] for r in records
                if isinstance(r.get("round"), dict)}  # a converted file names its round
        blown = np.isnan(ds.fsbi.column("rate"))
        rows = []
        for variable in rounds:
            name = variable[len(ROUND_PREFIX):]
            member = np.asarray(ds[variable].values, dtype=bool)
            share = f"{blown[member].mean():.0%}" if member.any() else ""
            rows.append((name, f"{int(member.sum()):,}", share, _how_made(made.get(name))))
        click.echo()
        click.echo(table(("round", "rules", "blew up", "made by"), rows, "<>><"))
    click.echo()
    batches = [r for r in records if r.get("kind") == "batch"]
    shown = [r for r in records if r.get("kind") != "batch"] + batches[-SHOWN_BATCHES:]
    rows = []
    for record in shown:
        record = dict(record)
        kind = record.pop("kind", "?")
        if "sha256" in record:
            record["sha256"] = record["sha256"][:12]
        what = record.pop("name", None) or record.pop("backend", "") or ""
        count = f"{record.pop('rows'):,}" if "rows" in record else ""
        details = json.dumps(record, sort_keys=True)
        rows.append((kind, what, count, details if len(details) <= DETAILS_WIDTH
                     else details[:DETAILS_WIDTH - 1] + "…"))
    click.echo(table(("provenance", "name", "rows", "details"), rows, "<<><"))
    if len(batches) > SHOWN_BATCHES:
        click.echo(f"... and {len(batches) - SHOWN_BATCHES:,} earlier batches "
                   f"({sum(b.get('rows', 0) for b in batches[:-SHOWN_BATCHES]):,} rules) since "
                   f"{batches[0].get('time', '?')}; all of them in ds.attrs['provenance']")


SHOWN_BATCHES = 5
DETAILS_WIDTH = 100


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
def verify(path: Path) -> None:
    """Read and check every byte of the store at PATH: the manifest, every metadata file and
    chunk against its checksum, row counts, unique seeds. One line per problem; exit status 0
    only for an intact store whose every part carries checksums (1: damaged, 2: parts
    without checksums, from store format 1)."""
    from ..store.verification import verify as verify_store

    report = verify_store(path)
    for line in report.lines():
        click.echo(line, err=not report.ok)
    if not report.ok:
        raise SystemExit(1 if report.problems else 2)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
def compact(path: Path) -> None:
    """Merge every part of the store at PATH into one new base (crash-safe), rewriting parts
    of store format 1 with checksums."""
    from ..store import compact as compact_store
    from ..store import read_manifest

    compact_store(path)
    manifest = read_manifest(path)
    click.echo(f"{path}: one part, {manifest['base']}")


@click.command("append")
@click.argument("store", type=click.Path(path_type=Path))
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--allow-outside-prior", is_flag=True,
              help="Accept rules outside the family's prior box (recorded in the provenance).")
@click.option("--on-duplicate", type=click.Choice(["skip", "error"]), default="skip",
              show_default=True, help="Rules whose seed is already stored: leave out, or refuse.")
def append_records(store: Path, records: Path, allow_outside_prior: bool,
                   on_duplicate: str) -> None:
    """Append the rules of RECORDS (a .npy of released-format records of the store's family,
    e.g. simulated elsewhere) to STORE, all or nothing, after checking every rule."""
    import numpy as np

    from ..converters.release import file_sha256, read_header
    from ..store import append

    header = read_header(records)
    report = append(store, np.load(records, allow_pickle=False),
                    provenance={"source": records.name, "sha256": file_sha256(header)},
                    on_duplicate=on_duplicate, allow_outside_prior=allow_outside_prior)
    click.echo(f"appended {report.appended:,} rule(s) to {store}; {len(report.skipped):,} "
               f"already there")


commands: list[click.Command] = [convert, info, verify, compact, append_records]
