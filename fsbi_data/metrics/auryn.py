"""Reading (and writing) Auryn monitor files: ``.ras`` spikes and ``.syn`` weights.

Formats (``docs/network-model.md`` §8): a spike file has one ``<time> <neuron>`` line per
spike in emission order; a weight file has one line per sample, ``<time>`` then the monitored
weights, space separated. Files are named ``<prefix>.<run id>.0.<ext>`` in the run's working
directory: ``out.e``/``out.i`` for spikes, ``con_ee``, ``con_ei``, ``con_ie``, ``con_ii`` for
weights. Times are parsed as general decimal floats.

Examples
--------
>>> result = read_auryn("workdir", "sample_poly_s1")          # doctest: +SKIP
>>> compute(result)["rate"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import RawFormatError
from ..schema import family
from .raw import AnalysisParams, SimulationResult, SpikeTrains, WeightTraces

MARKER = re.compile(r"cynthia(.*?)cynthia", re.DOTALL)
# Spike times are written with six decimals: a tolerance for the window checks.
TIME_RESOLUTION = 5e-7


def run_file(workdir: str | os.PathLike, prefix: str, run_id: str, ext: str) -> Path:
    """Path of one monitor file of a run (Auryn appends the process rank, always 0)."""
    return Path(workdir) / f"{prefix}.{run_id}.0.{ext}"


def parse_marker(stdout: str) -> float | None:
    """The blow-up time printed by a program (``cynthia<t>cynthia``); None if it completed.

    Raises :class:`~fsbi_data.errors.RawFormatError` when no marker is present.

    Examples
    --------
    >>> parse_marker("cynthia-1cynthia") is None, parse_marker("cynthia0.762cynthia")
    (True, 0.762)
    """
    match = MARKER.search(stdout)
    if match is None:
        raise RawFormatError(
            f"no result marker 'cynthia<t>cynthia' in the program output {stdout[-200:]!r}; "
            f"the simulation did not finish"
        )
    try:
        value = float(match.group(1))
    except ValueError:
        raise RawFormatError(f"result marker holds {match.group(1)!r}, not a number") from None
    return None if value < 0 else value


def _load_table(path: Path, what: str) -> np.ndarray:
    if not path.exists():
        raise RawFormatError(
            f"{what} file {path} is missing; expected it in the run's working directory "
            f"(was the run id or the protocol wrong, or did the run blow up?)"
        )
    if path.stat().st_size == 0:
        return np.empty((0, 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (ValueError, UserWarning) as error:
        raise RawFormatError(f"{what} file {path} is malformed: {error}") from None


def read_ras(path: str | os.PathLike, n_neurons: int,
             window: tuple[float, float] | None = None) -> SpikeTrains:
    """Read a ``.ras`` spike file into spike trains of neurons ``0 … n_neurons - 1``.

    Parameters
    ----------
    path
        The spike file.
    n_neurons
        Number of recorded neurons (``n_recorded``); an index outside raises.
    window
        ``(t_start, t_stop)``: every spike must lie in ``[t_start, t_stop)``, else the file
        belongs to another protocol and a :class:`~fsbi_data.errors.RawFormatError` says so.
    """
    path = Path(path)
    table = _load_table(path, "spike")
    if table.size == 0:
        return SpikeTrains(np.empty(0), np.zeros(n_neurons + 1, dtype=np.int64))
    if table.shape[1] != 2:
        raise RawFormatError(
            f"spike file {path} has {table.shape[1]} columns; expected 2 (time, neuron)"
        )
    times, neurons = table[:, 0], table[:, 1]
    if np.any(neurons != np.round(neurons)):
        raise RawFormatError(f"spike file {path}: neuron indices must be integers")
    if np.any(np.diff(times) < 0):
        line = int(np.argmax(np.diff(times) < 0)) + 2
        raise RawFormatError(
            f"spike file {path}: times are not in emission order (line {line} goes back in "
            f"time); Auryn writes spikes in time order"
        )
    if window is not None:
        start, stop = window
        if times[0] < start - TIME_RESOLUTION or times[-1] >= stop - TIME_RESOLUTION:
            raise RawFormatError(
                f"spike file {path}: spikes span [{times[0]}, {times[-1]}] s, outside the "
                f"scoring window [{start}, {stop}) s; pass the training and scoring durations "
                f"the run used (params=AnalysisParams.for_durations(lns, ls); CLI: --lns, --ls)"
            )
    try:
        return SpikeTrains.from_events(times, neurons.astype(np.int64), n_neurons)
    except RawFormatError as error:
        raise RawFormatError(f"spike file {path}: {error}") from None


def read_syn(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.syn`` weight file: sample times (n_ts,) and weights (n_synapses, n_ts)."""
    path = Path(path)
    table = _load_table(path, "weight")
    if table.size == 0:
        raise RawFormatError(f"weight file {path} is empty: the run did not complete")
    if table.shape[1] < 2:
        raise RawFormatError(f"weight file {path} has no weight columns")
    return table[:, 0], np.ascontiguousarray(table[:, 1:].T)


