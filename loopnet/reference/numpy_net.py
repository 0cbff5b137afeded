"""The same network vectorized the way the book writes it: the NumPy oracle and baseline.

Every layer is an object with ``forward(x)`` and ``backward(dout)`` working on a whole minibatch
at once — ``Affine`` computes ``x @ W + b``, ``Relu`` keeps a mask, ``Sigmoid``/``Tanh`` keep their
output, the last layer combines the output with its loss.  The equations are those of NOTATION.md
written for N rows at a time:

    Z = H_prev @ W + B                     (N, n_out)
    Y = softmax(A);  L = -Σ T·log(Y + g) / N + (λ/2) Σ_l Σ W_l²      (g: the log guard, 1e-7)
    dA = (Y - T) / N;  ΔW = H_prevᵀ @ dZ + λ·W;  ΔB = Σ_n dZ;  dH_prev = dZ @ Wᵀ

and for sigmoid output units Y = σ(A) with L = -Σ [T·log(Y + g) + (1 - T)·log(1 - Y + g)] / N,
dA = (Y - T) / N, or L = ½ Σ (Y - T)² / N, dA = (Y - T)·Y·(1 - Y) / N.

Parameters are float64 arrays named like loopnet's (``W1`` of shape (n_in, n_out), ``b1`` ...),
so ``NumpyNet.from_loopnet(net)`` starts from exactly the same numbers, and the optimizers below
are the book's formulas element by element (loopnet.optimizers runs the same ones as loops).
Results agree with loopnet up to rounding: a matrix product sums in another order than the
per-neuron loop.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loopnet.errors import ConfigError, DataError, ShapeError
from loopnet.network import (
    DEFAULT_LOG_GUARD,
    check_config,
    check_log_guard,
    check_loss,
    init_params,
    param_names,
)
from loopnet.optimizers import OPTIMIZERS
from loopnet.rng import Rng

GUARD = 1e-7  # the book's 1e-7 in log(Y + 1e-7) and in the AdaGrad/Adam denominators


# ------------------------------------------------------------------------------- layers
class Affine:
    """Z = X @ W + B; backward gives ΔW = Xᵀ @ dZ, ΔB = Σ_n dZ and dX = dZ @ Wᵀ."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W = W
        self.b = b
        self.x: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    """H = Z where Z > 0, else 0; the mask of Z <= 0 zeroes dout on the way back."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0.0
        out = x.copy()
        out[self.mask] = 0.0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = dout.copy()
        dx[self.mask] = 0.0
        return dx


class Sigmoid:
    """H = 1/(1+e^-Z) (as e^Z/(1+e^Z) for Z < 0, like loopnet, so no overflow); dZ = dH·H·(1-H)."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(-np.abs(x))  # e^-Z for Z >= 0, e^Z for Z < 0: never overflows
        self.out = np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.out * (1.0 - self.out)


