"""Package attributes imported on first use (PEP 562), keeping package imports light."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, targets: Mapping[str, str],
                    submodules: tuple[str, ...] = ()) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``targets[name]`` (``"module:attribute"``), and
    the ``submodules`` of ``package`` as attributes (``fsbi_data.inference``), as NumPy and
    SciPy do."""

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return import_module(f"{package}.{name}")
        target = targets.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = target.split(":")
        return getattr(import_module(module), attr)

    return __getattr__
