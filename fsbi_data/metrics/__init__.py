"""Network metrics of simulations (``docs/metrics.md``), raw outputs and their readers.

- :func:`compute` — every metric of one :class:`SimulationResult`;
- :func:`read_auryn` — a finished Auryn run's monitor files as a :class:`SimulationResult`;
- :func:`read_hdf5` / :func:`write_hdf5` — the release's raw-simulation HDF5 layout;
- :func:`recompute` — metrics of every simulation of a raw store, in parallel with Dask;
- :mod:`fsbi_data.metrics.functions` — the metrics one by one, as pure functions.
"""

from .auryn import parse_marker, read_auryn, read_ras, read_syn, write_ras, write_syn
from .compute import TASK_METRICS, compute
from .hdf5 import read_hdf5, write_hdf5
from .raw import AnalysisParams, SimulationResult, SpikeTrains, WeightTraces
from .rawstore import read_simulations, write_raw_store
from .recompute import recompute

__all__ = [
    "TASK_METRICS",
    "AnalysisParams",
    "SimulationResult",
    "SpikeTrains",
    "WeightTraces",
    "compute",
    "parse_marker",
    "read_auryn",
    "read_hdf5",
    "read_simulations",
    "read_ras",
    "read_syn",
    "recompute",
    "write_hdf5",
    "write_raw_store",
    "write_ras",
    "write_syn",
]
