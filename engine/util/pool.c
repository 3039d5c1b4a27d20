/*
 * pool: fixed pthread workers with per-worker bounded FIFOs (see pool.h for the contract).
 *
 * Each worker has its own mutex, a ring of job slots, a condvar for "work arrived" and one for "a
 * job finished" (pool_drain). Per-worker counters `posted` and `finished` make drain exact: a
 * worker's FIFO runs jobs in posting order, so finished >= the posted count snapshotted at drain
 * time means every job posted before the call has run. All condvars use CLOCK_MONOTONIC so
 * deadlines are clk_mono_ns() values and wall-clock steps cannot stretch or cut a wait.
 *
 * Handles and run_all batches are reference counted under their own mutex: the side that drops the
 * last reference frees them, so a caller that times out and walks away leaks nothing.
 */
#include "util/pool.h"

#include "util/clk.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct pool_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int refs; /* the worker's and the caller's */
};

struct job_slot {
    pool_fn fn;
    void *arg;
    pool_job *handle; /* NULL for pool_post */
};

struct worker {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t has_work;
    pthread_cond_t job_done;
    struct job_slot *ring;
    size_t cap, head, count;
    uint64_t posted, finished;
    unsigned drainers; /* threads waiting on job_done: skip the broadcast when there are none */
    bool closing;
};

struct pool {
    unsigned nworkers;
    struct worker *w;
};

static void init_mono_cond(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* One timed wait on cv; false once deadline_ns (CLOCK_MONOTONIC) has passed. */
static bool wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ns)
{
    if (deadline_ns < 0)
        deadline_ns = 0;
    struct timespec ts = { .tv_sec = (time_t)(deadline_ns / CLK_NS_PER_S),
                           .tv_nsec = (long)(deadline_ns % CLK_NS_PER_S) };
    return pthread_cond_timedwait(cv, mu, &ts) == 0;
}

/* ---- job handles ---- */

