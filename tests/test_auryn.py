"""The Auryn backend: command lines, build cache, result marker, errors; real runs with Auryn.

Tests marked ``auryn`` need an Auryn installation (``AURYN_DIR``) and a compiler; they are
skipped with the reason when it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fsbi_data.metrics as fsbi_metrics
from fsbi_data.errors import (
    BackendUnavailableError,
    ProtocolError,
    RawFormatError,
    SimulationError,
)
from fsbi_data.metrics import parse_marker
from fsbi_data.mlp_constants import RULE_CST_PART
from fsbi_data.schema import family
from fsbi_data.simulation.backends import auryn as auryn_backend
from fsbi_data.simulation.backends.auryn import (
    AurynBackend,
    build_key,
    build_programs,
    command_line,
    find_auryn,
    mlp_rule_vector,
    program_name,
    rule_token,
)
from fsbi_data.simulation.protocols import protocol

SAMPLE = Path(__file__).parent / "data" / "auryn-sample"  # genuine runs of the paper's programs


def sample_runs() -> dict:
    return json.loads((SAMPLE / "runs.json").read_text())


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def decode(token: str) -> list[float]:
    """Parse a rule token as the programs do (spec §5.6)."""
    assert token[0] == "a" and token[-1] == "a"
    return [float(v) for v in token[1:-1].split("a")]


def poly_theta_of(run: dict) -> np.ndarray:
    args = run["args"]
    theta = []
    for name in ("--ruleEE", "--ruleEI", "--ruleIE", "--ruleII"):
        theta += decode(option(args, name))
    return np.array(theta + [float(option(args, "--rate_poisson"))])


# --- command lines ----------------------------------------------------------------------------
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30))
def test_rule_token_round_trips_full_precision(values):
    assert decode(rule_token(values)) == values


def test_6ppol_command_line_carries_theta_in_spec_order():
    runs = sample_runs()
    theta = poly_theta_of(runs["s1"])
    args = command_line("/bin/prog", theta, protocol("6pPol"), workdir="/tmp/wd",
                        run_id="r1", network_seed=17)
    assert args[0] == "/bin/prog" and all(isinstance(a, str) for a in args)
    for name in ("--ruleEE", "--ruleEI", "--ruleIE", "--ruleII"):
        # the genuine program arguments of the paper's run, token for token (values exact)
        assert decode(option(args, name)) == decode(option(runs["s1"]["args"], name))
    paper = runs["s1"]["args"]
    for name in ("--NE", "--NI", "--N_input", "--n_recorded", "--n_recorded_i"):
        assert int(option(args, name)) == int(option(paper, name))
    for name in ("--tau_ampa", "--tau_gaba", "--tau_nmda", "--ampa_nmda_ratio", "--wmax",
                 "--eta", "--wee", "--wei", "--wie", "--wii", "--sparseness",
                 "--sparseness_poisson", "--weight_poisson", "--max_rate_checker",
                 "--tau_checker", "--lns", "--ls", "--rate_poisson"):
        assert float(option(args, name)) == float(option(paper, name)), name
    assert option(args, "--seed") == "17" and option(args, "--workdir") == "/tmp/wd"
    assert option(args, "--record_i") == "true"


def test_mlp_command_line_matches_the_paper_rule_vector():
    run = sample_runs()["m0"]
    paper = decode(option(run["args"], "--rule"))
    fam = family("MLP")
    # theta of that run: both learning rates 0, output layers from the aggregated vector
    theta = np.zeros(fam.n_theta)
    theta[fam.input_rate_param.index] = float(option(run["args"], "--poisson_rate"))
    outputs = paper[510:530]
    k = 0
    for c in ("ee", "ie"):
        for event in ("pre", "post"):
            for u in range(5):
                theta[fam.param(f"w{event}_{c}_{u}").index] = outputs[k]
                k += 1
    proto = protocol("MLP")
    args = command_line("prog", theta, proto, workdir="wd", run_id="m", network_seed=1)
    assert decode(option(args, "--rule")) == paper
    assert mlp_rule_vector(theta, proto).size == 530
    assert float(option(args, "--max_rate_checker")) == 50.0
    # the effective trace time constants of the released data are passed explicitly (§3.2)
    assert [float(option(args, f"--tau_{n}")) for n in ("vtrace", "cexc", "cinh")] == [1.0] * 3


def test_mlp_rule_vector_layout():
    fam = family("MLP")
    theta = np.arange(fam.n_theta, dtype=float) / 100
    vector = mlp_rule_vector(theta, protocol("MLP"))
    cst = np.asarray(RULE_CST_PART)
    assert vector[0] == theta[fam.param("eta_ee").index]
    assert vector[1] == theta[fam.param("eta_ie").index]
    np.testing.assert_array_equal(vector[2:6], cst[:4])
    np.testing.assert_array_equal(vector[6:10], cst[:4])
    np.testing.assert_array_equal(vector[10:510], cst[4:])
    assert vector[520] == theta[fam.param("wpre_ie_0").index]
    assert vector[529] == theta[fam.param("wpost_ie_4").index]


def test_command_line_rejects_bad_theta_and_seed():
    with pytest.raises(ProtocolError, match="25 numbers"):
        command_line("p", np.zeros(3), protocol("6pPol"), workdir="w", run_id="r",
                     network_seed=1)
    with pytest.raises(ProtocolError, match="network_seed"):
        command_line("p", np.r_[np.full(24, 0.05), 5.0], protocol("6pPol"), workdir="w",
                     run_id="r", network_seed=0)


def test_program_names_come_from_the_schema():
    assert program_name("6pPol") == "sim_bg_IF_EEEIIEII_6pPol"
    assert program_name("mlp") == "sim_bg_CVAIF_EEIE_T4wvceciMLP"
    for fam in ("6pPol", "MLP"):
        assert (auryn_backend.CPP_DIR / f"{program_name(fam)}.cpp").is_file()


def test_protocol_fields_the_programs_fix_are_refused():
    backend = AurynBackend(auryn_dir="/nonexistent")
    with pytest.raises(ProtocolError, match="tau_mem"):
        backend.run(np.r_[np.full(24, 0.05), 5.0], protocol("6pPol").replace(tau_mem=0.01),
                    network_seed=1)


# --- the result marker ------------------------------------------------------------------------
def test_marker_of_the_genuine_runs():
    expected = {"s1": None, "s2": None, "s3": 0.762, "m0": None}
    for name, run in sample_runs().items():
        assert parse_marker(run["stdout"]) == expected[name]


def test_missing_marker_is_an_error():
    with pytest.raises(RawFormatError, match="no result marker"):
        parse_marker("Segmentation fault")


# --- locating Auryn and the build cache -------------------------------------------------------
def fake_auryn(root: Path, version: str = "v0.8.4", library: bytes = b"lib") -> Path:
    (root / "src" / "auryn").mkdir(parents=True)
    (root / "src" / "auryn.h").write_text("#error this is not Auryn\n")
    (root / "src" / "auryn" / "AurynVersion.cpp").write_text(
        f'std::string AurynVersion::git_describe = "{version}";\n')
    (root / "build" / "release" / "src").mkdir(parents=True)
    (root / "build" / "release" / "src" / "libauryn.a").write_bytes(library)
    return root


def test_unset_auryn_dir_says_what_to_do(monkeypatch):
    monkeypatch.delenv("AURYN_DIR", raising=False)
    with pytest.raises(BackendUnavailableError, match="AURYN_DIR is not set.*git clone"):
        find_auryn()
    backend = AurynBackend()
    assert not backend.available()
    assert "AURYN_DIR" in backend.why_unavailable()


def test_incomplete_auryn_names_every_place_looked_at(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "auryn.h").write_text("")
    with pytest.raises(BackendUnavailableError) as error:
        find_auryn(tmp_path)
    message = str(error.value)
    assert "libauryn.a" in message and str(tmp_path / "build" / "release" / "src") in message
    assert "is Auryn built?" in message


def test_find_auryn_reads_the_version(tmp_path):
    install = find_auryn(fake_auryn(tmp_path, version="v0.8.9"))
    assert install.version == "v0.8.9"
    assert install.library == tmp_path / "build" / "release" / "src" / "libauryn.a"


def test_build_key_changes_with_sources_version_library_and_compiler(tmp_path, monkeypatch):
    sources = tmp_path / "cpp"
    shutil.copytree(auryn_backend.CPP_DIR, sources)
    monkeypatch.setattr(auryn_backend, "CPP_DIR", sources)
    install = find_auryn(fake_auryn(tmp_path / "a"))
    key = build_key(install, "/usr/bin/c++")
    assert key == build_key(install, "/usr/bin/c++")
    assert key != build_key(install, "/usr/bin/g++")
    other_version = find_auryn(fake_auryn(tmp_path / "b", version="v0.8.5"))
    assert build_key(other_version, "/usr/bin/c++") != key
    other_library = find_auryn(fake_auryn(tmp_path / "c", library=b"rebuilt"))
    assert build_key(other_library, "/usr/bin/c++") != key
    with open(sources / "fsbi_common.h", "a") as handle:
        handle.write("// changed\n")
    assert build_key(install, "/usr/bin/c++") != key


@pytest.mark.skipif(shutil.which("g++") is None or shutil.which("make") is None,
                    reason="needs g++ and make")
def test_failed_build_quotes_the_compiler_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", shutil.which("g++"))
    install = find_auryn(fake_auryn(tmp_path / "auryn"))
    with pytest.raises(BackendUnavailableError, match="this is not Auryn"):
        build_programs(install, cache_dir=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


# --- with a real Auryn ------------------------------------------------------------------------
needs_reader = pytest.mark.skipif(
    not hasattr(fsbi_metrics, "read_auryn"),
    reason="fsbi_data.metrics.read_auryn (the monitor-file reader) is not available")
needs_auryn = pytest.mark.skipif(
    not os.environ.get("AURYN_DIR"),
    reason="AURYN_DIR is not set: install Auryn (see docs/auryn.md) to run the Auryn tests")


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> AurynBackend:
    backend = AurynBackend(cache_dir=str(tmp_path_factory.mktemp("programs")))
    if not backend.available():
        pytest.skip(backend.why_unavailable())
    return backend


def plausible_theta(fam_name: str) -> np.ndarray:
    """A gentle rule: 6pPol with the s1 rule of the paper's sample; MLP without plasticity."""
    if fam_name == "6pPol":
        return poly_theta_of(sample_runs()["s1"])
    fam = family("MLP")
    theta = np.zeros(fam.n_theta)
    theta[fam.input_rate_param.index] = 10.0
    return theta


