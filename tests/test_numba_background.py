"""The evaluation kernels compiled by a child process while the parent compiles training."""

import os
import subprocess
import sys
import textwrap

import pytest

from loopnet import SGD, MultiLayerNet
from loopnet.backends import numba_background
from loopnet.data.dataset import Dataset
from loopnet.training import Trainer

WARM_UP_PROGRAM = textwrap.dedent("""
    import sys
    from loopnet import MultiLayerNet, SGD
    from loopnet.backends.numba_background import warm_up
    from loopnet.data.dataset import Dataset
    from loopnet.training import Trainer
    data = Dataset(bytes(range(0, 240, 10)) * 2, bytes([1, 3]), 24, n_classes=4)
    net = MultiLayerNet([24, 6, 4], backend="numba", parallel=sys.argv[1] == "parallel")
    trainer = Trainer(net, SGD(0.1), data, data, batch_size=2)
    warm_up(trainer)
    trainer.run(epochs=1)
""")


@pytest.mark.parametrize("mode", ["exact", "parallel"])
def test_parent_loads_the_evaluation_kernels_the_child_compiled(tmp_path, mode):
    """On a first run the parent compiles only the training kernel: the evaluation kernels come
    from the cache the child wrote (same argument types, same cache keys).  On a second run
    everything is loaded."""
    pytest.importorskip("numba")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}
    runs = [subprocess.run([sys.executable, "-c", WARM_UP_PROGRAM, mode], env=env,
                           capture_output=True, text=True, timeout=900) for _ in range(2)]
    for done in runs:
        assert done.returncode == 0, done.stderr
    first = runs[0].stdout.splitlines()
    saved = [line for line in first if "data saved" in line]
    assert any("train_steps_from_pixels" in line for line in saved)
    assert not any("count_correct" in line or "gather_batch" in line for line in saved)
    assert any("count_correct" in line for line in first if "data loaded" in line)
    assert [line for line in runs[1].stdout.splitlines() if "data saved" in line] == []


def _trainer() -> Trainer:
    data = Dataset(bytes(range(0, 240, 10)), bytes([2]), 24, n_classes=4)
    return Trainer(MultiLayerNet([24, 5, 4]), SGD(0.1), data, data, batch_size=1)


def test_child_is_stopped_when_the_training_kernel_was_ready_at_once(monkeypatch):
    children = []

    def start(trainer):
        children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return children[-1]

    monkeypatch.setattr(numba_background, "start_evaluation_compile", start)
    numba_background.warm_up(_trainer())  # the Python backend: nothing to compile
    assert children[0].poll() is not None and children[0].returncode != 0


def test_a_failing_child_only_means_compiling_here(monkeypatch):
    monkeypatch.setattr(numba_background, "COMPILED_SECONDS", 0.0)  # always wait for the child
    monkeypatch.setattr(numba_background, "start_evaluation_compile",
                        lambda trainer: subprocess.Popen([sys.executable, "-c", "exit(3)"]))
    trainer = _trainer()
    numba_background.warm_up(trainer)
    assert trainer.accuracy(trainer.test) in (0.0, 1.0)


TRAINING_CHILD_PROGRAM = textwrap.dedent("""
    import sys
    from loopnet import MultiLayerNet
    from loopnet.backends import numba_background
    from loopnet.optimizers import make_optimizer
    from loopnet.data.dataset import Dataset
    from loopnet.training import Trainer
    parallel, optimizer = sys.argv[1] == "parallel", sys.argv[2]
    args = ([24, 6, 4], "tanh", "sigmoid", "cross_entropy", parallel)
    print("cached before:", numba_background.training_loop_cached(*args, optimizer), flush=True)
    child = numba_background.start_training_compile(*args, optimizer)
    assert child.wait(timeout=900) == 0
    print("cached after:", numba_background.training_loop_cached(*args, optimizer), flush=True)
    assert numba_background.start_training_compile(*args, optimizer) is None
    data = Dataset(bytes(range(0, 240, 10)) * 2, bytes([1, 3]), 24, n_classes=4)
    net = MultiLayerNet([24, 6, 4], activation="tanh", output="sigmoid", backend="numba",
                        parallel=parallel)
    Trainer(net, make_optimizer(optimizer, 0.1), data, batch_size=2).warm_up_training()
""")


@pytest.mark.parametrize(("mode", "optimizer"), [("exact", "adam"), ("parallel", "sgd")])
def test_the_training_loop_compiled_early_by_a_child_loads_from_the_cache(tmp_path, mode,
                                                                         optimizer):
    """`start_training_compile` (started by `loopnet train` before it generates the default
    data) compiles the very kernel the parent then runs: same argument types, same cache key,
    so the parent loads it instead of compiling; and no second child once it is cached."""
    pytest.importorskip("numba")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run([sys.executable, "-c", TRAINING_CHILD_PROGRAM, mode, optimizer],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "cached before: False" in lines and "cached after: True" in lines
    loop = [line for line in lines if "train_steps_from_pixels" in line]
    assert any("data loaded" in line for line in loop)
    assert not any("data saved" in line for line in loop)
    # the child compiled only the loop: the functions it calls through their addresses
    # (numba_indirect), here the examples' part, are the parent's to compile
    assert any("data saved" in line and "examples" in line for line in lines)


def test_a_network_too_big_for_memory_starts_no_early_compile(monkeypatch):
    """`loopnet train --hidden HUGE` on the default data fails on its memory check before the
    early-compile child would start (the child would only fail on the same check)."""
    pytest.importorskip("numba")
    from loopnet.cli import main

    started = []
    monkeypatch.setattr(numba_background, "start_training_compile",
                        lambda *args: started.append(args))
    assert main(["train", "--backend", "numba", "--hidden", "100000000"]) == 2
    assert started == []
