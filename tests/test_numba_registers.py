"""numba_registers: the layers' kernels of the per-shape code (bound_kernels), run on local
vectors (held_in_registers), must compute loopnet.kernels' values bit for bit, for widths known
when compiling (in registers, or on the stack past what registers hold) and widths known only at
run time (a stack buffer up to STACK_LIMIT, a heap array above)."""

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopnet import kernels

pytestmark = pytest.mark.numba_required
numba = pytest.importorskip("numba")
np = pytest.importorskip("numpy")
registers = pytest.importorskip("loopnet.backends.numba_registers")
bound = pytest.importorskip("loopnet.backends.numba_compile").bound_kernels(kernels.RELU,
                                                                          kernels.SOFTMAX)

LIMIT = registers.STACK_LIMIT


def bits(values):
    return [struct.pack("<d", float(v)) for v in values]


def sparse_row(draw, n_in):
    """input_index, input_value of a row with about a third of its inputs non-zero."""
    index = [i for i in range(n_in) if draw() < 0.35]
    return index, [draw() * 2.0 - 0.5 for _ in index]


def case(seed, n_in, n_out):
    """Random parameters and inputs; h has zeros as ReLU's outputs do."""
    draw = random.Random(seed).random
    index, value = sparse_row(draw, n_in)
    W = [draw() - 0.5 for _ in range(n_in * n_out)]
    B = [draw() - 0.5 for _ in range(n_out)]
    h = [max(draw() - 0.4, 0.0) for _ in range(n_in)]
    dz = [draw() - 0.5 for _ in range(n_out)]
    return index, value, W, B, h, dz


def python_results(index, value, W, B, h, dz, n_in, n_out):
    z_first, z = [0.0] * n_out, [0.0] * n_out
    kernels.input_affine_forward(index, value, 0, len(index), W, B, z_first, n_out)
    kernels.affine_forward(h, W, B, z, n_in, n_out, [0] * n_in)
    dW_first, dB_first = [0.125] * (n_in * n_out), [0.25] * n_out  # += onto earlier sums
    kernels.input_affine_backward(index, value, 0, len(index), dz, dW_first, dB_first, n_out)
    dW, dB, dx = [0.125] * (n_in * n_out), [0.25] * n_out, [0.0] * n_in
    kernels.affine_backward(h, W, dz, dW, dB, dx, n_in, n_out, [0] * n_in)
    return [z_first, z, dW_first, dB_first, dW, dB, dx]


def compiled_results(run, index, value, W, B, h, dz, n_in, n_out):
    arrays = [np.array(index, dtype=np.int32), np.array(value), np.array(W), np.array(B),
              np.array(h), np.array(dz)]
    out = [np.zeros(n_out), np.zeros(n_out), np.full(n_in * n_out, 0.125),
           np.full(n_out, 0.25), np.full(n_in * n_out, 0.125), np.full(n_out, 0.25),
           np.zeros(n_in)]
    run(*arrays, *out, n_in, n_out, np.zeros(n_in, dtype=np.int64))
    return [a.tolist() for a in out]


def all_four(input_index, input_value, W, B, h, dz, z_first, z, dW_first, dB_first, dW, dB, dx,
             n_in, n_out, active):
    registers.wide_vectors()
    bound.input_affine_forward(input_index, input_value, 0, len(input_index), W, B, z_first,
                                   n_out)
    bound.affine_forward(h, W, B, z, n_in, n_out, active)
    bound.input_affine_backward(input_index, input_value, 0, len(input_index), dz, dW_first,
                                    dB_first, n_out)
    bound.affine_backward(h, W, dz, dW, dB, dx, n_in, n_out, active)


run_time_widths = numba.njit(all_four)
inlined_all_four = numba.njit(inline="always")(all_four)


def compile_time_widths(n_in: int, n_out: int):
    """all_four with the widths as constants of the compiled code (literals to local_vector)."""

    def run(input_index, input_value, W, B, h, dz, z_first, z, dW_first, dB_first, dW, dB, dx,
            n_in_arg, n_out_arg, active):
        inlined_all_four(input_index, input_value, W, B, h, dz, z_first, z, dW_first, dB_first,
                         dW, dB, dx, n_in, n_out, active)

    return numba.njit(run)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_in=st.integers(1, 40),
       n_out=st.sampled_from([1, 2, 3, 7, 8, 10, 33, 100, LIMIT, LIMIT + 1, LIMIT + 37]))
def test_run_time_widths_bitwise_equal_to_the_kernels(seed, n_in, n_out):
    """Widths known at run time: the first STACK_LIMIT of a stack buffer, or a heap array."""
    data = case(seed, n_in, n_out)
    assert (bits(sum(compiled_results(run_time_widths, *data, n_in, n_out), []))
            == bits(sum(python_results(*data, n_in, n_out), [])))


@pytest.mark.parametrize(("n_in", "n_out"), [(5, 1), (30, 10), (20, 100), (3, LIMIT + 3)])
def test_compile_time_widths_bitwise_equal_to_the_kernels(n_in, n_out):
    """Widths compiled in: a stack vector of exactly n_out (up to STACK_LIMIT), else heap."""
    run = compile_time_widths(n_in, n_out)
    for seed in range(3):
        data = case(seed, n_in, n_out)
        assert (bits(sum(compiled_results(run, *data, n_in, n_out), []))
                == bits(sum(python_results(*data, n_in, n_out), [])))


@numba.njit
def _vector_of(n):
    v = registers.local_vector(n)
    for j in range(n):
        v[j] = j * 0.5
    out = np.empty(n)
    for j in range(n):
        out[j] = v[j]
    return out


@pytest.mark.parametrize("n", [1, 64, LIMIT, LIMIT + 1, 5000])
def test_local_vector_has_the_asked_size(n):
    assert _vector_of(n).tolist() == [j * 0.5 for j in range(n)]


def test_wide_vectors_sets_the_preferred_vector_width():
    @numba.njit
    def doubled(x):
        registers.wide_vectors()
        return 2.0 * x

    assert doubled(1.5) == 3.0
    assert any('"prefer-vector-width"="512"' in ir for ir in doubled.inspect_llvm().values())
