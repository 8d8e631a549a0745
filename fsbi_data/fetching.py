"""Local, verified copies of the released files: from the cache, a local copy, or pooch.

:func:`fetch` returns a checksum-verified copy of a file of :data:`fsbi_data.catalog.CATALOG`;
:func:`datasets` lists the files and whether each is cached. pooch downloads (the request and
its timeout, the temporary file and its move into place, retries, the progress bar); added here
is what pooch does not do: the size and checksum check (:mod:`fsbi_data.checksums`) before the
move, the stall watch (``FSBI_DATA_TIMEOUT``, see :func:`stall_timeout`), the verified markers
that spare re-hashing, local copies, and errors that say how to get the data (docs/data.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import catalog as registry
from .catalog import Catalog, CatalogEntry, cache_dir, cache_path, download_url
from .checksums import verify
from .errors import ChecksumError, DataUnavailableError
from .files import published

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

TIMEOUT_ENV = "FSBI_DATA_TIMEOUT"
STALL_TIMEOUT_S = 60.0
DOWNLOAD_RETRIES = 2
"""Further tries of a download whose connection failed or whose server answered HTTP 5xx."""

# Progress is counted in chunks: a download must receive one chunk per stall timeout, i.e.
# about 1 kB/s with the default 60 s.
_DOWNLOAD_CHUNK = 1 << 16
_MARKER_DIR = ".verified"


def fetch(name: str, *, source: str | os.PathLike | None = None,
          catalog: Catalog | None = None, progress: bool = False) -> Path:
    """The local, verified copy of a released file.

    A verified cached copy is returned without network access; otherwise the file is taken
    from ``source`` or downloaded, and its size and checksum are checked before use. A
    download that fails the check is deleted, never cached.

    Parameters
    ----------
    name
        Catalog name, e.g. ``"6pPol"``, ``"MLP/pi3"``, ``"6pPol/bg20min"``.
    source
        A local copy of the release instead of a download: a folder in the repository layout
        (``<source>/data_synapsesbi/<task>/<file>``), a flat folder of file names, or the file
        itself. The file is verified and returned in place (not copied).
    catalog
        The catalog to look ``name`` up in (default :data:`~fsbi_data.catalog.CATALOG`).
    progress
        Show tqdm progress bars for download and verification.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    UnknownNameError
        ``name`` is not in the catalog.
    ChecksumError
        The file's size or checksum differs from the catalog.
    DataUnavailableError
        The file is neither cached nor in ``source`` nor downloadable; the message says how
        to get it.

    Examples
    --------
    >>> path = fetch("6pPol/pi3")                                    # doctest: +SKIP
    >>> path = fetch("6pPol", source="~/fSBI")                        # doctest: +SKIP
    """
    entry = (catalog or registry.CATALOG).entry(name)
    if source is not None:
        found = _find_in_source(Path(source).expanduser(), entry)
        return _ensure_verified(found, entry, progress)
    target = cache_path(entry)
    if target.is_file():
        try:
            return _ensure_verified(target, entry, progress)
        except ChecksumError:
            log.warning("cached %s fails verification; downloading it again", target)
            target.unlink(missing_ok=True)  # else pooch would take it as already downloaded
    return _download(entry, progress)


def is_cached(entry: CatalogEntry) -> bool:
    """Whether ``entry`` is in the cache and was verified (no checksum is computed)."""
    return _is_marked(cache_path(entry), entry)


def datasets(catalog: Catalog | None = None) -> pd.DataFrame:
    """The released files, one row each, and whether they are cached.

    Columns: ``name``, ``family``, ``role``, ``round``, ``rows``, ``size``, ``cached``,
    ``path`` (the local file, or None), ``url``.

    Examples
    --------
    >>> df = datasets()
    >>> df.set_index("name").loc["MLP", "rows"]
    np.int64(328990)
    """
    import pandas as pd

    rows = []
    for entry in (catalog or registry.CATALOG).values():
        cached = is_cached(entry)
        rows.append({
            "name": entry.name, "family": entry.family, "role": entry.role,
            "round": entry.round, "rows": entry.rows, "size": entry.size, "cached": cached,
            "path": str(cache_path(entry)) if cached else None, "url": entry.url,
        })
    frame = pd.DataFrame(rows)
    for column in ("rows", "size"):
        frame[column] = frame[column].astype("Int64")
    return frame


def stall_timeout() -> float:
    """Seconds a download may go without progress: ``$FSBI_DATA_TIMEOUT``, else 60.

    Raises
    ------
    DataUnavailableError
        If ``FSBI_DATA_TIMEOUT`` is not a positive number.
    """
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        seconds = float(text) if text else STALL_TIMEOUT_S
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise DataUnavailableError(
            f"{TIMEOUT_ENV}={text!r}: expected a positive number of seconds a download may go "
            f"without progress (default {STALL_TIMEOUT_S:g}); set it to a number or unset it")
    return seconds


# --- local copies and the verified markers ------------------------------------------------------
def _find_in_source(source: Path, entry: CatalogEntry) -> Path:
    if source.is_file():
        return source
    if source.is_dir():
        for candidate in (source / entry.path, source / entry.filename):
            if candidate.is_file():
                return candidate
        raise DataUnavailableError(
            f"{entry.name!r} is not in the local copy {source}: looked for "
            f"{source / entry.path} (repository layout) and {source / entry.filename} "
            f"(flat folder). Put the file {entry.filename} at one of these places, or fetch "
            f"without source= to download it from {entry.url}."
        )
    raise DataUnavailableError(
        f"source {source} does not exist; give a folder holding the release (repository "
        f"layout data_synapsesbi/<task>/<file> or a flat folder of file names) or the file "
        f"itself"
    )


def _ensure_verified(path: Path, entry: CatalogEntry, progress: bool) -> Path:
    if not _is_marked(path, entry):
        log.info("verifying %s against %s", path, entry.name)
        verify(path, entry, progress=progress)
        _mark(path, entry)
    return path


# Verified markers: a small JSON file per verified file, under <cache>/.verified/, recording
# the file's path, size and modification time and the checksum it was verified against. A
# marker is valid only while all four still match, so replacing or touching the file, or a
# catalog with another checksum, forces a new verification.
def _marker_path(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    return cache_dir() / _MARKER_DIR / f"{key}.json"


def _file_state(path: Path, entry: CatalogEntry) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "checksum": entry.checksum}


def _is_marked(path: Path, entry: CatalogEntry) -> bool:
    marker = _marker_path(path)
    try:
        return path.is_file() and json.loads(marker.read_text()) == _file_state(path, entry)
    except (OSError, ValueError):
        return False


def _mark(path: Path, entry: CatalogEntry) -> None:
    marker = _marker_path(path)
    try:  # neither fsynced nor required: a lost marker only costs a re-verification
        marker.parent.mkdir(parents=True, exist_ok=True)
        with published(marker, durable=False) as tmp:
            tmp.write_text(json.dumps(_file_state(path, entry)))
    except OSError as error:
        log.warning("could not record verification of %s: %s", path, error)


# --- downloads ----------------------------------------------------------------------------------
def _download(entry: CatalogEntry, progress: bool) -> Path:
    import pooch
    import requests
    from tqdm.auto import tqdm

    url = download_url(entry)
    timeout = stall_timeout()
    stalled = (f"the download stalled: less than {_DOWNLOAD_CHUNK // 1024} kB arrived in "
               f"{timeout:g} s (set {TIMEOUT_ENV} to wait longer)")

    def download(url: str, part: str, release: pooch.Pooch) -> None:
        """pooch's HTTP download into pooch's temporary file ``part``, watched, then verified.

        The progress bar is ours, shown on a terminal or in a notebook only, and cleared even
        when the download fails (pooch leaves its own open), so that an error prints alone.
        pooch sets its total from the response (a total of 0 would hide it).
        """
        with _StallWatch(Path(part), timeout) as watch, \
                tqdm(total=1, desc=f"downloading {entry.filename}", unit="B", unit_scale=True,
                     leave=False, disable=None if progress else True) as bar:
            http = pooch.HTTPDownloader(progressbar=bar, chunk_size=_DOWNLOAD_CHUNK,
                                        timeout=timeout, hooks={"response": watch.hook})
            try:
                http(url, part, release)
            except requests.RequestException as error:
                if watch.stalled or _timed_out(error):
                    raise _unavailable(entry, url, stalled) from error
                status = _http_status(error)
                if status is not None and status < 500:  # refused: asking again will not help
                    raise _unreachable(entry, url, error) from error
                log.info("download from %s failed: %s", url, error)
                raise  # a lost connection or a server error: pooch tries again
        if watch.stalled:  # a response without a length just ends when its socket is shut
            raise _unavailable(entry, url, stalled)
        verify(part, entry, url=url, progress=progress)

    # No hash for pooch: ``download`` verifies before pooch moves the file into place (pooch
    # knows no Git blob ids, and its error would not say what was found).
    release = pooch.Pooch(path=cache_dir(), base_url="", registry={entry.path: None},
                          urls={entry.path: url}, retry_if_failed=DOWNLOAD_RETRIES)
    log.info("downloading %s from %s", entry.name, url)
    pooch_log = pooch.get_logger()  # prints to stderr; a library call must not
    level = pooch_log.level
    pooch_log.setLevel(logging.WARNING)
    try:
        path = Path(release.fetch(entry.path, downloader=download))
    except requests.RequestException as error:
        raise _unreachable(entry, url, error) from error
    finally:
        pooch_log.setLevel(level)
    _mark(path, entry)
    return path


class _StallWatch:
    """Aborts a download whose file grows by less than one chunk in ``timeout`` seconds.

    The read timeout of requests bounds each socket read, so a server that trickles a byte
    now and then keeps a download alive forever. This thread watches the size of the file
    being written (pooch writes and flushes it chunk by chunk) and, when no chunk has arrived
    for ``timeout`` seconds, shuts the response's socket down: the blocked read then ends as a
    broken connection, and :attr:`stalled` says why.
    """

    def __init__(self, file: Path, timeout: float):
        self.file, self.timeout = file, timeout
        self.response = None
        self.stalled = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fsbi-data download watch",
                                        daemon=True)

    def hook(self, response, *args, **kwargs) -> None:
        """The requests response hook: remembers the response whose socket to shut down."""
        self.response = response

    def __enter__(self) -> _StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        size, since = 0, time.monotonic()
        while not self._done.wait(min(self.timeout / 4, 1.0)):
            now = time.monotonic()
            grown = self.file.stat().st_size  # pooch's file exists while it downloads
            if grown != size:
                size, since = grown, now
            elif now - since >= self.timeout and self.response is not None:
                self.stalled = True
                try:
                    self.response.raw.shutdown()  # urllib3 >= 2.3
                except (AttributeError, ValueError, RuntimeError) as error:
                    log.warning("cannot interrupt the stalled download: %s", error)
                return


def _timed_out(error: Exception) -> bool:
    """Whether a requests error is a read or connect timeout (requests wraps some of them)."""
    import requests
    import urllib3

    return isinstance(error, requests.Timeout) or any(
        isinstance(arg, urllib3.exceptions.TimeoutError) for arg in error.args)


def _http_status(error: Exception) -> int | None:
    """The HTTP status of the answer that a requests error carries, if any."""
    return getattr(getattr(error, "response", None), "status_code", None)


def _unreachable(entry: CatalogEntry, url: str, error: Exception) -> DataUnavailableError:
    status = _http_status(error)
    return _unavailable(entry, url, f"the server answered HTTP {status}" if status is not None
                        else f"no connection ({type(error).__name__})")


def _unavailable(entry: CatalogEntry, url: str, reason: str) -> DataUnavailableError:
    if url != entry.url:
        url = f"{url}\n    (mirror of {entry.url})"
    cache = cache_path(entry)
    return DataUnavailableError(
        f"cannot get {entry.name!r} ({entry.filename}): {reason}. Nothing is cached at "
        f"{cache}. To get the data:\n"
        f"  - download {url}\n"
        f"    and put it at {cache} (the cache; set {registry.HOME_ENV} to move it), or\n"
        f"  - pass source=<folder or file> (CLI: --source) pointing at a local copy of the "
        f"release, or\n"
        f"  - set {registry.URL_ENV} to the base URL of a mirror of the release repository.\n"
        f"The .npy files are Git LFS objects: when the repository owner's GitHub LFS "
        f"bandwidth quota is used up, GitHub refuses downloads until it resets; use a copy or a "
        f"mirror meanwhile. Data: https://github.com/{registry.REPOSITORY} (no licence file; "
        f"cite {registry.PAPER})."
    )
