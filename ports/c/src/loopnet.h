/* loopnet in C99: the network, its random numbers and optimizers, following PORTING.md. */
#ifndef LOOPNET_H
#define LOOPNET_H

#include <stddef.h>
#include <stdint.h>

/* ---- section 3: SplitMix64 ---- */
typedef struct { uint64_t state; } rng_t;

void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_next_u64(rng_t *r);
double rng_uniform(rng_t *r);
uint64_t rng_randbelow(rng_t *r, uint64_t n); /* 1 <= n <= 2^32 */
double rng_normal(rng_t *r);

/* ---- section 2: layout ---- */
enum { ACT_RELU, ACT_SIGMOID, ACT_TANH };
/* an output unit with its loss */
enum { OUT_SOFTMAX, OUT_IDENTITY, OUT_SIGMOID_CROSS_ENTROPY, OUT_SIGMOID_SQUARED_ERROR };

typedef struct {
    int L;            /* number of layers */
    int *sizes;       /* L + 1 widths */
    int act, out;
    double lambda;    /* weight decay */
    double log_guard; /* g in log(Y + g): the book's 1e-7 unless a case says otherwise */
    double **params;  /* 2L tensors: W_0, B_0, W_1, B_1, ... */
    double **grads;   /* same layout */
    size_t *len;      /* element count of each tensor */
    double **Z, **H, **dZ, **dH; /* L work arrays each, sizes[l+1] long */
} net_t;

net_t *net_new(const int *sizes, int L, int act, int out, double lambda);
void net_free(net_t *n);

/* ---- section 4: init; scheme "he", "xavier", "uniform", or NULL for sigma ---- */
void net_init(net_t *n, const char *scheme, double sigma, uint64_t seed);

/* ---- sections 5-7 ---- */
void net_forward(net_t *n, const double *x);
double net_output_loss(net_t *n, const double *t);   /* writes Y into H[L-1], returns E */
void net_backward(net_t *n, const double *x, const double *t, int N);
double net_batch_gradient(net_t *n, const double *X, const double *T, int N);
double net_batch_loss(net_t *n, const double *X, const double *T, int N);

/* ---- section 8 ---- */
enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAGRAD, OPT_ADAM };

typedef struct {
    int kind;
    double lr, momentum, beta1, beta2;
    long t;           /* Adam's step counter: updates done so far */
    double **s1, **s2; /* state per tensor (v / h / m, and Adam's v), zero at start */
} opt_t;

opt_t *opt_new(const net_t *n, int kind, double lr, double momentum, double beta1, double beta2);
void opt_free(opt_t *o, const net_t *n);
void opt_update(opt_t *o, net_t *n);
double net_train_step(net_t *n, opt_t *o, const double *X, const double *T, int N);

/* ---- section 9 ---- */
int net_argmax_scores(const net_t *n); /* after net_forward */
long net_count_correct(net_t *n, const double *X, const int *labels, long count);

#endif
