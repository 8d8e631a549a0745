"""Drawing new rules from a family's prior (the uniform box of :mod:`fsbi_data.schema`).

Examples
--------
>>> from fsbi_data.simulation.prior import sample_prior
>>> thetas = sample_prior("6pPol", 4, seed=0)
>>> thetas.shape
(4, 25)
"""

from __future__ import annotations

import numpy as np

from fsbi_data.schema import Family, family


def sample_prior(fam: Family | str, n: int, seed: int | np.random.Generator | None = None,
                 *, dtype: type[np.floating] = np.float64) -> np.ndarray:
    """``n`` theta vectors drawn uniformly from the family's prior bounds, as float64.

    ``seed`` makes the draw reproducible (an int or a NumPy Generator). ``dtype`` is the
    precision of the draw: ``np.float32`` gives values exactly representable in float32.
    """
    fam = family(fam)
    if n < 0:
        raise ValueError(f"the number of rules must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    low, width = fam.low.astype(dtype), (fam.high - fam.low).astype(dtype)
    return (low + rng.random((n, fam.n_theta), dtype=dtype) * width).astype(np.float64)
