"""`loopnet import`: turn .npz, PyTorch state_dict or JSON weights into a loopnet model file."""

import argparse

from loopnet.cli.common import check_writable, log_guard
from loopnet.model_io import save_model
from loopnet.network import ACTIVATIONS, LOSSES, OUTPUTS
from loopnet.reference.export import FORMATS, import_weights

HELP = "read .npz, PyTorch state_dict or JSON weights back into a loopnet model file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `loopnet import`."""
    parser.add_argument("--model", required=True, help="loopnet model file (JSON) to write")
    parser.add_argument("--format", choices=list(FORMATS), default=None,
                        help="npz, torch, json or mat (Octave Theta1, Theta2, … as ex4 keeps "
                             "them; default: from IN's suffix .npz/.pt/.json/.mat)")
    parser.add_argument("--activation", choices=list(ACTIVATIONS), default=None,
                        help="override the stored activation (a state_dict has none: relu)")
    parser.add_argument("--output", choices=list(OUTPUTS), default=None,
                        help="override the stored output layer (a state_dict has none: softmax)")
    parser.add_argument("--loss", choices=list(LOSSES), default=None,
                        help="override the stored loss (default: stored with its output, else "
                             "the output's default)")
    parser.add_argument("--log-guard", type=log_guard, default=None, metavar="G",
                        help="override the stored log guard g (default: stored, else 1e-7)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="override the stored λ (default: stored, else 0)")
    parser.add_argument("weights", metavar="IN", help="weights file written by loopnet export")


def run(args: argparse.Namespace) -> int:
    """Read the weights, save the model; 0 on success."""
    check_writable(args.model, "--model", inputs=[args.weights])
    net, metadata = import_weights(args.weights, args.format, activation=args.activation,
                                   output=args.output, weight_decay=args.weight_decay,
                                   loss=args.loss, log_guard=args.log_guard)
    save_model(net, args.model, {**metadata, "imported_from": str(args.weights)},
               inputs=[args.weights])
    print(f"wrote {'-'.join(map(str, net.sizes))} {net.activation} {net.output} "
          f"({net.loss_name}) model to {args.model}")
    return 0
