"""The book's two loss functions on plain Python lists, for one output vector or a batch.

`mean_squared_error` is the identity output's loss kernel (`E = ½ Σ_k (Y_k − T_k)²`);
`cross_entropy_error` is the loss half of softmax-with-loss (`E = −Σ_k T_k log(Y_k + 1e-7)`)
applied to probabilities you already have.  A batch (a list of rows) gives the mean over rows.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from loopnet import kernels
from loopnet.errors import ShapeError


def mean_squared_error(y: Sequence, t: Sequence) -> float:
    """E = ½ Σ_k (y_k − t_k)² for one vector, or its mean over the rows of a batch."""
    rows = _rows(y, t, "mean_squared_error")
    scratch = [0.0] * len(rows[0][0])
    total = 0.0
    for y_row, t_row in rows:
        total += kernels.identity_with_loss_forward(y_row, scratch, t_row, 0, len(y_row))
    return total / len(rows)


def cross_entropy_error(y: Sequence, t: Sequence, guard: float = kernels.LOG_GUARD) -> float:
    """E = −Σ_k t_k · log(y_k + guard) for one vector of probabilities, or its mean over a
    batch; `t` is one-hot rows or int labels (then E = −log(y_label + guard))."""
    total = 0.0
    rows = _rows(y, t, "cross_entropy_error")
    for y_row, t_row in rows:
        # E = -Σ_k T_k · log(Y_k + 1e-7)   (terms with T_k = 0 add nothing)
        for k in range(len(y_row)):
            if t_row[k] != 0.0:
                total -= t_row[k] * math.log(y_row[k] + guard)
    return total / len(rows)


def _rows(y: Sequence, t: Sequence, what: str) -> list[tuple[list[float], list[float]]]:
    """(y, t) as a list of equal-length float rows; int labels become one-hot rows."""
    batch = len(y) > 0 and not isinstance(y[0], (int, float))
    y_rows = [list(map(float, r)) for r in y] if batch else [list(map(float, y))]
    t_rows = list(t) if batch else [t]
    if not y_rows or not y_rows[0] or len(t_rows) != len(y_rows):
        raise ShapeError(f"{what}: {len(t_rows)} teachers for {len(y_rows)} output rows")
    out = []
    for r, (y_row, t_row) in enumerate(zip(y_rows, t_rows)):
        if isinstance(t_row, int):
            if not 0 <= t_row < len(y_row):
                raise ShapeError(f"{what}: label {t_row} of row {r} is outside 0..{len(y_row) - 1}")
            t_row = [1.0 if k == t_row else 0.0 for k in range(len(y_row))]
        t_row = [float(v) for v in t_row]
        if len(t_row) != len(y_row) or len(y_row) != len(y_rows[0]):
            raise ShapeError(f"{what}: row {r} has {len(y_row)} outputs and {len(t_row)} teachers")
        out.append((y_row, t_row))
    return out
