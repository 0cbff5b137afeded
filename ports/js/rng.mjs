// SplitMix64 (PORTING.md section 3): 64-bit unsigned arithmetic with BigInt, wrapping mod 2^64.
import { libm } from "./libm.mjs";

export const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9E3779B97F4A7C15n;
const MIX1 = 0xBF58476D1CE4E5B9n;
const MIX2 = 0x94D049BB133111EBn;
const TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0;
const TWO_PI = 2.0 * Math.PI; // 6.283185307179586, the double nearest 2π

/** The SplitMix64 output function of one state value. */
export function mix64(z) {
  z = ((z ^ (z >> 30n)) * MIX1) & MASK64;
  z = ((z ^ (z >> 27n)) * MIX2) & MASK64;
  return z ^ (z >> 31n);
}

/** The generator: the same seed gives the same numbers as loopnet.rng.Rng. */
export class Rng {
  constructor(seed = 0n) {
    this.state = BigInt(seed) & MASK64;
  }

  /** Next raw 64-bit output (a BigInt). */
  next_u64() {
    this.state = (this.state + GOLDEN_GAMMA) & MASK64;
    return mix64(this.state);
  }

  /** Uniform double in [0, 1) with 53 random bits: (u64 >> 11) · 2^-53, exact. */
  uniform() {
    return Number(this.next_u64() >> 11n) * TWO_POW_MINUS_53;
  }

  /** Standard normal by Box-Muller, cosine branch only: u1 first, then u2. */
  normal() {
    const u1 = this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2.0 * libm.log(1.0 - u1)) * libm.cos(TWO_PI * u2);
  }

  /** Integer in [0, n) by multiply-shift on the high 32 bits (1 <= n <= 2^32), a Number. */
  randbelow(n) {
    return Number(((this.next_u64() >> 32n) * BigInt(n)) >> 32n);
  }
}