def violent_theta(fam_name: str) -> np.ndarray:
    """Excitation potentiates and inhibition depresses at every spike: activity explodes."""
    fam = family(fam_name)
    theta = plausible_theta(fam_name)
    if fam_name == "6pPol":
        for stem in ("alpha", "beta", "gamma", "kappa"):
            theta[fam.param(f"{stem}_ee").index] = 2.0
            theta[fam.param(f"{stem}_ie").index] = -2.0
    else:
        theta[fam.param("eta_ee").index] = theta[fam.param("eta_ie").index] = 1.0
        for u in range(5):
            for event in ("pre", "post"):
                theta[fam.param(f"w{event}_ee_{u}").index] = 1.0
                theta[fam.param(f"w{event}_ie_{u}").index] = -1.0
    theta[fam.input_rate_param.index] = 15.0
    return theta


@pytest.mark.auryn
@needs_auryn
def test_both_programs_build_and_are_cached(backend):
    directory = backend.programs()
    for fam in ("6pPol", "MLP"):
        assert os.access(directory / program_name(fam), os.X_OK)
    stamp = (directory / program_name("6pPol")).stat().st_mtime_ns
    assert build_programs(backend.install(), cache_dir=backend.cache_dir) == directory
    assert (directory / program_name("6pPol")).stat().st_mtime_ns == stamp


