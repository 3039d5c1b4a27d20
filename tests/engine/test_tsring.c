/* Tests for tsring: latest(n) semantics around the wrap, the total counter, odd record sizes, a
 * concurrent writer/reader that must never see a torn record, and lossless multi-writer mode. */
#include <criterion/criterion.h>

#include "util/tsring.h"
#include "util/memacct.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void append_range(tsring *r, uint64_t from, uint64_t to)
{
    for (uint64_t v = from; v < to; v++)
        tsring_append(r, &v);
}

static void assert_run(const uint64_t *got, size_t n, uint64_t first)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], first + i, "record %zu: got %llu want %llu", i,
                     (unsigned long long)got[i], (unsigned long long)(first + i));
}

Test(tsring, latest_before_wrap)
{
    tsring *r = tsring_create(8, sizeof(uint64_t), 0);
    uint64_t out[32];
    cr_assert_eq(tsring_latest(r, out, 4), 0, "empty ring");
    append_range(r, 0, 5);
    cr_assert_eq(tsring_total(r), 5);
    cr_assert_eq(tsring_latest(r, out, 3), 3);
    assert_run(out, 3, 2);
    cr_assert_eq(tsring_latest(r, out, 10), 5, "n > count returns count");
    assert_run(out, 5, 0);
    cr_assert_eq(tsring_latest(r, out, 0), 0);
    tsring_destroy(r);
}

Test(tsring, latest_after_wrap)
{
    tsring *r = tsring_create(8, sizeof(uint64_t), 0);
    cr_assert_eq(tsring_capacity(r), 8);
    cr_assert_geq(tsring_mem_bytes(r), 8 * sizeof(uint64_t));
    uint64_t out[32];
    append_range(r, 0, 20);
    cr_assert_eq(tsring_total(r), 20);
    cr_assert_eq(tsring_latest(r, out, 3), 3);
    assert_run(out, 3, 17);
    cr_assert_eq(tsring_latest(r, out, 8), 8);
    assert_run(out, 8, 12);
    cr_assert_eq(tsring_latest(r, out, 32), 8, "n > capacity returns capacity, oldest first");
    assert_run(out, 8, 12);
    append_range(r, 20, 21);
    cr_assert_eq(tsring_total(r), 21);
    cr_assert_eq(tsring_latest(r, out, 2), 2);
    assert_run(out, 2, 19);
    tsring_destroy(r);
}

Test(tsring, odd_record_size_is_byte_exact)
{
    enum { RS = 13 };
    tsring *r = tsring_create(4, RS, 0);
    for (unsigned k = 0; k < 6; k++) {
        unsigned char rec[RS];
        for (unsigned i = 0; i < RS; i++)
            rec[i] = (unsigned char)(k * 16 + i);
        tsring_append(r, rec);
    }
    unsigned char out[3 * RS + 8];
    memset(out, 0xee, sizeof out);
    cr_assert_eq(tsring_latest(r, out, 3), 3);
    for (unsigned j = 0; j < 3; j++) {
        for (unsigned i = 0; i < RS; i++)
            cr_assert_eq(out[j * RS + i], (unsigned char)((3 + j) * 16 + i));
    }
    for (unsigned i = 3 * RS; i < sizeof out; i++)
        cr_assert_eq(out[i], 0xee, "latest wrote past n records");
    tsring_destroy(r);
}

/* ---- concurrent writer and reader ---- */

struct rec {
    uint64_t seq;
    uint64_t copy[14]; /* each must equal seq, or the record is torn */
    uint64_t inv;      /* ~seq */
};

enum { MIN_WRITES = 100000, MIN_READS = 20000, SMALL_CAP = 8, READ_N = SMALL_CAP };

struct rw_ctx {
    tsring *r;
    pthread_barrier_t start;
    atomic_uint_fast64_t reads; /* reader progress, so the writer keeps going while it reads */
    atomic_bool writer_done;
};

static void *writer_main(void *arg)
{
    struct rw_ctx *c = arg;
    pthread_barrier_wait(&c->start);
    for (uint64_t k = 1; k <= MIN_WRITES || atomic_load(&c->reads) < MIN_READS; k++) {
        struct rec x = { .seq = k, .inv = ~k };
        for (int i = 0; i < 14; i++)
            x.copy[i] = k;
        tsring_append(c->r, &x);
    }
    atomic_store(&c->writer_done, true);
    return NULL;
}

static int rec_torn(const struct rec *x)
{
    for (int i = 0; i < 14; i++) {
        if (x->copy[i] != x->seq)
            return 1;
    }
    return x->inv != ~x->seq;
}

struct read_stats {
    uint64_t calls, records, torn, gaps, backwards;
};

/* One latest() call: every record whole, seqs consecutive inside the call, never older than before.
 */
