"""CLI command ``fsbi-data simulate``: new rules through a backend, appended to a store."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import numpy as np

from ..schema import FAMILIES

log = logging.getLogger(__name__)


@click.command()
@click.argument("family", type=click.Choice(sorted(FAMILIES), case_sensitive=False))
@click.option("--from", "source", type=click.Choice(["prior"]), default=None,
              help="Draw the rules from the family's prior (with --n).")
@click.option("--n", "n_rules", type=click.IntRange(min=1), default=None,
              help="Number of rules to draw with --from prior.")
@click.option("--thetas", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A .npy file of rules, shape (n_rules, n_theta).")
@click.option("--backend", type=click.Choice(["auryn", "brian2"]), default=None,
              help="Simulator (default: Auryn if available, else Brian2).")
@click.option("--protocol", "preset", type=click.Choice(["paper", "quick"]), default="paper",
              show_default=True,
              help="The paper's protocol, or a scaled-down one for tests and demos (its "
                   "numbers are not comparable with the paper's).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local Dask cluster (default: number of CPUs).")
@click.option("--scheduler", default=None,
              help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
@click.option("--store", type=click.Path(path_type=Path), required=True,
              help="Store to append the rules to (created if absent).")
@click.option("--seed", type=int, default=None,
              help="Seed of the prior draw (--from prior), for a reproducible set of rules.")
@click.option("--network-seed", type=click.IntRange(min=1, max=2**32 - 1), default=None,
              help="One network seed for every rule (default: derived from each rule's seed).")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Retries of a failing rule before it is reported.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-clock limit per rule, in seconds.")
def simulate(family: str, source: str | None, n_rules: int | None, thetas: Path | None,
             backend: str | None, preset: str, workers: int | None, scheduler: str | None,
             store: Path, seed: int | None, network_seed: int | None, retries: int,
             timeout: float | None) -> None:
    """Simulate new rules of FAMILY (6pPol or MLP) and append them to a store.

    \b
    Examples:
      fsbi-data simulate 6pPol --from prior --n 200 --backend auryn --workers 16 --store my.store
      fsbi-data simulate MLP --thetas posterior_samples.npy --backend brian2 --store mlp.store
    """
    from ..simulation.prior import sample_prior
    from ..simulation.protocols import protocol
    from ..simulation.runner import simulate as run_simulations

    if (source is None) == (thetas is None):
        raise click.UsageError("give exactly one of --from prior (with --n) and --thetas FILE")
    if source == "prior" and n_rules is None:
        raise click.UsageError("--from prior needs --n N, the number of rules to draw")
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers (local cluster) or --scheduler, not both")
    proto = protocol(family, preset)
    if thetas is not None:
        values = np.load(thetas, allow_pickle=False)
    else:
        values = sample_prior(proto.family, n_rules, seed=seed)
    run = run_simulations(values, proto, backend, scheduler=scheduler, workers=workers,
                          store=store, network_seed=network_seed, retries=retries,
                          timeout=timeout, progress=True)
    click.echo(f"{run.summary()}; store: {store}")
    for failure in run.failures:
        click.echo(f"failed {failure.seed}: {failure.error_type}: {failure.error}", err=True)


commands = [simulate]
