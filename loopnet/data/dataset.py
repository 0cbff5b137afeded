"""A labelled example set: uint8 pixels (scaled by 1/255 only when used) or float features."""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from loopnet.errors import DataError, ShapeError


@dataclass(frozen=True)
class Dataset:
    """`n` examples of `n_features` values each, with uint8 class labels 0..n_classes-1.

    The values are either uint8 pixels (`pixels`, row-major; X_i = pixel_i / 255) or, for float
    data, `features`: an ``array('d')`` of n × n_features float64 used as they are (then `pixels`
    is empty).  Both stay in one flat C buffer, never as Python floats: a 60 000 x 784 set is
    47 MB of bytes or 376 MB of doubles, where a list of floats would take 1.5 GB.
    """

    pixels: bytes
    labels: bytes
    n_features: int
    n_classes: int = 10
    image_shape: tuple[int, ...] = ()
    features: array | None = None

    def __post_init__(self) -> None:
        if self.n_features <= 0:
            raise ShapeError(f"n_features must be positive, got {self.n_features}")
        if self.features is not None:
            _check_features(self.features, len(self.labels), self.n_features)
            if self.pixels:
                raise ShapeError("a dataset holds pixels or float features, not both")
        elif len(self.pixels) != len(self.labels) * self.n_features:
            raise ShapeError(
                f"{len(self.labels)} labels but {len(self.pixels)} pixel bytes "
                f"(expected {len(self.labels) * self.n_features})"
            )
        if self.labels and max(self.labels) >= self.n_classes:
            bad = max(self.labels)
            raise DataError(f"label {bad} is not below the number of classes ({self.n_classes})")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def is_float(self) -> bool:
        """True for float features (used as they are), False for uint8 pixels (scaled by 1/255)."""
        return self.features is not None

    def row(self, index: int) -> list[float]:
        """Example `index` as floats: X_i = pixel_i / 255, or the features themselves."""
        start = index * self.n_features
        if self.features is not None:
            return list(self.features[start : start + self.n_features])
        return [p / 255.0 for p in self.pixels[start : start + self.n_features]]

    def head(self, count: int) -> Dataset:
        """The first `count` examples (all of them if `count` is larger)."""
        count = min(count, len(self))
        end = count * self.n_features
        return Dataset(
            self.pixels[:end],
            self.labels[:count],
            self.n_features,
            self.n_classes,
            self.image_shape,
            None if self.features is None else self.features[:end],
        )


def _check_features(features: array, count: int, n_features: int) -> None:
    """ShapeError unless `features` is an array('d') of count × n_features; DataError naming the
    first row holding NaN or infinity."""
    if not isinstance(features, array) or features.typecode != "d":
        raise ShapeError(f"features must be an array('d') of float64, got {type(features).__name__}")
    if len(features) != count * n_features:
        raise ShapeError(f"{count} labels but {len(features)} feature values "
                         f"(expected {count} x {n_features} = {count * n_features})")
    try:
        finite = math.isfinite(math.fsum(features))  # one C loop; NaN and ±inf make it non-finite
    except OverflowError:  # finite values whose exact sum overflows: look at each one
        finite = False
    if finite:
        return
    for r in range(count):
        for v in features[r * n_features : (r + 1) * n_features]:
            if not math.isfinite(v):
                raise DataError(f"row {r} has a feature {v} (NaN or infinity); "
                                "every feature must be a finite number")
