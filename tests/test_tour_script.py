"""The README's tour of the Python API, saved as a plain script (no ``__main__`` guard), runs.

The script is the README's code, taken from its "A tour of the Python API" section, with a few
declared substitutions that keep it offline and short (each must match the README exactly
once, so the test notices when the README changes); it runs in a subprocess on the demo's
store (the embedded sample) and simulates two rules with Brian2 under the quick protocol.
Worker processes, which would run a script again, are refused from a script's unguarded top
level.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("brian2")
pytest.importorskip("sbi")

from fsbi_data.demo import default_store  # noqa: E402
from fsbi_data.store import open_path  # noqa: E402

ROOT = Path(__file__).parent.parent
MARKER = "tour: the script's top level runs"

#: README text -> what the test runs instead (offline, small, fast).
SUBSTITUTIONS = {
    # the released family needs the network; the tour's next line opens the demo store
    'ds = fsbi_data.open("6pPol")': "pass",
    # genuine Auryn monitor files shipped with the tests
    'metrics.read_auryn("workdir", "run_id")':
        f'metrics.read_auryn({str(ROOT / "tests/data/auryn-sample")!r}, "sample_poly_s1")',
    # one small member instead of the default ensemble
    'metrics=["rate"])': 'metrics=["rate"], n_ensemble=1, max_epochs=5)',
    # two rules to simulate
    "post.sample(n=100,": "post.sample(n=2, seed=0,",
}


def tour_script() -> str:
    """The Python blocks of the README's tour, with :data:`SUBSTITUTIONS` applied."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A tour of the Python API", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
    for old, new in SUBSTITUTIONS.items():
        assert code.count(old) == 1, f"the README's tour no longer contains {old!r} once"
        code = code.replace(old, new)
    return f"print({MARKER!r}, flush=True)\n{code}"


def test_the_readme_tour_runs_as_a_plain_script(tmp_path):
    default_store(tmp_path / "demo-output", use_release=False)  # the tour's store
    script = tmp_path / "tour.py"
    script.write_text(tour_script())
    assert "__main__" not in script.read_text()
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    # the workers did not import the script again (they used to, and failed to start)
    assert done.stdout.count(MARKER) == 1
    assert "Nanny failed" not in done.stderr and "Brian 2 encountered" not in done.stderr
    assert "2 rule(s) simulated" in done.stdout
    appended = open_path(tmp_path / "my.store")
    assert appended.sizes["rule"] == 2
    assert (tmp_path / "figs").is_dir() and any((tmp_path / "figs").iterdir())


GUARD_CHECK = "from fsbi_data.cluster import check_main_guard\n"


@pytest.mark.parametrize("body, refused_at", [
    ("check_main_guard()\nprint('ok')\n", 2),
    ("def main():\n    check_main_guard()\n\nmain()\nprint('ok')\n", 5),
    ("if __name__ == '__main__':\n    check_main_guard()\n    print('ok')\n", None),
    ("def main():\n    check_main_guard()\n\nif \"__main__\" == __name__:\n    main()\n"
     "    print('ok')\n", None),
])
def test_worker_processes_from_an_unguarded_script_are_refused_in_one_line(tmp_path, body,
                                                                            refused_at):
    script = tmp_path / "script.py"
    script.write_text(GUARD_CHECK + body)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, check=False)
    if refused_at is None:
        assert done.returncode == 0, done.stderr
        assert done.stdout == "ok\n"
    else:
        assert done.returncode == 1 and done.stdout == ""
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(f"fsbi_data.cluster.MainGuardError: line {refused_at} of "
                               f"{script} starts Dask worker processes")
        assert last.endswith('under `if __name__ == "__main__":`')
