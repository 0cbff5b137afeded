/* One runner per case kind of docs/conformance.md: read "input", write "output". */
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "json.h"
#include "loopnet.h"

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory");
    return p;
}

/* ------------------------------------------------------------------ reading inputs */
static int name_code(const char *name, const char *const *names, int count, const char *what) {
    int k;
    for (k = 0; k < count; k++)
        if (strcmp(name, names[k]) == 0) return k;
    die("unknown %s \"%s\"", what, name);
    return -1;
}

static net_t *read_net(const jval *in) {
    static const char *const acts[] = {"relu", "sigmoid", "tanh"};
    static const char *const outs[] = {"softmax", "identity", "sigmoid"};
    const jval *loss = json_get(in, "loss"), *guard = json_get(in, "log_guard");
    const jval *sizes = json_array(json_need(in, "sizes"), "sizes");
    int *s, L, k, act, out;
    net_t *n;
    if (sizes->count < 2) die("sizes needs at least two widths");
    L = (int)sizes->count - 1;
    s = xcalloc(sizes->count, sizeof *s);
    for (k = 0; k <= L; k++) s[k] = (int)json_int(&sizes->items[k], "sizes");
    act = name_code(json_str(json_need(in, "activation"), "activation"), acts, 3, "activation");
    out = name_code(json_str(json_need(in, "output"), "output"), outs, 3, "output");
    if (out == 2) { /* sigmoid: cross_entropy (its default) or squared_error */
        int squared = loss && strcmp(json_str(loss, "loss"), "squared_error") == 0;
        if (loss && !squared && strcmp(json_str(loss, "loss"), "cross_entropy") != 0)
            die("unknown loss \"%s\" for a sigmoid output", loss->string);
        out = squared ? OUT_SIGMOID_SQUARED_ERROR : OUT_SIGMOID_CROSS_ENTROPY;
    }
    n = net_new(s, L, act, out, json_double(json_need(in, "weight_decay"), "weight_decay"));
    if (guard) n->log_guard = json_double(guard, "log_guard");
    free(s);
    return n;
}

static void read_params(net_t *n, const jval *params) {
    int k;
    json_array(params, "params");
    if (params->count != (size_t)(2 * n->L)) die("params has the wrong number of tensors");
    for (k = 0; k < 2 * n->L; k++) {
        size_t len, i;
        double *v = json_doubles(&params->items[k], &len, "params");
        if (len != n->len[k]) die("params tensor %d has %lu values", k, (unsigned long)len);
        for (i = 0; i < len; i++) n->params[k][i] = v[i];
        free(v);
    }
}

static void init_from(net_t *n, const jval *in) {
    const jval *scheme = json_need(in, "weight_init");
    uint64_t seed = (uint64_t)json_int(json_need(in, "seed"), "seed");
    if (scheme->type == J_STRING) net_init(n, scheme->string, 0.0, seed);
    else net_init(n, NULL, json_double(scheme, "weight_init"), seed);
}

static opt_t *read_optimizer(const net_t *n, const jval *spec) {
    static const char *const names[] = {"sgd", "momentum", "adagrad", "adam"};
    int kind = name_code(json_str(json_need(spec, "name"), "optimizer name"), names, 4,
                         "optimizer");
    double momentum = 0.0, beta1 = 0.0, beta2 = 0.0;
    if (kind == OPT_MOMENTUM) momentum = json_double(json_need(spec, "momentum"), "momentum");
    if (kind == OPT_ADAM) {
        beta1 = json_double(json_need(spec, "beta1"), "beta1");
        beta2 = json_double(json_need(spec, "beta2"), "beta2");
    }
    return opt_new(n, kind, json_double(json_need(spec, "lr"), "lr"), momentum, beta1, beta2);
}

/* rows of X (width sizes[0]) and T (width sizes[L]) of one minibatch */
static int read_batch(const net_t *n, const jval *obj, double **X, double **T) {
    size_t rows, trows;
    *X = json_rows(json_need(obj, "X"), &rows, (size_t)n->sizes[0], "X");
    *T = json_rows(json_need(obj, "T"), &trows, (size_t)n->sizes[n->L], "T");
    if (rows != trows || rows == 0) die("X and T must have the same, nonzero number of rows");
    return (int)rows;
}

/* ------------------------------------------------------------------ writing outputs */
static void write_params(FILE *f, const net_t *n) {
    int k;
    fputs("[\n", f);
    for (k = 0; k < 2 * n->L; k++) {
        fputs(k ? ",\n  " : "  ", f);
        jw_doubles(f, n->params[k], n->len[k]);
    }
    fputs("]", f);
}

