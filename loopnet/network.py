"""MultiLayerNet and TwoLayerNet: the book's API over the per-neuron loops of `loopnet.kernels`."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from loopnet import kernels
from loopnet.backends import get_backend
from loopnet.errors import ConfigError, DataError, LoopnetError, ShapeError
from loopnet.memory import network_bytes, require_memory
from loopnet.rng import Rng

ACTIVATIONS = {"relu": kernels.RELU, "sigmoid": kernels.SIGMOID, "tanh": kernels.TANH}
# activations with no usable derivative: a network with one predicts, and refuses to train
FORWARD_ONLY_ACTIVATIONS = {"step": kernels.STEP}
# every activation's kernel code, by name
ACTIVATION_CODES = {**ACTIVATIONS, **FORWARD_ONLY_ACTIVATIONS}
# The supported (output unit, loss) pairs and their kernel codes; the first loss of each output
# is its default.
OUTPUT_LOSSES = {
    ("softmax", "cross_entropy"): kernels.SOFTMAX,
    ("sigmoid", "cross_entropy"): kernels.SIGMOID_CROSS_ENTROPY,
    ("sigmoid", "squared_error"): kernels.SIGMOID_SQUARED_ERROR,
    ("identity", "squared_error"): kernels.IDENTITY,
}
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "cross_entropy", "identity": "squared_error"}
LOSSES = ("cross_entropy", "squared_error")
# output name -> kernel code, with its default loss
OUTPUTS = {output: OUTPUT_LOSSES[output, loss] for output, loss in DEFAULT_LOSS.items()}
DEFAULT_LOG_GUARD = kernels.LOG_GUARD
WEIGHT_INITS = ("he", "xavier", "uniform")
NUMERICAL_H = 1e-4  # central-difference step of the book's numerical_gradient


def check_sizes(sizes: Sequence[int]) -> list[int]:
    """Layer widths (input, hidden..., output) as positive ints; at least input and output."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ConfigError(f"sizes needs an input and an output width, got {sizes}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or s <= 0:
            raise ConfigError(f"layer sizes must be positive integers, got {sizes}")
    return sizes


def check_config(sizes: Sequence[int], activation: str, output: str,
                 weight_decay: float) -> tuple[list[int], float]:
    """Validated (sizes, weight_decay) of a network; ConfigError names what is wrong."""
    if activation not in ACTIVATIONS and activation not in FORWARD_ONLY_ACTIVATIONS:
        names = ", ".join([*ACTIVATIONS, *FORWARD_ONLY_ACTIVATIONS])
        raise ConfigError(f"unknown activation {activation!r} (choose from {names})")
    if output not in OUTPUTS:
        raise ConfigError(f"unknown output {output!r} (choose from {', '.join(OUTPUTS)})")
    try:
        weight_decay = float(weight_decay)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"weight_decay must be a number, got {weight_decay!r}") from None
    if not (weight_decay >= 0.0 and math.isfinite(weight_decay)):
        raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
    return check_sizes(sizes), weight_decay


def check_loss(output: str, loss: str | None = None) -> str:
    """The loss of `output` (its default when None); ConfigError for an unknown loss or an
    unsupported pair, naming the supported ones."""
    if output not in OUTPUTS:
        raise ConfigError(f"unknown output {output!r} (choose from {', '.join(OUTPUTS)})")
    if loss is None:
        return DEFAULT_LOSS[output]
    if (output, loss) not in OUTPUT_LOSSES:
        pairs = ", ".join(f"{o}+{l}" for o, l in OUTPUT_LOSSES)
        what = "unknown loss" if loss not in LOSSES else "unsupported output/loss pair"
        raise ConfigError(f"{what} {output}+{loss} (supported: {pairs})")
    return loss


def check_log_guard(log_guard: float) -> float:
    """The log guard g as a float >= 0 (0 allowed: the unguarded log)."""
    if isinstance(log_guard, bool) or not isinstance(log_guard, numbers.Real) or not (
            log_guard >= 0.0 and math.isfinite(log_guard)):
        raise ConfigError(f"log_guard must be a finite number >= 0, got {log_guard!r}")
    return float(log_guard)


