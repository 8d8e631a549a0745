"""CLI command ``fsbi-data simulate``: new rules through a backend, appended to a store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from ..errors import ProtocolError, SimulationError
from ..schema import FAMILIES, Family
from ..seeds import NETWORK_SEED_MAX

if TYPE_CHECKING:
    from ..simulation.runner import RuleFailure


def read_thetas(path: Path, fam: Family) -> np.ndarray:
    """The rules of a ``--thetas`` file: a numeric ``.npy`` of shape (n_rules, n_theta).

    A 1-D file is refused rather than guessed to be one rule: a flat file of 2 x n_theta
    numbers is as likely as one rule.
    """
    expected = (f"expected a .npy of {fam.name} rules, one per row: numbers of shape "
                f"(n_rules, {fam.n_theta}), as written by numpy.save or `fsbi-data sample`")
    with open(path, "rb") as f:
        is_npy = f.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX
    if not is_npy:
        raise SimulationError(f"--thetas {path} is not a .npy file (it lacks the NumPy "
                              f"header); {expected}")
    try:
        values = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises many kinds for a damaged or pickled file
        reason = ascii(" ".join(str(error).split())[:120])[1:-1]
        raise SimulationError(f"--thetas {path} cannot be read ({reason}); {expected}") from None
    if values.dtype.names is not None:
        hint = (" (a release file of records: take its theta field, records['theta'])"
                if "theta" in values.dtype.names else "")
        fields = ", ".join(values.dtype.names[:4]) + (", ..." if len(values.dtype.names) > 4
                                                       else "")
        raise ProtocolError(f"--thetas {path} holds records with fields {fields}{hint}; "
                            f"{expected}")
    if values.dtype.kind not in "fiu":
        raise ProtocolError(f"--thetas {path} holds values of type {values.dtype}; {expected}")
    if values.ndim != 2 or values.shape[1] != fam.n_theta:
        hint = (f" (for a single rule, save theta[None, :], of shape (1, {fam.n_theta}))"
                if values.ndim == 1 and values.size == fam.n_theta else "")
        raise ProtocolError(f"--thetas {path} has shape {values.shape}{hint}; {expected}")
    return values.astype(np.float64)


def write_failures(path: Path, failures: Sequence[RuleFailure], fam: Family) -> Path:
    """A CSV of failed rules: seed, error type, error, and the rule's parameters."""
    import pandas as pd

    rows = [{"seed": f.seed, "error_type": f.error_type, "error": " ".join(f.error.split()),
             **dict(zip(fam.param_names, np.asarray(f.theta, dtype=np.float64), strict=True))}
            for f in failures]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


class FamilyChoice(click.Choice):
    """A family name, in any case, shown in help and errors as it is written: ``6pPol|MLP``.

    (click 8.2 and later show a case-insensitive choice in lower case.)
    """

    def __init__(self) -> None:
        super().__init__(sorted(FAMILIES), case_sensitive=False)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        names = "|".join(self.choices)
        if param.required and param.param_type_name == "argument":
            return f"{{{names}}}"
        return f"[{names}]"

    def get_invalid_choice_message(self, value: object, ctx: click.Context | None) -> str:
        return f"{value!r} is not a family; choose {' or '.join(self.choices)} (any case)."


@click.command()
@click.argument("family", type=FamilyChoice())
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
              help="Rules simulated at once on this machine (default: number of CPUs).")
@click.option("--scheduler", default=None,
              help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
@click.option("--store", type=click.Path(path_type=Path), required=True,
              help="Store to append the rules to (created if absent).")
@click.option("--seed", type=int, default=None,
              help="Seed of the prior draw (--from prior), for a reproducible set of rules.")
@click.option("--network-seed", type=click.IntRange(min=1, max=NETWORK_SEED_MAX), default=None,
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
        values = read_thetas(thetas, proto.rule_family)
    else:
        values = sample_prior(proto.family, n_rules, seed=seed)
    run = run_simulations(values, proto, backend, scheduler=scheduler, workers=workers,
                          store=store, network_seed=network_seed, retries=retries,
                          timeout=timeout, progress=True)
    click.echo(f"{run.summary()}; store: {store}")
    if run.failures:
        # A blown-up rule is a result (in the store, NaN metrics); a failed one is not.
        listing = write_failures(store.with_name(f"{store.name}.failures.csv"), run.failures,
                                 proto.rule_family)
        tried = run.rules.sizes["rule"] + len(run.failures)
        raise SimulationError(
            f"{len(run.failures)} of {tried} rule(s) failed and are not in {store}; their "
            f"errors and parameters are listed in {listing}. Fix the cause and run the same "
            f"command again: rules already in the store are skipped")


commands = [simulate]
