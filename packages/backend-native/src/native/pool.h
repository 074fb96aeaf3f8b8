/*
 * A small persistent thread pool for the native kernels: one job at a time, split into chunks that the caller
 * and the workers claim dynamically (so a descheduled worker on a busy machine only delays the chunk it holds).
 */
#ifndef MMZOO_POOL_H
#define MMZOO_POOL_H

/** Work on the half-open index range [begin, end). */
typedef void (*mm_range_fn)(void *ctx, long begin, long end);

/** Starts the pool with `threads` threads in all (the caller included); idempotent. */
void mm_pool_init(int threads, int spin_us);
/** Total threads (caller included). */
int mm_pool_threads(void);
/** Changes the total thread count (joins nothing: extra workers stay asleep). */
void mm_pool_set_threads(int threads);

/**
 * Runs fn over [0, n) in chunks of at least `grain` indices, on the caller and the workers. Runs inline when
 * one chunk suffices or the pool has one thread. Returns when every chunk has finished.
 */
void mm_parallel_for(long n, long grain, mm_range_fn fn, void *ctx);

#endif
