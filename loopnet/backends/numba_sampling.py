"""The Numba backend's minibatch sampler: a block of SplitMix64 draws computed at once with
NumPy.  Part of the Numba layer (the python backend draws one at a time with loopnet.rng and
never imports NumPy); it needs NumPy only, not Numba itself.

SplitMix64 is counter-based: draw k mixes only seed + k·γ, so k = 1 ... count are mixed as one
array.  Used by the Numba backend's `sample_indices` and by the benchmark's array peers, which
must draw loopnet's minibatches without loading Numba.
"""
from __future__ import annotations

import numpy as np

from loopnet.rng import GOLDEN_GAMMA, MIX1, MIX2, Rng, RngArgumentError


def block_randbelow(rng: Rng, n: int, count: int) -> np.ndarray:
    """`count` draws of rng.randbelow(n) as int64, bit-identical to calling it `count` times
    (and leaving `rng` where those calls would)."""
    if not 1 <= n <= 1 << 32:
        raise RngArgumentError(f"randbelow needs 1 <= n <= 2**32, got {n}")
    steps = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(rng.state) + steps * np.uint64(GOLDEN_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
        z = z ^ (z >> np.uint64(31))
        indices = ((z >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32)
    rng.skip(count)
    return indices.astype(np.int64)
