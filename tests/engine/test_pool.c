/* Tests for pool: keyed ordering, deadline waits, handle lifetime, back-pressure, run_all, drain
 * and destroy. Blocking is done with gates the test opens; timeouts appear only where the timeout
 * itself is the behaviour under test. */
#include <criterion/criterion.h>

#include "util/clk.h"
#include "util/err.h"
#include "util/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Under ASan, ask LeakSanitizer right away so a leaked handle fails the test itself (a leak found
 * only at exit is reported by Criterion as a teardown crash but does not fail the run). */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_TEST_LSAN 1
#endif
#endif
#ifdef POOL_TEST_LSAN
#include <sanitizer/lsan_interface.h>
static int leaked_now(void)
{
    return __lsan_do_recoverable_leak_check();
}
#else
static int leaked_now(void)
{
    return 0;
}
#endif

#define FAR_DEADLINE()  (clk_mono_ns() + 60 * CLK_NS_PER_S)
#define NEAR_DEADLINE() (clk_mono_ns() + 50 * CLK_NS_PER_MS)

/* A gate: jobs block in gate_pass() until the test calls gate_open(). `arrived` counts the jobs
 * that reached it, so the test can also wait until a job is known to be running. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    unsigned arrived;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = false;
    g->arrived = 0;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_pass(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->arrived++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_arrivals(struct gate *g, unsigned n)
{
    pthread_mutex_lock(&g->mu);
    while (g->arrived < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void count_job(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* ---- keyed order ---- */

enum { NKEYS = 32, PER_KEY = 200, KEYED_WORKERS = 4 };

struct key_log {
    int entries[PER_KEY];
    int n;
    pthread_t thread;
    bool thread_set;
    bool thread_changed;
};

struct keyed_job {
    struct key_log *log;
    int index;
};

/* No lock on purpose: jobs of one key must run one at a time on one thread (TSan would object). */
static void keyed_append(void *arg)
{
    struct keyed_job *j = arg;
    struct key_log *l = j->log;
    if (!l->thread_set) {
        l->thread = pthread_self();
        l->thread_set = true;
    } else if (!pthread_equal(l->thread, pthread_self())) {
        l->thread_changed = true;
    }
    l->entries[l->n++] = j->index;
}

Test(pool, keyed_jobs_run_in_order_on_one_thread, .timeout = 120)
{
    pool *p = pool_create(KEYED_WORKERS, NKEYS * PER_KEY);
    cr_assert_eq(pool_workers(p), KEYED_WORKERS);
    cr_assert_eq(pool_worker_of(p, 7), 7 % KEYED_WORKERS);
    struct key_log *logs = calloc(NKEYS, sizeof *logs);
    struct keyed_job *jobs = calloc(NKEYS * PER_KEY, sizeof *jobs);
    for (int i = 0; i < PER_KEY; i++) {
        for (int k = 0; k < NKEYS; k++) {
            struct keyed_job *j = &jobs[i * NKEYS + k];
            *j = (struct keyed_job){ .log = &logs[k], .index = i };
            cr_assert_eq(pool_post(p, (uint64_t)k, keyed_append, j), 0);
        }
    }
    cr_assert_eq(pool_drain(p, FAR_DEADLINE()), 0);
    for (int k = 0; k < NKEYS; k++) {
        cr_assert_eq(logs[k].n, PER_KEY, "key %d ran %d jobs", k, logs[k].n);
        cr_assert_not(logs[k].thread_changed, "key %d ran on more than one thread", k);
        for (int i = 0; i < PER_KEY; i++)
            cr_assert_eq(logs[k].entries[i], i, "key %d: position %d out of order", k, i);
    }
    pool_destroy(p);
    free(jobs);
    free(logs);
}

/* ---- handles and deadlines ---- */

Test(pool, job_wait_times_out_then_completes)
{
    pool *p = pool_create(2, 8);
    struct gate g;
    gate_init(&g);
    pool_job *j = NULL;
    cr_assert_eq(pool_submit(p, 1, gate_pass, &g, &j), 0);
    cr_assert_not_null(j);
    cr_assert_eq(pool_job_wait(j, NEAR_DEADLINE()), BF_ETIMEDOUT);
    cr_assert_eq(pool_job_wait(j, clk_mono_ns() - CLK_NS_PER_S), BF_ETIMEDOUT,
                 "a past deadline returns at once");
    gate_open(&g);
    cr_assert_eq(pool_job_wait(j, FAR_DEADLINE()), 0);
    cr_assert_eq(pool_job_wait(j, 0), 0, "a finished job stays finished");
    pool_job_release(j);
    pool_destroy(p);
    cr_assert_eq(g.arrived, 1);
    gate_destroy(&g);
}

/* Submit a gated job, time out on it and give the handle back while the job is still blocked.
 * noinline keeps the handle pointer in this frame only, so a leak is unreachable afterwards. */
__attribute__((noinline)) static void submit_then_abandon(pool *p, struct gate *g)
{
    pool_job *j = NULL;
    cr_assert_eq(pool_submit(p, 0, gate_pass, g, &j), 0);
    cr_assert_eq(pool_job_wait(j, NEAR_DEADLINE()), BF_ETIMEDOUT);
    pool_job_release(j);
}

