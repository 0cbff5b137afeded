"""The same network in PyTorch: a ``torch.float64`` ``nn.Sequential`` trained by autograd.

The model for sizes (n0, n1, ..., nL) is::

    nn.Sequential(nn.Linear(n0, n1), act(), nn.Linear(n1, n2), act(), ..., nn.Linear(nL-1, nL))

in float64, with ``act`` one of ``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``; the Linear layers sit
at indices 0, 2, 4, ... of the Sequential, so its ``state_dict`` keys are ``"0.weight"``,
``"0.bias"``, ``"2.weight"``, ...  A Linear layer stores its weight as (out, in), the transpose of
loopnet's ``W`` (in, out): ``linear.weight == W.T``, ``linear.bias == b``.

The loss is written out rather than taken from ``F.cross_entropy`` so that it is loopnet's:
``L = -Σ T·log(Y + g) / N + (λ/2) Σ_l Σ W_l²`` (g the log guard, the book's 1e-7 by default; or
``½ Σ (Y - T)² / N`` for the identity output), weight decay included as that explicit term.
Sigmoid output units: ``Y = torch.sigmoid(A)`` with the logistic cost
``-Σ [T·log(Y + g) + (1 - T)·log(1 - Y + g)] / N`` or ``½ Σ (Y - T)² / N``.

Formula differences from the book, kept visible instead of hidden in a tolerance:

* Gradient of the guarded loss.  The book's backward ``dA = (Y - T)/N`` is the exact derivative of
  the cross-entropy *without* the guard g; the guarded loss has derivative
  ``(Y_c/(Y_c + g))·(Y - T)/N``, relatively g/Y_c away (sigmoid units: ``(P/(P + g))·(Y - T)/N``
  per unit, P = Y for T = 1 and 1 - Y for T = 0).  By default the model reports the guarded
  loss but lets autograd differentiate ``-Σ T·log_softmax(A)/N`` (sigmoid:
  ``-Σ [T·logsigmoid(A) + (1 - T)·logsigmoid(-A)]/N``), i.e. the loss the book's backward
  belongs to (``guard_in_gradient=True`` differentiates the guarded one).
* Momentum.  ``torch.optim.SGD(momentum=α)`` keeps ``b ← α·b + g; W ← W - η·b`` where the book
  keeps ``v ← α·v - η·g; W ← W + v``.  With ``v = -η·b`` both are the same recurrence; only the
  rounding differs (η is applied to the sum instead of to each gradient).
* AdaGrad.  ``torch.optim.Adagrad(eps=1e-7, initial_accumulator_value=0)`` computes
  ``W ← W - η·g/(√h + 1e-7)``, the book's formula.
* Adam.  torch computes ``W ← W - (η/(1-β1^t))·m / (√v/√(1-β2^t) + ε)`` while the book computes
  ``W ← W - η·√(1-β2^t)/(1-β1^t)·m / (√v + 1e-7)``.  They coincide when
  ``ε = 1e-7/√(1-β2^t)``, so `BookAdam` sets that ε before every step; torch also updates
  ``v ← β2·v + (1-β2)·g²`` where the book writes ``v ← v + (1-β2)(g² - v)`` (equal up to rounding).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from loopnet.errors import ConfigError, ShapeError
from loopnet.network import (
    DEFAULT_LOG_GUARD,
    check_config,
    check_log_guard,
    check_loss,
    check_sizes,
    param_names,
)
from loopnet.optimizers import OPTIMIZERS
from loopnet.reference.numpy_net import input_array, teacher_array

GUARD = 1e-7  # the book's 1e-7 in log(Y + 1e-7) and in the AdaGrad/Adam denominators
ACTIVATION_MODULES = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def build_sequential(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """The float64 ``nn.Sequential`` of Linear layers with `activation` between them."""
    sizes = check_sizes(sizes)
    if activation not in ACTIVATION_MODULES:
        raise ConfigError(f"unknown activation {activation!r}")
    modules: list[nn.Module] = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(nn.Linear(n_in, n_out, dtype=torch.float64))
        if l < len(sizes) - 2:
            modules.append(ACTIVATION_MODULES[activation]())
    return nn.Sequential(*modules)


def _weighted_log(weight: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """weight·log(p), 0 where the weight is 0 (0·log 0 is 0, not NaN), as loopnet's kernels."""
    return torch.where(weight != 0.0, weight * torch.log(p), torch.zeros_like(p))


def state_dict_key(name: str) -> str:
    """The Sequential state_dict key of loopnet parameter `name`: W1 → "0.weight", b2 → "2.bias"."""
    layer = int(name[1:]) - 1
    return f"{2 * layer}.{'weight' if name[0] == 'W' else 'bias'}"


