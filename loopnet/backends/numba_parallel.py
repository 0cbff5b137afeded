"""Parallel mode (Numba only): the minibatch split across cores.

The minibatch is cut into P contiguous parts (P = Numba's thread count when this module is first
imported, `NUMBA_NUM_THREADS`; a part may be empty when N < P).  Part t runs
the exact per-example kernels on its examples into its own ΔW/ΔB buffers; the parts are then
summed in the fixed order t = 0, 1, ..., P-1.  Only the summation order of ΔW, ΔB and the loss
changes (per part, then across parts), so results are deterministic for a given thread count and
agree with exact mode to rounding (tested ≤ 1e-12).  Everything else — the update, the data
path — is the exact module's code: a third copy of `loopnet.kernels` is compiled with its
`batch_gradient` replaced by `batch_gradient_parallel` below.
"""

import numba
import numpy as np
from numba import prange
from numba.typed import List

from loopnet.backends.numba_backend import _compile_kernels, compiled_copy

PARTS = numba.config.NUMBA_NUM_THREADS
# the part count is compiled in as a constant, so it is part of the module (and cache) name
PARALLEL_MODULE = f"loopnet._parallel_kernels_p{PARTS}"
K = _compile_kernels()


@numba.njit(cache=True)
def _buffers(sizes, parts):
    """Per part: one work buffer per layer (widths sizes[1:])."""
    out = List()
    for _ in range(parts):
        bufs = List()
        for l in range(len(sizes) - 1):
            bufs.append(np.zeros(sizes[l + 1]))
        out.append(bufs)
    return out


def batch_gradient_parallel(X, T, batch, params, grads, sizes, activation, output, weight_decay,
                            Z, H, dZ, dH):
    """Same contract as kernels.batch_gradient; Z, H, dZ, dH are unused (each part has its own)."""
    n_in = sizes[0]
    n_out = sizes[len(sizes) - 1]
    n_layers = len(sizes) - 1
    parts = PARTS
    part_grads = List()
    for _ in range(parts):
        g = List()
        for p in range(len(grads)):
            g.append(np.zeros(len(grads[p])))
        part_grads.append(g)
    part_Z = _buffers(sizes, parts)
    part_H = _buffers(sizes, parts)
    part_dZ = _buffers(sizes, parts)
    part_dH = _buffers(sizes, parts)
    part_loss = np.zeros(parts)
    for t in prange(parts):
        part = np.int64(t)
        total = 0.0
        for n in range(part * batch // parts, (part + 1) * batch // parts):
            K.forward_example(X, n * n_in, params, sizes, activation, part_Z[t], part_H[t])
            total += K.output_loss(output, part_Z[t], part_H[t], T, n * n_out, sizes)
            K.backward_example(X, n * n_in, T, n * n_out, batch, params, part_grads[t], sizes,
                               activation, part_Z[t], part_H[t], part_dZ[t], part_dH[t])
        part_loss[t] = total
    # fixed-order reduction: ΔW = ((ΔW(part 0) + ΔW(part 1)) + ...), parts in ascending order
    for p in range(len(grads)):
        g = grads[p]
        first = part_grads[0][p]
        for i in range(len(g)):
            g[i] = first[i]
        for t in range(1, parts):
            src = part_grads[t][p]
            for i in range(len(g)):
                g[i] += src[i]
    total = 0.0
    for t in range(parts):
        total += part_loss[t]
    loss = total / batch
    if weight_decay != 0.0:
        loss += K.weight_decay_term(params, n_layers, weight_decay)
        K.weight_decay_gradient(params, grads, n_layers, weight_decay)
    return loss


def compile_parallel_kernels():
    """The kernels module once more, compiled, with batch_gradient made parallel."""
    return compiled_copy(PARALLEL_MODULE, {
        "batch_gradient": numba.njit(parallel=True, cache=True)(batch_gradient_parallel)})
