/*
 * swiftsoftmax: softmax, log-softmax, logsumexp, sigmoid and sum-normalisation, accurate to the
 * last bits, from libswiftsoftmax.so.
 *
 * Arrays are C-contiguous and described as [outer, n, inner]; reductions run over n. An array of
 * shape (a, b, c) reduced over its middle axis is outer=a, n=b, inner=c; a matrix of rows reduced
 * along each row is outer=rows, n=cols, inner=1.
 *
 * Every function returns an ssm_status and checks all its arguments before writing anything: on
 * an error the output buffers are untouched. An output may be its input exactly (in place) where
 * the shapes agree; partial overlap is refused. A null pointer is accepted only for an empty
 * array. ssm_status_message() names a code; ssm_last_error_message() gives the calling thread's
 * last failure in detail (which argument, what was expected, what was given).
 *
 * All functions are thread-safe.
 */
#ifndef SWIFTSOFTMAX_H
#define SWIFTSOFTMAX_H

#include <stddef.h>
#include <stdint.h>

/* The version, written only here: the Swift package, the Python package, the wheel's name and
 * pkg-config all read these three numbers (docs/design.md, "One version"). */
#define SSM_VERSION_MAJOR 0
#define SSM_VERSION_MINOR 1
#define SSM_VERSION_PATCH 0
/* "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define SSM_VERSION_STRING SSM_VERSION_TEXT_(SSM_VERSION_MAJOR, SSM_VERSION_MINOR, SSM_VERSION_PATCH)
#define SSM_VERSION_TEXT_(major, minor, patch) SSM_VERSION_QUOTE_(major.minor.patch)
#define SSM_VERSION_QUOTE_(text) #text

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. The numbers are stable: new codes are only ever appended. */
typedef enum ssm_status {
    SSM_OK = 0,
    SSM_NULL_POINTER = 1,        /* a required pointer is null (and its array is not empty) */
    SSM_INVALID_SHAPE = 2,       /* sizes overflow size_t / ptrdiff_t, or do not fit together */
    SSM_INVALID_ARGUMENT = 3,    /* e.g. a temperature that is not finite and > 0 */
    SSM_LABEL_OUT_OF_RANGE = 4,  /* a class label outside [0, n) */
    SSM_OVERLAPPING_BUFFERS = 5  /* an output partially overlaps an input */
} ssm_status;

/* ---- softmax family over [outer, n, inner] ------------------------------------------------- */

