"""Every layer's forward and backward loop against values worked out by hand.

The network is the 3-4-3 of the Mind article's figures (seed 004): inputs X1..X3, hidden H1..H4,
scores A1..A3, probabilities Y1..Y3.  Weights are small decimals chosen so the forward values can
be simplified by hand (written next to each formula); the expected values are computed here with
scalar formulas (NOTATION.md), never with loopnet's kernels.
"""

import math

import pytest

from loopnet import AddLayer, MulLayer, MultiLayerNet, kernels

APPROX = {"rel": 1e-12, "abs": 1e-14}

# ---- the 3-4-3 network --------------------------------------------------------------------
X = [0.5, 0.0, 1.0]  # X2 = 0: the affine loop skips it, results must not change
W1 = [  # W1[i][j]: input i -> hidden j  (stored row-major: W[i * 4 + j])
    [0.1, -0.2, 0.3, 0.4],
    [0.5, 0.6, -0.7, 0.8],
    [-0.3, 0.1, 0.2, -0.5],
]
B1 = [0.1, 0.2, -0.1, 0.05]
W2 = [  # W2[j][k]: hidden j -> output k
    [0.2, -0.1, 0.4],
    [0.3, 0.5, -0.2],
    [-0.4, 0.2, 0.1],
    [0.6, -0.3, 0.2],
]
B2 = [0.01, -0.02, 0.03]
LABEL = 1
T = [0.0, 1.0, 0.0]


def flat(rows):
    return [v for row in rows for v in row]


def approx(values):
    return pytest.approx(values, **APPROX)


# ---- hand forward, ReLU (each Z written out term by term) ----------------------------------
# Z_j = B_j + X1·W_{1,j} + X2·W_{2,j} + X3·W_{3,j}
Z_H = [
    0.1 + 0.5 * 0.1 + 0.0 * 0.5 + 1.0 * -0.3,    # = 0.1 + 0.05 - 0.3  = -0.15
    0.2 + 0.5 * -0.2 + 0.0 * 0.6 + 1.0 * 0.1,    # = 0.2 - 0.1 + 0.1   =  0.2
    -0.1 + 0.5 * 0.3 + 0.0 * -0.7 + 1.0 * 0.2,   # = -0.1 + 0.15 + 0.2 =  0.25
    0.05 + 0.5 * 0.4 + 0.0 * 0.8 + 1.0 * -0.5,   # = 0.05 + 0.2 - 0.5  = -0.25
]
# H = ReLU(Z): negatives become 0
H_RELU = [0.0, Z_H[1], Z_H[2], 0.0]
# A_k = B2_k + Σ_j H_j · W2_{j,k}; only H2 = 0.2 and H3 = 0.25 are non-zero
A_RELU = [
    0.01 + 0.2 * 0.3 + 0.25 * -0.4,    # = 0.01 + 0.06 - 0.1   = -0.03
    -0.02 + 0.2 * 0.5 + 0.25 * 0.2,    # = -0.02 + 0.1 + 0.05  =  0.13
    0.03 + 0.2 * -0.2 + 0.25 * 0.1,    # = 0.03 - 0.04 + 0.025 =  0.015
]


def test_hand_values_simplify_as_written():
    assert Z_H == approx([-0.15, 0.2, 0.25, -0.25])
    assert A_RELU == approx([-0.03, 0.13, 0.015])


# ---- Affine ---------------------------------------------------------------------------------
def test_affine_forward_matches_hand_sums():
    z = [99.0] * 4  # stale values must be overwritten, not accumulated
    kernels.affine_forward(X, flat(W1), B1, z, 3, 4, [0] * 3)
    assert z == approx(Z_H)


def test_affine_forward_zero_input_skip_equals_full_formula():
    """A zero input contributes 0·W: skipping it gives the full sum, however big that row is."""
    W = [row[:] for row in W1]
    W[1] = [1e300, -1e300, 3e299, -7e299]  # the row multiplied by X2 = 0
    z = [0.0] * 4
    kernels.affine_forward(X, flat(W), B1, z, 3, 4, [0] * 3)
    full = [B1[j] + X[0] * W[0][j] + X[1] * W[1][j] + X[2] * W[2][j] for j in range(4)]
    assert z == approx(full)
    assert z == approx(Z_H)
    # and an all-zero input gives exactly the bias
    kernels.affine_forward([0.0, 0.0, 0.0], flat(W), B1, z, 3, 4, [0] * 3)
    assert z == B1


