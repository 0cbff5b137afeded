"""`loopnet train`: the book's training run, with accuracy per epoch; checkpoints and resume."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

from loopnet.cli.common import (
    add_data_arguments,
    add_network_arguments,
    data_options,
    int_list,
    output_options,
    positive_float,
    positive_int,
    weight_init,
)
from loopnet.cli.output_paths import check_distinct, check_output, same_file
from loopnet.cli.stop_signals import CLEAR_LINE, Interrupted, StopSignals, signal_name
from loopnet.errors import ConfigError, LoopnetError

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
    parser.add_argument("--init", "--weight-init", dest="init", type=weight_init, default=0.01,
                        help="weight init: a std (default 0.01, the book's), he, xavier, uniform, or "
                             "uniform:EPS[:bias] (ε; ':bias' draws biases too; ex4: uniform:0.12:bias; "
                             "--weight-init is an alias)")
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
    parser.add_argument("--metrics", metavar="FILE.jsonl",
                        help="write one JSON object per epoch, flushed as each epoch ends "
                             "('-': to stdout, the report then goes to stderr)")
    parser.add_argument("--plot", metavar="FILE.png", help="plot loss and accuracy (needs loopnet[plot])")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--checkpoint", metavar="FILE.json",
                        help="write the run's state here (atomically) at every epoch end, every "
                             "--checkpoint-every steps and on SIGINT/SIGTERM")
    parser.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                        help="also checkpoint every N steps (needs --checkpoint or --resume)")
    parser.add_argument("--resume", metavar="FILE.json",
                        help="continue the run of this checkpoint (its settings; checkpoints "
                             "go back to it unless --checkpoint names another file); the final "
                             "parameters are those of a run never interrupted, bit for bit")


def run(args: argparse.Namespace) -> int:
    with StopSignals() as signals:
        try:
            return _run(args, signals)
        except Interrupted as exc:  # outside the steps (loading, compiling, saving) or a 2nd signal
            _end_line()
            path = signals.checkpoint_written or args.resume
            again = (f"resume with: {_resume_command(args, path)}" if path
                     else "nothing was saved; run the same command again")
            print(f"loopnet: interrupted by {exc}; {again}", file=sys.stderr, flush=True)
            return exc.exit_code


def _run(args: argparse.Namespace, signals: StopSignals) -> int:
    from loopnet.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(args.resume) if args.resume else None
    if checkpoint is not None:
        _take_settings(args, checkpoint["run"])
    checkpoint_path = args.checkpoint or args.resume
    if args.checkpoint_every and not checkpoint_path:
        raise ConfigError("--checkpoint-every needs --checkpoint FILE (or --resume FILE)")
    _check_outputs(args, checkpoint_path)
    outputs = output_options(args)  # an unsupported pair fails before the data loads
    with _early_training_compile(args, outputs) as training_child:
        return _train(args, signals, checkpoint, checkpoint_path, outputs, training_child)


@contextlib.contextmanager
def _early_training_compile(args: argparse.Namespace, outputs: dict):
    """On the default synthetic data with the numba backend, a child process compiling the
    training loop while this one generates the data (its shape is known before it exists; see
    numba_background); None otherwise.  The child is stopped when training ends or fails."""
    child = None
    if (args.data == "synthetic" and args.backend != "python"
            and args.optimizer not in ("cg", "lbfgs")):
        from loopnet.backends import numba_available

        if numba_available():
            from loopnet.backends.numba_background import start_training_compile
            from loopnet.data.synthetic import N_CLASSES, N_PIXELS
            from loopnet.network import require_network_memory

            sizes = [N_PIXELS, *args.hidden, N_CLASSES]
            require_network_memory(sizes, "numba")  # before a child that would fail on it starts
            child = start_training_compile(sizes, args.activation, outputs["output"],
                                           outputs["loss"], args.parallel, args.optimizer)
    try:
        yield child
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


def _train(args: argparse.Namespace, signals: StopSignals, checkpoint: dict | None,
           checkpoint_path: str | None, outputs: dict, training_child) -> int:
    from loopnet.checkpoint import check_same_data, save_checkpoint
    from loopnet.data.labels import describe as describe_labels
    from loopnet.model_io import save_model
    from loopnet.network import MultiLayerNet
    from loopnet.optimizers import make_optimizer
    from loopnet.training import Trainer, not_learning

    report = sys.stderr if args.metrics == "-" else sys.stdout
    train, test = load_training_data(args)
    if args.limit:
        train = train.head(args.limit)
        test = test.head(args.limit) if test is not None else None
    sizes = [train.n_features, *args.hidden, train.n_classes]
    net = MultiLayerNet(sizes, activation=args.activation, **outputs,
                        weight_init=args.init, weight_decay=args.weight_decay, seed=args.seed,
                        backend=args.backend, parallel=args.parallel)
    if args.optimizer in ("cg", "lbfgs"):
        from loopnet.cli.full_batch import run_full_batch

        return run_full_batch(args, net, train, test)
    optimizer = make_optimizer(args.optimizer, args.lr)
    trainer = Trainer(net, optimizer, train, test, batch_size=args.batch_size, seed=args.seed)
    settings = _settings(args, sizes)
    if checkpoint is not None:
        check_same_data(args.resume, checkpoint, train, test)
        _check_same_shape(args.resume, checkpoint["run"], settings)
        trainer.set_state(checkpoint["state"])
    epochs = None if args.iters else (args.epochs or 5)
    total_steps = args.iters or epochs * trainer.steps_per_epoch
    if total_steps < trainer.steps_done:
        raise ConfigError(f"{args.resume} is at step {trainer.steps_done}, past the "
                          f"{total_steps} steps asked for")
    mode = f"{net.backend.name}{' parallel' if args.parallel else ''}"
    resumed = f"; resuming {args.resume} at step {trainer.steps_done}" if checkpoint else ""
    print(f"loopnet train: {'-'.join(map(str, sizes))} {args.activation}/{args.output}, "
          f"{args.optimizer} lr={args.lr}, batch {args.batch_size}, backend {mode}; "
          f"data {args.data}: {len(train)} train / {len(test) if test else 0} test{resumed}",
          file=report, flush=True)
    if args.label_map:
        print(f"labels: {describe_labels(data_options(args)['label_map'])}", file=report, flush=True)
    if net.backend.name == "numba":
        _warm_up(trainer, args.quiet, training_child)

    metrics = MetricsStream(args.metrics, mode)
    for result in trainer.results:  # a resumed run's file starts with the epochs already done
        metrics.write(result)
    bar = None
    warned = False

    def on_steps(k: int) -> None:
        nonlocal bar
        if bar is None and not args.quiet:
            from tqdm import tqdm

            before = trainer.steps_done - k
            start = trainer.results[-1].steps if trainer.results else 0
            end = min((before // trainer.steps_per_epoch + 1) * trainer.steps_per_epoch,
                      total_steps)
            bar = tqdm(total=end - start, initial=before - start, leave=False,
                       desc=f"epoch {len(trainer.results) + 1}", unit="step", file=sys.stderr,
                       disable=None)  # None: no bar when stderr is not a terminal
        if bar is not None:
            bar.update(k)

    def close_bar() -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None

    def on_epoch(result) -> None:
        nonlocal warned
        close_bar()
        metrics.write(result)  # first: when the epoch's line shows, the file has it
        print(f"epoch {result.epoch:3d}  step {result.steps:6d}  loss {result.loss:.4f}  "
              f"train acc {result.train_acc:.4f}  test acc {_acc(result.test_acc)}  "
              f"{result.epoch_train_seconds:.2f} s train + {result.eval_seconds:.2f} s eval",
              file=report, flush=True)
        problem = None if warned else not_learning(trainer, trainer.steps_done == total_steps)
        if problem:
            warned = True
            print(f"loopnet: warning: {problem}", file=sys.stderr, flush=True)

    def write_checkpoint(path: str) -> None:
        save_checkpoint(path, trainer, settings)
        signals.checkpoint_written = path

    chunk = 1 if net.backend.name == "python" else 20
    signals.deferring = True
    try:
        trainer.run(epochs=epochs, iters=args.iters, on_steps=on_steps, on_epoch=on_epoch,
                    chunk_steps=chunk, checkpoint_every=args.checkpoint_every,
                    on_checkpoint=(lambda: write_checkpoint(checkpoint_path))
                    if checkpoint_path else None,
                    stop_requested=lambda: signals.received is not None)
    finally:
        close_bar()
        metrics.close()
    if signals.received is not None:
        path = checkpoint_path or _fresh_name(DEFAULT_CHECKPOINT, (args.save, args.metrics,
                                                                   args.plot))
        where = f"step {trainer.steps_done} of {total_steps}"
        try:
            write_checkpoint(path)
        except (OSError, LoopnetError) as exc:
            print(f"loopnet: interrupted by {signal_name(signals.received)} at {where}; "
                  f"the checkpoint could not be written: {exc}", file=sys.stderr, flush=True)
            return signals.exit_code
        print(f"loopnet: interrupted by {signal_name(signals.received)} at {where}; "
              f"checkpoint written to {path}; resume with: {_resume_command(args, path)}",
              file=sys.stderr, flush=True)
        return signals.exit_code
    signals.deferring = False
    results = trainer.results
    last = results[-1]
    print(f"done: {last.steps} steps in {last.train_seconds:.2f} s of training "
          f"({1000 * last.train_seconds / last.steps:.3f} ms/step); "
          f"test accuracy {_acc(last.test_acc)}", file=report)
    meta = {"data": args.data, "steps": last.steps, "optimizer": args.optimizer, "lr": args.lr,
            "batch_size": args.batch_size, "seed": args.seed, "test_acc": last.test_acc,
            "train_acc": last.train_acc, "label_map": data_options(args)["label_map"]}
    if args.plot:
        from loopnet.plot import plot_training

        plot_training(trainer.step_losses, results, args.plot)
    if args.save:
        save_model(net, args.save, meta)
        print(f"saved model to {args.save}", file=report)
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


DEFAULT_CHECKPOINT = "loopnet-checkpoint.json"  # where an interrupt saves without --checkpoint
# the flags that define a run: a resumed run takes them from its checkpoint
RUN_SETTINGS = ("data", "limit", "hidden", "activation", "output", "loss", "log_guard", "init",
                "weight_decay", "seed", "optimizer", "lr", "batch_size", "parallel")
# settings added after checkpoints were first written: an older checkpoint has the defaults
LATER_SETTINGS = ("loss", "log_guard")


def _settings(args: argparse.Namespace, sizes: list) -> dict:
    """The run's defining settings as stored in a checkpoint."""
    settings = {key: getattr(args, key) for key in RUN_SETTINGS}
    settings.update(sizes=sizes, epochs=args.epochs, iters=args.iters, backend=args.backend)
    if args.parallel:
        from loopnet.backends.numba_parallel import PARTS

        settings["parallel_parts"] = PARTS
    return settings


