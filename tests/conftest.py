"""Fixtures shared by the test modules."""

import pytest

from fsbi_data.synthetic import write_synthetic_release


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


def die_at_profiler_event(kill_at: int):
    """SIGKILL this process at its ``kill_at``-th profiler event (every thread counts, zarr's
    I/O thread too): a writer killed at a random instant. ``-1`` never kills. Returns a
    function that stops counting and gives the number of events counted."""
    import os
    import signal
    import sys
    import threading

    count = 0

    def count_and_maybe_die(frame, event, arg):
        nonlocal count
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    threading.setprofile(count_and_maybe_die)
    sys.setprofile(count_and_maybe_die)

    def stop() -> int:
        sys.setprofile(None)
        return count

    return stop