def test_affine_backward_accumulates_db_dw_and_sends_h():
    dz = [0.3, -0.2, 0.5, 0.1]
    dW = [1.0] * 12  # accumulation: the kernel adds to what is there
    dB = [2.0] * 4
    dx = [0.0] * 3
    kernels.affine_backward(X, flat(W1), dz, dW, dB, dx, 3, 4, [0] * 3)
    # ΔB_j += z_j
    assert dB == approx([2.0 + 0.3, 2.0 - 0.2, 2.0 + 0.5, 2.0 + 0.1])
    # ΔW_{i,j} += X_i · z_j ; row 2 (X2 = 0) stays as it was
    expected_dW = [
        1.0 + 0.5 * 0.3, 1.0 + 0.5 * -0.2, 1.0 + 0.5 * 0.5, 1.0 + 0.5 * 0.1,
        1.0, 1.0, 1.0, 1.0,
        1.0 + 1.0 * 0.3, 1.0 + 1.0 * -0.2, 1.0 + 1.0 * 0.5, 1.0 + 1.0 * 0.1,
    ]
    assert dW == approx(expected_dW)
    # h_i = Σ_j W_{i,j} · z_j  (also for the zero input: it still has a gradient)
    expected_dx = [
        0.1 * 0.3 + -0.2 * -0.2 + 0.3 * 0.5 + 0.4 * 0.1,     # = 0.03 + 0.04 + 0.15 + 0.04 = 0.26
        0.5 * 0.3 + 0.6 * -0.2 + -0.7 * 0.5 + 0.8 * 0.1,     # = 0.15 - 0.12 - 0.35 + 0.08 = -0.24
        -0.3 * 0.3 + 0.1 * -0.2 + 0.2 * 0.5 + -0.5 * 0.1,    # = -0.09 - 0.02 + 0.1 - 0.05 = -0.06
    ]
    assert dx == approx(expected_dx)
    assert dx == approx([0.26, -0.24, -0.06])


def sparse(rows, n_in):
    """Dense rows (a flat list) as sparse rows, through kernels.sparse_rows."""
    count = len(rows) // n_in
    out = ([-1] * (count + 1), [-1] * (len(rows) + 1), [-1.0] * (len(rows) + 1))
    kernels.sparse_rows(rows, count, n_in, *out)
    return out


def test_sparse_rows_keeps_the_non_zero_entries_in_order():
    row_start, index, value = sparse([0.5, 0.0, 2.0, -0.0, 0.0, 0.0, 0.0, 0.0, -3.0, 1.0, 0.0, 4.0], 4)
    assert row_start == [0, 2, 2, 5]  # the all-zero middle row is empty; 0.0 and -0.0 dropped
    assert index[:5] == [0, 2, 0, 1, 3]
    assert value[:5] == [0.5, 2.0, -3.0, 1.0, 4.0]


def test_sparse_rows_of_dense_rows_fill_every_place():
    rows = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    row_start, index, value = sparse(rows, 3)
    assert row_start == [0, 3, 6]
    assert index[:6] == [0, 1, 2, 0, 1, 2]
    assert value[:6] == rows


def test_sparse_rows_of_uint8_pixels():
    start, index, value = [0] * 3, [0] * 5, bytearray(5)
    assert kernels.sparse_rows(bytes([0, 7, 255, 0, 0, 9]), 2, 3, start, index, value) == 3
    assert (start, index[:3], list(value[:3])) == ([0, 2, 3], [1, 2, 2], [7, 255, 9])


def test_gather_batch_copies_chosen_rows_scaled_with_one_hot_teachers():
    start, index, value = [0] * 4, [0] * 5, bytearray(5)
    kernels.sparse_rows(bytes([0, 51, 255, 0, 0, 0, 102, 0, 0]), 3, 3, start, index, value)
    row_start, input_index, input_value = [-1] * 4, [-1] * 7, [-1.0] * 7
    T, labels = [9.0] * 9, [-1] * 3
    kernels.gather_batch(start, index, value, [2, 0, 1], [2, 0, 1], 3, 3, row_start, input_index,
                         input_value, T, labels)
    assert row_start == [0, 1, 3, 3]  # example 2 (one pixel), example 0 (two), example 1 (none)
    assert input_index[:3] == [0, 1, 2]
    assert input_value[:3] == [102 / 255.0, 51 / 255.0, 255 / 255.0]
    assert labels == [1, 2, 0]  # the labels of examples 2, 0, 1
    assert T == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_active_inputs_lists_the_non_zero_indices_in_order():
    active = [-1] * 6
    count = kernels.active_inputs([0.5, 0.0, 2.0, -0.0, -3.0, 0.0], 6, active)
    assert count == 3
    assert active[:count] == [0, 2, 4]  # 0.0 and -0.0 are dropped


