/* C99 test of the derivative, one-hot and cross-entropy entry points of libswiftsoftmax: every
 * function in f32 and f64, the article's numbers, PyTorch's semantics on small cases, and every
 * error status with its buffers left untouched. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "swiftsoftmax.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        ++checks;                                                                   \
        if (!(cond)) {                                                              \
            ++failures;                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

static int close_to(double a, double b, double rel) {
    return fabs(a - b) <= rel * (fabs(b) + 1e-300) || (a == b);
}

/* The article: softmax([0,2,4]) = [0.0159, 0.1173, 0.8668]. */
static const double X3[3] = {0.0, 2.0, 4.0};

static void reference_softmax(const double *x, double *p, int n) {
    double m = x[0], s = 0.0;
    int i;
    for (i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    for (i = 0; i < n; ++i) { p[i] = exp(x[i] - m); s += p[i]; }
    for (i = 0; i < n; ++i) p[i] /= s;
}

static void test_jacobian(void) {
    double jac[9], p[3];
    float xf[3] = {0.0f, 2.0f, 4.0f}, jf[9];
    int i, j;
    reference_softmax(X3, p, 3);
    CHECK(ssm_softmax_jacobian_f64(X3, jac, 1, 3, 1, 1.0) == SSM_OK);
    CHECK(ssm_softmax_jacobian_f32(xf, jf, 1, 3, 1, 1.0f) == SSM_OK);
    for (i = 0; i < 3; ++i) {
        for (j = 0; j < 3; ++j) {
            double want = i == j ? p[i] * (1 - p[i]) : -p[i] * p[j];
            CHECK(close_to(jac[i * 3 + j], want, 1e-14));
            CHECK(close_to(jf[i * 3 + j], want, 1e-6));
        }
    }
    {   /* p(1-p) peaks at p = 1/2: two equal scores give 1/4 exactly. */
        double x2[2] = {1.0, 1.0}, j2[4];
        CHECK(ssm_softmax_jacobian_f64(x2, j2, 1, 2, 1, 1.0) == SSM_OK);
        CHECK(j2[0] == 0.25 && j2[1] == -0.25);
    }
    {   /* [outer=1, n=2, inner=2]: jac is [1, 2, 2, 2], slice j reads x[j], x[2 + j]. */
        double x4[4] = {0.0, 5.0, 0.0, 5.0}, j4[8];
        CHECK(ssm_softmax_jacobian_f64(x4, j4, 1, 2, 2, 1.0) == SSM_OK);
        CHECK(j4[0] == 0.25 && j4[4] == 0.25);
    }
}

static void test_vjp(void) {
    double y[2] = {0.25, 0.75}, g[2] = {1.0, 0.0}, dx[2];
    float yf[2] = {0.25f, 0.75f}, gf[2] = {1.0f, 0.0f}, dxf[2];
    double logy[3], gl[3] = {0.0, 0.0, -1.0}, dl[3], p[3];
    float logyf[3], glf[3] = {0.0f, 0.0f, -1.0f}, dlf[3];
    int i;
    CHECK(ssm_softmax_vjp_f64(y, g, dx, 1, 2, 1, 1.0) == SSM_OK);
    CHECK(dx[0] == 0.1875 && dx[1] == -0.1875);
    CHECK(ssm_softmax_vjp_f32(yf, gf, dxf, 1, 2, 1, 1.0f) == SSM_OK);
    CHECK(dxf[0] == 0.1875f && dxf[1] == -0.1875f);
    CHECK(ssm_softmax_vjp_f64(y, g, dx, 1, 2, 1, 0.5) == SSM_OK);
    CHECK(dx[0] == 0.375);
    /* in place: dx == g */
    CHECK(ssm_softmax_vjp_f64(y, g, g, 1, 2, 1, 1.0) == SSM_OK);
    CHECK(g[0] == 0.1875);

    reference_softmax(X3, p, 3);
    for (i = 0; i < 3; ++i) logy[i] = log(p[i]);
    CHECK(ssm_log_softmax_vjp_f64(logy, gl, dl, 1, 3, 1, 1.0) == SSM_OK);
    for (i = 0; i < 3; ++i) {
        logyf[i] = (float)logy[i];
        CHECK(close_to(dl[i], p[i] - (i == 2), 1e-14));
    }
    CHECK(ssm_log_softmax_vjp_f32(logyf, glf, dlf, 1, 3, 1, 1.0f) == SSM_OK);
    for (i = 0; i < 3; ++i) CHECK(close_to(dlf[i], p[i] - (i == 2), 1e-6));
    {   /* all -inf row: zero gradient */
        double ninf[2] = {-INFINITY, -INFINITY}, gg[2] = {1.0, 2.0}, d[2] = {7.0, 7.0};
        CHECK(ssm_log_softmax_vjp_f64(ninf, gg, d, 1, 2, 1, 1.0) == SSM_OK);
        CHECK(d[0] == 0.0 && d[1] == 0.0);
    }
}

static void test_one_hot(void) {
    int64_t labels[3] = {2, 0, 1};
    float of[9];
    double od[9];
    int i;
    CHECK(ssm_one_hot_f32(labels, 3, 3, of) == SSM_OK);
    CHECK(ssm_one_hot_f64(labels, 3, 3, od) == SSM_OK);
    for (i = 0; i < 9; ++i) {
        float want = (i == 2 || i == 3 || i == 7) ? 1.0f : 0.0f;
        CHECK(of[i] == want && od[i] == (double)want);
    }
    CHECK(ssm_one_hot_f64(NULL, 0, 3, NULL) == SSM_OK);
}

static void test_cross_entropy(void) {
    int64_t label = 2;
    double loss, grad[3], p[3];
    float xf[3] = {0.0f, 2.0f, 4.0f}, lossf, gradf[3];
    int i;
    reference_softmax(X3, p, 3);

    /* The article's c3 example: loss = -ln 0.8668. */
    CHECK(ssm_cross_entropy_f64(X3, &label, NULL, 1, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, &loss, grad) == SSM_OK);
    CHECK(fabs(loss - -log(0.8668)) < 1e-4);
    CHECK(close_to(loss, -log(p[2]), 1e-14));
    for (i = 0; i < 3; ++i) CHECK(close_to(grad[i], p[i] - (i == 2), 1e-14));
    CHECK(ssm_cross_entropy_f32(xf, &label, NULL, 1, 3, 1, -100, 0.0f, SSM_REDUCTION_SUM, &lossf, gradf) == SSM_OK);
    CHECK(close_to(lossf, -log(p[2]), 1e-6));
    for (i = 0; i < 3; ++i) CHECK(close_to(gradf[i], p[i] - (i == 2), 1e-6));
    /* loss only: grad may be NULL */
    CHECK(ssm_cross_entropy_f32(xf, &label, NULL, 1, 3, 1, -100, 0.0f, SSM_REDUCTION_NONE, &lossf, NULL) == SSM_OK);

    {   /* A confident correct prediction: loss log1p(e^-25), target gradient -e^-25/(1+e^-25). */
        double x[2] = {0.0, 25.0}, l, g[2], e = exp(-25.0);
        int64_t y = 1;
        CHECK(ssm_cross_entropy_f64(x, &y, NULL, 1, 2, 1, -100, 0.0, SSM_REDUCTION_MEAN, &l, g) == SSM_OK);
        CHECK(close_to(l, log1p(e), 4e-16));
        CHECK(close_to(g[1], -e / (1 + e), 4e-16));
        CHECK(l > 0.0);
    }
    {   /* Weights, ignore_index and the weighted mean over (N=2, C=2, d=2): labels [2, 2]. */
        double x[8] = {0.0, 1.0, 2.0, 3.0, /* n=0 */ 1.0, 1.0, 0.0, 0.0 /* n=1 */};
        double w[2] = {1.0, 3.0}, l, none[4], g[8];
        int64_t y[4] = {1, -7, 0, 1};
        double l00, l11, l10;
        /* sample (0, 0): logits {x[0], x[2]} = {0, 2}, label 1 */
        l00 = -3.0 * (2.0 - log(1.0 + exp(2.0)));
        /* sample (1, 0): logits {1, 0}, label 0 */
        l10 = -1.0 * (1.0 - log(exp(1.0) + 1.0));
        /* sample (1, 1): logits {1, 0}, label 1 */
        l11 = -3.0 * (0.0 - log(exp(1.0) + 1.0));
        CHECK(ssm_cross_entropy_f64(x, y, w, 2, 2, 2, -7, 0.0, SSM_REDUCTION_NONE, none, g) == SSM_OK);
        CHECK(close_to(none[0], l00, 1e-14) && none[1] == 0.0);
        CHECK(close_to(none[2], l10, 1e-14) && close_to(none[3], l11, 1e-14));
        CHECK(g[1] == 0.0 && g[3] == 0.0);  /* ignored sample (0, 1) */
        CHECK(ssm_cross_entropy_f64(x, y, w, 2, 2, 2, -7, 0.0, SSM_REDUCTION_MEAN, &l, NULL) == SSM_OK);
        CHECK(close_to(l, (l00 + l10 + l11) / 7.0, 1e-14));
        CHECK(ssm_cross_entropy_f64(x, y, w, 2, 2, 2, -7, 0.0, SSM_REDUCTION_SUM, &l, NULL) == SSM_OK);
        CHECK(close_to(l, l00 + l10 + l11, 1e-14));
    }
    {   /* Every target ignored: mean is NaN, gradient zero. */
        double x[2] = {0.0, 1.0}, l, g[2] = {5.0, 5.0};
        int64_t y = -100;
        CHECK(ssm_cross_entropy_f64(x, &y, NULL, 1, 2, 1, -100, 0.0, SSM_REDUCTION_MEAN, &l, g) == SSM_OK);
        CHECK(l != l && g[0] == 0.0 && g[1] == 0.0);
    }
    {   /* Label smoothing: (1-e) NLL + (e/C) sum_c -log p_c. */
        double l, want = 0.0;
        for (i = 0; i < 3; ++i) want += -log(p[i]);
        want = 0.9 * -log(p[2]) + 0.1 / 3.0 * want;
        CHECK(ssm_cross_entropy_f64(X3, &label, NULL, 1, 3, 1, -100, 0.1, SSM_REDUCTION_MEAN, &l, NULL) == SSM_OK);
        CHECK(close_to(l, want, 1e-14));
    }
    {   /* Soft targets: one-hot probabilities equal the label; the mean divides by samples. */
        double q[3] = {0.0, 0.0, 1.0}, l, g[3], w[3] = {2.0, 2.0, 2.0};
        float qf[3] = {0.0f, 0.5f, 0.5f}, lf;
        CHECK(ssm_cross_entropy_soft_f64(X3, q, NULL, 1, 3, 1, 0.0, SSM_REDUCTION_MEAN, &l, g) == SSM_OK);
        CHECK(close_to(l, -log(p[2]), 1e-14));
        for (i = 0; i < 3; ++i) CHECK(close_to(g[i], p[i] - (i == 2), 1e-14));
        CHECK(ssm_cross_entropy_soft_f64(X3, q, w, 1, 3, 1, 0.0, SSM_REDUCTION_MEAN, &l, NULL) == SSM_OK);
        CHECK(close_to(l, -2.0 * log(p[2]), 1e-14));
        CHECK(ssm_cross_entropy_soft_f32(xf, qf, NULL, 1, 3, 1, 0.0f, SSM_REDUCTION_SUM, &lf, NULL) == SSM_OK);
        CHECK(close_to(lf, -0.5 * (log(p[1]) + log(p[2])), 1e-6));
        /* in place: the gradient overwrites the targets */
        CHECK(ssm_cross_entropy_soft_f64(X3, q, NULL, 1, 3, 1, 0.0, SSM_REDUCTION_SUM, &l, q) == SSM_OK);
        CHECK(close_to(q[2], p[2] - 1.0, 1e-14));
    }
}

/* Every error status, with the outputs untouched. */
static void test_errors(void) {
    double x[6] = {0.0, 1.0, 2.0, 2.0, 1.0, 0.0}, out[36], sentinel[36], loss = 42.0, grad[6];
    float xf[6] = {0, 1, 2, 2, 1, 0}, outf[6] = {9, 9, 9, 9, 9, 9}, lossf = 42.0f;
    int64_t good[2] = {1, 2}, bad[2] = {1, 3}, neg[2] = {-1, 0};
    const char *msg;
    int i;
    for (i = 0; i < 36; ++i) out[i] = sentinel[i] = 7.0;
    for (i = 0; i < 6; ++i) grad[i] = 7.0;

    CHECK(ssm_cross_entropy_f64(x, bad, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, &loss, grad) == SSM_LABEL_OUT_OF_RANGE);
    msg = ssm_last_error_message();
    CHECK(strstr(msg, "labels[1] = 3") != NULL);
    CHECK(loss == 42.0 && grad[0] == 7.0);
    CHECK(ssm_cross_entropy_f32(xf, neg, NULL, 2, 3, 1, -100, 0.0f, SSM_REDUCTION_MEAN, &lossf, outf) == SSM_LABEL_OUT_OF_RANGE);
    CHECK(lossf == 42.0f && outf[0] == 9.0f);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, 2, 3, 1, -100, 1.5, SSM_REDUCTION_MEAN, &loss, grad) == SSM_INVALID_ARGUMENT);
    CHECK(strstr(ssm_last_error_message(), "label_smoothing") != NULL);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, 2, 3, 1, -100, NAN, SSM_REDUCTION_MEAN, &loss, grad) == SSM_INVALID_ARGUMENT);
    CHECK(ssm_cross_entropy_f32(xf, good, NULL, 2, 3, 1, -100, -0.5f, SSM_REDUCTION_SUM, &lossf, NULL) == SSM_INVALID_ARGUMENT);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, 2, 3, 1, -100, 0.0, (ssm_reduction)7, &loss, grad) == SSM_INVALID_ARGUMENT);
    CHECK(strstr(ssm_last_error_message(), "reduction") != NULL);
    CHECK(ssm_cross_entropy_f64(NULL, good, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, &loss, grad) == SSM_NULL_POINTER);
    CHECK(ssm_cross_entropy_f64(x, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, &loss, grad) == SSM_NULL_POINTER);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, NULL, grad) == SSM_NULL_POINTER);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, &loss, x + 1) == SSM_OVERLAPPING_BUFFERS);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, x + 4, NULL) == SSM_OVERLAPPING_BUFFERS);
    CHECK(ssm_cross_entropy_f64(x, good, NULL, (size_t)-1, 3, 2, -100, 0.0, SSM_REDUCTION_MEAN, &loss, NULL) == SSM_INVALID_SHAPE);
    CHECK(ssm_cross_entropy_soft_f64(x, NULL, NULL, 2, 3, 1, 0.0, SSM_REDUCTION_MEAN, &loss, NULL) == SSM_NULL_POINTER);
    CHECK(ssm_cross_entropy_soft_f64(x, x, NULL, 2, 3, 1, 2.0, SSM_REDUCTION_MEAN, &loss, NULL) == SSM_INVALID_ARGUMENT);
    CHECK(ssm_cross_entropy_soft_f32(xf, xf, NULL, 2, 3, 1, 0.0f, (ssm_reduction)3, &lossf, NULL) == SSM_INVALID_ARGUMENT);
    {   /* NONE writes outer*inner values; a NULL loss is refused, an overlapping one too. */
        double two[2] = {42.0, 42.0};
        CHECK(ssm_cross_entropy_soft_f64(x, x, NULL, 2, 3, 1, 0.0, SSM_REDUCTION_NONE, NULL, NULL) == SSM_NULL_POINTER);
        CHECK(ssm_cross_entropy_soft_f64(x, x, NULL, 2, 3, 1, 0.0, SSM_REDUCTION_NONE, two, x + 1) == SSM_OVERLAPPING_BUFFERS);
        CHECK(two[0] == 42.0 && two[1] == 42.0);
        CHECK(ssm_cross_entropy_soft_f64(x, x, NULL, 2, 3, 1, 0.0, SSM_REDUCTION_NONE, two, NULL) == SSM_OK);
        CHECK(two[0] != 42.0 && two[1] != 42.0);
    }

    CHECK(ssm_softmax_jacobian_f64(x, out, 2, 3, 1, 0.0) == SSM_INVALID_ARGUMENT);
    CHECK(ssm_softmax_jacobian_f32(xf, NULL, 2, 3, 1, 1.0f) == SSM_NULL_POINTER);
    CHECK(ssm_softmax_jacobian_f64(x, x + 1, 1, 2, 1, 1.0) == SSM_OVERLAPPING_BUFFERS);
    CHECK(ssm_softmax_jacobian_f64(x, out, (size_t)1 << 32, (size_t)1 << 16, 1, 1.0) == SSM_INVALID_SHAPE);
    CHECK(ssm_softmax_vjp_f64(x, x, out, 2, 3, 1, INFINITY) == SSM_INVALID_ARGUMENT);
    CHECK(ssm_softmax_vjp_f64(x, x, x + 1, 1, 3, 1, 1.0) == SSM_OVERLAPPING_BUFFERS);
    CHECK(ssm_softmax_vjp_f32(xf, NULL, outf, 2, 3, 1, 1.0f) == SSM_NULL_POINTER);
    CHECK(ssm_log_softmax_vjp_f64(x, x, out, 2, 3, 1, -1.0) == SSM_INVALID_ARGUMENT);
    CHECK(ssm_log_softmax_vjp_f32(NULL, xf, outf, 2, 3, 1, 1.0f) == SSM_NULL_POINTER);
    CHECK(ssm_one_hot_f64(bad, 2, 3, out) == SSM_LABEL_OUT_OF_RANGE);
    CHECK(strstr(ssm_last_error_message(), "labels[1] = 3") != NULL);
    CHECK(ssm_one_hot_f32(neg, 2, 3, outf) == SSM_LABEL_OUT_OF_RANGE);
    CHECK(ssm_one_hot_f64(NULL, 2, 3, out) == SSM_NULL_POINTER);
    CHECK(ssm_one_hot_f64(good, (size_t)-1, 3, out) == SSM_INVALID_SHAPE);
    for (i = 0; i < 36; ++i) CHECK(out[i] == sentinel[i]);
    for (i = 0; i < 6; ++i) CHECK(outf[i] == 9.0f);
    CHECK(strcmp(ssm_status_message(SSM_LABEL_OUT_OF_RANGE), "label out of range") == 0);
}

