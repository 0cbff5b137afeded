"""The issues' accuracy targets on the real MNIST split: long runs, behind the `slow` marker.

    pytest -m slow tests/test_training_targets.py
"""

import pytest

import loopnet
from loopnet.data import load_mnist
from loopnet.training import Trainer

pytestmark = pytest.mark.slow


def train_on_split(mnist_split_dir, hidden, backend, **length):
    train, test = load_mnist(mnist_split_dir)
    net = loopnet.MultiLayerNet([784, hidden, 10], seed=0, backend=backend)
    results = Trainer(net, loopnet.SGD(0.1), train, test, batch_size=100, seed=0).run(
        chunk_steps=20, **length)
    return results[-1]


def test_python_backend_reaches_91_percent_in_5_epochs(mnist_split_dir):
    """The book's NumPy code reaches 92.4 % after the same 400 steps."""
    last = train_on_split(mnist_split_dir, 50, "python", epochs=5)
    assert last.steps == 400
    assert last.test_acc >= 0.91


@pytest.mark.numba_required
def test_numba_backend_reaches_95_percent_in_10000_steps(mnist_split_dir):
    """The book's NumPy code reaches 95.35 % on this split."""
    last = train_on_split(mnist_split_dir, 100, "numba", iters=10000)
    assert last.steps == 10000
    assert last.test_acc >= 0.95
