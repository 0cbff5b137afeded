"""`loopnet train`: the book's training run, with accuracy per epoch."""

import argparse
import json
import sys
import time

from loopnet.cli.common import (
    add_data_arguments,
    add_network_arguments,
    check_writable,
    data_options,
    int_list,
    positive_float,
    positive_int,
    weight_init,
)

CLEAR_LINE = "\r\033[K"  # carriage return + erase to end of line (ANSI)
HELP = "train a network on digits (embedded synthetic set by default) and report accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default, generated and cached), 'mnist' (download), "
                             "a directory with the 4 MNIST IDX files, or float features in a "
                             ".npz (X, y[, X_test, y_test]), .csv or .mat (X, y) file")
    parser.add_argument("--test-data", metavar="FILE",
                        help="float data only: the test set, in a file of the same kind")
    add_data_arguments(parser)
    parser.add_argument("--hidden", type=int_list, default=[50], metavar="N[,N...]",
                        help="hidden layer widths (default 50)")
    parser.add_argument("--init", type=weight_init, default=0.01,
                        help="weight init: a std (default 0.01, the book's), he, xavier, uniform, or "
                             "uniform:EPS[:bias] (ε; ':bias' draws biases too; ex4: uniform:0.12:bias)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int, help="epochs of n_train/batch steps (default 5)")
    length.add_argument("--iters", type=positive_int, help="total training steps instead of epochs")
    parser.add_argument("--batch-size", type=positive_int, default=100, help="minibatch size (default 100)")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="learning rate η (default 0.1)")
    parser.add_argument("--optimizer", choices=["sgd", "momentum", "adagrad", "adam", "cg", "lbfgs"],
                        default="sgd",
                        help="update rule (default sgd); cg, lbfgs: SciPy's line-search "
                             "optimizers on the whole training set, --iters iterations (ex4's "
                             "fmincg; needs loopnet[mat])")
    add_network_arguments(parser)
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="use only the first N training and N test examples")
    parser.add_argument("--save", metavar="MODEL.json", help="save the trained model as JSON")
    parser.add_argument("--metrics", metavar="FILE.jsonl", help="write one JSON object per epoch")
    parser.add_argument("--plot", metavar="FILE.png", help="plot loss and accuracy (needs loopnet[plot])")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from loopnet.data.labels import describe as describe_labels
    from loopnet.model_io import save_model, write_atomic
    from loopnet.network import MultiLayerNet
    from loopnet.optimizers import make_optimizer
    from loopnet.training import Trainer

    for path, flag in ((args.save, "--save"), (args.metrics, "--metrics"), (args.plot, "--plot")):
        check_writable(path, flag)
    if args.plot:
        from loopnet.plot import require_matplotlib

        require_matplotlib()
    train, test = load_training_data(args)
    if args.limit:
        train = train.head(args.limit)
        test = test.head(args.limit) if test is not None else None
    sizes = [train.n_features, *args.hidden, train.n_classes]
    net = MultiLayerNet(sizes, activation=args.activation, output=args.output,
                        weight_init=args.init, weight_decay=args.weight_decay, seed=args.seed,
                        backend=args.backend, parallel=args.parallel)
    if args.optimizer in ("cg", "lbfgs"):
        from loopnet.cli.full_batch import run_full_batch

        return run_full_batch(args, net, train, test)
    optimizer = make_optimizer(args.optimizer, args.lr)
    trainer = Trainer(net, optimizer, train, test, batch_size=args.batch_size, seed=args.seed)
    epochs = None if args.iters else (args.epochs or 5)
    total_steps = args.iters or epochs * trainer.steps_per_epoch
    mode = f"{net.backend.name}{' parallel' if args.parallel else ''}"
    print(f"loopnet train: {'-'.join(map(str, sizes))} {args.activation}/{args.output}, "
          f"{args.optimizer} lr={args.lr}, batch {args.batch_size}, backend {mode}; "
          f"data {args.data}: {len(train)} train / {len(test) if test else 0} test", flush=True)
    if args.label_map:
        print(f"labels: {describe_labels(data_options(args)['label_map'])}", flush=True)
    if net.backend.name == "numba":
        _warm_up(trainer, args.quiet)

    bar = None
    results: list = []

    def on_steps(k: int) -> None:
        nonlocal bar
        if bar is None and not args.quiet:
            from tqdm import tqdm

            done = results[-1].steps if results else 0
            bar = tqdm(total=min(trainer.steps_per_epoch, total_steps - done), leave=False,
                       desc=f"epoch {len(results) + 1}", unit="step", file=sys.stderr,
                       disable=None)  # None: no bar when stderr is not a terminal
        if bar is not None:
            bar.update(k)

    def on_epoch(result) -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None
        results.append(result)
        print(f"epoch {result.epoch:3d}  step {result.steps:6d}  loss {result.loss:.4f}  "
              f"train acc {result.train_acc:.4f}  test acc {_acc(result.test_acc)}  "
              f"{result.epoch_train_seconds:.2f} s train + {result.eval_seconds:.2f} s eval",
              flush=True)

    chunk = 1 if net.backend.name == "python" else 20
    trainer.run(epochs=epochs, iters=args.iters, on_steps=on_steps, on_epoch=on_epoch,
                chunk_steps=chunk)
    last = results[-1]
    print(f"done: {last.steps} steps in {last.train_seconds:.2f} s of training "
          f"({1000 * last.train_seconds / last.steps:.3f} ms/step); "
          f"test accuracy {_acc(last.test_acc)}")
    meta = {"data": args.data, "steps": last.steps, "optimizer": args.optimizer, "lr": args.lr,
            "batch_size": args.batch_size, "seed": args.seed, "test_acc": last.test_acc,
            "train_acc": last.train_acc, "label_map": data_options(args)["label_map"]}
    if args.metrics:
        lines = [json.dumps({**r.as_dict(), "backend": mode}) for r in results]
        write_atomic(args.metrics, "\n".join(lines) + "\n")
    if args.plot:
        from loopnet.plot import plot_training

        plot_training(trainer.step_losses, results, args.plot)
    if args.save:
        save_model(net, args.save, meta)
        print(f"saved model to {args.save}")
    return 0


