/* hostile_test.c: every function of include/swiftsoftmax.h against hostile arguments (docs/reliability.md).
 *
 * For f32 and f64: null pointers in every pointer position, overflowing sizes (SIZE_MAX, products
 * that overflow size_t or the byte count), partial overlap of every output with every input and
 * with the other output, out-of-range labels, invalid temperature / label_smoothing / reduction.
 * Each must return its status before writing: every output lives inside a guarded, sentinel-
 * filled region that is compared byte for byte after the call, and inputs are compared too.
 * Then: the degenerate shapes that must succeed (empty arrays with null pointers, no classes),
 * ssm_status_message for every code and for unknown codes, ssm_set_num_threads bounds, and
 * threads that fail concurrently each reading their own ssm_last_error_message (run under
 * ThreadSanitizer by `make sanitize`).
 *
 * Prints "N passed, M failed" and exits nonzero on any failure.  C99 + POSIX threads. */
#include "swiftsoftmax.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
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

/* The detail names the culprit: the message of the last failure contains `word`. */
#define CHECK_DETAIL(word) do { \
    if (strstr(ssm_last_error_message(), (word)) != NULL) { passed++; } \
    else { failed++; fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__, __LINE__, \
                             ssm_last_error_message(), (word)); } \
} while (0)

#define BIG ((size_t)1 << 32)   /* BIG * BIG overflows size_t */
#define HUGE_COUNT ((size_t)1 << 61)  /* fits size_t, but 8 * HUGE_COUNT bytes overflow ptrdiff_t */

/* A byte region with every byte set to a sentinel; saved and compared after each failing call. */
enum { ARENA = 4096 };
static unsigned char arena[ARENA] __attribute__((aligned(64)));
static unsigned char saved[ARENA];
static void arena_fill(void) {
    size_t i;
    for (i = 0; i < ARENA; i++) arena[i] = (unsigned char)(0xA5 ^ (i * 7));
}
static void arena_save(void) { memcpy(saved, arena, ARENA); }
static int arena_same(void) { return memcmp(saved, arena, ARENA) == 0; }

/* A failing call must leave the whole arena (every input and output lives in it) as it was. */
#define CHECK_REFUSED(call, want) do { \
    arena_save(); \
    CHECK_STATUS(call, want); \
    CHECK(arena_same()); \
} while (0)

/* Generates test_<S>() for T in {float, double}. Buffers are carved out of the arena:
 * x, g, q (inputs, 6 values), mask (6 bytes), labels (2 int64), w (3 values), y (outputs). */