static void write_layers(FILE *f, double **bufs, const net_t *n, int count) {
    int l;
    fputc('[', f);
    for (l = 0; l < count; l++) {
        if (l) fputs(", ", f);
        jw_doubles(f, bufs[l], (size_t)n->sizes[l + 1]);
    }
    fputc(']', f);
}

/* ------------------------------------------------------------------ runners */
static void run_rng_bits(const jval *in, FILE *f) {
    const jval *seeds = json_array(json_need(in, "seeds"), "seeds");
    const jval *ns = json_array(json_need(in, "randbelow_n"), "randbelow_n");
    long count = (long)json_int(json_need(in, "count"), "count"), k;
    size_t s, m;
    fputs("{\"streams\": [\n", f);
    for (s = 0; s < seeds->count; s++) {
        uint64_t seed = json_hex64(&seeds->items[s], "seed");
        rng_t r;
        fputs(s ? ",\n " : " ", f);
        fputs("{\"u64\": [", f);
        rng_seed(&r, seed);
        for (k = 0; k < count; k++) {
            if (k) fputs(", ", f);
            jw_hex64(f, rng_next_u64(&r));
        }
        fputs("], \"uniform\": [", f);
        rng_seed(&r, seed);
        for (k = 0; k < count; k++) {
            if (k) fputs(", ", f);
            jw_double(f, rng_uniform(&r));
        }
        fputs("], \"randbelow\": [", f);
        for (m = 0; m < ns->count; m++) {
            uint64_t n = (uint64_t)json_int(&ns->items[m], "randbelow_n");
            fputs(m ? ", [" : "[", f);
            rng_seed(&r, seed);
            for (k = 0; k < count; k++)
                fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)rng_randbelow(&r, n));
            fputc(']', f);
        }
        fputs("]}", f);
    }
    fputs("]}", f);
}

static void run_rng_normal(const jval *in, FILE *f) {
    const jval *seeds = json_array(json_need(in, "seeds"), "seeds");
    long count = (long)json_int(json_need(in, "count"), "count"), k;
    size_t s;
    fputs("{\"normal\": [\n", f);
    for (s = 0; s < seeds->count; s++) {
        rng_t r;
        rng_seed(&r, json_hex64(&seeds->items[s], "seed"));
        fputs(s ? ",\n [" : " [", f);
        for (k = 0; k < count; k++) {
            if (k) fputs(", ", f);
            jw_double(f, rng_normal(&r));
        }
        fputc(']', f);
    }
    fputs("]}", f);
}

static void run_init(const jval *in, FILE *f) {
    const jval *sizes = json_array(json_need(in, "sizes"), "sizes");
    int *s = xcalloc(sizes->count, sizeof *s), L = (int)sizes->count - 1, k;
    net_t *n;
    for (k = 0; k <= L; k++) s[k] = (int)json_int(&sizes->items[k], "sizes");
    n = net_new(s, L, ACT_RELU, OUT_SOFTMAX, 0.0);
    init_from(n, in);
    fputs("{\"params\": ", f);
    write_params(f, n);
    fputs("}", f);
    net_free(n);
    free(s);
}

static void run_forward_backward(const jval *in, FILE *f) {
    net_t *n = read_net(in);
    double *X, *T;
    int N, e, k, L = n->L;
    size_t p;
    read_params(n, json_need(in, "params"));
    N = read_batch(n, in, &X, &T);
    for (k = 0; k < 2 * L; k++)
        for (p = 0; p < n->len[k]; p++) n->grads[k][p] = 0.0;
    fputs("{\"examples\": [\n", f);
    for (e = 0; e < N; e++) {
        const double *x = X + (size_t)e * (size_t)n->sizes[0];
        const double *t = T + (size_t)e * (size_t)n->sizes[L];
        double E;
        net_forward(n, x);
        E = net_output_loss(n, t);
        net_backward(n, x, t, N);
        fputs(e ? ",\n {\"Z\": " : " {\"Z\": ", f);
        write_layers(f, n->Z, n, L);
        fputs(", \"H\": ", f);
        write_layers(f, n->H, n, L);
        fputs(", \"E\": ", f);
        jw_double(f, E);
        fputs(", \"dZ\": ", f);
        write_layers(f, n->dZ, n, L);
        fputs(", \"dH\": ", f);
        write_layers(f, n->dH, n, L - 1);
        fputc('}', f);
    }
    fputs("],\n\"loss\": ", f);
    jw_double(f, net_batch_gradient(n, X, T, N));
    fputs(",\n\"gradients\": [\n", f);
    for (k = 0; k < 2 * L; k++) {
        fputs(k ? ",\n  " : "  ", f);
        jw_doubles(f, n->grads[k], n->len[k]);
    }
    fputs("]}", f);
    free(X);
    free(T);
    net_free(n);
}

