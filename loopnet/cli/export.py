"""`loopnet export`: write a model's weights as NumPy .npz, a PyTorch state_dict or plain JSON."""

import argparse

from loopnet.cli.common import check_writable
from loopnet.model_io import load_model, load_model_dict
from loopnet.reference.export import FORMATS, export_weights, guess_format

HELP = "write a model's weights as NumPy .npz, a PyTorch state_dict or plain JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `loopnet export`."""
    parser.add_argument("--model", required=True, help="loopnet model file (JSON) to read")
    parser.add_argument("--format", choices=list(FORMATS), default=None,
                        help="npz, torch, json or mat (Octave Theta1, Theta2, … as ex4 keeps "
                             "them; default: from OUT's suffix .npz/.pt/.json/.mat)")
    parser.add_argument("out", metavar="OUT", help="file to write (replaced atomically)")


def run(args: argparse.Namespace) -> int:
    """Load the model, write its weights; 0 on success."""
    guess_format(args.out, args.format)
    check_writable(args.out, "OUT", inputs=[args.model])
    net = load_model(args.model, backend="python")
    metadata = load_model_dict(args.model).get("metadata")
    fmt = export_weights(net, args.out, args.format,
                         metadata if isinstance(metadata, dict) else None, inputs=[args.model])
    print(f"wrote {fmt} weights of {'-'.join(map(str, net.sizes))} {net.activation} "
          f"{net.output} model to {args.out}")
    return 0