def _defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    return parser.parse_args([])


def _take_settings(args: argparse.Namespace, stored: dict) -> None:
    """Set the run's settings from a checkpoint's; a flag given with another value is an error.

    --epochs and --iters may differ (to extend a run), and --backend; a flag left at its
    default takes the checkpoint's value.
    """
    defaults = _defaults()
    for key in RUN_SETTINGS:
        if key not in stored and key in LATER_SETTINGS:
            stored = {**stored, key: getattr(defaults, key)}
        if key not in stored:
            raise ConfigError(f"checkpoint {args.resume} lacks the setting {key!r}")
        given = getattr(args, key)
        if given != getattr(defaults, key) and given != stored[key]:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} {_flag_text(given)} differs from the run in {args.resume} "
                              f"({flag} {_flag_text(stored[key])}); leave it out to resume")
        setattr(args, key, stored[key])
    if args.epochs is None and args.iters is None:
        args.epochs, args.iters = stored.get("epochs"), stored.get("iters")
    if args.backend == defaults.backend:  # python and numba's exact mode give the same bits
        args.backend = stored.get("backend", args.backend)


def _flag_text(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _check_same_shape(path: str, stored: dict, settings: dict) -> None:
    if stored.get("sizes") != settings["sizes"]:
        raise ConfigError(f"checkpoint {path} is of a {'-'.join(map(str, stored.get('sizes')))} "
                          f"network, not {'-'.join(map(str, settings['sizes']))}")
    parts = stored.get("parallel_parts")
    if parts is not None and parts != settings.get("parallel_parts"):
        print(f"loopnet: warning: {path} was trained in {parts} parallel parts, this run has "
              f"{settings.get('parallel_parts')} (NUMBA_NUM_THREADS): the parameters will differ "
              "from the uninterrupted run's in the last bits", file=sys.stderr)


def _check_outputs(args: argparse.Namespace, checkpoint_path: str | None) -> None:
    """Every output path and format, before any data is loaded or step taken."""
    outputs = [(flag, path) for flag, path in (
        ("--save", args.save), ("--metrics", None if args.metrics == "-" else args.metrics),
        ("--plot", args.plot), ("--checkpoint", checkpoint_path)) if path]
    for flag, path in outputs:
        check_output(path, flag)
    if args.resume:  # the checkpoint resumed from may be rewritten, but by nothing else
        check_distinct([o for o in outputs if o[0] != "--checkpoint"],
                       [("the checkpoint given to --resume", args.resume)])
    check_distinct(outputs, [(f"one of the input files of --data {args.data}", str(p))
                             for p in _input_files(args.data, args.seed)])
    if args.plot:
        from loopnet.plot import plot_format

        plot_format(args.plot)


def _input_files(spec: str, seed: int) -> list:
    """Paths `--data spec` reads (those that exist or could)."""
    from loopnet.cache import cache_root
    from loopnet.data.mnist import MNIST_FILES
    from loopnet.data.synthetic import DEFAULT_N_TEST, DEFAULT_N_TRAIN, synthetic_cache_dir

    if spec == "synthetic":
        folder = synthetic_cache_dir(DEFAULT_N_TRAIN, DEFAULT_N_TEST, seed)
    elif spec == "mnist":
        folder = cache_root() / "mnist"
    else:
        folder = Path(spec).expanduser()
    return [folder / f"{base}{gz}" for base in MNIST_FILES for gz in ("", ".gz")]


def _fresh_name(name: str, taken) -> str:
    """`name`, or name-2, name-3, … : the first that does not exist and is not `taken`."""
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 1
    while os.path.lexists(candidate) or any(t and same_file(t, candidate) for t in taken):
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return candidate


def _resume_command(args: argparse.Namespace, path: str) -> str:
    """The command that continues this run from the checkpoint `path`, with the same outputs."""
    words = ["loopnet", "train", "--resume", path]
    for flag in ("save", "metrics", "plot", "checkpoint_every"):
        value = getattr(args, flag)
        if value is not None:
            words += ["--" + flag.replace("_", "-"), str(value)]
    if args.backend != "auto":
        words += ["--backend", args.backend]
    if args.quiet:
        words.append("--quiet")
    return " ".join(shlex.quote(w) for w in words)


def _end_line() -> None:
    """Leave stderr at the start of an empty line (a progress bar or "compiling…" may be on it)."""
    if sys.stderr.isatty():
        print(CLEAR_LINE, end="", file=sys.stderr, flush=True)


class MetricsStream:
    """`--metrics`: one JSON object per epoch, each flushed as written (`tail -f` follows the
    run); the file is created at the first epoch's end, "-" is stdout."""

    def __init__(self, path: str | None, mode: str) -> None:
        self.path = path
        self.mode = mode
        self._stream = None

    def write(self, result) -> None:
        if self.path is None:
            return
        try:
            if self._stream is None:
                self._stream = (sys.stdout if self.path == "-"
                                else open(self.path, "w", encoding="utf-8"))
            self._stream.write(json.dumps({**result.as_dict(), "backend": self.mode}) + "\n")
            self._stream.flush()
        except OSError as exc:
            raise ConfigError(f"cannot write --metrics {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        self._stream = None


def _warm_up(trainer, quiet: bool, training_child=None) -> None:
    """Compile (or load from Numba's cache) before timing starts; say so when it is slow."""
    start = time.perf_counter()
    terminal = sys.stderr.isatty()
    if not quiet:
        # on a terminal the line is replaced by "kernels ready"; in a log both lines stay
        print("compiling… (numba kernels; cached after the first run)", end="" if terminal else "\n",
              file=sys.stderr, flush=True)
    from loopnet.backends.numba_background import warm_up

    warm_up(trainer, training_child)  # an interrupt propagates: no "kernels ready" then
    if not quiet:
        print(f"{CLEAR_LINE if terminal else ''}kernels ready in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


