/*
 * Thread pool: workers spin briefly after a job (kernels come back to back), then sleep on a condition variable.
 * A job is published under a sequence number (`seq`, odd while the main thread writes the job, even when
 * published); chunks are claimed with a 64-bit ticket holding (job generation << 32 | next chunk), so a worker that
 * read a stale job can never claim a chunk of a newer one.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define MM_MAX_THREADS 64

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_started = 0;          /* workers created */
static int g_threads = 1;          /* threads in use, caller included */
static long g_spin_ns = 100000;    /* how long an idle worker spins before sleeping */

static atomic_ulong g_seq;         /* seqlock over the job fields below */
static mm_range_fn g_fn;
static void *g_ctx;
static long g_n, g_chunk, g_nchunks;
static atomic_ullong g_ticket;     /* (generation << 32) | next chunk */
static atomic_long g_done;         /* chunks finished in the current job */
static atomic_int g_sleeping;

static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Claims and runs chunks of the job published as generation `gen`, described by the given snapshot. */
static void run_chunks(unsigned long gen, mm_range_fn fn, void *ctx, long n, long chunk, long nchunks) {
  for (;;) {
    unsigned long long t = atomic_load(&g_ticket);
    if ((t >> 32) != (gen & 0xffffffffUL)) return;
    long idx = (long)(t & 0xffffffffULL);
    if (idx >= nchunks) return;
    if (!atomic_compare_exchange_weak(&g_ticket, &t, t + 1)) continue;
    long b = idx * chunk, e = b + chunk;
    if (e > n) e = n;
    fn(ctx, b, e);
    atomic_fetch_add(&g_done, 1);
  }
}

static void *worker_main(void *arg) {
  (void)arg;
  unsigned long seen = atomic_load(&g_seq);
  for (;;) {
    unsigned long s;
    long spin_start = now_ns();
    int iter = 0;
    while ((s = atomic_load(&g_seq)) == seen || (s & 1)) {
      cpu_relax();
      if ((++iter & 255) == 0 && now_ns() - spin_start > g_spin_ns) {
        pthread_mutex_lock(&g_mu);
        atomic_fetch_add(&g_sleeping, 1);
        while ((s = atomic_load(&g_seq)) == seen || (s & 1)) pthread_cond_wait(&g_cv, &g_mu);
        atomic_fetch_sub(&g_sleeping, 1);
        pthread_mutex_unlock(&g_mu);
        spin_start = now_ns();
      }
    }
    /* snapshot the job, then validate the snapshot with the sequence number */
    mm_range_fn fn = g_fn;
    void *ctx = g_ctx;
    long n = g_n, chunk = g_chunk, nchunks = g_nchunks;
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load(&g_seq) != s) continue; /* a newer job is being written; look again */
    seen = s;
    run_chunks(s >> 1, fn, ctx, n, chunk, nchunks);
  }
  return NULL;
}

void mm_pool_init(int threads, int spin_us) {
  pthread_mutex_lock(&g_mu);
  if (threads < 1) threads = 1;
  if (threads > MM_MAX_THREADS) threads = MM_MAX_THREADS;
  if (spin_us >= 0) g_spin_ns = (long)spin_us * 1000L;
  while (g_started < threads - 1) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, worker_main, NULL) != 0) {
      pthread_attr_destroy(&attr);
      break;
    }
    pthread_attr_destroy(&attr);
    g_started++;
  }
  g_threads = g_started + 1 < threads ? g_started + 1 : threads;
  pthread_mutex_unlock(&g_mu);
}

int mm_pool_threads(void) { return g_threads; }

void mm_pool_set_threads(int threads) { mm_pool_init(threads, -1); }

void mm_parallel_for(long n, long grain, mm_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int T = g_threads;
  if (T <= 1 || n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  /* up to 4 chunks per thread for balance on a shared machine, none smaller than grain */
  long nchunks = n / grain;
  if (nchunks > 4L * T) nchunks = 4L * T;
  if (nchunks < 2) nchunks = 2;
  long chunk = (n + nchunks - 1) / nchunks;
  nchunks = (n + chunk - 1) / chunk;

  unsigned long s = atomic_load(&g_seq);
  atomic_store(&g_seq, s + 1); /* odd: writing */
  g_fn = fn;
  g_ctx = ctx;
  g_n = n;
  g_chunk = chunk;
  g_nchunks = nchunks;
  unsigned long gen = (s + 2) >> 1;
  atomic_store(&g_done, 0);
  atomic_store(&g_ticket, ((unsigned long long)(gen & 0xffffffffUL)) << 32);
  atomic_store(&g_seq, s + 2); /* even: published */
  if (atomic_load(&g_sleeping) > 0) {
    pthread_mutex_lock(&g_mu);
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
  }
  run_chunks(gen, fn, ctx, n, chunk, nchunks);
  int iter = 0;
  while (atomic_load(&g_done) < nchunks) {
    cpu_relax();
    if ((++iter & 1023) == 0) sched_yield();
  }
}
