"""The layers' backward h = W·z over a transposed copy of W: the same sums, vectorized (Numba only).

A layer above the first sends its z back to the layer below as h_i = Σ_j W_{i,j} · z_j
(loopnet/kernels.py's affine_backward), one sum over j for every input i.  Summed in ascending
j, each h_i is a chain of dependent additions (784-100-10: ten per i), which LLVM cannot
vectorize without reordering them, so it ran one double at a time.

Here the loop over j is the outer one: h_i starts at 0.0 for all i, and for each j in ascending
order every h_i gets W_{i,j} · z_j added.  Each h_i sees the very additions of the kernel, in
the same order (the same bits), but the additions of one j are independent across i, so they
run as vectors over i.  That needs W_{i,j} contiguous in i: `transpose_weights` copies W^T
once per training step (W changes only in the update), and `hidden_backward` reads it; the
layer's ΔB and ΔW are kernels.affine_weights_backward's (numba_specialized runs the two).
Measured on this project's Xeon, the layers above the first's backward of one example
(numba_specialized.layers_above's backward_to_first): 3 270 -> 1 590 cycles for 784-100-10,
1 660 -> 520 for 784-50-10; the copy costs about 6 000 cycles once per step.
"""
import numba

from loopnet.backends.numba_registers import local_vector

inline = numba.njit(inline="always")


@inline
def transpose_weights(W, WT, n_in, n_out):
    """WT[j * n_in + i] = W[i * n_out + j]: W^T of an n_in x n_out layer, row j for output j."""
    for j in range(n_out):
        for i in range(n_in):
            WT[j * n_in + i] = W[i * n_out + j]


@inline
def hidden_backward(WT, z, dx, n_in, n_out):
    """kernels.affine_backward's h_i = Σ_j W_{i,j} · z_j into dx, from WT (W^T,
    transpose_weights), j outer (see the module doc)."""
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
