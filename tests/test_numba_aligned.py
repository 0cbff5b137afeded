"""loopnet.backends.numba_aligned: arrays that begin on a cache line, and the Numba backend's float
buffers (parameters, gradients, optimizer state, the per-step work space) made with it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopnet import SGD, MultiLayerNet
from loopnet.data import generate_digits
from loopnet.training import Trainer

np = pytest.importorskip("numpy")
aligned = pytest.importorskip("loopnet.backends.numba_aligned")

DTYPES = [np.float64, np.int64, np.int32, np.uint8]


def on_a_line(array) -> bool:
    return array.ctypes.data % aligned.CACHE_LINE == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=3), st.sampled_from(DTYPES))
def test_aligned_empty_and_zeros_begin_on_a_line(shape, dtype):
    for array in (aligned.aligned_empty(shape, dtype), aligned.aligned_zeros(shape, dtype)):
        assert array.shape == tuple(shape)
        assert array.dtype == dtype
        assert array.flags.c_contiguous and array.flags.writeable
        assert on_a_line(array) or array.size == 0  # an empty array has no data
    assert not aligned.aligned_zeros(shape, dtype).any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, width=64), max_size=50))
def test_aligned_copy_keeps_every_value(values):
    copy = aligned.aligned_copy(values)
    assert on_a_line(copy) or not values
    assert copy.dtype == np.float64 and copy.ndim == 1
    assert copy.tobytes() == np.array(values, dtype=np.float64).tobytes()


def test_aligned_copy_flattens_and_does_not_share_memory():
    source = np.arange(12.0).reshape(3, 4)
    copy = aligned.aligned_copy(source)
    assert copy.shape == (12,)
    copy[0] = 99.0
    assert source[0, 0] == 0.0


@pytest.mark.numba_required
@pytest.mark.parametrize("parallel", [False, True])
def test_numba_buffers_begin_on_a_line(parallel):
    """The buffers that the first layer reads row by row (W1, the step's dz of every example)
    begin on a cache line, whatever NumPy's allocator gives."""
    pytest.importorskip("numba")
    net = MultiLayerNet([784, 12, 10], seed=3, backend="numba", parallel=parallel)
    train, test = generate_digits(40, seed=1), generate_digits(10, seed=2)
    Trainer(net, SGD(0.1), train, test, batch_size=8, seed=1).run(iters=2)
    assert all(on_a_line(tensor) for tensor in net._params)
    assert all(on_a_line(tensor) for tensor in net._grads)
    kernels = net.backend.training_kernels(net.sizes, net._activation, net._output)
    steps = getattr(kernels, "_steps", kernels)  # exact mode on several cores: InOrderKernels
    # (each mode leaves the buffers it does not use empty: no data to align)
    float_buffers = [b for b in steps._buffers if b.dtype == np.float64 and b.size]
    assert len(float_buffers) >= 2 and all(on_a_line(b) for b in float_buffers)