@pytest.mark.auryn
@needs_auryn
@pytest.mark.parametrize("fam_name", ["6pPol", "MLP"])
@needs_reader
def test_plausible_rule_completes_and_outputs_parse(backend, fam_name, tmp_path):
    proto = protocol(fam_name, "quick")
    result = backend.run(plausible_theta(fam_name), proto, network_seed=3, workdir=tmp_path)
    assert result.blow_up_time is None
    assert result.network_seed == 3
    assert result.spikes_e.n_neurons == proto.n_recorded
    assert result.spikes_i.n_neurons == proto.n_recorded_i
    times = result.spikes_e.times
    assert times.size > 0 and proto.lns <= times.min() and times.max() < proto.lns + proto.ls
    assert result.weights.connections == proto.plastic_connections
    expected_samples = round(proto.ls / proto.weight_sample_interval)
    for c in proto.plastic_connections:
        assert result.weights.weights[c].shape == (proto.n_monitored_synapses, expected_samples)
    np.testing.assert_allclose(result.weights.t[0], proto.lns)
    assert list(tmp_path.glob("*.ras")) == []  # outputs cleaned up


@pytest.mark.auryn
@needs_auryn
@pytest.mark.parametrize("fam_name", ["6pPol", "MLP"])
def test_violent_rule_blows_up_with_its_time(backend, fam_name):
    proto = protocol(fam_name, "quick")
    result = backend.run(violent_theta(fam_name), proto, network_seed=3)
    assert result.blew_up
    assert 0 < result.blow_up_time < proto.lns + proto.ls
    assert result.spikes_e is None and result.weights is None


