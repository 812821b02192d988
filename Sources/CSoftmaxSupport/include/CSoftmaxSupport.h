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

/* The best kernel tier this CPU runs: 0 baseline, 1 AVX2+FMA, 2 AVX-512 (F, BW, DQ, VL). */
int ssm_support_cpu_tier(void);
#endif
