"""Write docs/api.md (the API reference, from the docstrings of the public API) and
docs/families.md (the two rule families, from ``fsbi_data.schema``, their one home).

    python docs/make_api.py          # tests check that both are up to date
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
        "fsbi_data.store:verify", "fsbi_data.store:VerifyReport",
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
            "parameter_correlation", "metric_distributions", "longevity", "write_all",
            "conditional_correlation", "posterior_marginals", "write_posterior_panels")
    ],
    "Inference": ["fsbi_data.inference:fit", "fsbi_data.inference:RulePosterior.sample",
                  "fsbi_data.inference:RulePosterior.save", "fsbi_data.inference:load"],
    "Rounds": ["fsbi_data.rounds:run_round", "fsbi_data.rounds:RoundReport",
               "fsbi_data.restriction:fit_restriction", "fsbi_data.restriction:Restriction"],
    "Simulation": [
        "fsbi_data.simulation.runner:simulate", "fsbi_data.simulation.protocols:protocol",
        "fsbi_data.simulation.protocols:Protocol", "fsbi_data.simulation.backends.base:Backend",
        "fsbi_data.simulation.backends.base:get_backend",
        "fsbi_data.simulation.prior:sample_prior", "fsbi_data.seeds:rule_seed",
    ],
    "The main job": ["fsbi_data.demo:run_demo", "fsbi_data.demo:default_store",
                     "fsbi_data.demo:longevity_store", "fsbi_data.demo:draw_figures"],
    "The embedded sample": ["fsbi_data.embedded:records", "fsbi_data.embedded:round_names",
                            "fsbi_data.embedded:write_release_files",
                            "fsbi_data.embedded:manifest", "fsbi_data.embedded.make:make"],
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


def render_families() -> str:
    from fsbi_data.schema import FAMILIES

    lines = ["# The rule families", "",
             "Generated from `fsbi_data.schema` (the one home of these facts) by "
             "`python docs/make_api.py`. Every bound is inclusive; NaN (a simulation that blew "
             "up) fails every bound.", ""]
    for fam in FAMILIES.values():
        lines += [f"## {fam.name} (`{fam.task_name}`)", "", fam.description + ".", "",
                  "Released records: " + ", ".join(
                      f"`{name}` {fam.record_dtype[name].base.str}"
                      + (f"×{fam.record_dtype[name].shape[0]}" if fam.record_dtype[name].shape
                         else "") for name in fam.record_dtype.names) + ".", "",
                  "### Parameters (θ) and prior box", "",
                  "| index | name | connection | low | high | units |", "|---|---|---|---|---|---|"]
        lines += [f"| {i} | `{p.name}` | {p.connection} | {p.low:g} | {p.high:g} | {p.units} |"
                  for i, p in enumerate(fam.parameters)]
        lines += ["", "### Metrics", "", "| name | long name | units | definition |",
                  "|---|---|---|---|"]
        lines += [f"| `{m.name}` | {m.long_name} | {m.units} | {m.description} |"
                  for m in fam.metrics]
        lines += ["", "### Criteria", "", "| set | conditions |", "|---|---|"]
        for name in fam.criteria_names:
            conditions = ", ".join(f"{c.low:g} ≤ `{c.metric}` ≤ {c.high:g}"
                                   for c in fam.criteria(name))
            lines.append(f"| `{name}` | {conditions} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    for name, text in (("api.md", render()), ("families.md", render_families())):
        out = Path(__file__).with_name(name)
        out.write_text(text)
        sys.stdout.write(f"wrote {out}\n")
