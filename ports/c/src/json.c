/* Minimal JSON: a recursive-descent reader into a tree, and the few writers the results need. */
#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loopnet-port: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

/* ------------------------------------------------------------------ reader */
typedef struct {
    const char *s;
    size_t pos, len;
    char *err;
    size_t err_len;
    int failed;
} parser;

static void fail(parser *p, const char *msg) {
    if (!p->failed) snprintf(p->err, p->err_len, "%s at byte %lu", msg, (unsigned long)p->pos);
    p->failed = 1;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r' || p->s[p->pos] == '\t'))
        p->pos++;
}

static int parse_value(parser *p, jval *v, int depth);

/* Append the UTF-8 encoding of code point c. */
static size_t put_utf8(char *out, unsigned long c) {
    if (c < 0x80) { out[0] = (char)c; return 1; }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6)); out[1] = (char)(0x80 | (c & 0x3F)); return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12)); out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18)); out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F)); out[3] = (char)(0x80 | (c & 0x3F)); return 4;
}

static int hex4(parser *p, unsigned long *out) {
    unsigned long c = 0;
    int k;
    if (p->pos + 4 > p->len) { fail(p, "short \\u escape"); return 0; }
    for (k = 0; k < 4; k++) {
        char h = p->s[p->pos++];
        c <<= 4;
        if (h >= '0' && h <= '9') c |= (unsigned long)(h - '0');
        else if (h >= 'a' && h <= 'f') c |= (unsigned long)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') c |= (unsigned long)(h - 'A' + 10);
        else { fail(p, "bad \\u escape"); return 0; }
    }
    *out = c;
    return 1;
}

static char *parse_string(parser *p) {
    size_t cap = 16, n = 0;
    char *out;
    p->pos++; /* opening quote */
    out = xmalloc(cap);
    for (;;) {
        char c;
        if (n + 5 > cap) { cap *= 2; out = xrealloc(out, cap); }
        if (p->pos >= p->len) { fail(p, "unterminated string"); free(out); return NULL; }
        c = p->s[p->pos++];
        if (c == '"') break;
        if ((unsigned char)c < 0x20) { fail(p, "control character in string"); free(out); return NULL; }
        if (c != '\\') { out[n++] = c; continue; }
        if (p->pos >= p->len) { fail(p, "unterminated escape"); free(out); return NULL; }
        c = p->s[p->pos++];
        switch (c) {
        case '"': case '\\': case '/': out[n++] = c; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned long cp, lo;
            if (!hex4(p, &cp)) { free(out); return NULL; }
            if (cp >= 0xD800 && cp < 0xDC00 && p->pos + 6 <= p->len &&
                p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
                p->pos += 2;
                if (!hex4(p, &lo)) { free(out); return NULL; }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default: fail(p, "bad escape"); free(out); return NULL;
        }
    }
    out[n] = '\0';
    return out;
}

static int parse_number(parser *p, jval *v) {
    size_t start = p->pos;
    int integer = 1;
    char buf[64];
    char *end;
    if (p->pos < p->len && p->s[p->pos] == '-') p->pos++;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c >= '0' && c <= '9') p->pos++;
        else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integer = 0; p->pos++; }
        else break;
    }
    if (p->pos == start || p->pos - start >= sizeof buf) { fail(p, "bad number"); return 0; }
    memcpy(buf, p->s + start, p->pos - start);
    buf[p->pos - start] = '\0';
    v->type = J_NUMBER;
    v->number = strtod(buf, &end);
    if (*end != '\0') { fail(p, "bad number"); return 0; }
    v->is_integer = integer;
    if (integer) v->integer = strtoll(buf, NULL, 10);
    return 1;
}

static int literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->pos + n > p->len || memcmp(p->s + p->pos, word, n) != 0) {
        fail(p, "unexpected character");
        return 0;
    }
    p->pos += n;
    return 1;
}

static int parse_array(parser *p, jval *v, int depth) {
    size_t cap = 8;
    p->pos++;
    v->type = J_ARRAY;
    v->items = xmalloc(cap * sizeof *v->items);
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return 1; }
    for (;;) {
        if (v->count == cap) { cap *= 2; v->items = xrealloc(v->items, cap * sizeof *v->items); }
        memset(&v->items[v->count], 0, sizeof *v->items);
        if (!parse_value(p, &v->items[v->count], depth + 1)) return 0;
        v->count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return 1; }
        fail(p, "expected , or ]");
        return 0;
    }
}

static int parse_object(parser *p, jval *v, int depth) {
    size_t cap = 8;
    p->pos++;
    v->type = J_OBJECT;
    v->items = xmalloc(cap * sizeof *v->items);
    v->keys = xmalloc(cap * sizeof *v->keys);
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return 1; }
    for (;;) {
        char *key;
        if (v->count == cap) {
            cap *= 2;
            v->items = xrealloc(v->items, cap * sizeof *v->items);
            v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
        }
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') { fail(p, "expected a key"); return 0; }
        key = parse_string(p);
        if (!key) return 0;
        v->keys[v->count] = key;
        memset(&v->items[v->count], 0, sizeof *v->items);
        v->count++; /* counted now so json_free releases the key on failure */
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') { fail(p, "expected :"); return 0; }
        p->pos++;
        if (!parse_value(p, &v->items[v->count - 1], depth + 1)) return 0;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return 1; }
        fail(p, "expected , or }");
        return 0;
    }
}