class BookAdam(torch.optim.Adam):
    """``torch.optim.Adam`` whose ε is re-set before step t to ``1e-7/√(1-β2^t)``.

    With that ε, torch's ``(η/(1-β1^t))·m/(√v/√(1-β2^t) + ε)`` equals the book's
    ``η·√(1-β2^t)/(1-β1^t)·m/(√v + 1e-7)``; results differ only by rounding.
    """

    def __init__(self, params, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__(params, lr=lr, betas=betas, eps=GUARD, foreach=False)
        self.book_steps = 0

    def step(self, closure=None):
        """One Adam step with the book-equivalent ε of this step."""
        self.book_steps += 1
        for group in self.param_groups:
            group["eps"] = GUARD / math.sqrt(1.0 - group["betas"][1] ** self.book_steps)
        return super().step(closure)


def make_optimizer(name: str, parameters, lr: float, momentum: float = 0.9,
                   beta1: float = 0.9, beta2: float = 0.999) -> torch.optim.Optimizer:
    """The torch optimizer matching loopnet's `name` (sgd, momentum, adagrad, adam)."""
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, foreach=False)
    if name == "momentum":
        return torch.optim.SGD(parameters, lr=lr, momentum=momentum, dampening=0.0,
                               nesterov=False, foreach=False)
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr, lr_decay=0.0, eps=GUARD,
                                   initial_accumulator_value=0.0, foreach=False)
    if name == "adam":
        return BookAdam(parameters, lr=lr, betas=(beta1, beta2))
    raise ConfigError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


