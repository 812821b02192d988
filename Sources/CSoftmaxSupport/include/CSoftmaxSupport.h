#ifndef CSOFTMAX_SUPPORT_H
#define CSOFTMAX_SUPPORT_H

/* Internal helpers of libswiftsoftmax; hidden from the shared library's symbol table. */

/* Stores the detail of the calling thread's last failed call (copied, truncated to fit). */
void ssm_support_set_error(const char *message);
/* The detail of the calling thread's last failed call, or "" if none. */
const char *ssm_support_error(void);

/* A job run by several threads: `participant` is 0 on the calling thread, 1... on workers. */
typedef void (*ssm_support_job)(void *context, int participant);
/* Runs body(context, i) for i in 0..<threads at once (0 on the caller) and returns when all
 * have returned; only body(context, 0) when threads <= 1 or the pool is in use. */
void ssm_support_parallel(int threads, ssm_support_job body, void *context);

/* The rows of the tier table (Sources/Tiers/tiers.def) built for this architecture, slowest
 * first: how many, the name of row i, and whether this CPU runs it (1 yes, 0 no, -1 the row
 * names a CPU feature the detection does not know). */
int ssm_support_tier_count(void);
const char *ssm_support_tier_name(int i);
int ssm_support_tier_runs(int i);

/* SSM_VERSION_STRING of include/swiftsoftmax.h, "MAJOR.MINOR.PATCH". */
const char *ssm_support_version(void);

/* Hints that the cache line at p will be read (ssm_support_prefetch) or written
 * (ssm_support_prefetch_for_write) soon: a pass that computes can have the memory of the next
 * pass fetched meanwhile (docs/performance.md, "Float rows"). Inline: Swift cannot call the
 * compiler's builtin. Never faults, whatever p is. */
static inline void ssm_support_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void ssm_support_prefetch_for_write(const void *p) { __builtin_prefetch(p, 1, 3); }
#if defined(__x86_64__)
/* Orders this thread's streaming (non-temporal) stores before its later stores, so that a
 * thread that sees the job finished sees them too. Inline for the same reason: Swift imports
 * _mm_sfence as a function no library defines. */
static inline void ssm_support_store_fence(void) { __builtin_ia32_sfence(); }

#include <immintrin.h>
/* vfixupimmps / vfixupimmpd with immediate 0: each lane of `a`, or a value chosen by the class
 * of the same lane of `b` (NaN, zero, one, -inf, +inf, negative, positive), as the lane's
 * 4-bit code in `table` says. Here because Swift cannot call the intrinsic, a macro; inlined
 * into the AVX-512 tier's kernels, one instruction (docs/design.md, "Writing vector code in
 * Swift"). */
__attribute__((target("avx512f"), always_inline))
static inline __m512 ssm_support_fixup_ps(__m512 a, __m512 b, __m512i table) {
    return _mm512_fixupimm_ps(a, b, table, 0);
}
__attribute__((target("avx512f"), always_inline))
static inline __m512d ssm_support_fixup_pd(__m512d a, __m512d b, __m512i table) {
    return _mm512_fixupimm_pd(a, b, table, 0);
}
/* vrangepd / vrangeps with immediate 0b1110: -min(|a|, |b|) lane by lane (the operand of the
 * smaller magnitude, its sign bit set), one instruction where an OR of the sign bit and a
 * maximum took two. A quiet NaN in `a` gives -|b| (the other operand), a signalling one a quiet
 * NaN: callers restore NaN lanes themselves. Here for the same reason as the fixups. */
__attribute__((target("avx512f,avx512dq"), always_inline))
static inline __m512d ssm_support_minus_min_abs_pd(__m512d a, __m512d b) {
    return _mm512_range_pd(a, b, 0x0E);
}
__attribute__((target("avx512f,avx512dq"), always_inline))
static inline __m512 ssm_support_minus_min_abs_ps(__m512 a, __m512 b) {
    return _mm512_range_ps(a, b, 0x0E);
}
#endif
#endif