/* y = softmax(x / temperature) along n. temperature must be finite and > 0. */
ssm_status ssm_softmax_f32(const float *x, float *y, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_f64(const double *x, double *y, size_t outer, size_t n, size_t inner, double temperature);

/* y = log_softmax(x / temperature) along n, computed in log space. */
ssm_status ssm_log_softmax_f32(const float *x, float *y, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_log_softmax_f64(const double *x, double *y, size_t outer, size_t n, size_t inner, double temperature);

/* y = softmax(y) (log_softmax(y)) of each of `rows` contiguous rows of n, in place, at
 * temperature 1: the calls above with x == y, for callers that pay per argument (ctypes). */
ssm_status ssm_softmax_inplace_f32(float *y, size_t rows, size_t n);
ssm_status ssm_softmax_inplace_f64(double *y, size_t rows, size_t n);
ssm_status ssm_log_softmax_inplace_f32(float *y, size_t rows, size_t n);
ssm_status ssm_log_softmax_inplace_f64(double *y, size_t rows, size_t n);

/* As above over the entries whose mask byte is non-zero (one byte per element of x); masked
 * entries get probability 0 / log-probability -inf. */
ssm_status ssm_softmax_masked_f32(const float *x, const uint8_t *mask, float *y, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_masked_f64(const double *x, const uint8_t *mask, double *y, size_t outer, size_t n, size_t inner, double temperature);
ssm_status ssm_log_softmax_masked_f32(const float *x, const uint8_t *mask, float *y, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_log_softmax_masked_f64(const double *x, const uint8_t *mask, double *y, size_t outer, size_t n, size_t inner, double temperature);

/* out[o*inner + j] = log(sum_i exp(x[o, i, j])): outer*inner results. Empty or all -inf: -inf. */
ssm_status ssm_logsumexp_f32(const float *x, float *out, size_t outer, size_t n, size_t inner);
ssm_status ssm_logsumexp_f64(const double *x, double *out, size_t outer, size_t n, size_t inner);
ssm_status ssm_logsumexp_masked_f32(const float *x, const uint8_t *mask, float *out, size_t outer, size_t n, size_t inner);
ssm_status ssm_logsumexp_masked_f64(const double *x, const uint8_t *mask, double *out, size_t outer, size_t n, size_t inner);

/* With scale factors b (one per element of x, any sign; SciPy's logsumexp(x, b=b)):
 * out = log|sum_i b[o, i, j] exp(x[o, i, j])|, within 2 ulp of the exact value wherever the sum
 * is not 0 and cancels to no less than about 2^-45 of sum_i |b exp(x)|. An entry with b == 0 (or
 * a zero mask byte) takes no part, whatever its x. sign may be NULL; otherwise it receives the
 * sign of each sum (1, -1, 0 for an exact or empty 0, NaN for NaN) and out the log of its
 * magnitude. Without sign, a negative sum gives NaN. Outputs must not overlap the inputs or each
 * other (SSM_OVERLAPPING_BUFFERS). */
ssm_status ssm_logsumexp_scaled_f32(const float *x, const float *b, float *out, float *sign, size_t outer, size_t n, size_t inner);
ssm_status ssm_logsumexp_scaled_f64(const double *x, const double *b, double *out, double *sign, size_t outer, size_t n, size_t inner);
ssm_status ssm_logsumexp_scaled_masked_f32(const float *x, const float *b, const uint8_t *mask, float *out, float *sign, size_t outer, size_t n, size_t inner);
ssm_status ssm_logsumexp_scaled_masked_f64(const double *x, const double *b, const uint8_t *mask, double *out, double *sign, size_t outer, size_t n, size_t inner);

/* Elementwise y = 1 / (1 + exp(-x)) and y = log(sigmoid(x)), stable for every x. */
ssm_status ssm_sigmoid_f32(const float *x, float *y, size_t count);
ssm_status ssm_sigmoid_f64(const double *x, double *y, size_t count);
ssm_status ssm_log_sigmoid_f32(const float *x, float *y, size_t count);
ssm_status ssm_log_sigmoid_f64(const double *x, double *y, size_t count);

/* y = x / sum(x) along n (the "standard normalisation" softmax replaces); IEEE results for a
 * zero or non-finite sum. */
ssm_status ssm_normalize_f32(const float *x, float *y, size_t outer, size_t n, size_t inner);
ssm_status ssm_normalize_f64(const double *x, double *y, size_t outer, size_t n, size_t inner);

/* The running log-sum-exp y[o, k, j] = log(sum_{i<=k} exp(x[o, i, j])) along n; y has the shape
 * of x and may be x (in place). -inf entries are left out (a leading run of -inf gives -inf);
 * from the first +inf on every result is +inf, from the first NaN on every result is NaN. */
ssm_status ssm_logcumsumexp_f32(const float *x, float *y, size_t outer, size_t n, size_t inner);
ssm_status ssm_logcumsumexp_f64(const double *x, double *y, size_t outer, size_t n, size_t inner);

/* ---- derivatives, one-hot and cross-entropy ------------------------------------------------ */

/* The softmax Jacobian J[i][j] = p_i (delta_ij - p_j) / temperature of every slice, with
 * p = softmax(x / temperature). jac is [outer, inner, n, n]: one n*n block per slice (the Jacobian
 * axes last), outer*inner*n*n values. A NaN slice gives a NaN block, an all -inf slice zeros. */
ssm_status ssm_softmax_jacobian_f32(const float *x, float *jac, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_jacobian_f64(const double *x, double *jac, size_t outer, size_t n, size_t inner, double temperature);

/* Vector-Jacobian product of softmax: dx = y * (g - <g, y>) / temperature along n, for
 * y = softmax(x / temperature) and g = dL/dy (also the Jacobian-vector product: J is symmetric).
 * Entries with y == 0 get 0. dx may be y or g exactly. */
ssm_status ssm_softmax_vjp_f32(const float *y, const float *g, float *dx, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_vjp_f64(const double *y, const double *g, double *dx, size_t outer, size_t n, size_t inner, double temperature);

/* Vector-Jacobian product of log-softmax: dx = (g - exp(logy) * sum(g)) / temperature along n,
 * for logy = log_softmax(x / temperature). An all -inf slice of logy gives zeros. dx may be logy
 * or g exactly. */
ssm_status ssm_log_softmax_vjp_f32(const float *logy, const float *g, float *dx, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_log_softmax_vjp_f64(const double *logy, const double *g, double *dx, size_t outer, size_t n, size_t inner, double temperature);

/* out is [count, num_classes]: row r is 1 at labels[r], 0 elsewhere. A label outside
 * [0, num_classes) gives SSM_LABEL_OUT_OF_RANGE. */
ssm_status ssm_one_hot_f32(const int64_t *labels, size_t count, size_t num_classes, float *out);
ssm_status ssm_one_hot_f64(const int64_t *labels, size_t count, size_t num_classes, double *out);

/* How cross-entropy combines the per-sample losses l (PyTorch's reduction). */
typedef enum ssm_reduction {
    SSM_REDUCTION_NONE = 0,  /* loss holds outer*inner values, one per sample */
    SSM_REDUCTION_MEAN = 1,  /* sum(l) / sum of w[y] over non-ignored samples (integer labels;
                              * NaN if all are ignored), sum(l) / (outer*inner) (soft targets) */
    SSM_REDUCTION_SUM = 2    /* sum(l) */
} ssm_reduction;

/* Cross-entropy of logits [outer, n, inner] (classes along n: PyTorch's (N, C, d1, ...) is
 * outer=N, n=C, inner=d1*d2*...) against integer labels [outer, inner], PyTorch's semantics:
 *   l = (1-eps) * (-w[y] log p[y]) + (eps/n) * sum_c (-w[c] log p[c]),  p = softmax over n,
 * and l = 0 for labels equal to ignore_index (in both terms). weight is NULL (all 1) or n values.
 * label_smoothing eps must be in [0, 1]. Any other label outside [0, n) gives
 * SSM_LABEL_OUT_OF_RANGE. loss receives 1 value, or outer*inner values for SSM_REDUCTION_NONE.
 * grad is NULL or shaped like logits (it may be logits itself): the gradient of the reduced loss
 * (of sum(l) for NONE), written in the same pass; ignored samples and all -inf rows get 0.
 * Losses are computed in log space: a confident correct prediction keeps full relative precision. */
ssm_status ssm_cross_entropy_f32(const float *logits, const int64_t *labels, const float *weight,
                                 size_t outer, size_t n, size_t inner, int64_t ignore_index,
                                 float label_smoothing, ssm_reduction reduction, float *loss, float *grad);
ssm_status ssm_cross_entropy_f64(const double *logits, const int64_t *labels, const double *weight,
                                 size_t outer, size_t n, size_t inner, int64_t ignore_index,
                                 double label_smoothing, ssm_reduction reduction, double *loss, double *grad);

/* As above with probability targets shaped like logits:
 *   l = -sum_c w[c] q'[c] log p[c],  q' = q (1-eps) + eps/n;  terms with w[c] q'[c] == 0 count 0.
 * grad may be logits or target itself. */
ssm_status ssm_cross_entropy_soft_f32(const float *logits, const float *target, const float *weight,
                                      size_t outer, size_t n, size_t inner, float label_smoothing,
                                      ssm_reduction reduction, float *loss, float *grad);
ssm_status ssm_cross_entropy_soft_f64(const double *logits, const double *target, const double *weight,
                                      size_t outer, size_t n, size_t inner, double label_smoothing,
                                      ssm_reduction reduction, double *loss, double *grad);

/* Options of the _ex cross-entropy entry points (docs/design.md, "Cross-entropy options"). Set
 * struct_size to sizeof(ssm_ce_options) and zero the rest (ssm_ce_options o = {sizeof o};), then
 * the fields you use; a NULL options pointer means every default. Fields past struct_size take
 * their defaults, so a caller built against an older header keeps working as the struct grows.
 *   z_loss   >= 0 (finite): adds z_loss * lse^2 to each sample's loss, with the sample's weight
 *            (w[y] * sample_weight[n]; sample_weight[n] for probability targets), lse being the
 *            sample's logsumexp; its gradient 2 z_loss lse p comes from the same pass. 0: none.
 *   softcap  0 (none) or finite > 0: the logits become softcap * tanh(x / softcap) inside the
 *            pass, the gradient taken back through it. */
typedef struct ssm_ce_options {
    size_t struct_size;
    double z_loss;
    double softcap;
} ssm_ce_options;

/* ssm_cross_entropy_* and ssm_cross_entropy_soft_* with the options:
 *   sample_weight  NULL, or outer*inner values, finite and >= 0, multiplying each sample's loss;
 *                  MEAN then divides by sum of w[y_n] * sample_weight[n] over the non-ignored
 *                  samples (sum of sample_weight for probability targets);
 *   options        NULL (defaults) or an ssm_ce_options, above;
 *   lse            NULL, or outer*inner values: each sample's logsumexp of the (capped) logits,
 *                  ignored samples included (-inf without classes).
 * With every option at its default they compute what ssm_cross_entropy_* compute, bit for bit. */
ssm_status ssm_cross_entropy_ex_f32(const float *logits, const int64_t *labels, const float *weight,
                                    const float *sample_weight, size_t outer, size_t n, size_t inner,
                                    int64_t ignore_index, float label_smoothing, ssm_reduction reduction,
                                    const ssm_ce_options *options, float *loss, float *grad, float *lse);
ssm_status ssm_cross_entropy_ex_f64(const double *logits, const int64_t *labels, const double *weight,
                                    const double *sample_weight, size_t outer, size_t n, size_t inner,
                                    int64_t ignore_index, double label_smoothing, ssm_reduction reduction,
                                    const ssm_ce_options *options, double *loss, double *grad, double *lse);
ssm_status ssm_cross_entropy_soft_ex_f32(const float *logits, const float *target, const float *weight,
                                         const float *sample_weight, size_t outer, size_t n, size_t inner,
                                         float label_smoothing, ssm_reduction reduction,
                                         const ssm_ce_options *options, float *loss, float *grad, float *lse);
ssm_status ssm_cross_entropy_soft_ex_f64(const double *logits, const double *target, const double *weight,
                                         const double *sample_weight, size_t outer, size_t n, size_t inner,
                                         double label_smoothing, ssm_reduction reduction,
                                         const ssm_ce_options *options, double *loss, double *grad, double *lse);

/* Binary cross-entropy with logits over rows*n elements (n classes a row), PyTorch's
 * binary_cross_entropy_with_logits:
 *   l = -w * [pw * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))]
 * computed as w * (m |x| + (1 - t + pw t) log1p(exp(-|x|))), m = 1 - t for x >= 0, pw t below: a
 * sum of terms >= 0, so confident logits keep full precision and never give NaN. target holds
 * rows*n values in [0, 1]; weight is NULL (all 1) or rows*n values; pos_weight is NULL (all 1) or
 * n values, element (r, c) taking pos_weight[c]. A target outside [0, 1] (or NaN) and a weight or
 * pos_weight that is negative or not finite give SSM_INVALID_ARGUMENT. loss receives rows*n values
 * for SSM_REDUCTION_NONE, else 1 (MEAN divides the sum by rows*n; NaN without elements). grad is
 * NULL or rows*n values (it may be logits or target itself): the gradient of the reduced loss (of
 * sum(l) for NONE), w * [(1 - t) sigmoid(x) - pw t sigmoid(-x)], written in the same pass. */
ssm_status ssm_binary_cross_entropy_with_logits_f32(const float *logits, const float *target, const float *weight,
                                                    const float *pos_weight, size_t rows, size_t n,
                                                    ssm_reduction reduction, float *loss, float *grad);
ssm_status ssm_binary_cross_entropy_with_logits_f64(const double *logits, const double *target, const double *weight,
                                                    const double *pos_weight, size_t rows, size_t n,
                                                    ssm_reduction reduction, double *loss, double *grad);

/* KL divergence KL(P || Q) of P = softmax(p/T), Q = softmax(q/T) along n of two [outer, n, inner]
 * arrays of logits, one per slice: sum_i P_i (log P_i - log Q_i), computed as
 * sum_i P_i phi(d_i), phi(d) = exp(-d) - 1 + d >= 0, d = log P - log Q (no cancellation when
 * P ~ Q). loss receives outer*inner values for SSM_REDUCTION_NONE, else 1 (MEAN: over the slices).
 * grad_p and grad_q are NULL or outer*n*inner values (each may be its own input): the gradients
 * of the reduced value (of the sum for NONE), P (d - KL) / T and (Q - P) / T. NaN in a slice
 * gives NaN; +inf entries take the limit (1/k each); P_i = 0 contributes 0; Q_i = 0 < P_i gives
 * +inf; an all -inf p slice gives 0. A temperature that is not finite and > 0 gives
 * SSM_INVALID_ARGUMENT. */
ssm_status ssm_kl_div_f32(const float *p_logits, const float *q_logits, size_t outer, size_t n, size_t inner,
                          float temperature, ssm_reduction reduction, float *loss, float *grad_p, float *grad_q);
ssm_status ssm_kl_div_f64(const double *p_logits, const double *q_logits, size_t outer, size_t n, size_t inner,
                          double temperature, ssm_reduction reduction, double *loss, double *grad_p,
                          double *grad_q);

/* Shannon entropy -sum P log P (nats) of P = softmax(x/T) along n of [outer, n, inner] logits:
 * out receives outer*inner values. grad is NULL or outer*n*inner values (it may be x itself):
 * the gradient of the sum of the entropies, -P (log P + H) / T. NaN gives NaN; k entries at +inf
 * give log k (zero gradient); an all -inf or empty slice gives 0. */
ssm_status ssm_entropy_f32(const float *x, size_t outer, size_t n, size_t inner, float temperature, float *out,
                           float *grad);
ssm_status ssm_entropy_f64(const double *x, size_t outer, size_t n, size_t inner, double temperature,
                           double *out, double *grad);

/* Negative log-likelihood of log-probabilities [outer, n, inner] (classes along n) at labels
 * [outer, inner], PyTorch's nll_loss: l = -w[y] * log_probs[y], 0 where y == ignore_index; MEAN
 * divides the sum by sum w[y] over the non-ignored samples (NaN when all are ignored). A label
 * outside [0, n) that is not ignore_index gives SSM_LABEL_OUT_OF_RANGE. weight is NULL or n
 * values; a zero weight contributes 0. */
ssm_status ssm_nll_loss_f32(const float *log_probs, const int64_t *labels, const float *weight, size_t outer,
                            size_t n, size_t inner, int64_t ignore_index, ssm_reduction reduction, float *loss);
ssm_status ssm_nll_loss_f64(const double *log_probs, const int64_t *labels, const double *weight, size_t outer,
                            size_t n, size_t inner, int64_t ignore_index, ssm_reduction reduction, double *loss);

/* ---- partial statistics: an axis split into chunks (scale-out) --------------------------------
 *
 * Softmax over an axis cut into chunks that live in different buffers, processes or machines:
 * compute each chunk's statistics, merge them (in any order or tree), then finish each chunk
 * from the merged statistics. Results equal the one-piece call within its 2-ulp accuracy.
 * The sum is a double-double (sum_hi + sum_lo) for float32 and float64 alike. Special values:
 * a NaN chunk has max NaN (and poisons every merge); k entries of +inf give max +inf and
 * sum_hi k; an empty, all -inf or fully masked chunk gives (-inf, 0, 0), and two of those merge
 * to (-inf, 0, 0), never NaN. Statistics that no chunk can have (a finite max with a sum below
 * 1, ...) are refused with SSM_INVALID_ARGUMENT. */
typedef struct ssm_softmax_stats {
    double max;     /* the largest unmasked entry of the chunk */
    double sum_hi;  /* sum of exp((x - max) / temperature), high part */
    double sum_lo;  /* ... and its low part */
} ssm_softmax_stats;

/* The statistics of each slice of a chunk x [outer, n, inner] (n: this chunk's share of the
 * axis) into stats[outer*inner]. mask is NULL (none) or one byte per element (non-zero = used).
 * The finalisers must use the same temperature. */
ssm_status ssm_softmax_stats_f32(const float *x, const uint8_t *mask, ssm_softmax_stats *stats,
                                 size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_stats_f64(const double *x, const uint8_t *mask, ssm_softmax_stats *stats,
                                 size_t outer, size_t n, size_t inner, double temperature);
/* As above, for statistics that will give a logsumexp: a logsumexp that cancels to near 0 (a
 * negative maximum) amplifies the roundings of the exp terms, so a chunk whose maximum is <= 0
 * sums them in double-double (about 100 times slower; other chunks take the fast path). */
ssm_status ssm_softmax_stats_precise_f32(const float *x, const uint8_t *mask, ssm_softmax_stats *stats,
                                         size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_stats_precise_f64(const double *x, const uint8_t *mask, ssm_softmax_stats *stats,
                                         size_t outer, size_t n, size_t inner, double temperature);
/* out[i] = a[i] merged with b[i] (count values); out may be a or b. Commutative bit for bit,
 * associative to double-double precision. */
ssm_status ssm_softmax_stats_merge(const ssm_softmax_stats *a, const ssm_softmax_stats *b,
                                   ssm_softmax_stats *out, size_t count, double temperature);
/* softmax / log_softmax of a chunk x [outer, n, inner] given the statistics merged over the
 * whole axis (outer*inner values). y may be x. */
ssm_status ssm_softmax_from_stats_f32(const float *x, const uint8_t *mask, const ssm_softmax_stats *stats,
                                      float *y, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_softmax_from_stats_f64(const double *x, const uint8_t *mask, const ssm_softmax_stats *stats,
                                      double *y, size_t outer, size_t n, size_t inner, double temperature);
ssm_status ssm_log_softmax_from_stats_f32(const float *x, const uint8_t *mask, const ssm_softmax_stats *stats,
                                          float *y, size_t outer, size_t n, size_t inner, float temperature);
ssm_status ssm_log_softmax_from_stats_f64(const double *x, const uint8_t *mask, const ssm_softmax_stats *stats,
                                          double *y, size_t outer, size_t n, size_t inner, double temperature);
/* out[i] = log(sum(exp(x / temperature))) of slice i from its merged statistics. */
ssm_status ssm_logsumexp_from_stats_f32(const ssm_softmax_stats *stats, float *out, size_t count, float temperature);
ssm_status ssm_logsumexp_from_stats_f64(const ssm_softmax_stats *stats, double *out, size_t count, double temperature);

/* Vocabulary-parallel cross-entropy: the class axis (num_classes classes) cut into shards.
 * Per sample, a shard's statistics hold its softmax statistics, the target's logit (and
 * found = 1) if the shard holds the target class, sum_c w_c (max - x_c) over its classes
 * (shift_hi + shift_lo, relative to the shard's max: no cancellation) and sum_c w_c. Label
 * smoothing spreads eps over the GLOBAL num_classes (Megatron-LM's vocabulary-parallel loss once
 * used the shard's class count). Weights are double (num_classes values, or NULL for all 1),
 * labels global class indices or ignore_index. */
typedef struct ssm_ce_stats {
    ssm_softmax_stats softmax;
    double target;      /* the target class's logit, in the shard that holds it; else 0 */
    double found;       /* 1 in the shard that holds the target; merged: must be 1 */
    double shift_hi;    /* sum_c w_c (max - x_c), high part */
    double shift_lo;
    double weight_sum;  /* sum_c w_c */
} ssm_ce_stats;

/* The statistics of the shard logits [outer, n, inner] (classes class_offset .. class_offset+n-1
 * of num_classes along n) for labels [outer, inner], into stats[outer*inner]. */
ssm_status ssm_ce_stats_f32(const float *logits, const int64_t *labels, const double *weight,
                            size_t outer, size_t n, size_t inner, size_t class_offset,
                            size_t num_classes, int64_t ignore_index, ssm_ce_stats *stats);
ssm_status ssm_ce_stats_f64(const double *logits, const int64_t *labels, const double *weight,
                            size_t outer, size_t n, size_t inner, size_t class_offset,
                            size_t num_classes, int64_t ignore_index, ssm_ce_stats *stats);
ssm_status ssm_ce_stats_merge(const ssm_ce_stats *a, const ssm_ce_stats *b, ssm_ce_stats *out, size_t count);
/* Losses of count samples from statistics merged over every shard (PyTorch's semantics, as
 * ssm_cross_entropy_*): count values for SSM_REDUCTION_NONE, else 1; always double (round them
 * once to the logits' type). A non-ignored sample whose target was found in 0 or several
 * shards gives SSM_INVALID_ARGUMENT. */
ssm_status ssm_cross_entropy_from_stats(const ssm_ce_stats *stats, const int64_t *labels, const double *weight,
                                        size_t count, size_t num_classes, int64_t ignore_index,
                                        double label_smoothing, ssm_reduction reduction, double *loss);
/* *out = sum of w[labels[i]] over the non-ignored samples: the mean's denominator. */
ssm_status ssm_cross_entropy_denominator(const int64_t *labels, const double *weight, size_t count,
                                         size_t num_classes, int64_t ignore_index, double *out);
/* The gradient for one shard's logits from the merged statistics, divided by divisor (the
 * mean's denominator over the whole batch, or 1 for sum/none; > 0, +inf gives zeros). grad is
 * shaped like logits and may be logits. */
ssm_status ssm_cross_entropy_grad_from_stats_f32(const float *logits, const int64_t *labels, const double *weight,
                                                 size_t outer, size_t n, size_t inner, size_t class_offset,
                                                 size_t num_classes, int64_t ignore_index, double label_smoothing,
                                                 const ssm_ce_stats *stats, double divisor, float *grad);
ssm_status ssm_cross_entropy_grad_from_stats_f64(const double *logits, const int64_t *labels, const double *weight,
                                                 size_t outer, size_t n, size_t inner, size_t class_offset,
                                                 size_t num_classes, int64_t ignore_index, double label_smoothing,
                                                 const ssm_ce_stats *stats, double divisor, double *grad);

/* ---- library ---------------------------------------------------------------------------------- */

/* A static description of a status code ("unknown status code" for codes not listed above). */
const char *ssm_status_message(int status);
/* The calling thread's last error in detail ("" before any error). Valid until its next call. */
const char *ssm_last_error_message(void);
/* The library version, e.g. "0.1.0" (SSM_VERSION_STRING of the header it was built with). */
const char *ssm_version(void);
/* The instruction-set tier the kernels run on. */
const char *ssm_isa(void);
/* The tiers this CPU runs, slowest first, separated by spaces (e.g. "baseline avx2 avx512"); any
 * of them may be chosen with the environment variable SWIFTSOFTMAX_ISA. */
const char *ssm_available_isas(void);
/* Threads used by large calls (1..1024; default: online CPUs). Results do not depend on it. */
ssm_status ssm_set_num_threads(int n);
int ssm_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTSOFTMAX_H */