static void run_optimizer(const jval *in, FILE *f) {
    net_t *n = read_net(in);
    opt_t *o = read_optimizer(n, json_need(in, "optimizer"));
    const jval *batches = json_array(json_need(in, "batches"), "batches");
    const jval *record = json_array(json_need(in, "record_after"), "record_after");
    long steps = (long)json_int(json_need(in, "steps"), "steps"), s;
    double *losses = xcalloc((size_t)steps, sizeof *losses);
    int first = 1;
    size_t r;
    if (batches->count == 0) die("batches is empty");
    read_params(n, json_need(in, "params"));
    fputs("{\"params_after\": [", f);
    for (s = 0; s < steps; s++) {
        double *X, *T;
        int N = read_batch(n, &batches->items[(size_t)s % batches->count], &X, &T);
        losses[s] = net_train_step(n, o, X, T, N);
        free(X);
        free(T);
        for (r = 0; r < record->count; r++) {
            if (json_int(&record->items[r], "record_after") == s + 1) {
                fprintf(f, "%s\n {\"steps\": %ld, \"params\": ", first ? "" : ",", s + 1);
                write_params(f, n);
                fputc('}', f);
                first = 0;
            }
        }
    }
    fputs("],\n\"losses\": ", f);
    jw_doubles(f, losses, (size_t)steps);
    fputs("}", f);
    free(losses);
    opt_free(o, n);
    net_free(n);
}

static void run_logic(const jval *in, FILE *f) {
    net_t *n = read_net(in);
    opt_t *o = read_optimizer(n, json_need(in, "optimizer"));
    long steps = (long)json_int(json_need(in, "steps"), "steps"), s;
    long every = (long)json_int(json_need(in, "loss_every"), "loss_every");
    double *X, *T;
    int N, e, k, K = n->sizes[n->L];
    init_from(n, in);
    N = read_batch(n, in, &X, &T);
    fputs("{\"losses\": [", f);
    for (s = 0; s < steps; s++) {
        double loss = net_train_step(n, o, X, T, N);
        if (s % every == 0) {
            if (s) fputs(", ", f);
            jw_double(f, loss);
        }
    }
    fputs("],\n\"final_loss\": ", f);
    jw_double(f, net_batch_loss(n, X, T, N));
    fputs(",\n\"params\": ", f);
    write_params(f, n);
    fputs(",\n\"Y\": [", f);
    for (e = 0; e < N; e++) {
        net_forward(n, X + (size_t)e * (size_t)n->sizes[0]);
        if (e) fputs(", ", f);
        jw_doubles(f, n->Z[n->L - 1], (size_t)K); /* identity output: Y = A */
    }
    fputs("],\n\"predictions\": [", f);
    for (e = 0; e < N; e++) {
        net_forward(n, X + (size_t)e * (size_t)n->sizes[0]);
        fputs(e ? ", [" : "[", f);
        for (k = 0; k < K; k++) fprintf(f, "%s%d", k ? ", " : "", n->Z[n->L - 1][k] > 0.5);
        fputc(']', f);
    }
    fputs("]}", f);
    free(X);
    free(T);
    opt_free(o, n);
    net_free(n);
}

typedef struct {
    long count;
    int n_features;
    unsigned char *pixels;
    int *labels;
} dataset_t;

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    die("pixels: bad hex digit");
    return 0;
}

static dataset_t read_dataset(const jval *spec) {
    dataset_t d;
    const char *hex = json_str(json_need(spec, "pixels"), "pixels");
    const jval *labels = json_array(json_need(spec, "labels"), "labels");
    size_t bytes, k;
    d.count = (long)json_int(json_need(spec, "count"), "count");
    d.n_features = (int)json_int(json_need(spec, "n_features"), "n_features");
    bytes = (size_t)d.count * (size_t)d.n_features;
    if (strlen(hex) != 2 * bytes || labels->count != (size_t)d.count)
        die("dataset: pixels or labels do not match count");
    d.pixels = xcalloc(bytes, 1);
    for (k = 0; k < bytes; k++)
        d.pixels[k] = (unsigned char)(hex_digit(hex[2 * k]) * 16 + hex_digit(hex[2 * k + 1]));
    d.labels = xcalloc((size_t)d.count, sizeof *d.labels);
    for (k = 0; k < (size_t)d.count; k++) d.labels[k] = (int)json_int(&labels->items[k], "label");
    return d;
}

