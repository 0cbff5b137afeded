"""The JAX peer of bench/worker.py: one jitted SGD step (gradient by jax.grad), float32 or
float64 (``jax_enable_x64``), on XLA's CPU device with its default threads.

The parameters are donated to the step, so XLA updates them in place; the training set stays
on the device and each step gathers its minibatch inside the jitted function.
"""
from __future__ import annotations

import os
from functools import partial

import jax
import numpy as np
from arrays import MinibatchIndices, dataset_arrays


class JaxRunner:
    """L = mean_n -log softmax(relu(X @ W1 + b1) @ W2 + b2)[label]; W ← W - η·∂L/∂W."""

    def __init__(self, sizes, params, train, test, batch: int, seed: int, lr: float,
                 dtype: str) -> None:
        if len(sizes) != 3:
            raise ValueError(f"the jitted step is written for one hidden layer, got {sizes}")
        jax.config.update("jax_enable_x64", dtype == "float64")
        import jax.numpy as jnp

        self.dtype = np.dtype(dtype)
        x, labels = dataset_arrays(train, self.dtype)
        self.x, self.labels = jnp.asarray(x), jnp.asarray(labels.astype(np.int32))
        test_x, test_labels = dataset_arrays(test, self.dtype)
        self.test = jnp.asarray(test_x), jnp.asarray(test_labels.astype(np.int32))
        self.params = tuple(jnp.asarray(np.array(params[name], dtype=self.dtype))
                            for name in ("W1", "b1", "W2", "b2"))
        self.indices = MinibatchIndices(seed, len(x))
        self.batch = batch

        def loss(params, x, labels):
            W1, b1, W2, b2 = params
            scores = jax.nn.relu(x @ W1 + b1) @ W2 + b2
            log_y = jax.nn.log_softmax(scores, axis=1)
            return -jnp.mean(jnp.take_along_axis(log_y, labels[:, None], axis=1))

        @partial(jax.jit, donate_argnums=0)
        def step(params, x_all, labels_all, idx):
            grads = jax.grad(loss)(params, x_all[idx], labels_all[idx])
            return tuple(p - lr * g for p, g in zip(params, grads))

        @jax.jit
        def correct(params, x, labels):
            W1, b1, W2, b2 = params
            return jnp.sum(jnp.argmax(jax.nn.relu(x @ W1 + b1) @ W2 + b2, axis=1) == labels)

        self.step, self.correct = step, correct

    def steps(self, count: int) -> None:
        indices = self.indices.take(count * self.batch).astype(np.int32)
        params = self.params
        for s in range(count):
            params = self.step(params, self.x, self.labels,
                               indices[s * self.batch:(s + 1) * self.batch])
        self.params = jax.block_until_ready(params)

    def accuracy(self) -> float:
        x, labels = self.test
        return int(self.correct(self.params, x, labels)) / len(labels)

    def info(self) -> dict:
        return {"library": f"JAX {jax.__version__}", "dtype": self.dtype.name,
                "threads": f"XLA CPU default ({len(jax.devices())} device, "
                           f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r})"}
