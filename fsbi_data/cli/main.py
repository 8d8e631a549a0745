"""Entry point of the ``fsbi-data`` command: one click group, commands from one module each.

Output: results on stdout; errors, warnings and progress bars on stderr. Log lines only with
``-v`` (what fsbi-data does, at info level) and ``-vv`` (its debug lines, and the info lines
of Dask and other dependencies, which otherwise print a few dozen lines per local cluster).
"""

from __future__ import annotations

import logging
import sys
import warnings

import click

from ..errors import FsbiDataError
from . import demo, figures, inference, metrics, queries, release, rounds, simulate, stores

COMMAND_MODULES = (release, stores, queries, metrics, simulate, rounds, figures, inference,
                   demo)

#: Known, harmless warnings of dependencies, hidden unless -vv: (action, message regex,
#: category, module regex) as for :func:`warnings.filterwarnings`, each with why.
DEPENDENCY_WARNINGS = (
    # Brian2 calls pyparsing's camelCase API (setResultsName, parseString, ...), deprecated
    # by pyparsing 3 and still working; nothing a user of fsbi-data can change. pyparsing
    # attributes some of them to its own modules.
    ("ignore", "", DeprecationWarning, r"(brian2|pyparsing)(\.|$)"),
)

#: Format of the log lines on stderr.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class DependencyLogFilter(logging.Filter):
    """Pass every record of fsbi-data, and records of other loggers from ``level`` up.

    A filter on the handler, not a level on the ``distributed`` logger: importing
    ``distributed`` (lazily, after the command line is parsed) sets that logger back to INFO
    and, with a handler on the root logger, lets its records propagate to it.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return (record.levelno >= self.level or record.name == "fsbi_data"
                or record.name.startswith("fsbi_data."))


def configure_output(verbose: int) -> None:
    """Log lines and warnings for ``verbose`` (the count of ``-v``), on stderr.

    0: warnings and errors only; 1: also fsbi-data's info lines; 2 or more: fsbi-data's
    debug lines, the info lines of every dependency, and the warnings of
    :data:`DEPENDENCY_WARNINGS` too.
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "fsbi_data_cli", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler()
    handler.fsbi_data_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(DependencyLogFilter(logging.INFO if verbose > 1 else logging.WARNING))
    root.addHandler(handler)
    root.setLevel(level)
    if verbose < 2:
        for action, message, category, module in DEPENDENCY_WARNINGS:
            warnings.filterwarnings(action, message, category, module)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fsbi-data")
@click.option("-v", "--verbose", count=True,
              help="More output on stderr: -v info (what fsbi-data does), -vv debug, "
                   "with the info lines of Dask and the known warnings of dependencies.")
def cli(verbose: int) -> None:
    """Open, query, reproduce and extend the fSBI datasets of plasticity rules."""
    configure_output(verbose)


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
