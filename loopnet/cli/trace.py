"""`loopnet trace`: print every neuron's forward and backward computation with real numbers."""

import argparse

from loopnet.cli.common import (
    add_output_arguments,
    int_list,
    non_negative_float,
    output_options,
    positive_float,
    positive_int,
)
from loopnet.cli.common import seed as seed_arg
from loopnet.cli.common import weight_init as weight_init_arg
from loopnet.errors import ConfigError
from loopnet.memory import PY_FLOAT_BYTES, require_memory
from loopnet.network import MultiLayerNet
from loopnet.rng import Rng
from loopnet.trace import DEFAULT_PRECISION, FORMATS, render, trace_batch

HELP = "print each neuron's equations with the numbers the kernels compute (forward, backward, update)"
DEFAULT_SIZES = [3, 4, 3]  # the Mind article's figures: X1..X3, H1..H4, A1..A3
DATA_SIZES_HIDDEN = [50]  # with --data and no --sizes: the book's 784-50-10
DEFAULT_SEED = 3
INPUT_SEED_OFFSET = 1  # generated inputs come from Rng(seed + 1): init keeps Rng(seed)
# Memory of a trace per example and weight: 617 MB for 5000 examples of a 784-50-10 network
# were measured (3.1 bytes); 16 leaves room for denser inputs and longer numbers.
TRACE_BYTES_PER_TERM = 16


