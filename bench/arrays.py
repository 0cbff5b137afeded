"""What the array peers of bench/worker.py share: the data as arrays and loopnet's minibatches.

Only NumPy is imported here; the PyTorch and JAX peers convert these arrays to their own.
"""
from __future__ import annotations

import numpy as np

from loopnet.rng import GOLDEN_GAMMA, MIX1, MIX2, Rng
from loopnet.training import sampler_for


def dataset_arrays(data, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(X, labels): X = pixel / 255 as an (n, n_features) array of `dtype`, labels as int64."""
    pixels = np.frombuffer(data.pixels, dtype=np.uint8).reshape(len(data), data.n_features)
    x = (pixels / 255.0).astype(dtype)
    return x, np.frombuffer(data.labels, dtype=np.uint8).astype(np.int64)


class MinibatchIndices:
    """loopnet's minibatch sequence of a run seeded `seed`: the draws rng.randbelow(n) of
    `sampler_for(seed)`, computed a block at a time with NumPy (bit-identical to the one-by-one
    draws; loopnet's Numba backend does the same, without importing Numba here).

    SplitMix64's k-th output mixes only seed + k·γ, so k = 1..count are mixed at once.
    """

    def __init__(self, seed: int, n: int) -> None:
        if not 1 <= n <= 1 << 32:
            raise ValueError(f"randbelow needs 1 <= n <= 2**32, got {n}")
        self.rng: Rng = sampler_for(seed)
        self.n = n

    def take(self, count: int) -> np.ndarray:
        """The next `count` indices, int64."""
        k = np.arange(1, count + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z = np.uint64(self.rng.state) + k * np.uint64(GOLDEN_GAMMA)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
            z = z ^ (z >> np.uint64(31))
            indices = ((z >> np.uint64(32)) * np.uint64(self.n)) >> np.uint64(32)
        self.rng.skip(count)
        return indices.astype(np.int64)
