"""Issue 4's test matrix: loopnet agrees with the NumPy and PyTorch references to 1e-12.

activation × output/loss × weight decay × optimizer × depth (3 × 4 × 2 × 4 × 3 = 288 networks) on
small widths (8 inputs, hidden 6, 5, 4, 3 outputs, batch 4, 5 steps), each against both oracles
and on both backends; then the seeds' TwoLayerNet 784-50-10 on real MNIST rows.
Every row (Z, H, A, Y, loss, ΔW, ΔB, per-step losses, parameters after 5 steps) must be within
1e-12 absolute: measured differences are ~1e-15, so no looser bound is needed.
"""

import itertools
import os
from pathlib import Path

import pytest

from loopnet import MultiLayerNet, Rng, TwoLayerNet

np = pytest.importorskip("numpy")
compare = pytest.importorskip("loopnet.compare")

TOLERANCE = 1e-12
ACTIVATIONS = ("relu", "sigmoid", "tanh")
# output, or output+loss for the sigmoid units' two losses
OUTPUTS = ("softmax", "identity", "sigmoid+cross_entropy", "sigmoid+squared_error")
DECAYS = (0.0, 0.1)
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
HIDDEN = {1: [6], 2: [6, 5], 3: [6, 5, 4]}
N_IN, N_OUT, BATCH, STEPS, N_ROWS = 8, 3, 4, 5, 20

MATRIX = list(itertools.product(ACTIVATIONS, OUTPUTS, DECAYS, OPTIMIZERS, HIDDEN))


def _batches(output: str, seed: int = 7) -> list[tuple]:
    """STEPS minibatches of BATCH rows drawn with Rng(seed) from a small random data set."""
    rng = Rng(seed)
    x = np.array([[rng.uniform() for _ in range(N_IN)] for _ in range(N_ROWS)])
    labels = np.array(rng.choice(N_OUT, N_ROWS))
    t = labels if output == "softmax" else np.eye(N_OUT)[labels]
    batches = []
    for _ in range(STEPS):
        idx = rng.choice(N_ROWS, BATCH)
        batches.append((x[idx], t[idx]))
    return batches


def _oracle(name: str) -> None:
    if name == "torch":
        pytest.importorskip("torch", reason="PyTorch oracle needs torch (pip install loopnet[torch])")


def _backend(name: str) -> None:
    if name == "numba":
        pytest.importorskip("numba", reason="numba backend needs numba (pip install loopnet[jit])")


def _check(result) -> None:
    assert len(result.results) == 1 and result.results[0].skipped is None
    rows = result.results[0].rows
    bad = [(r.quantity, r.max_abs, r.where) for r in rows if not r.ok(TOLERANCE)]
    assert not bad, bad
    assert result.ok


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("oracle", ["numpy", pytest.param("torch", marks=pytest.mark.torch)])
@pytest.mark.parametrize("activation,output,decay,optimizer,depth", MATRIX)
def test_matrix(backend, oracle, activation, output, decay, optimizer, depth):
    _oracle(oracle)
    _backend(backend)
    sizes = [N_IN, *HIDDEN[depth], N_OUT]
    # Coursera's uniform init keeps every layer's values well away from 0 even 4 layers deep
    units, _, loss = output.partition("+")
    net = MultiLayerNet(sizes, activation, units, weight_init="uniform", weight_decay=decay,
                        seed=depth, backend=backend, loss=loss or None)
    result = compare.compare_networks(net, _batches(output), optimizer=optimizer, lr=0.1,
                                      against=[oracle], tolerance=TOLERANCE)
    names = [r.quantity for r in result.results[0].rows]
    hidden = [f"{q}{l}" for l in range(1, depth + 1) for q in "ZH"]
    assert names[:2 * depth + 3] == [*hidden, "A", "Y", "loss"]
    assert names[-2 * (depth + 1):] == [f"{p}{l} after 5 steps"
                                        for l in range(1, depth + 2) for p in "Wb"]
    _check(result)


def _mnist_dir() -> Path:
    root = Path(os.environ.get("LOOPNET_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    folder = root / "mnist-t10k-split"
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST split not found at {folder} (set LOOPNET_SHARED_DATA)")
    return folder


@pytest.fixture(scope="module")
def mnist_train():
    from loopnet.data import load_data

    return load_data(str(_mnist_dir()))[0]


@pytest.mark.parametrize("oracle", ["numpy", pytest.param("torch", marks=pytest.mark.torch)])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_two_layer_net_on_mnist_numba(mnist_train, oracle, optimizer):
    """The seeds' TwoLayerNet(784, 50, 10), batch 100, 5 steps on real MNIST rows."""
    _oracle(oracle)
    _backend("numba")
    net = TwoLayerNet(784, 50, 10, backend="numba")
    batches, _ = compare.select_batches(mnist_train, 100, STEPS, seed=0)
    lr = {"sgd": 0.1, "momentum": 0.1, "adagrad": 0.01, "adam": 0.001}[optimizer]  # see docs
    _check(compare.compare_networks(net, batches, optimizer=optimizer, lr=lr,
                                    against=[oracle], tolerance=TOLERANCE))


@pytest.mark.parametrize("oracle", ["numpy", pytest.param("torch", marks=pytest.mark.torch)])
def test_two_layer_net_on_mnist_python(mnist_train, oracle):
    """The same on the pure-Python loops (one optimizer, 2 steps: they are slower)."""
    _oracle(oracle)
    net = TwoLayerNet(784, 50, 10, backend="python")
    batches, _ = compare.select_batches(mnist_train, 100, 2, seed=1)
    _check(compare.compare_networks(net, batches, optimizer="momentum", lr=0.1,
                                    against=[oracle], tolerance=TOLERANCE))