def output_code(output: str, loss: str | None = None) -> int:
    """The kernels' code of the (output, loss) pair (loss None: the output's default)."""
    return OUTPUT_LOSSES[output, check_loss(output, loss)]


def param_names(n_layers: int) -> list[str]:
    """W1, b1, W2, b2, ... for `n_layers` layers."""
    return [f"{kind}{layer}" for layer in range(1, n_layers + 1) for kind in "Wb"]


def weight_init_std(weight_init, n_in: int, n_out: int) -> float:
    """σ of the normal init (or ε of the uniform one) for a layer with n_in inputs."""
    if weight_init == "he":
        return math.sqrt(2.0 / n_in)  # He: N(0, √(2/n_in))
    if weight_init == "xavier":
        return math.sqrt(1.0 / n_in)  # Xavier: N(0, √(1/n_in))
    if weight_init == "uniform":
        return math.sqrt(6.0) / math.sqrt(n_in + n_out)  # Coursera ex4: U[-ε, ε]
    return float(weight_init)


def fixed_uniform_init(weight_init) -> tuple[float, bool] | None:
    """(ε, biases too) of a ``"uniform:EPS"`` or ``"uniform:EPS:bias"`` init, None for other
    inits; ConfigError for a malformed one.  Coursera ex4's randInitializeWeights is
    ``"uniform:0.12:bias"`` (its Θ holds the bias column, drawn like the rest)."""
    if not isinstance(weight_init, str) or not weight_init.startswith("uniform:"):
        return None
    parts = weight_init.split(":")
    try:
        eps = float(parts[1])
    except ValueError:
        eps = math.nan
    if len(parts) > 3 or (len(parts) == 3 and parts[2] != "bias") or not (
            0 < eps < 1e300 and math.isfinite(eps)):
        raise ConfigError(f"weight_init {weight_init!r}: write uniform:EPS or uniform:EPS:bias "
                          "with EPS a positive number (ex4: uniform:0.12:bias)")
    return eps, len(parts) == 3


def init_params(sizes: Sequence[int], weight_init, seed: int) -> list[list[float]]:
    """[W1, B1, W2, B2, ...] as flat lists, W drawn row-major from Rng(seed), B = 0.

    Normal schemes: W_{i,j} = σ · normal(); uniform: W_{i,j} = ε · (2 · uniform() - 1), with
    ε = √6/√(n_in + n_out), or the given ε of "uniform:EPS".  "uniform:EPS:bias" draws each
    layer's B_j the same way, right after its W.
    """
    fixed = fixed_uniform_init(weight_init)
    if fixed is not None:
        eps, with_bias = fixed
        rng = Rng(seed)
        tensors = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            tensors.append([eps * (2.0 * rng.uniform() - 1.0) for _ in range(n_in * n_out)])
            tensors.append([eps * (2.0 * rng.uniform() - 1.0) for _ in range(n_out)]
                           if with_bias else [0.0] * n_out)
        return tensors
    if isinstance(weight_init, str):
        if weight_init not in WEIGHT_INITS:
            raise ConfigError(
                f"unknown weight_init {weight_init!r} (a number, one of {', '.join(WEIGHT_INITS)}, "
                "or uniform:EPS[:bias])"
            )
    elif isinstance(weight_init, bool) or not isinstance(weight_init, (int, float)) or not (
        weight_init > 0 and weight_init < 1e300 and math.isfinite(weight_init)
    ):
        raise ConfigError(f"weight_init must be a positive std or a scheme name, got {weight_init!r}")
    rng = Rng(seed)
    tensors = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        scale = weight_init_std(weight_init, n_in, n_out)
        if weight_init == "uniform":
            W = [scale * (2.0 * rng.uniform() - 1.0) for _ in range(n_in * n_out)]
        else:
            W = [scale * rng.normal() for _ in range(n_in * n_out)]
        tensors.append(W)
        tensors.append([0.0] * n_out)
    return tensors