static uint64_t read_once(tsring *r, uint64_t last_seen, struct read_stats *s)
{
    struct rec out[READ_N];
    size_t got = tsring_latest(r, out, READ_N);
    s->calls++;
    s->records += got;
    for (size_t i = 0; i < got; i++) {
        s->torn += rec_torn(&out[i]);
        if (i > 0 && out[i].seq != out[i - 1].seq + 1)
            s->gaps++;
    }
    if (got == 0)
        return last_seen;
    if (out[got - 1].seq < last_seen)
        s->backwards++;
    return out[got - 1].seq;
}

Test(tsring, concurrent_reader_never_sees_torn_record, .timeout = 120)
{
    struct rw_ctx c = { .r = tsring_create(SMALL_CAP, sizeof(struct rec), 0) };
    atomic_init(&c.reads, 0);
    atomic_init(&c.writer_done, false);
    pthread_barrier_init(&c.start, NULL, 2);
    pthread_t w;
    cr_assert_eq(pthread_create(&w, NULL, writer_main, &c), 0);
    pthread_barrier_wait(&c.start);
    struct read_stats s = { 0 };
    uint64_t last = 0;
    /* Until the writer has stopped and we have seen its final record. */
    while (!atomic_load(&c.writer_done) || last < tsring_total(c.r)) {
        last = read_once(c.r, last, &s);
        atomic_fetch_add(&c.reads, 1);
    }
    pthread_join(w, NULL);
    pthread_barrier_destroy(&c.start);
    cr_assert_eq(s.torn, 0, "%llu torn records", (unsigned long long)s.torn);
    cr_assert_eq(s.gaps, 0, "%llu non-consecutive runs", (unsigned long long)s.gaps);
    cr_assert_eq(s.backwards, 0, "%llu reads went back in time", (unsigned long long)s.backwards);
    cr_assert_geq(s.calls, MIN_READS);
    cr_assert_eq(last, tsring_total(c.r), "the last record read is the last one appended");
    cr_assert_geq(tsring_total(c.r), MIN_WRITES);
    tsring_destroy(c.r);
}

/* ---- multi-writer ---- */

enum { PER_WRITER = 20000, NWRITERS = 2 };

struct mw_rec {
    uint64_t writer;
    uint64_t n;
};

struct mw_shared {
    tsring *r;
    pthread_barrier_t start;
};

struct mw_arg {
    struct mw_shared *sh;
    uint64_t id;
};

static void *mw_writer(void *arg)
{
    struct mw_arg *a = arg;
    pthread_barrier_wait(&a->sh->start);
    for (uint64_t n = 0; n < PER_WRITER; n++) {
        struct mw_rec x = { .writer = a->id, .n = n };
        tsring_append(a->sh->r, &x);
    }
    return NULL;
}

/* Every (writer, n) pair present exactly once, each writer's records in its own order. */
static void assert_all_present(const struct mw_rec *out, size_t count)
{
    uint64_t next[NWRITERS] = { 0 };
    for (size_t i = 0; i < count; i++) {
        cr_assert_lt(out[i].writer, NWRITERS);
        cr_assert_eq(out[i].n, next[out[i].writer], "writer %llu: record %zu out of order",
                     (unsigned long long)out[i].writer, i);
        next[out[i].writer]++;
    }
    for (int w = 0; w < NWRITERS; w++)
        cr_assert_eq(next[w], PER_WRITER, "writer %d lost records", w);
}

Test(tsring, multi_writer_loses_nothing, .timeout = 120)
{
    const size_t all = (size_t)PER_WRITER * NWRITERS;
    struct mw_shared sh = { .r = tsring_create(all, sizeof(struct mw_rec), TSRING_MULTI_WRITER) };
    pthread_barrier_init(&sh.start, NULL, NWRITERS);
    struct mw_arg args[NWRITERS];
    pthread_t t[NWRITERS];
    for (int i = 0; i < NWRITERS; i++) {
        args[i] = (struct mw_arg){ .sh = &sh, .id = (uint64_t)i };
        cr_assert_eq(pthread_create(&t[i], NULL, mw_writer, &args[i]), 0);
    }
    for (int i = 0; i < NWRITERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&sh.start);
    cr_assert_eq(tsring_total(sh.r), all, "total == sum of appends");
    struct mw_rec *out = calloc(all, sizeof *out);
    cr_assert_eq(tsring_latest(sh.r, out, all), all);
    assert_all_present(out, all);
    free(out);
    tsring_destroy(sh.r);
}

Test(tsring, memory_is_accounted)
{
    int64_t before = memacct_get(MEM_RING);
    tsring *r = tsring_create(1000, 24, 0);
    cr_assert_geq(tsring_mem_bytes(r), 1000 * 24);
    cr_assert_eq(memacct_get(MEM_RING) - before, (int64_t)tsring_mem_bytes(r));
    tsring_destroy(r);
    cr_assert_eq(memacct_get(MEM_RING), before, "destroy gives the bytes back");
}
