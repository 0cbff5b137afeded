"""Full-batch training with SciPy's line-search optimizers (CG, L-BFGS): ex4's fmincg counterpart.

The objective is the network's own loss over the whole training set,
``L(θ) = (1/N) Σ_n E_n + (λ/2) Σ W²``, and its gradient the kernels' backprop
(`batch_gradient`); θ is every parameter flattened in the order W1, b1, W2, b2, … (each W
row-major, as `net.params` keeps it).  SciPy's `minimize` only proposes θ: every loss and
gradient is computed by the loops.

Coursera ex4's regularized cost ``J = (1/m) Σ cost + λ/(2m) Σ Θ²`` (the bias column not
regularized) is this L with ``weight_decay = λ/m``: ex4's λ = 1 on its m = 5000 examples is
``weight_decay = 0.0002``.  Its gradient ``(1/m)(Δ + λΘ)`` is then backprop's ``ΔW + λ'·W``.
"""
from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from loopnet.data.dataset import Dataset
from loopnet.errors import BackendError, ConfigError, TrainingDivergedError
from loopnet.network import MultiLayerNet

METHODS = {"cg": "CG", "lbfgs": "L-BFGS-B"}  # loopnet name → scipy.optimize.minimize method


@dataclass
class FullBatchResult:
    """What a full-batch run did: optimizer iterations, loss/gradient evaluations, the loss
    after each iteration, SciPy's message, and the seconds it took."""

    iterations: int
    evaluations: int
    losses: list[float]
    message: str
    seconds: float


def full_batch(net: MultiLayerNet, data: Dataset) -> tuple[tuple, object, int]:
    """Every example of `data` as the kernels' sparse input rows (in order), with one-hot T."""
    import numpy as np

    from loopnet.training import DataFeed, _check_dataset

    _check_dataset(net, data, "training")
    b = net.backend
    feed = DataFeed(net, data, 1)  # converts the set to sparse rows once
    values = feed.pixel_value
    if not data.is_float:  # X_i = pixel_i / 255, the division gather_batch does
        scaled = np.frombuffer(bytes(values), dtype=np.uint8) / 255.0
        values = scaled if b.name == "numba" else array("d", scaled.tobytes())
    n_out = net.sizes[-1]
    T = b.zeros(len(data) * n_out)
    for n, label in enumerate(data.labels):
        T[n * n_out + label] = 1.0
    return (feed.pixel_start, feed.pixel_index, values), T, len(data)


def minimize(net: MultiLayerNet, data: Dataset, method: str = "cg", iters: int = 50,
             on_iteration: Callable[[int, float], None] | None = None) -> FullBatchResult:
    """Train `net` on all of `data` with `iters` iterations of SciPy's CG or L-BFGS-B over
    loopnet's loss and gradient; `net` ends with the optimizer's last θ.  `on_iteration(k, L)`
    is called after iteration k with the loss there."""
    if method not in METHODS:
        raise ConfigError(f"unknown full-batch optimizer {method!r} (choose from cg, lbfgs)")
    if isinstance(iters, bool) or not isinstance(iters, int) or iters <= 0:
        raise ConfigError(f"the number of optimizer iterations must be positive, got {iters}")
    try:
        import numpy as np
        from scipy.optimize import minimize as scipy_minimize
    except ImportError:
        raise BackendError(f"--optimizer {method} needs SciPy: pip install loopnet[mat]") from None
    net.check_trainable()
    rows, T, count = full_batch(net, data)
    sizes = [len(net.params[name]) for name in net.names]
    python_lists = net.backend.name == "python"
    cache: dict[bytes, float] = {}
    evaluations = 0

    def set_theta(theta) -> None:
        offset = 0
        for name, size in zip(net.names, sizes):
            part = theta[offset:offset + size]
            net.params[name][:] = part.tolist() if python_lists else part
            offset += size

    def loss_and_gradient(theta):
        nonlocal evaluations
        set_theta(theta)
        loss = net._gradient(rows, T, count)
        evaluations += 1
        if not np.isfinite(loss):
            raise TrainingDivergedError(f"the full-batch loss became {loss} after "
                                        f"{evaluations} evaluations")
        cache.clear()
        cache[theta.tobytes()] = loss
        return loss, np.concatenate([np.asarray(g, dtype=np.float64) for g in net._grads])

    losses: list[float] = []

    def after_iteration(theta) -> None:
        loss = cache.get(theta.tobytes())
        if loss is None:  # the optimizer's iterate is not its last evaluation
            loss = loss_and_gradient(theta)[0]
        losses.append(loss)
        if on_iteration:
            on_iteration(len(losses), loss)

    theta0 = np.concatenate([np.asarray(net.params[name], dtype=np.float64)
                             for name in net.names])
    options = {"maxiter": iters, "gtol": 1e-12}
    if method == "lbfgs":
        options["ftol"] = 1e-15
    start = time.perf_counter()
    result = scipy_minimize(loss_and_gradient, theta0, jac=True, method=METHODS[method],
                            callback=after_iteration, options=options)
    set_theta(result.x)
    return FullBatchResult(len(losses), evaluations, losses, str(result.message),
                           time.perf_counter() - start)
