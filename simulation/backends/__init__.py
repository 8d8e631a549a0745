"""Simulation backends: each runs one rule under a protocol and returns a SimulationResult."""
