"""Run the tutorial notebooks top to bottom and save them with their outputs.

    python notebooks/execute.py                        # every notebook of this folder
    python notebooks/execute.py notebooks/03_fit_and_sample.ipynb

The notebooks are committed with their outputs, so that they read on GitHub as they ran. Each
one runs in a fresh kernel, as ``tests/test_notebooks.py`` runs it (nbclient), in an empty
temporary folder with ``FSBI_DATA_HOME`` pointing to an empty temporary cache: what it shows
comes from the embedded sample, never from files of an earlier run or a cached release. A cell
that raises (the notebooks check their own results with ``assert``) stops the run and leaves
the notebook file as it was.

What would change from run to run without changing what the notebook shows is not saved: the
execution times of each cell, widget state and the Python version of the kernel.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parent
TIMEOUT = 1800  # seconds per cell: a notebook simulates rules with Brian2 on two cores


def without_run_details(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without the metadata that differs between runs of the same cells."""
    notebook.metadata.pop("widgets", None)
    notebook.metadata.get("language_info", {}).pop("version", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    return notebook


def execute(path: Path) -> None:
    """Run the notebook at ``path`` from a clean state and write it back with its outputs."""
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="fsbi-notebook-") as folder:
        os.environ["FSBI_DATA_HOME"] = str(Path(folder) / "cache")
        client = NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                                record_timing=False,
                                resources={"metadata": {"path": folder}})
        client.execute()
    nbformat.write(without_run_details(notebook), path)


def main(paths: list[str]) -> None:
    for path in [Path(p) for p in paths] or sorted(FOLDER.glob("*.ipynb")):
        print(f"running {path.name}", flush=True)
        execute(path)
        print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} kB)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
