"""CLI command ``fsbi-data round``: one round of the paper's method, resumable."""

from __future__ import annotations

from pathlib import Path

import click

from ..inference import FitSettings
from .queries import check_output_folder, parse_range


@click.command("round")
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="The round's name, e.g. r5to10 (letters, digits, _).")
@click.option("--n", "n_rules", type=int, required=True, help="Rules to draw and simulate.")
@click.option("--metrics", "metric_names", default=None,
              help="Comma-separated metrics to condition on, e.g. rate or rate,cv_isi.")
@click.option("--condition", "conditions", multiple=True, metavar="METRIC=VALUE|LOW:HIGH",
              help="Target of each metric, e.g. rate=7.5 or rate=5:10 (repeatable).")
@click.option("--criteria", default=None,
              help="Train on the rules meeting this criteria set (e.g. 'tutorial training').")
@click.option("--where", "ranges", multiple=True, metavar="NAME=LOW:HIGH",
              help="Train on the rules inside these inclusive ranges (repeatable).")
@click.option("--from-prior", is_flag=True,
              help="Draw from the family's prior box (round 0) instead of a posterior.")
@click.option("--restrict", is_flag=True,
              help="Reject draws that a classifier trained on the store's rules expects to "
                   "blow up (sbi's restriction estimator).")
@click.option("--restrict-metrics", default=None,
              help="Comma-separated metrics that must be finite for a rule to count as valid "
                   "(default: all of the family's).")
@click.option("--backend", type=click.Choice(["auryn", "brian2"]), default=None,
              help="Simulator (default: Auryn if available, else Brian2).")
@click.option("--protocol", "preset", type=click.Choice(["paper", "quick"]), default="paper",
              show_default=True, help="The paper's protocol, or the scaled-down one for tests.")
@click.option("--ensemble", type=click.IntRange(min=1), default=FitSettings.n_ensemble,
              show_default=True, help="Posterior ensemble size.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=None,
              help="Cap on training epochs per member (and of the restriction classifier).")
@click.option("--seed", type=int, default=None,
              help="Seed of the fit, the draws and the classifier (a reproducible round).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel simulations on this machine (default: number of CPUs).")
@click.option("--scheduler", default=None,
              help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Retries of a failing rule before it is reported.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-clock limit per rule, in seconds.")
@click.option("--dry-run", is_flag=True,
              help="Only draw the rules and write them to --out; the store is not touched.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --dry-run: the .npy file of the drawn rules, shape (n, n_theta).")
def round_command(store: Path, name: str, n_rules: int, metric_names: str | None,
                  conditions: tuple[str, ...], criteria: str | None, ranges: tuple[str, ...],
                  from_prior: bool, restrict: bool, restrict_metrics: str | None,
                  backend: str | None, preset: str, ensemble: int, max_epochs: int | None,
                  seed: int | None, workers: int | None, scheduler: str | None, retries: int,
                  timeout: float | None, dry_run: bool, out: Path | None) -> None:
    """Run one round of fSBI on STORE: select, fit, draw, simulate, append as round --name.

    Run the same command again after an interruption: it continues where it stopped (the
    round's posterior and drawn rules are kept in the store); a finished round does nothing.

    \b
    Examples:
      fsbi-data round my.store --name r0 --from-prior --n 1000 --backend brian2
      fsbi-data round my.store --name r5to10 --metrics rate --condition rate=5:10 \\
          --criteria "tutorial training" --n 1000 --backend auryn --workers 16
    """
    from ..errors import SimulationError
    from ..inference import parse_condition
    from ..rounds import RoundError, run_round

    if from_prior and (metric_names or conditions or criteria or ranges):
        raise click.UsageError("--from-prior draws from the prior: it takes no --metrics, "
                               "--condition, --criteria or --where")
    if not from_prior and not metric_names:
        raise click.UsageError("give --metrics and a --condition for each (a posterior round), "
                               "or --from-prior")
    if dry_run != (out is not None):
        raise click.UsageError("--dry-run and --out go together: --dry-run --out rules.npy")
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers (local cluster) or --scheduler, not both")
    if out is not None:
        check_output_folder(out, error=RoundError)
    split = [m.strip() for m in (metric_names or "").split(",") if m.strip()]
    report = run_round(
        store, name, n=n_rules, metrics=split,
        conditions=dict(parse_condition(text) for text in conditions), criteria=criteria,
        where=dict(parse_range(text) for text in ranges), from_prior=from_prior,
        restrict=restrict,
        restrict_metrics=[m.strip() for m in restrict_metrics.split(",")]
        if restrict_metrics else None,
        protocol=preset, backend=backend, seed=seed, n_ensemble=ensemble,
        max_epochs=max_epochs, workers=workers, scheduler=scheduler, retries=retries,
        timeout=timeout, dry_run=dry_run, out=out, progress=True)
    click.echo(report.summary())
    if report.state == "incomplete":
        raise SimulationError(f"{len(report.failures)} rule(s) of the round failed and are not "
                              f"in {store}; fix the cause and run the same command again: the "
                              f"rules already appended are skipped")


commands: list[click.Command] = [round_command]
