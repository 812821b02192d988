#include "CSoftmaxSupport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Worker threads that spin for a short while after each job before sleeping on a condition
 * variable. Waking a sleeping thread costs tens of microseconds, which is the whole run time
 * of a mid-sized call; a spinning worker joins within a microsecond. One caller owns the pool
 * at a time; a call that finds it owned (another thread's call, or a nested one) runs alone,
 * which gives the same bits because the work is partitioned independently of the threads. */

#define HIDDEN __attribute__((visibility("hidden")))
#define MAX_WORKERS 63
/* How long an idle worker spins before it sleeps (OpenMP runtimes spin for 100 us - 200 ms). */
#define SPIN_NANOSECONDS 200000L

static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_int owned;          /* 1 while a caller owns the pool */
static atomic_long generation;    /* bumped once per job */
static atomic_int sleepers;       /* workers waiting on `wake` */
/* Entry to the current job: the number of workers that entered it, or -1 once the owner has
 * finished its own share and closed it. A worker that comes late (descheduled, or slow to
 * wake) finds the job closed and skips it, so the owner never waits for a worker that has not
 * started; it waits only for those that entered, to leave (`left`). */
static atomic_int entered = -1;
static atomic_int left;
static int started;               /* workers running (changed only by the owner) */
static int handlers_installed;

/* The current job: written by the owner before it opens the job, read by workers that
 * entered it, and not rewritten until every worker that entered has left. */
static ssm_support_job job_body;
static void *job_context;
static int job_helpers;           /* workers 1...job_helpers run the body; the rest only count out */
static long start_generation[MAX_WORKERS + 1];

static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* The next generation after `seen`: spin, then sleep. */
static long await_job(long seen) {
    long deadline = 0;
    for (unsigned spins = 1;; spins++) {
        long g = atomic_load_explicit(&generation, memory_order_acquire);
        if (g != seen) return g;
        relax();
        if ((spins & 255) != 0) continue;
        long now = nanoseconds();
        if (deadline == 0) {
            deadline = now + SPIN_NANOSECONDS;
        } else if (now > deadline) {
            break;
        }
    }
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add(&sleepers, 1);  /* seq_cst, against the owner's bump-then-check */
    long g;
    while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&wake, &sleep_lock);
    atomic_fetch_sub(&sleepers, 1);
    pthread_mutex_unlock(&sleep_lock);
    return g;
}

/* Enters the open job, if any. */
static int enter(void) {
    int n = atomic_load_explicit(&entered, memory_order_acquire);
    while (n >= 0) {
        if (atomic_compare_exchange_weak_explicit(&entered, &n, n + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 1;
    }
    return 0;
}

static void *worker(void *arg) {
    int index = (int)(intptr_t)arg;
    long seen = start_generation[index];
    for (;;) {
        seen = await_job(seen);
        /* A job's body only claims what is left of its work, so entering a job twice (after a
         * late wake-up that overlaps the next job) is harmless. */
        if (!enter()) continue;
        if (index <= job_helpers) job_body(job_context, index);
        atomic_fetch_add_explicit(&left, 1, memory_order_release);
    }
    return 0;
}

/* A forked child has none of the parent's workers: it starts its pool afresh. */
static void forget_workers_after_fork(void) {
    started = 0;
    atomic_store(&owned, 0);
    atomic_store(&sleepers, 0);
    atomic_store(&entered, -1);
    atomic_store(&left, 0);
    pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_wake = PTHREAD_COND_INITIALIZER;
    sleep_lock = fresh_lock;
    wake = fresh_wake;
}

static void start_workers(int wanted) {
    if (!handlers_installed) {
        pthread_atfork(0, 0, forget_workers_after_fork);
        handlers_installed = 1;
    }
    while (started < wanted) {
        int index = started + 1;
        start_generation[index] = atomic_load(&generation);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        int failed = pthread_create(&thread, &attr, worker, (void *)(intptr_t)index);
        pthread_attr_destroy(&attr);
        if (failed) break;  /* run with the workers there are */
        started = index;
    }
}

HIDDEN void ssm_support_parallel(int threads, ssm_support_job body, void *context) {
    int expected = 0;
    if (threads <= 1 || !atomic_compare_exchange_strong(&owned, &expected, 1)) {
        body(context, 0);
        return;
    }
    int helpers = threads - 1 < MAX_WORKERS ? threads - 1 : MAX_WORKERS;
    if (started < helpers) start_workers(helpers);
    if (started == 0) {
        atomic_store(&owned, 0);
        body(context, 0);
        return;
    }
    job_body = body;
    job_context = context;
    job_helpers = helpers < started ? helpers : started;
    atomic_store_explicit(&left, 0, memory_order_relaxed);
    atomic_store_explicit(&entered, 0, memory_order_release);  /* opens the job */
    atomic_fetch_add(&generation, 1);  /* seq_cst, against a worker's add-then-check of sleepers */
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    body(context, 0);
    int inside = atomic_exchange_explicit(&entered, -1, memory_order_acq_rel);  /* closes it */
    while (atomic_load_explicit(&left, memory_order_acquire) < inside) relax();
    atomic_store_explicit(&owned, 0, memory_order_release);
}
