"""The released files of the fSBI paper: what they are, where they come from, where they go.

One table (:data:`CATALOG`, the registry in pooch's terms) lists every data file of the release
repository ``VogelsLab/fSBI`` at the pinned commit :data:`RELEASE_COMMIT`: name, path, sha256 or
Git blob id, size, rows, role, round, URL. :func:`cache_dir` is where files are kept and
:func:`download_url` where they come from; :mod:`fsbi_data.fetching` gets them (``fetch``,
``datasets``, also importable from here) and :mod:`fsbi_data.checksums` checks them.

Environment variables
---------------------
``FSBI_DATA_HOME``
    The cache folder (default: ``pooch.os_cache("fsbi-data")``).
``FSBI_DATA_URL``
    The base URL of a mirror of the release repository; a file is then downloaded from
    ``$FSBI_DATA_URL/<path in the repository>``.

Examples
--------
>>> from fsbi_data.catalog import CATALOG
>>> entry = CATALOG.entry("6pPol/pi3")
>>> entry.rows, entry.size
(50200, 29718912)
>>> list(CATALOG.rounds("MLP"))
['pi0', 'pi1', 'pi2', 'pi3']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from .errors import UnknownNameError
from .lazy_import import lazy_attributes
from .schema import FAMILIES, family

REPOSITORY = "VogelsLab/fSBI"
RELEASE_COMMIT = "d0e64b196091b13f801abac4c1e7c4957a0d5fda"
LFS_BASE_URL = f"https://media.githubusercontent.com/media/{REPOSITORY}/{RELEASE_COMMIT}"
RAW_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{RELEASE_COMMIT}"
HOME_ENV = "FSBI_DATA_HOME"
URL_ENV = "FSBI_DATA_URL"
PAPER = ("Confavreux, Ramesh, Gonçalves, Macke & Vogels, NeurIPS 2023, https://openreview.net/"
         "forum?id=FLFasCFJNo")

Role = Literal["all", "round", "longevity", "tutorial", "tutorial-raw", "posterior"]
ChecksumKind = Literal["sha256", "git-sha1"]
DtypeKind = Literal["P", "M", "hdf5", "pickle"]

# Fetching and checking import this module; their public names stay importable from here.
__getattr__ = lazy_attributes(__name__, {
    "fetch": "fsbi_data.fetching:fetch", "datasets": "fsbi_data.fetching:datasets",
    "is_cached": "fsbi_data.fetching:is_cached", "verify": "fsbi_data.checksums:verify",
    "file_checksum": "fsbi_data.checksums:file_checksum",
    "lfs_pointer_advice": "fsbi_data.checksums:lfs_pointer_advice",
})


@dataclass(frozen=True)
class CatalogEntry:
    """One file of the release.

    Attributes
    ----------
    name
        Catalog name, e.g. ``"6pPol"`` (the ``_all`` file) or ``"MLP/pi3"``.
    family
        ``"6pPol"`` or ``"MLP"``.
    path
        Path of the file in the release repository.
    checksum
        Hex digest: sha256 of the content (Git LFS files) or the Git blob id (other files).
    checksum_kind
        ``"sha256"`` or ``"git-sha1"``.
    size
        Bytes, or None where unknown.
    dtype_kind
        ``"P"`` (6pPol records), ``"M"`` (MLP records), ``"hdf5"`` or ``"pickle"``.
    rows
        Records in a ``.npy`` file; None for other files.
    role
        ``"all"``, ``"round"``, ``"longevity"``, ``"tutorial"``, ``"tutorial-raw"`` or
        ``"posterior"``.
    round
        ``"pi0"`` … ``"pi3"`` for round files, else None.
    url
        Download URL pinned to :data:`RELEASE_COMMIT`.
    """

    name: str
    family: str
    path: str
    checksum: str
    checksum_kind: ChecksumKind
    size: int | None
    dtype_kind: DtypeKind
    rows: int | None
    role: Role
    round: str | None
    url: str

    @property
    def filename(self) -> str:
        """The file's name without its folders."""
        return self.path.rsplit("/", 1)[-1]


def origin_url(path: str, lfs: bool) -> str:
    """The pinned download URL of a repository path (LFS media URL or raw URL)."""
    return f"{LFS_BASE_URL if lfs else RAW_BASE_URL}/{path}"


def make_entry(name: str, fam: str, path: str, checksum: str, size: int | None,
               dtype_kind: DtypeKind, rows: int | None, role: Role,
               round: str | None = None) -> CatalogEntry:
    """A :class:`CatalogEntry` whose checksum kind and URL follow from its file type."""
    lfs = path.endswith(".npy")
    return CatalogEntry(name=name, family=fam, path=path, checksum=checksum,
                        checksum_kind="sha256" if lfs else "git-sha1", size=size,
                        dtype_kind=dtype_kind, rows=rows, role=role, round=round,
                        url=origin_url(path, lfs))


