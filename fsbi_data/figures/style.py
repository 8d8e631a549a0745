"""The shared look of every panel: sizes for the paper's text width, the paper's colours, fonts,
constrained layout, and titles that say where the data came from (``docs/figures.md``).

Examples
--------
>>> from fsbi_data.figures.style import provenance_origin
>>> provenance_origin([{"kind": "batch", "source": "simulation", "rows": 4,
...                     "backend": "brian2", "protocol": "6pPol/quick"}])
'4 rules simulated by fsbi-data (brian2, 6pPol/quick)'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import xarray as xr

from ..store.layout import provenance

CONNECTION_COLOURS = {"ee": "#d62728", "ei": "#ff7f0e", "ie": "#1f77b4", "ii": "#17becf"}
ROUND_COLOURS = {"pi0": "#bdbdbd", "pi1": "#9ecae1", "pi2": "#4292c6", "pi3": "#08306b"}
GROUP_COLOURS = {"stable activity": "#2ca02c", "stable weights": "#9467bd",
                 "A.I. dynamics": "#ff7f0e", "plausible": "#000000"}
PLAUSIBLE_COLOUR = "#2ca02c"
ROUND_LABELS = {"pi0": "π0", "pi1": "π1", "pi2": "π2", "pi3": "π3"}
FONT = "DejaVu Sans"  # ships with matplotlib: no font warnings anywhere

TEXT_WIDTH = 5.5  # in: the text width of a NeurIPS paper (one column)
HALF_WIDTH = 2.7  # in: two panels side by side within the text width
FONT_SIZE = 8  # pt: labels and titles; tick labels and legends one point smaller
PNG_DPI = 200  # PNG beside every PDF: 5.5 in → 1,100 px
PAD = 0.06  # in: constrained-layout padding around the panels (titles off the top edge)
LINE_HEIGHT = 1.2 * FONT_SIZE / 72  # in: one line of a title


@contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib settings of every panel (used as a context, nothing leaks to the caller)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    small = FONT_SIZE - 1
    with sns.axes_style("ticks"), plt.rc_context({
        "font.family": FONT, "font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE,
        "axes.labelsize": FONT_SIZE, "figure.titlesize": FONT_SIZE,
        "figure.labelsize": FONT_SIZE, "xtick.labelsize": small, "ytick.labelsize": small,
        "legend.fontsize": small, "legend.title_fontsize": small,
        "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    }):
        yield


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1,
               **subplot_kw: Any) -> tuple[Any, Any]:
    """``plt.subplots`` with constrained layout (nothing outside the canvas) and padding.

    Call inside :func:`paper_style`; ``width`` and ``height`` are in inches (at most
    :data:`TEXT_WIDTH` wide).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained",
                             **subplot_kw)
    fig.get_layout_engine().set(w_pad=PAD, h_pad=PAD)
    return fig, axes


