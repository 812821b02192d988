/* The output layer in one pass over tiles: linear + softmax + cross-entropy without holding the
 * logits, from C, with the library's split statistics and the caller's own matrix product.
 *
 * Logits Z = X W^T + b for hidden activations X (N x D), weight W (V x D, nn.Linear's layout)
 * and bias b (V). The loop never holds more than one tile of ROWS x COLS logits:
 *
 *   for each chunk of ROWS samples:
 *     pass 1, for each chunk of COLS classes: form the tile, take its statistics
 *             (ssm_ce_stats_f32) and merge them into the samples' (ssm_ce_stats_merge);
 *     the chunk's losses from the merged statistics (ssm_cross_entropy_from_stats);
 *     pass 2, for each chunk of classes: form the tile again, turn it into its gradient in place
 *             (ssm_cross_entropy_grad_from_stats_f32), then grad_x += G W_c, grad_W_c += G^T X,
 *             grad_b_c += column sums of G.
 *
 * The mean divides by ssm_cross_entropy_denominator of every target, taken first. The program
 * checks the loss and the gradients against the materialised computation (all N x V logits,
 * ssm_cross_entropy_f32 and its gradient) and exits non-zero on a mismatch. The chunking the
 * Python package chooses, and why: docs/design.md, "The output layer".
 *
 * The matrix product is cblas_sgemm when built with -DSSM_EXAMPLE_CBLAS (and -lopenblas or
 * -lcblas; make example-c detects it), else the plain loop below.
 *   cc -std=c99 -Iinclude examples/c/linear_ce.c -L.build/release -lswiftsoftmax -lm \
 *      -Wl,-rpath,$PWD/.build/release
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftsoftmax.h>

#ifdef SSM_EXAMPLE_CBLAS
#include <cblas.h>
#endif

enum { N = 300, D = 48, V = 5000, ROWS = 64, COLS = 768 };
static const int64_t IGNORE = -100;
static const double SMOOTHING = 0.1;

static void check(ssm_status status, const char *what) {
    if (status != SSM_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, ssm_status_message(status), ssm_last_error_message());
        exit(1);
    }
}

/* C (m x n, row stride ldc) = beta C + op(A) op(B), row-major; op(A) is m x k, op(B) k x n. */
static void gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, const float *a, size_t lda,
                 const float *b, size_t ldb, float beta, float *c, size_t ldc) {
#ifdef SSM_EXAMPLE_CBLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
#else
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0.0; /* the reference below uses the same product: their roundings agree */
            for (size_t p = 0; p < k; p++)
                s += (double)(trans_a ? a[p * lda + i] : a[i * lda + p]) *
                     (double)(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)(beta * c[i * ldc + j] + s);
        }
    }
#endif
}

/* A tile of logits: rows r0.. (m of them) against classes c0.. (n of them). */
static void logits_tile(const float *x, const float *w, const float *bias, size_t r0, size_t m, size_t c0,
                        size_t n, float *z) {
    gemm(0, 1, m, n, D, x + r0 * D, D, w + c0 * D, D, 0.0f, z, n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            z[i * n + j] += bias[c0 + j];
}

/* Mean loss and its gradients, one tile of ROWS x COLS logits at a time. */
static double chunked(const float *x, const float *w, const float *bias, const int64_t *labels, float *gx,
                      float *gw, float *gb) {
    static float z[ROWS * COLS];
    static ssm_ce_stats stats[ROWS], tile[ROWS];
    static double losses[ROWS];
    double den, total = 0.0;
    check(ssm_cross_entropy_denominator(labels, NULL, N, V, IGNORE, &den), "cross_entropy_denominator");
    const double divisor = den > 0 ? den : INFINITY; /* every target ignored: zero gradients */
    memset(gx, 0, sizeof(float) * N * D);
    memset(gw, 0, sizeof(float) * V * D);
    memset(gb, 0, sizeof(float) * V);
    for (size_t r0 = 0; r0 < N; r0 += ROWS) {
        const size_t m = N - r0 < ROWS ? N - r0 : ROWS;
        for (size_t c0 = 0; c0 < V; c0 += COLS) {
            const size_t n = V - c0 < COLS ? V - c0 : COLS;
            logits_tile(x, w, bias, r0, m, c0, n, z);
            ssm_ce_stats *into = c0 == 0 ? stats : tile;
            check(ssm_ce_stats_f32(z, labels + r0, NULL, m, n, 1, c0, V, IGNORE, into), "ce_stats");
            if (c0 != 0)
                check(ssm_ce_stats_merge(stats, tile, stats, m), "ce_stats_merge");
        }
        check(ssm_cross_entropy_from_stats(stats, labels + r0, NULL, m, V, IGNORE, SMOOTHING,
                                           SSM_REDUCTION_NONE, losses),
              "cross_entropy_from_stats");
        for (size_t i = 0; i < m; i++)
            total += losses[i];
        for (size_t c0 = 0; c0 < V; c0 += COLS) {
            const size_t n = V - c0 < COLS ? V - c0 : COLS;
            logits_tile(x, w, bias, r0, m, c0, n, z);
            check(ssm_cross_entropy_grad_from_stats_f32(z, labels + r0, NULL, m, n, 1, c0, V, IGNORE, SMOOTHING,
                                                        stats, divisor, z),
                  "cross_entropy_grad_from_stats");
            gemm(0, 0, m, D, n, z, n, w + c0 * D, D, 1.0f, gx + r0 * D, D);    /* grad_x += G W_c */
            gemm(1, 0, n, D, m, z, n, x + r0 * D, D, 1.0f, gw + c0 * D, D);    /* grad_W_c += G^T X */
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++)
                    gb[c0 + j] += z[i * n + j];
        }
    }
    return total / den;
}

