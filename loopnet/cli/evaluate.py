"""`loopnet evaluate`: accuracy and confusion matrix of a saved model on a data set."""

import argparse

from loopnet.cli.common import add_data_arguments, positive_int
from loopnet.cli.common import seed as seed_arg

HELP = "accuracy and confusion matrix of a saved model on the test set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="MODEL.json", help="a model saved by train --save")
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default), 'mnist', a directory with the 4 IDX files, "
                             "or a .npz, .csv or .mat file of float features")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="which part of the data to evaluate (default test; a float data "
                             "file without X_test is all 'train')")
    add_data_arguments(parser)
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N examples")
    parser.add_argument("--seed", type=seed_arg,
                        help="seed of the synthetic data (default: the seed the model was "
                             "trained with, from its file; else 0)")
    parser.add_argument("--backend", choices=["auto", "python", "numba"], default="auto")


def run(args: argparse.Namespace) -> int:
    from loopnet.data import load_data
    from loopnet.data.features import is_feature_file
    from loopnet.data.labels import parse_label_map
    from loopnet.errors import ConfigError
    from loopnet.model_io import load_model, load_model_dict
    from loopnet.training import confusion_matrix

    net = load_model(args.model, backend=args.backend)
    seed = args.seed
    if seed is None:  # synthetic data is generated from a seed: score on the model's own test set
        stored = load_model_dict(args.model).get("metadata", {})
        seed = stored.get("seed") if isinstance(stored, dict) else None
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
    label_map = parse_label_map(args.label_map) if args.label_map else None
    if label_map is None:  # the map the model was trained with, if any (train --save keeps it)
        metadata = load_model_dict(args.model).get("metadata")
        stored = metadata.get("label_map") if isinstance(metadata, dict) else None
        if isinstance(stored, list) and all(isinstance(v, int) for v in stored):
            label_map = stored if is_feature_file(args.data) else None
    if label_map is not None and len(label_map) != net.sizes[-1]:
        raise ConfigError(f"the label map lists {len(label_map)} labels but the model has "
                          f"{net.sizes[-1]} outputs")
    train, test = load_data(args.data, seed=seed, label_column=args.label_column,
                            label_map=label_map)
    data = test if args.split == "test" else train
    if data is None:
        raise ConfigError(f"{args.data} holds no test set (no X_test, y_test); use --split train")
    if args.limit:
        data = data.head(args.limit)
    counts = confusion_matrix(net, data)
    correct = sum(counts[k][k] for k in range(len(counts)))
    source = f"{args.data} seed {seed}" if args.data == "synthetic" else args.data
    print(f"{args.model} on {source} ({args.split}, {len(data)} examples): "
          f"accuracy {correct / len(data):.4f} ({correct}/{len(data)})")
    names = [str(v) for v in label_map] if label_map else [str(k) for k in range(len(counts))]
    if label_map:
        print("classes are the file's labels " + ", ".join(names) + " (in class order)")
    print("confusion matrix (rows: true label, columns: predicted)")
    width = max(5, len(str(max(max(row) for row in counts))) + 1, *(len(n) + 1 for n in names))
    print("     " + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, counts):
        print(f"{name:>4} " + "".join(f"{v:>{width}}" for v in row))
    return 0
