"""Compare loopnet's loops, quantity by quantity, with vectorized NumPy and PyTorch networks.

`compare_networks` starts every oracle from a copy of the loopnet net's parameters, feeds all of
them the same minibatches, and returns one `Row` per quantity and oracle:

* on the first minibatch, before any update: every hidden layer's ``Z<l>`` and ``H<l>``, the
  scores ``A``, the outputs ``Y``, the loss and every gradient ``ΔW<l>``, ``ΔB<l>`` (with λ·W);
* over ``steps`` optimizer steps (step s on minibatch s): the loss of each step and every
  parameter after the last step.

A row holds the largest absolute difference ``|loopnet - oracle|``, the largest relative
difference ``|loopnet - oracle| / max(|loopnet|, |oracle|)`` (0 where both are 0), and where
each occurs.  Indices are 0-based (example within the minibatch, neuron, row i / column j of W);
layers count from 1 like the parameter names.

`select_batches` draws the minibatches the CLI uses: ``Rng(seed).choice(len(train), batch)``
once per step, from one generator, so step s takes draws s·batch .. (s+1)·batch - 1.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from loopnet.errors import BackendError, ConfigError
from loopnet.model_io import write_atomic
from loopnet.network import MultiLayerNet
from loopnet.optimizers import OPTIMIZERS, make_optimizer
from loopnet.rng import Rng

ORACLES = ("numpy", "torch")
TORCH_MISSING = "torch is not installed; skipping the PyTorch comparison (pip install loopnet[torch])"


@dataclass
class Row:
    """The differences of one quantity between loopnet and one oracle."""

    quantity: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    where: str
    where_rel: str
    loopnet: float  # both values at the largest absolute difference
    oracle: float

    def ok(self, tolerance: float) -> bool:
        """Whether the largest absolute difference is within `tolerance`."""
        return self.max_abs <= tolerance

    def as_dict(self) -> dict:
        """JSON-ready fields (non-finite numbers as strings)."""
        return {"quantity": self.quantity, "shape": list(self.shape),
                "max_abs": _json_float(self.max_abs), "max_rel": _json_float(self.max_rel),
                "where": self.where, "where_rel": self.where_rel,
                "loopnet": _json_float(self.loopnet), "oracle": _json_float(self.oracle)}


@dataclass
class OracleResult:
    """All rows of one oracle, or why it was skipped."""

    oracle: str
    rows: list[Row] = field(default_factory=list)
    skipped: str | None = None

    def worst(self) -> Row | None:
        """The row with the largest absolute difference."""
        return max(self.rows, key=lambda r: r.max_abs, default=None)


@dataclass
class Comparison:
    """The outcome of `compare_networks`: per-oracle rows plus the settings that produced them."""

    config: dict
    tolerance: float
    results: list[OracleResult]

    @property
    def ok(self) -> bool:
        """True when every row of every oracle that ran is within the tolerance."""
        return all(r.ok(self.tolerance) for res in self.results for r in res.rows)

    def as_dict(self) -> dict:
        """The JSON document `--json` writes: config, tolerance, ok and each oracle's rows."""
        oracles = {}
        for res in self.results:
            if res.skipped:
                oracles[res.oracle] = {"skipped": res.skipped}
            else:
                oracles[res.oracle] = {
                    "ok": all(r.ok(self.tolerance) for r in res.rows),
                    "rows": [r.as_dict() for r in res.rows]}
        return {"config": self.config, "tolerance": self.tolerance, "ok": self.ok,
                "oracles": oracles}

    def write_json(self, path: str | os.PathLike) -> None:
        """The same table as JSON, written atomically."""
        write_atomic(path, json.dumps(self.as_dict(), indent=2) + "\n")

    def format_table(self) -> str:
        """One text table per oracle: quantity, shape, max |Δ|, max rel, where, ok."""
        lines = []
        for res in self.results:
            if res.skipped:
                continue
            lines.append(f"loopnet ({self.config['backend']}) vs {res.oracle}:")
            header = (f"  {'quantity':<18} {'shape':<9} {'max |Δ|':>9} {'max rel':>9}  "
                      f"{'ok':<3} where (max |Δ|)")
            lines.append(header)
            for r in res.rows:
                shape = "×".join(str(s) for s in r.shape) or "1"
                mark = "ok" if r.ok(self.tolerance) else "BAD"
                lines.append(f"  {r.quantity:<18} {shape:<9} {_fmt(r.max_abs):>9} "
                             f"{_fmt(r.max_rel):>9}  {mark:<3} {r.where}")
            worst = res.worst()
            bad = sum(not r.ok(self.tolerance) for r in res.rows)
            verdict = (f"all {len(res.rows)} quantities within {self.tolerance:g}" if not bad
                       else f"{bad} of {len(res.rows)} quantities exceed {self.tolerance:g}")
            lines.append(f"  {res.oracle}: {verdict}; largest |Δ| {_fmt(worst.max_abs)} "
                         f"({worst.quantity})")
            lines.append("")
        return "\n".join(lines).rstrip("\n")


