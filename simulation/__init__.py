"""Simulating new rules: protocols, backends (Auryn, Brian2), the Dask runner."""
