"""Exact mode's training and evaluation loops, compiled for one network shape.

The kernels take the layer sizes as run-time values, so each compiled inner loop
(`for j in range(n_out)`) must serve any width: a vector loop, a remainder loop and an overlap
check of z against W for every row of W.  That costs about a quarter of a 784-50-10 training
step.  Here the same kernel functions are inlined (Numba's `inline="always"`) into entry points
whose sizes, activation and output are compile-time constants, so that LLVM compiles each loop
for its actual width.  The float64 operations and their order are unchanged: results stay
bit-for-bit those of the Python backend (tested).

Each shape compiles once (a few seconds) and is cached on disk under a name that carries the
shape and the sources' tag.  The network's other calls (predict, loss, gradient, train_step)
keep using the general compiled kernels: they compile once for every shape.
"""

import numba

from loopnet.backends.numba_backend import SOURCE_TAG, compiled_copy

INLINED_MODULE = f"loopnet._inlined_kernels_{SOURCE_TAG}"


def inlined_kernels():
    """loopnet/kernels.py compiled once more, every function marked to be inlined."""
    return compiled_copy(INLINED_MODULE, options={"inline": "always"})


@numba.njit(cache=True)
def check_shape(sizes, activation, output, compiled_sizes, compiled_activation, compiled_output):
    """Raise ValueError unless the call's network shape is the one compiled in."""
    same = (len(sizes) == len(compiled_sizes) and activation == compiled_activation
            and output == compiled_output)
    for k in range(len(sizes)):
        same = same and sizes[k] == compiled_sizes[k]
    if not same:
        raise ValueError("these kernels were compiled for another network shape")


class SpecializedKernels:
    """`train_steps_from_pixels` and `count_correct` of loopnet.kernels, same signatures,
    compiled for `sizes`, `activation` and `output`; other shapes raise ValueError."""

    def __init__(self, sizes, activation: int, output: int) -> None:
        kernels = inlined_kernels()
        shape = tuple(int(n) for n in sizes)
        tag = f"{'x'.join(map(str, shape))}_a{activation}_o{output}_{SOURCE_TAG}"

        def train_steps_from_pixels(pixel_start, pixel_index, pixel_value, labels, indices,
                                    steps, batch, params, grads, sizes, activation_code,
                                    output_code, log_guard, weight_decay, Z, H, dZ, dH, active,
                                    row_start, input_index, input_value, T, batch_labels, kind,
                                    state1, state2, lrs, momentum, beta1, beta2, losses):
            check_shape(sizes, activation_code, output_code, shape, activation, output)
            # kernels.train_steps_from_pixels' loop: Numba inlines no function of more than 30
            # arguments, so its two calls are made here
            for s in range(steps):
                kernels.gather_batch(pixel_start, pixel_index, pixel_value, labels,
                                     indices[s * batch:(s + 1) * batch], batch, shape[-1],
                                     row_start, input_index, input_value, T, batch_labels)
                losses[s] = kernels.train_step(
                    row_start, input_index, input_value, T, batch, params, grads, shape,
                    activation, output, log_guard, weight_decay, Z, H, dZ, dH, active, kind,
                    state1, state2, lrs[s], momentum, beta1, beta2)

        def count_correct(row_start, input_index, input_value, labels, batch, params, sizes,
                          activation_code, Z, H, active):
            check_shape(sizes, activation_code, output, shape, activation, output)
            return kernels.count_correct(row_start, input_index, input_value, labels, batch,
                                         params, shape, activation, Z, H, active)

        for fn in (train_steps_from_pixels, count_correct):
            # the cache file is named after the qualname: one per shape and source version
            fn.__qualname__ = f"{fn.__name__}_{tag}"
            setattr(self, fn.__name__, numba.njit(cache=True)(fn))


def one_per_shape(kind):
    """A function (sizes, activation, output) -> the one `kind` of that network shape, made on
    first use and kept for the rest of the process."""
    made = {}

    def of_shape(sizes, activation: int, output: int):
        key = (tuple(int(n) for n in sizes), int(activation), int(output))
        if key not in made:
            made[key] = kind(*key)
        return made[key]

    return of_shape


specialized_kernels = one_per_shape(SpecializedKernels)
