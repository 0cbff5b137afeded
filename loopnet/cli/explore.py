"""`loopnet explore`: write one self-contained HTML page to look at every neuron of a network.

The network and examples are chosen exactly as `loopnet trace` chooses them (same options, same
defaults), so the page's numbers are the ones `loopnet trace` prints.
"""
from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from pathlib import Path

from loopnet.cli.common import positive_int
from loopnet.cli.output_paths import check_distinct, check_output
from loopnet.cli.trace import DEFAULT_SEED, add_network_arguments
from loopnet.errors import ConfigError

HELP = "write an interactive HTML page of the network: every neuron's equations, steps, edits"
DEFAULT_BATCH = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The network and example options of `loopnet trace`, plus -o and --open."""
    add_network_arguments(
        parser, title="network (as loopnet trace)",
        seed_help=f"seed of the initial weights and generated inputs (default {DEFAULT_SEED})",
        model_help="explore a saved model instead",
        lr_help="learning rate of the page's updates (default 0.1; changeable there)")
    data = parser.add_argument_group("examples (as loopnet trace)")
    data.add_argument("--data", metavar="SPEC",
                      help="synthetic, mnist or an MNIST directory (default: generated inputs)")
    data.add_argument("--split", choices=["train", "test"], default="train",
                      help="which split of --data (default train)")
    data.add_argument("--example", type=positive_int, default=1, metavar="I",
                      help="number of the first example, 1-based like every index loopnet "
                           "prints (H_1, W_{1,1}, trace's --layer/--neuron) (default 1)")
    data.add_argument("--batch", type=positive_int, default=DEFAULT_BATCH, metavar="N",
                      help=f"minibatch: examples I..I+N-1 (default {DEFAULT_BATCH})")
    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output-file", dest="output_file", default="explore.html",
                     metavar="FILE.html", help="the page to write (default explore.html)")
    out.add_argument("--open", action="store_true", help="open the page in a web browser")


def check_display() -> None:
    """--open needs somewhere to show a browser; fail before any work if there is none."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError("--open needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); "
                          "open the page in a browser yourself")


def run(args: argparse.Namespace) -> int:
    from loopnet.atomic import write_file_atomic
    from loopnet.cli.trace import _examples, _network
    from loopnet.explore import MAX_EXAMPLES, build_page, page_data

    check_output(args.output_file, "-o")
    if args.model is not None:
        check_distinct([("-o", args.output_file)], [("the model file", args.model)])
    if args.open:
        check_display()
    if args.batch > MAX_EXAMPLES:
        raise ConfigError(f"--batch must be 1..{MAX_EXAMPLES}, got {args.batch}")
    net, source = _network(args)
    rows, labels, names, data_source = _examples(args, net)
    hidden = f"{net.activation} hidden layers" if net.n_layers > 1 else "no hidden layer"
    summary = (f"sizes {'-'.join(map(str, net.sizes))}, {hidden}, {net.output} output with "
               f"{net.loss_name.replace('_', ' ')}, "
               f"N = {len(rows)}, λ = {net.weight_decay!r}; {source}; {data_source}")
    page = build_page(page_data(net, rows, labels, names, args.lr, summary),
                      title="-".join(map(str, net.sizes)))
    write_file_atomic(args.output_file, page)
    print(f"wrote {args.output_file} ({len(page.encode()) / 1e6:.2f} MB): open it in a browser")
    if args.open and not webbrowser.open(Path(args.output_file).resolve().as_uri()):
        raise ConfigError("--open: no web browser could be started; open the page yourself")
    return 0