#define DEFINE_TESTS(T, S) \
static void test_##S(void) { \
    T *x = (T *)(arena + 64), *g = (T *)(arena + 256), *q = (T *)(arena + 448), *w = (T *)(arena + 640); \
    T *y = (T *)(arena + 1024), *jac = (T *)(arena + 1536), *loss = (T *)(arena + 2560); \
    uint8_t *mask = arena + 3072; \
    int64_t *labels = (int64_t *)(arena + 3136); \
    T *buf = (T *)(arena + 3200); /* 48 values for overlap tests */ \
    T nanv = (T)NAN, infv = (T)INFINITY; \
    int i; \
    arena_fill(); \
    for (i = 0; i < 6; i++) { x[i] = (T)(i % 3); g[i] = (T)(i - 2); q[i] = (T)1 / 3; mask[i] = (uint8_t)(i != 1); } \
    for (i = 0; i < 3; i++) w[i] = (T)(i + 1); \
    labels[0] = 2; labels[1] = 0; \
    for (i = 0; i < 48; i++) buf[i] = (T)(i % 5); \
    \
    /* ---- null pointers (every required pointer, nonzero sizes) ---- */ \
    CHECK_REFUSED(ssm_softmax_##S(NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("x"); \
    CHECK_REFUSED(ssm_softmax_##S(x, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("y"); \
    CHECK_REFUSED(ssm_log_softmax_##S(NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_softmax_##S(x, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_softmax_masked_##S(NULL, mask, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_softmax_masked_##S(x, NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("mask"); \
    CHECK_REFUSED(ssm_softmax_masked_##S(x, mask, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_softmax_masked_##S(NULL, mask, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_softmax_masked_##S(x, NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_softmax_masked_##S(x, mask, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_logsumexp_##S(NULL, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_logsumexp_##S(x, NULL, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("out"); \
    CHECK_REFUSED(ssm_logsumexp_##S(NULL, NULL, 2, 0, 1), SSM_NULL_POINTER); /* 2 results, no input */ \
    CHECK_REFUSED(ssm_logsumexp_masked_##S(NULL, mask, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_logsumexp_masked_##S(x, NULL, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_logsumexp_masked_##S(x, mask, NULL, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_logsumexp_scaled_##S(NULL, g, y, NULL, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("x"); \
    CHECK_REFUSED(ssm_logsumexp_scaled_##S(x, NULL, y, NULL, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("b"); \
    CHECK_REFUSED(ssm_logsumexp_scaled_##S(x, g, NULL, NULL, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("out"); \
    CHECK_REFUSED(ssm_logsumexp_scaled_masked_##S(x, g, NULL, y, NULL, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("mask"); \
    CHECK_REFUSED(ssm_logsumexp_scaled_##S(x, g, y, y, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); CHECK_DETAIL("sign"); \
    CHECK_REFUSED(ssm_logsumexp_scaled_##S(x, g, y, x + 1, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); CHECK_DETAIL("sign"); \
    CHECK_REFUSED(ssm_logsumexp_scaled_##S(x, g, g + 4, NULL, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); CHECK_DETAIL("b"); \
    CHECK_REFUSED(ssm_sigmoid_##S(NULL, y, 6), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_sigmoid_##S(x, NULL, 6), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_sigmoid_##S(NULL, y, 6), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_sigmoid_##S(x, NULL, 6), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_normalize_##S(NULL, y, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_normalize_##S(x, NULL, 2, 3, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_logcumsumexp_##S(NULL, y, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("x"); \
    CHECK_REFUSED(ssm_logcumsumexp_##S(x, NULL, 2, 3, 1), SSM_NULL_POINTER); CHECK_DETAIL("y"); \
    CHECK_REFUSED(ssm_softmax_jacobian_##S(NULL, jac, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_softmax_jacobian_##S(x, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("jac"); \
    CHECK_REFUSED(ssm_softmax_vjp_##S(NULL, g, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_softmax_vjp_##S(x, NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("g"); \
    CHECK_REFUSED(ssm_softmax_vjp_##S(x, g, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("dx"); \
    CHECK_REFUSED(ssm_log_softmax_vjp_##S(NULL, g, y, 2, 3, 1, 1), SSM_NULL_POINTER); CHECK_DETAIL("logy"); \
    CHECK_REFUSED(ssm_log_softmax_vjp_##S(x, NULL, y, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_log_softmax_vjp_##S(x, g, NULL, 2, 3, 1, 1), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_one_hot_##S(NULL, 2, 3, y), SSM_NULL_POINTER); CHECK_DETAIL("labels"); \
    CHECK_REFUSED(ssm_one_hot_##S(labels, 2, 3, NULL), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_one_hot_##S(NULL, 2, 0, NULL), SSM_NULL_POINTER); /* labels still read */ \
    CHECK_REFUSED(ssm_cross_entropy_##S(NULL, labels, w, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, loss, y), SSM_NULL_POINTER); \
    CHECK_DETAIL("logits"); \
    CHECK_REFUSED(ssm_cross_entropy_##S(x, NULL, w, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, loss, y), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, w, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, NULL, y), SSM_NULL_POINTER); \
    CHECK_DETAIL("loss"); \
    CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, w, 2, 3, 1, -100, 0, SSM_REDUCTION_NONE, NULL, NULL), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_cross_entropy_##S(NULL, labels, NULL, 2, 0, 1, -100, 0, SSM_REDUCTION_SUM, NULL, NULL), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_cross_entropy_soft_##S(NULL, q, w, 2, 3, 1, 0, SSM_REDUCTION_MEAN, loss, y), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, NULL, w, 2, 3, 1, 0, SSM_REDUCTION_MEAN, loss, y), SSM_NULL_POINTER); \
    CHECK_DETAIL("targets"); \
    CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, q, w, 2, 3, 1, 0, SSM_REDUCTION_SUM, NULL, y), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, q, NULL, 2, 3, 1, 0, SSM_REDUCTION_NONE, NULL, NULL), SSM_NULL_POINTER); \
    CHECK_REFUSED(ssm_cross_entropy_ex_##S(NULL, labels, w, g, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, NULL, loss, y, y + 6), SSM_NULL_POINTER); \
    CHECK_DETAIL("logits"); \
    CHECK_REFUSED(ssm_cross_entropy_ex_##S(x, labels, w, g, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, NULL, NULL, y, y + 6), SSM_NULL_POINTER); \
    CHECK_DETAIL("loss"); \
    CHECK_REFUSED(ssm_cross_entropy_soft_ex_##S(x, NULL, w, g, 2, 3, 1, 0, SSM_REDUCTION_MEAN, NULL, loss, y, y + 6), SSM_NULL_POINTER); \
    CHECK_DETAIL("targets"); \
    \
    /* ---- overflowing sizes: refused before any pointer is used ---- */ \
    { size_t bad[][3] = { {SIZE_MAX, 3, 1}, {1, SIZE_MAX, 1}, {1, 3, SIZE_MAX}, {SIZE_MAX, SIZE_MAX, SIZE_MAX}, \
                          {BIG, BIG, 1}, {1, BIG, BIG}, {BIG, 1, BIG}, {HUGE_COUNT, 1, 1}, {1, HUGE_COUNT, 1}, \
                          {1, 1, HUGE_COUNT}, {(size_t)1 << 40, (size_t)1 << 20, 2}, {SIZE_MAX / 2 + 1, 2, 1}, \
                          {(size_t)PTRDIFF_MAX + 1, 1, 1} }; \
      size_t k; \
      for (k = 0; k < sizeof bad / sizeof bad[0]; k++) { \
        size_t o = bad[k][0], n = bad[k][1], in = bad[k][2]; \
        CHECK_REFUSED(ssm_softmax_##S(x, y, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_log_softmax_##S(x, y, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_softmax_masked_##S(x, mask, y, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_log_softmax_masked_##S(x, mask, y, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_logsumexp_##S(x, y, o, n, in), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_logsumexp_masked_##S(x, mask, y, o, n, in), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_normalize_##S(x, y, o, n, in), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_logcumsumexp_##S(x, y, o, n, in), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_softmax_jacobian_##S(x, jac, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_softmax_vjp_##S(x, g, y, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_log_softmax_vjp_##S(x, g, y, o, n, in, 1), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, w, o, n, in, -100, 0, SSM_REDUCTION_MEAN, loss, y), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, NULL, o, n, in, -100, 0, SSM_REDUCTION_NONE, loss, NULL), SSM_INVALID_SHAPE); \
        CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, q, w, o, n, in, 0, SSM_REDUCTION_MEAN, loss, y), SSM_INVALID_SHAPE); \
        if (o > 3 && n > 3) { /* count * num_classes overflows too */ \
          CHECK_REFUSED(ssm_one_hot_##S(labels, o, n, y), SSM_INVALID_SHAPE); \
          CHECK_REFUSED(ssm_one_hot_##S(labels, n, o, y), SSM_INVALID_SHAPE); \
        } \
      } \
      CHECK_REFUSED(ssm_one_hot_##S(labels, SIZE_MAX, 3, y), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_one_hot_##S(labels, 2, SIZE_MAX, y), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_one_hot_##S(labels, 2, HUGE_COUNT, y), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_one_hot_##S(labels, (size_t)PTRDIFF_MAX + 1, 0, y), SSM_INVALID_SHAPE); \
      /* empty reductions still produce outer*inner results: their count alone may overflow */ \
      CHECK_REFUSED(ssm_logsumexp_##S(x, y, SIZE_MAX, 0, 2), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_logsumexp_##S(NULL, y, HUGE_COUNT, 0, 1), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_cross_entropy_##S(NULL, labels, NULL, BIG, 0, BIG, -100, 0, SSM_REDUCTION_NONE, loss, NULL), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_one_hot_##S(labels, HUGE_COUNT, 0, y), SSM_INVALID_SHAPE); \
      /* element counts that fit but whose Jacobian (outer*inner*n*n) does not */ \
      CHECK_REFUSED(ssm_softmax_jacobian_##S(x, jac, 1, BIG, 1, 1), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_softmax_jacobian_##S(x, jac, 1, (size_t)1 << 31, 1, 1), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_softmax_jacobian_##S(x, jac, (size_t)1 << 20, (size_t)1 << 21, 1, 1), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_softmax_jacobian_##S(x, jac, 1, (size_t)1 << 21, (size_t)1 << 20, 1), SSM_INVALID_SHAPE); \
      CHECK_DETAIL("jac"); \
      CHECK_REFUSED(ssm_sigmoid_##S(x, y, SIZE_MAX), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_sigmoid_##S(x, y, HUGE_COUNT), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_log_sigmoid_##S(x, y, SIZE_MAX), SSM_INVALID_SHAPE); \
      CHECK_REFUSED(ssm_log_sigmoid_##S(x, y, (size_t)PTRDIFF_MAX + 1), SSM_INVALID_SHAPE); } \
    \
    /* ---- partial overlap of an output with an input (buf holds 48 values) ---- */ \
    { int d; \
      for (d = 1; d < 6; d++) { /* the output starts d elements after or before the input */ \
        CHECK_REFUSED(ssm_softmax_##S(buf, buf + d, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_softmax_##S(buf + d, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_log_softmax_##S(buf, buf + d, 1, 6, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_softmax_masked_##S(buf + d, mask, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_log_softmax_masked_##S(buf, mask, buf + d, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_logsumexp_##S(buf, buf + d, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_logsumexp_masked_##S(buf, mask, buf + d, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_sigmoid_##S(buf, buf + d, 6), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_log_sigmoid_##S(buf + d, buf, 6), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_normalize_##S(buf, buf + d, 3, 2, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_logcumsumexp_##S(buf + d, buf, 3, 2, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_softmax_jacobian_##S(buf + d, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_softmax_jacobian_##S(buf, buf + d, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_softmax_vjp_##S(buf, g, buf + d, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_softmax_vjp_##S(x, buf, buf + d, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_log_softmax_vjp_##S(buf + d, g, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_log_softmax_vjp_##S(x, buf + d, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
        /* cross-entropy: grad vs logits / targets / weight / loss, loss vs every input */ \
        CHECK_REFUSED(ssm_cross_entropy_##S(buf, labels, w, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, loss, buf + d), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_cross_entropy_##S(buf, labels, NULL, 2, 3, 1, -100, 0, SSM_REDUCTION_NONE, buf + d - 1, NULL), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, buf, w, 2, 3, 1, 0, SSM_REDUCTION_MEAN, loss, buf + d), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_cross_entropy_soft_##S(buf + d, q, w, 2, 3, 1, 0, SSM_REDUCTION_MEAN, loss, buf), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, buf + d - 1, NULL, 2, 3, 1, 0, SSM_REDUCTION_NONE, buf + 5, NULL), SSM_OVERLAPPING_BUFFERS); \
        /* the options' arrays: lse (an output) vs logits, targets and grad; sample_weight vs grad and lse */ \
        CHECK_REFUSED(ssm_cross_entropy_ex_##S(buf, labels, NULL, NULL, 2, 3, 1, -100, 0, SSM_REDUCTION_SUM, NULL, loss, NULL, buf + d), SSM_OVERLAPPING_BUFFERS); \
        CHECK_DETAIL("lse"); \
        CHECK_REFUSED(ssm_cross_entropy_ex_##S(x, labels, NULL, NULL, 2, 3, 1, -100, 0, SSM_REDUCTION_SUM, NULL, loss, buf, buf + d), SSM_OVERLAPPING_BUFFERS); \
        CHECK_REFUSED(ssm_cross_entropy_ex_##S(x, labels, NULL, buf + d, 2, 3, 1, -100, 0, SSM_REDUCTION_SUM, NULL, loss, buf, NULL), SSM_OVERLAPPING_BUFFERS); \
        CHECK_DETAIL("sample_weight"); \
        CHECK_REFUSED(ssm_cross_entropy_soft_ex_##S(x, buf + d - 1, NULL, NULL, 2, 3, 1, 0, SSM_REDUCTION_SUM, NULL, loss, NULL, buf + 5), SSM_OVERLAPPING_BUFFERS); \
      } \
      /* exact aliasing where no in-place form exists */ \
      CHECK_REFUSED(ssm_logsumexp_##S(buf, buf, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_softmax_jacobian_##S(buf, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_softmax_masked_##S(x, (const uint8_t *)buf, buf, 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_logsumexp_masked_##S(x, (const uint8_t *)buf, buf, 2, 3, 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, buf, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, buf + 2, NULL), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, buf, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, loss, buf + 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, NULL, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, buf + 3, buf), SSM_OVERLAPPING_BUFFERS); \
      CHECK_DETAIL("loss"); \
      CHECK_REFUSED(ssm_cross_entropy_##S(x, (const int64_t *)buf, NULL, 2, 3, 1, 0, 0, SSM_REDUCTION_MEAN, loss, buf), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_cross_entropy_##S(x, (const int64_t *)buf, NULL, 2, 3, 1, 0, 0, SSM_REDUCTION_MEAN, buf, NULL), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_one_hot_##S((const int64_t *)buf, 2, 3, buf + 1), SSM_OVERLAPPING_BUFFERS); \
      CHECK_REFUSED(ssm_one_hot_##S((const int64_t *)(buf + 4), 2, 3, buf), SSM_OVERLAPPING_BUFFERS); \
      /* one byte of overlap is enough */ \
      CHECK_REFUSED(ssm_softmax_##S(buf, (T *)((unsigned char *)(buf + 6) - 1), 2, 3, 1, 1), SSM_OVERLAPPING_BUFFERS); \
      /* and adjacent buffers are not overlapping */ \
      arena_save(); \
      CHECK_STATUS(ssm_softmax_##S(buf, buf + 6, 2, 3, 1, 1), SSM_OK); \
      CHECK(memcmp(buf, saved + ((unsigned char *)buf - arena), 6 * sizeof(T)) == 0); } \
    \
    /* ---- invalid arguments ---- */ \
    { T temps[] = {0, -(T)0.0, -1, nanv, infv, -infv}; size_t k; \
      for (k = 0; k < sizeof temps / sizeof temps[0]; k++) { \
        T t = temps[k]; \
        CHECK_REFUSED(ssm_softmax_##S(x, y, 2, 3, 1, t), SSM_INVALID_ARGUMENT); CHECK_DETAIL("temperature"); \
        CHECK_REFUSED(ssm_log_softmax_##S(x, y, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_softmax_masked_##S(x, mask, y, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_log_softmax_masked_##S(x, mask, y, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_softmax_jacobian_##S(x, jac, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_softmax_vjp_##S(x, g, y, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_log_softmax_vjp_##S(x, g, y, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_softmax_##S(buf, buf, 2, 3, 1, t), SSM_INVALID_ARGUMENT); /* in place */ \
        CHECK_REFUSED(ssm_softmax_vjp_##S(buf, g, buf, 2, 3, 1, t), SSM_INVALID_ARGUMENT); \
      } } \
    { T eps[] = {-(T)0.001, (T)1.001, 2, nanv, infv, -infv}; size_t k; \
      for (k = 0; k < sizeof eps / sizeof eps[0]; k++) { \
        CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, w, 2, 3, 1, -100, eps[k], SSM_REDUCTION_MEAN, loss, y), SSM_INVALID_ARGUMENT); \
        CHECK_DETAIL("label_smoothing"); \
        CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, q, w, 2, 3, 1, eps[k], SSM_REDUCTION_SUM, loss, y), SSM_INVALID_ARGUMENT); \
        CHECK_REFUSED(ssm_cross_entropy_##S(buf, labels, NULL, 2, 3, 1, -100, eps[k], SSM_REDUCTION_NONE, loss, buf), SSM_INVALID_ARGUMENT); \
      } } \
    { int reds[] = {-1, 3, 1000, INT_MAX, INT_MIN}; size_t k; \
      for (k = 0; k < sizeof reds / sizeof reds[0]; k++) { \
        CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, w, 2, 3, 1, -100, 0, (ssm_reduction)reds[k], loss, y), SSM_INVALID_ARGUMENT); \
        CHECK_DETAIL("reduction"); \
        CHECK_REFUSED(ssm_cross_entropy_soft_##S(x, q, NULL, 2, 3, 1, 0, (ssm_reduction)reds[k], loss, y), SSM_INVALID_ARGUMENT); \
      } } \
    \
    /* ---- labels out of range: refused before anything is written, whatever the position ---- */ \
    { int64_t bad[] = {3, -1, INT64_MAX, INT64_MIN, -99, 1000}; size_t k; \
      for (k = 0; k < sizeof bad / sizeof bad[0]; k++) { \
        labels[0] = 2; labels[1] = bad[k]; \
        CHECK_REFUSED(ssm_one_hot_##S(labels, 2, 3, y), SSM_LABEL_OUT_OF_RANGE); CHECK_DETAIL("labels[1]"); \
        CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, w, 2, 3, 1, -100, 0, SSM_REDUCTION_MEAN, loss, y), SSM_LABEL_OUT_OF_RANGE); \
        CHECK_REFUSED(ssm_cross_entropy_##S(x, labels, NULL, 2, 3, 1, -100, (T)0.5, SSM_REDUCTION_NONE, loss, y), SSM_LABEL_OUT_OF_RANGE); \
        CHECK_REFUSED(ssm_cross_entropy_##S(buf, labels, NULL, 2, 3, 1, -100, 0, SSM_REDUCTION_SUM, loss, buf), SSM_LABEL_OUT_OF_RANGE); \
        /* the same value as ignore_index is fine */ \
        CHECK_STATUS(ssm_cross_entropy_##S(x, labels, w, 2, 3, 1, bad[k], 0, SSM_REDUCTION_NONE, loss, NULL), SSM_OK); \
        CHECK(loss[1] == 0); \
        arena_fill(); \
        for (i = 0; i < 6; i++) { x[i] = (T)(i % 3); g[i] = (T)(i - 2); q[i] = (T)1 / 3; mask[i] = (uint8_t)(i != 1); } \
        for (i = 0; i < 3; i++) w[i] = (T)(i + 1); \
        for (i = 0; i < 48; i++) buf[i] = (T)(i % 5); \
      } \
      labels[0] = 2; labels[1] = 0; \
      /* no classes: every label is out of range unless ignored */ \
      CHECK_REFUSED(ssm_one_hot_##S(labels, 2, 0, NULL), SSM_LABEL_OUT_OF_RANGE); \
      CHECK_REFUSED(ssm_cross_entropy_##S(NULL, labels, NULL, 2, 0, 1, -100, 0, SSM_REDUCTION_NONE, loss, NULL), SSM_LABEL_OUT_OF_RANGE); } \
    \
    /* ---- degenerate shapes that must succeed: empty arrays accept null pointers ---- */ \
    CHECK_STATUS(ssm_softmax_##S(NULL, NULL, 0, 0, 0, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_##S(NULL, NULL, (size_t)1 << 40, 0, 1, 1), SSM_OK); /* no elements */ \
    CHECK_STATUS(ssm_log_softmax_masked_##S(NULL, NULL, NULL, 3, 0, 3, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_jacobian_##S(NULL, NULL, 5, 0, 2, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_jacobian_##S(NULL, NULL, 0, BIG, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_softmax_vjp_##S(NULL, NULL, NULL, 0, 3, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_log_softmax_vjp_##S(NULL, NULL, NULL, 1, 0, 1, 1), SSM_OK); \
    CHECK_STATUS(ssm_one_hot_##S(NULL, 0, 5, NULL), SSM_OK); \
    CHECK_STATUS(ssm_one_hot_##S(NULL, 0, (size_t)1 << 40, NULL), SSM_OK); \
    CHECK_STATUS(ssm_sigmoid_##S(NULL, NULL, 0), SSM_OK); \
    { T *l2 = loss; \
      /* no samples: the sum is 0, the mean NaN, nothing else written */ \
      l2[0] = 42; l2[1] = 42; \
      CHECK_STATUS(ssm_cross_entropy_##S(NULL, NULL, NULL, 0, 3, 1, -100, 0, SSM_REDUCTION_SUM, l2, NULL), SSM_OK); \
      CHECK(l2[0] == 0 && l2[1] == 42); \
      CHECK_STATUS(ssm_cross_entropy_soft_##S(NULL, NULL, NULL, 0, 3, 4, 0, SSM_REDUCTION_MEAN, l2, NULL), SSM_OK); \
      CHECK(isnan(l2[0]) && l2[1] == 42); \
      CHECK_STATUS(ssm_cross_entropy_##S(NULL, NULL, NULL, 0, 3, 1, -100, 0, SSM_REDUCTION_NONE, NULL, NULL), SSM_OK); \
      /* no classes, two samples (logits may be null): per-sample losses 0, soft mean 0 */ \
      labels[0] = -100; labels[1] = -100; \
      l2[0] = 42; l2[1] = 42; l2[2] = 42; \
      CHECK_STATUS(ssm_cross_entropy_##S(NULL, labels, NULL, 2, 0, 1, -100, 0, SSM_REDUCTION_NONE, l2, NULL), SSM_OK); \
      CHECK(l2[0] == 0 && l2[1] == 0 && l2[2] == 42); \
      CHECK_STATUS(ssm_cross_entropy_##S(NULL, labels, NULL, 2, 0, 1, -100, 0, SSM_REDUCTION_MEAN, l2, NULL), SSM_OK); \
      CHECK(isnan(l2[0]) && l2[1] == 0); /* every label ignored */ \
      l2[0] = 42; \
      CHECK_STATUS(ssm_cross_entropy_soft_##S(NULL, NULL, NULL, 2, 0, 1, 0, SSM_REDUCTION_NONE, l2, NULL), SSM_OK); \
      CHECK(l2[0] == 0 && l2[1] == 0 && l2[2] == 42); \
      l2[0] = 42; \
      CHECK_STATUS(ssm_cross_entropy_soft_##S(NULL, NULL, NULL, 2, 0, 1, 0, SSM_REDUCTION_MEAN, l2, NULL), SSM_OK); \
      CHECK(l2[0] == 0 && l2[1] == 0); \
      l2[0] = 42; \
      CHECK_STATUS(ssm_cross_entropy_soft_##S(NULL, NULL, NULL, 2, 0, 1, 0, SSM_REDUCTION_SUM, l2, NULL), SSM_OK); \
      CHECK(l2[0] == 0); \
      /* the same with non-null pointers gives the same */ \
      l2[0] = 42; l2[1] = 42; \
      CHECK_STATUS(ssm_cross_entropy_##S(x, labels, NULL, 2, 0, 1, -100, 0, SSM_REDUCTION_NONE, l2, y), SSM_OK); \
      CHECK(l2[0] == 0 && l2[1] == 0); \
      labels[0] = 2; labels[1] = 0; } \
    /* the smallest normal temperature is valid: it only sharpens to the one-hot argmax */ \
    { T tiny = sizeof(T) == 4 ? (T)FLT_MIN : (T)DBL_MIN; \
      CHECK_STATUS(ssm_softmax_##S(x, y, 2, 3, 1, tiny), SSM_OK); \
      CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1); \
      /* subnormal temperatures are accepted too (their values: see python/tests/test_hostile.py, \
       * float64 gives NaN at the maximum, a known kernel issue) */ \
      CHECK_STATUS(ssm_softmax_##S(x, y, 2, 3, 1, tiny / 1024), SSM_OK); } \
}

DEFINE_TESTS(float, f32)
DEFINE_TESTS(double, f64)

static void test_status_messages(void) {
    int codes[] = {-1, 6, 7, 100, 1000, INT_MAX, INT_MIN};
    size_t k;
    int c, d;
    for (c = 0; c <= 5; c++) {
        const char *m = ssm_status_message(c);
        CHECK(m != NULL && m[0] != '\0');
        CHECK(strcmp(m, "unknown status code") != 0);
        for (d = 0; d < c; d++) CHECK(strcmp(m, ssm_status_message(d)) != 0);
        CHECK(ssm_status_message(c) == m); /* static text: the same pointer every time */
    }
    CHECK(strcmp(ssm_status_message(SSM_OK), "ok") == 0);
    CHECK(strstr(ssm_status_message(SSM_NULL_POINTER), "null") != NULL);
    CHECK(strstr(ssm_status_message(SSM_INVALID_SHAPE), "shape") != NULL);
    CHECK(strstr(ssm_status_message(SSM_INVALID_ARGUMENT), "argument") != NULL);
    CHECK(strstr(ssm_status_message(SSM_LABEL_OUT_OF_RANGE), "label") != NULL);
    CHECK(strstr(ssm_status_message(SSM_OVERLAPPING_BUFFERS), "overlap") != NULL);
    for (k = 0; k < sizeof codes / sizeof codes[0]; k++)
        CHECK(strcmp(ssm_status_message(codes[k]), "unknown status code") == 0);
}

static void test_threads_bounds(void) {
    int n = ssm_get_num_threads();
    int bad[] = {0, -1, 1025, INT_MAX, INT_MIN};
    size_t k;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_STATUS(ssm_set_num_threads(bad[k]), SSM_INVALID_ARGUMENT);
        CHECK_DETAIL("num_threads");
        CHECK(ssm_get_num_threads() == n);
    }
    CHECK_STATUS(ssm_set_num_threads(1), SSM_OK);
    CHECK_STATUS(ssm_set_num_threads(1024), SSM_OK);
    CHECK(ssm_get_num_threads() == 1024);
    CHECK_STATUS(ssm_set_num_threads(n), SSM_OK);
    CHECK(strcmp(ssm_version(), SSM_VERSION_STRING) == 0);
    CHECK(ssm_isa()[0] != '\0');
}

/* Threads that fail at the same time each read their own last error, and successful calls
 * racing with them (and with thread-count changes) compute the same bits as alone. */
enum { WORKERS = 6, ROUNDS = 200, ROW = 300, ROWS = 256 };
static double shared_x[ROWS * ROW], expected_y[ROWS * ROW];
static int worker_failures[WORKERS];

static int ends_with(const char *s, const char *tail) {
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg, r;
    static double ys[WORKERS][ROWS * ROW];
    char want[64];
    for (r = 0; r < ROUNDS; r++) {
        double t = -(double)(id + 1) - r * 0.5;  /* a distinct invalid temperature */
        float xf[3] = {0, 1, 2}, yf[3] = {7, 7, 7};
        if (ssm_softmax_f32(xf, yf, 1, 3, 1, (float)t) != SSM_INVALID_ARGUMENT || yf[0] != 7) worker_failures[id]++;
        snprintf(want, sizeof want, "got %g", (double)(float)t);
        if (!ends_with(ssm_last_error_message(), want) && !(strcat(want, ".0"), ends_with(ssm_last_error_message(), want)))
            worker_failures[id]++;
        if (r % 20 == 0) {
            if (id == 0) ssm_set_num_threads(1 + r % 3);
            if (ssm_softmax_f64(shared_x, ys[id], ROWS, ROW, 1, 1) != SSM_OK) worker_failures[id]++;
            if (memcmp(ys[id], expected_y, sizeof expected_y) != 0) worker_failures[id]++;
        }
    }
    return NULL;
}

static void test_concurrent_errors(void) {
    pthread_t th[WORKERS];
    int i, n = ssm_get_num_threads();
    for (i = 0; i < ROWS * ROW; i++) shared_x[i] = sin(i * 0.37) * 30;
    CHECK_STATUS(ssm_softmax_f64(shared_x, expected_y, ROWS, ROW, 1, 1), SSM_OK);
    for (i = 0; i < WORKERS; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (i = 0; i < WORKERS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (i = 0; i < WORKERS; i++) CHECK(worker_failures[i] == 0);
    CHECK_STATUS(ssm_set_num_threads(n), SSM_OK);
}

int main(void) {
    test_f32();
    test_f64();
    test_status_messages();
    test_threads_bounds();
    test_concurrent_errors();
    printf("hostile_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
