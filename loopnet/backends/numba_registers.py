"""The first layer's sums held in registers (Numba only): same operations, fewer loads and stores.

The first layer's kernels in loopnet/kernels.py add their terms into a buffer (Z[0], a row of
ΔW1): every pass over an input's n_out terms loads and stores that buffer once more.  A buffer
of a compile-time width that the function allocates itself (`local_vector`, on its stack) is
one that LLVM can keep in vector registers for the whole sum and store once at the end (seen in
the generated code for 784-100-10: 25 ymm registers, no loads or stores of the sum in the
loop).  The per-shape code (numba_specialized, numba_parallel) uses the two kernels below in
place of loopnet/kernels.py's: each performs the very additions and multiplications of the
kernel it replaces, in the same order, only holding the sum elsewhere, so every result is bit
for bit the same (the tests compare exact mode with the python backend bit for bit).

`wide_vectors()` asks LLVM for the widest vector registers the CPU has.  On CPUs with AVX-512
LLVM's own tuning for Intel's server cores keeps to 256-bit vectors (older ones slowed their
clock for 512-bit code); the per-shape loops, one multiplication and one addition per element
and four or eight elements per instruction, ran faster with 512 bits on this project's Xeon
(the input-by-input backward of 784-100-10: 380 -> 230 µs).  Vector width changes no result:
without fastmath LLVM vectorizes a loop only across its independent elements (here j), each
element's operations staying those of the scalar loop, in their order.
"""
import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from loopnet import kernels

# the widest vector a function puts on its stack (8 kB: within any thread's stack); wider ones
# are heap arrays, which LLVM does not keep in registers (nor could it: 32 registers at most)
STACK_LIMIT = 1024


def local_vector(n: int) -> np.ndarray:
    """n float64 of uninitialized work space private to the calling compiled function, which
    must not return it.  Up to STACK_LIMIT it is on the function's stack, allocated once per
    call wherever this stands in the function: n elements when n is a compile-time constant
    (which LLVM can keep in registers), else the first n of STACK_LIMIT; a new array above."""
    return np.empty(n)


@intrinsic
def _stack_vector(typingctx, size):
    """A C-contiguous float64 array of `size` (a literal) elements allocated in the entry block
    of the function being compiled; no memory manager owns it."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    n = size.literal_value
    array_type = types.Array(types.float64, 1, "C")

    def codegen(context, builder, signature, args):
        data = cgutils.alloca_once(builder, context.get_value_type(types.float64), size=n)
        array = context.make_array(array_type)(context, builder)
        itemsize = context.get_constant(types.intp, 8)
        context.populate_array(
            array, data=data, itemsize=itemsize, meminfo=None,
            shape=cgutils.pack_array(builder, [context.get_constant(types.intp, n)]),
            strides=cgutils.pack_array(builder, [itemsize]))
        return array._getvalue()

    return array_type(size), codegen


@overload(local_vector, inline="always", prefer_literal=True)
def _local_vector(n):
    if isinstance(n, types.IntegerLiteral) and 0 < n.literal_value <= STACK_LIMIT:
        return lambda n: _stack_vector(n)

    def run_time_size(n):
        # a stack buffer of STACK_LIMIT: not in registers (its size is not known in advance)
        # but not allocated either
        if n <= STACK_LIMIT:
            return _stack_vector(STACK_LIMIT)[:n]
        return np.empty(n)

    return run_time_size


@intrinsic
def wide_vectors(typingctx):
    """In a compiled function: let LLVM use vectors as wide as the CPU's registers (the
    "prefer-vector-width" attribute of the function being compiled; no effect on CPUs without
    registers wider than 256 bits)."""

    def codegen(context, builder, signature, args):
        # llvmlite's FunctionAttributes accepts only LLVM's enum attributes by name; this is a
        # string attribute, which it writes out as given
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.none(), codegen


inline = numba.njit(inline="always")
active_inputs = inline(kernels.active_inputs)


@inline
def input_affine_forward(input_index, input_value, first, end, W, B, z, n_out):
    """kernels.input_affine_forward, Z_j = B_j + Σ_i X_i · W_{i,j} over the non-zero inputs,
    with the sums held in `acc` until stored in z: the same additions, two inputs per pass, in
    the same order."""
    acc = local_vector(n_out)
    for j in range(n_out):
        acc[j] = B[j]
    p = first
    while p + 1 < end:
        row_a = max(input_index[p], 0) * n_out
        row_b = max(input_index[p + 1], 0) * n_out
        x_a = input_value[p]
        x_b = input_value[p + 1]
        for j in range(n_out):
            acc[j] = acc[j] + x_a * W[row_a + j] + x_b * W[row_b + j]
        p += 2
    if p < end:
        row = max(input_index[p], 0) * n_out
        x_i = input_value[p]
        for j in range(n_out):
            acc[j] += x_i * W[row + j]
    for j in range(n_out):
        z[j] = acc[j]


@inline
def input_affine_backward(input_index, input_value, first, end, dz, dW, dB, n_out):
    """kernels.input_affine_backward, ΔB_j += z_j ; ΔW_{i,j} += X_i · z_j over the non-zero
    inputs, with the example's z_j read once into `z_local` (the rows of ΔW are each read and
    written once, as before)."""
    z_local = local_vector(n_out)
    for j in range(n_out):
        z_local[j] = dz[j]
        dB[j] += z_local[j]
    for p in range(first, end):
        row = max(input_index[p], 0) * n_out
        x_i = input_value[p]
        for j in range(n_out):
            dW[row + j] += x_i * z_local[j]


@inline
def affine_forward(x, W, B, z, n_in, n_out, active):
    """kernels.affine_forward, Z_j = B_j + Σ_i H_i · W_{i,j} over the non-zero H_i, with the
    sums held in `acc` until stored in z: the same additions in the same order."""
    acc = local_vector(n_out)
    for j in range(n_out):
        acc[j] = B[j]
    count = active_inputs(x, n_in, active)
    for k in range(count):
        i = max(active[k], 0)
        x_i = x[i]
        row = i * n_out
        for j in range(n_out):
            acc[j] += x_i * W[row + j]
    for j in range(n_out):
        z[j] = acc[j]


@inline
def affine_backward(x, W, dz, dW, dB, dx, n_in, n_out, active):
    """kernels.affine_backward, ΔB_j += z_j ; ΔW_{i,j} += H_i · z_j over the non-zero H_i ;
    h_i = Σ_j W_{i,j} · z_j, with the layer's z_j read once into `z_local`: the same
    operations in the same order."""
    z_local = local_vector(n_out)
    for j in range(n_out):
        z_local[j] = dz[j]
        dB[j] += z_local[j]
    count = active_inputs(x, n_in, active)
    for k in range(count):
        i = max(active[k], 0)
        x_i = x[i]
        row = i * n_out
        for j in range(n_out):
            dW[row + j] += x_i * z_local[j]
    for i in range(n_in):
        row = i * n_out
        h_i = 0.0
        for j in range(n_out):
            h_i += W[row + j] * z_local[j]
        dx[i] = h_i
