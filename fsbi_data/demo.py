"""The main job: a newcomer's first hour with fsbi-data, end to end, in one call.

``run_demo(out_dir)`` opens a store (the released 6pPol data when it is cached, otherwise an
embedded synthetic sample that says so everywhere), runs the paper's plausibility queries,
writes the reproduced figure panels of both families (Figs. 2, 4 and 5, each titled with the
data it shows), fits a small posterior over rules, samples new rules from it, simulates them
with the Brian2 backend on the quick protocol, appends them to the store, and writes a short
report of what was written where. Nothing needs the network.

Examples
--------
>>> from fsbi_data.demo import run_demo
>>> report = run_demo("demo-output")          # doctest: +SKIP
>>> print(report.summary())                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .schema import TUTORIAL_TARGET_RATE_BOUNDS

FAMILY = "6pPol"
SAMPLE_SCALE = 0.02  # the embedded sample: 2 % of each released 6pPol file's rows
SAMPLE_LABEL = "synthetic sample in the release format (NOT the paper's data)"
RELEASE_LABEL = "the fSBI release (VogelsLab/fSBI, 6pPol _all file and rounds)"
FIGURE_FAMILIES = (FAMILY, "MLP")  # the families whose panels the demo draws
LONGEVITY_LABEL = "20-minute re-simulations"
N_NEW_RULES = 4
TARGET_RATE = TUTORIAL_TARGET_RATE_BOUNDS  # Hz: the target of the paper's tutorial


@dataclass
class DemoReport:
    """What the demo did and where it wrote it."""

    out_dir: Path
    data_origin: str = ""
    n_rules: int = 0
    n_plausible: int = 0
    fractions: object = None
    figures: list[Path] = field(default_factory=list)
    posterior: Path | None = None
    n_simulated: int = 0
    n_blown_up: int = 0
    n_appended: int = 0
    store: Path | None = None
    report: Path | None = None

    def summary(self) -> str:
        lines = [
            f"data: {self.data_origin}",
            f"rules: {self.n_rules:,}  plausible (Fig. 2 criteria): {self.n_plausible:,}",
            f"figures: {len(self.figures)} files in {self.out_dir / 'figures'}",
            f"posterior: {self.posterior}",
            f"simulated: {self.n_simulated} new rules with Brian2 (quick protocol), "
            f"{self.n_blown_up} blew up; appended: {self.n_appended} to {self.store}",
            f"report: {self.report}",
        ]
        return "\n".join(lines)


def release_label(family_name: str = FAMILY, files: str = "_all file and rounds") -> str:
    """How the released files of a family are named in titles and reports.

    Examples
    --------
    >>> release_label() == RELEASE_LABEL
    True
    """
    return f"the fSBI release (VogelsLab/fSBI, {family_name} {files})"


def _use_release(entries: list, use_release: bool | None) -> bool:
    """Whether to take the released files: asked for, or (by default) all of them cached."""
    from .fetching import is_cached

    return bool(use_release or (use_release is None and all(is_cached(e) for e in entries)))


def _synthetic_file(out_dir: Path, name: str) -> Path:
    """A file of the embedded synthetic sample, written into ``out_dir`` when missing (the
    sample is byte-identical each time)."""
    from .catalog import CATALOG
    from .synthetic import write_synthetic_release

    root = out_dir / "synthetic-release"
    path = root / CATALOG.entry(name).path
    if not path.exists():
        write_synthetic_release(root, families=(CATALOG.entry(name).family,),
                                scale=SAMPLE_SCALE, rng=0)
    return path


def release_files(out_dir: Path, use_release: bool | None, family_name: str = FAMILY
                  ) -> tuple[Path, dict[str, Path], str]:
    """The ``_all`` file and round files to start from, and what they are.

    The released files when they are cached (or ``use_release=True``: fetched, which needs the
    network); otherwise a synthetic sample written into ``out_dir`` (no network needed).
    """
    from .catalog import CATALOG
    from .fetching import fetch

    rounds = CATALOG.rounds(family_name)
    if _use_release([CATALOG.entry(family_name), *rounds.values()], use_release):
        return (fetch(family_name), {label: fetch(entry.name) for label, entry in rounds.items()},
                release_label(family_name))
    return (_synthetic_file(out_dir, family_name),
            {label: _synthetic_file(out_dir, entry.name) for label, entry in rounds.items()},
            SAMPLE_LABEL)


def _existing(store: Path) -> tuple[Path, str]:
    """A store made before, and its ``data_origin``."""
    from . import open as open_store

    return store, open_store(store).attrs.get("data_origin", "unknown")


def _converted(store: Path, source: Path, origin: str, rounds: dict[str, Path] | None,
               progress: bool) -> tuple[Path, str]:
    """``source`` converted into ``store``, its ``data_origin`` set to ``origin``."""
    from . import convert

    convert(source, store, rounds=rounds, attrs={"data_origin": origin}, progress=progress)
    return store, origin


def default_store(out_dir: str | Path, *, use_release: bool | None = None,
                  progress: bool = False, family_name: str = FAMILY) -> tuple[Path, str]:
    """A store with round membership in ``out_dir`` (6pPol by default), and what data it holds.

    The store is converted from the released files when they are cached (or when
    ``use_release=True``), otherwise from the embedded synthetic sample; an existing store
    there is reused. Its ``data_origin`` attribute says which.

    Examples
    --------
    >>> store, origin = default_store("notebook-data")       # doctest: +SKIP
    >>> ds = fsbi_data.open(store)                           # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    store = out_dir / f"{family_name}.store"
    if store.exists():
        return _existing(store)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_file, rounds, origin = release_files(out_dir, use_release, family_name)
    return _converted(store, all_file, origin, rounds, progress)


