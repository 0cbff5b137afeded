/* exp, log, tanh, cos and pow: the C library's, or looked up in a case's transcript.
 *
 * A transcript table is rows [argument bits..., result bits] sorted by argument (docs/
 * conformance.md); a lookup is a binary search on the argument bits.  A call the table lacks is
 * answered by the C library and remembered, so that the result file can name it. */
#include "libm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { F_EXP, F_LOG, F_TANH, F_COS, F_POW, N_FUNCTIONS };
static const char *const NAMES[N_FUNCTIONS] = {"exp", "log", "tanh", "cos", "pow"};
static const int ARITY[N_FUNCTIONS] = {1, 1, 1, 1, 2};
#define MISSES_LISTED 10

typedef struct {
    size_t count;
    uint64_t *rows; /* count * (arity + 1): arguments then result */
} table_t;

static int transcript_mode = 0;
static table_t tables[N_FUNCTIONS];
static long miss_count = 0;
static struct { int f; uint64_t args[2]; } misses[MISSES_LISTED];

static uint64_t bits_of(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static double double_of(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static int compare_keys(const uint64_t *a, const uint64_t *b, int arity) {
    int k;
    for (k = 0; k < arity; k++)
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
}

void lm_use_libm(void) {
    int f;
    for (f = 0; f < N_FUNCTIONS; f++) {
        free(tables[f].rows);
        tables[f].rows = NULL;
        tables[f].count = 0;
    }
    transcript_mode = 0;
    miss_count = 0;
}

void lm_use_transcript(const jval *transcript) {
    int f;
    lm_use_libm();
    transcript_mode = 1;
    if (!transcript) return;
    if (transcript->type != J_OBJECT) die("libm transcript must be an object");
    for (f = 0; f < N_FUNCTIONS; f++) {
        const jval *rows = json_get(transcript, NAMES[f]);
        size_t width = (size_t)ARITY[f] + 1, r, k;
        if (!rows) continue;
        json_array(rows, NAMES[f]);
        tables[f].count = rows->count;
        tables[f].rows = malloc((rows->count ? rows->count : 1) * width * sizeof(uint64_t));
        if (!tables[f].rows) die("out of memory");
        for (r = 0; r < rows->count; r++) {
            const jval *row = json_array(&rows->items[r], NAMES[f]);
            uint64_t *out = tables[f].rows + r * width;
            if (row->count != width) die("libm %s: a row needs %lu entries", NAMES[f],
                                         (unsigned long)width);
            for (k = 0; k < width; k++) out[k] = json_hex64(&row->items[k], NAMES[f]);
            if (r && compare_keys(out - width, out, ARITY[f]) >= 0)
                die("libm %s: rows are not sorted by argument", NAMES[f]);
        }
    }
}

/* The transcript's answer for f(args), or the C library's (noted as a miss). */
static double lookup(int f, const double *args, double own) {
    const table_t *t = &tables[f];
    size_t width = (size_t)ARITY[f] + 1, lo = 0, hi = t->count;
    uint64_t key[2] = {0, 0};
    int k;
    if (!transcript_mode) return own;
    for (k = 0; k < ARITY[f]; k++) key[k] = bits_of(args[k]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_keys(t->rows + mid * width, key, ARITY[f]);
        if (c == 0) return double_of(t->rows[mid * width + (size_t)ARITY[f]]);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (miss_count < MISSES_LISTED) {
        misses[miss_count].f = f;
        memcpy(misses[miss_count].args, key, sizeof key);
    }
    miss_count++;
    return own;
}

double lm_exp(double x) { return lookup(F_EXP, &x, exp(x)); }
double lm_log(double x) { return lookup(F_LOG, &x, log(x)); }
double lm_tanh(double x) { return lookup(F_TANH, &x, tanh(x)); }
double lm_cos(double x) { return lookup(F_COS, &x, cos(x)); }

double lm_pow(double x, double y) {
    double args[2];
    args[0] = x;
    args[1] = y;
    return lookup(F_POW, args, pow(x, y));
}

void lm_write_misses(FILE *f) {
    long m;
    int k;
    fprintf(f, "\"libm_misses\": {\"count\": %ld, \"calls\": [", miss_count);
    for (m = 0; m < miss_count && m < MISSES_LISTED; m++) {
        fprintf(f, "%s[\"%s\"", m ? ", " : "", NAMES[misses[m].f]);
        for (k = 0; k < ARITY[misses[m].f]; k++) {
            fputs(", ", f);
            jw_hex64(f, misses[m].args[k]);
        }
        fputc(']', f);
    }
    fputs("]}", f);
}