/* Binary cross-entropy with logits: PyTorch's values, the confident case kept exact, pos_weight
 * per class, the gradient in place, and refused arguments with the outputs untouched. */
static void test_binary_cross_entropy(void) {
    const double x[4] = {0.0, 2.0, 40.0, -800.0}, t[4] = {1.0, 0.0, 1.0, 1.0}, pw[2] = {1.0, 3.0};
    const float xf[4] = {0.0f, 2.0f, 40.0f, -800.0f}, tf[4] = {1.0f, 0.0f, 1.0f, 1.0f};
    double loss[4], grad[4], m, bad_t[4] = {1.0, 0.0, 1.5, 1.0}, neg_w[2] = {1.0, -1.0};
    float lossf[4], gradf[4], mf, guard = 7.0f;
    CHECK(ssm_binary_cross_entropy_with_logits_f64(x, t, NULL, NULL, 1, 4, SSM_REDUCTION_NONE, loss, grad) == SSM_OK);
    CHECK(close_to(loss[0], log(2.0), 1e-15));
    CHECK(close_to(loss[1], 2.0 + log1p(exp(-2.0)), 1e-15));
    CHECK(close_to(loss[2], 4.248354255291589e-18, 1e-15)); /* log1p(exp(-40)), where 1 - sigmoid rounds to 0 */
    CHECK(loss[3] == 800.0);
    CHECK(close_to(grad[0], -0.5, 1e-15) && close_to(grad[2], -4.248354255291589e-18, 1e-15) && grad[3] == -1.0);
    /* pos_weight per class: rows of 2, element (r, c) takes pw[c]; mean over the 4 elements. */
    CHECK(ssm_binary_cross_entropy_with_logits_f64(x, t, NULL, pw, 2, 2, SSM_REDUCTION_NONE, loss, NULL) == SSM_OK);
    CHECK(close_to(loss[3], 2400.0, 1e-15) && close_to(loss[0], log(2.0), 1e-15));
    CHECK(ssm_binary_cross_entropy_with_logits_f64(x, t, NULL, pw, 2, 2, SSM_REDUCTION_MEAN, &m, NULL) == SSM_OK);
    CHECK(close_to(m, (log(2.0) + 2.0 + log1p(exp(-2.0)) + 4.248354255291589e-18 + 2400.0) / 4, 1e-15));
    CHECK(ssm_binary_cross_entropy_with_logits_f32(xf, tf, NULL, NULL, 1, 4, SSM_REDUCTION_NONE, lossf, gradf) == SSM_OK);
    CHECK(close_to(lossf[2], 4.248354255291589e-18, 1e-6) && lossf[3] == 800.0f);
    CHECK(ssm_binary_cross_entropy_with_logits_f32(xf, tf, NULL, NULL, 1, 4, SSM_REDUCTION_SUM, &mf, NULL) == SSM_OK);
    CHECK(close_to(mf, log(2.0) + 2.0 + log1p(exp(-2.0)) + 800.0, 1e-6));
    {   /* the gradient written over the logits */
        double xi[4];
        memcpy(xi, x, sizeof xi);
        CHECK(ssm_binary_cross_entropy_with_logits_f64(xi, t, NULL, NULL, 1, 4, SSM_REDUCTION_SUM, &m, xi) == SSM_OK);
        CHECK(close_to(xi[0], -0.5, 1e-15) && xi[3] == -1.0);
    }
    /* refused: a target outside [0, 1], a negative pos_weight, a bad reduction; nothing written */
    loss[0] = 7.0;
    CHECK(ssm_binary_cross_entropy_with_logits_f64(x, bad_t, NULL, NULL, 1, 4, SSM_REDUCTION_NONE, loss, grad) == SSM_INVALID_ARGUMENT);
    CHECK(strstr(ssm_last_error_message(), "target[2]") != NULL && loss[0] == 7.0);
    CHECK(ssm_binary_cross_entropy_with_logits_f64(x, t, NULL, neg_w, 2, 2, SSM_REDUCTION_NONE, loss, grad) == SSM_INVALID_ARGUMENT);
    CHECK(strstr(ssm_last_error_message(), "pos_weight[1]") != NULL && loss[0] == 7.0);
    CHECK(ssm_binary_cross_entropy_with_logits_f32(xf, tf, NULL, NULL, 1, 4, (ssm_reduction)9, &guard, NULL) == SSM_INVALID_ARGUMENT);
    CHECK(guard == 7.0f);
    CHECK(ssm_binary_cross_entropy_with_logits_f64(NULL, t, NULL, NULL, 1, 4, SSM_REDUCTION_SUM, &m, NULL) == SSM_NULL_POINTER);
    CHECK(ssm_binary_cross_entropy_with_logits_f64(x, t, NULL, NULL, 1, 4, SSM_REDUCTION_NONE, (double *)x + 1, NULL) == SSM_OVERLAPPING_BUFFERS);
}

