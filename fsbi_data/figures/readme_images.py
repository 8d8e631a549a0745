"""The images README.md shows, drawn from the embedded sample (:mod:`fsbi_data.embedded`).

    python -m fsbi_data.figures.readme_images [OUT_DIR]     # default: docs/img

Writes ``6pPol_accumulation.png``, ``6pPol_pca.png`` and ``6pPol_rule.png`` (PNG, 200 dpi) from
the 6pPol store that :func:`fsbi_data.demo.default_store` converts from the embedded sample
(never the release, even when cached: the README says so), built in a temporary folder.

Examples
--------
>>> paths = write_readme_images("docs/img")  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .accumulation import accumulation
from .pca import pca_dimensionality
from .rules import polynomial_rule
from .style import PNG_DPI

README_PANELS = {"6pPol_accumulation": accumulation, "6pPol_pca": pca_dimensionality,
                 "6pPol_rule": lambda ds: polynomial_rule()}


def write_readme_images(out_dir: str | Path = "docs/img") -> list[Path]:
    """Draw the README's panels from the embedded sample and write them as PNG into
    ``out_dir``; returns the paths."""
    import matplotlib.pyplot as plt

    from .. import open as open_store
    from ..demo import default_store

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as work:
        store, _ = default_store(work, use_release=False)
        ds = open_store(store)
        for name, panel in README_PANELS.items():
            fig, _ = panel(ds)
            fig.savefig(out_dir / f"{name}.png", dpi=PNG_DPI)
            plt.close(fig)
            written.append(out_dir / f"{name}.png")
    return written


if __name__ == "__main__":
    write_readme_images(*sys.argv[1:2])
