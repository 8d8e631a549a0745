"""Entry point of the ``fsbi-data`` command: one click group, commands from one module each."""

from __future__ import annotations

import logging
import sys

import click

from ..errors import FsbiDataError
from . import demo, figures, inference, metrics, queries, release, rounds, simulate, stores

COMMAND_MODULES = (release, stores, queries, metrics, simulate, rounds, figures, inference,
                   demo)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fsbi-data")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Open, query, reproduce and extend the fSBI datasets of plasticity rules."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Dask's cluster chatter only with -vv.
    logging.getLogger("distributed").setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


for _module in COMMAND_MODULES:
    for _command in _module.commands:
        cli.add_command(_command)


def main() -> None:
    """Run the CLI; package errors print as one clear line and exit with status 1."""
    try:
        cli.main(standalone_mode=False)
    except FsbiDataError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
