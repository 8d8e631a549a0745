"""Stores of rules on disk: open, append, compact, verify, with crash and concurrency safety.

A store is a directory holding an immutable *base* Zarr v3 group (written by the converter or by
:func:`compact`), a few appended *fragments* (Zarr v3 groups of appended batches) and a small
manifest, ``fsbi-store.json``, that names the base and the committed fragments. Every change is
published by one atomic ``os.replace`` of the manifest; a writer killed at any instant leaves
the previous manifest in place, so readers see all of a batch or none of it. Writers serialise
on ``fcntl.flock`` of ``.lock``; readers never lock.

Every stored byte is checksummed (:mod:`fsbi_data.store.integrity`) and checked when read;
appended batches are checked before anything is written; fragments are merged as they accumulate, so
that reads stay fast however many batches a store has seen. See ``docs/store.md``.

Examples
--------
>>> import fsbi_data
>>> ds = fsbi_data.open("6pPol")                       # doctest: +SKIP
>>> ds.sel(seed="0123456789abcdef0123456789abcdef")    # doctest: +SKIP
>>> report = fsbi_data.append("my.store", new_rules)   # doctest: +SKIP

The modules of this package, bottom up: :mod:`~fsbi_data.store.layout` (the Dataset of a
store: variables, attributes, provenance), :mod:`~fsbi_data.store.integrity` and
:mod:`~fsbi_data.store.parts` (checksums and the checked reader of a part),
:mod:`~fsbi_data.store.encoding`, :mod:`~fsbi_data.store.manifest`,
:mod:`~fsbi_data.store.reading`, :mod:`~fsbi_data.store.writing`,
:mod:`~fsbi_data.store.batches` (checks of appended batches),
:mod:`~fsbi_data.store.appending`, :mod:`~fsbi_data.store.compaction` and
:mod:`~fsbi_data.store.verification`.
"""

from .appending import AppendReport, append
from .compaction import compact
from .layout import family_attrs
from .manifest import is_store, read_manifest
from .reading import open_path, stored_seeds
from .verification import VerifyReport, verify
from .writing import create

__all__ = ["AppendReport", "VerifyReport", "append", "compact", "create", "family_attrs",
           "is_store", "open_path", "read_manifest", "stored_seeds", "verify"]
