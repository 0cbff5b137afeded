"""The NumPy peers of bench/worker.py: the book's layer objects and a lean one-pass step.

Both train 784-H-10 (one hidden ReLU layer, softmax and cross-entropy, SGD) on loopnet's
minibatches from loopnet's init.  NumPy multiplies with its BLAS (OpenBLAS in the wheels), on
as many threads as that BLAS starts by default.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from arrays import MinibatchIndices, dataset_arrays

from loopnet.reference.numpy_net import SGD, NumpyNet


def blas_threads() -> str:
    """The BLAS NumPy was built with and the threads it runs (read from OpenBLAS itself)."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    name = f"{blas.get('name')} {blas.get('version')}"
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "openblas" in line.lower():
            library = ctypes.CDLL(line.split()[-1])
            for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                           "openblas_get_num_threads"):
                if hasattr(library, symbol):
                    return f"{name}, {getattr(library, symbol)()} threads (default)"
    return f"{name}, default threads"


class BookNumpyRunner:
    """loopnet.reference.numpy_net.NumpyNet: the book's Affine/Relu/SoftmaxWithLoss layers, float64
    one-hot teachers, as learners run it."""

    def __init__(self, sizes, params, train, test, batch: int, seed: int, lr: float) -> None:
        self.x, labels = dataset_arrays(train, np.float64)
        self.t = np.eye(sizes[-1])[labels]
        self.test = dataset_arrays(test, np.float64)
        self.net = NumpyNet(sizes, params=params)
        self.optimizer = SGD(lr)
        self.indices = MinibatchIndices(seed, len(self.x))
        self.batch = batch

    def steps(self, count: int) -> None:
        indices = self.indices.take(count * self.batch)
        for s in range(count):
            idx = indices[s * self.batch:(s + 1) * self.batch]
            self.net.train_step(self.x[idx], self.t[idx], self.optimizer)

    def accuracy(self) -> float:
        x, labels = self.test
        return float(np.mean(np.argmax(self.net.predict(x), axis=1) == labels))

    def info(self) -> dict:
        return {"library": f"NumPy {np.__version__}", "threads": blas_threads()}


class LeanNumpyRunner:
    """One SGD step of 784-H-10 in one pass with nothing extra, in `dtype`:

        Z = X @ W1 + b1;  H = max(Z, 0);  A = H @ W2 + b2;  Y = softmax(A)
        D = Y - T      (one-hot T: 1 subtracted at each row's label)
        ΔW2 = Hᵀ @ D;  Δb2 = Σ_n D;  dH = (D @ W2ᵀ)·[H > 0];  ΔW1 = Xᵀ @ dH;  Δb1 = Σ_n dH
        W ← W - (η/N)·ΔW      (the mean's 1/N folded into the step size)
    """

    def __init__(self, sizes, params, train, test, batch: int, seed: int, lr: float,
                 dtype) -> None:
        if len(sizes) != 3:
            raise ValueError(f"the lean step is written for one hidden layer, got sizes {sizes}")
        self.dtype = np.dtype(dtype)
        self.x, self.labels = dataset_arrays(train, self.dtype)
        self.test = dataset_arrays(test, self.dtype)
        self.W1, self.b1, self.W2, self.b2 = (np.array(params[name], dtype=self.dtype)
                                              for name in ("W1", "b1", "W2", "b2"))
        self.indices = MinibatchIndices(seed, len(self.x))
        self.batch = batch
        self.rows = np.arange(batch)
        self.scale = lr / batch

    def steps(self, count: int) -> None:
        indices = self.indices.take(count * self.batch)
        W1, b1, W2, b2, scale = self.W1, self.b1, self.W2, self.b2, self.scale
        for s in range(count):
            idx = indices[s * self.batch:(s + 1) * self.batch]
            x = self.x[idx]
            h = x @ W1
            h += b1
            np.maximum(h, 0.0, out=h)
            y = h @ W2
            y += b2
            y -= y.max(axis=1, keepdims=True)
            np.exp(y, out=y)
            y /= y.sum(axis=1, keepdims=True)
            y[self.rows, self.labels[idx]] -= 1.0  # D = Y - T
            dh = y @ W2.T
            dh *= h > 0.0
            W2 -= scale * (h.T @ y)
            b2 -= scale * y.sum(axis=0)
            W1 -= scale * (x.T @ dh)
            b1 -= scale * dh.sum(axis=0)

    def accuracy(self) -> float:
        x, labels = self.test
        scores = np.maximum(x @ self.W1 + self.b1, 0.0) @ self.W2 + self.b2
        return float(np.mean(np.argmax(scores, axis=1) == labels))

    def info(self) -> dict:
        return {"library": f"NumPy {np.__version__}", "dtype": self.dtype.name,
                "threads": blas_threads()}
