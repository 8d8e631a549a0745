"""fetch against a real HTTP server on 127.0.0.1, local copies, the cache, and the CLI."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fsbi_data
from fsbi_data import catalog as catalog_module
from fsbi_data import fetching
from fsbi_data.catalog import CATALOG, Catalog, cache_dir, cache_path, make_entry
from fsbi_data.checksums import file_checksum
from fsbi_data.cli.main import cli
from fsbi_data.errors import ChecksumError, DataUnavailableError, UnknownNameError
from fsbi_data.fetching import datasets, fetch, is_cached


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output clean
        pass


@contextlib.contextmanager
def serve(root: Path):
    """Serve ``root`` (the release repository layout) on 127.0.0.1; yield (base URL, log)."""
    log: list[str] = []
    handler = functools.partial(type("Handler", (_Handler,), {"requests": log}),
                                directory=str(root))
    with serving(handler) as url:
        yield url, log


@contextlib.contextmanager
def serving(handler):
    """A threaded HTTP server on 127.0.0.1 with ``handler``; yield its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def mirror(release, home, monkeypatch):
    """The synthetic release served over HTTP, FSBI_DATA_URL pointing at it."""
    root, _ = release
    with serve(root) as (url, log):
        monkeypatch.setenv("FSBI_DATA_URL", url + "/")
        yield log


def served_copy(release, tmp_path, name, mutate):
    """A copy of the synthetic release whose file ``name`` is changed by ``mutate(bytes)``."""
    root, cat = release
    copy = tmp_path / "served"
    entry = cat.entry(name)
    target = copy / entry.path
    target.parent.mkdir(parents=True)
    target.write_bytes(mutate((root / entry.path).read_bytes()))
    return copy


def leftovers(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and p.parent.name != ".verified"]


# --- download ---------------------------------------------------------------------------------
def test_download_is_verified_and_cached(release, home, mirror):
    root, cat = release
    path = fetch("6pPol/pi3", catalog=cat)
    entry = cat.entry("6pPol/pi3")
    assert path == home / entry.path == cache_path(entry)
    assert path.read_bytes() == (root / entry.path).read_bytes()
    assert len(np.load(path, mmap_mode="r")) == entry.rows
    assert mirror == ["/" + entry.path]
    assert is_cached(entry)
    assert leftovers(home) == [path]


def test_cache_is_reused_without_network(release, home, monkeypatch):
    root, cat = release
    with serve(root) as (url, log):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        first = fetch("MLP/pi1", catalog=cat, progress=True)
        assert len(log) == 1
    # The server is gone: only the cache can answer.
    second = fetch("MLP/pi1", catalog=cat)
    assert second == first and len(log) == 1
    assert file_checksum(second) == cat.entry("MLP/pi1").checksum


def test_corrupted_download_is_rejected_and_not_cached(release, home, tmp_path, monkeypatch):
    _, cat = release
    entry = cat.entry("6pPol/pi0")
    flip = served_copy(release, tmp_path, "6pPol/pi0",
                       lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]))
    with serve(flip) as (url, _):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(ChecksumError) as info:
            fetch("6pPol/pi0", catalog=cat)
    message = str(info.value)
    assert entry.checksum in message and "6pPol/pi0" in message
    assert file_checksum(flip / entry.path) in message
    assert "fetch '6pPol/pi0' again" in message
    assert not cache_path(entry).exists() and leftovers(home) == []
    assert not is_cached(entry)


def test_truncated_download_reports_sizes(release, home, tmp_path, monkeypatch):
    _, cat = release
    entry = cat.entry("MLP/pi2")
    short = served_copy(release, tmp_path, "MLP/pi2", lambda b: b[: len(b) // 2])
    with serve(short) as (url, _):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(ChecksumError, match=f"{entry.size:,} bytes"):
            fetch("MLP/pi2", catalog=cat)
    assert leftovers(home) == []


def test_lfs_pointer_is_recognised(release, home, tmp_path, monkeypatch):
    _, cat = release
    entry = cat.entry("6pPol/tutorial")
    pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{entry.checksum}\n"
               f"size {entry.size}\n").encode()
    copy = served_copy(release, tmp_path, "6pPol/tutorial", lambda b: pointer)
    with serve(copy) as (url, _):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(ChecksumError, match="Git LFS pointer"):
            fetch("6pPol/tutorial", catalog=cat)


def test_lfs_pointer_given_as_source_says_how_to_get_the_data(release, home, tmp_path):
    _, cat = release
    entry = cat.entry("MLP/pi2")
    pointer = tmp_path / entry.filename
    pointer.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{entry.checksum}"
                       f"\nsize {entry.size}\n")
    with pytest.raises(ChecksumError) as info:
        fetch("MLP/pi2", source=pointer, catalog=cat)
    message = str(info.value)
    assert message.startswith(str(pointer))
    assert "this is a Git LFS pointer, not the data" in message
    assert "`fsbi-data fetch MLP/pi2`" in message and "git lfs pull" in message


