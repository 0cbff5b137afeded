/* Minimal JSON reader (whole document into a tree) and number writers for the result files. */
#ifndef LOOPNET_JSON_H
#define LOOPNET_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { J_NULL, J_BOOL, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } jtype;

typedef struct jval {
    jtype type;
    int boolean;          /* J_BOOL */
    double number;        /* J_NUMBER, parsed with strtod (correctly rounded) */
    int is_integer;       /* J_NUMBER written without '.', 'e' or 'E' */
    long long integer;    /* J_NUMBER when is_integer */
    char *string;         /* J_STRING, UTF-8, NUL-terminated */
    size_t count;         /* J_ARRAY / J_OBJECT: number of items */
    struct jval *items;   /* J_ARRAY elements or J_OBJECT values */
    char **keys;          /* J_OBJECT keys */
} jval;

/* Parse the file at `path`; on failure returns NULL and writes a message into err. */
jval *json_parse_file(const char *path, char *err, size_t err_len);
void json_free(jval *v);

/* Lookups: these print a message naming `what` and exit(2) when the JSON does not fit. */
const jval *json_get(const jval *obj, const char *key);        /* NULL if absent */
const jval *json_need(const jval *obj, const char *key);       /* exits if absent */
const jval *json_array(const jval *v, const char *what);
double json_double(const jval *v, const char *what);
long long json_int(const jval *v, const char *what);
const char *json_str(const jval *v, const char *what);
uint64_t json_hex64(const jval *v, const char *what);          /* "0x" + hex digits */
double *json_doubles(const jval *v, size_t *n, const char *what);   /* array → malloc'd */
double *json_rows(const jval *v, size_t *rows, size_t width, const char *what); /* flat */

/* Writers for results: doubles keep 17 significant digits and always a '.' or exponent. */
void jw_double(FILE *f, double x);
void jw_doubles(FILE *f, const double *x, size_t n);
void jw_hex64(FILE *f, uint64_t x);

void die(const char *fmt, ...);

#endif
