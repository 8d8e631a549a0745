"""The Auryn backend: this project's C++ programs (``simulation/cpp/``) run as subprocesses.

The programs are compiled once against the user's Auryn (found through ``AURYN_DIR`` or an
explicit path) and cached under ``auryn-programs/<key>/`` in the fsbi-data cache
(:func:`fsbi_data.catalog.cache_dir`), where ``key`` hashes the program sources, the Auryn
version and library, and the compiler: changing any of them triggers a fresh build. Each run
gets its own working directory, a timeout, and is cleaned up afterwards; the program's output
(its result marker) and monitor files are read with :func:`fsbi_data.metrics.read_auryn`.

Installing Auryn (once): ``git clone https://github.com/fzenke/auryn``, then in
``auryn/build/release`` run ``./bootstrap.sh && make`` (Debian/Ubuntu need
``libboost-all-dev libopenmpi-dev openmpi-bin cmake``), and ``export AURYN_DIR=/path/to/auryn``.
See ``docs/auryn.md``; the programs' command lines and output files are described in
``docs/network-model.md`` §7 and §8.

Examples
--------
>>> from fsbi_data.simulation.backends.auryn import AurynBackend
>>> from fsbi_data.simulation.protocols import protocol
>>> backend = AurynBackend()                                  # uses $AURYN_DIR
>>> backend.available()                                       # doctest: +SKIP
True
>>> result = backend.run(theta, protocol("6pPol", "quick"), network_seed=7)  # doctest: +SKIP
>>> result.blow_up_time is None                               # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fsbi_data.errors import BackendUnavailableError, ProtocolError, SimulationError
from fsbi_data.files import published, sha256_of
from fsbi_data.metrics.auryn import read_auryn
from fsbi_data.metrics.raw import SimulationResult
from fsbi_data.schema import family
from fsbi_data.seeds import check_network_seed, rule_seed

from ..protocols import Protocol
from .base import Backend

log = logging.getLogger(__name__)

#: Directory of the C++ sources shipped with the package.
CPP_DIR = Path(__file__).resolve().parent.parent / "cpp"

#: Where a library ``libauryn.a`` may sit inside ``AURYN_DIR`` (Auryn's own release build,
#: a CMake build directory, an install prefix).
LIB_CANDIDATES = ("build/release/src", "build/src", "build", "lib", "src", ".")
#: Where ``auryn.h`` may sit inside ``AURYN_DIR`` (source tree or install prefix).
INCLUDE_CANDIDATES = ("src", "include", "include/auryn", ".")

#: Protocol fields fixed in the C++ programs (Auryn's IF neuron and kernel constants): a
#: protocol that changes them cannot run on this backend.
FIXED_FIELDS = ("dt", "delay", "tau_mem", "e_rest", "v_reset", "e_exc", "e_inh", "v_thresh",
                "delta_thresh", "tau_thresh", "v_max")

_INSTALL = (
    "Install Auryn: git clone https://github.com/fzenke/auryn; cd auryn/build/release; "
    "./bootstrap.sh && make (needs Boost and MPI: apt-get install libboost-all-dev "
    "libopenmpi-dev openmpi-bin cmake); then export AURYN_DIR=/path/to/auryn, or use "
    "backend='brian2'."
)


def program_name(fam: str) -> str:
    """The executable of a family's protocol: ``sim_<task name>``."""
    return f"sim_{family(fam).task_name}"


# --- locating Auryn -------------------------------------------------------------------------
@dataclass(frozen=True)
class AurynInstall:
    """An Auryn installation: where its headers and library are, and its version."""

    root: Path
    include_dir: Path
    lib_dir: Path
    version: str

    @property
    def library(self) -> Path:
        return self.lib_dir / "libauryn.a"