def test_input_affine_forward_sums_only_the_non_zero_inputs():
    row_start, index, value = sparse(X, 3)
    assert index[:row_start[1]] == [0, 2]  # X2 = 0
    z = [99.0] * 4
    kernels.input_affine_forward(index, value, 0, row_start[1], flat(W1), B1, z, 4)
    assert z == approx(Z_H)
    plain = [0.0] * 4
    kernels.affine_forward(X, flat(W1), B1, plain, 3, 4, [0] * 3)
    assert z == plain  # same additions in the same order: bit for bit


def test_input_affine_backward_accumulates_db_dw_over_non_zero_inputs():
    row_start, index, value = sparse(X, 3)
    dz = [0.3, -0.2, 0.5, 0.1]
    dW, dB = [1.0] * 12, [2.0] * 4
    kernels.input_affine_backward(index, value, 0, row_start[1], dz, dW, dB, 4)
    assert dB == approx([2.3, 1.8, 2.5, 2.1])
    assert dW == approx([1.0 + 0.5 * v for v in dz] + [1.0] * 4 + [1.0 + 1.0 * v for v in dz])


def test_first_layer_backward_has_no_h():
    """The first layer's backward (input_affine_backward) takes no dx: nothing precedes X."""
    row_start, index, value = sparse(X, 3)
    dW, dB = [0.0] * 12, [0.0] * 4
    kernels.input_affine_backward(index, value, 0, row_start[1], [1.0, 1.0, 1.0, 1.0], dW, dB, 4)
    assert dB == [1.0] * 4
    assert dW == approx([0.5] * 4 + [0.0] * 4 + [1.0] * 4)


# ---- Activations ----------------------------------------------------------------------------
def test_relu_forward_backward():
    z = [-0.15, 0.2, 0.0, 3.0]
    h = [9.0] * 4
    kernels.relu_forward(z, h, 4)
    assert h == [0.0, 0.2, 0.0, 3.0]  # Z = 0 is not > 0: gives 0
    dh = [1.5, -2.5, 4.0, 0.5]
    dz = [9.0] * 4
    kernels.relu_backward(z, dh, dz, 4)
    assert dz == [0.0, -2.5, 0.0, 0.5]


def test_sigmoid_forward_backward():
    z = list(Z_H)
    h = [0.0] * 4
    kernels.sigmoid_forward(z, h, 4)
    expected = [1.0 / (1.0 + math.exp(-v)) for v in Z_H]
    assert h == approx(expected)
    # Z1 < 0 goes through the e^Z / (1 + e^Z) branch: it must agree with σ(-v) = 1 - σ(v)
    mirrored = [0.0]
    kernels.sigmoid_forward([0.15], mirrored, 1)
    assert h[0] == approx(1.0 - mirrored[0])
    dh = [0.4, -0.3, 0.2, 1.0]
    dz = [0.0] * 4
    kernels.sigmoid_backward(h, dh, dz, 4)
    assert dz == approx([dh[j] * expected[j] * (1.0 - expected[j]) for j in range(4)])
    kernels.sigmoid_forward([0.0], h, 1)
    assert h[0] == 0.5


def test_sigmoid_extreme_inputs_do_not_overflow():
    with pytest.raises(OverflowError):  # what the naive 1/(1+e^-Z) would do for Z = -1000
        math.exp(1000.0)
    h = [0.0, 0.0, 0.0, 0.0]
    kernels.sigmoid_forward([1000.0, -1000.0, 750.0, -750.0], h, 4)
    assert h == [1.0, 0.0, 1.0, 0.0]
    dz = [7.0] * 4
    kernels.sigmoid_backward(h, [1.0] * 4, dz, 4)
    assert dz == [0.0] * 4


