"""The package's version, read from the installed distribution (``pyproject.toml`` is its home).

Modules that record the version (in provenance, in saved posteriors) import it from here, never
from the package root.

Examples
--------
>>> from fsbi_data.version import __version__
>>> __version__.count(".") >= 1
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fsbi-data")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