def add_network_arguments(parser: argparse.ArgumentParser, *, title: str, seed_help: str,
                          model_help: str, lr_help: str) -> None:
    """The network options `trace` and `explore` share: sizes, activation, output, init, λ,
    seed, a saved model and η."""
    net = parser.add_argument_group(title)
    net.add_argument("--sizes", type=int_list, default=None, metavar="N,N,...",
                     help="layer widths (default 3,4,3; with --data 784,50,10)")
    net.add_argument("--activation", choices=["relu", "sigmoid", "tanh"], default="relu",
                     help="hidden-layer activation (default relu)")
    add_output_arguments(net)
    net.add_argument("--init", "--weight-init", dest="weight_init", type=weight_init_arg,
                     default="he", metavar="STD|SCHEME",
                     help="initial weights: a std such as 0.01, or he, xavier, uniform "
                          "(default he, so the numbers are readable; --weight-init is an alias)")
    net.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="λ",
                     help="L2 weight decay λ (default 0)")
    net.add_argument("--seed", type=seed_arg, default=DEFAULT_SEED, help=seed_help)
    net.add_argument("--model", metavar="FILE", help=model_help)
    net.add_argument("--lr", type=positive_float, default=0.1, metavar="η", help=lr_help)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Network, example selection, focus and output options."""
    add_network_arguments(
        parser, title="network",
        seed_help=f"seed of the initial weights (default {DEFAULT_SEED}: in the default 3-4-3 "
                  "trace three of the four hidden neurons fire)",
        model_help="trace a saved model instead (its sizes, activation, output, λ)",
        lr_help="learning rate of the traced SGD update (default 0.1)")
    data = parser.add_argument_group("examples")
    data.add_argument("--data", metavar="SPEC",
                      help="synthetic, mnist or an MNIST directory (default: inputs drawn from "
                           "the seed, rounded to 2 decimals, and a random class)")
    data.add_argument("--split", choices=["train", "test"], default="train",
                      help="which split of --data (default train)")
    data.add_argument("--example", type=positive_int, default=1, metavar="I",
                      help="number of the first example, 1-based like every index the trace "
                           "prints (H_1, W_{1,1}, --layer, --neuron) (default 1)")
    data.add_argument("--batch", type=positive_int, default=1, metavar="N",
                      help="minibatch size: examples I..I+N-1, accumulated (default 1)")
    focus = parser.add_argument_group("focus and format")
    focus.add_argument("--layer", type=positive_int, default=None, metavar="L",
                       help="show per-neuron equations of layer L only (1 = first hidden)")
    focus.add_argument("--neuron", type=positive_int, default=None, metavar="J",
                       help="with --layer: only neuron J (1-based) of that layer")
    focus.add_argument("--format", choices=FORMATS, default="text",
                       help="text (default), markdown ($$ equations) or latex (a document)")
    focus.add_argument("--precision", type=positive_int, default=DEFAULT_PRECISION, metavar="P",
                       help=f"significant digits of every number, 1..17 (default "
                            f"{DEFAULT_PRECISION}; 17 round-trips float64 exactly)")


def _network(args: argparse.Namespace) -> tuple[MultiLayerNet, str]:
    if args.model:
        if args.sizes is not None:
            raise ConfigError("--sizes cannot be combined with --model (the model has its sizes)")
        from loopnet.model_io import load_model

        return load_model(args.model, backend="python"), f"model {args.model}"
    sizes = args.sizes
    if sizes is None:
        sizes = DEFAULT_SIZES if args.data is None else [784, *DATA_SIZES_HIDDEN, 10]
    net = MultiLayerNet(sizes, activation=args.activation, **output_options(args),
                        weight_init=args.weight_init, weight_decay=args.weight_decay,
                        seed=args.seed, backend="python")
    return net, f"initial weights {args.weight_init} from seed {args.seed}"


def _examples(args: argparse.Namespace, net: MultiLayerNet) -> tuple[list, list[int], list[str],
                                                                      str]:
    """Rows, labels, names and a description of the traced examples."""
    first, count = args.example - 1, args.batch  # `first` 0-based from here on
    n_in, n_out = net.sizes[0], net.sizes[-1]
    terms = sum(a * b for a, b in zip(net.sizes, net.sizes[1:]))
    require_memory(count * terms * TRACE_BYTES_PER_TERM
                   + (first + count if args.data is None else count) * n_in * PY_FLOAT_BYTES,
                   f"--example {args.example} with --batch {count}")
    if args.data is None:
        rng = Rng(args.seed + INPUT_SEED_OFFSET)
        rows, labels = [], []
        for _ in range(first + count):
            rows.append([round(rng.uniform(), 2) for _ in range(n_in)])
            labels.append(rng.randbelow(n_out))
        rows, labels = rows[first:], labels[first:]
        names = [f"generated #{first + n + 1}, label {c} (T_{c + 1} = 1)"
                 for n, c in enumerate(labels)]
        return rows, labels, names, f"inputs generated from seed {args.seed} + 1"
    from loopnet.data import load_data

    train, test = load_data(args.data)
    data = train if args.split == "train" else test
    if data.n_features != n_in:
        raise ConfigError(f"{args.data} examples have {data.n_features} values but the network "
                          f"takes {n_in} inputs (use --sizes {data.n_features},...)")
    if first + count > len(data):
        raise ConfigError(f"examples {first + 1}..{first + count} requested, but the "
                          f"{args.split} split has {len(data)}")
    labels = list(data.labels[first:first + count])
    if max(labels) >= n_out:
        raise ConfigError(f"label {max(labels)} needs more than {n_out} outputs")
    rows = [data.row(i) for i in range(first, first + count)]
    names = [f"{args.split} #{first + n + 1}, label {c} (T_{c + 1} = 1)"
             for n, c in enumerate(labels)]
    return rows, labels, names, f"data {args.data}, {args.split} split"


def run(args: argparse.Namespace) -> int:
    """Trace and print; the network is not changed or saved."""
    if args.neuron is not None and args.layer is None:
        raise ConfigError("--neuron needs --layer")
    if args.precision > 17:
        raise ConfigError(f"--precision must be 1..17, got {args.precision}")
    net, source = _network(args)
    rows, labels, names, data_source = _examples(args, net)
    trace = trace_batch(net, rows, labels, lr=args.lr, layer=args.layer, neuron=args.neuron,
                        names=names, header=[f"Network: {source}; {data_source}."])
    print(render(trace, args.format, args.precision), end="")
    return 0