def find_auryn(path: str | os.PathLike | None = None) -> AurynInstall:
    """Locate Auryn's headers and static library under ``path`` (default ``$AURYN_DIR``).

    Raises
    ------
    fsbi_data.errors.BackendUnavailableError
        Naming every place looked at and how to install Auryn.
    """
    if path is None:
        path = os.environ.get("AURYN_DIR")
        if not path:
            raise BackendUnavailableError(
                "Auryn was not found: the environment variable AURYN_DIR is not set (it "
                f"should name the Auryn directory). {_INSTALL}"
            )
    root = Path(path).expanduser()
    if not root.is_dir():
        raise BackendUnavailableError(f"Auryn was not found: AURYN_DIR={root} is not a "
                                      f"directory. {_INSTALL}")
    includes = [root / c for c in INCLUDE_CANDIDATES]
    libs = [root / c for c in LIB_CANDIDATES]
    include_dir = next((d for d in includes if (d / "auryn.h").is_file()), None)
    lib_dir = next((d for d in libs if (d / "libauryn.a").is_file()), None)
    missing = []
    if include_dir is None:
        missing.append("auryn.h in " + ", ".join(str(d) for d in includes))
    if lib_dir is None:
        missing.append("libauryn.a in " + ", ".join(str(d) for d in libs)
                       + " (is Auryn built?)")
    if missing:
        raise BackendUnavailableError(f"Auryn at {root} is incomplete: looked for "
                                      f"{'; and '.join(missing)}. {_INSTALL}")
    return AurynInstall(root, include_dir, lib_dir, _auryn_version(include_dir))


def _auryn_version(include_dir: Path) -> str:
    """Auryn's version string (``git_describe`` of AurynVersion.cpp), or "unknown"."""
    for candidate in (include_dir / "auryn" / "AurynVersion.cpp",
                      include_dir / "AurynVersion.cpp"):
        if candidate.is_file():
            found = re.search(r'git_describe\s*=\s*"([^"]*)"', candidate.read_text())
            if found:
                return found.group(1)
    return "unknown"


# --- building -------------------------------------------------------------------------------
def compiler() -> str | None:
    """The C++ compiler the build uses: ``$CXX``, else ``mpicxx`` (Auryn is built with MPI)."""
    name = os.environ.get("CXX") or "mpicxx"
    return shutil.which(name)


def build_key(auryn: AurynInstall, cxx: str | None = None) -> str:
    """Hash of everything a build depends on: sources, Auryn version and library, compiler."""
    digest = hashlib.sha256()
    for source in sorted(CPP_DIR.iterdir()):
        if source.is_file() and source.suffix in (".cpp", ".h", ""):
            digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    digest.update(auryn.version.encode() + b"\0")
    digest.update(sha256_of(auryn.library).encode() + b"\0")
    digest.update(str(cxx or compiler()).encode())
    return digest.hexdigest()[:16]


