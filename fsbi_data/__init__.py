"""fsbi-data: the fSBI datasets of simulated plasticity rules, opened, queried and extended.

The public API is small:

- :func:`open` — a family (``"6pPol"``, ``"MLP"``), a catalog file or a store path as a labeled
  :class:`xarray.Dataset`; the ``.fsbi`` accessor on it holds the paper's queries;
- :func:`fetch`, :func:`datasets` — the released files, downloaded and checksum-verified;
- :func:`convert` — a released ``.npy`` into a store;
- :func:`append` — new rules into a store, crash-safely; :func:`verify` — check every byte of
  a store; :func:`compact` — merge its parts into one (and add checksums to old stores);
- :mod:`fsbi_data.metrics`, :mod:`fsbi_data.figures`, :mod:`fsbi_data.inference`,
  :mod:`fsbi_data.simulation` — metrics, the paper's panels, posteriors, new simulations.

Examples
--------
>>> import fsbi_data
>>> ds = fsbi_data.open("6pPol")                      # doctest: +SKIP
>>> ds.fsbi.plausible().sizes["rule"]                 # doctest: +SKIP
"""

from __future__ import annotations

from . import query as _query  # noqa: F401  (registers the ``.fsbi`` accessor)
from .errors import FsbiDataError
from .lazy_import import lazy_attributes
from .schema import family
from .version import __version__

_LAZY = {
    "open": "fsbi_data.opening:open",
    "append": "fsbi_data.store:append",
    "compact": "fsbi_data.store:compact",
    "verify": "fsbi_data.store:verify",
    "fetch": "fsbi_data.fetching:fetch",
    "datasets": "fsbi_data.fetching:datasets",
    "convert": "fsbi_data.converters:convert",
}

__all__ = ["FsbiDataError", "__version__", "family", *_LAZY]


# Heavy modules (zarr, pooch, converters) load on first use, keeping ``import fsbi_data`` fast.
SUBMODULES = ("catalog", "converters", "embedded", "figures", "inference", "metrics", "query",
              "schema", "simulation", "store", "synthetic")
__getattr__ = lazy_attributes(__name__, _LAZY, SUBMODULES)
