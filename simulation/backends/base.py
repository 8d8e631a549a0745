"""The interface every simulation backend implements, and :func:`get_backend`.

A backend runs one rule (theta) under a :class:`~fsbi_data.simulation.protocols.Protocol` with
an explicit network seed and returns a :class:`~fsbi_data.metrics.raw.SimulationResult`:
spike trains of the recorded E and I neurons, the weight traces of the monitored synapses per
plastic projection (keys ``"ee"``, ``"ei"``, ``"ie"``, ``"ii"``), the blow-up time (None for a
completed run), ``params = protocol.analysis_params()``, theta and the network seed.

Examples
--------
>>> from fsbi_data.simulation.backends.base import get_backend
>>> backend = get_backend("brian2")                      # doctest: +SKIP
>>> result = backend.run(theta, protocol("6pPol", "quick"), network_seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

import abc
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fsbi_data.errors import BackendUnavailableError, UnknownNameError

if TYPE_CHECKING:
    from fsbi_data.metrics.raw import SimulationResult

    from ..protocols import Protocol

#: Backend name -> module defining the instance ``BACKEND``.
BACKEND_MODULES = {
    "auryn": "fsbi_data.simulation.backends.auryn",
    "brian2": "fsbi_data.simulation.backends.brian2",
}
#: Preference order when no backend is named.
DEFAULT_ORDER = ("auryn", "brian2")

_INSTALL_HINTS = {
    "auryn": "install Auryn (https://github.com/fzenke/auryn, build its library) and set "
             "AURYN_DIR to its directory, or use backend='brian2'",
    "brian2": "pip install 'fsbi-data[simulate]' (installs brian2); a C++ compiler makes it "
              "much faster (standalone mode)",
}


class Backend(abc.ABC):
    """A simulator that runs one plasticity rule under a protocol.

    Subclasses set :attr:`name` and implement :meth:`available`, :meth:`why_unavailable` and
    :meth:`run`. Instances must be picklable (the Dask runner ships them to workers) and
    ``run`` must be safe to call from several processes at once, and from several threads
    at once unless :attr:`runs_in_subprocess` is False.
    """

    #: Short name used by :func:`get_backend` and recorded in provenance.
    name: str = ""

    @property
    def runs_in_subprocess(self) -> bool:
        """Whether :meth:`run` simulates in a child process (a compiled program).

        True (the default: Auryn, Brian2 standalone): concurrent runs can be threads of one
        Python process, which is how the runner's local cluster runs them. A backend that
        simulates in this Python process returns False, and its runs get worker processes.
        """
        return True

    @abc.abstractmethod
    def available(self) -> bool:
        """Whether :meth:`run` can work on this machine (cheap; never raises)."""

    @abc.abstractmethod
    def why_unavailable(self) -> str:
        """Why the backend is unavailable, and how to fix it ("" when available)."""

    @abc.abstractmethod
    def run(self, theta: np.ndarray, protocol: Protocol, *, network_seed: int,
            workdir: Path | None = None, timeout: float | None = None) -> SimulationResult:
        """Simulate one rule.

        Parameters
        ----------
        theta
            The rule's parameter vector, laid out as the protocol's family
            (validated with :meth:`Protocol.validate_theta`).
        protocol
            What to simulate.
        network_seed
            Seed of everything random in the run (connectivity and input), >= 1; recorded in
            the result. Seeds are not portable between backends.
        workdir
            Directory for the run's files (a temporary one, removed afterwards, when None).
        timeout
            Wall-clock limit in seconds; exceeding it raises
            :class:`~fsbi_data.errors.SimulationError`.

        Returns
        -------
        fsbi_data.metrics.raw.SimulationResult
            ``blow_up_time`` is None for a completed run; for a blown-up run spikes and
            weights are None.
        """

    def check_available(self) -> None:
        """Raise :class:`~fsbi_data.errors.BackendUnavailableError` unless available."""
        if not self.available():
            raise BackendUnavailableError(f"backend {self.name!r} is unavailable: "
                                          f"{self.why_unavailable()}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _load(name: str) -> Backend:
    try:
        module = importlib.import_module(BACKEND_MODULES[name])
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {name!r} could not be imported ({exc}); {_INSTALL_HINTS[name]}"
        ) from exc
    return module.BACKEND


def get_backend(name: str | Backend | None = None) -> Backend:
    """The backend called ``name``: ``"auryn"``, ``"brian2"``, or None for the best available.

    None picks Auryn when it is available, else Brian2. A :class:`Backend` instance is
    returned as is.

    Raises
    ------
    fsbi_data.errors.UnknownNameError
        For a name that is not a backend.
    fsbi_data.errors.BackendUnavailableError
        When the backend (or, for None, every backend) is unusable; the message says what
        was looked for and how to install it.

    Examples
    --------
    >>> get_backend("brian2").name                       # doctest: +SKIP
    'brian2'
    """
    if isinstance(name, Backend):
        return name
    if name is None:
        reasons = []
        for candidate in DEFAULT_ORDER:
            try:
                backend = _load(candidate)
            except BackendUnavailableError as exc:
                reasons.append(str(exc))
                continue
            if backend.available():
                return backend
            reasons.append(f"{candidate}: {backend.why_unavailable()}")
        raise BackendUnavailableError("no simulation backend is available: "
                                      + "; ".join(reasons))
    key = str(name).lower()
    if key not in BACKEND_MODULES:
        raise UnknownNameError(f"unknown simulation backend {name!r}; valid backends: "
                               f"{', '.join(BACKEND_MODULES)}")
    backend = _load(key)
    backend.check_available()
    return backend