class Tanh:
    """H = tanh(Z); dZ = dH·(1 - H²)."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out * self.out)


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise Y_k = exp(A_k - M) / Σ_m exp(A_m - M) with M the row maximum."""
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def weighted_log(weight: np.ndarray, p: np.ndarray) -> np.ndarray:
    """weight·log(p), 0 where the weight is 0 (so 0·log 0 is 0, not NaN) and -inf where p = 0
    with a weight > 0: loopnet's kernels skip those terms too."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight != 0.0, weight * np.log(p), 0.0)


class SoftmaxWithLoss:
    """Y = softmax(A), L = -Σ T·log(Y + g) / N; backward dA = (Y - T) / N."""

    def __init__(self, log_guard: float = GUARD) -> None:
        self.log_guard = log_guard
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, a: np.ndarray, t: np.ndarray) -> float:
        self.y = softmax(a)
        self.t = t
        return float(-np.sum(weighted_log(t, self.y + self.log_guard)) / a.shape[0])

    def backward(self) -> np.ndarray:
        return (self.y - self.t) / self.y.shape[0]


class IdentityWithLoss:
    """Y = A, L = ½ Σ (Y - T)² / N; backward dA = (Y - T) / N."""

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, a: np.ndarray, t: np.ndarray) -> float:
        self.y = a
        self.t = t
        return float(0.5 * np.sum((a - t) ** 2) / a.shape[0])

    def backward(self) -> np.ndarray:
        return (self.y - self.t) / self.y.shape[0]


class SigmoidWithCrossEntropy:
    """Y = σ(A), L = -Σ [T·log(Y + g) + (1 - T)·log(1 - Y + g)] / N (ex4's logistic cost);
    backward dA = (Y - T) / N."""

    def __init__(self, log_guard: float = GUARD) -> None:
        self.log_guard = log_guard
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, a: np.ndarray, t: np.ndarray) -> float:
        self.y = Sigmoid().forward(a)
        self.t = t
        g = self.log_guard
        terms = weighted_log(t, self.y + g) + weighted_log(1.0 - t, 1.0 - self.y + g)
        return float(-np.sum(terms) / a.shape[0])

    def backward(self) -> np.ndarray:
        return (self.y - self.t) / self.y.shape[0]


class SigmoidWithSquaredError:
    """Y = σ(A), L = ½ Σ (Y - T)² / N; backward dA = (Y - T)·Y·(1 - Y) / N."""

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, a: np.ndarray, t: np.ndarray) -> float:
        self.y = Sigmoid().forward(a)
        self.t = t
        return float(0.5 * np.sum((self.y - t) ** 2) / a.shape[0])

    def backward(self) -> np.ndarray:
        return (self.y - self.t) * self.y * (1.0 - self.y) / self.y.shape[0]


ACTIVATION_LAYERS = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}


def output_layer(output: str, loss: str, log_guard: float):
    """The last layer (output units with their loss) of a supported (output, loss) pair."""
    if output == "softmax":
        return SoftmaxWithLoss(log_guard)
    if output == "identity":
        return IdentityWithLoss()
    if loss == "cross_entropy":
        return SigmoidWithCrossEntropy(log_guard)
    return SigmoidWithSquaredError()


# ------------------------------------------------------------------------------- inputs
def input_array(x, n_in: int) -> np.ndarray:
    """x as a float64 (N, n_in) array (a single row becomes N = 1)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] == 0:
        raise ShapeError(f"input has shape {x.shape}, expected (N, {n_in})")
    return x


def teacher_array(t, count: int, n_out: int) -> np.ndarray:
    """T as (count, n_out) float64 rows: one-hot for int labels, else the rows given."""
    t = np.asarray(t)
    if t.ndim == 1:
        if t.shape[0] != count or not np.all(t == np.round(t)):
            raise DataError(f"expected {count} integer labels, got {t!r}")
        labels = t.astype(np.int64)
        if labels.min() < 0 or labels.max() >= n_out:
            raise DataError(f"labels must lie in 0..{n_out - 1}")
        return np.eye(n_out)[labels]
    if t.shape != (count, n_out):
        raise ShapeError(f"teachers have shape {t.shape}, expected ({count}, {n_out})")
    return np.ascontiguousarray(t, dtype=np.float64)


