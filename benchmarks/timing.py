"""The timing loop shared by the benchmarks: the fastest of several calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeats: int = 5, *, warm_up: bool = False
            ) -> tuple[float, Any]:
    """The fastest of ``repeats`` calls of ``fn`` in seconds, and the value of the last call.

    ``warm_up`` makes one untimed call first (to warm caches and page cache).
    """
    if warm_up:
        fn()
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value