Test(pool, release_before_completion_frees_handle)
{
    pool *p = pool_create(1, 8);
    struct gate g;
    gate_init(&g);
    submit_then_abandon(p, &g);
    gate_open(&g);
    cr_assert_eq(pool_drain(p, FAR_DEADLINE()), 0);
    cr_assert_eq(g.arrived, 1, "a timed-out job is not cancelled");
    pool_destroy(p);
    gate_destroy(&g);
    cr_assert_eq(leaked_now(), 0, "the worker must free a handle released before completion");
}

__attribute__((noinline)) static void submit_wait_release(pool *p, atomic_int *ran)
{
    pool_job *j = NULL;
    cr_assert_eq(pool_submit(p, 0, count_job, ran, &j), 0);
    cr_assert_eq(pool_job_wait(j, FAR_DEADLINE()), 0);
    cr_assert_eq(atomic_load(ran), 1, "wait returned only after the job ran");
    pool_job_release(j);
}

Test(pool, release_after_completion_frees_handle)
{
    pool *p = pool_create(1, 8);
    atomic_int ran = 0;
    submit_wait_release(p, &ran);
    pool_destroy(p);
    cr_assert_eq(leaked_now(), 0, "release after completion must free the handle");
}

/* ---- back-pressure ---- */

Test(pool, full_queue_returns_eagain)
{
    pool *p = pool_create(1, 2);
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    cr_assert_eq(pool_post(p, 0, gate_pass, &g), 0);
    gate_wait_arrivals(&g, 1); /* the worker holds the gate job: its queue is empty again */
    cr_assert_eq(pool_post(p, 0, count_job, &ran), 0);
    cr_assert_eq(pool_post(p, 5, count_job, &ran), 0);
    cr_assert_eq(pool_post(p, 0, count_job, &ran), BF_EAGAIN);
    pool_job *j = (pool_job *)&ran; /* must be overwritten with NULL */
    cr_assert_eq(pool_submit(p, 0, count_job, &ran, &j), BF_EAGAIN);
    cr_assert_null(j);
    gate_open(&g);
    cr_assert_eq(pool_drain(p, FAR_DEADLINE()), 0);
    cr_assert_eq(atomic_load(&ran), 2, "exactly the accepted jobs ran");
    pool_destroy(p);
    gate_destroy(&g);
}

/* ---- run_all ---- */

static void mark_item(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void run_all_over(unsigned nworkers, size_t cap, size_t n)
{
    pool *p = pool_create(nworkers, cap);
    atomic_int *hits = calloc(n, sizeof *hits);
    void **items = calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = &hits[i];
    cr_assert_eq(pool_run_all(p, mark_item, items, n, FAR_DEADLINE()), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&hits[i]), 1, "item %zu ran %d times", i, hits[i]);
    pool_destroy(p);
    free(items);
    free(hits);
}

Test(pool, run_all_runs_every_item_once)
{
    run_all_over(3, 256, 100);
    run_all_over(2, 2, 100); /* queues overflow: the caller runs the rest itself */
    run_all_over(1, 4, 0);
}

Test(pool, run_all_times_out_without_cancelling)
{
    pool *p = pool_create(2, 16);
    struct gate g;
    gate_init(&g);
    void *items[4] = { &g, &g, &g, &g };
    cr_assert_eq(pool_run_all(p, gate_pass, items, 4, NEAR_DEADLINE()), BF_ETIMEDOUT);
    gate_open(&g);
    cr_assert_eq(pool_drain(p, FAR_DEADLINE()), 0);
    cr_assert_eq(g.arrived, 4, "the items still ran after the caller gave up");
    pool_destroy(p);
    gate_destroy(&g);
    cr_assert_eq(leaked_now(), 0, "the last job frees the batch the caller walked away from");
}

/* ---- drain and destroy ---- */

Test(pool, drain_waits_for_posted_jobs)
{
    pool *p = pool_create(2, 32);
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    cr_assert_eq(pool_post(p, 0, gate_pass, &g), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(pool_post(p, (uint64_t)i, count_job, &ran), 0);
    cr_assert_eq(pool_drain(p, NEAR_DEADLINE()), BF_ETIMEDOUT, "worker 0 is stuck at the gate");
    gate_open(&g);
    cr_assert_eq(pool_drain(p, FAR_DEADLINE()), 0);
    cr_assert_eq(atomic_load(&ran), 10);
    cr_assert_eq(pool_drain(p, FAR_DEADLINE()), 0, "draining an idle pool returns at once");
    pool_destroy(p);
    gate_destroy(&g);
}

struct closer {
    struct gate gate;
    pool *p;
    atomic_int noops;
};

static void noop_job(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Runs on the only worker: passes the gate, then probes until pool_destroy() has closed the pool.
 * Everything queued behind it is therefore still pending when destroy starts. */
static void wait_for_close(void *arg)
{
    struct closer *c = arg;
    gate_pass(&c->gate);
    int rc;
    while ((rc = pool_post(c->p, 0, noop_job, &c->noops)) != BF_ECLOSED) {
        if (rc == BF_EAGAIN)
            sched_yield(); /* our own queue is full of probes: wait for destroy */
    }
}

Test(pool, destroy_runs_pending_jobs)
{
    struct closer c = { .p = pool_create(1, 64) };
    gate_init(&c.gate);
    atomic_init(&c.noops, 0);
    atomic_int ran = 0;
    cr_assert_eq(pool_post(c.p, 0, wait_for_close, &c), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(pool_post(c.p, 0, count_job, &ran), 0);
    gate_open(&c.gate);
    pool_destroy(c.p);
    cr_assert_eq(atomic_load(&ran), 20, "destroy ran the jobs still queued");
    gate_destroy(&c.gate);
}
