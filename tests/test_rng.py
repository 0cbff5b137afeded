"""SplitMix64 (loopnet.rng.Rng) against an independent implementation of the documented algorithm."""

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopnet.rng import Rng


# ---- reference, written from the docstring's spec ----------------------------------------------
def reference_outputs(seed: int, count: int) -> list[int]:
    """The first `count` SplitMix64 outputs: state += γ; then two xor-shift-multiply rounds."""
    m = 2**64
    state = seed % m
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) % m
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
        out.append(z ^ (z >> 31))
    return out


def ref_uniform(u64: int) -> float:
    return (u64 >> 11) / 2.0**53


def test_seed_zero_first_output_is_the_published_value():
    # The SplitMix64 stream for seed 0 starts with 0xE220A8397B1DCDAF (widely published).
    assert reference_outputs(0, 1) == [0xE220A8397B1DCDAF]
    assert Rng(0).next_u64() == 0xE220A8397B1DCDAF


@pytest.mark.parametrize("seed", [0, 1234567, 2**64 - 1, 0x9E3779B97F4A7C15])
def test_raw_outputs_match_reference(seed):
    rng = Rng(seed)
    assert [rng.next_u64() for _ in range(10)] == reference_outputs(seed, 10)


def test_seed_1234567_is_its_own_stream():
    first = reference_outputs(1234567, 3)
    assert first != reference_outputs(0, 3)
    assert all(0 <= v < 2**64 for v in first)
    rng = Rng(1234567)
    assert [rng.next_u64() for _ in range(3)] == first


def test_seed_wraps_modulo_2_64():
    assert Rng(-1).next_u64() == reference_outputs(2**64 - 1, 1)[0]
    assert Rng(2**64 + 5).next_u64() == Rng(5).next_u64()


@pytest.mark.parametrize("seed", [1.0, "1", True, None])
def test_seed_must_be_int(seed):
    with pytest.raises(TypeError):
        Rng(seed)


def test_uniform_is_top_53_bits():
    rng = Rng(1234567)
    expected = [ref_uniform(v) for v in reference_outputs(1234567, 50)]
    assert [rng.uniform() for _ in range(50)] == expected


def test_normal_is_box_muller_of_two_uniforms():
    rng = Rng(99)
    raw = reference_outputs(99, 20)
    for k in range(10):
        u1, u2 = ref_uniform(raw[2 * k]), ref_uniform(raw[2 * k + 1])
        expected = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
        assert rng.normal() == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_randbelow_is_multiply_shift_of_high_bits():
    rng = Rng(7)
    for v, n in zip(reference_outputs(7, 6), [1, 2, 10, 784, 60000, 2**32]):
        assert rng.randbelow(n) == ((v >> 32) * n) >> 32


# ---- distributions ----------------------------------------------------------------------------
def test_uniform_range_and_moments():
    rng = Rng(2024)
    draws = [rng.uniform() for _ in range(20000)]
    assert all(0.0 <= u < 1.0 for u in draws)
    assert statistics.fmean(draws) == pytest.approx(0.5, abs=0.01)
    assert statistics.pvariance(draws) == pytest.approx(1 / 12, rel=0.03)


def test_normal_mean_and_std_over_20k():
    rng = Rng(31337)
    draws = [rng.normal() for _ in range(20000)]
    # standard errors: mean 1/√20000 ≈ 0.007, std ≈ 0.005
    assert abs(statistics.fmean(draws)) < 0.03
    assert statistics.pstdev(draws) == pytest.approx(1.0, abs=0.025)
    assert all(math.isfinite(v) for v in draws)


def test_randbelow_covers_range_evenly():
    rng = Rng(5)
    counts = [0] * 10
    for _ in range(20000):
        counts[rng.randbelow(10)] += 1
    assert all(1800 < c < 2200 for c in counts)  # expected 2000, σ ≈ 42


def test_randbelow_one_is_always_zero():
    rng = Rng(11)
    assert {rng.randbelow(1) for _ in range(100)} == {0}


@pytest.mark.parametrize("n", [0, -1, 2**32 + 1, 2**40])
def test_randbelow_bounds_errors(n):
    rng = Rng(0)
    with pytest.raises(ValueError):
        rng.randbelow(n)
    assert rng.state == 0  # a refused call draws nothing


def test_randbelow_largest_n():
    rng = Rng(3)
    v = reference_outputs(3, 1)[0]
    assert rng.randbelow(2**32) == v >> 32


# ---- skip and choice --------------------------------------------------------------------------
@pytest.mark.parametrize("count", [0, 1, 17, 1000])
def test_skip_equals_drawing(count):
    drawn, skipped = Rng(424242), Rng(424242)
    for _ in range(count):
        drawn.next_u64()
    skipped.skip(count)
    assert skipped.state == drawn.state
    assert [skipped.next_u64() for _ in range(5)] == [drawn.next_u64() for _ in range(5)]


def test_choice_is_successive_randbelow():
    a, b = Rng(8), Rng(8)
    picks = a.choice(60000, 100)
    assert picks == [b.randbelow(60000) for _ in range(100)]
    assert len(picks) == 100 and all(0 <= p < 60000 for p in picks)
    assert len(set(picks)) > 90  # with replacement, but not degenerate


# ---- properties --------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), n=st.integers(1, 2**32))
def test_randbelow_is_below_n(seed, n):
    rng = Rng(seed)
    for _ in range(5):
        assert 0 <= rng.randbelow(n) < n


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(-(2**70), 2**70), k=st.integers(0, 64))
def test_kth_output_depends_only_on_seed_plus_k_gamma(seed, k):
    """The counter-based property the vectorized backend relies on."""
    rng = Rng(seed)
    rng.skip(k)
    direct = Rng((seed + k * 0x9E3779B97F4A7C15) % 2**64)
    assert rng.next_u64() == direct.next_u64()
    assert Rng(seed).state == seed % 2**64
