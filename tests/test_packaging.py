"""The distribution ships every package of the tree (a wheel holds only the listed ones)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_tree_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *relative)))
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"


def test_every_shipped_data_file_is_listed_in_pyproject():
    """The embedded sample travels in the wheel only through the package-data patterns."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["fsbi_data.embedded"]
    folder = ROOT / "fsbi_data" / "embedded"
    shipped = [p.relative_to(folder) for p in (folder / "data").rglob("*") if p.is_file()]
    assert shipped, "the embedded sample's files are missing"
    unlisted = [str(p) for p in shipped if not any(p.match(pattern) for pattern in patterns)]
    assert unlisted == [], f"data files no pattern of pyproject.toml ships: {unlisted}"