def test_tanh_forward_backward():
    h = [0.0] * 4
    kernels.tanh_forward(Z_H, h, 4)
    expected = [(math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)) for v in Z_H]
    assert h == approx(expected)
    dh = [0.4, -0.3, 0.2, 1.0]
    dz = [0.0] * 4
    kernels.tanh_backward(h, dh, dz, 4)
    assert dz == approx([dh[j] * (1.0 - expected[j] ** 2) for j in range(4)])


@pytest.mark.parametrize("code, forward", [
    (kernels.RELU, lambda v: v if v > 0 else 0.0),
    (kernels.SIGMOID, lambda v: 1.0 / (1.0 + math.exp(-v))),
    (kernels.TANH, math.tanh),
])
def test_activation_dispatch(code, forward):
    h = [0.0] * 4
    kernels.activation_forward(code, Z_H, h, 4)
    assert h == approx([forward(v) for v in Z_H])


# ---- Output layers with loss -----------------------------------------------------------------
def hand_softmax(a):
    exps = [math.exp(v) for v in a]
    total = sum(exps)
    return [e / total for e in exps]


def test_softmax_with_loss_forward_hand_values():
    y = [0.0] * 3
    e = kernels.softmax_with_loss_forward(A_RELU, y, T, 0, 3, 1e-7)
    expected_y = hand_softmax(A_RELU)
    assert y == approx(expected_y)
    assert sum(y) == pytest.approx(1.0, abs=1e-15)
    # E = -Σ T_k log(Y_k + 1e-7) = -log(Y_2 + 1e-7) with T = (0, 1, 0)
    assert e == approx(-math.log(expected_y[1] + 1e-7))
    # the guard is really there: E is a bit below -log(Y_2), by about 1e-7 / Y_2
    assert -math.log(expected_y[1]) - e == pytest.approx(1e-7 / expected_y[1], rel=1e-6)


def test_softmax_with_loss_reads_teacher_at_offset_and_soft_targets():
    y = [0.0] * 3
    teacher = [5.0, 5.0, 0.2, 0.3, 0.5]
    e = kernels.softmax_with_loss_forward(A_RELU, y, teacher, 2, 3, 1e-7)
    p = hand_softmax(A_RELU)
    assert e == approx(-(0.2 * math.log(p[0] + 1e-7) + 0.3 * math.log(p[1] + 1e-7)
                         + 0.5 * math.log(p[2] + 1e-7)))


def test_softmax_huge_scores_use_max_subtraction():
    with pytest.raises(OverflowError):  # without subtracting M = max A, exp(1000) overflows
        hand_softmax([1000.0, 1001.0, 1002.0])
    y = [0.0] * 3
    e = kernels.softmax_with_loss_forward([1000.0, 1001.0, 1002.0], y, [0.0, 0.0, 1.0], 0, 3,
                                          1e-7)
    # softmax is shift-invariant: same as for scores (0, 1, 2)
    ref = hand_softmax([0.0, 1.0, 2.0])
    assert y == approx(ref)
    assert e == approx(-math.log(ref[2] + 1e-7))


def test_softmax_log_guard_keeps_loss_finite_when_y_underflows():
    y = [0.0] * 3
    # Y_1 = e^-2000 / ... underflows to exactly 0; without the guard log(0) fails
    e = kernels.softmax_with_loss_forward([-1000.0, 0.0, 1000.0], y, [1.0, 0.0, 0.0], 0, 3,
                                          1e-7)
    assert y == [0.0, 0.0, 1.0]
    assert e == approx(-math.log(1e-7))
    assert e == approx(7.0 * math.log(10.0))  # ≈ 16.118


def test_identity_with_loss_forward():
    target = [0.5, -0.25, 0.0]
    y = [0.0] * 3
    e = kernels.identity_with_loss_forward(A_RELU, y, target, 0, 3)
    assert y == A_RELU  # Y = A exactly
    # E = ½ Σ (Y_k - T_k)²  = ½ ((-0.03-0.5)² + (0.13+0.25)² + 0.015²)
    assert e == approx(0.5 * ((-0.03 - 0.5) ** 2 + (0.13 + 0.25) ** 2 + (0.015 - 0.0) ** 2))


def test_output_with_loss_backward_divides_by_batch():
    da = [0.0] * 3
    kernels.output_with_loss_backward(kernels.SOFTMAX, [0.2, 0.5, 0.3], [9.0, 0.0, 1.0, 0.0], 1,
                                      da, 3, 2)
    assert da == approx([(0.2 - 0.0) / 2, (0.5 - 1.0) / 2, (0.3 - 0.0) / 2])


