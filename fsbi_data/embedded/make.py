"""Regenerate the embedded sample: simulate it in rounds, then write the package's files.

Run ``python -m fsbi_data.embedded.make`` (``--help`` for the options; ``docs/embedded-sample.md``).
For each family it makes a store in the work folder (default ``embedded-sample-work``) with
:func:`fsbi_data.rounds.run_round` (Brian2, quick protocol): π0 from the prior, then π1…π3 from
posteriors conditioned on more and more of the plausibility criteria. It re-simulates up to
``n_longevity`` of the rules with plausible E and I rates with a ten-times longer training
phase, and writes every round and the re-simulations as release-format records into
``fsbi_data/embedded/data``, with ``sample.json``. Interrupted, the same command continues where
it stopped (rounds and appends resume; nothing is simulated twice).
"""

from __future__ import annotations

import argparse
import datetime
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..files import sha256_of
from ..store.layout import records_from_dataset
from . import FAMILIES, LONGEVITY, MANIFEST, ROUNDS, data_folder, save_records

SIZES = {"6pPol": {"n_prior": 1000, "n_round": 500, "n_longevity": 100},
         "MLP": {"n_prior": 1000, "n_round": 400, "n_longevity": 100}}
"""Rules of π0, of each later round, and re-simulated rules at most, per family."""
LONGEVITY_TRAINING_FACTOR = 10  # the re-simulations train ten times longer than the quick protocol
FIT = {"n_ensemble": 3, "batch_size": 200, "max_epochs": 200}
TARGETS = {"rate": (2.0, 30.0), "rate_i": (2.0, 20.0), "cv_isi": (0.7, 0.9),
           "w_creep": (0.01, 0.05)}
"""Conditions of the posterior rounds: inside the plausible ranges and inside what the quick
protocol's prior round reaches (a round refuses targets outside its training rules)."""
ROUND_METRICS = {"6pPol": (["rate"], ["rate", "cv_isi"], ["rate", "cv_isi", "w_creep"]),
                 "MLP": (["rate"], ["rate", "rate_i"], ["rate", "rate_i", "w_creep"])}
"""The metrics each posterior round conditions on: more and more of the criteria the quick
protocol's prior rules meet least often (6pPol: CV(ISI) and w_creep, 7 % each; the MLP rules of
the quick protocol hardly ever reach a CV(ISI) of 0.7, 4 of 1,000 in π0, so their rounds aim at
plausible rates and a small weight creep)."""


def round_plans(family_name: str, n_prior: int, n_round: int) -> list[dict[str, Any]]:
    """The rounds of a family: the prior, then more and more of the criteria as conditions.

    Every posterior round trains on the rules that completed (did not blow up) so far.

    Examples
    --------
    >>> [(p["name"], p.get("metrics")) for p in round_plans("6pPol", 1000, 500)]
    [('pi0', None), ('pi1', ['rate']), ('pi2', ['rate', 'cv_isi']), \
('pi3', ['rate', 'cv_isi', 'w_creep'])]
    """
    plans: list[dict[str, Any]] = [{"name": "pi0", "n": n_prior, "from_prior": True}]
    for name, metrics in zip(ROUNDS[1:], ROUND_METRICS[family_name], strict=True):
        plans.append({"name": name, "n": n_round, "metrics": metrics,
                      "conditions": {m: TARGETS[m] for m in metrics},
                      "criteria": "completed", "fit_options": FIT})
    return plans


def longevity_protocol(family_name: str):
    """The quick protocol with a ten-times longer training phase."""
    from ..simulation import protocol

    quick = protocol(family_name, "quick")
    return quick.replace(lns=quick.lns * LONGEVITY_TRAINING_FACTOR)


def resimulated_rules(ds: xr.Dataset, n: int, seed: int) -> xr.Dataset:
    """Up to ``n`` rules with plausible E and I rates (criteria "stable activity"), a fixed
    random subset: the quick protocol yields hardly any rule that meets every criterion, so
    the sample re-simulates these instead of the paper's plausible rules."""
    stable = ds.fsbi.criteria("stable activity")
    if stable.sizes["rule"] > n:
        keep = np.sort(np.random.default_rng(seed).choice(stable.sizes["rule"], n,
                                                          replace=False))
        stable = stable.isel(rule=keep)
    return stable


