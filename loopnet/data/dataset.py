"""A labelled image set kept as bytes: one uint8 per pixel, scaled by 1/255 only when used."""

from dataclasses import dataclass

from loopnet.errors import DataError, ShapeError


@dataclass(frozen=True)
class Dataset:
    """`n` examples of `n_features` uint8 pixels each (row-major in `pixels`) and uint8 labels.

    Keeping bytes instead of Python floats is what lets a 60 000 x 784 set fit in ~47 MB.
    """

    pixels: bytes
    labels: bytes
    n_features: int
    n_classes: int = 10
    image_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.n_features <= 0:
            raise ShapeError(f"n_features must be positive, got {self.n_features}")
        if len(self.pixels) != len(self.labels) * self.n_features:
            raise ShapeError(
                f"{len(self.labels)} labels but {len(self.pixels)} pixel bytes "
                f"(expected {len(self.labels) * self.n_features})"
            )
        if self.labels and max(self.labels) >= self.n_classes:
            bad = max(self.labels)
            raise DataError(f"label {bad} is not below the number of classes ({self.n_classes})")

    def __len__(self) -> int:
        return len(self.labels)

    def row(self, index: int) -> list[float]:
        """Example `index` as floats X_i = pixel_i / 255."""
        start = index * self.n_features
        return [p / 255.0 for p in self.pixels[start : start + self.n_features]]

    def head(self, count: int) -> "Dataset":
        """The first `count` examples (all of them if `count` is larger)."""
        count = min(count, len(self))
        return Dataset(
            self.pixels[: count * self.n_features],
            self.labels[:count],
            self.n_features,
            self.n_classes,
            self.image_shape,
        )
