"""`loopnet trace`: print every neuron's forward and backward computation with real numbers."""

import argparse
import sys
from collections.abc import Iterator

from loopnet.atomic import atomic_output
from loopnet.cli.common import (
    add_output_arguments,
    check_writable,
    data_input_files,
    int_list,
    non_negative_float,
    output_options,
    positive_float,
    positive_int,
)
from loopnet.cli.common import seed as seed_arg
from loopnet.cli.common import weight_init as weight_init_arg
from loopnet.errors import ConfigError
from loopnet.memory import require_memory
from loopnet.network import MultiLayerNet
from loopnet.rng import Rng
from loopnet.trace import DEFAULT_PRECISION, FORMATS, trace_text

HELP = "print each neuron's equations with the numbers the kernels compute (forward, backward, update)"
DEFAULT_SIZES = [3, 4, 3]  # the Mind article's figures: X1..X3, H1..H4, A1..A3
DATA_SIZES_HIDDEN = [50]  # with --data and no --sizes: the book's 784-50-10
DEFAULT_SEED = 3
INPUT_SEED_OFFSET = 1  # generated inputs come from Rng(seed + 1): init keeps Rng(seed)
# The trace is written example by example; only the minibatch loss line, L = (E_1 + ... + E_N)/N,
# grows with N: 8 bytes of E_n, then its tokens and text while that line is rendered (measured
# 210-240 bytes an example with tracemalloc at N = 100 000, in every format; rounded up).
LOSS_LINE_BYTES_PER_EXAMPLE = 512
# Generated inputs are one stream from the seed: reaching --example I draws every earlier row.
MAX_SKIPPED_DRAWS = 10_000_000  # about 10 s


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
    focus.add_argument("-o", "--output-file", dest="output_file", default=None, metavar="FILE",
                       help="write the trace to FILE instead of standard output (atomically: "
                            "the complete trace or, if it fails, the old FILE)")


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


def _example_stream(args: argparse.Namespace, net: MultiLayerNet
                    ) -> tuple[Iterator[tuple[list[float], int, str]], int, str]:
    """The traced examples as a lazy stream of (row, label, name), their count and a
    description.  Only the requested rows are read (or drawn), one at a time."""
    first, count = args.example - 1, args.batch  # `first` 0-based from here on
    n_in, n_out = net.sizes[0], net.sizes[-1]
    if args.data is None:
        last_example = 1 + MAX_SKIPPED_DRAWS // (n_in + 1)
        if args.example > last_example:
            raise ConfigError(f"--example must be 1..{last_example} for generated inputs of "
                              f"{n_in} values (reaching example I draws every earlier one), "
                              f"got {args.example}")
        _require_trace_memory(args, count)
        return (_generated(args.seed, first, count, n_in, n_out), count,
                f"inputs generated from seed {args.seed} + 1")
    from loopnet.data import load_data

    train, test = load_data(args.data)
    data = train if args.split == "train" else test
    if data.n_features != n_in:
        raise ConfigError(f"{args.data} examples have {data.n_features} values but the network "
                          f"takes {n_in} inputs (use --sizes {data.n_features},...)")
    if first + count > len(data):
        raise ConfigError(f"--example {args.example} --batch {count} asks for examples "
                          f"{first + 1}..{first + count}, but the {args.split} split has "
                          f"{len(data)}")
    top = max(data.labels[first:first + count])
    if top >= n_out:
        raise ConfigError(f"label {top} needs more than {n_out} outputs")
    _require_trace_memory(args, count)
    rows = ((data.row(i), data.labels[i], f"{args.split} #{i + 1}, label {data.labels[i]} "
                                          f"(T_{data.labels[i] + 1} = 1)")
            for i in range(first, first + count))
    return rows, count, f"data {args.data}, {args.split} split"


def _generated(seed: int, first: int, count: int, n_in: int, n_out: int
               ) -> Iterator[tuple[list[float], int, str]]:
    """Examples first+1 .. first+count of the stream drawn from Rng(seed + 1): each n_in
    inputs uniform in [0, 1) rounded to 2 decimals, then a random class."""
    rng = Rng(seed + INPUT_SEED_OFFSET)
    for n in range(first + count):
        row = [round(rng.uniform(), 2) for _ in range(n_in)]
        label = rng.randbelow(n_out)
        if n >= first:
            yield row, label, f"generated #{n + 1}, label {label} (T_{label + 1} = 1)"


def _require_trace_memory(args: argparse.Namespace, count: int) -> None:
    """The one part of a streamed trace that grows with --batch: the minibatch loss line."""
    require_memory(count * LOSS_LINE_BYTES_PER_EXAMPLE, f"--batch {count}")


def _examples(args: argparse.Namespace, net: MultiLayerNet) -> tuple[list, list[int], list[str],
                                                                      str]:
    """Rows, labels, names and a description of the traced examples, as lists (for explore,
    whose page holds them all)."""
    stream, _, data_source = _example_stream(args, net)
    rows, labels, names = [], [], []
    for row, label, name in stream:
        rows.append(row)
        labels.append(label)
        names.append(name)
    return rows, labels, names, data_source


def run(args: argparse.Namespace) -> int:
    """Trace and print (or write -o) piece by piece; the network is not changed or saved."""
    if args.neuron is not None and args.layer is None:
        raise ConfigError("--neuron needs --layer")
    if args.precision > 17:
        raise ConfigError(f"--precision must be 1..17, got {args.precision}")
    inputs = [*([args.model] if args.model else []),
              *(data_input_files(args.data) if args.data else [])]
    if args.output_file is not None:
        check_writable(args.output_file, "-o", inputs)
    net, source = _network(args)
    examples, count, data_source = _example_stream(args, net)
    pieces = trace_text(net, examples, count, lr=args.lr, layer=args.layer, neuron=args.neuron,
                        header=[f"Network: {source}; {data_source}."], fmt=args.format,
                        precision=args.precision)
    if args.output_file is None:
        for piece in pieces:
            sys.stdout.write(piece)
            sys.stdout.flush()  # a reader of a pipe sees each example as it is traced
        return 0
    with atomic_output(args.output_file, inputs=inputs) as handle:
        for piece in pieces:
            handle.write(piece.encode("utf-8"))
    print(f"wrote {args.output_file}")
    return 0
