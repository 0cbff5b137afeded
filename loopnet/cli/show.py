"""`loopnet show`: pictures of a model and its data (needs matplotlib, the `plot` extra)."""
from __future__ import annotations

import argparse

from loopnet.cli.common import positive_int, seed
from loopnet.cli.output_paths import check_distinct, check_output
from loopnet.errors import ConfigError, ShapeError
from loopnet.pictures import PICTURES

HELP = "draw a model's first-layer weights, its misclassified images, its confusion matrix, or digits"
DEFAULT_COUNT = {"misclassified": 32, "digits": 40}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("picture", choices=PICTURES,
                        help="weights: each hidden neuron's first-layer weights as an image; "
                             "misclassified: images the model gets wrong; confusion: the "
                             "confusion matrix; digits: sample digits with labels")
    parser.add_argument("--model", metavar="MODEL.json",
                        help="a model saved by train --save (not needed for digits)")
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default), 'mnist', or a directory with the 4 IDX files")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="which split (default test)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N examples")
    parser.add_argument("--count", type=positive_int, metavar="N",
                        help="images to draw (default 32 misclassified, 40 digits)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--backend", choices=["auto", "python", "numba"], default="auto",
                        help="backend that runs the model over the data (default auto)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.png",
                        help="where to write the picture (PNG, SVG, PDF ...; written atomically)")


def run(args: argparse.Namespace) -> int:
    from loopnet import pictures

    check_output(args.output, "-o")
    if args.model is not None:
        check_distinct([("-o", args.output)], [("the model file", args.model)])
    pictures.check_picture_path(args.output)  # also: matplotlib is installed
    if args.model is None and args.picture != "digits":
        raise ConfigError(f"show {args.picture} needs --model MODEL.json")
    net = None
    if args.model is not None:
        from loopnet.model_io import load_model

        net = load_model(args.model, backend=args.backend)
    if args.picture == "weights":
        if net.n_layers < 2:
            raise ShapeError(f"model {args.model} has no hidden layer, so no hidden neurons to draw")
        pictures.image_side(net.sizes[0], f"model {args.model}")
        fig = pictures.weights_figure(net)
    else:
        from loopnet.data import load_data
        from loopnet.training import confusion_matrix

        train, test = load_data(args.data, seed=args.seed)
        data = test if args.split == "test" else train
        if args.limit:
            data = data.head(args.limit)
        what = f"{args.split} images"
        if net is not None and data.n_features != net.sizes[0]:
            raise ShapeError(f"model {args.model} takes {net.sizes[0]} inputs but {args.data} "
                             f"examples have {data.n_features}")
        if net is not None and max(data.labels) >= net.sizes[-1]:
            raise ShapeError(f"{args.data} has label {max(data.labels)} but model {args.model} "
                             f"has {net.sizes[-1]} outputs")
        count = args.count or DEFAULT_COUNT.get(args.picture, 0)
        if args.picture == "misclassified":
            pictures.image_side(data.n_features, args.data)
            fig = pictures.misclassified_figure(net, data, count, what)
        elif args.picture == "confusion":
            fig = pictures.confusion_figure(confusion_matrix(net, data), what)
        else:
            pictures.image_side(data.n_features, args.data)
            indices = list(range(min(count, len(data))))
            predicted = None
            if net is not None:
                predicted = pictures.predicted_classes(net, data.head(len(indices)))
            fig = pictures.digits_figure(data, indices, what, predicted)
    pictures.save_figure(fig, args.output)
    print(f"wrote {args.output}")
    return 0
