"""Parallel mode and exact mode's training loop on several cores (Numba only): each training
step split across P cores, using the exact kernels.

P = Numba's thread count when this module is first imported (`NUMBA_NUM_THREADS`).  Part t owns
a contiguous range of W1's rows i, chosen so that every part gets about the same number of
non-zero inputs (`input_bounds`: from the dataset's first 256 examples in a training run, from
the minibatch in a single step), and a contiguous share of the minibatch's examples.  A training
step has five parallel parts (four regions: the last two are one, see below):

1. gather: part t copies its share of the examples (`gather_batch` on slices).
2. first layer, forward: for every example, part t sums its rows' terms X_i·W_{i,j} (part 0 also
   adds B_j) with `input_affine_forward` over the example's non-zero inputs in its rows.
3. examples: part t adds up its examples' Z_j over the parts in the order t = 0, 1, ..., P-1,
   then runs the exact kernels `forward_above_first_layer`, `output_loss` and
   `backward_to_first_layer` (unrolled for the shape: numba_specialized.layers_above) with its
   own work buffers.  The ΔW, ΔB of the layers above the first go to the part's own
   gradient buffers; each example's first-layer z is kept.  Those
   small gradients are then summed over the parts in order, and the loss too.
4. first layer, backward: part t puts every example's non-zero inputs in its rows into their
   inputs' buckets, in minibatch order, then sums each of its rows of ΔW1 input by input
   (numba_input_major: ΔW1 in exact mode's order); part 0 sums ΔB1.
5. update: part t adds weight decay's gradient to and updates its rows of W1 and its
   part_share of the rows of every W above, part 0 every B (`update_tensor` on slices: it is
   element-wise).

What part t does in a region is a function of its own (`gather_part`, ..., `update_part`); the
regions call them in a `prange` loop over the parts, through their addresses (numba_indirect),
so that each part's code is optimized and generated once, not again for every region and the
loop around them (a first compile of the 784-50-10 SGD loop: 21.3 s before, 14.1 s).  A step's
work space (part_z, first_z, split, the buckets; in order kept and example_loss instead of
part_z) is made once per minibatch size, in Python.

So each core reads and writes only its own part of W1 and ΔW1 (about 314 kB each for
784-50-10): they stay in its cache from step to step, and no core sums up another core's copy
of ΔW1 (which limited the first design, split by examples only, to 1.3× on two cores).  Like
exact mode's training loop (see numba_specialized), everything is compiled for one network
shape and optimizer with the kernels inlined, and also with `fastmath={"contract"}`: x·w + z
may become one fused multiply-add, rounded once instead of twice (the first layer's forward
gets up to 1.4× faster).
That and the order of the sums over parts are the only differences from exact mode, so results
are deterministic for a given P and data, and agree with exact mode to rounding (tested
≤ 1e-12, with P = 2 and P = 3).

In order (`in_order_kernels`: exact mode's training loop when P > 1) the same regions keep every
sum of exact mode in its order, so the results are the python backend's bit for bit (tested,
with P = 1, 2 and 3), on all the cores:

- no fused multiply-adds;
- the first layer's forward is not split by rows of W1 (that would cut Z_j's sum over i into
  the parts' sums): region 3's part t runs the whole forward of each of its examples, Z_j in
  ascending i as kernels.input_affine_forward sums it.  Region 2 is gone, and the part gathers
  the very examples it runs (both are its share of the minibatch), so regions 1 and 3 are one;
- the layers above's ΔW and ΔB, which kernels.backward_to_first_layer adds up example by
  example, are not summed per part: each example's H and z of every layer above are kept
  (layers_above's backward_to_first_kept), and in region 4 part t adds up their terms for its
  share of each ΔW's rows (part 0 also every ΔB) in minibatch order (weights_from_kept), with
  the very kernel calls of exact mode (done by the main thread alone between the regions, that
  sum took 11 % of a 784-100-10 step, and the other core waited for it); the examples' losses
  are added in minibatch order after region 3;
- ΔW1 (region 4) is already exact mode's sum, input by input in ascending n, and ΔB1 is summed
  by part 0 in ascending n; the update is element by element.

Regions 4 and 5 are one in both modes: each part updates the rows of W1 it has just summed
(part 0 also B1, whose ΔB1 it summed), its share of the rows of every W above and, part 0,
every B above (in order, what it has just summed; else summed before the region).  An
in-order step waits at two joins, a parallel one at four.  In order there is only the training
loop from pixels (`InOrderKernels`, exact mode's `train_steps_from_pixels`): a single step or
gradient in exact mode runs loopnet.kernels as compiled by numba_backend.
"""

import os
import sys
import types

# Between the parallel regions of consecutive steps the main thread runs a little serial code.
# libgomp's idle workers spin only briefly by default, then sleep, and waking a sleeping worker
# cost milliseconds per step on the virtual machines measured here; spin longer.  Takes effect
# only if OpenMP was not loaded yet, and never overrides the user's own setting.
os.environ.setdefault("GOMP_SPINCOUNT", "10000000")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import prange  # noqa: E402

