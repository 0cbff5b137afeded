"""Exact mode's training and evaluation loops, compiled for one network shape.

The kernels take the layer sizes as run-time values, so each compiled inner loop
(`for j in range(n_out)`) must serve any width: a vector loop, a remainder loop and an overlap
check of z against W for every row of W.  That costs about a quarter of a 784-50-10 training
step.  Here the same kernel functions are inlined (Numba's `inline="always"`) into entry points
whose sizes, activation and output are compile-time constants, so that LLVM compiles each loop
for its actual width.  The float64 operations and their order are unchanged: results stay
bit-for-bit those of the Python backend (tested).

A training step's examples (each one's forward, loss and backward down to its first-layer
dz) are a function of their own, which the training loop calls through its address
(numba_indirect), once per step.  Everything inlined into one function, the loop took 10.1 s to
compile for 784-50-10; the two pieces take 5.1 s together, and on a first run the parent
process compiles the examples' function while a child compiles the loop (numba_background).

This training loop is exact mode's on one core (Numba's thread count P = 1); with P > 1
exact mode trains with numba_parallel's regions in order, which run the same kernels and
layers_above (there with backward_to_first_kept and weights_from_kept: the layers above's ΔW
and ΔB summed after a step's examples, in their order, each core its share of the rows).
Evaluation is count_correct's here in both.

Each shape compiles once (a few seconds) and is cached on disk under a name that carries the
shape and the sources' tag.  The network's other calls (predict, loss, gradient, train_step)
keep using the general compiled kernels: they compile once for every shape.
"""

import sys
import types

import numba
import numpy as np

from loopnet import kernels as python_kernels
from loopnet.backends import numba_input_major as input_major
from loopnet.backends import numba_transposed as transposed_backward
from loopnet.backends.numba_aligned import aligned_empty
from loopnet.backends.numba_compile import SOURCE_TAG, bound_kernels, check_shape, one_per_shape
from loopnet.backends.numba_indirect import address_of, indirect_call, only_callees
from loopnet.backends.numba_registers import local_vector, wide_vectors

# where kernels.train_steps_from_pixels takes the optimizer code
OPTIMIZER_ARGUMENT = 24


inline = numba.njit(inline="always")


@numba.njit(cache=True)
def part_share(count, part, parts):
    """[first, end) of part `part`'s contiguous share of `count` items (of `parts`)."""
    return part * count // parts, (part + 1) * count // parts


