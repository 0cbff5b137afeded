"""The pure-Python backend: the kernels run exactly as written, over Python lists."""

import math
from array import array
from collections.abc import Sequence

from loopnet import kernels
from loopnet.errors import DataError, ShapeError


class PythonBackend:
    """Buffers are `list[float]`; kernels are `loopnet.kernels` itself."""

    name = "python"
    parallel = False
    kernels = kernels

    def training_kernels(self, sizes, activation: int, output: int):
        """The kernels a Trainer runs: here, as for everything, loopnet.kernels itself."""
        return kernels

    def zeros(self, n: int) -> list[float]:
        return [0.0] * n

    def float_buffer(self, values: Sequence[float]) -> list[float]:
        return [float(v) for v in values]

    def int_buffer(self, values: Sequence[int]) -> list[int]:
        return [int(v) for v in values]

    def tensor_list(self, buffers: list) -> list:
        return list(buffers)

    def index_buffer(self, n: int) -> array:
        """n zero ints for input indices: an int32 array, a quarter of a list's memory."""
        return array("i", bytes(4 * n))

    def byte_buffer(self, n: int) -> bytearray:
        return bytearray(n)

    def pixel_buffer(self, pixels: bytes) -> bytes:
        return pixels

    def feature_buffer(self, features: array) -> array:
        """A float dataset's array('d') as it is."""
        return features

    def value_buffer(self, n: int) -> array:
        """n zero float64 in an array('d'): a third of a list of distinct floats' memory."""
        return array("d", bytes(8 * n))

    def nonzero_count(self, pixels: bytes) -> int:
        return len(pixels) - pixels.count(0)

    def to_list(self, buffer) -> list[float]:
        return list(buffer)

    def sample_indices(self, rng, n: int, count: int) -> list[int]:
        """`count` draws of rng.randbelow(n), in order."""
        return [rng.randbelow(n) for _ in range(count)]

    def rows(self, rows, width: int, what: str) -> tuple[list[float], int]:
        """Flatten a sequence of equal-length numeric rows; reject wrong widths and NaN."""
        flat: list[float] = []
        count = 0
        for r, row in enumerate(rows):
            try:
                values = [float(v) for v in row]
            except (TypeError, ValueError, OverflowError) as exc:
                raise ShapeError(f"{what} row {r} is not a sequence of numbers: {exc}") from None
            if len(values) != width:
                raise ShapeError(f"{what} row {r} has {len(values)} values, expected {width}")
            for v in values:
                if not math.isfinite(v):
                    raise DataError(f"{what} row {r} contains {v} (NaN or infinity)")
            flat.extend(values)
            count += 1
        return flat, count