from loopnet import kernels as python_kernels  # noqa: E402
from loopnet.backends import numba_input_major as input_major  # noqa: E402
from loopnet.backends.numba_aligned import CACHE_LINE, aligned_empty, aligned_zeros  # noqa: E402
from loopnet.backends.numba_compile import (  # noqa: E402
    SOURCE_TAG,
    bound_kernels,
    check_shape,
    compiled_kernels,
    one_per_shape,
)
from loopnet.backends.numba_indirect import address_of, indirect_call, only_callees  # noqa: E402
from loopnet.backends.numba_registers import wide_vectors  # noqa: E402
from loopnet.backends.numba_specialized import (  # noqa: E402
    kept_size,
    layers_above,
    part_share,
    shape_tag,
    specialized_kernels,
    transposed_size,
)

PARTS = numba.config.NUMBA_NUM_THREADS
# W1's rows are shared out by the non-zero inputs of a dataset's first examples (input_bounds)
BALANCE_EXAMPLES = 256
# Only the explicit prange loops run in parallel: Numba's other automatic parallel rewrites (of
# array expressions, np.zeros, ...) would only add compile time here.
PRANGE_ONLY = {option: option == "prange" for option in (
    "comprehension", "reduction", "inplace_binop", "setitem", "numpy", "stencil", "fusion",
    "prange")}


CACHE_LINE_DOUBLES = CACHE_LINE // 8

# batch_gradient updates nothing, so any optimizer's compiled loops serve it: SGD's, which
# training most often compiles anyway
GRADIENT_KIND = python_kernels.SGD
# the parts' functions, in the order of their addresses (at[k])
GATHER, FIRST_FORWARD, EXAMPLES, FIRST_BACKWARD, UPDATE = range(5)


