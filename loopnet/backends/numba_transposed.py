"""The layers' backward h = W·z over a transposed copy of W: the same sums, vectorized (Numba only).

A layer above the first sends its z back to the layer below as h_i = Σ_j W_{i,j} · z_j
(loopnet/kernels.py's affine_backward), one sum over j for every input i.  Summed in ascending
j, each h_i is a chain of dependent additions (784-100-10: ten per i), which LLVM cannot
vectorize without reordering them, so it ran one double at a time.

Here the loop over j is the outer one: h_i starts at 0.0 for all i, and for each j in ascending
order every h_i gets W_{i,j} · z_j added.  Each h_i sees the very additions of the kernel, in
the same order (the same bits), but the additions of one j are independent across i, so they
run as vectors over i.  That needs W_{i,j} contiguous in i: `transpose_weights` copies W^T
once per training step (W changes only in the update), and `affine_backward` reads it.
Measured on this project's Xeon, the layers above the first's backward of one example
(numba_specialized.layers_above's backward_to_first): 3 270 -> 1 590 cycles for 784-100-10,
1 660 -> 520 for 784-50-10; the copy costs about 6 000 cycles once per step.
"""
import numba

from loopnet import kernels
from loopnet.backends.numba_registers import local_vector

inline = numba.njit(inline="always")
active_inputs = inline(kernels.active_inputs)


@inline
def transpose_weights(W, WT, n_in, n_out):
    """WT[j * n_in + i] = W[i * n_out + j]: W^T of an n_in x n_out layer, row j for output j."""
    for j in range(n_out):
        for i in range(n_in):
            WT[j * n_in + i] = W[i * n_out + j]


@inline
def affine_backward(x, WT, dz, dW, dB, dx, n_in, n_out, active):
    """kernels.affine_backward with h_i = Σ_j W_{i,j} · z_j from WT (W^T, transpose_weights):
    ΔB_j += z_j ; ΔW_{i,j} += H_i · z_j over the non-zero H_i (kernels' loops, z in registers
    as numba_registers has it) ; h_i = Σ_j W_{i,j} · z_j, j outer (see the module doc)."""
    z = local_vector(n_out)
    for j in range(n_out):
        z[j] = dz[j]
    for j in range(n_out):
        dB[j] += z[j]
    count = active_inputs(x, n_in, active)
    for k in range(count):
        i = max(active[k], 0)
        x_i = x[i]
        row = i * n_out
        for j in range(n_out):
            dW[row + j] += x_i * z[j]
    h = local_vector(n_in)
    for i in range(n_in):
        h[i] = 0.0
    for j in range(n_out):
        z_j = z[j]
        row = j * n_in
        for i in range(n_in):
            h[i] += WT[row + i] * z_j
    for i in range(n_in):
        dx[i] = h[i]
