"""Converters: released ``.npy`` files into stores."""

from .release import convert

__all__ = ["convert"]
