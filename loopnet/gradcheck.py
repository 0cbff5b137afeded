"""Gradient check: backprop against central differences, per parameter tensor."""
from __future__ import annotations

import math
from dataclasses import dataclass

from loopnet.errors import DataError
from loopnet.network import MultiLayerNet
from loopnet.rng import Rng

DEFAULT_RTOL = 1e-4
# The cross-entropies' log(Y + g) guard makes the numerical gradient (of the guarded loss) differ
# from backprop's (Y - T)/N by a factor P/(P + g), P the true value's probability: up to ~g/P per
# example; this absolute allowance covers the default g = 1e-7 (log_guard 0 removes it).
DEFAULT_ATOL = 1e-6
RELATIVE_FLOOR = 1e-12


@dataclass
class TensorCheck:
    """How backprop and numerical gradients of one tensor differ over the checked entries."""

    name: str
    checked: int
    size: int
    mean_abs: float
    max_abs: float
    max_rel: float
    failures: int
    diff_squares: float  # Σ (backprop - numerical)²
    sum_squares: float  # Σ (backprop + numerical)²


def relative_error(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|) (0 when both are 0)."""
    return abs(a - b) / max(abs(a), abs(b), RELATIVE_FLOOR)


def relative_difference(checks: list[TensorCheck]) -> float:
    """Coursera ex4's measure over every checked entry: ‖b - n‖ / ‖b + n‖ (0 when both are 0)."""
    diff = sum(c.diff_squares for c in checks)
    total = sum(c.sum_squares for c in checks)
    return math.sqrt(diff) / math.sqrt(total) if total > 0.0 else 0.0


def check_gradients(net: MultiLayerNet, x, t, samples: int | None = None, seed: int = 0,
                    rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> list[TensorCheck]:
    """Compare `net`'s backprop gradient with the numerical one for every tensor.

    An entry fails when |a - b| > atol + rtol · max(|a|, |b|).  Tensors with more than
    `samples` entries are checked on up to `samples` distinct entries drawn from Rng(seed);
    None checks every entry.
    """
    rows, count = net._inputs(x)
    T, _ = net._teachers(t, count)
    loss = net._gradient(rows, T, count)
    if math.isinf(loss) and net.log_guard == 0.0 and net.loss_name == "cross_entropy":
        raise DataError("the loss is infinite at these weights: with log_guard 0 a true value "
                        "has probability exactly 0; use a log guard > 0")
    rng = Rng(seed)
    results = []
    for name, grad in zip(net.names, net._grads):
        size = len(grad)
        if samples is None or size <= samples:
            entries = range(size)
        else:
            entries = sorted(set(rng.choice(size, samples)))
        backprop = [float(grad[i]) for i in entries]  # copy: numerical_partial reuses buffers
        diffs, rels, failures, sums = [], [], 0, []
        for i, b in zip(entries, backprop):
            numeric = net.numerical_partial(rows, T, count, name, i)
            diffs.append(abs(b - numeric))
            sums.append(b + numeric)
            rels.append(relative_error(b, numeric))
            if not diffs[-1] <= atol + rtol * max(abs(b), abs(numeric)):  # NaN fails too
                failures += 1
        results.append(TensorCheck(name, len(diffs), size, sum(diffs) / len(diffs), max(diffs),
                                   max(rels), failures, sum(d * d for d in diffs),
                                   sum(s * s for s in sums)))
    return results


def random_problem(sizes: list[int], output: str, examples: int, seed: int) -> tuple[list, list]:
    """Inputs uniform in [0, 1) with about a fifth set to 0 (like pixels), and teachers."""
    rng = Rng(seed)
    x = [[rng.uniform() if rng.uniform() < 0.8 else 0.0 for _ in range(sizes[0])]
         for _ in range(examples)]
    if output == "softmax":
        t = [rng.randbelow(sizes[-1]) for _ in range(examples)]
    else:
        t = [[rng.uniform() for _ in range(sizes[-1])] for _ in range(examples)]
    return x, t
