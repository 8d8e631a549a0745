"""The main job: a newcomer's first hour with fsbi-data, end to end, in one call.

``run_demo(out_dir)`` opens a store (the released 6pPol data when they are cached, otherwise
the embedded sample that fsbi-data simulated itself, :mod:`fsbi_data.embedded`, which says so
everywhere), runs the paper's plausibility queries, writes the reproduced figure panels of both
families (Figs. 2, 4 and 5, each titled with the data it shows), fits a posterior p(θ | rate),
draws new rules for a rate in [5, 10] Hz, simulates them with the Brian2 backend on the quick
protocol, appends them to the store, and reports how many landed in that range against the
share of the store's own rules there: the paper's method, in miniature. Nothing needs the
network.

Examples
--------
>>> from fsbi_data.demo import run_demo
>>> report = run_demo("demo-output")          # doctest: +SKIP
>>> print(report.summary())                   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import embedded
from .errors import FsbiDataError
from .schema import TUTORIAL_TARGET_RATE_BOUNDS

FAMILY = "6pPol"
RELEASE_LABEL = "the fSBI release (VogelsLab/fSBI, 6pPol _all file and rounds)"
FIGURE_FAMILIES = (FAMILY, "MLP")  # the families whose panels the demo draws
N_NEW_RULES = 100
TARGET_RATE = TUTORIAL_TARGET_RATE_BOUNDS  # Hz: the target of the paper's tutorial
DEMO_ROUND = "demo"  # the round label of the rules the demo simulates
MARKER = ".fsbi-demo"  # marks a folder the demo wrote, which a rerun may empty
SOURCE_ATTR = "data_source"  # the store attribute naming the files it was converted from
TRAINING = {True: "tutorial training", False: "stable activity"}
"""The rules the posterior trains on: the paper's tutorial selection for the release; for the
embedded sample, whose quick protocol yields hardly any rule that meets every criterion, the
rules with plausible E and I rates."""
FIT = {"n_ensemble": 5, "batch_size": 100, "threads": 1}
"""The demo's fit: five flows trained to sbi's early stopping on batches of 100 rules, on one
thread each, so that its numbers are the same on every run of the same machine."""


class DemoFolderError(FsbiDataError):
    """The demo's output folder holds files the demo did not write."""


