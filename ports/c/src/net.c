/* PORTING.md sections 2 and 4-9: layout, init, forward, backward, minibatch, updates, accuracy.
 * Every sum is sequential in the order PORTING.md gives; build without FMA contraction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "libm.h"
#include "loopnet.h"

#define GUARD 1e-7 /* the book's 1e-7 in log(Y + 1e-7) and the AdaGrad/Adam denominators */

static double *zeros(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) die("out of memory");
    return p;
}

static double **tensor_list(size_t count) {
    double **p = calloc(count, sizeof *p);
    if (!p) die("out of memory");
    return p;
}

net_t *net_new(const int *sizes, int L, int act, int out, double lambda) {
    net_t *n = calloc(1, sizeof *n);
    int l;
    if (!n) die("out of memory");
    n->L = L;
    n->sizes = malloc((size_t)(L + 1) * sizeof *n->sizes);
    n->len = malloc((size_t)(2 * L) * sizeof *n->len);
    if (!n->sizes || !n->len) die("out of memory");
    memcpy(n->sizes, sizes, (size_t)(L + 1) * sizeof *sizes);
    n->act = act;
    n->out = out;
    n->lambda = lambda;
    n->log_guard = GUARD;
    n->params = tensor_list((size_t)(2 * L));
    n->grads = tensor_list((size_t)(2 * L));
    n->Z = tensor_list((size_t)L);
    n->H = tensor_list((size_t)L);
    n->dZ = tensor_list((size_t)L);
    n->dH = tensor_list((size_t)L);
    for (l = 0; l < L; l++) {
        size_t n_in = (size_t)sizes[l], n_out = (size_t)sizes[l + 1];
        n->len[2 * l] = n_in * n_out;
        n->len[2 * l + 1] = n_out;
        n->params[2 * l] = zeros(n_in * n_out);
        n->params[2 * l + 1] = zeros(n_out);
        n->grads[2 * l] = zeros(n_in * n_out);
        n->grads[2 * l + 1] = zeros(n_out);
        n->Z[l] = zeros(n_out);
        n->H[l] = zeros(n_out);
        n->dZ[l] = zeros(n_out);
        n->dH[l] = zeros(n_out);
    }
    return n;
}

void net_free(net_t *n) {
    int k;
    if (!n) return;
    for (k = 0; k < 2 * n->L; k++) { free(n->params[k]); free(n->grads[k]); }
    for (k = 0; k < n->L; k++) { free(n->Z[k]); free(n->H[k]); free(n->dZ[k]); free(n->dH[k]); }
    free(n->params); free(n->grads); free(n->Z); free(n->H); free(n->dZ); free(n->dH);
    free(n->sizes); free(n->len); free(n);
}

/* ---------------------------------------------------------------- section 4 */
void net_init(net_t *n, const char *scheme, double sigma, uint64_t seed) {
    rng_t rng;
    int l;
    rng_seed(&rng, seed);
    for (l = 0; l < n->L; l++) {
        int n_in = n->sizes[l], n_out = n->sizes[l + 1];
        int uniform = scheme && strcmp(scheme, "uniform") == 0;
        double s;
        size_t p;
        if (!scheme) s = sigma;
        else if (strcmp(scheme, "he") == 0) s = sqrt(2.0 / (double)n_in);
        else if (strcmp(scheme, "xavier") == 0) s = sqrt(1.0 / (double)n_in);
        else if (uniform) s = sqrt(6.0) / sqrt((double)(n_in + n_out));
        else die("unknown weight_init \"%s\"", scheme);
        for (p = 0; p < n->len[2 * l]; p++) {
            if (uniform) n->params[2 * l][p] = s * (2.0 * rng_uniform(&rng) - 1.0);
            else n->params[2 * l][p] = s * rng_normal(&rng);
        }
        for (p = 0; p < n->len[2 * l + 1]; p++) n->params[2 * l + 1][p] = 0.0;
    }
}

/* ---------------------------------------------------------------- section 5 */
static void affine(const double *x, const double *W, const double *B, double *z, int n_in,
                   int n_out) {
    int i, j;
    for (j = 0; j < n_out; j++) z[j] = B[j];
    for (i = 0; i < n_in; i++) {
        double xi = x[i];
        if (xi != 0.0) {
            const double *row = W + (size_t)i * (size_t)n_out;
            for (j = 0; j < n_out; j++) z[j] = z[j] + xi * row[j];
        }
    }
}

static void activation(int act, const double *z, double *h, int n) {
    int j;
    for (j = 0; j < n; j++) {
        if (act == ACT_RELU) {
            h[j] = z[j] > 0.0 ? z[j] : 0.0;
        } else if (act == ACT_SIGMOID) {
            if (z[j] >= 0.0) {
                h[j] = 1.0 / (1.0 + lm_exp(-z[j]));
            } else {
                double e = lm_exp(z[j]);
                h[j] = e / (1.0 + e);
            }
        } else {
            h[j] = lm_tanh(z[j]);
        }
    }
}