def _fmt(v: float) -> str:
    return "0" if v == 0.0 else f"{v:.2e}"


def _json_float(v: float):
    return v if math.isfinite(v) else repr(v)


# ------------------------------------------------------------------------------- differences
def _where(quantity: str, index: tuple[int, ...], n_layers: int) -> str:
    """Human-readable location of `index` in `quantity` (see the module docstring)."""
    name = quantity.split()[0]
    if name == "loss":
        return "-"
    if name == "losses":
        return f"step {index[0] + 1}"
    if name in ("A", "Y"):
        return f"layer {n_layers}, example {index[0]}, neuron {index[1]}"
    layer = name.lstrip("ΔZHWBb")
    if name[0] in "ZH":
        return f"layer {layer}, example {index[0]}, neuron {index[1]}"
    if len(index) == 2:
        return f"layer {layer}, i={index[0]}, j={index[1]}"
    return f"layer {layer}, neuron {index[0]}"


def diff_row(quantity: str, ours, theirs, n_layers: int) -> Row:
    """Max absolute and relative difference of two same-shaped arrays, with locations."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(theirs, dtype=np.float64)
    if a.shape != b.shape:
        raise ConfigError(f"{quantity}: loopnet has shape {a.shape}, the oracle {b.shape}")
    with np.errstate(invalid="ignore"):
        both_nan = np.isnan(a) & np.isnan(b)
        d = np.abs(a - b)
        d = np.where(both_nan, 0.0, np.where(np.isnan(d), np.inf, d))  # NaN on one side: ∞
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(d == 0.0, 0.0, d / np.where(scale > 0.0, scale, 1.0))
    i_abs = np.unravel_index(int(np.argmax(d)), d.shape) if d.size else ()
    i_rel = np.unravel_index(int(np.argmax(rel)), rel.shape) if rel.size else ()
    i_abs = tuple(int(i) for i in i_abs)
    i_rel = tuple(int(i) for i in i_rel)
    return Row(quantity, a.shape, float(d[i_abs]) if d.size else 0.0,
               float(rel[i_rel]) if rel.size else 0.0,
               _where(quantity, i_abs, n_layers), _where(quantity, i_rel, n_layers),
               float(a[i_abs]) if a.size else 0.0, float(b[i_abs]) if b.size else 0.0)


# ------------------------------------------------------------------------------- loopnet side
def loopnet_trace(net: MultiLayerNet, x, t) -> dict[str, np.ndarray]:
    """Every example's Z and H of every layer, A, Y, the loss and the gradients, from the loops.

    Runs the kernels one example at a time with private buffers (the network's own keep only
    the last example), then `net`'s batch gradient for the loss and ΔW, ΔB.
    """
    rows, count = net._inputs(x)
    row_start, input_index, input_value = rows
    T, _ = net._teachers(t, count)
    b = net.backend
    widths = net.sizes[1:]
    n_out = net.sizes[-1]
    Z = b.tensor_list([b.zeros(n) for n in widths])
    H = b.tensor_list([b.zeros(n) for n in widths])
    zs = [np.zeros((count, n)) for n in widths]
    hs = [np.zeros((count, n)) for n in widths]
    for n in range(count):
        b.kernels.forward_example(input_index, input_value, row_start[n], row_start[n + 1],
                                  net._params, net._sizes, net._activation, Z, H, net._active)
        b.kernels.output_loss(net._output, net.log_guard, Z, H, T, n * n_out, net._sizes)
        for l in range(len(widths)):
            zs[l][n] = b.to_list(Z[l])
            hs[l][n] = b.to_list(H[l])
    loss = net._gradient(rows, T, count)
    grads = {name: np.array(b.to_list(g)).reshape(net.shape_of(name))
             for name, g in zip(net.names, net._grads)}
    return _quantities(zs, hs[:-1], hs[-1], loss, grads, net.n_layers)


def _quantities(zs, hidden, y, loss, grads, n_layers: int) -> dict[str, np.ndarray]:
    """The rows' quantities in table order: Z1, H1, ..., A, Y, loss, ΔW1, ΔB1, ..."""
    out: dict[str, np.ndarray] = {}
    for l in range(1, n_layers):
        out[f"Z{l}"] = np.asarray(zs[l - 1])
        out[f"H{l}"] = np.asarray(hidden[l - 1])
    out["A"] = np.asarray(zs[-1])
    out["Y"] = np.asarray(y)
    out["loss"] = np.asarray(loss)
    for l in range(1, n_layers + 1):
        out[f"ΔW{l}"] = np.asarray(grads[f"W{l}"])
        out[f"ΔB{l}"] = np.asarray(grads[f"b{l}"])
    return out


