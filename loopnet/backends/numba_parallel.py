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

import os

# Between the parallel regions of consecutive steps the main thread runs the (serial) gather and
# update.  libgomp's idle workers spin only briefly by default, then sleep, and waking a sleeping
# worker cost milliseconds per step on the virtual machines measured here; spin longer.  Takes
# effect only if OpenMP was not loaded yet, and never overrides the user's own setting.
os.environ.setdefault("GOMP_SPINCOUNT", "10000000")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import prange  # noqa: E402
from numba.typed import List  # noqa: E402

from loopnet.backends.numba_backend import _compile_kernels, compiled_copy  # noqa: E402

PARTS = numba.config.NUMBA_NUM_THREADS
# the part count is compiled in as a constant, so it is part of the module (and cache) name
PARALLEL_MODULE = f"loopnet._parallel_kernels_p{PARTS}"
K = _compile_kernels()


@numba.njit(cache=True)
def _part_views(buffers, per_part, parts):
    """Part t's slice of a backend tensor list: entries (t+1)·per_part ... (t+2)·per_part - 1."""
    out = List()
    for t in range(parts):
        view = List()
        for p in range(per_part):
            view.append(buffers[(t + 1) * per_part + p])
        out.append(view)
    return out


def batch_gradient_parallel(X, T, batch, params, grads, sizes, activation, output, weight_decay,
                            Z, H, dZ, dH):
    """Same contract as kernels.batch_gradient.  The backend allocates PARTS + 1 sets of grads
    and work buffers: set 0 receives the result, set t + 1 belongs to part t."""
    n_in = sizes[0]
    n_out = sizes[len(sizes) - 1]
    n_layers = len(sizes) - 1
    n_tensors = 2 * n_layers
    parts = PARTS
    part_grads = _part_views(grads, n_tensors, parts)
    part_Z = _part_views(Z, n_layers, parts)
    part_H = _part_views(H, n_layers, parts)
    part_dZ = _part_views(dZ, n_layers, parts)
    part_dH = _part_views(dH, n_layers, parts)
    part_loss = np.zeros(parts)
    for t in prange(parts):
        part = np.int64(t)
        g = part_grads[part]
        for p in range(n_tensors):
            buf = g[p]
            for i in range(len(buf)):
                buf[i] = 0.0
        total = 0.0
        for n in range(part * batch // parts, (part + 1) * batch // parts):
            K.forward_example(X, n * n_in, params, sizes, activation, part_Z[part], part_H[part])
            total += K.output_loss(output, part_Z[part], part_H[part], T, n * n_out, sizes)
            K.backward_example(X, n * n_in, T, n * n_out, batch, params, g, sizes, activation,
                               part_Z[part], part_H[part], part_dZ[part], part_dH[part])
        part_loss[part] = total
    # fixed-order reduction: ΔW = ((ΔW(part 0) + ΔW(part 1)) + ...), parts in ascending order
    for p in range(n_tensors):
        out = grads[p]
        first = part_grads[0][p]
        for i in range(len(out)):
            out[i] = first[i]
        for t in range(1, parts):
            src = part_grads[t][p]
            for i in range(len(out)):
                out[i] += src[i]
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
