"""Opening a dataset by name or by path, the package's front door (``fsbi_data.open``).

A name of the release catalog (a family such as ``"6pPol"``, or a released file such as
``"6pPol/pi3"``) is fetched, checksum-verified and converted once into the cache; a path opens
as a store. This module sits above the store, the catalog and the converters: the store knows
only stores.

Examples
--------
>>> import fsbi_data
>>> ds = fsbi_data.open("6pPol")                       # doctest: +SKIP
>>> ds = fsbi_data.open("my.store")                    # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from .errors import StoreError, UnknownNameError
from .store import is_store, open_path
from .store.layout import ROUND_PREFIX


def open(name_or_path: str | os.PathLike, *, source: str | os.PathLike | None = None,
         catalog: Any = None, rounds: bool = True, progress: bool = False,
         chunks: Any = None) -> xr.Dataset:
    """Open a family of the release, or any store, as a labeled lazy Dataset.

    Parameters
    ----------
    name_or_path
        A family of the catalog (``"6pPol"``, ``"MLP"``) or the path of a store. A family is
        fetched (checksum-verified), converted once into ``cache_dir()/stores/<name>-<sha12>``
        and opened from there on every later call, without reading the release file again.
    source
        A local copy of the release (folder or file) to use instead of downloading.
    catalog
        The catalog to resolve names with (default: the package's release catalog).
    rounds
        Also fetch the family's round files and record each rule's membership as
        ``in_<round>`` booleans.
    progress
        Show progress bars while fetching and converting.
    chunks
        Dask chunks for the variables, as in :meth:`xarray.Dataset.chunk` (e.g.
        ``{"rule": 65536}``); default: no Dask.

    Returns
    -------
    xarray.Dataset
        Lazily indexed variables (``theta``, one per metric, round flags): selections compose
        without reading, and values are read from the store's chunks when first used (or
        Dask arrays with ``chunks``). ``seed`` is indexed (hashed on the first lookup);
        provenance of the sources and of every appended batch is in
        ``ds.attrs["provenance"]``.

    Examples
    --------
    >>> ds = open("6pPol")                                    # doctest: +SKIP
    >>> ds.rate.sel(seed=ds.seed.values[0]).item()            # doctest: +SKIP
    """
    path = Path(name_or_path)
    if path.exists() or not isinstance(name_or_path, str):
        return open_path(path, chunks)  # a store, or a StoreError saying what it is not
    try:
        store = store_for_name(name_or_path, source=source, catalog=catalog, rounds=rounds,
                               progress=progress)
    except UnknownNameError as error:
        raise StoreError(f"{name_or_path!r} is neither a store path nor a dataset name: "
                         f"{error}") from None
    ds = open_path(store, chunks)
    if not rounds:
        ds = ds.drop_vars([v for v in ds.data_vars if v.startswith(ROUND_PREFIX)])
    return ds


def store_for_name(name: str, *, source: Any = None, catalog: Any = None, rounds: bool = True,
                   progress: bool = False) -> Path:
    """The local store of a catalog file (a family name means its ``_all`` file).

    Converted on first use into ``cache_dir()/stores/<name>-<sha12>``; later calls return
    that store without reading the release file again.
    """
    from . import catalog as catalog_module
    from .converters import convert

    cat = catalog if catalog is not None else catalog_module.CATALOG
    entry = cat.entry(name)
    if entry.dtype_kind not in ("P", "M"):
        raise StoreError(f"{entry.name} ({entry.filename}) is not a file of rules; open a "
                         f"released .npy such as {entry.family!r}")
    with_rounds = rounds and entry.role == "all"
    label = entry.name.replace("/", "-")
    suffix = "" if with_rounds or entry.role != "all" else "-norounds"
    dest = catalog_module.cache_dir() / "stores" / f"{label}-{entry.checksum[:12]}{suffix}"
    if is_store(dest):
        return dest  # trust the store's provenance: no checksum of the release file again
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = catalog_module.fetch(entry.name, source=source, catalog=cat, progress=progress)
    round_paths = {}
    if with_rounds:
        round_paths = {label: catalog_module.fetch(e.name, source=source, catalog=cat,
                                                   progress=progress)
                       for label, e in cat.rounds(entry.family).items()}
    return convert(src, dest, entry.family, rounds=round_paths or None, progress=progress)
