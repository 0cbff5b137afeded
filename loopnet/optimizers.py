"""Optimizers with the book's update formulas (NOTATION "Update, once per minibatch").

Each keeps its state per parameter name, like the book's classes, and runs the loops of
`loopnet.kernels` on flat buffers.  ``update(params, grads)`` mirrors the book: ``params`` maps
names to flat mutable buffers (``net.params``), ``grads`` maps the same names to flat or nested
sequences (``net.gradient(...)``).
"""

import math

from loopnet import kernels
from loopnet.backends import backend_of_buffer
from loopnet.errors import ConfigError, ShapeError


def _number(name: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def _positive(name: str, value: float) -> float:
    value = _number(name, value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a positive number, got {value}")
    return value


def _fraction(name: str, value: float) -> float:
    value = _number(name, value)
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value}")
    return value


def _flat(values) -> list[float]:
    """Nested rows or a flat sequence, as one flat list of floats."""
    flat: list[float] = []
    for v in values:
        if isinstance(v, (int, float)):
            flat.append(float(v))
        else:
            flat.extend(float(u) for u in v)
    return flat


class Optimizer:
    """Base class: subclasses set `kind` (a kernels code) and how many state buffers they keep."""

    kind = kernels.SGD
    n_state = 0
    name = ""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = _positive("learning rate", lr)
        self.momentum = 0.0
        self.beta1 = 0.0
        self.beta2 = 0.0
        self.state: dict[str, list] = {}
        self._lists: dict[tuple, tuple] = {}

    def step_lr(self) -> float:
        """The η of the next step (Adam overrides it with its bias-corrected η_t)."""
        return self.lr

    def state_lists(self, backend, names: list[str], params: list) -> tuple:
        """State buffers for `names`, as the backend's tensor lists (created once, then reused)."""
        for name, p in zip(names, params):
            if name not in self.state:
                self.state[name] = [backend.zeros(len(p)) for _ in range(self.n_state)]
        key = (backend.name, tuple(names))
        if key not in self._lists:
            s1 = [self.state[n][0] for n in names] if self.n_state >= 1 else []
            s2 = [self.state[n][1] for n in names] if self.n_state >= 2 else []
            self._lists[key] = (backend.tensor_list(s1), backend.tensor_list(s2))
        return self._lists[key]

    def get_state(self, backend, names: list[str]) -> dict:
        """What a resumed run needs: {"buffers": {name: [state buffer as floats, ...]}}."""
        return {"buffers": {name: [backend.to_list(buf) for buf in self.state[name]]
                            for name in names if name in self.state}}

    def set_state(self, backend, state: dict) -> None:
        """Replace the state by `state` (from `get_state`), in `backend`'s buffers."""
        self.state = {name: [backend.float_buffer(values) for values in buffers]
                      for name, buffers in state["buffers"].items()}
        self._lists = {}

    def update(self, params: dict, grads: dict) -> None:
        """Book-style step: update every buffer of `params` in place from `grads`."""
        names = list(params)
        missing = [n for n in names if n not in grads]
        if missing:
            raise ShapeError(f"gradient missing for {', '.join(missing)}")
        first = params[names[0]]
        backend = backend_of_buffer(first)
        p_list = [params[n] for n in names]
        g_list = []
        for n, p in zip(names, p_list):
            g = backend.float_buffer(_flat(grads[n]))
            if len(g) != len(p):
                raise ShapeError(f"gradient {n} has {len(g)} values, parameter has {len(p)}")
            g_list.append(g)
        s1, s2 = self.state_lists(backend, names, p_list)
        backend.kernels.optimizer_update(
            self.kind, backend.tensor_list(p_list), backend.tensor_list(g_list), s1, s2,
            self.step_lr(), self.momentum, self.beta1, self.beta2,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """W ← W - η · ΔW."""

    kind = kernels.SGD
    name = "sgd"


class Momentum(Optimizer):
    """v ← α·v - η·ΔW ; W ← W + v."""

    kind = kernels.MOMENTUM
    n_state = 1
    name = "momentum"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = _fraction("momentum", momentum)


class AdaGrad(Optimizer):
    """h ← h + ΔW² ; W ← W - η·ΔW / (√h + 1e-7)."""

    kind = kernels.ADAGRAD
    n_state = 1
    name = "adagrad"


class Adam(Optimizer):
    """The book's Adam: η_t = η·√(1-β2^t)/(1-β1^t); m, v running moments; W ← W - η_t·m/(√v+1e-7)."""

    kind = kernels.ADAM
    n_state = 2
    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        self.beta1 = _fraction("beta1", beta1)
        self.beta2 = _fraction("beta2", beta2)
        self.iter = 0

    def get_state(self, backend, names: list[str]) -> dict:
        return {**super().get_state(backend, names), "iter": self.iter}

    def set_state(self, backend, state: dict) -> None:
        super().set_state(backend, state)
        self.iter = state["iter"]

    def step_lr(self) -> float:
        self.iter += 1
        return self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, AdaGrad, Adam)}


def make_optimizer(name: str, lr: float) -> Optimizer:
    """The optimizer called `name` (sgd, momentum, adagrad, adam) with learning rate `lr`."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[name](lr)
