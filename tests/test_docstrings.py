"""Every docstring example of the package runs as written (doctest), so that none can drift."""

import doctest
import importlib
import pkgutil

import pytest

import fsbi_data
import fsbi_data.converters
import fsbi_data.simulation

PACKAGES = (fsbi_data, fsbi_data.converters, fsbi_data.simulation)
MODULES = sorted({name for package in PACKAGES
                  for _, name, _ in pkgutil.walk_packages(package.__path__,
                                                          package.__name__ + ".")
                  if ".cli." not in name and not name.endswith("__main__")})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_the_examples_cover_the_package():
    assert {"fsbi_data.store", "fsbi_data.query", "fsbi_data.files", "fsbi_data.store.parts",
            "fsbi_data.simulation.protocols", "fsbi_data.converters.release"} <= set(MODULES)
