/* abi_test.c: calls every function declared in include/swiftsoftmax.h, for float and double,
 * and checks values, status codes, and that outputs are untouched when a call fails.
 * Prints "N passed, M failed" and exits nonzero on any failure.  C99. */
#include "swiftsoftmax.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond) do { \
    if (cond) { passed++; } \
    else { failed++; fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STATUS(call, want) do { \
    ssm_status got_ = (call); \
    if (got_ == (want)) { passed++; } \
    else { failed++; fprintf(stderr, "%s:%d: %s returned %d (%s; %s), wanted %d\n", __FILE__, __LINE__, \
                             #call, (int)got_, ssm_status_message(got_), ssm_last_error_message(), (int)(want)); } \
} while (0)

/* Relative closeness in units of the type's epsilon (absolute for zero). */
static int close_d(double got, double want, double ulps, double eps) {
    if (isnan(want)) return isnan(got);
    if (isinf(want) || want == 0) return got == want;
    return fabs(got - want) <= ulps * eps * fabs(want);
}

/* Generates, for T in {float, double}, a function test_<S>() exercising every _<S> export. */
#define DEFINE_TESTS(T, S, EPS) \
static int same_##S(const T *a, const T *b, size_t n) { return memcmp(a, b, n * sizeof(T)) == 0; } \
static void fill_##S(T *a, size_t n, T v) { size_t i; for (i = 0; i < n; i++) a[i] = v; } \
static void test_##S(void) { \
    const double eps = EPS; \
    T x[6] = {0, 2, 4, 1, 1, 1}; \
    T y[6], ref[6], keep[12], buf[12]; \
    uint8_t mask[6] = {1, 1, 0, 1, 0, 0}; \
    size_t i; \
    double s = exp(0.0) + exp(2.0) + exp(4.0); \
    /* softmax: the article's numbers, and a uniform row */ \
    CHECK_STATUS(ssm_softmax_##S(x, y, 2, 3, 1, 1), SSM_OK); \
    CHECK(close_d(y[0], exp(0.0) / s, 4, eps) && close_d(y[1], exp(2.0) / s, 4, eps) && close_d(y[2], exp(4.0) / s, 4, eps)); \
    CHECK(fabs(y[0] - 0.0159) < 5e-5 && fabs(y[1] - 0.1173) < 5e-5 && fabs(y[2] - 0.8668) < 5e-5); \
    CHECK(close_d(y[3], 1.0 / 3, 2, eps) && y[3] == y[4] && y[4] == y[5]); \
    /* log_softmax */ \
    CHECK_STATUS(ssm_log_softmax_##S(x, y, 2, 3, 1, 1), SSM_OK); \
    /* exact values (mpmath, 40 digits) rounded to double */ \
    CHECK(close_d(y[0], -4.142931628499899, 4, eps) && close_d(y[1], -2.1429316284998996, 4, eps) && \
          close_d(y[2], -0.14293162849989952, 4, eps)); \
    CHECK(close_d(y[3], -log(3.0), 4, eps)); \
    /* temperature: softmax(x, T=2) = softmax(x/2) */ \
    CHECK_STATUS(ssm_softmax_##S(x, y, 1, 3, 1, 2), SSM_OK); \
    { double s2 = exp(0.0) + exp(1.0) + exp(2.0); CHECK(close_d(y[2], exp(2.0) / s2, 4, eps)); } \
    CHECK_STATUS(ssm_log_softmax_##S(x, y, 1, 3, 1, (T)0.5), SSM_OK); \
    { double s3 = exp(0.0) + exp(4.0) + exp(8.0); CHECK(close_d(y[0], -log(s3), 4, eps)); } \
    /* middle axis: x as [outer=1, n=3, inner=2] reduces columns {0,4,1}... */ \
    { T xc[6] = {0, 1, 2, 1, 4, 1}; \
      double sc = exp(0.0) + exp(2.0) + exp(4.0); \
      CHECK_STATUS(ssm_softmax_##S(xc, y, 1, 3, 2, 1), SSM_OK); \
      CHECK(close_d(y[0], 1 / sc, 4, eps) && close_d(y[2], exp(2.0) / sc, 4, eps) && close_d(y[4], exp(4.0) / sc, 4, eps)); \
      CHECK(close_d(y[1], 1.0 / 3, 2, eps) && y[1] == y[3] && y[3] == y[5]); \
      CHECK_STATUS(ssm_logsumexp_##S(xc, ref, 1, 3, 2), SSM_OK); \
      CHECK(close_d(ref[0], log(sc), 4, eps) && close_d(ref[1], 1 + log(3.0), 4, eps)); } \
    /* masked variants: row 0 keeps {0,2}, row 1 keeps only entry 0 */ \
    CHECK_STATUS(ssm_softmax_masked_##S(x, mask, y, 2, 3, 1, 1), SSM_OK); \
    CHECK(close_d(y[0], 1 / (1 + exp(2.0)), 4, eps) && close_d(y[1], exp(2.0) / (1 + exp(2.0)), 4, eps) && y[2] == 0); \
    CHECK(y[3] == 1 && y[4] == 0 && y[5] == 0); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(x, mask, y, 2, 3, 1, 1), SSM_OK); \
    CHECK(close_d(y[1], -log1p(exp(-2.0)), 4, eps) && isinf(y[2]) && y[2] < 0 && y[3] == 0 && isinf(y[5])); \
    CHECK_STATUS(ssm_logsumexp_masked_##S(x, mask, ref, 2, 3, 1), SSM_OK); \
    CHECK(close_d(ref[0], 2 + log1p(exp(-2.0)), 4, eps) && ref[1] == 1); \
    { uint8_t none[3] = {0, 0, 0}; \
      CHECK_STATUS(ssm_softmax_masked_##S(x, none, y, 1, 3, 1, 1), SSM_OK); \
      CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0); \
      CHECK_STATUS(ssm_log_softmax_masked_##S(x, none, y, 1, 3, 1, 1), SSM_OK); \
      CHECK(isinf(y[0]) && y[0] < 0 && isinf(y[2])); \
      CHECK_STATUS(ssm_logsumexp_masked_##S(x, none, ref, 1, 3, 1), SSM_OK); \
      CHECK(isinf(ref[0]) && ref[0] < 0); } \
    /* logsumexp: [1000, 1000] and the empty row */ \
    { T big[2] = {1000, 1000}; \
      CHECK_STATUS(ssm_logsumexp_##S(big, ref, 1, 2, 1), SSM_OK); \
      CHECK(close_d(ref[0], 1000 + log(2.0), 2, eps)); \
      ref[0] = 7; ref[1] = 7; \
      CHECK_STATUS(ssm_logsumexp_##S(NULL, ref, 2, 0, 1), SSM_OK); \
      CHECK(isinf(ref[0]) && ref[0] < 0 && isinf(ref[1])); } \
    /* logsumexp with scale factors: row 0 is log(e^2 - e) with sign -1, row 1 an exact 0; then a \
     * factor 0 that hides +inf and a mask */ \
    { T xs[4] = {1, 2, 1, 1}, bs[4] = {1, -1, 1, -1}, sg[2] = {7, 7}; \
      uint8_t m2[4] = {1, 1, 1, 0}; \
      CHECK_STATUS(ssm_logsumexp_scaled_##S(xs, bs, ref, sg, 2, 2, 1), SSM_OK); \
      CHECK(close_d(ref[0], 1.5413248546129181, 2, eps) && sg[0] == -1); \
      CHECK(isinf(ref[1]) && ref[1] < 0 && sg[1] == 0); \
      CHECK_STATUS(ssm_logsumexp_scaled_##S(xs, bs, ref, NULL, 2, 2, 1), SSM_OK); \
      CHECK(isnan(ref[0]) && isinf(ref[1]) && ref[1] < 0); \
      xs[1] = (T)INFINITY; bs[1] = 0; \
      CHECK_STATUS(ssm_logsumexp_scaled_masked_##S(xs, bs, m2, ref, sg, 2, 2, 1), SSM_OK); \
      CHECK(close_d(ref[0], 1, 2, eps) && sg[0] == 1 && close_d(ref[1], 1, 2, eps) && sg[1] == 1); } \
    /* special values */ \
    { T sp[4] = {(T)INFINITY, 0, (T)INFINITY, -(T)INFINITY}; \
      CHECK_STATUS(ssm_softmax_##S(sp, y, 1, 4, 1, 1), SSM_OK); \
      CHECK(y[0] == (T)0.5 && y[1] == 0 && y[2] == (T)0.5 && y[3] == 0); \
      CHECK_STATUS(ssm_log_softmax_##S(sp, y, 1, 4, 1, 1), SSM_OK); \
      CHECK(close_d(y[0], -log(2.0), 1, eps) && isinf(y[1]) && isinf(y[3])); \
      CHECK_STATUS(ssm_logsumexp_##S(sp, ref, 1, 4, 1), SSM_OK); \
      CHECK(isinf(ref[0]) && ref[0] > 0); \
      sp[1] = (T)NAN; \
      CHECK_STATUS(ssm_softmax_##S(sp, y, 1, 4, 1, 1), SSM_OK); \
      CHECK(isnan(y[0]) && isnan(y[1]) && isnan(y[2]) && isnan(y[3])); \
      CHECK_STATUS(ssm_logsumexp_##S(sp, ref, 1, 4, 1), SSM_OK); \
      CHECK(isnan(ref[0])); \
      fill_##S(sp, 4, -(T)INFINITY); \
      CHECK_STATUS(ssm_softmax_##S(sp, y, 1, 4, 1, 1), SSM_OK); \
      CHECK(y[0] == 0 && y[3] == 0); \
      CHECK_STATUS(ssm_logsumexp_##S(sp, ref, 1, 4, 1), SSM_OK); \
      CHECK(isinf(ref[0]) && ref[0] < 0); } \
    /* sigmoid / log_sigmoid; softmax([v, 0])[0] == sigmoid(v) */ \
    { T v[4] = {-3, 0, 2, 40}, two[2] = {2, 0}; \
      CHECK_STATUS(ssm_sigmoid_##S(v, y, 4), SSM_OK); \
      CHECK(close_d(y[0], 1 / (1 + exp(3.0)), 4, eps) && y[1] == (T)0.5 && close_d(y[2], 1 / (1 + exp(-2.0)), 4, eps)); \
      CHECK_STATUS(ssm_softmax_##S(two, ref, 1, 2, 1, 1), SSM_OK); \
      CHECK(close_d(ref[0], y[2], 4, eps)); \
      CHECK_STATUS(ssm_log_sigmoid_##S(v, y, 4), SSM_OK); \
      CHECK(close_d(y[0], -3 - log1p(exp(-3.0)), 4, eps) && close_d(y[1], -log(2.0), 2, eps) && close_d(y[3], -exp(-40.0), 4, eps)); } \
    /* normalize: the article's [0, 2, 4] and [0, 102, 104] */ \
    { T nx[6] = {0, 2, 4, 0, 102, 104}; \
      CHECK_STATUS(ssm_normalize_##S(nx, y, 2, 3, 1), SSM_OK); \
      CHECK(y[0] == 0 && close_d(y[1], 1.0 / 3, 1, eps) && close_d(y[2], 2.0 / 3, 1, eps)); \
      CHECK(y[3] == 0 && close_d(y[4], 102.0 / 206, 1, eps) && close_d(y[5], 104.0 / 206, 1, eps)); } \
    /* logcumsumexp: rows [-inf, 0, 0] (a -inf prefix gives -inf, never NaN) and [0, nan, 1];
       over axis 0 of a 2 x 3 array */ \
    { T cx[6] = {-(T)INFINITY, 0, 0, 0, (T)NAN, 1}; \
      CHECK_STATUS(ssm_logcumsumexp_##S(cx, y, 2, 3, 1), SSM_OK); \
      CHECK(isinf(y[0]) && y[0] < 0 && y[1] == 0 && close_d(y[2], log(2.0), 1, eps)); \
      CHECK(y[3] == 0 && isnan(y[4]) && isnan(y[5])); \
      CHECK_STATUS(ssm_logcumsumexp_##S(cx, y, 1, 2, 3), SSM_OK); \
      CHECK(isinf(y[0]) && y[0] < 0 && y[3] == 0 && isnan(y[4]) && close_d(y[5], log1p(exp(1.0)), 1, eps)); } \
    /* exact in place is allowed and equals the out-of-place result */ \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_softmax_##S(x, ref, 2, 3, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_##S(buf, buf, 2, 3, 1, 1), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_softmax_inplace_##S(buf, 2, 3), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_log_softmax_##S(x, ref, 2, 3, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_log_softmax_inplace_##S(buf, 2, 3), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(x, mask, ref, 2, 3, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(buf, mask, buf, 2, 3, 1, 1), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_sigmoid_##S(x, ref, 6), SSM_OK); \
    CHECK_STATUS(ssm_sigmoid_##S(buf, buf, 6), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_log_sigmoid_##S(x, ref, 6), SSM_OK); \
    CHECK_STATUS(ssm_log_sigmoid_##S(buf, buf, 6), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_normalize_##S(x, ref, 2, 3, 1), SSM_OK); \
    CHECK_STATUS(ssm_normalize_##S(buf, buf, 2, 3, 1), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    memcpy(buf, x, sizeof x); \
    CHECK_STATUS(ssm_logcumsumexp_##S(x, ref, 2, 3, 1), SSM_OK); \
    CHECK_STATUS(ssm_logcumsumexp_##S(buf, buf, 2, 3, 1), SSM_OK); \
    CHECK(same_##S(buf, ref, 6)); \
    /* ---- errors: status returned, outputs (and inputs) untouched ---- */ \
    for (i = 0; i < 12; i++) buf[i] = (T)i; \
    fill_##S(y, 6, 42); memcpy(keep, y, sizeof y); \
    /* null pointers with nonzero sizes */ \
    CHECK_STATUS(ssm_softmax_##S(NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_softmax_##S(x, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_log_softmax_##S(NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_softmax_inplace_##S(NULL, 2, 3), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_log_softmax_inplace_##S(NULL, 1, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_softmax_masked_##S(x, NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(x, NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_logsumexp_##S(NULL, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_logsumexp_##S(x, NULL, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_logsumexp_##S(NULL, NULL, 2, 0, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_logsumexp_masked_##S(x, NULL, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_sigmoid_##S(NULL, y, 6), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_log_sigmoid_##S(x, NULL, 6), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_normalize_##S(NULL, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_STATUS(ssm_logcumsumexp_##S(x, NULL, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK(same_##S(y, keep, 6)); \
    /* null pointers are fine for empty arrays */ \
    CHECK_STATUS(ssm_softmax_##S(NULL, NULL, 0, 3, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_inplace_##S(NULL, 0, 3), SSM_OK); \
    CHECK_STATUS(ssm_log_softmax_inplace_##S(NULL, 4, 0), SSM_OK); \
    CHECK_STATUS(ssm_log_softmax_##S(NULL, NULL, 4, 0, 4, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_masked_##S(NULL, NULL, NULL, 4, 3, 0, 1), SSM_OK); \
    CHECK_STATUS(ssm_sigmoid_##S(NULL, NULL, 0), SSM_OK); \
    CHECK_STATUS(ssm_log_sigmoid_##S(NULL, NULL, 0), SSM_OK); \
    CHECK_STATUS(ssm_normalize_##S(NULL, NULL, 0, 0, 0), SSM_OK); \
    CHECK_STATUS(ssm_logcumsumexp_##S(NULL, NULL, 4, 0, 2), SSM_OK); \
    CHECK_STATUS(ssm_logsumexp_##S(NULL, NULL, 0, 5, 1), SSM_OK); \
    /* overflowing sizes */ \
    CHECK_STATUS(ssm_softmax_##S(x, y, SIZE_MAX, 3, 1, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_softmax_##S(x, y, 1, SIZE_MAX, 1, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_softmax_inplace_##S(y, SIZE_MAX, 3), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_log_softmax_inplace_##S(y, (size_t)1 << 32, (size_t)1 << 32), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_log_softmax_##S(x, y, (size_t)1 << 32, (size_t)1 << 32, 2, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_softmax_masked_##S(x, mask, y, 1, 3, SIZE_MAX, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(x, mask, y, SIZE_MAX / 2, 2, 1, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_logsumexp_##S(x, y, (size_t)1 << 62, 0, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_logsumexp_##S(x, y, SIZE_MAX, 0, SIZE_MAX), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_logsumexp_masked_##S(x, mask, y, 1, SIZE_MAX, 1), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_sigmoid_##S(x, y, SIZE_MAX), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_log_sigmoid_##S(x, y, (size_t)1 << 61), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_normalize_##S(x, y, 3, 3, SIZE_MAX / 4), SSM_INVALID_SHAPE); \
    CHECK_STATUS(ssm_logcumsumexp_##S(x, y, 3, SIZE_MAX / 4, 3), SSM_INVALID_SHAPE); \
    CHECK(same_##S(y, keep, 6)); \
    /* temperature: NaN, inf, 0, negative */ \
    CHECK_STATUS(ssm_softmax_##S(x, y, 2, 3, 1, (T)NAN), SSM_INVALID_ARGUMENT); \
    CHECK_STATUS(ssm_softmax_##S(x, y, 2, 3, 1, (T)INFINITY), SSM_INVALID_ARGUMENT); \
    CHECK_STATUS(ssm_log_softmax_##S(x, y, 2, 3, 1, 0), SSM_INVALID_ARGUMENT); \
    CHECK_STATUS(ssm_log_softmax_##S(x, y, 2, 3, 1, -1), SSM_INVALID_ARGUMENT); \
    CHECK_STATUS(ssm_softmax_masked_##S(x, mask, y, 2, 3, 1, -(T)0.0), SSM_INVALID_ARGUMENT); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(x, mask, y, 2, 3, 1, (T)NAN), SSM_INVALID_ARGUMENT); \
    CHECK(same_##S(y, keep, 6)); \
    CHECK(strlen(ssm_last_error_message()) > 0); \
    /* in-place temperature error leaves the data alone */ \
    memcpy(ref, buf, sizeof ref); \
    CHECK_STATUS(ssm_softmax_##S(buf, buf, 2, 3, 1, (T)NAN), SSM_INVALID_ARGUMENT); \
    CHECK(same_##S(buf, ref, 6)); \
    /* partial overlap (buf holds 0..11) */ \
    memcpy(keep, buf, sizeof buf); \
    CHECK_STATUS(ssm_softmax_##S(buf, buf + 1, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_softmax_##S(buf + 5, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_log_softmax_##S(buf, buf + 3, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_softmax_masked_##S(buf, mask, buf + 2, 1, 6, 1, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_log_softmax_masked_##S(buf + 1, mask, buf, 1, 6, 1, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_logsumexp_##S(buf, buf + 1, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_logsumexp_##S(buf, buf, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_logsumexp_masked_##S(buf, mask, buf + 5, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_sigmoid_##S(buf, buf + 1, 6), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_log_sigmoid_##S(buf + 1, buf, 6), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_normalize_##S(buf, buf + 3, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK_STATUS(ssm_logcumsumexp_##S(buf + 2, buf, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
    CHECK(same_##S(buf, keep, 12)); \
    /* an output overlapping the mask bytes is refused too */ \
    { T mbuf[4] = {1, 1, 1, 1}; \
      CHECK_STATUS(ssm_softmax_masked_##S(x, (const uint8_t *)mbuf, mbuf, 1, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK(mbuf[0] == 1 && mbuf[3] == 1); } \
    /* adjacent, non-overlapping buffers are fine */ \
    CHECK_STATUS(ssm_softmax_##S(buf, buf + 6, 2, 3, 1, 1), SSM_OK); \
    CHECK(same_##S(buf, keep, 6)); \
}

DEFINE_TESTS(float, f32, 1.1920928955078125e-07)
DEFINE_TESTS(double, f64, 2.220446049250313e-16)

static void test_library(void) {
    int n, c;
    /* status messages: a distinct text for each code, and a fallback */
    for (c = 0; c <= 5; c++) {
        const char *m = ssm_status_message(c);
        int d;
        CHECK(m != NULL && m[0] != '\0');
        for (d = 0; d < c; d++) CHECK(strcmp(m, ssm_status_message(d)) != 0);
    }
    CHECK(strcmp(ssm_status_message(6), "unknown status code") == 0);
    CHECK(strcmp(ssm_status_message(-1), "unknown status code") == 0);
    CHECK(ssm_last_error_message() != NULL);
    CHECK(strcmp(ssm_version(), SSM_VERSION_STRING) == 0);
    CHECK(ssm_isa() != NULL && ssm_isa()[0] != '\0');
    /* the available tiers start with the baseline and include the one in use (the part of
     * ssm_isa() before any explanation in parentheses) */
    {
        const char *all = ssm_available_isas(), *isa = ssm_isa();
        size_t len = strcspn(isa, " ("), k;
        int found = 0;
        CHECK(all != NULL && strncmp(all, "baseline", 8) == 0 && (all[8] == '\0' || all[8] == ' '));
        for (k = 0; all[k]; k += strcspn(all + k, " "), k += all[k] == ' ')
            if (strncmp(all + k, isa, len) == 0 && (all[k + len] == '\0' || all[k + len] == ' ')) found = 1;
        CHECK(found);
    }
    /* threads */
    n = ssm_get_num_threads();
    CHECK(n >= 1);
    CHECK_STATUS(ssm_set_num_threads(0), SSM_INVALID_ARGUMENT);
    CHECK_STATUS(ssm_set_num_threads(-3), SSM_INVALID_ARGUMENT);
    CHECK_STATUS(ssm_set_num_threads(1025), SSM_INVALID_ARGUMENT);
    CHECK(ssm_get_num_threads() == n);
    CHECK_STATUS(ssm_set_num_threads(2), SSM_OK);
    CHECK(ssm_get_num_threads() == 2);
    CHECK_STATUS(ssm_set_num_threads(1024), SSM_OK);
    CHECK(ssm_get_num_threads() == 1024);
    CHECK_STATUS(ssm_set_num_threads(n), SSM_OK);
}

/* Results are bitwise identical for 1 and 2 threads on an array large enough to be split. */
static void test_threads_deterministic(void) {
    enum { ROWS = 256, COLS = 1024, N = ROWS * COLS };
    static double x[N], a[N], b[N];
    static float xf[N], af[N], bf[N];
    size_t i;
    int n = ssm_get_num_threads();
    for (i = 0; i < N; i++) {
        x[i] = sin((double)i * 0.7) * 20;
        xf[i] = (float)x[i];
    }
    CHECK_STATUS(ssm_set_num_threads(1), SSM_OK);
    CHECK_STATUS(ssm_softmax_f64(x, a, ROWS, COLS, 1, 1), SSM_OK);
    CHECK_STATUS(ssm_log_softmax_f32(xf, af, ROWS, COLS, 1, 1), SSM_OK);
    CHECK_STATUS(ssm_set_num_threads(2), SSM_OK);
    CHECK_STATUS(ssm_softmax_f64(x, b, ROWS, COLS, 1, 1), SSM_OK);
    CHECK_STATUS(ssm_log_softmax_f32(xf, bf, ROWS, COLS, 1, 1), SSM_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(af, bf, sizeof af) == 0);
    CHECK_STATUS(ssm_set_num_threads(1), SSM_OK);
    CHECK_STATUS(ssm_softmax_f64(x, a, 4, COLS, ROWS / 4, 1), SSM_OK);  /* a middle axis */
    CHECK_STATUS(ssm_set_num_threads(2), SSM_OK);
    CHECK_STATUS(ssm_softmax_f64(x, b, 4, COLS, ROWS / 4, 1), SSM_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_STATUS(ssm_set_num_threads(n), SSM_OK);
}

int main(void) {
    test_f32();
    test_f64();
    test_library();
    test_threads_deterministic();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