class Catalog(Mapping[str, CatalogEntry]):
    """Catalog name → :class:`CatalogEntry`, in release order.

    Parameters
    ----------
    entries
        The entries; names must be unique.

    Examples
    --------
    >>> from fsbi_data.catalog import CATALOG
    >>> CATALOG["MLP"].path
    'data_synapsesbi/bg_CVAIF_EEIE_T4wvceciMLP/bg_CVAIF_EEIE_T4wvceciMLP_all.npy'
    """

    def __init__(self, entries: Iterable[CatalogEntry]):
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"duplicate catalog name {entry.name!r}")
            self._entries[entry.name] = entry

    def __getitem__(self, name: str) -> CatalogEntry:
        return self.entry(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} files: {', '.join(self._entries)}>"

    @property
    def entries(self) -> Mapping[str, CatalogEntry]:
        """Read-only name → entry mapping (the catalog itself iterates over names)."""
        return MappingProxyType(self._entries)

    def entry(self, name: str) -> CatalogEntry:
        """The entry called ``name``; the family part is case-insensitive (``"mlp/pi0"``).

        Raises
        ------
        UnknownNameError
            If no entry has that name; the message lists the valid names.
        """
        found = self._entries.get(name)
        if found is None and isinstance(name, str):
            head, sep, tail = name.partition("/")
            try:
                found = self._entries.get(family(head).name + sep + tail)
            except UnknownNameError:
                found = None
        if found is None:
            raise UnknownNameError(
                f"unknown dataset name {name!r}; valid names: {', '.join(self._entries)} "
                f"(see fsbi_data.datasets() or `fsbi-data datasets`)"
            )
        return found

    def rounds(self, fam: str) -> dict[str, CatalogEntry]:
        """The round files of a family, ``{"pi0": entry, …}`` in round order."""
        name = family(fam).name
        found = [e for e in self._entries.values() if e.family == name and e.role == "round"]
        return {e.round: e for e in sorted(found, key=lambda e: e.round)}

    def of_family(self, fam: str) -> list[CatalogEntry]:
        """All entries of a family, in catalog order."""
        name = family(fam).name
        return [e for e in self._entries.values() if e.family == name]


