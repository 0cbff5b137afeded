"""Data sets: uint8 IDX files, MNIST (local or downloaded), the synthetic digits, and float
features from .npz, .csv and .mat files."""
from __future__ import annotations

from pathlib import Path

from loopnet.cache import cache_root
from loopnet.data.dataset import Dataset
from loopnet.data.features import LabelColumn, is_feature_file, load_feature_file
from loopnet.data.idx import PathLike, read_idx, write_idx
from loopnet.data.mnist import download_mnist, load_mnist
from loopnet.data.synthetic import generate_digits, synthetic_dataset
from loopnet.errors import DataError

__all__ = [
    "Dataset",
    "cache_root",
    "download_mnist",
    "generate_digits",
    "load_data",
    "load_feature_file",
    "load_mnist",
    "read_idx",
    "synthetic_dataset",
    "write_idx",
]


def load_data(
    spec: str | PathLike, *, seed: int = 0, cache_dir: PathLike | None = None,
    label_column: LabelColumn = None, label_map: list[int] | None = None,
) -> tuple[Dataset, Dataset | None]:
    """``(train, test)`` for a data spec.

    ``"synthetic"``: the default generated digits (seeded by `seed`, cached). ``"mnist"``: the
    official MNIST files, downloaded into the cache if needed. A ``.npz``, ``.csv`` or ``.mat``
    file: float features (see `load_feature_file`; `test` is None unless the file holds
    X_test, y_test; `label_column` and `label_map` apply here only). Anything else: a
    directory holding the four MNIST-named IDX files. Raises DataError for a directory that
    does not exist or lacks the files, and DownloadError when MNIST cannot be fetched.
    """
    if str(spec).strip() == "":
        raise DataError("--data is empty: give synthetic, mnist or a directory")
    if is_feature_file(spec):
        return load_feature_file(spec, label_column=label_column, label_map=label_map)
    if label_column is not None or label_map is not None:
        raise DataError(f"data {str(spec)!r}: a label column or label map applies to .npz, "
                        ".csv and .mat files only")
    if spec == "synthetic":
        return synthetic_dataset(seed=seed, cache_dir=cache_dir)
    if spec == "mnist":
        return load_mnist(download_mnist(cache_dir))
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"data {str(spec)!r} is neither 'synthetic', 'mnist' nor an existing directory "
            "(a directory must hold train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally .gz)"
        )
    return load_mnist(folder)