class TorchNet:
    """loopnet's MultiLayerNet as a float64 ``nn.Sequential`` (see the module docstring).

    params: ``{"W1": (n_in, n_out), "b1": (n_out,), ...}`` in loopnet's layout (copied in);
    inputs x are float (N, n_in) arrays; teachers t are int labels (N,) or rows (N, n_out).
    Results come back as NumPy arrays in loopnet's layout.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        weight_decay: float = 0.0,
        params: dict | None = None,
        *,
        guard_in_gradient: bool = False,
        loss: str | None = None,
        log_guard: float = DEFAULT_LOG_GUARD,
    ) -> None:
        self.sizes, self.weight_decay = check_config(sizes, activation, output, weight_decay)
        self.activation = activation
        self.output = output
        self.loss_name = check_loss(output, loss)
        self.log_guard = check_log_guard(log_guard)
        self.guard_in_gradient = guard_in_gradient
        self.n_layers = len(self.sizes) - 1
        self.names = param_names(self.n_layers)
        self.model = build_sequential(self.sizes, activation)
        self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
        if params is not None:
            self.set_params(params)

    @classmethod
    def from_loopnet(cls, net, **kwargs) -> TorchNet:
        """A TorchNet with `net`'s configuration and a copy of its current parameters."""
        return cls(net.sizes, net.activation, net.output, net.weight_decay, net.get_params(),
                   loss=net.loss_name, log_guard=net.log_guard, **kwargs)

    # -------------------------------------------------------------------- parameters
    def set_params(self, params: dict) -> None:
        """Copy loopnet-layout arrays in: ``weight = W.T``, ``bias = b``."""
        state = {}
        for name in self.names:
            if name not in params:
                raise ShapeError(f"params lacks {name}")
            arr = np.array(params[name], dtype=np.float64)
            key = state_dict_key(name)
            if name[0] == "W":
                arr = arr.T
            expected = tuple(self.model.state_dict()[key].shape)
            if arr.shape != expected:
                raise ShapeError(f"{name} gives {key} the shape {arr.shape}, expected {expected}")
            state[key] = torch.from_numpy(np.ascontiguousarray(arr))
        self.model.load_state_dict(state)

    def get_params(self) -> dict[str, np.ndarray]:
        """Current parameters in loopnet's layout (W as (n_in, n_out))."""
        return {name: self._layout(name, t) for name, t in self._tensors().items()}

    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for l, linear in enumerate(self.linears, start=1):
            out[f"W{l}"] = linear.weight
            out[f"b{l}"] = linear.bias
        return out

    @staticmethod
    def _layout(name: str, t: torch.Tensor) -> np.ndarray:
        arr = t.detach().numpy()
        return np.array(arr.T if name[0] == "W" else arr)

    # -------------------------------------------------------------------- forward
    def _inputs(self, x) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(input_array(x, self.sizes[0])))

    def _teachers(self, t, count: int) -> torch.Tensor:
        return torch.from_numpy(teacher_array(t, count, self.sizes[-1]))

    def _forward(self, x: torch.Tensor, t: torch.Tensor) -> dict:
        """Run the Sequential module by module, keeping each Linear (Z) and activation (H) output."""
        zs, hs = [], []
        h = x
        for module in self.model:
            h = module(h)
            (zs if isinstance(module, nn.Linear) else hs).append(h)
        a = zs[-1]
        count = a.shape[0]
        g = self.log_guard
        if self.output == "softmax":
            y = torch.softmax(a, dim=1)
            guarded = -_weighted_log(t, y + g).sum() / count
            # -Σ T·log softmax(A) / N, whose derivative is the book's (Y - T)/N
            plain = -(t * torch.log_softmax(a, dim=1)).sum() / count
        elif self.output == "sigmoid":
            y = torch.sigmoid(a)
            if self.loss_name == "cross_entropy":
                guarded = -(_weighted_log(t, y + g) + _weighted_log(1.0 - t, 1.0 - y + g)).sum()
                guarded = guarded / count
                # the unguarded logistic cost, whose derivative is (Y - T)/N
                plain = -(t * F.logsigmoid(a) + (1.0 - t) * F.logsigmoid(-a)).sum() / count
            else:
                guarded = plain = 0.5 * ((y - t) ** 2).sum() / count
        else:
            y = a
            guarded = plain = 0.5 * ((a - t) ** 2).sum() / count
        if self.guard_in_gradient or plain is guarded:
            data = guarded
        else:
            # value: the guarded loss; gradient: the unguarded one's
            data = guarded.detach() + (plain - plain.detach())
        loss = data
        if self.weight_decay != 0.0:
            for linear in self.linears:
                loss = loss + 0.5 * self.weight_decay * (linear.weight**2).sum()
        return {"Z": zs, "H": hs, "A": a, "Y": y, "loss": loss}

    def trace(self, x, t) -> dict:
        """Every intermediate of one forward pass as NumPy: {"Z": [...], "H": [...], "A", "Y",
        "loss"} (H: hidden layers only), like `NumpyNet.trace`."""
        x = self._inputs(x)
        with torch.no_grad():
            out = self._forward(x, self._teachers(t, x.shape[0]))
        return {"Z": [z.numpy().copy() for z in out["Z"]],
                "H": [h.numpy().copy() for h in out["H"]],
                "A": out["A"].numpy().copy(), "Y": out["Y"].numpy().copy(),
                "loss": float(out["loss"])}

    def predict(self, x) -> np.ndarray:
        """Scores A (before softmax), shape (N, n_out)."""
        with torch.no_grad():
            return self.model(self._inputs(x)).numpy().copy()

    def probabilities(self, x) -> np.ndarray:
        """Y: softmax(A) or σ(A) for those outputs, A itself for the identity output."""
        a = self.predict(x)
        if self.output == "identity":
            return a
        if self.output == "sigmoid":
            return torch.sigmoid(torch.from_numpy(a)).numpy()
        return torch.softmax(torch.from_numpy(a), dim=1).numpy()

    def loss(self, x, t) -> float:
        """L = (1/N) Σ_n E_n + (λ/2) Σ W²."""
        return self.trace(x, t)["loss"]

    def accuracy(self, x, t) -> float:
        """Fraction of rows whose largest score is the label (argmax of t for rows)."""
        x = self._inputs(x)
        T = self._teachers(t, x.shape[0]).numpy()
        return float(np.mean(np.argmax(self.predict(x), axis=1) == np.argmax(T, axis=1)))

    # -------------------------------------------------------------------- backward
    def _backward(self, x, t) -> float:
        self.model.zero_grad(set_to_none=True)
        x = self._inputs(x)
        loss = self._forward(x, self._teachers(t, x.shape[0]))["loss"]
        loss.backward()
        return float(loss.detach())

    def gradient(self, x, t) -> dict[str, np.ndarray]:
        """Autograd gradients in loopnet's layout: {"W1": ΔW1 + λ·W1, "b1": ΔB1, ...}."""
        self._backward(x, t)
        return {name: self._layout(name, p.grad) for name, p in self._tensors().items()}

    def make_optimizer(self, name: str, lr: float, **kwargs) -> torch.optim.Optimizer:
        """The book-matching torch optimizer `name` over this model's parameters."""
        return make_optimizer(name, self.model.parameters(), lr, **kwargs)

    def train_step(self, x, t, optimizer: torch.optim.Optimizer) -> float:
        """loss.backward() then optimizer.step(); returns the loss before the update."""
        loss = self._backward(x, t)
        optimizer.step()
        return loss