/* section 10: X row n = pixels / 255.0, T row n = one-hot label */
static void gather(const dataset_t *d, const long *idx, int N, int K, double *X, double *T) {
    int n, i, k;
    for (n = 0; n < N; n++) {
        const unsigned char *px = d->pixels + (size_t)idx[n] * (size_t)d->n_features;
        for (i = 0; i < d->n_features; i++) X[(size_t)n * d->n_features + i] = px[i] / 255.0;
        for (k = 0; k < K; k++) T[(size_t)n * K + k] = 0.0;
        T[(size_t)n * K + d->labels[idx[n]]] = 1.0;
    }
}

static long correct_on(net_t *n, const dataset_t *d) {
    size_t k, bytes = (size_t)d->count * (size_t)d->n_features;
    double *X = xcalloc(bytes, sizeof *X);
    long c;
    for (k = 0; k < bytes; k++) X[k] = d->pixels[k] / 255.0;
    c = net_count_correct(n, X, d->labels, d->count);
    free(X);
    return c;
}

static void run_digits(const jval *in, FILE *f) {
    net_t *n = read_net(in);
    opt_t *o = read_optimizer(n, json_need(in, "optimizer"));
    dataset_t train = read_dataset(json_need(in, "train"));
    dataset_t test = read_dataset(json_need(in, "test"));
    int N = (int)json_int(json_need(in, "batch"), "batch"), K = n->sizes[n->L], i;
    long epochs = (long)json_int(json_need(in, "epochs"), "epochs");
    long per_epoch = train.count / N < 1 ? 1 : train.count / N; /* max(n_train div N, 1) */
    long steps = epochs * per_epoch, s, train_ok, test_ok;
    long *idx = xcalloc((size_t)N, sizeof *idx);
    double *X = xcalloc((size_t)N * (size_t)n->sizes[0], sizeof *X);
    double *T = xcalloc((size_t)N * (size_t)K, sizeof *T);
    double *losses = xcalloc((size_t)steps, sizeof *losses);
    rng_t sampler;
    if (n->sizes[0] != train.n_features || n->sizes[0] != test.n_features)
        die("digits: n_features does not match sizes[0]");
    init_from(n, in);
    rng_seed(&sampler, json_hex64(json_need(in, "sampler_seed"), "sampler_seed"));
    fputs("{\"first_indices\": [", f);
    for (s = 0; s < steps; s++) {
        for (i = 0; i < N; i++) {
            idx[i] = (long)rng_randbelow(&sampler, (uint64_t)train.count);
            if (s == 0) fprintf(f, "%s%ld", i ? ", " : "", idx[i]);
        }
        gather(&train, idx, N, K, X, T);
        losses[s] = net_train_step(n, o, X, T, N);
    }
    train_ok = correct_on(n, &train);
    test_ok = correct_on(n, &test);
    fprintf(f, "],\n\"steps\": %ld,\n\"losses\": ", steps);
    jw_doubles(f, losses, (size_t)steps);
    fputs(",\n\"params\": ", f);
    write_params(f, n);
    fprintf(f, ",\n\"train_correct\": %ld, \"test_correct\": %ld", train_ok, test_ok);
    fputs(",\n\"train_accuracy\": ", f);
    jw_double(f, (double)train_ok / (double)train.count);
    fputs(", \"test_accuracy\": ", f);
    jw_double(f, (double)test_ok / (double)test.count);
    fputs("}", f);
    free(idx); free(X); free(T); free(losses);
    free(train.pixels); free(train.labels); free(test.pixels); free(test.labels);
    opt_free(o, n);
    net_free(n);
}

static const struct {
    const char *kind;
    void (*run)(const jval *input, FILE *out);
} RUNNERS[] = {
    {"rng_bits", run_rng_bits},     {"rng_normal", run_rng_normal},
    {"init", run_init},             {"forward_backward", run_forward_backward},
    {"optimizer", run_optimizer},   {"logic", run_logic},
    {"digits", run_digits},
};

int run_case_kind(const char *kind, const jval *input, FILE *out) {
    size_t k;
    for (k = 0; k < sizeof RUNNERS / sizeof RUNNERS[0]; k++) {
        if (strcmp(kind, RUNNERS[k].kind) == 0) {
            RUNNERS[k].run(input, out);
            return 1;
        }
    }
    return 0;
}