def layers_above(kernels, shape: tuple, activation: int, output: int) -> types.ModuleType:
    """A module with `kernels`' forward_above_first_layer and backward_to_first_layer for one
    network shape, their loop over the layers unrolled so that every layer's widths are
    constants of the compiled code (numba_registers then keeps the layer's sums in registers).
    The same kernel calls in the same order.

        forward_above(params, Z, H, active)
        transpose_above(params, transposed)
        backward_to_first(t, t0, batch, params, grads, Z, H, dZ, dH, active, transposed)
        backward_to_first_kept(t, t0, batch, params, kept, n, Z, H, dZ, dH, active, transposed)
        weights_from_kept(kept, batch, grads, sink, active, part, parts)

    backward_to_first_kept is backward_to_first without the layers' ΔW and ΔB: it keeps example
    n's H^(l-1) and z of every layer above the first in `kept` (kept_size(shape) doubles per
    example), from which weights_from_kept then adds them up for examples 0 ... batch - 1 with
    backward_to_first's calls, in its order (numba_parallel's in-order mode): part `part` of
    `parts` sums the rows i of every ΔW in its part_share, part 0 also every ΔB (the ΔB terms
    of the other parts go to their own `sink`, which nothing reads).

    `transposed` (transposed_size(shape) doubles) holds W^T of every layer above the first for
    the backward (numba_transposed): transpose_above fills it from params, once for as long as
    params do not change.

    A module registered in sys.modules, as the compiled loops that call them find them: Numba
    keys a cache entry on its function's pickled closure variables, and a module pickles as its
    name, where a dispatcher would make a new key (and a recompile) in every process.
    """
    name = f"{kernels.__name__}_layers_{'x'.join(map(str, shape))}"
    if name in sys.modules:
        return sys.modules[name]
    last = len(shape) - 2

    def nothing_above(params, Z, H, active):
        pass

    forward_above = inline(nothing_above)
    for layer in range(last, 0, -1):  # layer l's function runs l, then the ones above it
        forward_above = _forward_layer(kernels, activation, layer, shape[layer],
                                       shape[layer + 1], forward_above)

    def nothing_below(params, sink, n, batch, Z, H, dZ, dH, active, transposed):
        pass

    def nothing_transposed(params, transposed):
        pass

    def no_weights(kept, batch, grads, sink, active, part, parts):
        pass

    backward_below = kept_below = inline(nothing_below)
    transpose_above, weights_kept = inline(nothing_transposed), inline(no_weights)
    offset = 0  # layer l's W^T at transposed[offset : offset + n_in * n_out]
    kept_offset = 0  # layer l's records at kept[kept_offset * batch:] (_kept_weights)
    for layer in range(1, last + 1):  # layer l's function runs l, then the ones below it
        n_in, n_out = shape[layer], shape[layer + 1]
        backward_below = _backward_layer(kernels, activation, layer, n_in, n_out, offset,
                                         _summed_weights(kernels, layer, n_in, n_out),
                                         backward_below)
        transpose_above = _transpose_layer(layer, n_in, n_out, offset, transpose_above)
        kept_below = _backward_layer(kernels, activation, layer, n_in, n_out, offset,
                                     _kept_weights(n_in, n_out, kept_offset), kept_below)
        weights_kept = _kept_weights_layer(kernels, layer, n_in, n_out, kept_offset,
                                           weights_kept)
        offset += n_in * n_out
        kept_offset += n_in + n_out
    n_out = shape[-1]

    def backward_to_first(t, t0, batch, params, grads, Z, H, dZ, dH, active, transposed):
        kernels.output_with_loss_backward(output, H[last], t, t0, dZ[last], n_out, batch)
        backward_below(params, grads, 0, batch, Z, H, dZ, dH, active, transposed)

    def backward_to_first_kept(t, t0, batch, params, kept, n, Z, H, dZ, dH, active, transposed):
        kernels.output_with_loss_backward(output, H[last], t, t0, dZ[last], n_out, batch)
        kept_below(params, kept, n, batch, Z, H, dZ, dH, active, transposed)

    module = types.ModuleType(name)
    module.forward_above, module.backward_to_first = forward_above, inline(backward_to_first)
    module.transpose_above = transpose_above
    module.backward_to_first_kept = inline(backward_to_first_kept)
    module.weights_from_kept = weights_kept
    sys.modules[name] = module
    return module


def _forward_layer(kernels, activation: int, l: int, n_in: int, n_out: int, above):
    def forward_layer(params, Z, H, active):
        kernels.activation_forward(activation, Z[l - 1], H[l - 1], n_in)
        kernels.affine_forward(H[l - 1], params[2 * l], params[2 * l + 1], Z[l], n_in, n_out,
                               active)
        above(params, Z, H, active)

    return inline(forward_layer)


def _backward_layer(kernels, activation: int, l: int, n_in: int, n_out: int, offset: int,
                    weights_step, below):
    """Layer l's part of kernels.backward_to_first_layer for example n, then the layers below.
    weights_step(x, z, sink, n, batch, active) is its ΔB and ΔW: _summed_weights (sink: the
    gradients) or _kept_weights (sink: `kept`, for _kept_weights_layer)."""
    def backward_layer(params, sink, n, batch, Z, H, dZ, dH, active, transposed):
        # kernels.affine_backward: its ΔB and ΔW, then its h = W·z from W^T (numba_transposed:
        # the same sums), z held in registers (numba_registers)
        z = local_vector(n_out)
        dz = dZ[l]
        for j in range(n_out):
            z[j] = dz[j]
        weights_step(H[l - 1], z, sink, n, batch, active)
        transposed_backward.hidden_backward(transposed[offset:offset + n_in * n_out], z,
                                            dH[l - 1], n_in, n_out)
        kernels.activation_backward(activation, Z[l - 1], H[l - 1], dH[l - 1], dZ[l - 1], n_in)
        below(params, sink, n, batch, Z, H, dZ, dH, active, transposed)

    return inline(backward_layer)


