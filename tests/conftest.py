"""Fixtures shared by the test modules."""

import pytest

from fsbi_data.testing import write_synthetic_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A synthetic release in the repository layout (1 % scale) and its catalog."""
    root = tmp_path_factory.mktemp("release")
    return root, write_synthetic_release(root, scale=0.01, rng=1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty per-test data home (``FSBI_DATA_HOME``), with no mirror configured."""
    monkeypatch.setenv("FSBI_DATA_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FSBI_DATA_URL", raising=False)
    return tmp_path / "cache"