# ------------------------------------------------------------------------------- network
class NumpyNet:
    """loopnet's MultiLayerNet as batch matrix code.

    sizes: widths (input, hidden..., output).  params: ``{"W1": (n_in, n_out), "b1": (n_out,),
    ...}`` (anything ``np.asarray`` takes; copied); when omitted they are drawn exactly as
    loopnet draws them (`loopnet.network.init_params` with `weight_init` and `seed`).
    Inputs x are float (N, n_in) arrays; teachers t are int labels (N,) or rows (N, n_out).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        weight_decay: float = 0.0,
        params: dict | None = None,
        *,
        weight_init: float | str = 0.01,
        seed: int = 0,
        loss: str | None = None,
        log_guard: float = DEFAULT_LOG_GUARD,
    ) -> None:
        self.sizes, self.weight_decay = check_config(sizes, activation, output, weight_decay)
        self.activation = activation
        self.output = output
        self.loss_name = check_loss(output, loss)
        self.log_guard = check_log_guard(log_guard)
        self.n_layers = len(self.sizes) - 1
        self.names = param_names(self.n_layers)
        if params is None:
            flat = init_params(self.sizes, weight_init, seed)
            params = dict(zip(self.names, flat))
        self.params: dict[str, np.ndarray] = {}
        for name in self.names:
            if name not in params:
                raise ShapeError(f"params lacks {name}")
            shape = self.shape_of(name)
            arr = np.array(params[name], dtype=np.float64)
            if arr.size != int(np.prod(shape)) or (arr.ndim == 2 and arr.shape != shape):
                raise ShapeError(f"{name} has shape {arr.shape}, expected {shape}")
            self.params[name] = arr.reshape(shape)
        # Layers hold the very arrays in self.params, so in-place optimizer updates reach them.
        self.affines = [Affine(self.params[f"W{l}"], self.params[f"b{l}"])
                        for l in range(1, self.n_layers + 1)]
        self.activations = [ACTIVATION_LAYERS[activation]() for _ in range(self.n_layers - 1)]
        self.last_layer = output_layer(output, self.loss_name, self.log_guard)

    @classmethod
    def from_loopnet(cls, net) -> NumpyNet:
        """A NumpyNet with `net`'s configuration and a copy of its current parameters."""
        return cls(net.sizes, net.activation, net.output, net.weight_decay, net.get_params(),
                   loss=net.loss_name, log_guard=net.log_guard)

    def shape_of(self, name: str) -> tuple[int, ...]:
        """(n_in, n_out) for W<l>, (n_out,) for b<l>."""
        layer = int(name[1:]) - 1
        if name[0] == "W":
            return (self.sizes[layer], self.sizes[layer + 1])
        return (self.sizes[layer + 1],)

    # -------------------------------------------------------------------- inputs
    def inputs(self, x) -> np.ndarray:
        """x as a float64 (N, n_in) array (a single row becomes N = 1)."""
        return input_array(x, self.sizes[0])

    def teachers(self, t, count: int) -> np.ndarray:
        """T as (N, n_out) float64 rows: one-hot for int labels, else the rows given."""
        return teacher_array(t, count, self.sizes[-1])

    # -------------------------------------------------------------------- forward
    def forward(self, x) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Pre-activations Z and activations H of every layer for the rows x.

        Z[-1] is the scores A; H has one entry per hidden layer (the output layer's Y comes
        from the loss layer).
        """
        h = self.inputs(x)
        zs, hs = [], []
        for l, affine in enumerate(self.affines):
            z = affine.forward(h)
            zs.append(z)
            if l < self.n_layers - 1:
                h = self.activations[l].forward(z)
                hs.append(h)
        return zs, hs

    def predict(self, x) -> np.ndarray:
        """Scores A (before softmax, like the book's predict), shape (N, n_out)."""
        return self.forward(x)[0][-1]

    def decay_term(self) -> float:
        """(λ/2) Σ_l Σ W_l² (biases are not decayed)."""
        total = 0.0
        for l in range(1, self.n_layers + 1):
            total += 0.5 * self.weight_decay * float(np.sum(self.params[f"W{l}"] ** 2))
        return total

    def trace(self, x, t) -> dict:
        """Every intermediate of one forward pass: {"Z": [...], "H": [...], "A", "Y", "loss"}.

        H holds the hidden layers' activations; A = Z[-1] are the scores, Y the outputs.
        """
        x = self.inputs(x)
        T = self.teachers(t, x.shape[0])
        zs, hs = self.forward(x)
        loss = self.last_layer.forward(zs[-1], T) + self.decay_term()
        return {"Z": zs, "H": hs, "A": zs[-1], "Y": self.last_layer.y, "loss": loss}

    def loss(self, x, t) -> float:
        """L = (1/N) Σ_n E_n + (λ/2) Σ W²."""
        return self.trace(x, t)["loss"]

    def accuracy(self, x, t) -> float:
        """Fraction of rows whose largest score is the label (argmax of t for rows)."""
        x = self.inputs(x)
        T = self.teachers(t, x.shape[0])
        return float(np.mean(np.argmax(self.predict(x), axis=1) == np.argmax(T, axis=1)))

    # -------------------------------------------------------------------- backward
    def gradient(self, x, t) -> dict[str, np.ndarray]:
        """Backprop: {"W1": ΔW1 + λ·W1, "b1": ΔB1, ...}, arrays shaped like the parameters."""
        return self._gradient(x, t)[1]

    def _gradient(self, x, t) -> tuple[float, dict[str, np.ndarray]]:
        loss = self.trace(x, t)["loss"]
        dout = self.last_layer.backward()
        for l in range(self.n_layers - 1, -1, -1):
            dout = self.affines[l].backward(dout)
            if l > 0:
                dout = self.activations[l - 1].backward(dout)
        grads = {}
        for l, affine in enumerate(self.affines, start=1):
            # d/dW of (λ/2) W² is λ·W
            grads[f"W{l}"] = affine.dW + self.weight_decay * affine.W
            grads[f"b{l}"] = affine.db
        return loss, grads

    # -------------------------------------------------------------------- training
    def train_step(self, x, t, optimizer: Optimizer) -> float:
        """Gradient on the minibatch, then one optimizer update; returns the loss before it."""
        loss, grads = self._gradient(x, t)
        optimizer.update(self.params, grads)
        return loss

    def fit(self, x, t, steps: int, batch_size: int, optimizer: Optimizer,
            sampler: Rng) -> list[float]:
        """`steps` train steps, step s on rows ``sampler.choice(len(x), batch_size)``.

        Pass the loopnet `Rng` its own run uses (e.g. ``Rng(seed)``, as `loopnet compare` does)
        to visit the same minibatches in the same order.  Returns the loss of every step.
        """
        x = self.inputs(x)
        T = self.teachers(t, x.shape[0])
        losses = []
        for _ in range(steps):
            idx = np.array(sampler.choice(x.shape[0], batch_size), dtype=np.int64)
            losses.append(self.train_step(x[idx], T[idx], optimizer))
        return losses


# ------------------------------------------------------------------------------- optimizers
class Optimizer:
    """The book's optimizer interface: ``update(params, grads)`` changes the arrays in place."""

    name = ""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """W ← W - η·ΔW."""

    name = "sgd"

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum(Optimizer):
    """v ← α·v - η·ΔW ;  W ← W + v."""

    name = "momentum"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = momentum
        self.v: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key in params:
            v = self.v.setdefault(key, np.zeros_like(params[key]))
            v[...] = self.momentum * v - self.lr * grads[key]
            params[key] += v


class AdaGrad(Optimizer):
    """h ← h + ΔW² ;  W ← W - η·ΔW / (√h + 1e-7)."""

    name = "adagrad"

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)
        self.h: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key in params:
            h = self.h.setdefault(key, np.zeros_like(params[key]))
            h += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(h) + GUARD)


class Adam(Optimizer):
    """η_t = η·√(1-β2^t)/(1-β1^t); m ← m + (1-β1)(ΔW-m); v ← v + (1-β2)(ΔW²-v);
    W ← W - η_t·m/(√v + 1e-7)."""

    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            g = grads[key]
            m = self.m.setdefault(key, np.zeros_like(params[key]))
            v = self.v.setdefault(key, np.zeros_like(params[key]))
            m += (1.0 - self.beta1) * (g - m)
            v += (1.0 - self.beta2) * (g * g - v)
            params[key] -= lr_t * m / (np.sqrt(v) + GUARD)


NUMPY_OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, AdaGrad, Adam)}


def make_optimizer(name: str, lr: float) -> Optimizer:
    """The NumPy optimizer called `name` (the names of loopnet.optimizers) with rate `lr`."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")
    return NUMPY_OPTIMIZERS[name](lr)