def _summed_weights(kernels, l: int, n_in: int, n_out: int):
    def summed_weights(x, z, grads, n, batch, active):
        # ΔB_j += z_j ;  ΔW_{i,j} += H_i · z_j
        kernels.affine_weights_backward(x, z, grads[2 * l], grads[2 * l + 1], n_in, n_out,
                                        active)

    return inline(summed_weights)


def _kept_weights(n_in: int, n_out: int, kept_offset: int):
    """Example n's H^(l-1) and z of layer l kept, at kept[kept_offset * batch + n * (n_in +
    n_out):], for _kept_weights_layer to add up later."""
    record_size = n_in + n_out

    def kept_weights(x, z, kept, n, batch, active):
        record = kept[kept_offset * batch + n * record_size:]
        for i in range(n_in):
            record[i] = x[i]
        for j in range(n_out):
            record[n_in + j] = z[j]

    return inline(kept_weights)


def _kept_weights_layer(kernels, l: int, n_in: int, n_out: int, kept_offset: int, below):
    """Layer l's ΔB and ΔW from the kept H^(l-1) and z of examples n = 0 ... batch - 1: the
    calls of kernels.affine_weights_backward that _backward_layer makes, in their order, on the
    part's rows lo ... hi - 1 of ΔW.  Each ΔW_{i,j} and ΔB_j gets the very terms, in ascending
    n, of the call on all the rows: the kernel's loop over the non-zero H_i^(l-1) touches no
    other row than i's."""
    record_size = n_in + n_out

    def kept_weights_layer(kept, batch, grads, sink, active, part, parts):
        lo, hi = part_share(n_in, part, parts)
        dW = grads[2 * l][lo * n_out:hi * n_out]
        dB = grads[2 * l + 1] if part == 0 else sink[2 * l + 1][:n_out]
        for k in range(len(dW)):
            dW[k] = 0.0
        for j in range(n_out):
            dB[j] = 0.0
        for n in range(batch):
            first = kept_offset * batch + n * record_size
            kernels.affine_weights_backward(kept[first + lo:first + hi],
                                            kept[first + n_in:first + record_size],
                                            dW, dB, hi - lo, n_out, active)
        below(kept, batch, grads, sink, active, part, parts)

    return inline(kept_weights_layer)


def kept_size(shape) -> int:
    """Doubles per example of layers_above's `kept`: H^(l-1) and z of every layer above the
    first."""
    return sum(n_in + n_out for n_in, n_out in zip(shape[1:-1], shape[2:]))


def _transpose_layer(l: int, n_in: int, n_out: int, offset: int, below):
    def transpose_layer(params, transposed):
        transposed_backward.transpose_weights(params[2 * l],
                                              transposed[offset:offset + n_in * n_out], n_in,
                                              n_out)
        below(params, transposed)

    return inline(transpose_layer)


def transposed_size(shape) -> int:
    """Doubles of layers_above's `transposed`: W^T of every layer above the first."""
    return sum(n_in * n_out for n_in, n_out in zip(shape[1:-1], shape[2:]))