def sparse_input_rows(backend, X, count: int, n_in: int) -> tuple:
    """The dense rows X (count × n_in, flat) as the kernels' sparse input rows
    (row_start, input_index, input_value), in `backend`'s buffers."""
    rows = (backend.int_buffer([0] * (count + 1)), backend.index_buffer(count * n_in + 1),
            backend.zeros(count * n_in + 1))
    backend.kernels.sparse_rows(X, count, n_in, *rows)
    return rows


def require_network_memory(sizes: Sequence[int], backend: str) -> None:
    """Raise ConfigError when a network of these sizes would not fit in the memory available."""
    require_memory(network_bytes(sizes, backend),
                   f"a {'-'.join(map(str, sizes))} network (--hidden / --sizes)")


class MultiLayerNet:
    """A fully connected network whose forward and backward passes are per-neuron loops.

    sizes: widths (input, hidden..., output), e.g. [784, 50, 10].  output: "softmax", "sigmoid"
    or "identity"; loss: "cross_entropy" or "squared_error", None for the output's default
    (softmax, sigmoid: cross_entropy; identity: squared_error); log_guard: the g of the
    cross-entropies' log(Y + g) (default the book's 1e-7; 0 gives the unguarded log, and an
    infinite loss where a true value's probability is exactly 0).  Parameters are named
    W1, b1, W2, b2, ... in layer order; `params` maps each name to its live flat buffer
    (W row-major: W[i * n_out + j]); `get_params()` gives nested copies (W as n_in rows).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output: str = "softmax",
        weight_init=0.01,
        weight_decay: float = 0.0,
        seed: int = 0,
        backend: str = "python",
        parallel: bool = False,
        loss: str | None = None,
        log_guard: float = DEFAULT_LOG_GUARD,
    ) -> None:
        self.sizes, weight_decay = check_config(sizes, activation, output, weight_decay)
        self.activation = activation
        self.output = output
        self.loss_name = check_loss(output, loss)
        self.log_guard = check_log_guard(log_guard)
        self.weight_init = weight_init
        self.weight_decay = weight_decay
        self.seed = seed
        self.backend = get_backend(backend, parallel=parallel)
        require_network_memory(self.sizes, self.backend.name)
        self.n_layers = len(self.sizes) - 1
        self.names = param_names(self.n_layers)
        b = self.backend
        tensors = [b.float_buffer(t) for t in init_params(self.sizes, weight_init, seed)]
        self.params = dict(zip(self.names, tensors))
        self._params = b.tensor_list(tensors)
        self._grads = b.tensor_list([b.zeros(len(t)) for t in tensors])
        self._sizes = b.int_buffer(self.sizes)
        widths = self.sizes[1:]
        self._Z, self._H, self._dZ, self._dH = (
            b.tensor_list([b.zeros(n) for n in widths]) for _ in range(4)
        )
        self._active = b.index_buffer(max(self.sizes[1:-1], default=1))
        self._activation = ACTIVATION_CODES[activation]
        self._output = OUTPUT_LOSSES[output, self.loss_name]

    # ------------------------------------------------------------------ shapes and parameters
    def shape_of(self, name: str) -> tuple[int, ...]:
        """(n_in, n_out) for W<l>, (n_out,) for b<l>."""
        layer = int(name[1:]) - 1
        if name[0] == "W":
            return (self.sizes[layer], self.sizes[layer + 1])
        return (self.sizes[layer + 1],)

    def get_params(self) -> dict[str, list]:
        """Copies of the parameters: W as n_in rows of n_out floats, b as a list."""
        out = {}
        for name in self.names:
            flat = self.backend.to_list(self.params[name])
            out[name] = _nest(flat, self.shape_of(name))
        return out

    def set_params(self, params: dict) -> None:
        """Replace every parameter from nested sequences (lists, tuples, NumPy arrays)."""
        unknown = sorted(set(params) - set(self.names))
        missing = [n for n in self.names if n not in params]
        if unknown or missing:
            raise ShapeError(f"set_params expects {', '.join(self.names)}; "
                             f"missing {missing or 'none'}, unknown {unknown or 'none'}")
        flats = {}
        for name in self.names:
            shape = self.shape_of(name)
            if len(shape) == 2:
                flat, rows = self.backend.rows(params[name], shape[1], name)
                if rows != shape[0]:
                    raise ShapeError(f"{name} has {rows} rows, expected {shape[0]}")
            else:
                try:
                    flat, rows = self.backend.rows([params[name]], shape[0], name)
                except LoopnetError as exc:  # a vector has no rows: "b2 row 0 has" → "b2 has"
                    raise type(exc)(str(exc).replace(f"{name} row 0", name, 1)) from None
            flats[name] = flat
        for name in self.names:  # copy only after every tensor validated: all or nothing
            buf = self.params[name]
            for i, v in enumerate(flats[name]):
                buf[i] = v

    # ------------------------------------------------------------------ input preparation
    def _inputs(self, x) -> tuple:
        """x as the kernels' sparse input rows (row_start, input_index, input_value), and the
        number of rows."""
        X, count = self.backend.rows(x, self.sizes[0], "input")
        if count == 0:
            raise ShapeError("input has no rows")
        return sparse_input_rows(self.backend, X, count, self.sizes[0]), count

    def _teachers(self, t, count: int) -> tuple:
        """T rows (one-hot for int labels) and int labels (argmax of rows) for `count` examples."""
        n_out = self.sizes[-1]
        t = list(t) if not hasattr(t, "shape") else t
        if len(t) != count:
            raise ShapeError(f"{len(t)} teachers for {count} input rows")
        first = t[0]
        if _is_scalar(first):
            labels = []
            for v in t:
                if not _is_scalar(v) or not math.isfinite(v) or int(v) != v:
                    raise DataError(f"labels must be integers, got {v!r}")
                label = int(v)
                if not 0 <= label < n_out:
                    raise DataError(f"label {label} is outside 0..{n_out - 1}")
                labels.append(label)
            rows = [[1.0 if k == label else 0.0 for k in range(n_out)] for label in labels]
            T, _ = self.backend.rows(rows, n_out, "teacher")
        else:
            T, _ = self.backend.rows(t, n_out, "teacher")
            flat = self.backend.to_list(T)
            labels = [_argmax(flat[n * n_out:(n + 1) * n_out]) for n in range(count)]
        return T, self.backend.int_buffer(labels)

    # ------------------------------------------------------------------ forward
    def predict(self, x) -> list[list[float]]:
        """Scores A of each row (the last Affine's output, before softmax)."""
        rows, count = self._inputs(x)
        n_out = self.sizes[-1]
        scores = self.backend.zeros(count * n_out)
        self.backend.kernels.predict_rows(*rows, count, self._params, self._sizes, self._activation,
                                          scores, self._Z, self._H, self._active)
        return _nest(self.backend.to_list(scores), (count, n_out))

    def loss(self, x, t) -> float:
        """Batch loss L = (1/N) Σ E_n + (λ/2) Σ W²."""
        rows, count = self._inputs(x)
        T, _ = self._teachers(t, count)
        return self._loss(rows, T, count)

    def _loss(self, rows, T, count: int) -> float:
        return float(self.backend.kernels.batch_loss(
            *rows, T, count, self._params, self._sizes, self._activation, self._output,
            self.log_guard, self.weight_decay, self._Z, self._H, self._active))

    def accuracy(self, x, t) -> float:
        """Fraction of rows whose largest score is the label (argmax of t for one-hot rows)."""
        rows, count = self._inputs(x)
        _, labels = self._teachers(t, count)
        correct = self.backend.kernels.count_correct(
            *rows, labels, count, self._params, self._sizes, self._activation, self._Z, self._H,
            self._active)
        return correct / count

    # ------------------------------------------------------------------ gradients
    def check_trainable(self) -> None:
        """ConfigError when the activation has no derivative to train with (step)."""
        if self.activation in FORWARD_ONLY_ACTIVATIONS:
            raise ConfigError(
                f"a {self.activation} network can only predict: the step's derivative is 0 "
                "wherever it exists (and undefined at 0), so backprop and numerical gradients "
                "are 0 and no weight would ever change; use sigmoid, the step's smooth version, "
                "to train")

    def gradient(self, x, t) -> dict[str, list]:
        """Backprop gradients ΔW + λW and ΔB, nested like `get_params()`."""
        self.check_trainable()
        rows, count = self._inputs(x)
        T, _ = self._teachers(t, count)
        self._gradient(rows, T, count)
        return {name: _nest(self.backend.to_list(g), self.shape_of(name))
                for name, g in zip(self.names, self._grads)}

    def _gradient(self, rows, T, count: int) -> float:
        return float(self.backend.kernels.batch_gradient(
            *rows, T, count, self._params, self._grads, self._sizes, self._activation,
            self._output, self.log_guard, self.weight_decay, self._Z, self._H, self._dZ, self._dH,
            self._active))

    def numerical_gradient(self, x, t) -> dict[str, list]:
        """Central differences (L(w + h) - L(w - h)) / 2h with h = 1e-4, for every parameter."""
        self.check_trainable()
        rows, count = self._inputs(x)
        T, _ = self._teachers(t, count)
        out = {}
        for name in self.names:
            size = len(self.params[name])
            values = [self.numerical_partial(rows, T, count, name, i) for i in range(size)]
            out[name] = _nest(values, self.shape_of(name))
        return out

    def numerical_partial(self, rows, T, count: int, name: str, index: int) -> float:
        """∂L/∂(params[name][index]) by central difference, on prepared buffers (from _inputs)."""
        buf = self.params[name]
        saved = buf[index]
        buf[index] = saved + NUMERICAL_H
        upper = self._loss(rows, T, count)
        buf[index] = saved - NUMERICAL_H
        lower = self._loss(rows, T, count)
        buf[index] = saved
        return (upper - lower) / (2 * NUMERICAL_H)

    # ------------------------------------------------------------------ training
    def train_step(self, x, t, optimizer) -> float:
        """Gradient and one optimizer update in a single kernel call; returns the loss before it."""
        self.check_trainable()
        rows, count = self._inputs(x)
        T, _ = self._teachers(t, count)
        return self._train_step(rows, T, count, optimizer)

    def _train_step(self, rows, T, count: int, optimizer) -> float:
        s1, s2 = optimizer.state_lists(self.backend, self.names, self._params)
        return float(self.backend.kernels.train_step(
            *rows, T, count, self._params, self._grads, self._sizes, self._activation,
            self._output, self.log_guard, self.weight_decay, self._Z, self._H, self._dZ, self._dH,
            self._active, optimizer.kind,
            s1, s2, optimizer.step_lr(), optimizer.momentum, optimizer.beta1, optimizer.beta2))

    def config(self) -> dict:
        """The constructor arguments that define this network (for saving)."""
        return {"sizes": self.sizes, "activation": self.activation, "output": self.output,
                "loss": self.loss_name, "log_guard": self.log_guard,
                "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        return (f"MultiLayerNet({self.sizes}, activation={self.activation!r}, "
                f"output={self.output!r}, loss={self.loss_name!r}, "
                f"backend={self.backend.name!r})")


class TwoLayerNet(MultiLayerNet):
    """The book's TwoLayerNet: input → Affine → activation → Affine → softmax-with-loss."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std=0.01, **kwargs) -> None:
        super().__init__([input_size, hidden_size, output_size], weight_init=weight_init_std,
                         **kwargs)


def _is_scalar(v) -> bool:
    return isinstance(v, (int, float)) or (hasattr(v, "shape") and v.shape == ())


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for k in range(1, len(values)):
        if values[k] > values[best]:
            best = k
    return best


def _nest(flat: list[float], shape: tuple[int, ...]) -> list:
    if len(shape) == 1:
        return list(flat)
    cols = shape[1]
    return [flat[r * cols:(r + 1) * cols] for r in range(shape[0])]
