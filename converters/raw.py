"""Raw-simulation HDF5 (the release's layout) → raw store.

Examples
--------
>>> convert_raw("pi3_r5to10Hz.h5", "pi3_r5to10Hz.raw.zarr", family="6pPol")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from ..metrics.hdf5 import read_hdf5
from ..metrics.rawstore import write_raw_store


def convert_raw(src: str | os.PathLike, dest: str | os.PathLike, family: str = "6pPol") -> Path:
    """Convert every simulation of a raw HDF5 file into a raw store at ``dest``."""
    return write_raw_store(list(read_hdf5(src)), dest, family)
