"""The API reference is generated from the docstrings and kept up to date."""

import importlib.util
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"


def test_api_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_api", DOCS / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert (DOCS / "api.md").read_text() == make_api.render(), \
        "docs/api.md is stale: run python docs/make_api.py"
    assert (DOCS / "families.md").read_text() == make_api.render_families(), \
        "docs/families.md is stale: run python docs/make_api.py"


def test_every_documented_object_has_a_docstring():
    text = (DOCS / "api.md").read_text()
    sections = text.split("### ")[1:]
    empty = [s.splitlines()[0] for s in sections if len(s.strip().splitlines()) < 2]
    assert not empty
