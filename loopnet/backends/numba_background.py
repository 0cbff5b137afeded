"""Compile a network's evaluation kernels in a second process while this one compiles training.

Numba compiles one function at a time in a process, so on a first run (nothing in the on-disk
cache yet) `loopnet train` waited for the training loop's kernel and then for the evaluation
kernels: the sum of both.  A child process compiles the evaluation kernels into the same cache
meanwhile, so on two cores the wait is the longer of the two, and this process then loads them
from the cache (measured: a first `loopnet train --parallel` 11 s -> 9 s, exact mode 8 s -> 7 s).

When the training kernel came from the cache, the evaluation kernels most likely did too: the
child is stopped and nothing waits for it.  If the child fails or the cache cannot be written,
this process compiles the kernels itself, as it would have without the child.

A first run of the default job also spends a second or two generating its data before anything
compiles: `start_training_compile` starts a second child at once, compiling the training loop
meanwhile (the shape of the default data is known before it exists).  That child compiles the
loop only: the functions the loop calls through their addresses (numba_indirect: a step's
examples in exact mode, each core's part of a region in parallel mode) are compiled by this
process once it has the data, at the same time, and the loop is then loaded from the cache.

Run as `python -m loopnet.backends.numba_background evaluation SIZES ACTIVATION OUTPUT LOSS`
(or `training SIZES ACTIVATION OUTPUT LOSS exact|parallel OPTIMIZER`): it builds the same network
with a Numba backend (evaluation is exact mode's in both modes) and runs its evaluation kernels,
or its training loop, on zero examples, so they are compiled for the very argument types the
parent passes and stored under the same cache keys.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# a training kernel that took longer than this to get ready was compiled, not loaded
COMPILED_SECONDS = 1.0
# how long to wait for the child before compiling here instead
CHILD_TIMEOUT_SECONDS = 120.0


def _start(arguments: list[str]) -> subprocess.Popen | None:
    """This module run as a child process with `arguments`; None if it cannot start."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        return subprocess.Popen([sys.executable, "-m", __name__, *arguments], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def _network_arguments(sizes, activation: str, output: str, loss: str) -> list[str]:
    return [",".join(map(str, sizes)), activation, output, loss]


def start_evaluation_compile(trainer) -> subprocess.Popen | None:
    """Start the child compiling `trainer`'s evaluation kernels; None if it cannot start."""
    net = trainer.net
    return _start(["evaluation", *_network_arguments(net.sizes, net.activation, net.output,
                                                     net.loss_name)])


def start_training_compile(sizes, activation: str, output: str, loss: str, parallel: bool,
                           optimizer: str) -> subprocess.Popen | None:
    """Start a child compiling the training loop of this network (its shape, mode and
    optimizer: the kernel's argument types) before the parent loads the data, so that on a
    first run the data's generation and the compile overlap.  None when the loop is in the
    cache already (the child would only load it) or the child cannot start."""
    if training_loop_cached(sizes, activation, output, loss, parallel, optimizer):
        return None
    return _start(["training", *_network_arguments(sizes, activation, output, loss),
                   "parallel" if parallel else "exact", optimizer])


def training_loop_cached(sizes, activation: str, output: str, loss: str, parallel: bool,
                         optimizer: str) -> bool:
    """Whether Numba's cache holds an index for this network's training loop (named after its
    shape, its optimizer in exact mode, and the sources: see numba_specialized and
    numba_parallel)."""
    from loopnet.backends import numba_parallel, numba_specialized
    from loopnet.cache import configure_numba_cache
    from loopnet.network import ACTIVATION_CODES, OUTPUT_LOSSES
    from loopnet.optimizers import OPTIMIZERS

    codes = (ACTIVATION_CODES[activation], OUTPUT_LOSSES[output, loss])
    if parallel or numba_parallel.exact_mode_in_order():
        name = numba_parallel.training_loop_name(sizes, *codes, OPTIMIZERS[optimizer].kind,
                                                 in_order=not parallel)
    else:
        name = numba_specialized.training_loop_name(sizes, *codes, OPTIMIZERS[optimizer].kind)
    folder = configure_numba_cache()
    return folder is not None and any(folder.glob(f"*/{name}-*.nbi"))


def warm_up(trainer, training_child: subprocess.Popen | None = None) -> None:
    """`trainer.warm_up()`, with the evaluation kernels compiled by a child process meanwhile;
    `training_child` (from `start_training_compile`) is waited for first, so that the training
    loop it compiled loads from the cache."""
    child = start_evaluation_compile(trainer)
    try:
        if training_child is not None:
            from loopnet.backends.numba_indirect import CALLEES, compiling_only

            # the loop's callees here while the child compiles the loop (numba_indirect)
            with compiling_only(CALLEES):
                trainer.warm_up_training()
            training_child.wait(timeout=CHILD_TIMEOUT_SECONDS)  # failed: compiled here instead
        start = time.perf_counter()
        trainer.warm_up_training()
        if child is not None and time.perf_counter() - start > COMPILED_SECONDS:
            child.wait(timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    finally:
        for started in (training_child, child):
            if started is not None and started.poll() is None:
                started.kill()
                started.wait()
    trainer.warm_up_evaluation()


def main(argv: list[str]) -> int:
    from loopnet.backends.numba_indirect import CALLERS, compiling_only
    from loopnet.data.dataset import Dataset
    from loopnet.network import MultiLayerNet
    from loopnet.optimizers import SGD, make_optimizer
    from loopnet.training import Trainer

    part, sizes, activation, output, loss, *training = argv
    parallel = part == "training" and training[0] == "parallel"
    net = MultiLayerNet([int(n) for n in sizes.split(",")], activation=activation, output=output,
                        loss=loss, backend="numba", parallel=parallel)
    one_example = Dataset(bytes(net.sizes[0]), bytes(1), net.sizes[0], n_classes=net.sizes[-1])
    if part == "training":
        with compiling_only(CALLERS):  # the parent compiles the callees meanwhile
            Trainer(net, make_optimizer(training[1], 0.1), one_example,
                    batch_size=1).warm_up_training()
    else:
        Trainer(net, SGD(0.1), one_example, one_example, batch_size=1).warm_up_evaluation()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
