/* The math library as the port sees it: exp, log, tanh, cos and pow from the C library, or, in
 * transcript mode (PORTING.md section 11), from the case's "libm" transcript. */
#ifndef LOOPNET_LIBM_H
#define LOOPNET_LIBM_H

#include <stdio.h>

#include "json.h"

double lm_exp(double x);
double lm_log(double x);
double lm_tanh(double x);
double lm_cos(double x);
double lm_pow(double x, double y);

/* Answer from `transcript` (a case's "libm" object; NULL: none) until lm_use_libm(). */
void lm_use_transcript(const jval *transcript);
void lm_use_libm(void);
/* Write "libm_misses": {"count": n, "calls": [...]}: the calls the transcript lacked. */
void lm_write_misses(FILE *f);

#endif
