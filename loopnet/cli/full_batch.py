"""`loopnet train --optimizer cg|lbfgs`: full-batch training with SciPy's line-search optimizers."""
from __future__ import annotations

import argparse
import json

from loopnet.errors import ConfigError
from loopnet.network import MultiLayerNet


def run_full_batch(args: argparse.Namespace, net: MultiLayerNet, train, test) -> int:
    """`--iters` optimizer iterations over the whole training set (--epochs does not apply),
    a line per iteration, then accuracy; --save and --metrics as for SGD."""
    from loopnet.data.labels import describe, parse_label_map
    from loopnet.model_io import save_model, write_atomic
    from loopnet.reference.fullbatch import minimize
    from loopnet.training import accuracy_on

    if args.epochs:
        raise ConfigError(f"--optimizer {args.optimizer} runs --iters optimizer iterations over "
                          "the whole training set; --epochs does not apply")
    if args.plot:
        raise ConfigError(f"--plot draws minibatch training curves; not with --optimizer {args.optimizer}")
    if args.checkpoint or args.resume:
        raise ConfigError(f"checkpoints save minibatch training; --optimizer {args.optimizer} "
                          "runs its iterations in one go (no --checkpoint or --resume)")
    iters = args.iters or 50
    print(f"loopnet train: {'-'.join(map(str, net.sizes))} {net.activation}/{net.output}, "
          f"{args.optimizer} (full batch of {len(train)}), {iters} iterations, λ={net.weight_decay:g}, "
          f"backend {net.backend.name}; data {args.data}: {len(train)} train / "
          f"{len(test) if test else 0} test", flush=True)
    if args.label_map:
        print(f"labels: {describe(parse_label_map(args.label_map))}", flush=True)

    def on_iteration(k: int, loss: float) -> None:
        print(f"iteration {k:4d}  loss {loss:.6f}", flush=True)

    result = minimize(net, train, args.optimizer, iters, on_iteration)
    train_acc = accuracy_on(net, train)
    test_acc = accuracy_on(net, test) if test is not None else None
    shown = "-" if test_acc is None else f"{test_acc:.4f}"
    print(f"done: {result.iterations} iterations ({result.evaluations} loss and gradient "
          f"evaluations) in {result.seconds:.2f} s; train accuracy {train_acc:.4f}, "
          f"test accuracy {shown} ({result.message})")
    if args.metrics:
        lines = [json.dumps({"iteration": k + 1, "loss": loss}) for k, loss in enumerate(result.losses)]
        if args.metrics == "-":
            print("\n".join(lines))
        else:
            write_atomic(args.metrics, "\n".join(lines) + "\n")
    if args.save:
        label_map = parse_label_map(args.label_map) if args.label_map else None
        save_model(net, args.save, {"data": args.data, "optimizer": args.optimizer,
                                    "iterations": result.iterations, "seed": args.seed,
                                    "train_acc": train_acc, "test_acc": test_acc,
                                    "label_map": label_map})
        print(f"saved model to {args.save}")
    return 0
