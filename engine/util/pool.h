/*
 * pool: a fixed set of pthread workers with keyed, ordered execution (the seed's thread_pool and
 * async_tools).
 *
 * Each worker owns a bounded FIFO. pool_post(key) always lands on worker key % nworkers, so every
 * job of one key (one symbol) runs in submission order on one thread. Submission never blocks: a
 * full worker queue returns BF_EAGAIN and the caller decides. Jobs submitted with pool_submit()
 * return a handle: pool_job_wait() waits with a deadline and reports BF_ETIMEDOUT without
 * cancelling anything; the job still runs, and its handle is freed by whichever comes last of
 * completion and pool_job_release(), so a timed-out job is never leaked. Any thread may submit and
 * wait; jobs must not call pool_destroy() or wait on jobs of their own worker.
 */
#ifndef BF_POOL_H
#define BF_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct pool pool;
typedef struct pool_job pool_job;
typedef void (*pool_fn)(void *arg);

/* nworkers >= 1; queue_cap jobs per worker. */
pool *pool_create(unsigned nworkers, size_t queue_cap);
/* Runs every queued job, then joins the workers. */
void pool_destroy(pool *p);

unsigned pool_workers(const pool *p);
/* The worker index a key maps to. */
unsigned pool_worker_of(const pool *p, uint64_t key);

/* Fire and forget, ordered per key. 0 or BF_EAGAIN (queue full) / BF_ECLOSED. */
int pool_post(pool *p, uint64_t key, pool_fn fn, void *arg);

/* With a handle to wait on. *out receives the job; BF_EAGAIN / BF_ECLOSED leave *out NULL. */
int pool_submit(pool *p, uint64_t key, pool_fn fn, void *arg, pool_job **out);
/* Wait until the job has run or deadline_ns (clk_mono_ns time) passes: 0 or BF_ETIMEDOUT. */
int pool_job_wait(pool_job *j, int64_t deadline_ns);
/* The caller is done with the handle (whether or not the job finished). */
void pool_job_release(pool_job *j);

/* Run fn over n items spread over the workers and wait for all (the seed's run_concurrent).
 * Returns 0, or BF_ETIMEDOUT if they did not all finish by deadline_ns (the rest still run). */
int pool_run_all(pool *p, pool_fn fn, void **items, size_t n, int64_t deadline_ns);

/* Wait until every job posted so far has run: 0 or BF_ETIMEDOUT. */
int pool_drain(pool *p, int64_t deadline_ns);

#endif