/* The _ex entry points: defaults (NULL options, a zeroed struct) bit for bit as the plain ones,
 * each option against its formula, an older caller's smaller struct, and every refused option
 * leaving loss, grad and lse untouched. */
static void test_cross_entropy_options(void) {
    const double x[6] = {0.0, 2.0, 4.0, 1.0, -1.0, 3.0};
    const float xf[6] = {0.0f, 2.0f, 4.0f, 1.0f, -1.0f, 3.0f};
    const int64_t labels[2] = {2, 0};
    const double w[3] = {0.5, 1.0, 2.0}, sw[2] = {3.0, 0.25};
    const double q[6] = {0.2, 0.3, 0.5, 0.6, 0.4, 0.0};
    double loss, loss2, grad[6], grad2[6], lse[2], per[2], per2[2];
    float lossf, lossf2, gradf[6], gradf2[6], lsef[2];
    ssm_ce_options o;
    int i, r;

    /* Defaults: NULL options, or a zeroed struct of the right size. */
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    CHECK(ssm_cross_entropy_f64(x, labels, w, 2, 3, 1, -100, 0.1, SSM_REDUCTION_MEAN, &loss, grad) == SSM_OK);
    CHECK(ssm_cross_entropy_ex_f64(x, labels, w, NULL, 2, 3, 1, -100, 0.1, SSM_REDUCTION_MEAN, NULL, &loss2, grad2, NULL) == SSM_OK);
    CHECK(loss == loss2 && memcmp(grad, grad2, sizeof grad) == 0);
    CHECK(ssm_cross_entropy_ex_f64(x, labels, w, NULL, 2, 3, 1, -100, 0.1, SSM_REDUCTION_MEAN, &o, &loss2, grad2, NULL) == SSM_OK);
    CHECK(loss == loss2 && memcmp(grad, grad2, sizeof grad) == 0);
    CHECK(ssm_cross_entropy_f32(xf, labels, NULL, 2, 3, 1, -100, 0.0f, SSM_REDUCTION_SUM, &lossf, gradf) == SSM_OK);
    CHECK(ssm_cross_entropy_ex_f32(xf, labels, NULL, NULL, 2, 3, 1, -100, 0.0f, SSM_REDUCTION_SUM, NULL, &lossf2, gradf2, NULL) == SSM_OK);
    CHECK(lossf == lossf2 && memcmp(gradf, gradf2, sizeof gradf) == 0);
    CHECK(ssm_cross_entropy_soft_f64(x, q, w, 2, 3, 1, 0.0, SSM_REDUCTION_MEAN, &loss, grad) == SSM_OK);
    CHECK(ssm_cross_entropy_soft_ex_f64(x, q, w, NULL, 2, 3, 1, 0.0, SSM_REDUCTION_MEAN, &o, &loss2, grad2, NULL) == SSM_OK);
    CHECK(loss == loss2 && memcmp(grad, grad2, sizeof grad) == 0);

    /* lse: log sum exp of each row. */
    CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, NULL, per, NULL, lse) == SSM_OK);
    for (i = 0; i < 2; ++i) {
        double s = exp(x[3 * i]) + exp(x[3 * i + 1]) + exp(x[3 * i + 2]);
        CHECK(close_to(lse[i], log(s), 1e-15));
        CHECK(close_to(per[i], lse[i] - x[3 * i + labels[i]], 1e-13));  /* the difference cancels */
    }
    CHECK(ssm_cross_entropy_ex_f32(xf, labels, NULL, NULL, 2, 3, 1, -100, 0.0f, SSM_REDUCTION_NONE, NULL, gradf, NULL, lsef) == SSM_OK);
    CHECK(close_to(lsef[0], lse[0], 1e-7) && close_to(lsef[1], lse[1], 1e-7));

    /* sample_weight: the mean is sum sw l / sum sw w[y]. */
    CHECK(ssm_cross_entropy_ex_f64(x, labels, w, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, NULL, per, NULL, NULL) == SSM_OK);
    CHECK(ssm_cross_entropy_ex_f64(x, labels, w, sw, 2, 3, 1, -100, 0.0, SSM_REDUCTION_MEAN, NULL, &loss, NULL, NULL) == SSM_OK);
    CHECK(close_to(loss, (sw[0] * per[0] + sw[1] * per[1]) / (sw[0] * w[2] + sw[1] * w[0]), 1e-15));
    CHECK(ssm_cross_entropy_soft_ex_f64(x, q, NULL, sw, 2, 3, 1, 0.0, SSM_REDUCTION_NONE, NULL, per2, NULL, NULL) == SSM_OK);
    CHECK(ssm_cross_entropy_soft_ex_f64(x, q, NULL, NULL, 2, 3, 1, 0.0, SSM_REDUCTION_NONE, NULL, per, NULL, NULL) == SSM_OK);
    CHECK(close_to(per2[0], sw[0] * per[0], 1e-15) && close_to(per2[1], sw[1] * per[1], 1e-15));

    /* z_loss adds z lse^2 (weight w[y]); softcap caps the logits at cap tanh(x / cap). */
    o.z_loss = 0.01;
    CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, NULL, per, NULL, lse) == SSM_OK);
    CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, &o, per2, NULL, NULL) == SSM_OK);
    for (i = 0; i < 2; ++i) CHECK(close_to(per2[i], per[i] + 0.01 * lse[i] * lse[i], 1e-15));
    o.z_loss = 0.0;
    o.softcap = 2.0;
    CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, &o, per, NULL, lse) == SSM_OK);
    for (i = 0; i < 2; ++i) {
        double c[3], s = 0.0;
        int j;
        for (j = 0; j < 3; ++j) { c[j] = 2.0 * tanh(x[3 * i + j] / 2.0); s += exp(c[j]); }
        CHECK(close_to(lse[i], log(s), 1e-15));
        CHECK(close_to(per[i], log(s) - c[labels[i]], 1e-14));
    }
    /* A caller built against a header without softcap: the field past struct_size is ignored. */
    o.struct_size = sizeof(size_t) + sizeof(double);
    CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, &o, per2, NULL, NULL) == SSM_OK);
    CHECK(ssm_cross_entropy_f64(x, labels, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, per, NULL) == SSM_OK);
    CHECK(per2[0] == per[0] && per2[1] == per[1]);

    /* Refused, nothing written. */
    {
        const double bad_sw[2] = {1.0, -1.0}, nan_sw[2] = {NAN, 1.0};
        struct { double z, cap; size_t size; const double *sw; const char *name; } cases[] = {
            {-1.0, 0.0, sizeof(ssm_ce_options), NULL, "z_loss"},
            {NAN, 0.0, sizeof(ssm_ce_options), NULL, "z_loss"},
            {INFINITY, 0.0, sizeof(ssm_ce_options), NULL, "z_loss"},
            {0.0, -1.0, sizeof(ssm_ce_options), NULL, "softcap"},
            {0.0, NAN, sizeof(ssm_ce_options), NULL, "softcap"},
            {0.0, INFINITY, sizeof(ssm_ce_options), NULL, "softcap"},
            {0.0, 0.0, sizeof(ssm_ce_options), bad_sw, "sample_weight[1]"},
            {0.0, 0.0, sizeof(ssm_ce_options), nan_sw, "sample_weight[0]"},
            {0.0, 0.0, 0, NULL, "struct_size"},
        };
        for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); ++i) {
            double l[2] = {7.0, 7.0}, g[6], e[2] = {7.0, 7.0};
            int j, untouched = 1;
            for (j = 0; j < 6; ++j) g[j] = 7.0;
            o.struct_size = cases[i].size;
            o.z_loss = cases[i].z;
            o.softcap = cases[i].cap;
            r = ssm_cross_entropy_ex_f64(x, labels, NULL, cases[i].sw, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, &o, l, g, e);
            CHECK(r == SSM_INVALID_ARGUMENT);
            CHECK(strstr(ssm_last_error_message(), cases[i].name) != NULL);
            for (j = 0; j < 6; ++j) untouched &= g[j] == 7.0;
            CHECK(untouched && l[0] == 7.0 && l[1] == 7.0 && e[0] == 7.0 && e[1] == 7.0);
            r = ssm_cross_entropy_soft_ex_f64(x, q, NULL, cases[i].sw, 2, 3, 1, 0.0, SSM_REDUCTION_NONE, &o, l, g, e);
            CHECK(r == SSM_INVALID_ARGUMENT && l[0] == 7.0 && e[1] == 7.0 && g[5] == 7.0);
        }
        /* lse overlapping the logits or the loss */
        CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, NULL, per, NULL, (double *)x + 1) == SSM_OVERLAPPING_BUFFERS);
        CHECK(ssm_cross_entropy_ex_f64(x, labels, NULL, NULL, 2, 3, 1, -100, 0.0, SSM_REDUCTION_NONE, NULL, per, NULL, per) == SSM_OVERLAPPING_BUFFERS);
    }
}

