"""`loopnet evaluate`: accuracy and confusion matrix of a saved model on a data set."""

import argparse

from loopnet.cli.common import positive_int

HELP = "accuracy and confusion matrix of a saved model on the test set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="MODEL.json", help="a model saved by train --save")
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default), 'mnist', or a directory with the 4 IDX files")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="which part of the data to evaluate (default test)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N examples")
    parser.add_argument("--seed", type=int,
                        help="seed of the synthetic data (default: the seed the model was "
                             "trained with, from its file; else 0)")
    parser.add_argument("--backend", choices=["auto", "python", "numba"], default="auto")


def run(args: argparse.Namespace) -> int:
    from loopnet.data import load_data
    from loopnet.model_io import load_model, load_model_dict
    from loopnet.training import confusion_matrix

    net = load_model(args.model, backend=args.backend)
    seed = args.seed
    if seed is None:  # synthetic data is generated from a seed: score on the model's own test set
        stored = load_model_dict(args.model).get("metadata", {})
        seed = stored.get("seed") if isinstance(stored, dict) else None
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
    train, test = load_data(args.data, seed=seed)
    data = test if args.split == "test" else train
    if args.limit:
        data = data.head(args.limit)
    counts = confusion_matrix(net, data)
    correct = sum(counts[k][k] for k in range(len(counts)))
    source = f"{args.data} seed {seed}" if args.data == "synthetic" else args.data
    print(f"{args.model} on {source} ({args.split}, {len(data)} examples): "
          f"accuracy {correct / len(data):.4f} ({correct}/{len(data)})")
    print("confusion matrix (rows: true label, columns: predicted)")
    width = max(5, len(str(max(max(row) for row in counts))) + 1)
    print("     " + "".join(f"{k:>{width}}" for k in range(len(counts))))
    for k, row in enumerate(counts):
        print(f"{k:>4} " + "".join(f"{v:>{width}}" for v in row))
    return 0
