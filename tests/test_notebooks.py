"""Every tutorial notebook is committed as it ran, and runs offline, top to bottom, on the
embedded default data, its own checks included (``python notebooks/execute.py`` saves them)."""

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
RERUN = "run python notebooks/execute.py to save the notebook as it runs"
MAX_BYTES = 500_000  # saved outputs stay small enough to read and review


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def shows_something(source: str) -> bool:
    """Whether a cell prints, or ends with an expression whose value Jupyter displays."""
    python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    tree = ast.parse(python)
    prints = any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
                 for node in ast.walk(tree))
    return prints or bool(tree.body and isinstance(tree.body[-1], ast.Expr)
                          and not source.rstrip().endswith(";"))


def test_the_tutorial_names_every_notebook():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert NOTEBOOKS, "the tutorial notebooks are missing"
    assert [p.name for p in NOTEBOOKS if p.name not in readme] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_step_says_why_first(path):
    cells = nbformat.read(path, as_version=4).cells
    unexplained = [i for i, cell in enumerate(cells)
                   if cell.cell_type == "code" and (i == 0 or cells[i - 1].cell_type != "markdown")]
    assert not unexplained, f"cells {unexplained} of {path.name} follow no markdown cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_as_it_ran(path):
    notebook = nbformat.read(path, as_version=4)
    cells = code_cells(notebook)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), \
        f"execution counts {counts}: not one clean run from the top; {RERUN}"
    errors = [output.ename for cell in cells for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, f"saved with errors {errors}; {RERUN}"
    silent = [i for i, cell in enumerate(cells, 1)
              if shows_something(cell.source) and not cell.outputs]
    assert not silent, f"code cells {silent} show nothing though they print or display; {RERUN}"
    timed = [i for i, cell in enumerate(cells, 1) if "execution" in cell.metadata]
    assert not timed, f"code cells {timed} keep their execution times; {RERUN}"
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("FSBI_DATA_HOME", str(tmp_path / "cache"))
    notebook = nbformat.read(path, as_version=4)
    for cell in code_cells(notebook):
        cell.outputs, cell.execution_count = [], None
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in code_cells(notebook) for o in cell.outputs
              if o.output_type == "error"]
    assert not errors
