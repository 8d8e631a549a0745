"""CLI commands: metrics of a finished Auryn run."""

from __future__ import annotations

import json
import math

import click

from ..metrics import AnalysisParams, compute, read_auryn
from ..metrics.raw import PAPER_LNS, PAPER_LS
from ..schema import family


@click.command("metrics")
@click.argument("workdir", type=click.Path(exists=True, file_okay=False))
@click.option("--id", "run_id", required=True, help="The run's --ID (monitor file names).")
@click.option("--protocol", type=click.Choice(["6pPol", "MLP"]), default="6pPol",
              show_default=True, help="Family of the program that ran.")
@click.option("--lns", type=float, default=PAPER_LNS, show_default=True,
              help="Training duration (s): the scoring window starts here.")
@click.option("--ls", type=float, default=PAPER_LS, show_default=True,
              help="Scoring duration (s).")
@click.option("--stdout", "stdout_file", type=click.Path(exists=True, dir_okay=False),
              help="File holding the program's output; a blown-up run then gives NaN.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def metrics_command(workdir: str, run_id: str, protocol: str, lns: float, ls: float,
                    stdout_file: str | None, as_json: bool) -> None:
    """Print the network metrics of a finished Auryn run in WORKDIR."""
    stdout = open(stdout_file).read() if stdout_file else None
    result = read_auryn(workdir, run_id, protocol, stdout=stdout,
                        params=AnalysisParams.for_durations(lns, ls))
    values = compute(result)
    if as_json:
        click.echo(json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()},
                              indent=1))
        return
    fam = family(protocol)
    for name, value in values.items():
        click.echo(f"{name:<18} {value:>22.16g}  {fam.metric(name).units}")


commands: list[click.Command] = [metrics_command]