/* KL(P || Q) per row from log-probabilities in double: the plain definition, for values far from
 * the cancelling regime. */
static double reference_kl(const double *a, const double *b, int n) {
    double p[16], q[16], kl = 0.0;
    int i;
    reference_softmax(a, p, n);
    reference_softmax(b, q, n);
    for (i = 0; i < n; ++i) kl += p[i] * (log(p[i]) - log(q[i]));
    return kl;
}

/* KL divergence, entropy and NLL: values against the definitions, axis 0 (inner > 1), the
 * gradient in place, the special values of docs/design.md, refused arguments with nothing
 * written. */
static void test_divergences(void) {
    const double a[6] = {0.0, 1.0, 2.0, 0.5, -1.0, 3.0}, b[6] = {2.0, 1.0, 0.0, 0.5, 0.0, 1.0};
    const float af[3] = {0.0f, 1.0f, 2.0f}, bf[3] = {2.0f, 1.0f, 0.0f};
    double kl[2], gp[6], gq[6], h[2], m, p[3], guard = 7.0, ai[6];
    float klf, hf;
    int i;
    CHECK(ssm_kl_div_f64(a, b, 2, 3, 1, 1.0, SSM_REDUCTION_NONE, kl, gp, gq) == SSM_OK);
    CHECK(close_to(kl[0], reference_kl(a, b, 3), 1e-14) && close_to(kl[1], reference_kl(a + 3, b + 3, 3), 1e-14));
    CHECK(ssm_kl_div_f64(a, b, 2, 3, 1, 1.0, SSM_REDUCTION_MEAN, &m, NULL, NULL) == SSM_OK);
    CHECK(close_to(m, (kl[0] + kl[1]) / 2, 1e-15));
    {   /* gradients: P (d - KL) and Q - P (the sum over rows, reduction none) */
        double q[3];
        reference_softmax(a, p, 3);
        reference_softmax(b, q, 3);
        for (i = 0; i < 3; ++i) {
            CHECK(fabs(gp[i] - p[i] * (log(p[i]) - log(q[i]) - kl[0])) <= 1e-15);
            CHECK(fabs(gq[i] - (q[i] - p[i])) <= 1e-15);
        }
    }
    {   /* both gradients written over their own logits */
        double pi[6], qi[6];
        memcpy(pi, a, sizeof pi);
        memcpy(qi, b, sizeof qi);
        CHECK(ssm_kl_div_f64(pi, qi, 2, 3, 1, 1.0, SSM_REDUCTION_NONE, kl, pi, qi) == SSM_OK);
        for (i = 0; i < 6; ++i) CHECK(pi[i] == gp[i] && qi[i] == gq[i]);
    }
    CHECK(ssm_kl_div_f32(af, bf, 1, 3, 1, 1.0f, SSM_REDUCTION_SUM, &klf, NULL, NULL) == SSM_OK);
    CHECK(close_to(klf, reference_kl(a, b, 3), 1e-6));
    {   /* axis 0 of a [3, 2] array: columns (a[0], a[2], a[4]) and (a[1], a[3], a[5]) */
        double ca[3] = {a[0], a[2], a[4]}, cb[3] = {b[0], b[2], b[4]};
        CHECK(ssm_kl_div_f64(a, b, 1, 3, 2, 1.0, SSM_REDUCTION_NONE, kl, NULL, NULL) == SSM_OK);
        CHECK(close_to(kl[0], reference_kl(ca, cb, 3), 1e-14));
    }
    {   /* temperature 2 is the divergence of the halved logits */
        double ha[3] = {0.0, 0.5, 1.0}, hb[3] = {1.0, 0.5, 0.0};
        CHECK(ssm_kl_div_f64(a, b, 1, 3, 1, 2.0, SSM_REDUCTION_SUM, &m, NULL, NULL) == SSM_OK);
        CHECK(close_to(m, reference_kl(ha, hb, 3), 1e-14));
    }
    {   /* special values: identical rows 0; q = 0 < p gives +inf; NaN gives NaN */
        double x[3] = {1.0, 2.0, 3.0}, qinf[3] = {1.0, -INFINITY, 3.0}, xn[3] = {1.0, NAN, 3.0};
        CHECK(ssm_kl_div_f64(x, x, 1, 3, 1, 1.0, SSM_REDUCTION_SUM, &m, NULL, NULL) == SSM_OK && m == 0.0);
        CHECK(ssm_kl_div_f64(x, qinf, 1, 3, 1, 1.0, SSM_REDUCTION_SUM, &m, NULL, NULL) == SSM_OK && m == INFINITY);
        CHECK(ssm_kl_div_f64(qinf, x, 1, 3, 1, 1.0, SSM_REDUCTION_SUM, &m, NULL, NULL) == SSM_OK && isfinite(m) && m > 0);
        CHECK(ssm_kl_div_f64(xn, x, 1, 3, 1, 1.0, SSM_REDUCTION_SUM, &m, NULL, NULL) == SSM_OK && isnan(m));
    }
    /* entropy: log 4 for a uniform row, log 2 for two +inf entries, in-place gradient */
    {
        const double u[8] = {0.0, 0.0, 0.0, 0.0, INFINITY, 1.0, INFINITY, 2.0};
        CHECK(ssm_entropy_f64(u, 2, 4, 1, 1.0, h, NULL) == SSM_OK);
        CHECK(close_to(h[0], log(4.0), 1e-15) && close_to(h[1], log(2.0), 1e-15));
        CHECK(ssm_entropy_f32(af, 1, 3, 1, 1.0f, &hf, NULL) == SSM_OK);
        reference_softmax(a, p, 3);
        CHECK(close_to(hf, -(p[0] * log(p[0]) + p[1] * log(p[1]) + p[2] * log(p[2])), 1e-6));
        memcpy(ai, a, sizeof ai);
        CHECK(ssm_entropy_f64(ai, 1, 3, 1, 1.0, h, ai) == SSM_OK);
        for (i = 0; i < 3; ++i) CHECK(fabs(ai[i] + p[i] * (log(p[i]) + h[0])) <= 1e-15);
    }
    /* nll_loss: -w[y] logp[y], ignore_index, the weighted mean, axis 0 */
    {
        const double lp[6] = {-0.5, -1.5, -2.0, -0.25, -3.0, -1.0}, w[2] = {2.0, 1.0};
        const int64_t y[3] = {1, 0, -100}, bad[3] = {1, 2, 0};
        double l3[3];
        CHECK(ssm_nll_loss_f64(lp, y, NULL, 3, 2, 1, -100, SSM_REDUCTION_NONE, l3) == SSM_OK);
        CHECK(l3[0] == 1.5 && l3[1] == 2.0 && l3[2] == 0.0);
        CHECK(ssm_nll_loss_f64(lp, y, w, 3, 2, 1, -100, SSM_REDUCTION_MEAN, &m) == SSM_OK);
        CHECK(m == (1.5 + 4.0) / 3.0);
        CHECK(ssm_nll_loss_f64(lp, y, NULL, 1, 3, 2, -100, SSM_REDUCTION_NONE, l3) == SSM_OK);
        /* [1, 3, 2]: sample j reads lp[c * 2 + j]; labels 1 and 0 pick lp[2] and lp[1] */
        CHECK(l3[0] == 2.0 && l3[1] == 1.5);
        l3[0] = 7.0;
        CHECK(ssm_nll_loss_f64(lp, bad, NULL, 3, 2, 1, -100, SSM_REDUCTION_NONE, l3) == SSM_LABEL_OUT_OF_RANGE);
        CHECK(strstr(ssm_last_error_message(), "labels[1]") != NULL && l3[0] == 7.0);
    }
    /* refused: temperature 0, inf or NaN, null pointers, an output over an input; nothing written */
    CHECK(ssm_kl_div_f64(a, b, 1, 3, 1, 0.0, SSM_REDUCTION_SUM, &guard, NULL, NULL) == SSM_INVALID_ARGUMENT && guard == 7.0);
    CHECK(ssm_kl_div_f64(a, b, 1, 3, 1, NAN, SSM_REDUCTION_SUM, &guard, NULL, NULL) == SSM_INVALID_ARGUMENT && guard == 7.0);
    CHECK(ssm_entropy_f64(a, 1, 3, 1, INFINITY, &guard, NULL) == SSM_INVALID_ARGUMENT && guard == 7.0);
    CHECK(ssm_kl_div_f64(a, NULL, 1, 3, 1, 1.0, SSM_REDUCTION_SUM, &guard, NULL, NULL) == SSM_NULL_POINTER);
    CHECK(ssm_kl_div_f64(a, b, 1, 3, 1, 1.0, (ssm_reduction)9, &guard, NULL, NULL) == SSM_INVALID_ARGUMENT && guard == 7.0);
    CHECK(ssm_entropy_f64(a, 1, 3, 1, 1.0, (double *)a + 1, NULL) == SSM_OVERLAPPING_BUFFERS);
    CHECK(ssm_kl_div_f64(a, b, 1, 3, 1, 1.0, SSM_REDUCTION_SUM, &m, (double *)b, NULL) == SSM_OVERLAPPING_BUFFERS);
}

int main(void) {
    test_jacobian();
    test_vjp();
    test_one_hot();
    test_cross_entropy();
    test_cross_entropy_options();
    test_errors();
    test_binary_cross_entropy();
    test_divergences();
    if (failures) {
        fprintf(stderr, "loss_test: %d passed, %d failed\n", checks - failures, failures);
        return 1;
    }
    printf("loss_test: %d passed, 0 failed\n", checks);
    return 0;
}
