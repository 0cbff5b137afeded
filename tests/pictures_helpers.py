"""Helpers shared by the predict / show / explore tests: small models and IDX directories."""
from __future__ import annotations

from pathlib import Path

from loopnet import MultiLayerNet
from loopnet.data import generate_digits, write_idx
from loopnet.model_io import save_model

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def digits_dir(folder: Path, n_train: int = 60, n_test: int = 40) -> Path:
    """The four MNIST-named IDX files holding synthetic 28×28 digits."""
    folder.mkdir(parents=True, exist_ok=True)
    digits = generate_digits(n_train + n_test, seed=1)
    cut = n_train * 784
    write_idx(folder / IDX_NAMES[0], (n_train, 28, 28), digits.pixels[:cut])
    write_idx(folder / IDX_NAMES[1], (n_train,), digits.labels[:n_train])
    write_idx(folder / IDX_NAMES[2], (n_test, 28, 28), digits.pixels[cut:])
    write_idx(folder / IDX_NAMES[3], (n_test,), digits.labels[n_train:])
    return folder


def saved_model(path: Path, sizes=(784, 12, 10), seed: int = 0, **kwargs) -> Path:
    """A randomly initialised model saved at `path`."""
    net = MultiLayerNet(list(sizes), weight_init="he", seed=seed, **kwargs)
    save_model(net, path)
    return path
