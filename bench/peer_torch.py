"""The PyTorch peer of bench/worker.py: the lean step of peer_numpy.LeanNumpyRunner in torch
tensors (float64 or float32), on torch's default intra-op threads.

The gradients are written out, not taken from autograd: on this 2-core machine the same step as
``F.cross_entropy(...).backward()`` with ``torch.optim.SGD`` measured 0.93 against 0.69-0.77 ms
(float64) and 0.67 against 0.41 ms (float32) at 784-100-10, so the written-out step is the
stronger peer.
"""
from __future__ import annotations

import numpy as np
import torch
from arrays import MinibatchIndices, dataset_arrays

DTYPES = {"float64": torch.float64, "float32": torch.float32}


class TorchRunner:
    """Z = X @ W1 + b1 (addmm), H = relu(Z), Y = softmax(H @ W2 + b2), D = Y - T, then
    ΔW2 = Hᵀ @ D, dH = (D @ W2ᵀ)·[H > 0], ΔW1 = Xᵀ @ dH and W ← W - (η/N)·ΔW, in place."""

    def __init__(self, sizes, params, train, test, batch: int, seed: int, lr: float,
                 dtype: str) -> None:
        if len(sizes) != 3:
            raise ValueError(f"the lean step is written for one hidden layer, got sizes {sizes}")
        self.dtype = DTYPES[dtype]
        x, labels = dataset_arrays(train, np.dtype(dtype))
        self.x, self.labels = torch.from_numpy(x), torch.from_numpy(labels)
        self.test = tuple(torch.from_numpy(a) for a in dataset_arrays(test, np.dtype(dtype)))
        self.W1, self.b1, self.W2, self.b2 = (
            torch.tensor(np.array(params[name]), dtype=self.dtype)
            for name in ("W1", "b1", "W2", "b2"))
        self.indices = MinibatchIndices(seed, len(x))
        self.batch = batch
        self.rows = torch.arange(batch)
        self.scale = lr / batch

    @torch.no_grad()
    def steps(self, count: int) -> None:
        indices = torch.from_numpy(self.indices.take(count * self.batch))
        W1, b1, W2, b2, scale = self.W1, self.b1, self.W2, self.b2, self.scale
        for s in range(count):
            idx = indices[s * self.batch:(s + 1) * self.batch]
            x = self.x[idx]
            h = torch.relu(torch.addmm(b1, x, W1))
            y = torch.softmax(torch.addmm(b2, h, W2), dim=1)
            y[self.rows, self.labels[idx]] -= 1.0  # D = Y - T
            dh = (y @ W2.T).mul_(h > 0.0)
            W2.sub_(h.T @ y, alpha=scale)
            b2.sub_(y.sum(dim=0), alpha=scale)
            W1.sub_(x.T @ dh, alpha=scale)
            b1.sub_(dh.sum(dim=0), alpha=scale)

    @torch.no_grad()
    def accuracy(self) -> float:
        x, labels = self.test
        scores = torch.relu(x @ self.W1 + self.b1) @ self.W2 + self.b2
        return float((scores.argmax(dim=1) == labels).double().mean())

    def info(self) -> dict:
        return {"library": f"PyTorch {torch.__version__}", "dtype": str(self.dtype),
                "threads": f"{torch.get_num_threads()} intra-op, "
                           f"{torch.get_num_interop_threads()} inter-op (defaults)"}