# --- the release at RELEASE_COMMIT (docs/data.md) --------------------------------------------
def _release_entries() -> list[CatalogEntry]:
    p, m = FAMILIES["6pPol"].task_name, FAMILIES["MLP"].task_name
    data_p, data_m = f"data_synapsesbi/{p}", f"data_synapsesbi/{m}"
    runs_p, runs_m = f"runs_synapsesbi/{p}", f"runs_synapsesbi/{m}"
    # (name, family, path, checksum, size, dtype kind, rows, role, round)
    table = [
        ("6pPol", "6pPol", f"{data_p}/{p}_all.npy",
         "df5297b3c75f63b967355faa8d433cc20c79bdc7e1caf7a8161a08bd2e6abeba", 209_746_112,
         "P", 354_300, "all", None),
        ("6pPol/pi0", "6pPol", f"{data_p}/box_prior_metrics.npy",
         "0792a7e27e93515eec33ce1db9a7d1576e90bc614664e702c341b217410c0910", 5_920_512,
         "P", 10_000, "round", "pi0"),
        ("6pPol/pi1", "6pPol", f"{data_p}/0rate_filter2_metrics.npy",
         "aefa27598e65d7609d238979e557089cd2d88a1381fe5a96ce82062b84e7b391", 2_960_512,
         "P", 5_000, "round", "pi1"),
        ("6pPol/pi2", "6pPol", f"{data_p}/0rate_filter2_1wblowwcreep_filter4_metrics.npy",
         "2ae525cc73be972f90f1a89ca722ee00857c2e030f65eff44b20bf6d2519c8b0", 5_920_512,
         "P", 10_000, "round", "pi2"),
        ("6pPol/pi3", "6pPol", f"{data_p}/0r_f2_1wc_f2_metrics.npy",
         "e1820cd65410def01e243b2f6d7e4140028d9581217fbbe0889f5815fd4171c2", 29_718_912,
         "P", 50_200, "round", "pi3"),
        ("6pPol/bg20min", "6pPol", f"{data_p}/bg20min_metrics.npy",
         "d22a999704c1238861a8fc3a14008de4baade1dbd9fe68c1d72237b5680c526f", 8_385_008,
         "P", 14_163, "longevity", None),
        ("6pPol/tutorial", "6pPol", f"{data_p}/pi3_r5to10Hz_metrics.npy",
         "4ec05a83e7f1445186f2f429a76ed95a97750a52b4145e78edbca07db003f986", 6_432,
         "P", 10, "tutorial", None),
        ("6pPol/tutorial-raw", "6pPol", f"{data_p}/pi3_r5to10Hz.h5",
         "1c730c8d8f8dc448b74fbb491a5b0fc0cf1905ca", None, "hdf5", None, "tutorial-raw", None),
        ("6pPol/posterior-tutorial", "6pPol", f"{runs_p}/posterior_pi3_r5to10Hz.pkl",
         "5efaace2a540e20d13de481b6f3371052372a622", None, "pickle", None, "posterior", None),
        ("6pPol/posterior-0r_f2_1r_f0", "6pPol", f"{runs_p}/posterior_0r_f2_1r_f0.pkl",
         "93bfa577218f3c0f03015d1d14bf5588e07d62e4", None, "pickle", None, "posterior", None),
        ("MLP", "MLP", f"{data_m}/{m}_all.npy",
         "90cb9c7081dca4d90323929d47423af09993d4f7c7acc10e60645b835941b1db", 184_234_848,
         "M", 328_990, "all", None),
        ("MLP/pi0", "MLP", f"{data_m}/0rate_filter0_metrics.npy",
         "790281076f5c2806a6efac7aaa49a9c4261a79d832d91db408505cf20fe4a719", 6_160_448,
         "M", 11_000, "round", "pi0"),
        ("MLP/pi1", "MLP", f"{data_m}/0rate_filter1_metrics.npy",
         "ee6f86410ca3349d705caec9f6c4158361716f6a08c7e8202b45d9e1b1e8c052", 6_160_448,
         "M", 11_000, "round", "pi1"),
        ("MLP/pi2", "MLP", f"{data_m}/0r_f2_1wb_f2_2wbcv_f0_metrics.npy",
         "99f28ab21a3106f3b5c0bb46eac92f351e46ba8abd9e45394fd7942a3d6abdb0", 10_080_448,
         "M", 18_000, "round", "pi2"),
        ("MLP/pi3", "MLP", f"{data_m}/0r_f2_1wb_f2_2wbcv_f3_2wbwcac_f0_metrics.npy",
         "b28d04ba45689016e3385632147592ba49bf9d3721f0c9c7958685cb8b6b849a", 8_680_448,
         "M", 15_500, "round", "pi3"),
        ("MLP/bg20min", "MLP", f"{data_m}/bg20min_metrics.npy",
         "476dac2ff9e9d6a7cb74cf9cdb5ff4c78fd18aab7c83e957edca5eb5d1678095", 8_400_448,
         "M", 15_000, "longevity", None),
        ("MLP/posterior-fig4", "MLP",
         f"{runs_m}/posterior_0r_f2_1wb_f2_2wbcv_f3_2wbwcac_f0_3rwbwcac_f0.pkl",
         "a25c80bce9829f3bc67d475a690e80ef6d667385", None, "pickle", None, "posterior", None),
    ]
    return [make_entry(*row) for row in table]


CATALOG = Catalog(_release_entries())
"""Every data file of the release at :data:`RELEASE_COMMIT`."""


# --- where the files live ---------------------------------------------------------------------
def cache_dir() -> Path:
    """The cache folder: ``$FSBI_DATA_HOME`` if set, else ``pooch.os_cache("fsbi-data")``.

    An absolute, resolved path. Released files are cached at
    ``<cache_dir>/<path in the release repository>``; the package keeps everything it caches
    (stores converted from released files, verified markers) under this folder.

    Examples
    --------
    >>> import os
    >>> os.environ["FSBI_DATA_HOME"] = "/tmp/fsbi-cache"
    >>> str(cache_dir())
    '/tmp/fsbi-cache'
    >>> del os.environ["FSBI_DATA_HOME"]
    """
    home = os.environ.get(HOME_ENV)
    if not home:
        import pooch

        home = pooch.os_cache("fsbi-data")
    return Path(home).expanduser().resolve()


def cache_path(entry: CatalogEntry) -> Path:
    """Where ``entry`` is (or would be) cached."""
    return cache_dir() / entry.path


def download_url(entry: CatalogEntry) -> str:
    """The URL a download of ``entry`` uses: ``$FSBI_DATA_URL/<path>``, else ``entry.url``."""
    base = os.environ.get(URL_ENV)
    return f"{base.rstrip('/')}/{entry.path}" if base else entry.url
