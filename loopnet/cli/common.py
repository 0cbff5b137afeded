"""Argument types and checks shared by the subcommands."""
from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

from loopnet.atomic import check_output_target


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


SEED_LIMIT = 1 << 64


def seed(text: str) -> int:
    """A seed 0 ≤ s < 2**64: the generator keeps 64 bits, so -1 or 2**64 would silently be
    the same stream as 2**64 - 1 or 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"seeds are 0 to 2**64 - 1, got {text}")
    return value


def _finite_float(text: str, allow_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 or (allow_zero and value == 0)) or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be {'>= 0' if allow_zero else 'a positive number'}, got {text}")
    return value


def positive_float(text: str) -> float:
    return _finite_float(text, allow_zero=False)


def non_negative_float(text: str) -> float:
    return _finite_float(text, allow_zero=True)


def int_list(text: str) -> list[int]:
    """"784,50,10" → [784, 50, 10], each positive; no empty entries ("50," is a typo)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers "
                                         "(no empty entries)") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return values


def weight_init(text: str):
    """A positive std such as 0.01, a scheme name (he, xavier, uniform), or uniform:EPS[:bias]."""
    if text in ("he", "xavier", "uniform"):
        return text
    if text.startswith("uniform:"):
        from loopnet.errors import ConfigError
        from loopnet.network import fixed_uniform_init

        try:
            fixed_uniform_init(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a number nor one of he, xavier, uniform") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"init std must be positive, got {text}")
    return value


def check_writable(path: str | None, flag: str, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Fail before any work if loopnet must not or cannot write `path` (OutputFileError): its
    directory missing, unwritable or read-only, the name too long, or a symbolic link, device,
    FIFO, directory, read-only file or one of `inputs` in its place."""
    if path is not None:
        check_output_target(path, inputs, what=flag)


def data_input_files(spec: str) -> list[Path]:
    """The files a ``--data`` spec reads (none for 'synthetic'/'mnist'): a data file itself, or
    a directory's MNIST-named files.  Outputs must never be written over them."""
    from loopnet.data.mnist import MNIST_FILES

    given = Path(spec)
    if spec in ("synthetic", "mnist"):
        return []
    if given.is_file():
        return [given]
    try:
        return [entry for entry in given.iterdir()
                if entry.name.split(".")[0] in MNIST_FILES and entry.is_file()]
    except OSError:
        return []


def log_guard(text: str) -> float:
    """The g of log(Y + g): a number >= 0."""
    return _finite_float(text, allow_zero=True)


def add_output_arguments(parser) -> None:
    """--output, --loss, --log-guard (on a parser or an argument group)."""
    parser.add_argument("--output", choices=["softmax", "sigmoid", "identity"], default="softmax",
                        help="output units (default softmax)")
    parser.add_argument("--loss", choices=["cross_entropy", "squared_error"], default=None,
                        help="loss: cross_entropy (default for softmax and sigmoid) or "
                             "squared_error (default for identity; also with sigmoid)")
    parser.add_argument("--log-guard", type=log_guard, default=1e-7, metavar="G",
                        help="g in the cross-entropies' log(Y + g) (default the book's 1e-7; "
                             "0: none, and an infinite loss where a probability is 0 or 1)")


def output_options(args: argparse.Namespace) -> dict:
    """MultiLayerNet's output=, loss=, log_guard= from the parsed --output, --loss, --log-guard
    (a command without the last two, such as explore, gets the defaults); ConfigError (naming
    the supported pairs) for an unsupported output and loss."""
    from loopnet.network import DEFAULT_LOG_GUARD, check_loss

    return {"output": args.output, "loss": check_loss(args.output, getattr(args, "loss", None)),
            "log_guard": getattr(args, "log_guard", DEFAULT_LOG_GUARD)}


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--activation, --output, --loss, --log-guard, --weight-decay, --seed, --backend,
    --parallel."""
    parser.add_argument("--activation", choices=["relu", "sigmoid", "tanh"], default="relu",
                        help="hidden-layer activation (default relu)")
    add_output_arguments(parser)
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="λ",
                        help="L2 weight decay λ (default 0)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of init and sampling (default 0)")
    parser.add_argument("--backend", choices=["auto", "python", "numba"], default="auto",
                        help="python: the loops as written; numba: the same loops compiled; "
                             "auto (default): numba when installed (python on PyPy)")
    parser.add_argument("--parallel", action="store_true",
                        help="numba only: split each minibatch across cores")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--label-column and --label-map, for float data files (.npz, .csv, .mat)."""
    parser.add_argument("--label-column", metavar="COLUMN",
                        help=".csv only: the label's column, a 0-based index (negative from the "
                             "end) or a header name (default: the last column)")
    parser.add_argument("--label-map", metavar="LABELS",
                        help="the file's labels in class order, as a range 1..10 or a list "
                             "10,1,2: class c is the c-th label (ex4's 1..10: --label-map 1..10, "
                             "class 9 is label 10, the digit 0); default: labels are 0..K-1")


def data_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of load_data given by --label-column and --label-map."""
    from loopnet.data.labels import parse_label_map

    label_map = parse_label_map(args.label_map) if args.label_map else None
    return {"label_column": args.label_column, "label_map": label_map}
