"""Portable seeded random numbers: SplitMix64, fully specified so every port draws the same stream.

Algorithm (all arithmetic on unsigned 64-bit integers, wrapping modulo 2**64):

    state  <- seed                                   (construction)
    next_u64():
        state <- state + 0x9E3779B97F4A7C15
        z <- state
        z <- (z XOR (z >> 30)) * 0xBF58476D1CE4E5B9
        z <- (z XOR (z >> 27)) * 0x94D049BB133111EB
        return z XOR (z >> 31)
    uniform()      = (next_u64() >> 11) * 2**-53          in [0, 1), exact in float64
    randbelow(n)   = ((next_u64() >> 32) * n) >> 32        in [0, n), 1 <= n <= 2**32
    normal()       = sqrt(-2 * log(1 - u1)) * cos(2 * pi * u2)
                     with u1 = uniform(), u2 = uniform() drawn in that order (Box-Muller, one
                     normal per pair; 1 - u1 is in (0, 1] so the log is finite)

The k-th output (k = 1, 2, ...) depends only on ``seed + k * 0x9E3779B97F4A7C15``, so a vectorized
language can compute a whole block of draws at once and get the same bits.
"""

from __future__ import annotations

import math

from loopnet.errors import ConfigError

MASK64 = 0xFFFFFFFFFFFFFFFF
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0
TWO_PI = 2.0 * math.pi


class RngArgumentError(ConfigError, TypeError):
    """A seed or bound of the wrong type or range (a LoopnetError, and a TypeError/ValueError
    as Python's own random module would raise)."""


def mix64(z: int) -> int:
    """The SplitMix64 output function of one state value."""
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return z ^ (z >> 31)


class Rng:
    """SplitMix64 generator; the same seed gives the same numbers on every platform and port."""

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise RngArgumentError(f"seed must be an int, got {type(seed).__name__}")
        self.state = seed & MASK64

    def next_u64(self) -> int:
        """Next raw 64-bit output."""
        self.state = (self.state + GOLDEN_GAMMA) & MASK64
        return mix64(self.state)

    def uniform(self) -> float:
        """Uniform float64 in [0, 1) with 53 random bits."""
        return (self.next_u64() >> 11) * TWO_POW_MINUS_53

    def normal(self) -> float:
        """Standard normal N(0, 1) by Box-Muller (cosine branch only)."""
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(TWO_PI * u2)

    def randbelow(self, n: int) -> int:
        """Integer in [0, n) by multiply-shift on the high 32 bits (1 <= n <= 2**32)."""
        try:
            in_range = 1 <= n <= 1 << 32
        except TypeError:  # "abc", None: not comparable with ints
            in_range = False
        if not in_range:
            raise RngArgumentError(f"randbelow needs an int 1 <= n <= 2**32, got {n!r}")
        return ((self.next_u64() >> 32) * n) >> 32

    def choice(self, n: int, size: int) -> list[int]:
        """`size` indices drawn from [0, n) with replacement (the book's minibatch sampling)."""
        return [self.randbelow(n) for _ in range(size)]

    def skip(self, count: int) -> None:
        """Advance the stream by `count` outputs without computing them."""
        self.state = (self.state + count * GOLDEN_GAMMA) & MASK64
