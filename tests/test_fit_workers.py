"""Fits that share the machine: threads and worker processes chosen from the free cores, the
same posterior whatever the number of workers, progress per member and epoch."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fsbi_data
from fsbi_data import inference
from fsbi_data.simulation.prior import sample_prior
from fsbi_data.store.layout import dataset_from_arrays

pytest.importorskip("sbi")

TINY = {"n_ensemble": 2, "seed": 0, "max_epochs": 3, "batch_size": 100,
        "hidden_features": 8, "num_transforms": 1}
RULES = """
import numpy as np
import fsbi_data
from fsbi_data import inference
from fsbi_data.simulation.prior import sample_prior
from fsbi_data.store.layout import dataset_from_arrays

def rules(n=400):
    rng = np.random.default_rng(0)
    theta = sample_prior("6pPol", n, rng, dtype=np.float32)
    metrics = {name: rng.random(n) for name in fsbi_data.family("6pPol").metric_names}
    return dataset_from_arrays([f"{i:032x}" for i in range(n)], theta, metrics, "6pPol")
"""
TINY_ARGS = ("n_ensemble=2, seed=0, max_epochs=2, batch_size=100, hidden_features=8, "
             "num_transforms=1")


@pytest.fixture(scope="module")
def rules():
    """400 rules whose rate follows alpha_ee."""
    rng = np.random.default_rng(0)
    n = 400
    theta = sample_prior("6pPol", n, rng, dtype=np.float32)
    metrics = {name: rng.random(n) for name in fsbi_data.family("6pPol").metric_names}
    metrics["rate"] = 10 + 4 * theta[:, 2] + rng.normal(0, 0.2, n)
    return dataset_from_arrays([f"{i:032x}" for i in range(n)], theta, metrics, "6pPol")


def member_log_probs(post) -> list[list[float]]:
    import torch

    fam = fsbi_data.family("6pPol")
    theta = torch.as_tensor(sample_prior(fam, 5, np.random.default_rng(1))[:, :24],
                            dtype=torch.float32)
    x = torch.tensor([[6.0]])
    return [member.log_prob(theta, x=x, norm_posterior=False).tolist()
            for member in post.sbi_posterior.posteriors]


def test_free_cores_are_the_affinity_less_the_load(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (2.6, 0.0, 0.0))
    assert inference.free_cores() == 5
    monkeypatch.setattr("os.getloadavg", lambda: (40.0, 0.0, 0.0))
    assert inference.free_cores() == 1


@pytest.mark.parametrize("n_ensemble, device, workers, threads, omp, expected", [
    (10, "cpu", None, None, None, (4, 2)),   # one worker per 2 free cores
    (3, "cpu", None, None, None, (3, 2)),    # at most one per member
    (1, "cpu", None, None, None, (1, 8)),    # a lone member takes every free core
    (10, "cpu", 2, None, None, (2, 4)),      # the free cores shared among the workers asked for
    (10, "cpu", None, None, "1", (4, 1)),    # OMP_NUM_THREADS is the threads of each worker
    (10, "cpu", 3, 1, "4", (3, 1)),          # threads= over OMP_NUM_THREADS
    (10, "cuda", None, None, None, (1, 8)),  # on a GPU, members one after another
    (10, "cuda", 4, None, None, (1, 8)),
])
def test_workers_and_threads_are_chosen_from_the_free_cores(
        monkeypatch, n_ensemble, device, workers, threads, omp, expected):
    monkeypatch.setattr(inference, "free_cores", lambda: 8)
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert inference._parallelism(n_ensemble, device, workers, threads) == expected


def test_a_loaded_two_core_machine_gets_one_thread(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (1.0, 1.0, 1.0))  # one other busy process
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert inference._parallelism(10, "cpu", None, None) == (1, 1)


@pytest.mark.parametrize("option", ["workers", "threads"])
def test_no_workers_or_threads_is_refused(option):
    with pytest.raises(inference.InferenceError, match=f"{option}=0: expected a positive"):
        inference._parallelism(2, "cpu", **{"workers": None, "threads": None, option: 0})


def test_fit_trains_on_its_threads_and_restores_the_callers(rules, monkeypatch):
    import torch

    set_to = []
    set_num_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads",
                        lambda n: (set_to.append(n), set_num_threads(n)))
    before = torch.get_num_threads()
    inference.fit(rules, ["rate"], **TINY, workers=1, threads=before + 1)
    assert set_to == [before + 1, before] and torch.get_num_threads() == before


def test_members_are_the_same_whatever_the_number_of_workers(rules, capsys):
    one = inference.fit(rules, ["rate"], **TINY, workers=1, threads=1)
    two = inference.fit(rules, ["rate"], **TINY, workers=2, threads=1, progress=True)
    assert member_log_probs(one) == member_log_probs(two)  # member k in place k
    assert one.record.epochs == two.record.epochs
    err = capsys.readouterr().err  # the workers' epochs, reported to this process's bar
    assert "posterior ensemble" in err and "2/2" in err
    assert "member 0: epoch 1, loss" in err and "member 1: epoch 3, loss" in err


def test_progress_shows_each_member_and_epoch(rules, capsys):
    inference.fit(rules, ["rate"], **TINY, workers=1, progress=True)
    err = capsys.readouterr().err
    for member in (0, 1):
        for epoch in (1, 2, 3):
            assert f"member {member}: epoch {epoch}, loss" in err
    inference.fit(rules, ["rate"], **TINY, workers=1)
    assert "posterior ensemble" not in capsys.readouterr().err


def test_the_cli_takes_workers_and_threads(tmp_path):
    from click.testing import CliRunner

    from fsbi_data.cli.main import cli
    from fsbi_data.synthetic import write_release_file

    store = fsbi_data.convert(write_release_file(tmp_path / "all.npy", "6pPol", 400, rng=0),
                              tmp_path / "rules.store")
    fit = ["fit", str(store), "--metrics", "rate", "--ensemble", "2", "--max-epochs", "2",
           "--seed", "0", "--out", str(tmp_path / "rate.fsbi-post")]
    done = CliRunner().invoke(cli, [*fit, "--workers", "1", "--threads", "1"])
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1] == f"wrote {tmp_path / 'rate.fsbi-post'}"
    assert "member 1: epoch 2, loss" in done.stderr
    assert inference.load(tmp_path / "rate.fsbi-post").record.epochs == [3, 3]
    refused = CliRunner().invoke(cli, [*fit, "--workers", "0"])
    assert refused.exit_code == 2 and "--workers" in refused.stderr


def run_script(tmp_path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "fit_script.py"
    script.write_text(RULES + textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600, check=False)


def test_a_script_without_main_guard_fits_in_its_own_process(tmp_path):
    done = run_script(tmp_path, f"""
        inference.free_cores = lambda: 8  # four workers would be chosen, were it guarded
        post = inference.fit(rules(), ["rate"], {TINY_ARGS})
        print("epochs", post.record.epochs)
        """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "epochs [3, 3]\n"


def test_a_script_without_main_guard_asking_for_workers_is_refused_in_one_line(tmp_path):
    done = run_script(tmp_path, f"""
        inference.fit(rules(), ["rate"], workers=2, {TINY_ARGS})
        """)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1
    assert last.startswith("fsbi_data.cluster.MainGuardError: line 14 of ")
    assert last.endswith('starts worker processes of a posterior fit from the script\'s top '
                         'level, where each worker would run the script again: put the '
                         'script\'s code under `if __name__ == "__main__":`')


def test_a_guarded_script_fits_in_worker_processes(tmp_path):
    done = run_script(tmp_path, f"""
        if __name__ == "__main__":
            post = inference.fit(rules(), ["rate"], workers=2, threads=1, {TINY_ARGS})
            print("epochs", post.record.epochs)
        """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "epochs [3, 3]\n"
