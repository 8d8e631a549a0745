"""Package attributes imported on first use (PEP 562), keeping package imports light."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, targets: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``targets[name]`` (``"module:attribute"``)."""

    def __getattr__(name: str) -> Any:
        target = targets.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = target.split(":")
        return getattr(import_module(module), attr)

    return __getattr__
