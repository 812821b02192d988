#ifndef CSOFTMAX_SUPPORT_H
#define CSOFTMAX_SUPPORT_H

/* Internal helpers of libswiftsoftmax; hidden from the shared library's symbol table. */

/* Stores the detail of the calling thread's last failed call (copied, truncated to fit). */
void ssm_support_set_error(const char *message);
/* The detail of the calling thread's last failed call, or "" if none. */
const char *ssm_support_error(void);



/* The best kernel tier this CPU runs: 0 baseline, 1 AVX2+FMA, 2 AVX-512 (F, BW, DQ, VL). */
int ssm_support_cpu_tier(void);
#endif
