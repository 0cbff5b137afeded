"""`loopnet predict`: one digit through a saved model, drawn in the terminal with its outputs."""
from __future__ import annotations

import argparse
import json

from loopnet.cli.common import seed
from loopnet.digit_image import SIDE
from loopnet.errors import ConfigError, ShapeError

HELP = "predict one digit (a picture file or a data set's example): the digit, the ten outputs, the class"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="MODEL.json",
                        help="a model saved by train --save (784 inputs for --image)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", metavar="FILE",
                        help="a PNG/JPEG/... of any size, converted as MNIST's digits were: grey, "
                             "scaled into 20×20, centred by mass in 28×28 (needs loopnet[image])")
    source.add_argument("--data", metavar="SPEC",
                        help="synthetic, mnist or an MNIST directory; with --index")
    parser.add_argument("--index", type=int, default=None, metavar="I",
                        help="with --data: the example's index (0-based)")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="with --data: which split (default test)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (pixels, scores, outputs, predicted) instead")


def _example(args: argparse.Namespace, n_in: int) -> tuple[bytes, int | None, str, int]:
    """(pixels, label or None, description, image width) of the chosen example."""
    if args.image is not None:
        if args.index is not None:
            raise ConfigError("--index goes with --data, not with --image")
        if n_in != SIDE * SIDE:
            raise ShapeError(f"model {args.model} takes {n_in} inputs; a picture gives "
                             f"{SIDE}×{SIDE} = {SIDE * SIDE}")
        from loopnet.digit_image import read_digit_image

        return read_digit_image(args.image), None, f"image {args.image}", SIDE
    if args.index is None:
        raise ConfigError("--data needs --index I (which example)")
    from loopnet.data import load_data

    train, test = load_data(args.data, seed=args.seed)
    data = test if args.split == "test" else train
    if not 0 <= args.index < len(data):
        raise ConfigError(f"--index {args.index} is out of range: the {args.split} split of "
                          f"{args.data} has examples 0..{len(data) - 1}")
    if data.n_features != n_in:
        raise ShapeError(f"model {args.model} takes {n_in} inputs but {args.data} examples have "
                         f"{data.n_features}")
    start = args.index * n_in
    width = data.image_shape[-1] if data.image_shape else n_in
    return (data.pixels[start:start + n_in], data.labels[args.index],
            f"{args.split} #{args.index} of {args.data}", width)


def run(args: argparse.Namespace) -> int:
    from loopnet.model_io import load_model
    from loopnet.prediction import digit_blocks, framed, output_bars, predict_pixels

    if args.image is not None:
        from loopnet.digit_image import require_pillow

        require_pillow()
    net = load_model(args.model, backend="python")
    pixels, label, source, width = _example(args, net.sizes[0])
    result = predict_pixels(net, pixels)
    if args.json:
        print(json.dumps({"source": source, "label": label, "predicted": result.predicted,
                          "output": net.output, "outputs": result.outputs,
                          "scores": result.scores, "pixels": list(pixels)}, allow_nan=False))
        return 0
    print(source + (f", label {label}" if label is not None else ""))
    for line in framed(digit_blocks(pixels, width)):
        print("  " + line)
    titles = {"softmax": "probabilities Y_k (softmax):",
              "sigmoid": "outputs Y_k = σ(A_k), each between 0 and 1 (sigmoid):"}
    print(titles.get(net.output, f"outputs Y_k ({net.output}):"))
    for line in output_bars(result, net.output in titles):
        print(line)
    verdict = ""
    if label is not None:
        verdict = "  (correct)" if label == result.predicted else f"  (wrong: the label is {label})"
    print(f"predicted class: {result.predicted}{verdict}")
    return 0