static int parse_value(parser *p, jval *v, int depth) {
    char c;
    if (depth > 64) { fail(p, "nested too deeply"); return 0; }
    skip_ws(p);
    if (p->pos >= p->len) { fail(p, "unexpected end"); return 0; }
    c = p->s[p->pos];
    if (c == '{') return parse_object(p, v, depth);
    if (c == '[') return parse_array(p, v, depth);
    if (c == '"') {
        v->type = J_STRING;
        v->string = parse_string(p);
        return v->string != NULL;
    }
    if (c == 't') { v->type = J_BOOL; v->boolean = 1; return literal(p, "true"); }
    if (c == 'f') { v->type = J_BOOL; v->boolean = 0; return literal(p, "false"); }
    if (c == 'n') { v->type = J_NULL; return literal(p, "null"); }
    return parse_number(p, v);
}

static void free_children(jval *v) {
    size_t k;
    if (v->type == J_STRING) free(v->string);
    if (v->type == J_ARRAY || v->type == J_OBJECT) {
        for (k = 0; k < v->count; k++) {
            free_children(&v->items[k]);
            if (v->keys) free(v->keys[k]);
        }
        free(v->items);
        free(v->keys);
    }
}

void json_free(jval *v) {
    if (!v) return;
    free_children(v);
    free(v);
}

jval *json_parse_file(const char *path, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    char *text;
    size_t cap = 1 << 16, n = 0, got;
    parser p;
    jval *v;
    if (!f) { snprintf(err, err_len, "cannot open %s", path); return NULL; }
    text = xmalloc(cap);
    while ((got = fread(text + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) { cap *= 2; text = xrealloc(text, cap); }
    }
    fclose(f);
    p.s = text; p.pos = 0; p.len = n; p.err = err; p.err_len = err_len; p.failed = 0;
    v = xmalloc(sizeof *v);
    memset(v, 0, sizeof *v);
    if (parse_value(&p, v, 0)) {
        skip_ws(&p);
        if (p.pos != p.len) fail(&p, "trailing characters");
    }
    free(text);
    if (p.failed) { json_free(v); return NULL; }
    return v;
}

/* ------------------------------------------------------------------ lookups */
const jval *json_get(const jval *obj, const char *key) {
    size_t k;
    if (!obj || obj->type != J_OBJECT) return NULL;
    for (k = 0; k < obj->count; k++)
        if (strcmp(obj->keys[k], key) == 0) return &obj->items[k];
    return NULL;
}

const jval *json_need(const jval *obj, const char *key) {
    const jval *v = json_get(obj, key);
    if (!v) die("missing key \"%s\"", key);
    return v;
}

const jval *json_array(const jval *v, const char *what) {
    if (!v || v->type != J_ARRAY) die("%s must be an array", what);
    return v;
}

double json_double(const jval *v, const char *what) {
    if (!v || v->type != J_NUMBER) die("%s must be a number", what);
    return v->number;
}

long long json_int(const jval *v, const char *what) {
    if (!v || v->type != J_NUMBER || !v->is_integer) die("%s must be an integer", what);
    return v->integer;
}

const char *json_str(const jval *v, const char *what) {
    if (!v || v->type != J_STRING) die("%s must be a string", what);
    return v->string;
}

uint64_t json_hex64(const jval *v, const char *what) {
    const char *s = json_str(v, what);
    char *end;
    uint64_t x;
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) die("%s must be a 0x... string", what);
    x = (uint64_t)strtoull(s + 2, &end, 16);
    if (*end != '\0') die("%s is not hexadecimal", what);
    return x;
}

double *json_doubles(const jval *v, size_t *n, const char *what) {
    size_t k;
    double *out;
    json_array(v, what);
    out = xmalloc(v->count * sizeof *out);
    for (k = 0; k < v->count; k++) out[k] = json_double(&v->items[k], what);
    *n = v->count;
    return out;
}

double *json_rows(const jval *v, size_t *rows, size_t width, const char *what) {
    size_t r, k;
    double *out;
    json_array(v, what);
    out = xmalloc(v->count * width * sizeof *out);
    for (r = 0; r < v->count; r++) {
        const jval *row = json_array(&v->items[r], what);
        if (row->count != width) die("%s: a row has %lu values, expected %lu", what,
                                     (unsigned long)row->count, (unsigned long)width);
        for (k = 0; k < width; k++) out[r * width + k] = json_double(&row->items[k], what);
    }
    *rows = v->count;
    return out;
}

/* ------------------------------------------------------------------ writers */
void jw_double(FILE *f, double x) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", x);
    /* keep it a double in JSON: "-0" would read back as the integer 0 */
    if (!strpbrk(buf, ".eEni")) strcat(buf, ".0");
    fputs(buf, f);
}

void jw_doubles(FILE *f, const double *x, size_t n) {
    size_t k;
    fputc('[', f);
    for (k = 0; k < n; k++) {
        if (k) fputs(", ", f);
        jw_double(f, x[k]);
    }
    fputc(']', f);
}

void jw_hex64(FILE *f, uint64_t x) {
    fprintf(f, "\"0x%016llx\"", (unsigned long long)x);
}
