/* PORTING.md section 3: SplitMix64, uniform, randbelow, normal (Box-Muller, cosine branch). */
#include <math.h>

#include "libm.h"
#include "loopnet.h"

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL
#define TWO_POW_MINUS_53 (1.0 / 9007199254740992.0)
#define TWO_PI 6.283185307179586 /* 2.0 * pi, the double nearest 2*pi */

void rng_seed(rng_t *r, uint64_t seed) { r->state = seed; }

uint64_t rng_next_u64(rng_t *r) {
    uint64_t z;
    r->state += GOLDEN_GAMMA;
    z = r->state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double rng_uniform(rng_t *r) { return (double)(rng_next_u64(r) >> 11) * TWO_POW_MINUS_53; }

uint64_t rng_randbelow(rng_t *r, uint64_t n) { return ((rng_next_u64(r) >> 32) * n) >> 32; }

double rng_normal(rng_t *r) {
    double u1 = rng_uniform(r);
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * lm_log(1.0 - u1)) * lm_cos(TWO_PI * u2);
}