# ------------------------------------------------------------------------------- oracles
class _Oracle:
    """A reference network plus its optimizer, seen through one interface."""

    def __init__(self, name: str, net: MultiLayerNet, optimizer: str, lr: float) -> None:
        self.name = name
        if name == "numpy":
            from loopnet.reference.numpy_net import NumpyNet
            from loopnet.reference.numpy_net import make_optimizer as numpy_optimizer

            self.ref = NumpyNet.from_loopnet(net)
            self.optimizer = numpy_optimizer(optimizer, lr)
        else:
            from loopnet.reference.torch_net import TorchNet

            self.ref = TorchNet.from_loopnet(net)
            self.optimizer = self.ref.make_optimizer(optimizer, lr)

    def quantities(self, x, t, n_layers: int) -> dict[str, np.ndarray]:
        tr = self.ref.trace(x, t)
        grads = self.ref.gradient(x, t)
        return _quantities(tr["Z"], tr["H"], tr["Y"], tr["loss"], grads, n_layers)

    def params(self) -> dict[str, np.ndarray]:
        if self.name == "numpy":
            return self.ref.params
        return self.ref.get_params()


def torch_available() -> bool:
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def parse_against(text: str | Sequence[str]) -> list[str]:
    """Oracle names from "numpy,torch" (or a list); ConfigError for unknown or empty ones."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    if not names or any(n not in ORACLES for n in names):
        raise ConfigError(f"--against takes a comma list of {', '.join(ORACLES)}; got {text!r}")
    return list(dict.fromkeys(names))


def compare_networks(
    net: MultiLayerNet,
    batches: Sequence[tuple],
    *,
    steps: int | None = None,
    optimizer: str = "sgd",
    lr: float | None = None,
    against: Sequence[str] = ORACLES,
    tolerance: float = 1e-12,
    config: dict | None = None,
) -> Comparison:
    """Compare `net` with each oracle in `against` on `batches` (see the module docstring).

    batches: (x, t) minibatches, x an (N, n_in) array or rows, t int labels or teacher rows.
    Forward and gradient rows use batches[0]; then `steps` (default: ``len(batches)``) training
    steps run on batches[0], batches[1], ... with the optimizer `optimizer` at rate `lr`
    (default: that optimizer's default rate).  `net` itself is trained by the comparison.
    An oracle that cannot be imported (torch absent) is reported as skipped.
    """
    against = parse_against(against)
    steps = len(batches) if steps is None else steps
    if not batches or not 0 <= steps <= len(batches):
        raise ConfigError(f"need at least max(steps, 1) minibatches; got {len(batches)} "
                          f"for {steps} steps")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
    lr = OPTIMIZERS[optimizer]().lr if lr is None else lr
    results: list[OracleResult] = []
    oracles: list[_Oracle] = []
    for name in against:
        if name == "torch" and not torch_available():
            results.append(OracleResult(name, skipped=TORCH_MISSING))
            continue
        oracles.append(_Oracle(name, net, optimizer, lr))
        results.append(OracleResult(name))
    if not oracles:
        raise BackendError(TORCH_MISSING.split(";")[0] + " and no other oracle was asked for")
    run = {res.oracle: res for res in results}
    L = net.n_layers
    x0, t0 = batches[0]
    ours = loopnet_trace(net, x0, t0)
    for oracle in oracles:
        theirs = oracle.quantities(x0, t0, L)
        run[oracle.name].rows += [diff_row(q, ours[q], theirs[q], L) for q in ours]
    if steps:
        loopnet_opt = make_optimizer(optimizer, lr)
        our_losses = [net.train_step(x, t, loopnet_opt) for x, t in batches[:steps]]
        ours_after = net.get_params()
        for oracle in oracles:
            losses = [oracle.ref.train_step(x, t, oracle.optimizer) for x, t in batches[:steps]]
            rows = run[oracle.name].rows
            rows.append(diff_row("losses (per step)", our_losses, losses, L))
            after = oracle.params()
            for name in net.names:
                label = f"{name} after {steps} step{'s' if steps > 1 else ''}"
                rows.append(diff_row(label, ours_after[name], after[name], L))
    cfg = {"sizes": net.sizes, "activation": net.activation, "output": net.output,
           "loss": net.loss_name, "log_guard": net.log_guard, "weight_decay": net.weight_decay,
           "backend": net.backend.name,
           "optimizer": optimizer, "lr": lr, "steps": steps, **(config or {})}
    return Comparison(cfg, tolerance, results)


# ------------------------------------------------------------------------------- data
def select_batches(train, batch: int, steps: int, seed: int,
                   one_hot: bool = False, n_out: int | None = None) -> tuple[list[tuple], list]:
    """max(steps, 1) minibatches of `train` (a loopnet Dataset) drawn by ``Rng(seed).choice``.

    Returns ([(x, t), ...], [indices of each batch]); x = pixels / 255 (or the float features
    as they are) as an (N, n_features) array; t the int labels, or one-hot rows of width `n_out`
    when `one_hot` (the teachers of the sigmoid and identity outputs).
    """
    rng = Rng(seed)
    if train.is_float:
        values = np.frombuffer(train.features, dtype=np.float64)
    else:
        values = np.frombuffer(train.pixels, dtype=np.uint8)
    values = values.reshape(len(train), train.n_features)
    labels = np.frombuffer(train.labels, dtype=np.uint8).astype(np.int64)
    batches, chosen = [], []
    for _ in range(max(steps, 1)):
        idx = rng.choice(len(train), batch)
        x = values[idx] if train.is_float else values[idx] / 255.0
        t = labels[idx]
        if one_hot:
            t = np.eye(n_out)[t]
        batches.append((x, t))
        chosen.append(idx)
    return batches, chosen
