"""Gradient check: backprop against central differences, per parameter tensor."""
from __future__ import annotations

from dataclasses import dataclass

from loopnet.network import MultiLayerNet
from loopnet.rng import Rng

DEFAULT_RTOL = 1e-4
# Softmax's log(Y + 1e-7) guard makes the numerical gradient (of the guarded loss) differ from
# backprop's (Y - T)/N by up to ~1e-7 / Y_k per example; this absolute allowance covers it.
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


def relative_error(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|) (0 when both are 0)."""
    return abs(a - b) / max(abs(a), abs(b), RELATIVE_FLOOR)


def check_gradients(net: MultiLayerNet, x, t, samples: int | None = None, seed: int = 0,
                    rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> list[TensorCheck]:
    """Compare `net`'s backprop gradient with the numerical one for every tensor.

    An entry fails when |a - b| > atol + rtol · max(|a|, |b|).  Tensors with more than
    `samples` entries are checked on up to `samples` distinct entries drawn from Rng(seed);
    None checks every entry.
    """
    rows, count = net._inputs(x)
    T, _ = net._teachers(t, count)
    net._gradient(rows, T, count)
    rng = Rng(seed)
    results = []
    for name, grad in zip(net.names, net._grads):
        size = len(grad)
        if samples is None or size <= samples:
            entries = range(size)
        else:
            entries = sorted(set(rng.choice(size, samples)))
        backprop = [float(grad[i]) for i in entries]  # copy: numerical_partial reuses buffers
        diffs, rels, failures = [], [], 0
        for i, b in zip(entries, backprop):
            numeric = net.numerical_partial(rows, T, count, name, i)
            diffs.append(abs(b - numeric))
            rels.append(relative_error(b, numeric))
            if not diffs[-1] <= atol + rtol * max(abs(b), abs(numeric)):  # NaN fails too
                failures += 1
        results.append(TensorCheck(name, len(diffs), size, sum(diffs) / len(diffs), max(diffs),
                                   max(rels), failures))
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
