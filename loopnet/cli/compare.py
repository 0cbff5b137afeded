"""`loopnet compare`: check the loops against vectorized NumPy and PyTorch, quantity by quantity."""

import argparse
import math
import sys

from loopnet.backends import BACKEND_NAMES
from loopnet.cli.common import (
    add_data_arguments,
    add_output_arguments,
    check_writable,
    data_input_files,
    data_options,
    output_options,
    seed,
)
from loopnet.errors import BackendError, ConfigError
from loopnet.memory import require_memory
from loopnet.network import ACTIVATIONS, MultiLayerNet
from loopnet.optimizers import OPTIMIZERS

HELP = ("compare every layer's values, the loss, the gradients and the updated parameters with "
        "NumPy and PyTorch references")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise ConfigError(f"--sizes takes comma-separated integers like 784,50,10; got {text!r}") from None
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ConfigError(f"--sizes needs at least two positive widths; got {text!r}")
    return sizes


def _weight_init(text: str):
    try:
        return float(text)
    except ValueError:
        return text  # a scheme name, validated by the network


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `loopnet compare`."""
    parser.add_argument("--sizes", default="784,50,10",
                        help="layer widths, input first (default 784,50,10)")
    parser.add_argument("--activation", default="relu", choices=list(ACTIVATIONS))
    add_output_arguments(parser)  # sigmoid and identity outputs get one-hot teacher rows
    parser.add_argument("--init", "--weight-init", dest="weight_init", default="0.01",
                        help="std of the normal init, or he, xavier, uniform (default 0.01; "
                             "--weight-init is an alias)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="λ (default 0)")
    parser.add_argument("--optimizer", default="sgd", choices=list(OPTIMIZERS))
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: the optimizer's, 0.01; Adam 0.001)")
    parser.add_argument("--steps", type=int, default=1,
                        help="optimizer steps before comparing the parameters (default 1)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--data", default="synthetic",
                        help="synthetic, mnist, a directory of the four MNIST IDX files, or a "
                             ".npz, .csv or .mat file of float features")
    add_data_arguments(parser)
    parser.add_argument("--against", default="numpy,torch",
                        help="comma list of oracles: numpy, torch (default both)")
    parser.add_argument("--backend", default="auto", choices=list(BACKEND_NAMES))
    parser.add_argument("--seed", type=seed, default=0,
                        help="seeds the weights, the synthetic data and the minibatch draws")
    parser.add_argument("--tolerance", type=float, default=1e-12,
                        help="largest absolute difference accepted (default 1e-12)")
    parser.add_argument("--json", metavar="OUT.json", help="also write the table as JSON")


def run(args: argparse.Namespace) -> int:
    """Build the net and the references, compare, print the table; 0 within tolerance, else 1."""
    try:
        from loopnet import compare
    except ImportError as exc:
        raise BackendError(f"loopnet compare needs NumPy ({exc}): pip install numpy") from None
    from loopnet.data import load_data

    sizes = _sizes(args.sizes)
    against = compare.parse_against(args.against)
    if "torch" in against and not compare.torch_available():
        if against == ["torch"]:
            raise BackendError("torch is not installed and it is the only oracle asked for "
                               "(pip install loopnet[torch], or --against numpy)")
        print(f"loopnet compare: {compare.TORCH_MISSING}", file=sys.stderr)
    if args.batch_size <= 0:
        raise ConfigError(f"--batch-size must be positive, got {args.batch_size}")
    if args.steps < 0:
        raise ConfigError(f"--steps must be >= 0, got {args.steps}")
    if not (args.tolerance >= 0.0 and math.isfinite(args.tolerance)):
        raise ConfigError(f"--tolerance must be a number >= 0, got {args.tolerance}")
    if args.lr is not None and not (args.lr > 0.0 and math.isfinite(args.lr)):
        raise ConfigError(f"--lr must be positive, got {args.lr}")
    check_writable(args.json, "--json", inputs=data_input_files(args.data))
    net = MultiLayerNet(sizes, activation=args.activation, **output_options(args),
                        weight_init=_weight_init(args.weight_init),
                        weight_decay=args.weight_decay, seed=args.seed, backend=args.backend)
    train, _ = load_data(args.data, seed=args.seed, **data_options(args))
    if train.n_features != sizes[0]:
        raise ConfigError(f"--sizes starts with {sizes[0]} inputs but {args.data} examples have "
                          f"{train.n_features} values")
    if max(train.labels) >= sizes[-1]:
        raise ConfigError(f"{args.data} has label {max(train.labels)} but --sizes ends with "
                          f"{sizes[-1]} outputs")
    # every step's minibatch is drawn up front: inputs and teachers as float64
    require_memory(max(args.steps, 1) * args.batch_size * 8 * (sizes[0] + sizes[-1] + 1),
                   f"--steps {args.steps} with --batch-size {args.batch_size}")
    batches, chosen = compare.select_batches(train, args.batch_size, args.steps, args.seed,
                                             one_hot=args.output != "softmax", n_out=sizes[-1])
    config = {"data": str(args.data), "batch_size": args.batch_size, "seed": args.seed,
              "weight_init": args.weight_init,
              "minibatch": f"Rng({args.seed}).choice({len(train)}, {args.batch_size}), one call per step",
              "first_batch_indices": chosen[0]}
    result = compare.compare_networks(net, batches, steps=args.steps, optimizer=args.optimizer,
                                      lr=args.lr, against=against, tolerance=args.tolerance,
                                      config=config)
    steps = f"{args.steps} step{'' if args.steps == 1 else 's'}"
    print(f"loopnet compare: {'-'.join(map(str, sizes))} {args.activation}/{args.output}"
          f"+{net.loss_name} g={net.log_guard:g}, "
          f"λ={args.weight_decay:g}, {args.optimizer} lr={result.config['lr']:g}, {steps}, "
          f"batch {args.batch_size} of {args.data}, backend {net.backend.name}")
    print(f"minibatches: {config['minibatch']}\n")
    print(result.format_table())
    if args.json:
        result.write_json(args.json)
    return 0 if result.ok else 1