def load_training_data(args: argparse.Namespace) -> tuple:
    """(train, test or None) from --data, --test-data, --label-column and --label-map."""
    from loopnet.data import load_data, load_feature_file
    from loopnet.errors import ConfigError

    options = data_options(args)
    train, test = load_data(args.data, seed=args.seed, **options)
    if args.test_data:
        if not train.is_float:
            raise ConfigError("--test-data is for float data files; --data "
                              f"{args.data} has its own test set")
        if test is not None:
            raise ConfigError(f"--data {args.data} already holds X_test, y_test; drop --test-data")
        test, extra = load_feature_file(args.test_data, **options)
        if extra is not None:
            raise ConfigError(f"--test-data {args.test_data} holds X_test too; give one set")
        if test.n_features != train.n_features:
            raise ConfigError(f"--test-data examples have {test.n_features} features, "
                              f"--data ones {train.n_features}")
    if test is not None and test.n_classes != train.n_classes:  # no map: K from each file
        n_classes = max(train.n_classes, test.n_classes)
        train, test = (type(d)(d.pixels, d.labels, d.n_features, n_classes, d.image_shape,
                               d.features) for d in (train, test))
    return train, test


def _acc(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _warm_up(trainer, quiet: bool) -> None:
    """Compile (or load from Numba's cache) before timing starts; say so when it is slow."""
    start = time.perf_counter()
    terminal = sys.stderr.isatty()
    if not quiet:
        # on a terminal the line is replaced by "kernels ready"; in a log both lines stay
        print("compiling… (numba kernels; cached after the first run)", end="" if terminal else "\n",
              file=sys.stderr, flush=True)
    from loopnet.backends.numba_background import warm_up

    try:
        warm_up(trainer)
    finally:
        if not quiet:
            print(f"{CLEAR_LINE if terminal else ''}kernels ready in "
                  f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