def longevity_store(out_dir: str | Path, *, use_release: bool | None = None,
                    progress: bool = False, family_name: str = FAMILY) -> tuple[Path, str]:
    """The rules of a family re-simulated for 20 minutes (Fig. 5) as a store in ``out_dir``,
    and what data it holds.

    The released ``<family>/bg20min`` file when it is cached (or ``use_release=True``),
    otherwise the embedded synthetic sample's; an existing store there is reused.

    Examples
    --------
    >>> store, origin = longevity_store("demo-output", family_name="MLP")  # doctest: +SKIP
    """
    from .catalog import CATALOG
    from .fetching import fetch

    out_dir = Path(out_dir)
    name = f"{family_name}/bg20min"
    store = out_dir / f"{family_name}-bg20min.store"
    if store.exists():
        return _existing(store)
    out_dir.mkdir(parents=True, exist_ok=True)
    if _use_release([CATALOG.entry(name)], use_release):
        source, origin = fetch(name), release_label(family_name, "bg20min file")
    else:
        source, origin = _synthetic_file(out_dir, name), f"{SAMPLE_LABEL}, {LONGEVITY_LABEL}"
    return _converted(store, source, origin, None, progress)


def draw_figures(ds, out_dir: str | Path, *, use_release: bool | None = None,
                 progress: bool = False) -> list[Path]:
    """Every panel of both families into ``out_dir/figures`` (PDF, PNG, CSV), each titled with
    the data it shows: ``ds`` for 6pPol, the MLP store and both families' 20-minute
    re-simulations (Fig. 5) from the same source as :func:`default_store` chooses.

    Examples
    --------
    >>> paths = draw_figures(fsbi_data.open(store), "demo-output")  # doctest: +SKIP
    """
    from . import figures
    from . import open as open_store

    out_dir = Path(out_dir)
    written = []
    for name in FIGURE_FAMILIES:
        options = {"use_release": use_release, "progress": progress, "family_name": name}
        main = ds if name == ds.attrs.get("family") else \
            open_store(default_store(out_dir, **options)[0])
        longevity = open_store(longevity_store(out_dir, **options)[0])
        written += figures.write_all(main, out_dir / "figures", longevity_ds=longevity)
    return written


