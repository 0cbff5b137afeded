/* Case runners: each reads a case's "input" and writes the JSON value of its "output". */
#ifndef LOOPNET_CASES_H
#define LOOPNET_CASES_H

#include <stdio.h>

#include "json.h"

/* Run the runner for `kind`; returns 0 when the kind is unknown (nothing written). */
int run_case_kind(const char *kind, const jval *input, FILE *out);

#endif