void net_forward(net_t *n, const double *x) {
    const double *inp = x;
    int l;
    for (l = 0; l < n->L; l++) {
        affine(inp, n->params[2 * l], n->params[2 * l + 1], n->Z[l], n->sizes[l], n->sizes[l + 1]);
        if (l < n->L - 1) {
            activation(n->act, n->Z[l], n->H[l], n->sizes[l + 1]);
            inp = n->H[l];
        }
    }
}

/* log p, and -infinity for p = 0 (reached only with a log guard of 0) */
static double log_or_minus_inf(double p) { return p > 0.0 ? lm_log(p) : -INFINITY; }

double net_output_loss(net_t *n, const double *t) {
    int K = n->sizes[n->L], k;
    const double *A = n->Z[n->L - 1];
    double *Y = n->H[n->L - 1];
    double E = 0.0;
    if (n->out == OUT_SOFTMAX) {
        double M = A[0], S = 0.0;
        for (k = 1; k < K; k++)
            if (A[k] > M) M = A[k];
        for (k = 0; k < K; k++) {
            Y[k] = lm_exp(A[k] - M);
            S = S + Y[k];
        }
        for (k = 0; k < K; k++) Y[k] = Y[k] / S;
        for (k = 0; k < K; k++)
            if (t[k] != 0.0) E = E - t[k] * log_or_minus_inf(Y[k] + n->log_guard);
    } else if (n->out == OUT_SIGMOID_CROSS_ENTROPY) {
        activation(ACT_SIGMOID, A, Y, K);
        for (k = 0; k < K; k++) {
            if (t[k] != 0.0) E = E - t[k] * log_or_minus_inf(Y[k] + n->log_guard);
            if (t[k] != 1.0) E = E - (1.0 - t[k]) * log_or_minus_inf(1.0 - Y[k] + n->log_guard);
        }
    } else if (n->out == OUT_SIGMOID_SQUARED_ERROR) {
        activation(ACT_SIGMOID, A, Y, K);
        for (k = 0; k < K; k++) {
            double d = Y[k] - t[k];
            E = E + d * d;
        }
        E = 0.5 * E;
    } else {
        for (k = 0; k < K; k++) {
            double d;
            Y[k] = A[k];
            d = Y[k] - t[k];
            E = E + d * d;
        }
        E = 0.5 * E;
    }
    return E;
}

/* ---------------------------------------------------------------- section 6 */
void net_backward(net_t *n, const double *x, const double *t, int N) {
    int L = n->L, K = n->sizes[L], k, l;
    const double *Y = n->H[L - 1];
    for (k = 0; k < K; k++) {
        if (n->out == OUT_SIGMOID_SQUARED_ERROR)
            n->dZ[L - 1][k] = (Y[k] - t[k]) * Y[k] * (1.0 - Y[k]) / (double)N;
        else
            n->dZ[L - 1][k] = (Y[k] - t[k]) / (double)N; /* a_k, for the other outputs */
    }
    for (l = L - 1; l >= 0; l--) {
        const double *inp = l == 0 ? x : n->H[l - 1];
        int n_in = n->sizes[l], n_out = n->sizes[l + 1], i, j;
        const double *W = n->params[2 * l], *dz = n->dZ[l];
        double *dW = n->grads[2 * l], *dB = n->grads[2 * l + 1];
        for (j = 0; j < n_out; j++) dB[j] = dB[j] + dz[j];
        for (i = 0; i < n_in; i++) {
            size_t row = (size_t)i * (size_t)n_out;
            if (inp[i] != 0.0)
                for (j = 0; j < n_out; j++) dW[row + j] = dW[row + j] + inp[i] * dz[j];
            if (l > 0) {
                double h = 0.0;
                for (j = 0; j < n_out; j++) h = h + W[row + j] * dz[j];
                n->dH[l - 1][i] = h;
            }
        }
        if (l > 0) {
            const double *dh = n->dH[l - 1], *Zp = n->Z[l - 1], *Hp = n->H[l - 1];
            double *dzp = n->dZ[l - 1];
            for (i = 0; i < n_in; i++) {
                if (n->act == ACT_RELU) dzp[i] = Zp[i] > 0.0 ? dh[i] : 0.0;
                else if (n->act == ACT_SIGMOID) dzp[i] = dh[i] * Hp[i] * (1.0 - Hp[i]);
                else dzp[i] = dh[i] * (1.0 - Hp[i] * Hp[i]);
            }
        }
    }
}