def build_programs(auryn: AurynInstall | str | os.PathLike | None = None, *,
                   cache_dir: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Compile both programs against Auryn (once) and return the directory holding them.

    The build runs in a temporary directory that is renamed into the cache when complete, so
    concurrent builds (several Dask workers) and interrupted builds never leave a broken
    program in the cache.

    Raises
    ------
    fsbi_data.errors.BackendUnavailableError
        When Auryn or a compiler is missing, or the build fails (the message quotes the
        compiler's errors).

    Examples
    --------
    >>> build_programs()                                 # doctest: +SKIP
    PosixPath('/home/me/.cache/fsbi-data/auryn-programs/3f2a9c0d1e2b4a5c')
    """
    if not isinstance(auryn, AurynInstall):
        auryn = find_auryn(auryn)
    cxx = compiler()
    if cxx is None:
        raise BackendUnavailableError(
            f"no C++ compiler for Auryn programs: looked for {os.environ.get('CXX') or 'mpicxx'}"
            f" on PATH (install openmpi-bin and libopenmpi-dev, or set CXX). {_INSTALL}"
        )
    make = shutil.which("make")
    if make is None:
        raise BackendUnavailableError("'make' is not on PATH; install it (apt-get install make)")
    if cache_dir is None:
        from fsbi_data import catalog

        cache_dir = catalog.cache_dir() / "auryn-programs"
    base = Path(cache_dir)
    target = base / build_key(auryn, cxx)
    if not force and all((target / program_name(f)).is_file() for f in ("6pPol", "MLP")):
        return target
    base.mkdir(parents=True, exist_ok=True)
    if force and target.exists():
        shutil.rmtree(target)
    try:
        with published(target, directory=True) as staging:
            command = [make, "-C", str(CPP_DIR), f"OUT={staging}", f"CXX={cxx}",
                       f"AURYN_INCLUDE={auryn.include_dir}", f"AURYN_LIB={auryn.lib_dir}"]
            log.info("building the Auryn programs into %s", target)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BackendUnavailableError(
                    f"building the Auryn programs against {auryn.root} failed (exit status "
                    f"{done.returncode}); compiler output (first lines):\n"
                    f"{done.stderr[:3000]}\nCheck that Auryn is built with the same compiler "
                    f"and Boost/MPI versions. {_INSTALL}"
                )
            (staging / "BUILD_INFO").write_text(
                f"auryn_root={auryn.root}\nauryn_version={auryn.version}\ncxx={cxx}\n")
    except OSError:  # another process finished the same build first
        if not all((target / program_name(f)).is_file() for f in ("6pPol", "MLP")):
            raise
    return target


# --- command lines and output ---------------------------------------------------------------
def rule_token(values: np.ndarray | list[float]) -> str:
    """Numbers as an ``a``-separated token (``docs/network-model.md`` §5.6), each in full
    precision (repr).

    Examples
    --------
    >>> rule_token([0.02, -0.1, 1e-05])
    'a0.02a-0.1a1e-05a'
    """
    return "a" + "".join(f"{float(v)!r}a" for v in values)


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


#: Protocol fields passed to both programs, under the same option name.
_COMMON_OPTIONS = ("NE", "NI", "tau_ampa", "tau_gaba", "tau_nmda", "ampa_nmda_ratio", "wmax",
                   "wee", "wei", "wie", "wii", "sparseness", "N_input", "sparseness_poisson",
                   "weight_poisson", "max_rate_checker", "tau_checker", "lns", "ls",
                   "n_recorded", "record_i", "n_recorded_i", "n_monitored_synapses",
                   "weight_sample_interval")
_MLP_OPTIONS = ("nh1", "nh2", "tau_vtrace", "tau_cexc", "tau_cinh", "tau_adapt", "delta_adapt")


def command_line(program: str | os.PathLike, theta: np.ndarray, protocol: Protocol, *,
                 workdir: str | os.PathLike, run_id: str, network_seed: int) -> list[str]:
    """The argument list that runs one rule (never a shell string).

    Examples
    --------
    >>> from fsbi_data.simulation.protocols import protocol
    >>> args = command_line("sim", np.r_[np.full(24, 0.05), 8.0], protocol("6pPol"),
    ...                     workdir="wd", run_id="r1", network_seed=3)
    >>> args[:6]
    ['sim', '--ID', 'r1', '--seed', '3', '--workdir']
    >>> args[args.index("--ruleEE") + 1], args[args.index("--rate_poisson") + 1]
    ('a0.05a0.05a0.05a0.05a0.05a0.05a', '8.0')
    """
    theta = protocol.validate_theta(theta)
    args = [str(program), "--ID", run_id, "--seed", str(check_network_seed(network_seed)),
            "--workdir", str(workdir)]
    if protocol.family == "6pPol":
        rules = protocol.poly_rule(theta)
        for c, values in rules.items():
            args += [f"--rule{c.upper()}", rule_token(
                [values[k] for k in ("tau_pre", "tau_post", "alpha", "beta", "gamma",
                                     "kappa")])]
        args += ["--eta", _number(float(protocol.eta))]
        options = _COMMON_OPTIONS
    else:
        args += ["--rule", rule_token(mlp_rule_vector(theta, protocol))]
        options = _COMMON_OPTIONS + _MLP_OPTIONS
    args += ["--rate_poisson", _number(protocol.input_rate(theta))]
    for name in options:
        value = getattr(protocol, name)
        args += [f"--{name}", _number(value if isinstance(value, bool) else
                                      (int(value) if isinstance(value, (int, np.integer))
                                       else float(value)))]
    return args


def mlp_rule_vector(theta: np.ndarray, protocol: Protocol) -> np.ndarray:
    """The aggregated MLP rule vector of the program's ``--rule`` (``docs/network-model.md``
    §5.5).

    [eta_EE, eta_IE, 4 trace taus of EE, 4 of IE, W1, W2, EE W_pre, EE W_post, IE W_pre,
    IE W_post]; W1 row-major by hidden unit, W2 with element (v, u) at u + nh1·v.

    Examples
    --------
    >>> from fsbi_data.simulation.protocols import protocol
    >>> mlp_rule_vector(np.r_[np.zeros(22), 10.0], protocol("MLP")).size
    530
    """
    rules = protocol.mlp_rule(theta)
    taus = ("tau_pre1", "tau_pre2", "tau_post1", "tau_post2")
    ee, ie = rules["ee"], rules["ie"]
    return np.concatenate([
        [ee["eta"], ie["eta"]], [ee[t] for t in taus], [ie[t] for t in taus],
        np.ravel(ee["w1"]), np.ravel(ee["w2"]),
        ee["w_pre"], ee["w_post"], ie["w_pre"], ie["w_post"],
    ]).astype(np.float64)


# --- the backend ----------------------------------------------------------------------------
@dataclass
class AurynBackend(Backend):
    """Runs rules with this project's Auryn programs.

    Parameters
    ----------
    auryn_dir
        The Auryn directory (default ``$AURYN_DIR``).
    cache_dir
        Where compiled programs are cached (default ``auryn-programs`` in the fsbi-data
        cache, :func:`fsbi_data.catalog.cache_dir`).
    keep_files
        Keep each run's working directory (monitor files) instead of deleting it; only
        meaningful with an explicit ``workdir``.
    """

    auryn_dir: str | None = None
    cache_dir: str | None = None
    keep_files: bool = False
    name: str = field(default="auryn", init=False)
    _programs: Path | None = field(default=None, init=False, repr=False, compare=False)

    def install(self) -> AurynInstall:
        return find_auryn(self.auryn_dir)

    @property
    def version(self) -> str:
        """``auryn <version>``, for provenance."""
        return f"auryn {self.install().version}"

    def why_unavailable(self) -> str:
        try:
            self.install()
        except BackendUnavailableError as exc:
            return str(exc)
        if compiler() is None:
            return (f"no C++ compiler: looked for {os.environ.get('CXX') or 'mpicxx'} on "
                    f"PATH. {_INSTALL}")
        return ""

    def available(self) -> bool:
        return self.why_unavailable() == ""

    def programs(self) -> Path:
        """The directory of the compiled programs (built on first use, then cached)."""
        if self._programs is None:
            self._programs = build_programs(self.install(), cache_dir=self.cache_dir)
        return self._programs

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_programs"] = None  # workers look up (or build) their own copy
        return state

    def run(self, theta: np.ndarray, protocol: Protocol, *, network_seed: int,
            workdir: Path | None = None, timeout: float | None = None) -> SimulationResult:
        theta = protocol.validate_theta(theta)
        network_seed = check_network_seed(network_seed)
        check_protocol(protocol)
        program = self.programs() / program_name(protocol.family)
        seed = rule_seed(theta, protocol.family)
        temporary = workdir is None
        run_dir = Path(tempfile.mkdtemp(prefix="fsbi-auryn-")) if temporary else Path(workdir)
        run_dir.mkdir(parents=True, exist_ok=True)
        args = command_line(program, theta, protocol, workdir=run_dir, run_id=seed,
                            network_seed=network_seed)
        start = time.perf_counter()
        try:
            try:
                done = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                                      check=False, cwd=run_dir)
            except subprocess.TimeoutExpired:
                raise SimulationError(
                    f"the Auryn program {program.name} exceeded the timeout of {timeout} s "
                    f"(rule {seed}); raise the timeout or use a shorter protocol"
                ) from None
            if done.returncode != 0:
                raise SimulationError(
                    f"the Auryn program {program.name} failed with exit status "
                    f"{done.returncode} (rule {seed}): {done.stderr.strip()[-2000:]}"
                )
            info = {"backend": "auryn", "program": program.name,
                    "wall_time": time.perf_counter() - start}
            result = read_auryn(run_dir, seed, protocol.family, stdout=done.stdout,
                                params=protocol.analysis_params())
            return replace(result, seed=seed, theta=theta, network_seed=network_seed,
                           info=info)
        finally:
            if temporary or not self.keep_files:
                _remove_outputs(run_dir, seed, remove_dir=temporary)


def check_protocol(protocol: Protocol) -> None:
    """Raise :class:`~fsbi_data.errors.ProtocolError` if the programs cannot run ``protocol``."""
    reference = Protocol()
    changed = [name for name in FIXED_FIELDS
               if getattr(protocol, name) != getattr(reference, name)]
    if changed:
        raise ProtocolError(
            f"the Auryn programs fix {', '.join(changed)} to the paper's values "
            f"({', '.join(f'{n}={getattr(reference, n)!r}' for n in changed)}); use the "
            f"brian2 backend for a protocol that changes them"
        )


def _remove_outputs(run_dir: Path, run_id: str, *, remove_dir: bool) -> None:
    if remove_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for path in run_dir.glob(f"*.{run_id}.0.*"):
        path.unlink(missing_ok=True)


BACKEND = AurynBackend()