def text_width(text: str, fontsize: float = FONT_SIZE) -> float:
    """Width of one line of ``text`` in inches, in the panels' font at ``fontsize`` points."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(
        text, FontProperties(family=FONT, size=fontsize), ismath=False)
    return width / 72


def wrap(text: str, width_in: float, fontsize: float = FONT_SIZE) -> str:
    r"""``text`` broken at spaces into lines at most ``width_in`` inches wide at ``fontsize``
    points; a word wider than that (a long file name) is broken inside; each line of ``text``
    on its own.

    Examples
    --------
    >>> wrap("a b c d", width_in=0.1)
    'a\nb\nc\nd'
    >>> wrap("a b\nc d", width_in=5)
    'a b\nc d'
    >>> wrap("abcdef", width_in=0.15)
    'ab\ncd\nef'
    """
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, fontsize) > width_in:
                lines.append(line)
                candidate = word
            while len(candidate) > 1 and text_width(candidate, fontsize) > width_in:
                cut = next(k for k in range(len(candidate) - 1, 0, -1)
                           if k == 1 or text_width(candidate[:k], fontsize) <= width_in)
                lines.append(candidate[:cut])
                candidate = candidate[cut:]
            line = candidate
        lines.append(line)
    return "\n".join(lines)


def released_file(sha256: str | None) -> str | None:
    """The catalog name of the released file with this sha256, or None.

    Examples
    --------
    >>> released_file("df5297b3c75f63b967355faa8d433cc20c79bdc7e1caf7a8161a08bd2e6abeba")
    '6pPol'
    >>> released_file("0" * 64) is None
    True
    """
    from ..catalog import CATALOG

    if not sha256:
        return None
    return next((e.name for e in CATALOG.entries.values()
                 if e.checksum_kind == "sha256" and e.checksum == sha256), None)


def _count(records: Sequence[dict]) -> str:
    rows = [r.get("rows") for r in records]
    return f"{sum(rows):,}" if all(isinstance(n, int) for n in rows) else "some"


def provenance_origin(records: Iterable[dict], data_origin: str | None = None) -> str:
    """Where rules came from, in words, from provenance records (``ds.attrs["provenance"]``).

    Converted files are named as the fSBI release when their sha256 is a released file's, else
    as "not a released file"; appended batches are counted by source (rules simulated by
    fsbi-data, with backend and protocol, or the file they came from); recomputed metrics and
    posterior samples are named. ``data_origin`` (a store's ``data_origin`` attribute, e.g. the
    embedded sample's) replaces the description of the converted files.
    """
    records = [r for r in records if isinstance(r, dict)]
    parts = []
    if data_origin:
        parts.append(data_origin)
    else:
        for source in (r for r in records if r.get("kind") == "source"):
            name = released_file(source.get("sha256"))
            parts.append(f"the fSBI release ({name} file)" if name else
                         f"{source.get('name', '?')} (not a released file)")
    batches = [r for r in records if r.get("kind") == "batch"]
    simulated = [r for r in batches if r.get("source") == "simulation"]
    if simulated:
        how = sorted({f"{r.get('backend', '?')}, {r.get('protocol', '?')}" for r in simulated})
        parts.append(f"{_count(simulated)} rules simulated by fsbi-data ({'; '.join(how)})")
    appended = [r for r in batches if r.get("source") != "simulation"]
    if appended:
        names = sorted({str(r.get("source", "?")) for r in appended})
        parts.append(f"{_count(appended)} rules appended from {', '.join(names)}")
    if any(r.get("kind") == "recomputed" for r in records):
        parts.append("metrics recomputed from raw simulations")
    if any(r.get("kind") == "posterior samples" for r in records):
        parts.append("rules sampled from a posterior (not simulated)")
    return "; ".join(parts) or "in-memory data without provenance"


def data_origin(ds: xr.Dataset) -> str:
    """Where the rules of a Dataset came from (:func:`provenance_origin` of its provenance)."""
    return provenance_origin(provenance(ds), ds.attrs.get("data_origin"))


def data_label(ds: xr.Dataset) -> str:
    """What data a panel shows: family, origin and number of rules, as one line.

    Examples
    --------
    >>> from fsbi_data.store.layout import dataset_from_records
    >>> from fsbi_data.synthetic import release_records
    >>> data_label(dataset_from_records(release_records("MLP", 10, rng=0)))
    'MLP: in-memory data without provenance (10 rules)'
    """
    return f"{ds.attrs.get('family', '?')}: {data_origin(ds)} ({ds.sizes.get('rule', 0):,} rules)"


def set_title(fig: Any, title: str, origin: str) -> None:
    """The figure's title: what it shows, then where the data came from, each wrapped to the
    figure's width (less the padding). A title of more than two lines makes the figure taller
    by its extra lines, so that the panels keep their size."""
    width = fig.get_figwidth() - 4 * PAD
    text = wrap(title, width) + "\n" + wrap(origin, width)
    extra = text.count("\n") - 1
    if extra > 0:
        fig.set_figheight(fig.get_figheight() + extra * LINE_HEIGHT)
    fig.suptitle(text)
