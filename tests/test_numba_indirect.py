"""numba_indirect: a compiled function called through its address must get the caller's
arguments and return its value as a direct call does, raise what the callee raises, and refuse
to compile a call whose argument types are not the ones the address was taken for."""

import pytest

pytestmark = pytest.mark.numba_required
numba = pytest.importorskip("numba")
np = pytest.importorskip("numpy")
indirect = pytest.importorskip("loopnet.backends.numba_indirect")
from numba.core.errors import TypingError  # noqa: E402


@numba.njit
def _strided_sum(part, x, out):
    if part < 0:
        raise ValueError("negative part")
    total = 0.0
    for i in range(part, len(x), 2):
        total += x[i]
    out[part] = total
    return total


_call_sum = indirect.indirect_call("test_strided_sum", numba.float64)


@numba.njit(parallel=True)
def _both_parts(at, x, out):
    totals = np.zeros(2)
    for t in numba.prange(2):
        totals[t] = _call_sum(at, (np.int64(t), x, out))
    return totals[0] + totals[1]


@numba.njit
def _one_part(at, part, x, out):
    return _call_sum(at, (part, x, out))


def test_a_call_through_the_address_is_the_direct_call_also_from_a_parallel_loop():
    x, out = np.arange(11.0), np.zeros(2)
    at = indirect.address_of("test_strided_sum", _strided_sum, (np.int64(0), x, out))
    assert _both_parts(at, x, out) == 55.0
    assert list(out) == [_strided_sum(0, x, np.zeros(2)), _strided_sum(1, x, np.zeros(2))]
    assert list(out) == [30.0, 25.0]


def test_the_callees_exception_is_raised_in_the_caller():
    x, out = np.arange(4.0), np.zeros(2)
    at = indirect.address_of("test_strided_sum", _strided_sum, (np.int64(0), x, out))
    with pytest.raises(ValueError, match="negative part"):
        _one_part(at, np.int64(-1), x, out)


def test_a_call_with_other_argument_types_does_not_compile():
    x, out = np.arange(4.0), np.zeros(2)
    at = indirect.address_of("test_strided_sum", _strided_sum, (np.int64(0), x, out))
    with pytest.raises(TypingError, match="compiled for"):
        _one_part(at, np.int64(0), x.astype(np.float32), out)


def test_a_call_at_address_zero_raises_instead_of_jumping_there():
    x, out = np.arange(4.0), np.zeros(2)
    with indirect.compiling_only(indirect.CALLERS):
        at = indirect.address_of("test_strided_sum", _strided_sum, (np.int64(0), x, out))
    assert at == 0
    with pytest.raises(RuntimeError, match="not compiled in this process"):
        _one_part(at, np.int64(0), x, out)