def write_ras(path: str | os.PathLike, trains: SpikeTrains) -> Path:
    """Write spike trains as a ``.ras`` file (time order, six decimals)."""
    path = Path(path)
    order = np.argsort(trains.times, kind="stable")
    with open(path, "w") as f:
        for t, n in zip(trains.times[order], trains.neuron_ids()[order], strict=True):
            f.write(f"{t:f} {n}\n")
    return path


def write_syn(path: str | os.PathLike, t: np.ndarray, weights: np.ndarray) -> Path:
    """Write one connection's weight samples as a ``.syn`` file."""
    path = Path(path)
    with open(path, "w") as f:
        for j, time in enumerate(t):
            f.write(f"{time:f} " + "".join(f"{w:e} " for w in weights[:, j]) + "\n")
    return path


def read_auryn(workdir: str | os.PathLike, run_id: str, protocol: str = "6pPol", *,
               params: AnalysisParams | None = None, stdout: str | None = None,
               blow_up_time: float | None = None) -> SimulationResult:
    """Read a finished Auryn run into a :class:`~fsbi_data.metrics.raw.SimulationResult`.

    Parameters
    ----------
    workdir
        The run's working directory.
    run_id
        The ``--ID`` the program ran with.
    protocol
        Family of the program (``"6pPol"`` reads EE, EI, IE, II weights; ``"MLP"`` EE, IE).
    params
        Analysis parameters; default: the paper's (scoring window 60–70 s).
    stdout, blow_up_time
        The program's output (its result marker) or the blow-up time directly; a blown-up run
        returns a result without spikes or weights, and its incomplete files are not read.
    """
    fam = family(protocol)
    params = params or AnalysisParams()
    if stdout is not None:
        blow_up_time = parse_marker(stdout)
    info = {"family": fam.name, "run_id": run_id}
    if blow_up_time is not None:
        return SimulationResult.blown_up(blow_up_time, params, info=info)
    window = (params.t_start_rec, params.t_stop_rec)
    spikes_e = read_ras(run_file(workdir, "out.e", run_id, "ras"), params.n_recorded, window)
    i_path = run_file(workdir, "out.i", run_id, "ras")
    spikes_i = read_ras(i_path, params.n_recorded_i, window) if i_path.exists() else None
    times, weights = None, {}
    for connection in fam.plastic_connections:
        path = run_file(workdir, f"con_{connection}", run_id, "syn")
        t, w = read_syn(path)
        if times is None:
            times = t
        elif not np.array_equal(t, times):
            raise RawFormatError(
                f"weight file {path} was sampled at other times than con_"
                f"{fam.plastic_connections[0]} ({t.size} vs {times.size} samples)"
            )
        weights[connection] = w
    return SimulationResult(spikes_e, spikes_i, WeightTraces(times, weights), None, params,
                            seed=run_id, info=info)