def run_demo(out_dir: str | Path = "demo-output", *, use_release: bool | None = None,
             n_new_rules: int = N_NEW_RULES, workers: int = 2, progress: bool = False,
             max_epochs: int = 30) -> DemoReport:
    """Run the whole fsbi-data workflow once and write its results into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for the store, the figures, the posterior and ``report.md``.
    use_release
        None (default): the released data if cached, else the embedded synthetic sample;
        True: fetch the release (network); False: always the synthetic sample.
    n_new_rules
        How many rules to sample from the posterior and simulate (Brian2, quick protocol).
    workers
        Dask workers for the simulations.
    progress
        Progress bars (the CLI turns them on).
    max_epochs
        Training epochs of each posterior member (small: this is a demonstration).
    """
    from tqdm.auto import tqdm

    from . import inference
    from . import open as open_store
    from .simulation import protocol, simulate

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DemoReport(out_dir=out_dir)
    steps = tqdm(total=6, desc="demo", disable=not progress)

    steps.set_postfix_str("data")
    store, report.data_origin = default_store(out_dir, use_release=use_release,
                                              progress=progress)
    report.store = store
    ds = open_store(store)
    steps.update()

    steps.set_postfix_str("queries")
    report.n_rules = ds.sizes["rule"]
    report.n_plausible = ds.fsbi.plausible().sizes["rule"]
    report.fractions = ds.fsbi.fractions()
    steps.update()

    steps.set_postfix_str("figures")
    report.figures = draw_figures(ds, out_dir, use_release=use_release, progress=progress)
    steps.update()

    steps.set_postfix_str("posterior")
    training = ds.fsbi.criteria("tutorial training")
    posterior = inference.fit(training, metrics=["rate"], n_ensemble=2, seed=0,
                              max_epochs=max_epochs, progress=progress)
    report.posterior = posterior.save(out_dir / "posterior-rate.fsbi-post")
    samples = posterior.sample(n=n_new_rules, seed=0, rate=TARGET_RATE)
    steps.update()

    steps.set_postfix_str("simulations")
    run = simulate(samples, protocol(FAMILY, "quick"), backend="brian2", store=store,
                   workers=workers, progress=progress)
    report.n_simulated = run.rules.sizes["rule"]
    report.n_blown_up = int(np.sum(np.isfinite(run.blow_up_time)))
    report.n_appended = report.n_simulated
    steps.update()

    steps.set_postfix_str("report")
    report.report = write_report(report, open_store(store), run.rules)
    steps.update()
    steps.close()
    return report


def markdown_table(frame) -> str:
    """A pandas DataFrame as a Markdown table (numbers with 4 significant digits)."""
    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_report(report: DemoReport, extended, new_rules) -> Path:
    """A short Markdown report of what the demo did and wrote."""
    lines = [
        "# fsbi-data demo report",
        "",
        f"Data: **{report.data_origin}**.",
        "",
        f"- Store: `{report.store}` — {extended.sizes['rule']:,} rules after appending "
        f"{report.n_appended} new ones.",
        f"- Plausible rules (Fig. 2 criteria): {report.n_plausible:,} of {report.n_rules:,}.",
        f"- Figures: {len(report.figures)} files in `{report.out_dir / 'figures'}`.",
        f"- Posterior p(θ | rate): `{report.posterior}`.",
        f"- New rules sampled for rate ∈ {list(TARGET_RATE)} Hz and simulated with Brian2 on "
        f"the quick protocol (not comparable with the paper's numbers): {report.n_simulated}, "
        f"{report.n_blown_up} blew up.",
        "",
        "## Fraction of rules meeting each criteria group, per round",
        "",
        markdown_table(report.fractions),
        "",
        "## New rules",
        "",
        "| seed | rate (Hz) | rate_i (Hz) | cv_isi |",
        "|---|---|---|---|",
    ]
    for i in range(new_rules.sizes["rule"]):
        rule = new_rules.isel(rule=i)
        lines.append(f"| `{rule.seed.item()}` | {float(rule.rate):.3g} | "
                     f"{float(rule.rate_i):.3g} | {float(rule.cv_isi):.3g} |")
    path = report.out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
