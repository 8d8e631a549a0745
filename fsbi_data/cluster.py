"""The Dask client that parallel work runs on: a given client, a scheduler, or a local cluster.

A local cluster is made of worker **threads** or worker **processes**. Threads of one worker in
this process suit work done in subprocesses (simulations: every rule runs a compiled program)
and re-import nothing, so a plain script needs no ``if __name__ == "__main__":`` guard.
Processes suit work done in Python (recomputing metrics holds the GIL); Dask starts them with
``spawn``, and each imports the main module again, so code at the top level of a script would
run once more in every worker. :func:`dask_client` therefore refuses, in one line, to start
worker processes from a script's unguarded top level (:func:`check_main_guard`).
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .errors import FsbiDataError


class MainGuardError(FsbiDataError, RuntimeError):
    """Worker processes would be started from the unguarded top level of a script."""


@contextlib.contextmanager
def dask_client(client: Any = None, scheduler: str | None = None, workers: int | None = None,
                *, processes: bool = True) -> Iterator[Any]:
    """A ``distributed.Client``: ``client`` itself; else one connected to ``scheduler``; else
    one of a new ``LocalCluster`` of ``workers`` parallel tasks (default: the number of CPUs).
    What this function opened is closed on exit; ``client`` is left open.

    Parameters
    ----------
    client, scheduler, workers
        Where to run, in this order of precedence.
    processes
        For a local cluster: True, ``workers`` single-threaded worker processes (for work in
        Python); False, one worker in this process with ``workers`` threads (for tasks that
        run their work in subprocesses, such as simulations; nothing is imported again, so
        scripts need no ``__main__`` guard).

    Raises
    ------
    MainGuardError
        When worker processes would be started from the top level of a script outside
        ``if __name__ == "__main__":`` (each worker would run the script again).

    Examples
    --------
    >>> with dask_client(workers=2) as client:                   # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if client is not None:
        yield client
        return
    n_tasks = workers or os.cpu_count() or 1
    if scheduler is None and processes:
        check_main_guard()
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # No dashboard; the scheduler's other HTTP routes on a free port, not on 8787,
            # which another cluster may hold (Dask then warns "Port 8787 is already in use").
            options = {"dashboard_address": None,
                       "scheduler_kwargs": {"dashboard_address": ":0"}}
            if processes:
                cluster = LocalCluster(n_workers=n_tasks, threads_per_worker=1, processes=True,
                                       **options)
            else:
                cluster = LocalCluster(n_workers=1, threads_per_worker=n_tasks,
                                       processes=False, **options)
            scheduler = stack.enter_context(cluster)
        yield stack.enter_context(Client(scheduler))


def check_main_guard() -> None:
    """Refuse to start worker processes that would run the calling script again.

    Dask starts worker processes with ``spawn`` (unless configured to ``fork``), and each one
    imports the main module again: harmless for a notebook, ``python -c``, a package's
    ``__main__`` or code under ``if __name__ == "__main__":``, but a script's top-level code
    would run again in every worker, which then fails to start ("Nanny failed to start").

    Raises
    ------
    MainGuardError
        When this is called (directly or not) from a line of the main script's top level that
        is not inside its ``if __name__ == "__main__":`` block; the message names the line.
    """
    import dask

    if dask.config.get("distributed.worker.multiprocessing-method", "spawn") == "fork":
        return
    refuse_unguarded_script("Dask worker processes")


def refuse_unguarded_script(processes: str) -> None:
    """Raise :class:`MainGuardError` when ``processes``, started now with ``spawn``, would run
    the main script's top level again (:func:`unguarded_script`); the message names the line."""
    unguarded = unguarded_script()
    if unguarded is not None:
        path, line = unguarded
        raise MainGuardError(
            f"line {line} of {path} starts {processes} from the script's top "
            f"level, where each worker would run the script again: put the script's code "
            f"under `if __name__ == \"__main__\":`")


def unguarded_script() -> tuple[str, int] | None:
    """The main script and the line of its top level now running, if a process started with
    ``spawn`` would run that line again: None for a notebook, ``python -c``, a package's
    ``__main__``, or code under ``if __name__ == "__main__":``."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:  # interactive, python -c, a notebook kernel
        return None
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if name == "__main__" or name.endswith(".__main__"):  # spawn does not import these again
        return None
    line = unguarded_line(main)
    return None if line is None else (path, line)


def unguarded_line(main: ModuleType) -> int | None:
    """The line of ``main``'s top level now running, if it is outside a ``__main__`` guard.

    None when the main module's top level is not on the call stack (a thread, a callback),
    its source cannot be read, or the running line is inside ``if __name__ == "__main__":``.
    """
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main)
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return None
    line = frame.f_lineno
    try:
        with open(main.__file__, encoding="utf-8") as file:
            tree = ast.parse(file.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            guarded = isinstance(node, ast.If) and _is_main_test(node.test) and any(
                inner.lineno <= line <= (inner.end_lineno or inner.lineno)
                for inner in node.body)
            return None if guarded else line
    return line


def _is_main_test(test: ast.expr) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))
