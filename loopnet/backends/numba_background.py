"""Compile a network's evaluation kernels in a second process while this one compiles training.

Numba compiles one function at a time in a process, so on a first run (nothing in the on-disk
cache yet) `loopnet train` waited for the training loop's kernel and then for the evaluation
kernels: the sum of both.  A child process compiles the evaluation kernels into the same cache
meanwhile, so on two cores the wait is the longer of the two, and this process then loads them
from the cache (measured: a first `loopnet train --parallel` 11 s -> 9 s, exact mode 8 s -> 7 s).

When the training kernel came from the cache, the evaluation kernels most likely did too: the
child is stopped and nothing waits for it.  If the child fails or the cache cannot be written,
this process compiles the kernels itself, as it would have without the child.

Run as `python -m loopnet.backends.numba_background SIZES ACTIVATION OUTPUT`: it builds the same
network with an exact-mode Numba backend (evaluation is exact mode's in both modes) and runs its
evaluation kernels on zero examples, so they are compiled for the very argument types the parent
passes and stored under the same cache keys.
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


def start_evaluation_compile(trainer) -> subprocess.Popen | None:
    """Start the child compiling `trainer`'s evaluation kernels; None if it cannot start."""
    net = trainer.net
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", __name__, ",".join(map(str, net.sizes)), net.activation,
               net.output]
    try:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None


def warm_up(trainer) -> None:
    """`trainer.warm_up()`, with the evaluation kernels compiled by a child process meanwhile."""
    child = start_evaluation_compile(trainer)
    try:
        start = time.perf_counter()
        trainer.warm_up_training()
        if child is not None and time.perf_counter() - start > COMPILED_SECONDS:
            child.wait(timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
    trainer.warm_up_evaluation()


def main(argv: list[str]) -> int:
    from loopnet.data.dataset import Dataset
    from loopnet.network import MultiLayerNet
    from loopnet.optimizers import SGD
    from loopnet.training import Trainer

    sizes, activation, output = argv
    net = MultiLayerNet([int(n) for n in sizes.split(",")], activation=activation, output=output,
                        backend="numba")
    one_example = Dataset(bytes(net.sizes[0]), bytes(1), net.sizes[0], n_classes=net.sizes[-1])
    Trainer(net, SGD(0.1), one_example, one_example, batch_size=1).warm_up_evaluation()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
