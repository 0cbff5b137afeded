"""loopnet's per-neuron loops against a vectorized NumPy TwoLayerNet written book-style here.

Both see the same parameters (copied out of the loopnet net with get_params) and the same three
real MNIST rows (../shared/data/mnist-t10k-split; skipped when absent), 784-50-10.  The loss and
every one of the 39 760 gradient entries must agree to 1e-12.
"""

import pytest

from loopnet import MultiLayerNet
from loopnet.data import load_mnist

np = pytest.importorskip("numpy", reason="the vectorized oracle needs numpy (not installed)")

TOL = 1e-12


class NumpyTwoLayerNet:
    """Matrix form of the book's TwoLayerNet (Affine → act → Affine → SoftmaxWithLoss)."""

    def __init__(self, params, activation="relu", weight_decay=0.0):
        self.W1 = np.array(params["W1"], dtype=np.float64)
        self.b1 = np.array(params["b1"], dtype=np.float64)
        self.W2 = np.array(params["W2"], dtype=np.float64)
        self.b2 = np.array(params["b2"], dtype=np.float64)
        self.activation = activation
        self.weight_decay = weight_decay

    def _hidden(self, x):
        z = x @ self.W1 + self.b1
        if self.activation == "relu":
            mask = z <= 0
            h = z.copy()
            h[mask] = 0.0
            return z, h, mask
        if self.activation == "sigmoid":
            return z, 1.0 / (1.0 + np.exp(-z)), None
        return z, np.tanh(z), None

    @staticmethod
    def softmax(a):
        a = a - a.max(axis=1, keepdims=True)
        e = np.exp(a)
        return e / e.sum(axis=1, keepdims=True)

    def loss_and_grads(self, x, t):
        n = x.shape[0]
        _, h, mask = self._hidden(x)
        a = h @ self.W2 + self.b2
        y = self.softmax(a)
        loss = -np.sum(t * np.log(y + 1e-7)) / n
        loss += 0.5 * self.weight_decay * (np.sum(self.W1**2) + np.sum(self.W2**2))
        dout = (y - t) / n
        grads = {"W2": h.T @ dout + self.weight_decay * self.W2, "b2": dout.sum(axis=0)}
        dh = dout @ self.W2.T
        if self.activation == "relu":
            dh[mask] = 0.0
            dz = dh
        elif self.activation == "sigmoid":
            dz = dh * (1.0 - h) * h
        else:
            dz = dh * (1.0 - h**2)
        grads["W1"] = x.T @ dz + self.weight_decay * self.W1
        grads["b1"] = dz.sum(axis=0)
        return loss, grads


@pytest.fixture(scope="module")
def mnist_batch(mnist_split_dir):
    """Three real training rows as X = pixel/255 (a 3×784 array) and their labels."""
    train, _ = load_mnist(mnist_split_dir)
    rows = [train.row(i) for i in range(3)]
    labels = [train.labels[i] for i in range(3)]
    return rows, labels


@pytest.mark.parametrize("activation, weight_decay, init", [
    ("relu", 0.0, 0.01),
    ("relu", 0.1, 0.01),
    ("sigmoid", 0.0, 0.01),
    ("relu", 0.0, "he"),
    ("sigmoid", 0.1, "xavier"),
    ("tanh", 0.0, "he"),
])
def test_loss_and_every_gradient_entry_match_numpy(mnist_batch, activation, weight_decay, init):
    rows, labels = mnist_batch
    net = MultiLayerNet([784, 50, 10], activation=activation, weight_decay=weight_decay,
                        weight_init=init, seed=2024)
    ref = NumpyTwoLayerNet(net.get_params(), activation, weight_decay)
    x = np.array(rows)
    t = np.eye(10)[labels]
    assert x.shape == (3, 784) and 0.0 <= x.min() and x.max() <= 1.0
    expected_loss, expected = ref.loss_and_grads(x, t)

    assert abs(net.loss(rows, labels) - expected_loss) <= TOL
    got = net.gradient(rows, labels)
    for name, ref_grad in expected.items():
        diff = np.abs(np.array(got[name]) - ref_grad)
        assert diff.shape == ref_grad.shape
        assert diff.max() <= TOL, f"{name}: max |diff| {diff.max():.3e}"
    # the comparison is not vacuous: real pixels light up many W1 rows
    assert np.count_nonzero(expected["W1"]) > 1000
    assert np.abs(expected["W2"]).max() > 1e-3


def test_same_after_training_steps(mnist_batch):
    """After 5 SGD steps each (book update on NumPy, loops on loopnet) parameters still agree."""
    from loopnet import SGD

    rows, labels = mnist_batch
    net = MultiLayerNet([784, 50, 10], weight_init="he", seed=5)
    ref = NumpyTwoLayerNet(net.get_params())
    x, t = np.array(rows), np.eye(10)[labels]
    opt = SGD(lr=0.1)
    for _ in range(5):
        _, grads = ref.loss_and_grads(x, t)
        for name in ("W1", "b1", "W2", "b2"):
            setattr(ref, name, getattr(ref, name) - 0.1 * grads[name])
        net.train_step(rows, labels, opt)
    got = net.get_params()
    for name in ("W1", "b1", "W2", "b2"):
        assert np.abs(np.array(got[name]) - getattr(ref, name)).max() <= 1e-11, name