@pytest.mark.auryn
@needs_auryn
@needs_reader
def test_same_seed_same_network_different_seed_different(backend):
    proto = protocol("6pPol", "quick")
    theta = plausible_theta("6pPol")
    first = backend.run(theta, proto, network_seed=11)
    again = backend.run(theta, proto, network_seed=11)
    other = backend.run(theta, proto, network_seed=12)
    assert first.spikes_e.equals(again.spikes_e)
    assert not first.spikes_e.equals(other.spikes_e)


@pytest.mark.auryn
@needs_auryn
@pytest.mark.parametrize("token, message", [
    ("a0.02a0.05a0.3a", "expected 6 numbers, found 3"),
    ("0.02a0.05a0.3a-0.1a1.2a-0.8a", "must start and end"),
    ("a0.02a0.05a0.3a-0.1a1.2a-0.8", "must start and end"),
    ("a0.02a0.05aa-0.1a1.2a-0.8a", "empty field"),
    ("a0.02a0.05a0.3a-0.1a1.2ainfa", "not a finite number"),
    ("a-0.02a0.05a0.3a-0.1a1.2a-0.8a", "tau_pre must be a positive"),
])
def test_program_rejects_a_bad_rule(backend, tmp_path, token, message):
    args = command_line(backend.programs() / program_name("6pPol"),
                        plausible_theta("6pPol"), protocol("6pPol", "quick"),
                        workdir=tmp_path, run_id="bad", network_seed=1)
    args[args.index("--ruleEI") + 1] = token
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""  # no result marker for a rejected rule


@pytest.mark.auryn
@needs_auryn
def test_program_requires_a_rule_and_a_seed(backend, tmp_path):
    program = str(backend.programs() / program_name("MLP"))
    done = subprocess.run([program, "--workdir", str(tmp_path), "--rate_poisson", "5",
                           "--seed", "1"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2 and "rule" in done.stderr
    args = command_line(program, plausible_theta("MLP"), protocol("MLP", "quick"),
                        workdir=tmp_path, run_id="x", network_seed=1)
    args[args.index("--seed") + 1] = "0"
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--seed must be >= 1" in done.stderr


@pytest.mark.auryn
@needs_auryn
@needs_reader
def test_durations_count_whole_steps(backend):
    # 0.1 s + 0.7 s: the original programs lost a step or reported a blow-up at the end
    proto = protocol("6pPol", "quick").replace(lns=0.1, ls=0.7)
    result = backend.run(plausible_theta("6pPol"), proto, network_seed=2)
    assert result.blow_up_time is None
    np.testing.assert_allclose(result.weights.t, 0.1 + 0.1 * np.arange(7), atol=1e-9)
    assert result.spikes_e.times.max() <= 0.8 - 1e-4 + 1e-9


@pytest.mark.auryn
@needs_auryn
def test_timeout_is_a_simulation_error(backend):
    with pytest.raises(SimulationError, match="timeout"):
        backend.run(plausible_theta("6pPol"), protocol("6pPol"), network_seed=1, timeout=0.5)
