"""Simulating new rules: protocols, backends (Auryn, Brian2), the Dask runner.

Examples
--------
>>> from fsbi_data.simulation import protocol, sample_prior, simulate
>>> run = simulate(sample_prior("6pPol", 4, seed=0), protocol("6pPol", "quick"),
...                backend="brian2", store="new.store")            # doctest: +SKIP
"""

from __future__ import annotations

from fsbi_data.lazy_import import lazy_attributes

_LAZY = {
    "simulate": "fsbi_data.simulation.runner:simulate",
    "SimulationRun": "fsbi_data.simulation.runner:SimulationRun",
    "sample_prior": "fsbi_data.simulation.prior:sample_prior",
    "rule_seed": "fsbi_data.seeds:rule_seed",
    "protocol": "fsbi_data.simulation.protocols:protocol",
    "Protocol": "fsbi_data.simulation.protocols:Protocol",
    "get_backend": "fsbi_data.simulation.backends.base:get_backend",
}

__all__ = list(_LAZY)


# Dask and the backends load on first use, keeping ``import fsbi_data.simulation`` light.
__getattr__ = lazy_attributes(__name__, _LAZY)