/* The materialised computation: every logit at once, the fused kernel, the gradient products. */
static double materialised(const float *x, const float *w, const float *bias, const int64_t *labels, float *gx,
                           float *gw, float *gb) {
    float *z = malloc(sizeof(float) * N * V);
    float loss;
    if (!z) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    logits_tile(x, w, bias, 0, N, 0, V, z);
    check(ssm_cross_entropy_f32(z, labels, NULL, N, V, 1, IGNORE, (float)SMOOTHING, SSM_REDUCTION_MEAN, &loss, z),
          "cross_entropy");
    gemm(0, 0, N, D, V, z, V, w, D, 0.0f, gx, D);
    gemm(1, 0, V, D, N, z, V, x, D, 0.0f, gw, D);
    for (size_t j = 0; j < V; j++) {
        double s = 0.0;
        for (size_t i = 0; i < N; i++)
            s += z[i * V + j];
        gb[j] = (float)s;
    }
    free(z);
    return loss;
}

/* ||a - b|| / ||b|| */
static double relative_error(const float *a, const float *b, size_t count) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < count; i++) {
        const double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return sqrt(num / (den > 0 ? den : 1.0));
}

static uint64_t state = 0x9E3779B97F4A7C15u;
static double uniform(void) { /* xorshift64*: reproducible inputs without rand()'s limits */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (double)((state * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

int main(void) {
    static float x[N * D], w[V * D], bias[V];
    static float gx[N * D], gw[V * D], gb[V], rgx[N * D], rgw[V * D], rgb[V];
    static int64_t labels[N];
    for (size_t i = 0; i < N * D; i++)
        x[i] = (float)(2.0 * uniform() - 1.0);
    for (size_t i = 0; i < V * D; i++)
        w[i] = (float)(0.6 * uniform() - 0.3);
    for (size_t j = 0; j < V; j++)
        bias[j] = j % 97 == 0 ? -30.0f : (float)(uniform() - 0.5); /* some classes all but never predicted */
    for (size_t i = 0; i < N; i++)
        labels[i] = i % 17 == 0 ? IGNORE : (int64_t)(uniform() * V);

    const double loss = chunked(x, w, bias, labels, gx, gw, gb);
    const double ref = materialised(x, w, bias, labels, rgx, rgw, rgb);
    const double e_loss = fabs(loss - ref) / fabs(ref);
    const double e_gx = relative_error(gx, rgx, N * D), e_gw = relative_error(gw, rgw, V * D),
                 e_gb = relative_error(gb, rgb, V);
    printf("swiftsoftmax %s: linear + cross-entropy, N=%d D=%d V=%d in tiles of %dx%d logits (%s product)\n",
           ssm_version(), N, D, V, ROWS, COLS,
#ifdef SSM_EXAMPLE_CBLAS
           "cblas"
#else
           "plain-loop"
#endif
    );
    printf("  mean loss %.7f (materialised %.7f, relative difference %.2g)\n", loss, ref, e_loss);
    printf("  relative gradient differences: x %.2g, weight %.2g, bias %.2g\n", e_gx, e_gw, e_gb);
    /* float32 tiles and products: differences of a few float32 roundings are expected. */
    const int ok = e_loss < 1e-5 && e_gx < 1e-4 && e_gw < 1e-4 && e_gb < 1e-4;
    printf("%s\n", ok ? "OK: the tiled loop equals the materialised computation" : "MISMATCH");
    return ok ? 0 : 1;
}