def test_http_error_is_data_unavailable(release, home, tmp_path, monkeypatch):
    _, cat = release
    with serve(tmp_path) as (url, log):  # an empty mirror: 404 for everything
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(DataUnavailableError, match="HTTP 404"):
            fetch("MLP", catalog=cat)
    assert len(log) == 1  # a refusal is not asked again
    assert leftovers(home) == []


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Serves ``body``; the first ``failures`` requests fail as ``mode`` says."""

    body: bytes
    mode: str
    failures: int
    requests: list[str]

    def do_GET(self):  # noqa: N802
        self.requests.append(self.path)
        failing = len(self.requests) <= self.failures
        if failing and self.mode == "503":
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        # A dropped connection: half the declared bytes, then the socket closes.
        self.wfile.write(self.body[: len(self.body) // 2] if failing else self.body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def flaky_server(body: bytes, mode: str, failures: int):
    log: list[str] = []
    handler = type("Handler", (_Flaky,), {"body": body, "mode": mode, "failures": failures,
                                          "requests": log})
    with serving(handler) as url:
        yield url, log


@pytest.mark.parametrize("mode", ["dropped", "503"])
def test_failed_download_is_tried_again(release, home, monkeypatch, mode):
    root, cat = release
    entry = cat.entry("MLP/pi1")
    with flaky_server((root / entry.path).read_bytes(), mode, failures=1) as (url, log):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        path = fetch("MLP/pi1", catalog=cat)
    assert len(log) == 2 and path == cache_path(entry) and is_cached(entry)
    assert leftovers(home) == [path]


def test_server_error_after_the_last_try_is_data_unavailable(release, home, monkeypatch):
    root, cat = release
    entry = cat.entry("MLP/pi1")
    monkeypatch.setattr(fetching, "DOWNLOAD_RETRIES", 1)
    with flaky_server((root / entry.path).read_bytes(), "503", failures=9) as (url, log):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(DataUnavailableError, match="HTTP 503"):
            fetch("MLP/pi1", catalog=cat)
    assert len(log) == 2 and leftovers(home) == [] and not is_cached(entry)


def test_offline_error_says_how_to_get_the_data(home, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv("FSBI_DATA_URL", url)
    entry = CATALOG.entry("6pPol")
    with pytest.raises(DataUnavailableError) as info:
        fetch("6pPol")
    message = str(info.value)
    for needed in (f"{url}/{entry.path}", entry.url, str(cache_path(entry)), "FSBI_DATA_HOME",
                   "source=", "FSBI_DATA_URL", "quota", "cite"):
        assert needed in message, needed
    assert leftovers(home) == []


def test_corrupted_cache_file_is_replaced(release, home, mirror):
    _, cat = release
    path = fetch("MLP/bg20min", catalog=cat)
    good = path.read_bytes()
    path.write_bytes(good[:-8] + b"\0" * 8)  # same size, new content and mtime
    assert not is_cached(cat.entry("MLP/bg20min"))
    again = fetch("MLP/bg20min", catalog=cat)
    assert again == path and again.read_bytes() == good
    assert len(mirror) == 2


def test_file_put_in_the_cache_by_hand_is_verified_and_used(release, home):
    root, cat = release
    entry = cat.entry("6pPol/pi1")
    cache_path(entry).parent.mkdir(parents=True)
    shutil.copy(root / entry.path, cache_path(entry))
    assert not is_cached(entry)
    assert fetch("6pPol/pi1", catalog=cat) == cache_path(entry)  # no server, no URL
    assert is_cached(entry)


def test_non_lfs_file_verified_by_git_blob_id(home, tmp_path, monkeypatch):
    content = b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 10
    path = "data_synapsesbi/bg_IF_EEEIIEII_6pPol/pi3_r5to10Hz.h5"
    served = tmp_path / "served"
    (served / path).parent.mkdir(parents=True)
    (served / path).write_bytes(content)
    blob = file_checksum(served / path, "git-sha1")
    cat = Catalog([make_entry("6pPol/tutorial-raw", "6pPol", path, blob, None, "hdf5", None,
                              "tutorial-raw")])
    assert cat.entry("6pPol/tutorial-raw").url.startswith("https://raw.githubusercontent.com/")
    with serve(served) as (url, _):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        assert fetch("6pPol/tutorial-raw", catalog=cat).read_bytes() == content
        (served / path).write_bytes(content[:-1] + b"!")
        cache_path(cat.entry("6pPol/tutorial-raw")).unlink()
        with pytest.raises(ChecksumError, match="git-sha1"):
            fetch("6pPol/tutorial-raw", catalog=cat)


def test_unknown_name(home):
    with pytest.raises(UnknownNameError, match="valid names: 6pPol, 6pPol/pi0"):
        fetch("7pPol")


# --- local copies -----------------------------------------------------------------------------
def test_source_in_repository_layout(release, home):
    root, cat = release
    path = fetch("6pPol/bg20min", source=root, catalog=cat)
    assert path == root / cat.entry("6pPol/bg20min").path
    assert not cache_path(cat.entry("6pPol/bg20min")).exists()  # used in place, not copied


def test_source_flat_folder_and_explicit_file(release, home, tmp_path):
    root, cat = release
    entry = cat.entry("MLP/pi0")
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(root / entry.path, flat / entry.filename)
    assert fetch("MLP/pi0", source=flat, catalog=cat) == flat / entry.filename
    assert fetch("MLP/pi0", source=str(root / entry.path), catalog=cat) == root / entry.path


def test_source_missing_file_or_folder(release, home, tmp_path):
    _, cat = release
    with pytest.raises(DataUnavailableError, match="repository layout"):
        fetch("MLP/pi0", source=tmp_path, catalog=cat)
    with pytest.raises(DataUnavailableError, match="does not exist"):
        fetch("MLP/pi0", source=tmp_path / "nowhere", catalog=cat)


def test_corrupted_source_is_rejected_and_left_alone(release, home, tmp_path):
    root, cat = release
    entry = cat.entry("MLP/pi3")
    bad = tmp_path / entry.filename
    content = bytearray((root / entry.path).read_bytes())
    content[600] ^= 1
    bad.write_bytes(bytes(content))
    with pytest.raises(ChecksumError, match=str(bad)):
        fetch("MLP/pi3", source=bad, catalog=cat)
    assert bad.read_bytes() == bytes(content)
    with pytest.raises(ChecksumError):  # the failure is not remembered as a success
        fetch("MLP/pi3", source=bad, catalog=cat)


def test_source_edited_after_verification_is_verified_again(release, home, tmp_path):
    root, cat = release
    entry = cat.entry("6pPol/tutorial")
    copy = tmp_path / entry.filename
    shutil.copy(root / entry.path, copy)
    fetch("6pPol/tutorial", source=copy, catalog=cat)
    copy.write_bytes(copy.read_bytes()[:-1] + b"\1")
    with pytest.raises(ChecksumError):
        fetch("6pPol/tutorial", source=copy, catalog=cat)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_detected(release, tmp_path, monkeypatch, position, bit):
    root, cat = release
    monkeypatch.setenv("FSBI_DATA_HOME", str(tmp_path / "cache-prop"))
    entry = cat.entry("6pPol/tutorial")
    content = bytearray((root / entry.path).read_bytes())
    content[position % len(content)] ^= 1 << bit
    bad = tmp_path / "flipped.npy"
    bad.write_bytes(bytes(content))
    with pytest.raises(ChecksumError):
        fetch("6pPol/tutorial", source=bad, catalog=cat)


# --- datasets, cache_dir ------------------------------------------------------------------------
def test_cache_dir_follows_fsbi_data_home(home, monkeypatch):
    assert cache_dir() == home
    monkeypatch.delenv("FSBI_DATA_HOME")
    assert cache_dir().name == "fsbi-data"


def test_datasets_reports_cached_files(release, home, mirror):
    _, cat = release
    before = datasets(cat).set_index("name")
    assert not before["cached"].any()
    path = fetch("MLP/pi0", catalog=cat)
    after = datasets(cat).set_index("name")
    assert after.loc["MLP/pi0", "cached"] and after.loc["MLP/pi0", "path"] == str(path)
    assert after["cached"].sum() == 1
    assert after.loc["MLP/pi0", "rows"] == cat.entry("MLP/pi0").rows


def test_package_level_api():
    assert fsbi_data.fetch is fetch and fsbi_data.datasets is datasets


# --- CLI --------------------------------------------------------------------------------------
def test_cli_fetch_and_datasets(release, home, mirror, monkeypatch):
    _, cat = release
    monkeypatch.setattr(catalog_module, "CATALOG", cat)
    runner = CliRunner()
    result = runner.invoke(cli, ["fetch", "MLP/pi2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(cache_path(cat.entry("MLP/pi2")))
    listing = runner.invoke(cli, ["datasets"])
    assert listing.exit_code == 0
    lines = {line.split()[0]: line.split() for line in listing.stdout.splitlines() if line}
    assert lines["MLP/pi2"][-1] == "yes" and lines["MLP/pi1"][-1] == "no"
    assert f"{cat.entry('MLP/pi2').rows:,}" in lines["MLP/pi2"]
    assert str(home) in listing.stdout


def test_cli_fetch_from_source(release, home, monkeypatch):
    root, cat = release
    monkeypatch.setattr(catalog_module, "CATALOG", cat)
    result = CliRunner().invoke(cli, ["fetch", "6pPol/pi2", "--source", str(root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(root / cat.entry("6pPol/pi2").path)


def _console(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("fsbi-data")
    return subprocess.run([str(script), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_console_script_end_to_end(release, tmp_path):
    root, cat = release
    env = {"FSBI_DATA_HOME": str(tmp_path / "cache"), "FSBI_DATA_URL": closed_port_url()}
    listing = _console("datasets", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "6pPol/pi3" in listing.stdout and "50,200" in listing.stdout
    assert str(tmp_path / "cache") in listing.stdout

    offline = _console("fetch", "MLP/pi0", env=env)
    assert offline.returncode == 1
    assert offline.stderr.startswith("error: cannot get 'MLP/pi0'") and "quota" in offline.stderr
    assert "Traceback" not in offline.stderr

    # The synthetic file is not the released one: the real catalog rejects it, clearly.
    synthetic = root / cat.entry("MLP/pi0").path
    mismatch = _console("fetch", "MLP/pi0", "--source", str(synthetic), env=env)
    assert mismatch.returncode == 1
    assert f"{CATALOG.entry('MLP/pi0').size:,} bytes" in mismatch.stderr
    assert "Traceback" not in mismatch.stderr

    unknown = _console("fetch", "MLP/pi7", env=env)
    assert unknown.returncode == 1 and "valid names" in unknown.stderr


class _OverQuota(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"This repository is over its data quota."
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_lfs_quota_refusal_is_explained(home, monkeypatch):
    with serving(_OverQuota) as url:
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(DataUnavailableError) as info:
            fetch("MLP/pi3")
    assert "HTTP 403" in str(info.value) and "LFS bandwidth quota" in str(info.value)
    assert leftovers(home) == []


# --- stalled downloads, and what a failed check names ---------------------------------------
class _Stalling(http.server.BaseHTTPRequestHandler):
    """Headers and a declared length, then the body at four bytes per second (or nothing).

    A byte every 0.25 s is well within requests' read timeout (which bounds each socket read)
    but far below a chunk per second: only the stall watch can end such a download.
    """

    mode: str
    stop: threading.Event

    def do_GET(self):  # noqa: N802
        if self.mode == "no headers":
            self.stop.wait()
            return
        self.send_response(200)
        if self.mode != "no length":
            self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.flush()
        try:
            while not self.stop.wait(0.25):
                if self.mode != "silent":
                    self.wfile.write(b"\0")
                    self.wfile.flush()
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def stalling_server(mode: str):
    stop = threading.Event()
    handler = type("Handler", (_Stalling,), {"mode": mode, "stop": stop})
    with serving(handler) as url:
        try:
            yield url
        finally:
            stop.set()  # before the server closes: it waits for its handlers


@pytest.mark.parametrize("mode", ["trickle", "no length", "silent", "no headers"])
def test_stalled_download_is_aborted_and_names_the_url(release, home, monkeypatch, mode):
    _, cat = release
    entry = cat.entry("6pPol/pi1")
    monkeypatch.setenv("FSBI_DATA_TIMEOUT", "1")
    with stalling_server(mode) as url:
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(DataUnavailableError) as info:
            fetch("6pPol/pi1", catalog=cat)
    first_line = str(info.value).splitlines()[0]
    assert "the download stalled" in first_line and "in 1 s" in first_line
    assert "FSBI_DATA_TIMEOUT" in first_line
    assert f"{url}/{entry.path}" in str(info.value)
    assert leftovers(home) == [] and not is_cached(entry)


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf"])
def test_bad_timeout_setting_is_refused(home, monkeypatch, value):
    monkeypatch.setenv("FSBI_DATA_TIMEOUT", value)
    monkeypatch.setenv("FSBI_DATA_URL", closed_port_url())
    with pytest.raises(DataUnavailableError, match=f"FSBI_DATA_TIMEOUT='{value}': expected a "
                                                   f"positive number of seconds"):
        fetch("MLP/pi0")
    assert leftovers(home) == []


def test_cli_stalled_fetch_is_one_clear_error(tmp_path):
    env = {"FSBI_DATA_HOME": str(tmp_path / "cache"), "FSBI_DATA_TIMEOUT": "1"}
    with stalling_server("trickle") as url:
        done = _console("fetch", "MLP/pi0", env={**env, "FSBI_DATA_URL": url})
    assert done.returncode == 1
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and error[0].startswith("error: cannot get 'MLP/pi0'")
    assert "the download stalled" in error[0] and "Traceback" not in done.stderr
    assert f"{url}/{CATALOG.entry('MLP/pi0').path}" in done.stderr
    assert leftovers(tmp_path / "cache") == []


def test_checksum_error_of_a_download_names_the_url_not_a_temporary_file(
        release, home, tmp_path, monkeypatch):
    _, cat = release
    entry = cat.entry("MLP/pi1")
    flip = served_copy(release, tmp_path, "MLP/pi1", lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    with serve(flip) as (url, _):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(ChecksumError) as info:
            fetch("MLP/pi1", catalog=cat)
    message = str(info.value)
    assert message.startswith(f"download of 'MLP/pi1' from {url}/{entry.path}: sha256 ")
    assert entry.checksum in message and file_checksum(flip / entry.path) in message
    assert ".part" not in message and str(home) not in message
    assert "nothing was cached" in message and leftovers(home) == []


def test_git_blob_mismatch_of_a_download_names_the_url(home, tmp_path, monkeypatch):
    path = "runs_synapsesbi/bg_IF_EEEIIEII_6pPol/posterior_pi3_r5to10Hz.pkl"
    served = tmp_path / "served"
    (served / path).parent.mkdir(parents=True)
    (served / path).write_bytes(b"not the posterior")
    cat = Catalog([make_entry("6pPol/posterior-tutorial", "6pPol", path, "0" * 40, None,
                              "pickle", None, "posterior")])
    with serve(served) as (url, _):
        monkeypatch.setenv("FSBI_DATA_URL", url)
        with pytest.raises(ChecksumError) as info:
            fetch("6pPol/posterior-tutorial", catalog=cat)
    message = str(info.value)
    assert message.startswith(f"download of '6pPol/posterior-tutorial' from {url}/{path}: "
                              f"git-sha1 {file_checksum(served / path, 'git-sha1')}")
    assert ".part" not in message and leftovers(home) == []


def test_cli_checksum_error_of_a_download_names_the_url(release, tmp_path):
    # The real catalog against a mirror serving the synthetic file: a size mismatch.
    root, cat = release
    env = {"FSBI_DATA_HOME": str(tmp_path / "cache")}
    with serve(root) as (url, _):
        done = _console("fetch", "MLP/pi0", env={**env, "FSBI_DATA_URL": url})
    entry = CATALOG.entry("MLP/pi0")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: download of 'MLP/pi0' from {url}/{entry.path}: "
                                  f"size ")
    assert len(done.stderr.strip().splitlines()) == 1 and ".part" not in done.stderr
    assert leftovers(tmp_path / "cache") == []