def make_family(name: str, work: Path, out: Path, plans: list[dict[str, Any]], *,
                n_longevity: int, seed: int, workers: int | None,
                progress: bool) -> dict[str, Any]:
    """Simulate one family's sample in ``work`` and write its files into ``out``."""
    from .. import open as open_store
    from ..rounds import run_round
    from ..store import create

    store = work / f"{name}.store"
    if not store.exists():
        create(store, name)
    for k, plan in enumerate(plans):
        report = run_round(store, **plan, protocol="quick", backend="brian2", seed=seed + k,
                           workers=workers, progress=progress)
        print(report.summary(), flush=True)
    ds = open_store(store)
    parts = {plan["name"]: ds.fsbi.round(plan["name"]) for plan in plans}
    parts[LONGEVITY] = resimulate(resimulated_rules(ds, n_longevity, seed),
                                  work / f"{name}-{LONGEVITY}.store", workers, progress)
    files = {}
    for part, rules in parts.items():
        path = out / name / f"{part}.npy.gz"
        save_records(records_from_dataset(rules.load()), path)
        files[part] = {"rows": rules.sizes["rule"], "sha256": sha256_of(path)}
    return {"rounds": plans, "longevity_protocol": {"lns": longevity_protocol(name).lns},
            "rows": {part: f["rows"] for part, f in files.items()},
            "sha256": {part: f["sha256"] for part, f in files.items()}}


def resimulate(rules: xr.Dataset, store: Path, workers: int | None,
               progress: bool) -> xr.Dataset:
    """``rules`` simulated again with the longer protocol, in ``store`` (none: no rules)."""
    from .. import open as open_store
    from ..simulation import simulate

    if rules.sizes["rule"] == 0:
        return rules
    run = simulate(rules, longevity_protocol(rules.attrs["family"]), backend="brian2",
                   store=store, workers=workers, progress=progress)
    print(f"{rules.attrs['family']} re-simulated: {run.summary()}", flush=True)
    return open_store(store)


def make(work: str | Path = "embedded-sample-work", out: str | Path | None = None, *,
         families: tuple[str, ...] = FAMILIES, sizes: dict[str, dict[str, int]] | None = None,
         plans: list[dict[str, Any]] | None = None, seed: int = 0,
         workers: int | None = None, progress: bool = True) -> Path:
    """Simulate the embedded sample and write its files and ``sample.json`` into ``out``.

    Parameters
    ----------
    work
        Folder of the stores the rounds are made in (kept, so that a rerun continues).
    out
        Where the files go (default: the package's own ``fsbi_data/embedded/data``).
    families
        The families to make.
    sizes
        Per family, ``n_prior``, ``n_round`` and ``n_longevity`` (default :data:`SIZES`).
    plans
        The rounds of every family, as :func:`fsbi_data.rounds.run_round` takes them, instead
        of :func:`round_plans` of the sizes.
    seed
        Seed of round k is ``seed + k`` (fits, draws); the re-simulated subset uses ``seed``.
    workers
        Simulations at once (default: the number of CPUs).
    """
    from ..simulation import protocol
    from ..version import __version__

    work, out = Path(work), Path(out) if out is not None else data_folder()
    work.mkdir(parents=True, exist_ok=True)
    sizes = {**SIZES, **(sizes or {})}
    made = {}
    for name in families:
        size = sizes[name]
        made[name] = make_family(
            name, work, out, plans or round_plans(name, size["n_prior"], size["n_round"]),
            n_longevity=size["n_longevity"], seed=seed, workers=workers, progress=progress)
    kept = out / MANIFEST
    record = json.loads(kept.read_text()) if kept.exists() else {}
    record.update({
        "what": "rules simulated by fsbi-data with Brian2 on the quick protocol; not the "
                "paper's data",
        "made": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "protocols": record.get("protocols", {})
        | {name: protocol(name, "quick").to_dict() | {"rule_cst_part": "default"}
           for name in families},
        "versions": {p: version(p) for p in ("brian2", "numpy", "sbi", "torch")}
        | {"fsbi-data": __version__},
        "seed": seed,
        "families": record.get("families", {}) | made,
    })
    kept.write_text(json.dumps(record, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fsbi_data.embedded.make",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="embedded-sample-work",
                        help="folder of the stores the rounds are made in")
    parser.add_argument("--out", default=None,
                        help="where the files go (default: the package's own data folder)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    for key, what in (("n_prior", "rules of round pi0"), ("n_round", "rules of each later round"),
                      ("n_longevity", "re-simulated rules at most")):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=None,
                            help=f"{what}, for every family (default: per family, {SIZES})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    asked = {key: getattr(args, key) for key in ("n_prior", "n_round", "n_longevity")
             if getattr(args, key) is not None}
    out = make(args.work, args.out, families=tuple(args.families),
               sizes={name: {**SIZES[name], **asked} for name in args.families},
               seed=args.seed, workers=args.workers)
    print(f"wrote the embedded sample into {out}")


if __name__ == "__main__":
    main()
