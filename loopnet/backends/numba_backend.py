"""The Numba backend: the functions of `loopnet.kernels`, compiled unchanged with `numba.njit`.

A second copy of the kernels module is loaded under another name and every function in it is
replaced by its compiled dispatcher, so kernels that call each other resolve to compiled code while
`loopnet.kernels` itself stays plain Python for the Python backend.  No `fastmath`: the compiled
loops do the same float64 operations in the same order, so results are bit-for-bit those of the
Python backend ("exact mode").
"""
from __future__ import annotations

from loopnet.cache import configure_numba_cache

configure_numba_cache()  # before numba is imported: never cache inside the package

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba.typed import List  # noqa: E402

from loopnet.backends.numba_aligned import aligned_copy, aligned_zeros  # noqa: E402
from loopnet.backends.numba_compile import compiled_kernels  # noqa: E402
from loopnet.backends.numba_parallel import (  # noqa: E402
    ParallelDispatch,
    exact_mode_in_order,
    in_order_kernels,
    parallel_kernels,
)
from loopnet.backends.numba_sampling import block_randbelow  # noqa: E402
from loopnet.backends.numba_specialized import specialized_kernels  # noqa: E402
from loopnet.errors import DataError, ShapeError  # noqa: E402


@numba.njit(cache=True)
def _empty_tensor_list():
    # made in compiled code: a typed List made in Python compiles Numba's list helpers (0.1 s)
    # in every process, where this loads from the cache
    return List.empty_list(numba.float64[::1])


class NumbaBackend:
    """Buffers are contiguous NumPy arrays (the float64 ones begin on a cache line:
    loopnet.backends.numba_aligned); tensor lists are tuples of them."""

    name = "numba"

    def __init__(self, parallel: bool = False) -> None:
        self.parallel = parallel
        if parallel:
            self.kernels = ParallelDispatch()
        else:
            self.kernels = compiled_kernels()

    def training_kernels(self, sizes, activation: int, output: int):
        """The kernels for training and evaluating one network, compiled for its shape: in
        exact mode on P > 1 cores numba_parallel's in-order kernels (every sum in exact mode's
        order, so the same bits), on one core numba_specialized's; in parallel mode the
        parallel kernels."""
        if self.parallel:
            return parallel_kernels(sizes, activation, output)
        if exact_mode_in_order():
            return in_order_kernels(sizes, activation, output)
        return specialized_kernels(sizes, activation, output)

    def zeros(self, n: int) -> np.ndarray:
        return aligned_zeros(n)

    def float_buffer(self, values) -> np.ndarray:
        return aligned_copy(values)

    def int_buffer(self, values) -> np.ndarray:
        return np.array(values, dtype=np.int64).reshape(-1)

    def tensor_list(self, buffers: list):
        """A tuple of the arrays: indexing a tuple in compiled code costs less than a typed
        List's (measured 18 % of a 784-50-10 step).  An empty list stays a typed List, so
        that an optimizer without state still has a well-typed (unused) argument."""
        if buffers:
            return tuple(buffers)
        return _empty_tensor_list()

    def index_buffer(self, n: int) -> np.ndarray:
        """n zero ints for input indices (int32: a dataset's indices take half the memory)."""
        return np.zeros(n, dtype=np.int32)

    def byte_buffer(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.uint8)

    def pixel_buffer(self, pixels: bytes) -> np.ndarray:
        return np.frombuffer(pixels, dtype=np.uint8)

    def feature_buffer(self, features) -> np.ndarray:
        """A float dataset's array('d') as a float64 array over the same memory."""
        return np.frombuffer(features, dtype=np.float64)

    def value_buffer(self, n: int) -> np.ndarray:
        return aligned_zeros(n)

    def nonzero_count(self, pixels: np.ndarray) -> int:
        return int(np.count_nonzero(pixels))

    def to_list(self, buffer) -> list[float]:
        return [float(v) for v in buffer]

    def sample_indices(self, rng, n: int, count: int) -> np.ndarray:
        """`count` draws of rng.randbelow(n), bit-identical to calling it `count` times."""
        return block_randbelow(rng, n, count)

    def rows(self, rows, width: int, what: str) -> tuple[np.ndarray, int]:
        """Rows as one flat float64 array; reject ragged rows, wrong widths and NaN."""
        try:
            arr = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ShapeError(f"{what} rows are not equal-length sequences of numbers: {exc}") from None
        if arr.ndim != 2 or arr.shape[1] != width:
            got = arr.shape[1] if arr.ndim == 2 else "ragged or non-2-D"
            raise ShapeError(f"{what} rows have {got} values, expected {width}")
        if not np.isfinite(arr).all():
            r = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise DataError(f"{what} row {r} contains NaN or infinity")
        return np.ascontiguousarray(arr).reshape(-1), arr.shape[0]



