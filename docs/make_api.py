"""Write docs/api.md, the API reference, from the docstrings of the public API.

    python docs/make_api.py          # tests check that docs/api.md is up to date
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

SECTIONS = {
    "Opening, fetching, converting, appending": [
        "fsbi_data.opening:open", "fsbi_data.catalog:fetch", "fsbi_data.catalog:datasets",
        "fsbi_data.converters:convert", "fsbi_data.store:append", "fsbi_data.store:compact",
        "fsbi_data.verification:verify", "fsbi_data.verification:VerifyReport",
    ],
    "Families": ["fsbi_data.schema:family", "fsbi_data.schema:Family"],
    "Queries (ds.fsbi)": [
        f"fsbi_data.query:FsbiAccessor.{name}" for name in (
            "plausible", "criteria", "where", "mask", "round", "fractions", "rule", "rules",
            "to_frame", "to_torch", "describe")
    ],
    "Metrics": [
        "fsbi_data.metrics:compute", "fsbi_data.metrics:read_auryn",
        "fsbi_data.metrics:read_hdf5", "fsbi_data.metrics:write_hdf5",
        "fsbi_data.metrics:write_raw_store", "fsbi_data.metrics:recompute",
        "fsbi_data.metrics.raw:SimulationResult", "fsbi_data.metrics.raw:AnalysisParams",
    ],
    "Figures": [
        f"fsbi_data.figures:{name}" for name in (
            "accumulation", "pca_dimensionality", "polynomial_rule", "mlp_rule",
            "parameter_correlation", "metric_distributions", "longevity", "write_all")
    ],
    "Inference": ["fsbi_data.inference:fit", "fsbi_data.inference:RulePosterior.sample",
                  "fsbi_data.inference:RulePosterior.save", "fsbi_data.inference:load"],
    "Simulation": [
        "fsbi_data.simulation.runner:simulate", "fsbi_data.simulation.protocols:protocol",
        "fsbi_data.simulation.protocols:Protocol", "fsbi_data.simulation.backends.base:Backend",
        "fsbi_data.simulation.backends.base:get_backend",
        "fsbi_data.simulation.prior:sample_prior", "fsbi_data.seeds:rule_seed",
    ],
    "The main job": ["fsbi_data.demo:run_demo", "fsbi_data.demo:default_store"],
}


def resolve(target: str):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def render() -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings by `python docs/make_api.py`.", ""]
    for section, targets in SECTIONS.items():
        lines += [f"## {section}", ""]
        for target in targets:
            obj = resolve(target)
            name = target.partition(":")[2]
            try:
                signature = str(inspect.signature(obj)).replace("self, ", "").replace(
                    "(self)", "()")
            except (TypeError, ValueError):
                signature = ""
            if inspect.isclass(obj):
                signature = ""
            lines += [f"### `{name}{signature}`", "", inspect.getdoc(obj) or "", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    out = Path(__file__).with_name("api.md")
    out.write_text(render())
    sys.stdout.write(f"wrote {out}\n")
