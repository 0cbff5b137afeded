"""Numerical gradient and gradient descent of any Python function of a list of floats (the
book's chapter 4, before backprop): the tools to check backprop and to see descent at work."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from loopnet.errors import ConfigError

NUMERICAL_H = 1e-4  # the book's step h


def numerical_gradient(f: Callable[[list[float]], float], x: Sequence[float]) -> list[float]:
    """∂f/∂x_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / 2h with h = 1e-4, for every i.

    `f` receives one list, changed in place one entry at a time (and restored); `x` itself is
    not modified."""
    point = [float(v) for v in x]
    grad = []
    for i in range(len(point)):
        saved = point[i]
        point[i] = saved + NUMERICAL_H
        upper = f(point)
        point[i] = saved - NUMERICAL_H
        lower = f(point)
        point[i] = saved
        grad.append((upper - lower) / (2 * NUMERICAL_H))
    return grad


def gradient_descent(f: Callable[[list[float]], float], x0: Sequence[float], lr: float = 0.01,
                     steps: int = 100) -> list[float]:
    """`steps` updates x ← x − η · ∇f(x) from x0 (∇f numerical); returns the last x."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be an integer >= 0, got {steps!r}")
    x = [float(v) for v in x0]
    for _ in range(steps):
        grad = numerical_gradient(f, x)
        x = [x_i - lr * g_i for x_i, g_i in zip(x, grad)]
    return x
