"""Argument types and checks shared by the subcommands."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from loopnet.errors import ConfigError


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
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
    """"784,50,10" → [784, 50, 10], each positive."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return values


def weight_init(text: str):
    """A positive std such as 0.01, or a scheme name: he, xavier, uniform."""
    if text in ("he", "xavier", "uniform"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a number nor one of he, xavier, uniform") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"init std must be positive, got {text}")
    return value


def check_writable(path: str | None, flag: str) -> None:
    """Fail before any work if `path`'s directory does not exist or cannot be written."""
    if path is None:
        return
    directory = Path(path).parent
    if not directory.is_dir():
        raise ConfigError(f"{flag} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise ConfigError(f"{flag} {path}: directory {directory} is not writable")
    if Path(path).is_dir():
        raise ConfigError(f"{flag} {path} is a directory")


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
    parser.add_argument("--seed", type=int, default=0, help="seed of init and sampling (default 0)")
    parser.add_argument("--backend", choices=["auto", "python", "numba"], default="auto",
                        help="python: the loops as written; numba: the same loops compiled; "
                             "auto (default): numba when installed")
    parser.add_argument("--parallel", action="store_true",
                        help="numba only: split each minibatch across cores")
