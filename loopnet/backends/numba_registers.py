"""The layers' sums held in registers (Numba only): same operations, fewer loads and stores.

The layers' kernels in loopnet/kernels.py add their terms into a buffer (Z, a row of ΔW):
every pass over an input's n_out terms loads and stores that buffer once more.  A buffer of a
compile-time width that the function allocates itself (`local_vector`, on its stack) is one
that LLVM can keep in vector registers for the whole sum and store once at the end (seen in
the generated code for 784-100-10: 25 ymm registers, no loads or stores of the sum in the
loop).  The per-shape code (numba_specialized, numba_parallel) runs the first layer's and the
other layers' kernels on such vectors (`held_in_registers`): the very additions and
multiplications of loopnet/kernels.py, in the same order, only holding the sums elsewhere, so
every result is bit for bit the same (the tests compare exact mode with the python backend bit
for bit).

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

# the widest vector a function puts on its stack (8 kB: within any thread's stack); wider ones
# are heap arrays (LLVM keeps only a few hundred doubles in registers anyway: 32 of 8 at most)
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


def held_in_registers(module) -> list:
    """`module`'s compiled input_affine_forward, affine_forward and affine_backward
    (loopnet/kernels.py's, same signatures), each running the module's own kernel on a local
    vector: the forwards sum into one (Z_j = B_j + Σ_i X_i · W_{i,j}) that is then stored in z,
    the backward reads the layer's z_j from one (ΔB_j += z_j ; ΔW_{i,j} += X_i · z_j ;
    h_i = Σ_j W_{i,j} · z_j).  The kernel's operations are unchanged, in their order; only where
    the sums and the z_j are held differs.  (The per-shape loops run the first layer's backward
    input by input instead: numba_input_major.)"""
    first_forward = module.input_affine_forward
    layer_forward, layer_backward = module.affine_forward, module.affine_backward

    def input_affine_forward(input_index, input_value, first, end, W, B, z, n_out):
        acc = local_vector(n_out)
        first_forward(input_index, input_value, first, end, W, B, acc, n_out)
        for j in range(n_out):
            z[j] = acc[j]

    def affine_forward(x, W, B, z, n_in, n_out, active):
        acc = local_vector(n_out)
        layer_forward(x, W, B, acc, n_in, n_out, active)
        for j in range(n_out):
            z[j] = acc[j]

    def affine_backward(x, W, dz, dW, dB, dx, n_in, n_out, active):
        z_local = local_vector(n_out)
        for j in range(n_out):
            z_local[j] = dz[j]
        layer_backward(x, W, z_local, dW, dB, dx, n_in, n_out, active)

    return [inline(fn) for fn in (input_affine_forward, affine_forward, affine_backward)]