static pool_job *job_new(void)
{
    pool_job *j = xmalloc(sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    init_mono_cond(&j->cv);
    j->done = false;
    j->refs = 2;
    return j;
}

static void job_free(pool_job *j)
{
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void job_drop_ref(pool_job *j)
{
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last)
        job_free(j);
}

static void job_complete(pool_job *j)
{
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_drop_ref(j);
}

int pool_job_wait(pool_job *j, int64_t deadline_ns)
{
    pthread_mutex_lock(&j->mu);
    while (!j->done && wait_until(&j->cv, &j->mu, deadline_ns))
        ;
    int rc = j->done ? 0 : BF_ETIMEDOUT;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void pool_job_release(pool_job *j)
{
    if (j)
        job_drop_ref(j);
}

/* ---- workers ---- */

/* Called with w->mu held; false when the worker is closing and its queue is empty. */
static bool worker_take(struct worker *w, struct job_slot *out)
{
    while (w->count == 0 && !w->closing)
        pthread_cond_wait(&w->has_work, &w->mu);
    if (w->count == 0)
        return false;
    *out = w->ring[w->head];
    w->head = (w->head + 1) % w->cap;
    w->count--;
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct job_slot s;
    pthread_mutex_lock(&w->mu);
    while (worker_take(w, &s)) {
        pthread_mutex_unlock(&w->mu);
        s.fn(s.arg);
        if (s.handle)
            job_complete(s.handle);
        pthread_mutex_lock(&w->mu);
        w->finished++;
        if (w->drainers)
            pthread_cond_broadcast(&w->job_done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void worker_init(struct worker *w, size_t cap)
{
    pthread_mutex_init(&w->mu, NULL);
    init_mono_cond(&w->has_work);
    init_mono_cond(&w->job_done);
    w->ring = xcalloc(cap, sizeof *w->ring);
    w->cap = cap;
    w->head = w->count = 0;
    w->posted = w->finished = 0;
    w->drainers = 0;
    w->closing = false;
}

static void worker_fini(struct worker *w)
{
    pthread_cond_destroy(&w->job_done);
    pthread_cond_destroy(&w->has_work);
    pthread_mutex_destroy(&w->mu);
    free(w->ring);
}

pool *pool_create(unsigned nworkers, size_t queue_cap)
{
    pool *p = xmalloc(sizeof *p);
    p->nworkers = nworkers ? nworkers : 1;
    p->w = xcalloc(p->nworkers, sizeof *p->w);
    for (unsigned i = 0; i < p->nworkers; i++) {
        worker_init(&p->w[i], queue_cap ? queue_cap : 1);
        if (pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]) != 0)
            abort(); /* like allocation failure: a pool without its threads cannot work */
    }
    return p;
}

void pool_destroy(pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->w[i];
        pthread_mutex_lock(&w->mu);
        w->closing = true;
        pthread_cond_signal(&w->has_work);
        pthread_mutex_unlock(&w->mu);
    }
    for (unsigned i = 0; i < p->nworkers; i++) {
        pthread_join(p->w[i].tid, NULL);
        worker_fini(&p->w[i]);
    }
    free(p->w);
    free(p);
}

unsigned pool_workers(const pool *p)
{
    return p->nworkers;
}

unsigned pool_worker_of(const pool *p, uint64_t key)
{
    return (unsigned)(key % p->nworkers);
}

/* ---- submission ---- */

static int enqueue(pool *p, uint64_t key, struct job_slot s)
{
    struct worker *w = &p->w[pool_worker_of(p, key)];
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        rc = BF_ECLOSED;
    } else if (w->count == w->cap) {
        rc = BF_EAGAIN;
    } else {
        w->ring[(w->head + w->count) % w->cap] = s;
        w->count++;
        w->posted++;
        pthread_cond_signal(&w->has_work);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int pool_post(pool *p, uint64_t key, pool_fn fn, void *arg)
{
    return enqueue(p, key, (struct job_slot){ .fn = fn, .arg = arg });
}

int pool_submit(pool *p, uint64_t key, pool_fn fn, void *arg, pool_job **out)
{
    pool_job *j = job_new();
    int rc = enqueue(p, key, (struct job_slot){ .fn = fn, .arg = arg, .handle = j });
    if (rc != 0) {
        job_free(j); /* never queued: no worker holds a reference */
        j = NULL;
    }
    *out = j;
    return rc;
}

/* ---- drain and run_all ---- */

static int drain_worker(struct worker *w, int64_t deadline_ns)
{
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->posted;
    w->drainers++;
    while (w->finished < target && wait_until(&w->job_done, &w->mu, deadline_ns))
        ;
    w->drainers--;
    int rc = w->finished >= target ? 0 : BF_ETIMEDOUT;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int pool_drain(pool *p, int64_t deadline_ns)
{
    int rc = 0;
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (drain_worker(&p->w[i], deadline_ns) != 0)
            rc = BF_ETIMEDOUT;
    }
    return rc;
}

/* One pool_run_all call. Shared by the caller and every job it posted; whoever drops the last
 * reference (the caller, or the last job after a caller timed out) frees it. */
struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_fn fn;
    size_t pending; /* items not yet run */
    size_t refs;    /* pending + 1 while the caller still waits */
    struct batch_item {
        struct batch *b;
        void *item;
    } items[];
};

static void batch_unref_locked(struct batch *b)
{
    bool last = --b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (!last)
        return;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static void batch_run_item(void *arg)
{
    struct batch_item *it = arg;
    struct batch *b = it->b;
    b->fn(it->item);
    pthread_mutex_lock(&b->mu);
    if (--b->pending == 0)
        pthread_cond_broadcast(&b->cv);
    batch_unref_locked(b);
}

static struct batch *batch_new(pool_fn fn, void **items, size_t n)
{
    struct batch *b = xmalloc(sizeof *b + n * sizeof b->items[0]);
    pthread_mutex_init(&b->mu, NULL);
    init_mono_cond(&b->cv);
    b->fn = fn;
    b->pending = n;
    b->refs = n + 1;
    for (size_t i = 0; i < n; i++)
        b->items[i] = (struct batch_item){ .b = b, .item = items[i] };
    return b;
}

int pool_run_all(pool *p, pool_fn fn, void **items, size_t n, int64_t deadline_ns)
{
    struct batch *b = batch_new(fn, items, n);
    for (size_t i = 0; i < n; i++) {
        /* A full (or closing) queue runs the item on the caller's thread: run_all never fails
         * for lack of queue space and never blocks on it. */
        if (pool_post(p, i, batch_run_item, &b->items[i]) != 0)
            batch_run_item(&b->items[i]);
    }
    pthread_mutex_lock(&b->mu);
    while (b->pending > 0 && wait_until(&b->cv, &b->mu, deadline_ns))
        ;
    int rc = b->pending == 0 ? 0 : BF_ETIMEDOUT;
    batch_unref_locked(b);
    return rc;
}
