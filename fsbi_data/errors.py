"""The exceptions of fsbi-data.

Every error the package raises on purpose derives from :class:`FsbiDataError`, so that
``except fsbi_data.FsbiDataError`` catches all of them. Messages name the file or field
involved, what was expected, what was found, and how to fix it.
"""

from __future__ import annotations


class FsbiDataError(Exception):
    """Base class of every error raised by fsbi-data."""


class ReleaseFormatError(FsbiDataError, ValueError):
    """A file is not in the format of the released ``.npy`` files (truncated, wrong dtype, ...)."""


class ChecksumError(FsbiDataError):
    """A file's sha256 or size differs from the catalog."""


class DataUnavailableError(FsbiDataError):
    """A released file is neither cached nor reachable."""


class DuplicateSeedError(FsbiDataError, ValueError):
    """Two different rules share one seed."""


class StoreError(FsbiDataError):
    """A store is missing, not a store, or cannot be written as asked."""


class InvalidRulesError(StoreError, ValueError):
    """Rules to append are not valid for the store (family, width, non-finite or out-of-prior
    theta, infinite metrics); nothing was written."""


class StoreIntegrityError(StoreError):
    """Stored bytes are missing or damaged: a chunk, a metadata file, the manifest or a part.

    The message names the store, the part, the variable and the chunk, and how to recover.
    """


class StoreConflictError(StoreError):
    """Another writer holds the store, or changed it while this writer was working."""


class UnknownNameError(FsbiDataError, KeyError):
    """A dataset, family, metric, parameter or criteria name is not known.

    ``KeyError`` quotes its message with ``repr``; this class prints it as written.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class QueryError(FsbiDataError, ValueError):
    """A query is malformed (reversed bounds, criteria not defined for the family, ...)."""


class SimulationError(FsbiDataError):
    """A simulation could not be run or its output could not be read."""


class BackendUnavailableError(SimulationError):
    """A simulation backend (Auryn, Brian2) is not installed or not usable."""


class RawFormatError(FsbiDataError, ValueError):
    """A raw simulation output (spike or weight file, HDF5 group) is malformed."""


class ProtocolError(SimulationError, ValueError):
    """A protocol parameter, or a theta run under a protocol, is invalid."""