class SpecializedKernels:
    """`train_steps_from_pixels` and `count_correct` of loopnet.kernels, same signatures,
    compiled for `sizes`, `activation` and `output` (the training loop also for its optimizer,
    on first use of each); other shapes raise ValueError."""

    def __init__(self, sizes, activation: int, output: int) -> None:
        self._shape = tuple(int(n) for n in sizes)
        self._activation, self._output = activation, output
        self._tag = shape_tag(self._shape, activation, output)
        self._loops = {}
        self._buffers_batch, self._buffers = None, ()
        kernels = bound_kernels(activation, output)
        layers = layers_above(kernels, self._shape, activation, output)
        shape = self._shape
        n_first, last = shape[1], len(shape) - 2

        def count_correct(row_start, input_index, input_value, labels, batch, params, sizes,
                          activation_code, Z, H, active):
            check_shape(sizes, activation_code, output, shape, activation, output)
            wide_vectors()
            # kernels.count_correct, its forward_example with the layers above unrolled
            # (layers_above: compiled in 2.0 s instead of 3.6 s for 784-50-10)
            n_out = shape[last + 1]
            correct = 0
            for n in range(batch):
                kernels.input_affine_forward(input_index, input_value, row_start[n],
                                             row_start[n + 1], params[0], params[1], Z[0],
                                             n_first)
                layers.forward_above(params, Z, H, active)
                a = Z[last]
                best = 0
                for k in range(1, n_out):
                    if a[k] > a[best]:
                        best = k
                if best == labels[n]:
                    correct += 1
            return correct

        self.count_correct = _compile(count_correct, f"{self._tag}_{SOURCE_TAG}")

    def train_steps_from_pixels(self, *args):
        """kernels.train_steps_from_pixels, through the loop compiled for the optimizer code
        in the arguments."""
        kind = int(args[OPTIMIZER_ARGUMENT])
        if kind not in self._loops:
            self._loops[kind] = self._training_loop(kind)
        loop, examples = self._loops[kind]
        (_, _, _, _, _, _, batch, params, grads, _, _, _, log_guard, _, Z, H, dZ, dH, active,
         row_start, input_index, input_value, T, *_) = args
        buffers = self._step_buffers(batch)
        at = np.array([address_of(examples.py_func.__qualname__, examples, (
            input_index, input_value, row_start, batch, params, grads, log_guard, Z, H, dZ, dH,
            active, T, *buffers))], dtype=np.int64)
        if only_callees():  # the loop itself is another process's to compile
            return None
        return loop(*args, at, *buffers)

    def _step_buffers(self, batch: int) -> tuple:
        """A step's work space, made once per minibatch size: numba_input_major's buckets
        (fill, input_example, input_x), every example's first-layer dz (dZ1) and the layers'
        W^T above the first (layers_above's `transposed`)."""
        if self._buffers_batch != batch:
            n_in, n_first = self._shape[0], self._shape[1]
            self._buffers = (np.empty(n_in, dtype=np.int64), np.empty(n_in * batch,
                                                                       dtype=np.int32),
                             aligned_empty(n_in * batch), aligned_empty(batch * n_first),
                             aligned_empty(transposed_size(self._shape)))
            self._buffers_batch = batch
        return self._buffers

    def _training_loop(self, kind: int):
        """The training loop for optimizer code `kind` and the function it calls for each
        step's examples (through its address: numba_indirect)."""
        shape, activation, output = self._shape, self._activation, self._output
        kernels = bound_kernels(activation, output, kind)
        layers = layers_above(kernels, shape, activation, output)
        n_in, n_first, n_out = shape[0], shape[1], shape[-1]
        n_layers = len(shape) - 1
        plain_sgd = kind == python_kernels.SGD  # a constant of the compiled loop

        def examples(input_index, input_value, row_start, batch, params, grads, log_guard, Z,
                     H, dZ, dH, active, T, fill, input_example, input_x, dZ1, transposed):
            """One step's examples, n in minibatch order: each one's non-zero inputs put in
            their buckets, its forward, loss and backward down to its first-layer dz (kept in
            dZ1); returns the summed loss."""
            wide_vectors()
            layers.transpose_above(params, transposed)
            total = 0.0
            for n in range(batch):
                input_major.bucket_example(input_index, input_value, row_start[n],
                                           row_start[n + 1], n, fill, input_example, input_x)
                kernels.input_affine_forward(input_index, input_value, row_start[n],
                                             row_start[n + 1], params[0], params[1], Z[0],
                                             n_first)
                layers.forward_above(params, Z, H, active)
                total += kernels.output_loss(output, log_guard, Z, H, T, n * n_out, shape)
                layers.backward_to_first(T, n * n_out, batch, params, grads, Z, H, dZ, dH,
                                         active, transposed)
                dz = dZ[0]
                for j in range(n_first):
                    dZ1[n * n_first + j] = dz[j]
            return total

        tag = _loop_tag(shape, activation, output, kind)
        examples = _compile(examples, tag, no_cpython_wrapper=True, no_cfunc_wrapper=True)
        call_examples = indirect_call(examples.py_func.__qualname__, numba.float64)
        # reached by the loop through a module registered in sys.modules (see layers_above)
        callees = types.ModuleType(f"loopnet._specialized_{tag}")
        callees.call_examples = call_examples
        sys.modules[callees.__name__] = callees

        def train_steps_from_pixels(pixel_start, pixel_index, pixel_value, labels, indices,
                                    steps, batch, params, grads, sizes, activation_code,
                                    output_code, log_guard, weight_decay, Z, H, dZ, dH, active,
                                    row_start, input_index, input_value, T, batch_labels, kind,
                                    state1, state2, lrs, momentum, beta1, beta2, losses, at,
                                    fill, input_example, input_x, dZ1, transposed):
            check_shape(sizes, activation_code, output_code, shape, activation, output)
            wide_vectors()
            # kernels.train_steps_from_pixels' loop, each step kernels.train_step with the first
            # layer's backward run input by input over the minibatch (numba_input_major: the
            # same sums in the same order; for plain SGD each row of W1 updated as its ΔW1 is
            # summed) and the layers above unrolled (layers_above).  The examples' part is its
            # own compiled function, called through its address at[0].
            for s in range(steps):
                kernels.gather_batch(pixel_start, pixel_index, pixel_value, labels,
                                     indices[s * batch:(s + 1) * batch], batch, n_out,
                                     row_start, input_index, input_value, T, batch_labels)
                input_major.empty_buckets(0, n_in, batch, fill)
                for p in range(2, len(grads)):
                    g = grads[p]
                    for i in range(len(g)):
                        g[i] = 0.0
                total = callees.call_examples(at[0], (input_index, input_value, row_start,
                                                      batch, params, grads, log_guard, Z, H,
                                                      dZ, dH, active, T, fill, input_example,
                                                      input_x, dZ1, transposed))
                input_major.bias_backward(dZ1, grads[1], batch, n_first)
                loss = total / batch
                if weight_decay != 0.0:  # (W1 is not updated yet)
                    loss += kernels.weight_decay_term(params, n_layers, weight_decay)
                if plain_sgd:
                    # kernels.weight_decay_gradient and sgd_update of W1 row by row as its ΔW1
                    # is summed (numba_input_major), then both for the other tensors
                    input_major.weights_backward_sgd(0, n_in, fill, input_example, input_x,
                                                     dZ1, params[0], lrs[s], weight_decay,
                                                     batch, n_first)
                    if weight_decay != 0.0:
                        for layer in range(1, n_layers):
                            W, dW = params[2 * layer], grads[2 * layer]
                            for i in range(len(W)):
                                dW[i] += weight_decay * W[i]
                    for p in range(1, len(params)):
                        kernels.sgd_update(params[p], grads[p], lrs[s])
                else:
                    input_major.weights_backward(0, n_in, fill, input_example, input_x, dZ1,
                                                 grads[0], batch, n_first)
                    if weight_decay != 0.0:
                        kernels.weight_decay_gradient(params, grads, n_layers, weight_decay)
                    kernels.optimizer_update(kind, params, grads, state1, state2, lrs[s],
                                             momentum, beta1, beta2)
                losses[s] = loss

        return _compile(train_steps_from_pixels, tag), examples


def shape_tag(shape, activation: int, output: int) -> str:
    """The part of the compiled functions' names that tells their network apart."""
    return f"{'x'.join(map(str, shape))}_a{activation}_o{output}"


def _loop_tag(shape, activation: int, output: int, kind: int) -> str:
    return f"{shape_tag(shape, activation, output)}_k{kind}_{SOURCE_TAG}"


def training_loop_name(shape, activation: int, output: int, kind: int) -> str:
    """The cache name (module.qualname) of the training loop for this network and optimizer."""
    return f"numba_specialized.train_steps_from_pixels_{_loop_tag(shape, activation, output, kind)}"


def _compile(fn, tag: str, **options):
    # the cache file is named after the qualname: one per shape (and optimizer) and source version
    fn.__qualname__ = f"{fn.__name__}_{tag}"
    return numba.njit(cache=True, **options)(fn)


specialized_kernels = one_per_shape(SpecializedKernels)