/* ---------------------------------------------------------------- section 7 */
static double decay_term(const net_t *n) {
    double sq = 0.0;
    int l;
    size_t p;
    for (l = 0; l < n->L; l++)
        for (p = 0; p < n->len[2 * l]; p++) sq = sq + n->params[2 * l][p] * n->params[2 * l][p];
    return 0.5 * n->lambda * sq;
}

double net_batch_gradient(net_t *n, const double *X, const double *T, int N) {
    int in = n->sizes[0], K = n->sizes[n->L], e, k, l;
    double total = 0.0, loss;
    size_t p;
    for (k = 0; k < 2 * n->L; k++)
        for (p = 0; p < n->len[k]; p++) n->grads[k][p] = 0.0;
    for (e = 0; e < N; e++) {
        const double *x = X + (size_t)e * (size_t)in, *t = T + (size_t)e * (size_t)K;
        net_forward(n, x);
        total = total + net_output_loss(n, t);
        net_backward(n, x, t, N);
    }
    loss = total / (double)N;
    if (n->lambda != 0.0) {
        loss = loss + decay_term(n);
        for (l = 0; l < n->L; l++)
            for (p = 0; p < n->len[2 * l]; p++)
                n->grads[2 * l][p] = n->grads[2 * l][p] + n->lambda * n->params[2 * l][p];
    }
    return loss;
}

double net_batch_loss(net_t *n, const double *X, const double *T, int N) {
    int in = n->sizes[0], K = n->sizes[n->L], e;
    double total = 0.0, loss;
    for (e = 0; e < N; e++) {
        net_forward(n, X + (size_t)e * (size_t)in);
        total = total + net_output_loss(n, T + (size_t)e * (size_t)K);
    }
    loss = total / (double)N;
    if (n->lambda != 0.0) loss = loss + decay_term(n);
    return loss;
}

/* ---------------------------------------------------------------- section 8 */
opt_t *opt_new(const net_t *n, int kind, double lr, double momentum, double beta1, double beta2) {
    opt_t *o = calloc(1, sizeof *o);
    int k;
    if (!o) die("out of memory");
    o->kind = kind;
    o->lr = lr;
    o->momentum = momentum;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->s1 = tensor_list((size_t)(2 * n->L));
    o->s2 = tensor_list((size_t)(2 * n->L));
    for (k = 0; k < 2 * n->L; k++) {
        o->s1[k] = zeros(n->len[k]);
        o->s2[k] = zeros(n->len[k]);
    }
    return o;
}

void opt_free(opt_t *o, const net_t *n) {
    int k;
    if (!o) return;
    for (k = 0; k < 2 * n->L; k++) { free(o->s1[k]); free(o->s2[k]); }
    free(o->s1); free(o->s2); free(o);
}

void opt_update(opt_t *o, net_t *n) {
    double lr = o->lr;
    int k;
    size_t i;
    if (o->kind == OPT_ADAM) {
        o->t++;
        lr = o->lr * sqrt(1.0 - lm_pow(o->beta2, (double)o->t)) /
             (1.0 - lm_pow(o->beta1, (double)o->t));
    }
    for (k = 0; k < 2 * n->L; k++) {
        double *p = n->params[k], *g = n->grads[k], *s1 = o->s1[k], *s2 = o->s2[k];
        for (i = 0; i < n->len[k]; i++) {
            switch (o->kind) {
            case OPT_SGD:
                p[i] = p[i] - lr * g[i];
                break;
            case OPT_MOMENTUM:
                s1[i] = o->momentum * s1[i] - lr * g[i];
                p[i] = p[i] + s1[i];
                break;
            case OPT_ADAGRAD:
                s1[i] = s1[i] + g[i] * g[i];
                p[i] = p[i] - lr * g[i] / (sqrt(s1[i]) + GUARD);
                break;
            default:
                s1[i] = s1[i] + (1.0 - o->beta1) * (g[i] - s1[i]);
                s2[i] = s2[i] + (1.0 - o->beta2) * (g[i] * g[i] - s2[i]);
                p[i] = p[i] - lr * s1[i] / (sqrt(s2[i]) + GUARD);
                break;
            }
        }
    }
}

double net_train_step(net_t *n, opt_t *o, const double *X, const double *T, int N) {
    double loss = net_batch_gradient(n, X, T, N);
    opt_update(o, n);
    return loss;
}

/* ---------------------------------------------------------------- section 9 */
int net_argmax_scores(const net_t *n) {
    const double *A = n->Z[n->L - 1];
    int K = n->sizes[n->L], best = 0, k;
    for (k = 1; k < K; k++)
        if (A[k] > A[best]) best = k;
    return best;
}

long net_count_correct(net_t *n, const double *X, const int *labels, long count) {
    long e, correct = 0;
    for (e = 0; e < count; e++) {
        net_forward(n, X + (size_t)e * (size_t)n->sizes[0]);
        if (net_argmax_scores(n) == labels[e]) correct++;
    }
    return correct;
}
