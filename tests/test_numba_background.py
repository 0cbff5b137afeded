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