def _line_padded(n: int) -> int:
    """Whole cache lines holding n doubles and at least one more line."""
    return (n // CACHE_LINE_DOUBLES + 2) * CACHE_LINE_DOUBLES


def _part_buffers(shape: tuple, parts: int) -> tuple:
    """Every part's own buffers, part t's at index t of each array:

    - work (4, parts, L, width): Z, H, dZ, dH, row l for layer l (the kernels index them by
      layer and loop to each layer's own width);
    - grads (parts, 2L, size): row p for tensor p, the ΔW, ΔB of the layers above the first
      (rows 0 and 1 are unused: the parts write ΔW1 and ΔB1 into the shared gradients);
    - active (parts, size): the kernels' index buffer;
    - transposed (parts, size): numba_specialized.layers_above's W^T of the layers above the
      first (each part transposes them into its own row, in its own core's cache).

    Plain arrays rather than a list of tuples: a parallel loop takes arrays as they are, where
    a typed List cost two seconds of a first run's compile.  Every row ends with at least a
    cache line of padding, so that the parts never write to one line (false sharing).
    """
    widths = shape[1:]
    tensor_sizes = [size for n_in, n_out in zip(shape, widths) for size in (n_in * n_out, n_out)]
    work = aligned_zeros((4, parts, len(widths), _line_padded(max(widths))))
    grads = aligned_zeros((parts, len(tensor_sizes), _line_padded(max(tensor_sizes[1:]))))
    active = aligned_zeros((parts, _line_padded(max(shape[1:-1], default=1))), dtype=np.int64)
    transposed = aligned_zeros((parts, _line_padded(transposed_size(shape))))
    return work, grads, active, transposed


def input_bounds(row_start, input_index, rows: int, n_in: int, parts: int) -> np.ndarray:
    """bounds[t] : bounds[t + 1], the rows i of W1 that part t owns: about the same number of
    the non-zero inputs of sparse rows [0, rows) in each part's rows, since that is the first
    layer's work (MNIST digits have more ink below the middle row: splitting W1 evenly gave
    one part 10 % more work).  Part t - 1 ends after the last row i whose running count of
    non-zero inputs is at most t/P of the total; each part's count is its share, give or take
    one input's count.  NumPy, outside the compiled code: nothing to compile."""
    counts = np.bincount(input_index[row_start[0]:row_start[rows]], minlength=n_in)
    running = np.cumsum(counts[:n_in]) * parts
    total = int(row_start[rows] - row_start[0])
    inner = np.searchsorted(running, np.arange(1, parts) * total, side="right")
    return np.concatenate(([0], inner, [n_in])).astype(np.int64)


@numba.njit(cache=True)
def _first_at_least(input_index, first, end, bound):
    """The first p in [first, end) with input_index[p] >= bound (end if none): binary search,
    the indices of a sparse row being ascending."""
    while first < end:
        middle = (first + end) // 2
        if input_index[middle] < bound:
            first = middle + 1
        else:
            end = middle
    return first


class ParallelKernels:
    """`batch_gradient`, `train_step` and `train_steps_from_pixels` of
    loopnet.kernels (same signatures) made parallel as described above, compiled for `sizes`,
    `activation` and `output`, and for the optimizer code in their arguments on first use of
    each; `count_correct` is exact mode's."""

    def __init__(self, sizes, activation: int, output: int, in_order: bool = False) -> None:
        self._shape = tuple(int(n) for n in sizes)
        self._activation, self._output = activation, output
        self._in_order = in_order
        self._loops = {}
        self.count_correct = specialized_kernels(self._shape, activation, output).count_correct
        self._n_in = self._shape[0]
        self._part_work = _part_buffers(self._shape, PARTS)
        self._buffers_batch, self._buffers = None, ()

    def _for_kind(self, kind: int) -> types.SimpleNamespace:
        if kind not in self._loops:
            self._loops[kind] = _compile_loops(self._shape, self._activation, self._output, kind,
                                               self._in_order)
        return self._loops[kind]

    def _step_buffers(self, batch: int) -> tuple:
        """A step's work space (see gradient_regions), made once per minibatch size; each
        mode's unused buffers are empty (in order: part_z; else kept and example_loss)."""
        if self._buffers_batch != batch:
            n_in, n_first = self._shape[0], self._shape[1]
            split_rows, kept_rows = (0, batch) if self._in_order else (PARTS * batch, 0)
            self._buffers = (aligned_empty(split_rows * n_first),  # part_z
                             aligned_empty(batch * n_first),  # first_z
                             np.empty(batch * (PARTS + 1), dtype=np.int64),  # split
                             np.empty(n_in, dtype=np.int64),  # fill
                             np.empty(n_in * batch, dtype=np.int32),  # input_example
                             aligned_empty(n_in * batch),  # input_x
                             aligned_empty(kept_rows * kept_size(self._shape)),  # kept
                             aligned_empty(kept_rows))  # example_loss
            self._buffers_batch = batch
        return self._buffers

    # The compiled functions take more arguments: W1's row bounds, the parts' buffers, the
    # parts' functions' addresses (numba_indirect) and a step's work space.
    def batch_gradient(self, *args):
        (row_start, input_index, input_value, T, batch, params, grads, _, _, _, log_guard,
         *_) = args
        bounds = input_bounds(row_start, input_index, batch, self._n_in, PARTS)
        loops = self._for_kind(GRADIENT_KIND)
        buffers = self._step_buffers(batch)
        at = loops.addresses(None, (row_start, input_index, input_value, T, batch, params,
                                    grads, log_guard), None, bounds, self._part_work, buffers)
        return loops.batch_gradient(*args, bounds, *self._part_work, at, *buffers)

    def train_step(self, *args):
        (row_start, input_index, input_value, T, batch, params, grads, _, _, _, log_guard, _,
         _, _, _, _, _, kind, state1, state2, lr, momentum, beta1, beta2) = args
        bounds = input_bounds(row_start, input_index, batch, self._n_in, PARTS)
        loops = self._for_kind(int(kind))
        buffers = self._step_buffers(batch)
        at = loops.addresses(None, (row_start, input_index, input_value, T, batch, params,
                                    grads, log_guard),
                             (kind, state1, state2, lr, momentum, beta1, beta2), bounds,
                             self._part_work, buffers)
        return loops.train_step(*args, bounds, *self._part_work, at, *buffers)

    def train_steps_from_pixels(self, *args):
        (pixel_start, pixel_index, pixel_value, labels, indices, _, batch, params, grads, _, _,
         _, log_guard, _, _, _, _, _, _, row_start, input_index, input_value, T, batch_labels,
         kind, state1, state2, lrs, momentum, beta1, beta2, _) = args
        examples = min(BALANCE_EXAMPLES, len(pixel_start) - 1)
        bounds = input_bounds(pixel_start, pixel_index, examples, self._n_in, PARTS)
        loops = self._for_kind(int(kind))
        buffers = self._step_buffers(batch)
        at = loops.addresses((pixel_start, pixel_index, pixel_value, labels, indices),
                             (row_start, input_index, input_value, T, batch, params, grads,
                              log_guard, batch_labels),
                             (kind, state1, state2, lrs[0] if len(lrs) else 0.0, momentum,
                              beta1, beta2), bounds, self._part_work, buffers)
        if only_callees():  # the loop itself is another process's to compile
            return None
        return loops.train_steps_from_pixels(*args, bounds, *self._part_work, at, *buffers)


def _compile_loops(shape: tuple, activation: int, output: int, kind: int,
                   in_order: bool) -> types.SimpleNamespace:
    """The parallel entry points for one network and optimizer.  Binding the optimizer
    (numba_compile.bound_kernels) leaves one update kernel in the update region instead of
    four: a first parallel run compiled in 13 s instead of 22 s (784-50-10, SGD)."""
    K = bound_kernels(activation, output, kind)
    layers = layers_above(K, shape, activation, output)
    n_first, n_out = shape[1], shape[-1]
    n_layers = len(shape) - 1
    n_tensors = 2 * n_layers
    parts = PARTS

    # What one part does in each region: compiled once per shape like exact mode's loop
    # (kernels inlined, sizes constant), and called by the regions below in a parallel loop.
    # Numba's parallel-loop passes cost compile time in proportion to the code inside the
    # loop, so that code is kept small (compiling the training loop: 12.3 s before, 8.1 s).
    # Each asks for the CPU's widest vectors (numba_registers.wide_vectors).
    def gather_part(part, pixel_start, pixel_index, pixel_value, labels, indices, step_first,
                    batch, row_start, input_index, input_value, T, batch_labels):
        """Region 1: kernels.gather_batch for the part's share of the step's examples
        (indices[step_first:step_first + batch]), so that they are in the cache of the core
        that reads them next."""
        wide_vectors()
        first, end = part_share(batch, part, parts)
        offset = row_start[first]
        own_start = np.empty(end - first + 1, dtype=np.int64)  # offsets from `offset`
        K.gather_batch(pixel_start, pixel_index, pixel_value, labels,
                       indices[step_first + first:step_first + end], end - first, n_out,
                       own_start, input_index[offset:], input_value[offset:],
                       T[first * n_out:], batch_labels[first:])

    def first_forward_part(part, bounds, row_start, input_index, input_value, batch, params,
                           part_z, split):
        """Region 2: the part's rows' terms of every example's first-layer Z_j."""
        wide_vectors()
        lo, hi = bounds[part], bounds[part + 1]
        bias = params[1] if part == 0 else np.zeros(n_first)
        for n in range(batch):
            start, stop = row_start[n], row_start[n + 1]
            a = _first_at_least(input_index, start, stop, lo)
            b = _first_at_least(input_index, a, stop, hi)
            split[n * (parts + 1) + part] = a
            if part == parts - 1:
                split[n * (parts + 1) + parts] = stop
            z0 = (part * batch + n) * n_first
            K.input_affine_forward(input_index, input_value, a, b, params[0], bias,
                                   part_z[z0:z0 + n_first], n_first)

    def examples_part(part, T, batch, params, log_guard, part_z, first_z, work, part_grads,
                      part_active, part_transposed, kept, example_loss, bounds, row_start,
                      input_index, input_value, split):
        """Region 3: the layers above the first for the part's share of the examples; returns
        their summed loss (in_order: keeps each example's loss and, for the layers' ΔW and
        ΔB, their H and z instead)."""
        wide_vectors()
        Zt, Ht, dZt, dHt = work[0, part], work[1, part], work[2, part], work[3, part]
        g, At, WT = part_grads[part], part_active[part], part_transposed[part]
        layers.transpose_above(params, WT)
        if not in_order:
            for p in range(2, n_tensors):
                buf = g[p]
                for i in range(len(buf)):
                    buf[i] = 0.0
        first, end = part_share(batch, part, parts)
        total = 0.0
        for n in range(first, end):
            z = Zt[0]
            if in_order:  # the whole first layer's forward of the part's examples
                start, stop = row_start[n], row_start[n + 1]
                a = start
                for u in range(parts):
                    split[n * (parts + 1) + u] = a
                    a = _first_at_least(input_index, a, stop, bounds[u + 1])
                split[n * (parts + 1) + parts] = stop
                K.input_affine_forward(input_index, input_value, start, stop, params[0],
                                       params[1], z, n_first)
            else:
                for j in range(n_first):
                    z[j] = part_z[n * n_first + j]
                for u in range(1, parts):
                    for j in range(n_first):
                        z[j] += part_z[(u * batch + n) * n_first + j]
            layers.forward_above(params, Zt, Ht, At)
            loss = K.output_loss(output, log_guard, Zt, Ht, T, n * n_out, shape)
            if in_order:
                example_loss[n] = loss
                layers.backward_to_first_kept(T, n * n_out, batch, params, kept, n, Zt, Ht, dZt,
                                              dHt, At, WT)
            else:
                total += loss
                layers.backward_to_first(T, n * n_out, batch, params, g, Zt, Ht, dZt, dHt, At,
                                         WT)
            dz = dZt[0]
            for j in range(n_first):
                first_z[n * n_first + j] = dz[j]
        return total

    def first_backward_part(part, bounds, input_index, input_value, batch, grads, split,
                            first_z, fill, input_example, input_x, kept, part_grads,
                            part_active):
        """Region 4: ΔW1 of the part's rows, input by input (numba_input_major: the part's
        inputs of every example are put in their inputs' buckets first); part 0 also ΔB1.  In
        order also the ΔW of the layers above, its part_share of their rows (part 0: and their
        ΔB), from the examples' kept H and z."""
        wide_vectors()
        lo, hi = bounds[part], bounds[part + 1]
        input_major.empty_buckets(lo, hi, batch, fill)
        for n in range(batch):
            input_major.bucket_example(input_index, input_value, split[n * (parts + 1) + part],
                                       split[n * (parts + 1) + part + 1], n, fill,
                                       input_example, input_x)
        input_major.weights_backward(lo, hi, fill, input_example, input_x, first_z, grads[0],
                                     batch, n_first)
        if part == 0:
            input_major.bias_backward(first_z, grads[1], batch, n_first)
        if in_order:
            layers.weights_from_kept(kept, batch, grads, part_grads[part], part_active[part],
                                     part, parts)

    def update_part(part, bounds, weight_decay, kind, params, grads, state1, state2, lr,
                    momentum, beta1, beta2):
        """Region 5: kernels.weight_decay_gradient and the optimizer's update (both element by
        element) of the part's rows of W1 and its part_share of the rows of every other W,
        and of every B for part 0: what region 4 summed in order (in parallel mode the layers
        above's were summed before the region)."""
        wide_vectors()
        for p in range(len(params)):
            if p == 0:
                first, end = bounds[part] * n_first, bounds[part + 1] * n_first
            elif p % 2 == 1:
                first, end = 0, (len(params[p]) if part == 0 else 0)
            else:
                n_cols = len(params[p + 1])
                lo, hi = part_share(len(params[p]) // n_cols, part, parts)
                first, end = lo * n_cols, hi * n_cols
            g = grads[p][first:end]
            if weight_decay != 0.0 and p % 2 == 0:
                W = params[p][first:end]
                for i in range(len(g)):  # ΔW_{i,j} += λ · W_{i,j}
                    g[i] += weight_decay * W[i]
            s1 = state1[p][first:end] if len(state1) > 0 else g
            s2 = state2[p][first:end] if len(state2) > 0 else g
            K.update_tensor(kind, params[p][first:end], g, s1, s2, lr, momentum, beta1,
                            beta2)

    # The regions (the serial code between them included), inlined into the entry points.
    # Each part's function is called through its address at[k] (numba_indirect: its code is
    # compiled once, in its own module, not again inside each parallel region).
    def plan_rows(pixel_start, indices, step_first, batch, row_start):
        """Before the gather: where each example's sparse row will begin."""
        count = 0
        for n in range(batch):
            row_start[n] = count
            example = indices[step_first + n]
            count += pixel_start[example + 1] - pixel_start[example]
        row_start[batch] = count

    def gather_of_part(at, t, pixel_start, pixel_index, pixel_value, labels, indices,
                       step_first, batch, row_start, input_index, input_value, T,
                       batch_labels):
        compiled.call_gather(at[GATHER], (np.int64(t), pixel_start, pixel_index, pixel_value,
                                          labels, indices, step_first, batch, row_start,
                                          input_index, input_value, T, batch_labels))

    def examples_of_part(at, t, bounds, row_start, input_index, input_value, T, batch, params,
                         log_guard, work, part_grads, part_active, part_transposed, part_z,
                         first_z, split, kept, example_loss):
        return compiled.call_examples(at[EXAMPLES], (
            np.int64(t), T, batch, params, log_guard, part_z, first_z, work, part_grads,
            part_active, part_transposed, kept, example_loss, bounds, row_start, input_index,
            input_value, split))

    def gather_region(at, pixel_start, pixel_index, pixel_value, labels, indices, step_first,
                      batch, row_start, input_index, input_value, T, batch_labels):
        compiled.plan_rows(pixel_start, indices, step_first, batch, row_start)
        for t in prange(parts):
            compiled.gather_of_part(at, t, pixel_start, pixel_index, pixel_value, labels,
                                    indices, step_first, batch, row_start, input_index,
                                    input_value, T, batch_labels)

    def forward_region(at, bounds, row_start, input_index, input_value, batch, params,
                       part_z, split):
        """Region 2 (not in order)."""
        for t in prange(parts):
            compiled.call_first_forward(at[FIRST_FORWARD], (np.int64(t), bounds, row_start,
                                                            input_index, input_value, batch,
                                                            params, part_z, split))

    def examples_region(at, bounds, row_start, input_index, input_value, T, batch, params,
                        log_guard, work, part_grads, part_active, part_transposed, part_z,
                        first_z, split, kept, example_loss, part_loss):
        """Region 3."""
        for t in prange(parts):
            part_loss[t] = compiled.examples_of_part(at, t, bounds, row_start, input_index,
                                                     input_value, T, batch, params, log_guard,
                                                     work, part_grads, part_active,
                                                     part_transposed, part_z, first_z, split,
                                                     kept, example_loss)

    def gather_examples_region(at, pixel_start, pixel_index, pixel_value, labels, indices,
                               step_first, batch, row_start, input_index, input_value, T,
                               batch_labels, bounds, params, log_guard, work, part_grads,
                               part_active, part_transposed, part_z, first_z, split, kept,
                               example_loss, part_loss):
        """Regions 1 and 3 as one (in order): part t gathers the very examples it then runs
        (both are its _share of the minibatch), so it waits for no other part between them."""
        compiled.plan_rows(pixel_start, indices, step_first, batch, row_start)
        for t in prange(parts):
            compiled.gather_of_part(at, t, pixel_start, pixel_index, pixel_value, labels,
                                    indices, step_first, batch, row_start, input_index,
                                    input_value, T, batch_labels)
            part_loss[t] = compiled.examples_of_part(at, t, bounds, row_start, input_index,
                                                     input_value, T, batch, params, log_guard,
                                                     work, part_grads, part_active,
                                                     part_transposed, part_z, first_z, split,
                                                     kept, example_loss)

    def above_gradients(batch, params, grads, weight_decay, part_grads, example_loss,
                        part_loss):
        """Between regions 3 and 4: the loss and, not in order, the ΔW, ΔB of the layers above
        the first."""
        if not in_order:  # (in order, region 4 sums them: first_backward_part)
            # ΔW = ((ΔW(part 0) + ΔW(part 1)) + ...), parts in order
            for p in range(2, n_tensors):
                out = grads[p]
                src = part_grads[0, p]
                for i in range(len(out)):
                    out[i] = src[i]
                for u in range(1, parts):
                    src = part_grads[u, p]
                    for i in range(len(out)):
                        out[i] += src[i]
        total = 0.0
        if in_order:
            for n in range(batch):
                total += example_loss[n]
        else:
            for t in range(parts):
                total += part_loss[t]
        loss = total / batch
        if weight_decay != 0.0:  # W as it is before this step's update
            loss += K.weight_decay_term(params, n_layers, weight_decay)
        return loss

    def backward_region(at, bounds, input_index, input_value, batch, grads, split, first_z,
                        fill, input_example, input_x, kept, part_grads, part_active):
        """Region 4, for batch_gradient."""
        for t in prange(parts):
            compiled.call_first_backward(at[FIRST_BACKWARD], (np.int64(t), bounds, input_index,
                                                              input_value, batch, grads, split,
                                                              first_z, fill, input_example,
                                                              input_x, kept, part_grads,
                                                              part_active))

    def backward_update_region(at, bounds, input_index, input_value, batch, params, grads,
                               split, first_z, fill, input_example, input_x, kept, part_grads,
                               part_active, weight_decay, kind, state1, state2, lr, momentum,
                               beta1, beta2):
        """Regions 4 and 5 as one: each part updates what it has just summed (its rows of W1,
        part 0 also B1; in order its rows of the layers above's W too, and part 0 their B) and
        its share of the tensors above (not in order: summed before the region).
        fill, input_example, input_x: numba_input_major's buckets; part t fills those of its
        rows of W1."""
        for t in prange(parts):
            compiled.call_first_backward(at[FIRST_BACKWARD], (np.int64(t), bounds, input_index,
                                                              input_value, batch, grads, split,
                                                              first_z, fill, input_example,
                                                              input_x, kept, part_grads,
                                                              part_active))
            compiled.call_update(at[UPDATE], (np.int64(t), bounds, weight_decay, kind, params,
                                              grads, state1, state2, lr, momentum, beta1,
                                              beta2))

    def gradient_regions(at, bounds, row_start, input_index, input_value, T, batch, params,
                         grads, log_guard, weight_decay, work, part_grads, part_active,
                         part_transposed, part_z, first_z, split, kept, example_loss):
        """Regions 2 and 3 and the sums after them (not in order): the loss; every gradient
        but ΔW1, ΔB1 (region 4's).

        part_z[(t * batch + n) * n_first + j]: part t's share of example n's Z_j (its rows of
        W1; part 0's includes B_j).  first_z: every example's first-layer dz.
        split[n * (parts + 1) + t]: where part t's rows of W1 begin in example n's inputs.
        (In order, the step is gather_examples_region and above_gradients, and kept and
        example_loss, of no use here, are empty.)"""
        part_loss = np.empty(parts)
        compiled.forward_region(at, bounds, row_start, input_index, input_value, batch, params,
                                part_z, split)
        compiled.examples_region(at, bounds, row_start, input_index, input_value, T, batch,
                                 params, log_guard, work, part_grads, part_active,
                                 part_transposed, part_z, first_z, split, kept, example_loss,
                                 part_loss)
        return compiled.above_gradients(batch, params, grads, weight_decay, part_grads,
                                        example_loss, part_loss)

    # The entry points.  A whole training run is one compiled function: a call from one
    # parallel function to another would make Numba optimize and generate the callee's code
    # once more for the caller.
    def batch_gradient(row_start, input_index, input_value, T, batch, params, grads, sizes,
                       activation_code, output_code, log_guard, weight_decay, Z, H, dZ, dH,
                       active, bounds, work, part_grads, part_active, part_transposed, at,
                       part_z, first_z, split, fill, input_example, input_x, kept,
                       example_loss):
        """kernels.batch_gradient (Z, H, dZ, dH, active are not used: each part has its
        own, in work, part_active and part_transposed)."""
        check_shape(sizes, activation_code, output_code, shape, activation, output)
        loss = compiled.gradient_regions(at, bounds, row_start, input_index, input_value, T,
                                         batch, params, grads, log_guard, weight_decay, work,
                                         part_grads, part_active, part_transposed, part_z,
                                         first_z, split, kept, example_loss)
        compiled.backward_region(at, bounds, input_index, input_value, batch, grads, split,
                                 first_z, fill, input_example, input_x, kept, part_grads,
                                 part_active)
        if weight_decay != 0.0:
            K.weight_decay_gradient(params, grads, n_layers, weight_decay)
        return loss

    def train_step(row_start, input_index, input_value, T, batch, params, grads, sizes,
                   activation_code, output_code, log_guard, weight_decay, Z, H, dZ, dH, active,
                   kind, state1, state2, lr, momentum, beta1, beta2, bounds, work, part_grads,
                   part_active, part_transposed, at, part_z, first_z, split, fill,
                   input_example, input_x, kept, example_loss):
        check_shape(sizes, activation_code, output_code, shape, activation, output)
        loss = compiled.gradient_regions(at, bounds, row_start, input_index, input_value, T,
                                         batch, params, grads, log_guard, weight_decay, work,
                                         part_grads, part_active, part_transposed, part_z,
                                         first_z, split, kept, example_loss)
        compiled.backward_update_region(at, bounds, input_index, input_value, batch, params,
                                        grads, split, first_z, fill, input_example, input_x,
                                        kept, part_grads, part_active, weight_decay, kind,
                                        state1, state2, lr, momentum, beta1, beta2)
        return loss

    def train_steps_from_pixels(pixel_start, pixel_index, pixel_value, labels, indices,
                                steps, batch, params, grads, sizes, activation_code,
                                output_code, log_guard, weight_decay, Z, H, dZ, dH, active,
                                row_start, input_index, input_value, T, batch_labels, kind,
                                state1, state2, lrs, momentum, beta1, beta2, losses, bounds,
                                work, part_grads, part_active, part_transposed, at, part_z,
                                first_z, split, fill, input_example, input_x, kept,
                                example_loss):
        check_shape(sizes, activation_code, output_code, shape, activation, output)
        part_loss = np.empty(parts)
        for s in range(steps):
            if in_order:
                compiled.gather_examples_region(at, pixel_start, pixel_index, pixel_value,
                                                labels, indices, s * batch, batch, row_start,
                                                input_index, input_value, T, batch_labels,
                                                bounds, params, log_guard, work, part_grads,
                                                part_active, part_transposed, part_z,
                                                first_z, split, kept, example_loss,
                                                part_loss)
                losses[s] = compiled.above_gradients(batch, params, grads, weight_decay,
                                                     part_grads, example_loss, part_loss)
            else:
                compiled.gather_region(at, pixel_start, pixel_index, pixel_value, labels,
                                       indices, s * batch, batch, row_start, input_index,
                                       input_value, T, batch_labels)
                losses[s] = compiled.gradient_regions(at, bounds, row_start, input_index,
                                                      input_value, T, batch, params, grads,
                                                      log_guard, weight_decay, work,
                                                      part_grads, part_active,
                                                      part_transposed, part_z, first_z,
                                                      split, kept, example_loss)
            compiled.backward_update_region(at, bounds, input_index, input_value, batch,
                                            params, grads, split, first_z, fill,
                                            input_example, input_x, kept, part_grads,
                                            part_active, weight_decay, kind, state1, state2,
                                            lrs[s], momentum, beta1, beta2)

    tag = _parallel_tag(shape, activation, output, kind, in_order)
    # The functions call each other through a module registered in sys.modules: Numba keys
    # a cache entry on its function's pickled closure variables, and a module pickles as
    # its name, where a dispatcher would make a new key (and a recompile) in every process.
    compiled = types.ModuleType(f"loopnet._parallel_{tag}")
    sys.modules[compiled.__name__] = compiled
    part_functions = [_compile(part_fn, tag, in_order, parallel=False) for part_fn in (
        gather_part, first_forward_part, examples_part, first_backward_part, update_part)]
    names = [f"{fn.py_func.__qualname__}" for fn in part_functions]
    for k, call in enumerate(("call_gather", "call_first_forward", "call_examples",
                              "call_first_backward", "call_update")):
        setattr(compiled, call, indirect_call(names[k], numba.float64 if k == EXAMPLES
                                              else numba.none))
    for region in (plan_rows, gather_of_part, examples_of_part, gather_region, forward_region,
                   examples_region, gather_examples_region, above_gradients, backward_region,
                   backward_update_region, gradient_regions):
        setattr(compiled, region.__name__, numba.njit(inline="always")(region))

    def addresses(data, batch_values, update_values, bounds, part_work, buffers) -> np.ndarray:
        """at[k]: the address of part function k, compiled (or loaded from the cache) for the
        types of the values that the regions pass it.  data: the dataset and the indices
        (None: no gather); batch_values: the minibatch, params, grads, log_guard and, with
        data, batch_labels; update_values: the optimizer's (None: no update)."""
        part = np.int64(0)
        work, part_grads, part_active, part_transposed = part_work
        part_z, first_z, split, fill, input_example, input_x, kept, example_loss = buffers
        row_start, input_index, input_value, T, batch, params, grads, log_guard = \
            batch_values[:8]
        arguments = [None] * len(part_functions)
        if data is not None:
            arguments[GATHER] = (part, *data, part, batch, row_start, input_index, input_value,
                                 T, batch_values[8])
        if not in_order:  # (in order, the examples' region runs the first layer's forward)
            arguments[FIRST_FORWARD] = (part, bounds, row_start, input_index, input_value,
                                        batch, params, part_z, split)
        arguments[EXAMPLES] = (part, T, batch, params, log_guard, part_z, first_z, work,
                               part_grads, part_active, part_transposed, kept, example_loss,
                               bounds, row_start, input_index, input_value, split)
        arguments[FIRST_BACKWARD] = (part, bounds, input_index, input_value, batch, grads,
                                     split, first_z, fill, input_example, input_x, kept,
                                     part_grads, part_active)
        if update_values is not None:
            kind, *optimizer = update_values
            arguments[UPDATE] = (part, bounds, 0.0, kind, params, grads, *optimizer)
        return np.array([0 if values is None else address_of(name, fn, values)
                         for name, fn, values in zip(names, part_functions, arguments)],
                        dtype=np.int64)

    loops = types.SimpleNamespace(
        train_steps_from_pixels=_compile(train_steps_from_pixels, tag, in_order),
        addresses=addresses)
    if not in_order:  # (InOrderKernels trains from pixels only)
        loops.batch_gradient = _compile(batch_gradient, tag, in_order)
        loops.train_step = _compile(train_step, tag, in_order)
    return loops


def _parallel_tag(shape, activation: int, output: int, kind: int, in_order: bool) -> str:
    order = "_exact" if in_order else ""
    return f"{shape_tag(shape, activation, output)}_k{kind}_p{PARTS}{order}_{SOURCE_TAG}"


def training_loop_name(shape, activation: int, output: int, kind: int,
                       in_order: bool = False) -> str:
    """The cache name (module.qualname) of the parallel training loop for this network and
    optimizer."""
    tag = _parallel_tag(shape, activation, output, kind, in_order)
    return f"numba_parallel.parallel_train_steps_from_pixels_{tag}"


def _compile(fn, tag: str, in_order: bool, parallel: bool = True):
    # the cache file is named after the qualname: one per shape, part count and source version
    fn.__qualname__ = f"parallel_{fn.__name__}_{tag}"
    fastmath = {} if in_order else {"contract"}
    if parallel:
        return numba.njit(cache=True, parallel=PRANGE_ONLY, fastmath=fastmath)(fn)
    return numba.njit(cache=True, fastmath=fastmath, no_cpython_wrapper=True,
                      no_cfunc_wrapper=True)(fn)


parallel_kernels = one_per_shape(ParallelKernels)


def exact_mode_in_order() -> bool:
    """Whether exact mode trains with InOrderKernels (on P > 1 cores) rather than with
    numba_specialized's one-core loop."""
    return PARTS > 1


class InOrderKernels:
    """Exact mode's training loop on P cores: `train_steps_from_pixels` (of loopnet.kernels,
    same signature; every sum in exact mode's order, see above) and `count_correct` (exact
    mode's), compiled for `sizes`, `activation` and `output`."""

    def __init__(self, sizes, activation: int, output: int) -> None:
        self._steps = ParallelKernels(sizes, activation, output, in_order=True)
        self.train_steps_from_pixels = self._steps.train_steps_from_pixels
        self.count_correct = self._steps.count_correct


in_order_kernels = one_per_shape(InOrderKernels)


class ParallelDispatch:
    """The parallel backend's `kernels`: `batch_gradient` and `train_step` (same signatures as
    loopnet.kernels) go to the ParallelKernels of the network shape in their arguments; every
    other kernel is exact mode's compiled one."""

    def __getattr__(self, name: str):
        return getattr(compiled_kernels(), name)

    @staticmethod
    def _for(args) -> ParallelKernels:
        # (row_start, input_index, input_value, T, batch, params, grads, sizes, activation,
        #  output, ...)
        return parallel_kernels(args[7], args[8], args[9])

    def batch_gradient(self, *args):
        return self._for(args).batch_gradient(*args)

    def train_step(self, *args):
        return self._for(args).train_step(*args)
