"""The first layer's backward over a whole minibatch, input by input: exact mode's sums, faster.

`loopnet.kernels` runs the first layer's backward example by example: for each of the example's
non-zero inputs X_i it reads and writes row i of ΔW1 (n_out doubles).  Over a minibatch that
streams ΔW1 through the cache once per example: for 784-100-10, W1 and ΔW1 are 627 kB each,
more than a core's L2 holds together.  Here input i is visited once per minibatch, for all the
examples that have X_{n,i} != 0, four at a time, so row i of ΔW1 stays in L1 while it is summed
and is loaded and stored once per four examples.

Why every result is bit-for-bit exact mode's (the python backend's): exact mode adds
X_{n,i}·z_{n,j} to ΔW_{i,j} (zeroed first) example after example, n ascending.  Here ΔW_{i,j}
also starts from 0.0 and input i's examples are visited in ascending n (`group_by_input` is a
stable counting sort); four examples per pass compute (((ΔW + a) + b) + c) + d, the very
roundings of four single passes.  ΔB_j = Σ_n z_{n,j} is summed in ascending n as before.  No
fastmath: each product is rounded, then added, as in Python.  The tests compare the trained
parameters with the python backend's bit for bit.

The forward pass keeps exact mode's example-by-example order: run input by input (Z_{n,j}
summed in ascending i, also bit-exact) it was measured slower, 148 µs against 111 µs for
784-50-10 (the minibatch's Z, 40 kB, does not stay in L1 as one example's z does).

The functions are compiled with `inline="always"` into exact mode's per-shape training loop
(numba_specialized); parallel mode keeps its example-by-example backward (each core's half of
ΔW1 fits its L2 there, and the grouping measured slower).  They are Numba-only and never
change loopnet/kernels.py, which stays the readable per-example version.
"""
import numba

from loopnet.backends.numba_registers import local_vector

inline = numba.njit(inline="always")


@inline
def group_by_input(row_start, input_index, input_value, batch, n_in, input_start, cursor,
                   input_example, input_x):
    """Regroup the minibatch's sparse rows by input, examples ascending (a stable counting
    sort): afterwards input i's examples are q = input_start[i] ... input_start[i + 1] - 1, and
    example n = input_example[q] has X_{n,i} = input_x[q].
    input_start, cursor: (n_in + 1); input_example, input_x: one per non-zero input.
    """
    for i in range(n_in + 1):
        cursor[i] = 0
    for p in range(row_start[0], row_start[batch]):
        cursor[max(input_index[p], 0) + 1] += 1  # cursor[i + 1]: how many examples have input i
    total = 0
    for i in range(n_in + 1):  # cursor[i] becomes where input i's examples begin
        total += cursor[i]
        cursor[i] = total
        input_start[i] = total
    for n in range(batch):
        for p in range(row_start[n], row_start[n + 1]):
            i = max(input_index[p], 0)
            q = cursor[i]
            input_example[q] = n
            input_x[q] = input_value[p]
            cursor[i] = q + 1


@inline
def first_layer_backward(input_start, input_example, input_x, n_in, dZ1, dW, dB, batch, n_out):
    """ΔB_j = Σ_n z_{n,j} ;  ΔW_{i,j} = Σ_n X_{n,i} · z_{n,j}, both in ascending n, from the
    examples' first-layer z in dZ1[n * n_out + j] (no h: nothing precedes X) and the inputs
    grouped by `group_by_input`."""
    for j in range(n_out):
        dB[j] = 0.0
    for n in range(batch):
        for j in range(n_out):
            dB[j] += dZ1[n * n_out + j]
    acc = local_vector(n_out)  # row i of ΔW while it is summed: in registers (numba_registers)
    for i in range(n_in):
        for j in range(n_out):
            acc[j] = 0.0
        # Four examples per pass: (((ΔW + a) + b) + c) + d are the additions of four single
        # passes in the same order (it also saves loads and stores where acc is too wide for
        # the registers).  max(..., 0): the index is >= 0, so dZ1[z + j] needs no wraparound
        q = input_start[i]
        end = input_start[i + 1]
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
        row = i * n_out
        for j in range(n_out):
            dW[row + j] = acc[j]