class StaleStoreError(FsbiDataError):
    """A store made earlier from other files than the ones a call would convert now."""


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
    n_in_range: int = 0
    store_share: float = float("nan")
    prior_share: float = float("nan")
    n_appended: int = 0
    store: Path | None = None
    report: Path | None = None
    cleared: bool = False
    training: str = ""

    @property
    def from_release(self) -> bool:
        """Whether the store holds the released rules rather than the embedded sample."""
        return self.data_origin != embedded.LABEL

    @property
    def new_share(self) -> float:
        """The share of the new rules whose rate landed in the target range."""
        return self.n_in_range / self.n_simulated if self.n_simulated else float("nan")

    def outcome(self) -> str:
        """The method at work, in one line: new rules in range against the store's share."""
        low, high = TARGET_RATE
        return (f"{self.n_in_range} of {self.n_simulated} new rules landed in rate ∈ "
                f"[{low:g}, {high:g}] Hz ({self.new_share:.0%}); of the store's own rules "
                f"{self.store_share:.0%} are there ({self.prior_share:.0%} of its prior round)")

    def summary(self) -> str:
        lines = [
            *([f"emptied {self.out_dir} (a previous demo's outputs)"] if self.cleared else []),
            f"data: {self.data_origin}",
            f"rules: {self.n_rules:,}  plausible (Fig. 2 criteria): {self.n_plausible:,}",
            f"figures: {len(self.figures)} files in {self.out_dir / 'figures'}",
            f"posterior: {self.posterior}",
            f"simulated: {self.n_simulated} new rules with Brian2 (quick protocol), "
            f"{self.n_blown_up} blew up; appended: {self.n_appended} to {self.store}",
            self.outcome(),
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


def source_digest(checksums: list[str]) -> str:
    """16 hex digits naming the files a store is converted from (by their checksums), kept in
    the store's ``data_source`` attribute so that a store made from other files is noticed.

    Examples
    --------
    >>> source_digest(["ab", "cd"]) == source_digest(["ab", "cd"]) != source_digest(["ab"])
    True
    """
    return hashlib.sha256("\n".join(checksums).encode()).hexdigest()[:16]


def release_files(out_dir: Path, use_release: bool | None, family_name: str = FAMILY
                  ) -> tuple[Path, dict[str, Path], str]:
    """The ``_all`` file and round files to start from, and what they are.

    The released files when they are cached (or ``use_release=True``: fetched, which needs the
    network); otherwise the embedded sample's, written into ``out_dir/embedded-sample`` (no
    network needed).
    """
    from .catalog import CATALOG
    from .fetching import fetch

    rounds = CATALOG.rounds(family_name)
    if _use_release([CATALOG.entry(family_name), *rounds.values()], use_release):
        return (fetch(family_name), {label: fetch(entry.name) for label, entry in rounds.items()},
                release_label(family_name))
    files = embedded.write_release_files(out_dir / "embedded-sample", family_name)
    return files.all, files.rounds, embedded.LABEL


def _existing(store: Path, source: str) -> tuple[Path, str]:
    """A store made before from the files named by ``source``, and its ``data_origin``.

    Raises
    ------
    StaleStoreError
        When the store was converted from other files (an older embedded sample, or the
        embedded sample where the release is now chosen, or the other way round).
    """
    from . import open as open_store

    attrs = open_store(store).attrs
    if attrs.get(SOURCE_ATTR) != source:
        made = attrs.get("data_origin", "data of unknown origin")
        raise StaleStoreError(
            f"{store} holds {made}, converted from other files than the ones this call would "
            f"convert now (an older embedded sample, or the other of the release and the "
            f"sample); remove {store} to convert them afresh, or pass another folder")
    return store, attrs.get("data_origin", "unknown")


def _converted(store: Path, source: Path, origin: str, digest: str,
               rounds: dict[str, Path] | None, progress: bool) -> tuple[Path, str]:
    """``source`` converted into ``store``, its ``data_origin`` set to ``origin`` and its
    ``data_source`` to ``digest``."""
    from . import convert

    convert(source, store, rounds=rounds, attrs={"data_origin": origin, SOURCE_ATTR: digest},
            progress=progress)
    return store, origin


def default_store(out_dir: str | Path, *, use_release: bool | None = None,
                  progress: bool = False, family_name: str = FAMILY) -> tuple[Path, str]:
    """A store with round membership in ``out_dir`` (6pPol by default), and what data it holds.

    The store is converted from the released files when they are cached (or when
    ``use_release=True``), otherwise from the embedded sample (:mod:`fsbi_data.embedded`); an
    existing store there is reused when it was converted from the same files. Its
    ``data_origin`` attribute says which.

    Raises
    ------
    StaleStoreError
        When the store there was converted from other files (e.g. the sample of an earlier
        version of fsbi-data).

    Examples
    --------
    >>> store, origin = default_store("notebook-data")       # doctest: +SKIP
    >>> ds = fsbi_data.open(store)                           # doctest: +SKIP
    """
    from .catalog import CATALOG

    out_dir = Path(out_dir)
    store = out_dir / f"{family_name}.store"
    entries = [CATALOG.entry(family_name), *CATALOG.rounds(family_name).values()]
    release = _use_release(entries, use_release)
    digest = source_digest([e.checksum for e in entries] if release
                           else embedded.checksums(family_name, embedded.round_names(family_name)))
    if store.exists():
        return _existing(store, digest)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_file, rounds, origin = release_files(out_dir, release, family_name)
    return _converted(store, all_file, origin, digest, rounds, progress)


def longevity_store(out_dir: str | Path, *, use_release: bool | None = None,
                    progress: bool = False, family_name: str = FAMILY) -> tuple[Path, str]:
    """The rules of a family re-simulated for 20 minutes (Fig. 5) as a store in ``out_dir``,
    and what data it holds.

    The released ``<family>/bg20min`` file when it is cached (or ``use_release=True``),
    otherwise the embedded sample's re-simulations (ten times longer training than the quick
    protocol, not 20 minutes); an existing store there is reused when it was converted from
    the same file (else :class:`StaleStoreError`).

    Examples
    --------
    >>> store, origin = longevity_store("demo-output", family_name="MLP")  # doctest: +SKIP
    """
    from .catalog import CATALOG
    from .fetching import fetch

    out_dir = Path(out_dir)
    entry = CATALOG.entry(f"{family_name}/bg20min")
    store = out_dir / f"{family_name}-bg20min.store"
    release = _use_release([entry], use_release)
    digest = source_digest([entry.checksum] if release
                           else embedded.checksums(family_name, [embedded.LONGEVITY]))
    if store.exists():
        return _existing(store, digest)
    out_dir.mkdir(parents=True, exist_ok=True)
    if release:
        source, origin = fetch(entry.name), release_label(family_name, "bg20min file")
    else:
        source = embedded.write_longevity_file(out_dir / "embedded-sample", family_name)
        origin = embedded.LONGEVITY_LABEL
    return _converted(store, source, origin, digest, None, progress)


def draw_figures(ds, out_dir: str | Path, *, use_release: bool | None = None,
                 progress: bool = False) -> list[Path]:
    """Every panel of both families into ``out_dir/figures`` (PDF, PNG, CSV), each titled with
    the data it shows: ``ds`` for 6pPol, the MLP store and both families' longer
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


def prepare_folder(out_dir: Path) -> bool:
    """Make ``out_dir`` ready for a new demo; True when a previous demo's outputs were removed.

    A folder the demo wrote (it holds the ``.fsbi-demo`` marker) is emptied, so that a rerun
    starts clean; a folder with other files is refused, nothing in it touched.

    Raises
    ------
    DemoFolderError
        When ``out_dir`` is a file, or a non-empty folder the demo did not write.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise DemoFolderError(f"{out_dir} is a file; give the demo a folder (--out DIR)")
    cleared = out_dir.exists() and any(out_dir.iterdir())
    if cleared and not (out_dir / MARKER).exists():
        raise DemoFolderError(
            f"{out_dir} holds files the demo did not write; give the demo an empty or new "
            f"folder (--out DIR), or remove {out_dir}")
    if cleared:
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("written by fsbi-data demo; a rerun empties this folder\n")
    return cleared


def n_in_target(ds) -> int:
    """How many rules of ``ds`` have a rate in :data:`TARGET_RATE` (a query: NaN never does)."""
    return ds.fsbi.where(rate=TARGET_RATE).sizes["rule"]


def run_demo(out_dir: str | Path = "demo-output", *, use_release: bool | None = None,
             n_new_rules: int = N_NEW_RULES, workers: int = 2, progress: bool = False,
             fit_options: dict | None = None) -> DemoReport:
    """Run the whole fsbi-data workflow once and write its results into ``out_dir``.

    A folder a previous demo wrote is emptied first; a folder with other files is refused.

    Parameters
    ----------
    out_dir
        Folder for the stores, the figures, the posterior and ``report.md``.
    use_release
        None (default): the released data if cached, else the embedded sample; True: fetch the
        release (network); False: always the embedded sample.
    n_new_rules
        How many rules to draw from the posterior for rate ∈ [5, 10] Hz and simulate (Brian2,
        quick protocol).
    workers
        Simulations at once.
    progress
        Progress bars (the CLI turns them on).
    fit_options
        Passed to :func:`fsbi_data.inference.fit`, over the demo's settings (:data:`FIT`).
    """
    from tqdm.auto import tqdm

    from . import inference
    from . import open as open_store
    from .simulation import protocol, simulate

    out_dir = Path(out_dir)
    report = DemoReport(out_dir=out_dir, cleared=prepare_folder(out_dir))
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
    report.store_share = n_in_target(ds) / ds.sizes["rule"]
    prior = ds.fsbi.round("pi0")
    report.prior_share = n_in_target(prior) / prior.sizes["rule"]
    steps.update()

    steps.set_postfix_str("figures")
    report.figures = draw_figures(ds, out_dir, use_release=use_release, progress=progress)
    steps.update()

    steps.set_postfix_str("posterior")
    report.training = TRAINING[report.from_release]
    training = ds.fsbi.criteria(report.training)
    posterior = inference.fit(training, metrics=["rate"], seed=0, progress=progress,
                              **{**FIT, **(fit_options or {})})
    report.posterior = posterior.save(out_dir / "posterior-rate.fsbi-post")
    samples = posterior.sample(n=n_new_rules, seed=0, rate=TARGET_RATE)
    steps.update()

    steps.set_postfix_str("simulations")
    run = simulate(samples, protocol(FAMILY, "quick"), backend="brian2", store=store,
                   workers=workers, progress=progress, round_name=DEMO_ROUND)
    report.n_simulated = run.rules.sizes["rule"]
    report.n_blown_up = int(np.sum(np.isfinite(run.blow_up_time)))
    report.n_in_range = n_in_target(run.rules)
    report.n_appended = report.n_simulated
    steps.update()

    steps.set_postfix_str("report")
    report.report = write_report(report, open_store(store), run.rules, training)
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


def write_report(report: DemoReport, extended, new_rules, training) -> Path:
    """A short Markdown report of what the demo did and wrote."""
    low, high = TARGET_RATE
    lines = [
        "# fsbi-data demo report",
        "",
        f"Data: **{report.data_origin}**.",
        "",
        f"- Store: `{report.store}` — {extended.sizes['rule']:,} rules after appending "
        f"{report.n_appended} new ones (round `{DEMO_ROUND}`).",
        f"- Plausible rules (Fig. 2 criteria): {report.n_plausible:,} of {report.n_rules:,}.",
        f"- Figures: {len(report.figures)} files in `{report.out_dir / 'figures'}`.",
        f"- Posterior p(θ | rate): `{report.posterior}`, trained on "
        f"{training.sizes['rule']:,} rules (criteria {report.training!r}).",
        f"- New rules drawn for rate ∈ [{low:g}, {high:g}] Hz and simulated with Brian2 on "
        f"the quick protocol: {report.n_simulated}, {report.n_blown_up} blew up.",
        "",
        "## Did the posterior find rules with the rate asked for?",
        "",
        f"{report.outcome()}.",
    ]
    if report.from_release:
        lines += ["", "The released rules were simulated with the paper's protocol and the new "
                      "ones with the quick protocol: the shares are not comparable."]
    lines += [
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
