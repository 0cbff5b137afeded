"""numba_transposed: a layer's backward as the per-shape code runs it, ΔW and ΔB by
kernels.affine_weights_backward (compiled: bound_kernels) and h = W·z summed from W^T by
hidden_backward, must give loopnet.kernels' affine_backward bit for bit (ΔW, ΔB added onto
earlier sums, and h), for widths known only at run time and widths compiled in, on the stack or
(past STACK_LIMIT) on the heap."""

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopnet import kernels

pytestmark = pytest.mark.numba_required
numba = pytest.importorskip("numba")
np = pytest.importorskip("numpy")
transposed = pytest.importorskip("loopnet.backends.numba_transposed")
LIMIT = pytest.importorskip("loopnet.backends.numba_registers").STACK_LIMIT
bound = pytest.importorskip("loopnet.backends.numba_compile").bound_kernels(kernels.RELU,
                                                                          kernels.SOFTMAX)


def bits(values):
    return [struct.pack("<d", float(v)) for v in values]


def case(seed: int, n_in: int, n_out: int):
    """W, h with ReLU-like zeros, dz, and ΔW, ΔB already holding earlier examples' sums."""
    draw = random.Random(seed).random
    W = [draw() - 0.5 for _ in range(n_in * n_out)]
    h = [max(draw() - 0.4, 0.0) for _ in range(n_in)]
    dz = [draw() - 0.5 for _ in range(n_out)]
    dW = [draw() * 0.25 for _ in range(n_in * n_out)]
    dB = [draw() * 0.25 for _ in range(n_out)]
    return W, h, dz, dW, dB


def python_backward(W, h, dz, dW, dB, n_in, n_out):
    dW, dB, dx = list(dW), list(dB), [0.0] * n_in
    kernels.affine_backward(h, W, dz, dW, dB, dx, n_in, n_out, [0] * n_in)
    return dW + dB + dx


def backward_through_transpose(W, h, dz, dW, dB, dx, WT, n_in, n_out, active):
    transposed.transpose_weights(W, WT, n_in, n_out)
    bound.affine_weights_backward(h, dz, dW, dB, n_in, n_out, active)
    transposed.hidden_backward(WT, dz, dx, n_in, n_out)


run_time_widths = numba.njit(backward_through_transpose)


def compile_time_widths(n_in: int, n_out: int):
    """backward_through_transpose with the widths as constants of the compiled code."""
    inlined = numba.njit(inline="always")(backward_through_transpose)

    def run(W, h, dz, dW, dB, dx, WT, n_in_arg, n_out_arg, active):
        inlined(W, h, dz, dW, dB, dx, WT, n_in, n_out, active)

    return numba.njit(run)


def compiled_backward(run, W, h, dz, dW, dB, n_in, n_out):
    dW, dB, dx = np.array(dW), np.array(dB), np.full(n_in, np.nan)
    WT = np.full(n_in * n_out, np.nan)
    run(np.array(W), np.array(h), np.array(dz), dW, dB, dx, WT, n_in, n_out,
        np.zeros(n_in, dtype=np.int64))
    assert WT.tolist() == np.array(W).reshape(n_in, n_out).T.ravel().tolist()
    return dW.tolist() + dB.tolist() + dx.tolist()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       n_in=st.sampled_from([1, 2, 7, 8, 9, 50, 100, LIMIT, LIMIT + 3]),
       n_out=st.integers(1, 40))
def test_run_time_widths_bitwise_equal_to_the_kernel(seed, n_in, n_out):
    data = case(seed, n_in, n_out)
    assert (bits(compiled_backward(run_time_widths, *data, n_in, n_out))
            == bits(python_backward(*data, n_in, n_out)))


@pytest.mark.parametrize(("n_in", "n_out"), [(1, 1), (50, 10), (100, 10), (33, 7),
                                             (LIMIT + 5, 3)])
def test_compile_time_widths_bitwise_equal_to_the_kernel(n_in, n_out):
    run = compile_time_widths(n_in, n_out)
    for seed in range(3):
        data = case(seed, n_in, n_out)
        assert (bits(compiled_backward(run, *data, n_in, n_out))
                == bits(python_backward(*data, n_in, n_out)))
