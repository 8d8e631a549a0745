"""The Brian2 backend: the paper's two networks written with Brian2, no Auryn needed.

The model (equations, network, recording) is :mod:`~fsbi_data.simulation.backends.brian2_model`.
Two modes run it. **Standalone** (default when a C++ compiler works): the network is compiled
once per protocol into the fsbi-data cache and each rule runs the compiled program
(:mod:`~fsbi_data.simulation.backends.brian2_build`), so several processes can run rules at
once. **Runtime** (NumPy code generation, no compiler): slower, for machines without one.

Examples
--------
>>> import numpy as np
>>> from fsbi_data.simulation.backends.brian2 import Brian2Backend
>>> from fsbi_data.simulation.protocols import protocol
>>> theta = np.r_[[0.02, 0.05, 0.0, 0.0, 0.0, 0.0] * 4, 10.0]
>>> backend = Brian2Backend()
>>> result = backend.run(theta, protocol("6pPol", "quick"), network_seed=1)  # doctest: +SKIP
>>> result.blew_up, result.spikes_e.n_neurons                          # doctest: +SKIP
(False, 500)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from fsbi_data.errors import SimulationError
from fsbi_data.metrics.raw import SimulationResult
from fsbi_data.seeds import check_network_seed

from ..protocols import Protocol
from .base import Backend
from .brian2_build import build_directory, ensure_build, run_standalone
from .brian2_model import Model, assemble_result, build_model, runtime_values

__all__ = ["BACKEND", "MODES", "Brian2Backend", "build_directory", "compiler_available",
           "ensure_build"]

MODES = ("auto", "standalone", "runtime")


def run_runtime(protocol: Protocol, theta: np.ndarray, network_seed: int) -> SimulationResult:
    """Run one rule in this process with Brian2's NumPy code generation."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = protocol.dt * b2.second
    values = runtime_values(protocol, theta, network_seed)

    def before_connect(model: Model) -> None:
        b2.seed(network_seed)

    def after_connect(model: Model) -> None:
        owners = {**model.groups, "checker": model.checker, **model.projections}
        for owner, variable, value in values:
            setattr(owners[owner], variable + "_", value)  # SI value, no units

    model = build_model(b2, protocol, standalone=False, before_connect=before_connect,
                        after_connect=after_connect)
    net = b2.Network(*model.objects)
    model.stop_holder["net"] = net
    net.run(protocol.lns * b2.second, namespace={})
    for monitor in [*model.spike_monitors.values(), *model.weight_monitors.values()]:
        monitor.active = True
    net.run(protocol.ls * b2.second, namespace={})
    first = next(iter(model.weight_monitors.values()))
    return assemble_result(
        protocol, theta, network_seed, mode="runtime",
        blown=bool(model.checker.blown[0] > 0), t_blow=float(model.checker.t_blow_[0]),
        spikes={pop: (np.asarray(mon.t_), np.asarray(mon.i[:]))
                for pop, mon in model.spike_monitors.items()},
        weights=(np.asarray(first.t_), {k: np.asarray(mon.w).T
                                        for k, mon in model.weight_monitors.items()}),
        synapses={k: (np.asarray(s.i[:]), np.asarray(s.j[:]), np.asarray(s.w[:]))
                  for k, s in model.synapses.items()},
        monitored={k: np.asarray(mon.record) for k, mon in model.weight_monitors.items()})


def import_brian2() -> ModuleType:
    """Import Brian2 and keep this process's ``sys.excepthook``.

    Importing Brian2 installs a hook that reports every uncaught exception of the process,
    whatever raised it, as "Brian 2 encountered an unexpected error ... please report this
    issue". The backend imports Brian2 on the user's behalf, so the hook that was there is
    kept (a program that imports Brian2 itself first keeps Brian2's hook).
    """
    hook = sys.excepthook
    import brian2

    if sys.excepthook is not hook and sys.excepthook.__module__.startswith("brian2"):
        sys.excepthook = hook
    return brian2


def compiler_available() -> bool:
    """Whether a C++ compiler that Brian2's standalone mode can use is on this machine."""
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") \
        or shutil.which("clang++")
    return compiler is not None and shutil.which("make") is not None


class Brian2Backend(Backend):
    """Simulate rules with Brian2 (see the module docstring for the model and the modes).

    Parameters
    ----------
    mode
        ``"standalone"`` (compiled once per protocol, fast), ``"runtime"`` (NumPy, no
        compiler needed, slow) or ``"auto"`` (standalone when a compiler is found).
    """

    name = "brian2"

    def __init__(self, mode: str = "auto") -> None:
        if mode not in MODES:
            raise SimulationError(f"Brian2 mode must be one of {', '.join(MODES)}, "
                                  f"not {mode!r}")
        self.mode = mode

    def why_unavailable(self) -> str:
        try:
            import_brian2()
        except ImportError:
            return "brian2 is not installed; pip install 'fsbi-data[simulate]'"
        if self.mode == "standalone" and not compiler_available():
            return ("standalone mode needs a C++ compiler and make on PATH; install them "
                    "(e.g. apt install g++ make) or use mode='runtime'")
        return ""

    def available(self) -> bool:
        return self.why_unavailable() == ""

    def resolved_mode(self) -> str:
        if self.mode == "auto":
            return "standalone" if compiler_available() else "runtime"
        return self.mode

    @property
    def runs_in_subprocess(self) -> bool:
        """True in standalone mode (a compiled program); runtime mode runs in this process,
        with Brian2's process-global state, so its concurrent runs need processes."""
        return self.resolved_mode() == "standalone"

    def run(self, theta: np.ndarray, protocol: Protocol, *, network_seed: int,
            workdir: Path | None = None, timeout: float | None = None) -> SimulationResult:
        """Simulate one rule (see :meth:`Backend.run`).

        The first standalone run of a protocol compiles its program (minutes). ``workdir``
        and ``timeout`` apply to the compiled program; runtime mode runs in this process and
        ignores them.
        """
        self.check_available()
        theta = protocol.validate_theta(theta)
        network_seed = check_network_seed(network_seed)
        if self.resolved_mode() == "standalone":
            return run_standalone(protocol, theta, network_seed, workdir, timeout)
        return run_runtime(protocol, theta, network_seed)

    def __repr__(self) -> str:
        return f"<Brian2Backend mode={self.mode!r}>"


BACKEND = Brian2Backend()
