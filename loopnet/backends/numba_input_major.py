"""The first layer's backward over a whole minibatch, input by input: exact mode's sums, faster.

`loopnet.kernels` runs the first layer's backward example by example: for each of the example's
non-zero inputs X_i it reads and writes row i of ΔW1 (n_out doubles).  Over a minibatch that
streams ΔW1 through the cache once per example: for 784-100-10, W1 and ΔW1 are 627 kB each,
more than a core's L2 holds together.  Here input i is visited once per minibatch, for all the
examples that have X_{n,i} != 0, so row i of ΔW1 is summed in registers (numba_registers) and
stored once.

Why every result is bit-for-bit exact mode's (the python backend's): exact mode adds
X_{n,i}·z_{n,j} to ΔW_{i,j} (zeroed first) example after example, n ascending.  Here the sum
also starts from 0.0 and input i's examples are visited in ascending n (`bucket_example` is
called for the examples in minibatch order and appends to each input's bucket); four examples
per pass compute (((ΔW + a) + b) + c) + d, the very roundings of four single passes.
ΔB_j = Σ_n z_{n,j} is summed in ascending n as before.  No fastmath in exact mode: each product
is rounded, then added, as in Python (parallel mode contracts x·z + ΔW into one fused
multiply-add, example by example as its per-example loop did).  The tests compare the trained
parameters with the python backend's bit for bit.

The forward pass keeps exact mode's example-by-example order: run input by input (Z_{n,j}
summed in ascending i, also bit-exact) it was measured slower, 148 µs against 111 µs for
784-50-10 (the minibatch's Z, 40 kB, does not stay in L1 as one example's z does).  Run in
column tiles of Z (8, 16 or 32 of the j at a time, so that a tile of the minibatch's Z stays in
L1) it was slower still, the tile passes alone against 106-142 µs for the whole per-example
forward: 486-731 µs with a constant tile width (LLVM unrolls the j loop before its loop
vectorizer runs, and Numba leaves the SLP vectorizer off, so each Z_{n,j} is read, added and
stored one double at a time), 265-629 µs with a run-time width (vectorized, still slower).

With plain SGD, exact mode's training loop applies each row of ΔW1 to W1 while it is still in
registers (`weights_backward_sgd`) instead of storing ΔW1 for an update pass that reads it and
W1 back: the same element-by-element operations, and one pass over W1 and ΔW1 fewer per step
(measured the day it came, interleaved runs of the trainer, 500 steps: 0.82x the time per step
for 784-100-10, 0.89x for 784-50-10).  Parallel mode keeps its update region: there each
core's W1 and ΔW1 stay in its own L2, and the same fusion measured no difference.

The functions are compiled with `inline="always"` into the per-shape training loops
(numba_specialized, numba_parallel: there each part buckets and sums its own rows of W1).
They are Numba-only and never change loopnet/kernels.py, which stays the readable per-example
version.
"""
import numba

from loopnet.backends.numba_registers import local_vector

inline = numba.njit(inline="always")


# Buckets: input i's examples are q = i * batch ... fill[i] - 1 of input_example (the example n)
# and input_x (its X_{n,i}); input_example, input_x: (n_in * batch), fill: (n_in).  A bucket
# holds at most batch entries (one per example), so no counting pass is needed to place them.
@inline
def empty_buckets(first_input, end_input, batch, fill):
    """Empty the buckets of inputs first_input ... end_input - 1."""
    for i in range(first_input, end_input):
        fill[i] = i * batch


@inline
def bucket_example(input_index, input_value, first, end, n, fill, input_example, input_x):
    """Append example n's non-zero inputs p = first ... end - 1 to their inputs' buckets."""
    for p in range(first, end):
        i = max(input_index[p], 0)
        q = fill[i]
        input_example[q] = n
        input_x[q] = input_value[p]
        fill[i] = q + 1


@inline
def bias_backward(dZ1, dB, batch, n_out):
    """ΔB_j = Σ_n z_{n,j}, in ascending n, from every example's first-layer z in
    dZ1[n * n_out + j]."""
    for j in range(n_out):
        dB[j] = 0.0
    for n in range(batch):
        for j in range(n_out):
            dB[j] += dZ1[n * n_out + j]


@inline
def weights_backward(first_input, end_input, fill, input_example, input_x, dZ1, dW, batch,
                     n_out):
    """ΔW_{i,j} = Σ_n X_{n,i} · z_{n,j} in ascending n (no h: nothing precedes X), for rows
    i = first_input ... end_input - 1 of ΔW, from the buckets and the examples' first-layer z
    in dZ1[n * n_out + j]."""
    acc = local_vector(n_out)  # row i of ΔW while it is summed: in registers (numba_registers)
    for i in range(first_input, end_input):
        _sum_row(i, fill, input_example, input_x, dZ1, batch, n_out, acc)
        row = i * n_out
        for j in range(n_out):
            dW[row + j] = acc[j]


@inline
def weights_backward_sgd(first_input, end_input, fill, input_example, input_x, dZ1, W, lr,
                         weight_decay, batch, n_out):
    """weights_backward, each row then applied as kernels.weight_decay_gradient and
    kernels.sgd_update do it, ΔW_{i,j} += λ · W_{i,j} (if λ != 0) and
    W_{i,j} ← W_{i,j} - η · ΔW_{i,j}, while the row is in registers, instead of ΔW1 being
    stored and read back by passes of their own: the same operations on the same values (both
    are element by element, and nothing reads W1 between the backward and the update).  ΔW1
    is not stored."""
    acc = local_vector(n_out)
    for i in range(first_input, end_input):
        _sum_row(i, fill, input_example, input_x, dZ1, batch, n_out, acc)
        row = i * n_out
        if weight_decay != 0.0:
            for j in range(n_out):
                W[row + j] -= lr * (acc[j] + weight_decay * W[row + j])
        else:
            for j in range(n_out):
                W[row + j] -= lr * acc[j]


@inline
def _sum_row(i, fill, input_example, input_x, dZ1, batch, n_out, acc):
    """acc_j = ΔW_{i,j} = Σ_n X_{n,i} · z_{n,j} over input i's bucket, in ascending n."""
    for j in range(n_out):
        acc[j] = 0.0
    # Four examples per pass: (((ΔW + a) + b) + c) + d are the additions of four single passes
    # in the same order (it also saves loads and stores where acc is too wide for the
    # registers).  max(..., 0): the index is >= 0, so dZ1[z + j] needs no wraparound
    q = i * batch
    end = fill[i]
    while q + 3 < end:
        z_a = max(input_example[q], 0) * n_out
        z_b = max(input_example[q + 1], 0) * n_out
        z_c = max(input_example[q + 2], 0) * n_out
        z_d = max(input_example[q + 3], 0) * n_out
        x_a = input_x[q]
        x_b = input_x[q + 1]
        x_c = input_x[q + 2]
        x_d = input_x[q + 3]
        for j in range(n_out):
            acc[j] = (acc[j] + x_a * dZ1[z_a + j] + x_b * dZ1[z_b + j]
                      + x_c * dZ1[z_c + j] + x_d * dZ1[z_d + j])
        q += 4
    while q < end:  # fewer than four left
        z0 = max(input_example[q], 0) * n_out
        x_i = input_x[q]
        for j in range(n_out):
            acc[j] += x_i * dZ1[z0 + j]
        q += 1
