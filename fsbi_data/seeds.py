"""Seeds of new rules: md5 digests of a documented, full-precision encoding of theta.

The released rules are keyed by the md5 of NumPy's *printed* theta, which loses precision and
depends on NumPy's print options (``docs/auryn.md``, Seeds). New rules use instead

    md5( b"fsbi-data/rule-seed/v1" + b"\\x00" + family name (UTF-8) + b"\\x00"
         + theta as float64 little-endian bytes )

with ``-0.0`` written as ``+0.0``. The digest (32 lowercase hex characters, like the released
seeds) is a pure function of the family and the exact float64 values: the same rule gets the
same seed on every machine, and rules that differ in any bit of theta get different seeds.

Network seeds (the random seed of a simulation's connectivity and input) are separate: by
default each rule's network seed is derived from its rule seed (:func:`network_seed_of`), so
that re-running a rule reproduces its network; a sweep may also fix one network seed for all.

Examples
--------
>>> import numpy as np
>>> from fsbi_data.seeds import rule_seed
>>> theta = np.r_[np.full(24, 0.05), 10.0]
>>> seed = rule_seed(theta, "6pPol")
>>> len(seed), seed == rule_seed(theta.tolist(), "6pPol")
(32, True)
>>> seed == rule_seed(np.nextafter(theta, 1.0), "6pPol")
False
"""

from __future__ import annotations

import hashlib

import numpy as np

from fsbi_data.errors import ProtocolError
from fsbi_data.schema import Family, family

#: Version tag of the encoding; a new encoding gets a new tag (and new seeds).
SEED_ENCODING = b"fsbi-data/rule-seed/v1"

#: Network seeds lie in [1, NETWORK_SEED_MAX] (Auryn's master seed is a 32-bit unsigned int
#: and 0 means "seed from the clock").
NETWORK_SEED_MAX = 2**32 - 1


def encode_theta(theta: np.ndarray | list[float], fam: Family | str) -> bytes:
    """The canonical bytes hashed by :func:`rule_seed` (see the module docstring)."""
    fam = family(fam)
    values = np.asarray(theta, dtype=np.float64)
    if values.shape != (fam.n_theta,):
        raise ProtocolError(
            f"theta for {fam.name} must be a vector of {fam.n_theta} numbers; got shape "
            f"{values.shape}"
        )
    values = values + 0.0  # -0.0 -> +0.0, so that equal rules have equal seeds
    return (SEED_ENCODING + b"\x00" + fam.name.encode() + b"\x00"
            + values.astype("<f8").tobytes())


def rule_seed(theta: np.ndarray | list[float], fam: Family | str) -> str:
    """The 32-hex md5 seed of one rule of family ``fam``."""
    return hashlib.md5(encode_theta(theta, fam)).hexdigest()


def rule_seeds(thetas: np.ndarray, fam: Family | str) -> np.ndarray:
    """Seeds of every row of ``thetas`` (n, n_theta), as an array of str.

    Examples
    --------
    >>> rule_seeds(np.zeros((2, 23)), "MLP").shape
    (2,)
    """
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.ndim != 2:
        raise ProtocolError(f"thetas must be a 2-D array (n_rules, n_theta); got shape "
                            f"{thetas.shape}")
    return np.array([rule_seed(row, fam) for row in thetas], dtype=str)


def check_network_seed(network_seed: int) -> int:
    """``network_seed`` as an int, or :class:`~fsbi_data.errors.ProtocolError` if it is not an
    integer in [1, NETWORK_SEED_MAX].

    Examples
    --------
    >>> check_network_seed(np.int64(7))
    7
    """
    if isinstance(network_seed, bool) or not isinstance(network_seed, (int, np.integer)):
        raise ProtocolError(f"network_seed must be an integer >= 1, got {network_seed!r}")
    if not 1 <= int(network_seed) <= NETWORK_SEED_MAX:
        raise ProtocolError(f"network_seed must lie in [1, {NETWORK_SEED_MAX}], got "
                            f"{network_seed}")
    return int(network_seed)


def network_seed_of(seed: str) -> int:
    """The default network seed of the rule with rule seed ``seed``: in [1, NETWORK_SEED_MAX].

    Examples
    --------
    >>> network_seed_of("0123456789abcdef0123456789abcdef")
    19088744
    """
    return int(seed[:8], 16) % NETWORK_SEED_MAX + 1