# ---- Whole 3-4-3 network, every intermediate of the figures -----------------------------------
def hand_relu_softmax_backward():
    """a, ΔB2, ΔW2, h, z, ΔB1, ΔW1 of the single example (N = 1), every term written out."""
    Y = hand_softmax(A_RELU)
    a = [Y[0] - 0.0, Y[1] - 1.0, Y[2] - 0.0]  # a_k = (Y_k - T_k) / N, N = 1
    dB2 = a[:]
    dW2 = [[H_RELU[j] * a[k] for k in range(3)] for j in range(4)]
    h = [
        0.2 * a[0] + -0.1 * a[1] + 0.4 * a[2],
        0.3 * a[0] + 0.5 * a[1] + -0.2 * a[2],
        -0.4 * a[0] + 0.2 * a[1] + 0.1 * a[2],
        0.6 * a[0] + -0.3 * a[1] + 0.2 * a[2],
    ]
    z = [0.0, h[1], h[2], 0.0]  # ReLU passes h where Z > 0: Z2 = 0.2, Z3 = 0.25
    dB1 = z[:]
    dW1 = [[X[i] * z[j] for j in range(4)] for i in range(3)]
    return Y, a, dB2, dW2, h, z, dB1, dW1


def relu_softmax_net(backend="python"):
    net = MultiLayerNet([3, 4, 3], activation="relu", output="softmax", backend=backend)
    net.set_params({"W1": W1, "b1": B1, "W2": W2, "b2": B2})
    return net


def test_network_buffers_hold_every_figure_value():
    """forward_example + backward_example fill Z, H, A, Y, a, h, z exactly like the figures."""
    params = [flat(W1), list(B1), flat(W2), list(B2)]
    grads = [[0.0] * len(p) for p in params]
    sizes = [3, 4, 3]
    Z, H, dZ, dH = ([[0.0] * 4, [0.0] * 3] for _ in range(4))
    row_start, index, value = sparse(X, 3)
    kernels.forward_example(index, value, 0, row_start[1], params, sizes, kernels.RELU, Z, H,
                            [0] * 4)
    e = kernels.output_loss(kernels.SOFTMAX, 1e-7, Z, H, T, 0, sizes)
    kernels.backward_example(index, value, 0, row_start[1], T, 0, 1, params, grads, sizes,
                             kernels.RELU, kernels.SOFTMAX, Z, H, dZ, dH, [0] * 4)
    Y, a, dB2, dW2, h, z, dB1, dW1 = hand_relu_softmax_backward()
    assert Z[0] == approx(Z_H)
    assert H[0] == approx(H_RELU)
    assert Z[1] == approx(A_RELU)  # A: the last Affine, no activation
    assert H[1] == approx(Y)
    assert e == approx(-math.log(Y[LABEL] + 1e-7))
    assert dZ[1] == approx(a)
    assert dH[0] == approx(h)
    assert dZ[0] == approx(z)
    assert grads[3] == approx(dB2)
    assert grads[2] == approx(flat(dW2))
    assert grads[1] == approx(dB1)
    assert grads[0] == approx(flat(dW1))


def test_network_api_on_figure_net():
    net = relu_softmax_net()
    Y, a, dB2, dW2, h, z, dB1, dW1 = hand_relu_softmax_backward()
    assert net.predict([X]) == [approx(A_RELU)]
    assert net.loss([X], [LABEL]) == approx(-math.log(Y[LABEL] + 1e-7))
    g = net.gradient([X], [LABEL])
    assert g["b2"] == approx(dB2)
    assert g["W2"] == [approx(row) for row in dW2]
    assert g["b1"] == approx(dB1)
    assert g["W1"] == [approx(row) for row in dW1]
    # hidden units 1 and 4 are off (Z < 0): no gradient reaches their weights
    assert [g["W1"][i][0] for i in range(3)] == [0.0, 0.0, 0.0]
    assert g["W2"][3] == [0.0, 0.0, 0.0]


# ---- every activation × output, batch of two, by generic scalar formulas -----------------------
X_2 = [0.2, 0.9, 0.0]
LABEL_2 = 2
TARGET_1 = [0.1, 0.7, -0.2]
TARGET_2 = [0.0, -0.5, 0.4]

