"""Parallel mode (Numba only): each training step split across cores, using the exact kernels.

P = Numba's thread count when this module is first imported (`NUMBA_NUM_THREADS`).  A step does

- gradient: part t runs the exact per-example kernels on its examples into its own ΔW/ΔB buffers;
  then every element is summed over the parts in the fixed order t = 0, 1, ..., P-1 (each part
  sums a slice of the elements), and the loss likewise;
- update: part t updates a contiguous slice of every tensor (`kernels.optimizer_update` on
  slices: the update is element-wise, so this changes nothing).

Only the summation order of ΔW, ΔB and the loss differs from exact mode (per part, then across
parts), so results are deterministic for a given thread count and agree with exact mode to
rounding (tested ≤ 1e-12).  Splitting the update too keeps each cache line of ΔW and W written
by the core that reads it next, instead of ping-ponging between cores.

The module is a third compiled copy of `loopnet.kernels` whose `batch_gradient` and
`optimizer_update` are replaced by the `*_parallel` functions below.
"""

import os

# Between the parallel regions of consecutive steps the main thread runs a little serial code.
# libgomp's idle workers spin only briefly by default, then sleep, and waking a sleeping worker
# cost milliseconds per step on the virtual machines measured here; spin longer.  Takes effect
# only if OpenMP was not loaded yet, and never overrides the user's own setting.
os.environ.setdefault("GOMP_SPINCOUNT", "10000000")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import prange  # noqa: E402
from numba.typed import List  # noqa: E402

from loopnet.backends.numba_backend import SOURCE_TAG, _compile_kernels, compiled_copy  # noqa: E402

PARTS = numba.config.NUMBA_NUM_THREADS
# the part count is compiled in as a constant, so it is part of the module (and cache) name
PARALLEL_MODULE = f"loopnet._parallel_kernels_p{PARTS}_{SOURCE_TAG}"
K = _compile_kernels()
TENSOR = numba.types.float64[::1]


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


@numba.njit(cache=True)
def _share(count, part, parts):
    """[first, end) of part `part`'s contiguous share of `count` items."""
    return part * count // parts, (part + 1) * count // parts


def batch_gradient_parallel(row_start, input_index, input_value, T, batch, params, grads, sizes,
                            activation, output, weight_decay, Z, H, dZ, dH):
    """Same contract as kernels.batch_gradient.  The backend allocates PARTS + 1 sets of grads
    and work buffers: set 0 receives the result, set t + 1 belongs to part t."""
    n_out = sizes[len(sizes) - 1]
    n_layers = len(sizes) - 1
    n_tensors = 2 * n_layers
    part_grads = _part_views(grads, n_tensors, PARTS)
    part_Z = _part_views(Z, n_layers, PARTS)
    part_H = _part_views(H, n_layers, PARTS)
    part_dZ = _part_views(dZ, n_layers, PARTS)
    part_dH = _part_views(dH, n_layers, PARTS)
    part_loss = np.zeros(PARTS)
    for t in prange(PARTS):
        part = np.int64(t)
        g = part_grads[part]
        for p in range(n_tensors):
            buf = g[p]
            for i in range(len(buf)):
                buf[i] = 0.0
        first, end = _share(batch, part, PARTS)
        total = 0.0
        for n in range(first, end):
            start, stop = row_start[n], row_start[n + 1]
            K.forward_example(input_index, input_value, start, stop, params, sizes, activation,
                              part_Z[part], part_H[part])
            total += K.output_loss(output, part_Z[part], part_H[part], T, n * n_out, sizes)
            K.backward_example(input_index, input_value, start, stop, T, n * n_out, batch,
                               params, g, sizes, activation, part_Z[part], part_H[part],
                               part_dZ[part], part_dH[part])
        part_loss[part] = total
    # ΔW = ((ΔW(part 0) + ΔW(part 1)) + ...), parts in ascending order; each thread a slice
    for t in prange(PARTS):
        for p in range(n_tensors):
            out = grads[p]
            first, end = _share(len(out), np.int64(t), PARTS)
            src = part_grads[0][p]
            for i in range(first, end):
                out[i] = src[i]
            for u in range(1, PARTS):
                src = part_grads[u][p]
                for i in range(first, end):
                    out[i] += src[i]
    total = 0.0
    for t in range(PARTS):
        total += part_loss[t]
    loss = total / batch
    if weight_decay != 0.0:
        loss += K.weight_decay_term(params, n_layers, weight_decay)
        K.weight_decay_gradient(params, grads, n_layers, weight_decay)
    return loss


def optimizer_update_parallel(kind, params, grads, state1, state2, lr, momentum, beta1, beta2):
    """kernels.optimizer_update, each part updating a contiguous slice of every tensor."""
    for t in prange(PARTS):
        part = np.int64(t)
        p_slices = List.empty_list(TENSOR)
        g_slices = List.empty_list(TENSOR)
        s1_slices = List.empty_list(TENSOR)
        s2_slices = List.empty_list(TENSOR)
        for p in range(len(params)):
            first, end = _share(len(params[p]), part, PARTS)
            p_slices.append(params[p][first:end])
            g_slices.append(grads[p][first:end])
            if len(state1) > 0:
                s1_slices.append(state1[p][first:end])
            if len(state2) > 0:
                s2_slices.append(state2[p][first:end])
        K.optimizer_update(kind, p_slices, g_slices, s1_slices, s2_slices, lr, momentum,
                           beta1, beta2)


def compile_parallel_kernels():
    """The kernels module once more, compiled, with the two steps above made parallel."""
    replacements = {}
    for name, fn in (("batch_gradient", batch_gradient_parallel),
                     ("optimizer_update", optimizer_update_parallel)):
        # these compile the kernels in: their cache entries are named after the sources' tag
        fn.__qualname__ = f"{fn.__name__}_p{PARTS}_{SOURCE_TAG}"
        replacements[name] = numba.njit(parallel=True, cache=True)(fn)
    return compiled_copy(PARALLEL_MODULE, replacements)
