"""Brian2's standalone mode: each protocol's network compiled once, then run for many rules.

The network of :mod:`~fsbi_data.simulation.backends.brian2_model` is generated and compiled
once per protocol, Brian2 version and model source into the fsbi-data cache
(``<fsbi_data.catalog.cache_dir()>/brian2``), under a file lock, and published atomically
(:func:`fsbi_data.files.published`). Each rule then runs the compiled program with theta and
the network seed on its command line, in its own results directory, so that several
processes can run rules at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fsbi_data.errors import SimulationError
from fsbi_data.files import published, remove_abandoned
from fsbi_data.metrics.raw import SimulationResult

from ..protocols import Protocol
from . import brian2_mlp, brian2_model
from .brian2_model import Model, assemble_result, build_model, runtime_values

logger = logging.getLogger(__name__)

#: The file, written last, that marks a complete build and says where its outputs are.
MANIFEST = "fsbi_manifest.json"


def build_directory(protocol: Protocol) -> Path:
    """The cache directory of ``protocol``'s compiled program.

    Keyed by the protocol, the Brian2 version, the source of the model and of this module (so
    that a changed model is never run from a stale build) and the processor
    (:func:`cpu_signature`: Brian2 compiles for the processor it builds on, so a cache shared by
    the nodes of a cluster keeps one build per kind of node).
    """
    import brian2

    from fsbi_data.catalog import cache_dir

    sources = hashlib.sha256()
    for module in (brian2_model.__file__, brian2_mlp.__file__, __file__):
        sources.update(Path(module).read_bytes())
    return cache_dir() / "brian2" / (
        f"{protocol.family}-{protocol.cache_key()}-brian2-{brian2.__version__}-"
        f"model{sources.hexdigest()[:8]}-cpu{cpu_signature()}")


def cpu_signature(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """8 hex digits naming this kind of processor: its architecture, model and instruction-set
    flags (from ``cpuinfo`` where it exists, else what :mod:`platform` knows).

    Examples
    --------
    >>> len(cpu_signature())
    8
    """
    import platform

    described = [platform.machine(), platform.processor()]
    try:
        lines = Path(cpuinfo).read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for key in ("model name", "flags", "Features", "CPU part"):
        described += [line.split(":", 1)[1].strip() for line in lines
                      if line.split(":", 1)[0].strip() == key][:1]
    return hashlib.sha256("\n".join(described).encode()).hexdigest()[:8]


def _build_here(protocol: Protocol, directory: Path) -> None:
    """Generate and compile the standalone program in this (fresh) process."""
    import brian2 as b2

    b2.set_device("cpp_standalone", directory=str(directory), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.defaultclock.dt = protocol.dt * b2.second
    device = b2.get_device()
    manifest: dict[str, Any] = {"outputs": {}}

    def before_connect(model: Model) -> None:
        device.apply_run_args()
        seed_array = device.get_array_name(model.checker.variables["network_seed"])
        # the network seed (a run-time argument) seeds the generator before any draw
        # (docs/network-model.md §2.4)
        device.insert_code("main", f"brian::_random_generators[0].seed("
                                   f"(unsigned long) brian::{seed_array}[0]);")

    model = build_model(b2, protocol, standalone=True, before_connect=before_connect)
    # docs/network-model.md §8.2: the floor(k·M/n)-th of the M synapses are monitored
    for key, syn in model.synapses.items():
        monitor = model.weight_monitors[key]
        indices = device.get_array_name(monitor.variables["_indices"])
        pre = device.get_array_name(syn.variables["_synaptic_pre"], access_data=False)
        n = protocol.n_monitored_synapses
        device.insert_code("main", f"""
        {{
            const size_t _m = brian::{pre}.size();
            for (size_t _k = 0; _k < {n}; _k++)
                brian::{indices}[_k] = (int32_t) ((_k * _m) / {n});
        }}""")
    net = b2.Network(*model.objects)
    net.run(protocol.lns * b2.second, namespace={})
    for monitor in [*model.spike_monitors.values(), *model.weight_monitors.values()]:
        monitor.active = True
    net.run(protocol.ls * b2.second, namespace={})

    def output(name: str, variable: Any) -> None:
        manifest["outputs"][name] = [device.get_array_filename(variable),
                                     np.dtype(variable.dtype).str]

    output("blown", model.checker.variables["blown"])
    output("t_blow", model.checker.variables["t_blow"])
    for pop, monitor in model.spike_monitors.items():
        output(f"spikes_{pop}_t", monitor.variables["t"])
        output(f"spikes_{pop}_i", monitor.variables["i"])
    for key, monitor in model.weight_monitors.items():
        output(f"weights_{key}_t", monitor.variables["t"])
        output(f"weights_{key}_w", monitor.variables["w"])
        output(f"weights_{key}_indices", monitor.variables["_indices"])
        syn = model.synapses[key]
        output(f"syn_{key}_pre", syn.variables["_synaptic_pre"])
        output(f"syn_{key}_post", syn.variables["_synaptic_post"])
        output(f"syn_{key}_w", syn.variables["w"])
    manifest["n_monitored"] = protocol.n_monitored_synapses
    manifest["protocol"] = protocol.to_dict()
    device.build(directory=str(directory), compile=True, run=False, with_output=False)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1))


def ensure_build(protocol: Protocol, *, timeout: float | None = None) -> Path:
    """The compiled program of ``protocol``, building it (once, under a lock) if needed."""
    from filelock import FileLock

    target = build_directory(protocol)
    if (target / MANIFEST).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / MANIFEST).exists():
            return target
        remove_abandoned(target)  # the folders of builds that were killed
        logger.info("compiling the Brian2 network of %s/%s into %s", protocol.family,
                    protocol.name, target)
        try:
            with published(target, directory=True) as staging:
                _compile(protocol, staging, timeout)
        except OSError:  # another process (not sharing the lock) finished the build first
            if not (target / MANIFEST).exists():
                raise
    return target


def _compile(protocol: Protocol, staging: Path, timeout: float | None) -> None:
    """Run :func:`_build_here` in a fresh interpreter: Brian2's device is process-global."""
    spec = staging / "protocol.json"
    spec.write_text(json.dumps(protocol.to_dict()))
    try:
        done = subprocess.run([sys.executable, "-m", __name__, str(spec), str(staging)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SimulationError(f"building the Brian2 program took longer than {timeout} s"
                              ) from exc
    if done.returncode != 0:
        raise SimulationError(
            f"building the Brian2 standalone program failed (exit {done.returncode}); "
            f"use Brian2Backend(mode='runtime') if no C++ compiler is available. Last "
            f"output:\n{(done.stdout + done.stderr)[-3000:]}")
    shutil.rmtree(staging / "results", ignore_errors=True)


def run_standalone(protocol: Protocol, theta: np.ndarray, network_seed: int,
                   workdir: Path | None, timeout: float | None) -> SimulationResult:
    """Run one rule with ``protocol``'s compiled program (built first if needed)."""
    directory = ensure_build(protocol)
    manifest = json.loads((directory / MANIFEST).read_text())
    args = [f"{owner}.{variable}={value!r}" if variable != "network_seed"
            else f"{owner}.{variable}={int(value)}"
            for owner, variable, value in runtime_values(protocol, theta, network_seed)]
    own_dir = workdir is None
    run_dir = Path(tempfile.mkdtemp(prefix="fsbi-brian2-")) if own_dir else Path(workdir)
    results = run_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    try:
        try:
            done = subprocess.run([str(directory / "main"), "--results_dir", f"{results}/",
                                   *args], cwd=directory, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise SimulationError(
                f"the Brian2 run of {protocol.family}/{protocol.name} exceeded its timeout "
                f"of {timeout} s") from exc
        if done.returncode != 0:
            raise SimulationError(
                f"the compiled Brian2 program {directory / 'main'} failed with exit status "
                f"{done.returncode}; delete {directory} to rebuild it. Output:\n"
                f"{(done.stdout + done.stderr)[-3000:]}")

        def read(name: str) -> np.ndarray:
            filename, dtype = manifest["outputs"][name]
            if not (results / filename).exists():  # Brian2 writes no empty dynamic array
                return np.empty(0, dtype=dtype)
            return np.fromfile(results / filename, dtype=dtype)

        n = manifest["n_monitored"]
        weights_t: np.ndarray | None = None
        weights, synapses, monitored = {}, {}, {}
        for key in protocol.plastic_connections:
            t = read(f"weights_{key}_t")
            weights_t = t if weights_t is None else weights_t
            weights[key] = read(f"weights_{key}_w").reshape(t.size, n)
            synapses[key] = tuple(read(f"syn_{key}_{part}") for part in ("pre", "post", "w"))
            monitored[key] = read(f"weights_{key}_indices")
        return assemble_result(
            protocol, theta, network_seed, mode="standalone",
            blown=bool(read("blown")[0] > 0), t_blow=float(read("t_blow")[0]),
            spikes={pop: (read(f"spikes_{pop}_t"), read(f"spikes_{pop}_i"))
                    for pop in ("e", "i") if f"spikes_{pop}_t" in manifest["outputs"]},
            weights=(weights_t, weights), synapses=synapses, monitored=monitored)
    finally:
        if own_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":  # python -m ...brian2_build <protocol.json> <directory>
    _build_here(Protocol(**json.loads(Path(sys.argv[1]).read_text())), Path(sys.argv[2]))
