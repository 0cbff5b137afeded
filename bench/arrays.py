"""What the array peers of bench/worker.py share: the data as arrays and loopnet's minibatches.

Only NumPy is imported here; the PyTorch and JAX peers convert these arrays to their own.
"""
from __future__ import annotations

import numpy as np

from loopnet.backends.numba_sampling import block_randbelow
from loopnet.rng import Rng
from loopnet.training import sampler_for


def dataset_arrays(data, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(X, labels): X = pixel / 255 as an (n, n_features) array of `dtype`, labels as int64."""
    pixels = np.frombuffer(data.pixels, dtype=np.uint8).reshape(len(data), data.n_features)
    x = (pixels / 255.0).astype(dtype)
    return x, np.frombuffer(data.labels, dtype=np.uint8).astype(np.int64)


class MinibatchIndices:
    """loopnet's minibatch sequence of a run seeded `seed`: the draws rng.randbelow(n) of
    `sampler_for(seed)`, a block at a time (loopnet.backends.numba_sampling: NumPy only, the
    same draws as loopnet's Numba backend, without importing Numba here)."""

    def __init__(self, seed: int, n: int) -> None:
        self.rng: Rng = sampler_for(seed)
        self.n = n

    def take(self, count: int) -> np.ndarray:
        """The next `count` indices, int64."""
        return block_randbelow(self.rng, self.n, count)