HAND_ACT = {
    "relu": (lambda v: v if v > 0 else 0.0, lambda Zj, Hj, hj: hj if Zj > 0 else 0.0),
    "sigmoid": (lambda v: 1.0 / (1.0 + math.exp(-v)), lambda Zj, Hj, hj: hj * Hj * (1.0 - Hj)),
    "tanh": (math.tanh, lambda Zj, Hj, hj: hj * (1.0 - Hj * Hj)),
}


def hand_batch(activation, output, rows, teachers):
    """Loss and gradients of the 3-4-3 net over a batch, from NOTATION's scalar equations."""
    f, back = HAND_ACT[activation]
    N = len(rows)
    loss = 0.0
    dW1 = [[0.0] * 4 for _ in range(3)]
    dB1 = [0.0] * 4
    dW2 = [[0.0] * 3 for _ in range(4)]
    dB2 = [0.0] * 3
    for x, t in zip(rows, teachers):
        Z = [B1[j] + sum(x[i] * W1[i][j] for i in range(3)) for j in range(4)]
        H = [f(v) for v in Z]
        A = [B2[k] + sum(H[j] * W2[j][k] for j in range(4)) for k in range(3)]
        if output == "softmax":
            Y = hand_softmax(A)
            E = -sum(t[k] * math.log(Y[k] + 1e-7) for k in range(3))
        else:
            Y = A
            E = 0.5 * sum((Y[k] - t[k]) ** 2 for k in range(3))
        loss += E / N
        a = [(Y[k] - t[k]) / N for k in range(3)]
        h = [sum(W2[j][k] * a[k] for k in range(3)) for j in range(4)]
        z = [back(Z[j], H[j], h[j]) for j in range(4)]
        for k in range(3):
            dB2[k] += a[k]
            for j in range(4):
                dW2[j][k] += H[j] * a[k]
        for j in range(4):
            dB1[j] += z[j]
            for i in range(3):
                dW1[i][j] += x[i] * z[j]
    return loss, {"W1": dW1, "b1": dB1, "W2": dW2, "b2": dB2}


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_batch_of_two_every_activation_and_output(activation, output):
    net = MultiLayerNet([3, 4, 3], activation=activation, output=output)
    net.set_params({"W1": W1, "b1": B1, "W2": W2, "b2": B2})
    if output == "softmax":
        teachers = [T, [0.0, 0.0, 1.0]]
        labels = [LABEL, LABEL_2]
    else:
        teachers = labels = [TARGET_1, TARGET_2]
    loss, grads = hand_batch(activation, output, [X, X_2], teachers)
    assert net.loss([X, X_2], labels) == approx(loss)
    got = net.gradient([X, X_2], labels)
    for name in ("b1", "b2"):
        assert got[name] == approx(grads[name])
    for name in ("W1", "W2"):
        assert got[name] == [approx(row) for row in grads[name]]


# ---- computational graph: the apple example (seed 003) ----------------------------------------
def test_apple_forward_and_backward():
    apple, count, tax = 100.0, 2.0, 1.1
    mul_apple, mul_tax = MulLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, count)
    price = mul_tax.forward(apple_price, tax)
    assert apple_price == 200.0
    assert price == pytest.approx(220.0)
    d_apple_price, d_tax = mul_tax.backward(1.0)
    d_apple, d_count = mul_apple.backward(d_apple_price)
    assert d_apple == pytest.approx(2.2)   # count · tax
    assert d_count == pytest.approx(110.0)  # apple · tax
    assert d_tax == pytest.approx(200.0)    # apple · count


def test_apple_and_orange_with_add_layer():
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    total = add.forward(mul_apple.forward(100.0, 2.0), mul_orange.forward(150.0, 3.0))
    price = mul_tax.forward(total, 1.1)
    assert total == 650.0                 # 200 + 450
    assert price == pytest.approx(715.0)  # 650 · 1.1
    d_total, d_tax = mul_tax.backward(1.0)
    d_apple_price, d_orange_price = add.backward(d_total)
    assert d_apple_price == d_orange_price == d_total  # Add passes dout to both inputs
    d_apple, d_apple_count = mul_apple.backward(d_apple_price)
    d_orange, d_orange_count = mul_orange.backward(d_orange_price)
    assert d_tax == pytest.approx(650.0)
    assert (d_apple, d_apple_count) == (pytest.approx(2.2), pytest.approx(110.0))
    assert (d_orange, d_orange_count) == (pytest.approx(3.3), pytest.approx(165.0))
