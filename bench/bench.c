/*
 * bfbench: our hot paths against in-repo baselines, measured side by side in one process.
 *
 * Every comparison runs both sides in interleaved rounds (A B, then B A, ...), each side a batch of
 * many operations timed with CLOCK_MONOTONIC around the whole batch. The reported ratio is the
 * median of the per-round ratios (baseline ns/op over ours): on a shared, noisy VM absolute ns
 * drift by several times between runs while same-round ratios hold (docs/performance.md). Inputs
 * are generated before any timing (corpus.h) and checked for agreement between the two sides before
 * they are trusted. Prints an aligned table and one JSON line; always exits 0 after a run (it
 * measures, it does not judge), 2 on a bad command line.
 */
#include "base_mutexq.h"
#include "base_rbtree.h"
#include "base_sorted.h"
#include "corpus.h"

#include "codec/jdec.h"
#include "codec/stream.h"
#include "market/book.h"
#include "util/dec.h"
#include "util/hist.h"
#include "util/spsc.h"
#include "util/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BF_VERSION
#define BF_VERSION "unknown"
#endif
#ifndef BF_BUILDTYPE
#define BF_BUILDTYPE "unknown"
#endif

#define CORPUS_SEED   0x62666d6f6e2d3031ull /* "bfmon-01" */
#define BOOK_SEED     0x626f6f6b2d726570ull
#define HIST_SEED     0x686973742d76616cull
#define SEED_LEVELS   1000
#define RING_CAPACITY 4096
#define HIST_VALUES   65536
#define MAX_BENCHES   16
#define MAX_ROUNDS    101

/* ---- Harness ---- */

typedef struct side_fns {
    void (*prepare)(void *ctx);             /* untimed, before every batch; may be NULL */
    uint64_t (*run)(void *ctx, uint64_t n); /* n operations; the result feeds the sink */
    void *ctx;
} side_fns;

typedef struct bench_def {
    const char *key;   /* JSON key */
    const char *label; /* table row */
    double target;     /* goal for base/ours; 0 = reported without a goal */
    side_fns ours, base;
    uint64_t fixed_ops;  /* > 0: every batch is this exact replay; 0: sized by calibration */
    const bool *checked; /* the self-check of this comparison passed */
    const uint64_t *errors;
} bench_def;

typedef struct bench_result {
    const bench_def *def;
    double ours_ns, base_ns;          /* medians of the per-round ns/op */
    double ratio, ratio_lo, ratio_hi; /* median, min and max of the per-round ratios */
    int rounds;
    bool ok; /* no operation failed and the self-check passed */
} bench_result;

typedef struct options {
    bool quick, json_only;
    int rounds;
    const char *only; /* run only benchmarks whose key starts with this */
} options;

/* Workload sizes for one run (quick or full). */
typedef struct sizes {
    double batch_ns; /* target duration of one calibrated batch */
    size_t book_updates;
    size_t ring_items;
} sizes;

/* Every batch result lands here so no compiler can drop the work. */
static volatile uint64_t g_sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double time_batch(const side_fns *s, uint64_t n)
{
    if (s->prepare)
        s->prepare(s->ctx);
    int64_t t0 = now_ns();
    g_sink += s->run(s->ctx, n);
    int64_t t1 = now_ns();
    return (double)(t1 - t0);
}

/* Ops per batch so that one batch takes about batch_ns; the probing also warms caches up. */
static uint64_t calibrate(const side_fns *s, double batch_ns)
{
    uint64_t n = 1;
    for (;;) {
        double t = time_batch(s, n);
        if (t >= batch_ns / 8 || n >= (1ull << 40)) {
            double per_op = t > 0 ? t / (double)n : 1.0;
            double ops = batch_ns / per_op;
            return ops < 1 ? 1 : (uint64_t)ops;
        }
        n *= 4;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One round: both sides once, in alternating order so neither always runs on a warmer machine. */
static void run_round(const bench_def *d, int round, uint64_t n_ours, uint64_t n_base, double *ours,
                      double *base)
{
    if (round % 2 == 0) {
        *ours = time_batch(&d->ours, n_ours) / (double)n_ours;
        *base = time_batch(&d->base, n_base) / (double)n_base;
    } else {
        *base = time_batch(&d->base, n_base) / (double)n_base;
        *ours = time_batch(&d->ours, n_ours) / (double)n_ours;
    }
}

static bench_result run_bench(const bench_def *d, int rounds, double batch_ns)
{
    double ours[MAX_ROUNDS], base[MAX_ROUNDS], ratio[MAX_ROUNDS];
    uint64_t n_ours = d->fixed_ops ? d->fixed_ops : calibrate(&d->ours, batch_ns);
    uint64_t n_base = d->fixed_ops ? d->fixed_ops : calibrate(&d->base, batch_ns);
    for (int r = 0; r < rounds; r++) {
        run_round(d, r, n_ours, n_base, &ours[r], &base[r]);
        ratio[r] = ours[r] > 0 ? base[r] / ours[r] : 0;
    }
    bench_result res = { .def = d, .rounds = rounds };
    res.ours_ns = median(ours, rounds);
    res.base_ns = median(base, rounds);
    res.ratio = median(ratio, rounds); /* sorts ratio[] */
    res.ratio_lo = ratio[0];
    res.ratio_hi = ratio[rounds - 1];
    res.ok = (!d->checked || *d->checked) && (!d->errors || *d->errors == 0);
    return res;
}

/* ---- Decoders: stream_decode vs jdec_decode over the messages of one kind */

typedef struct decode_ctx {
    stream_decoder *sd;
    jdec *jd;
    const corpus_msg *msgs;
    size_t count, pos;
    uint64_t errors;
} decode_ctx;

static void decode_rewind(void *ctx)
{
    ((decode_ctx *)ctx)->pos = 0;
}

static const corpus_msg *next_msg(decode_ctx *c)
{
    const corpus_msg *m = &c->msgs[c->pos];
    if (++c->pos == c->count)
        c->pos = 0;
    return m;
}

static uint64_t decode_stream_run(void *ctx, uint64_t n)
{
    decode_ctx *c = ctx;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_msg *m = next_msg(c);
        stream_msg out;
        if (stream_decode(c->sd, m->p, m->n, &out) < 0)
            c->errors++;
        else
            acc += out.nevents;
    }
    return acc;
}

static uint64_t decode_jdec_run(void *ctx, uint64_t n)
{
    decode_ctx *c = ctx;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_msg *m = next_msg(c);
        stream_msg out;
        if (jdec_decode(c->jd, m->p, m->n, &out) < 0)
            c->errors++;
        else
            acc += out.nevents;
    }
    return acc;
}

/* Both decoders accept the message and fill identical structs. */
static bool decoders_agree(stream_decoder *sd, jdec *jd, const corpus_msg *m)
{
    stream_msg a, b;
    if (stream_decode(sd, m->p, m->n, &a) < 0 || jdec_decode(jd, m->p, m->n, &b) < 0)
        return false;
    return stream_msg_eq(&a, &b);
}

static bool check_decoders(decode_ctx *c)
{
    for (size_t i = 0; i < c->count; i++)
        if (!decoders_agree(c->sd, c->jd, &c->msgs[i]))
            return false;
    return true;
}

/* ---- Decimals: dec_parse vs strtod over every price and quantity string of the corpus */

typedef struct decimal_ctx {
    const corpus_num *nums;
    size_t count;
    dec_scale px, qty;
    uint64_t errors;
} decimal_ctx;

static uint64_t decimal_dec_run(void *ctx, uint64_t n)
{
    decimal_ctx *c = ctx;
    uint64_t acc = 0;
    size_t pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_num *s = &c->nums[pos];
        int64_t v;
        if (dec_parse(s->p, s->n, s->qty ? &c->qty : &c->px, &v) < 0)
            c->errors++;
        acc += (uint64_t)v;
        if (++pos == c->count)
            pos = 0;
    }
    return acc;
}

static uint64_t decimal_strtod_run(void *ctx, uint64_t n)
{
    decimal_ctx *c = ctx;
    double acc = 0;
    size_t pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc += strtod(c->nums[pos].p, NULL);
        if (++pos == c->count)
            pos = 0;
    }
    return (uint64_t)acc;
}

/* dec_parse is exact: it must equal the correctly rounded strtod value scaled to an integer. */
static bool check_decimals(decimal_ctx *c)
{
    for (size_t i = 0; i < c->count; i++) {
        const corpus_num *s = &c->nums[i];
        int64_t v;
        if (dec_parse(s->p, s->n, s->qty ? &c->qty : &c->px, &v) < 0)
            return false;
        if (v != llround(strtod(s->p, NULL) * (s->qty ? 1000.0 : 100.0)))
            return false;
    }
    return true;
}

/* ---- Books: book_set vs the sorted array vs the red-black tree on one pre-generated replay */

typedef struct book_ctx {
    const corpus_update *seed, *upd;
    size_t nseed, nupd;
    book *ours;
    sabook *sorted;
    rbbook *tree;
    uint64_t errors;
} book_ctx;

static void book_ours_prepare(void *ctx)
{
    book_ctx *c = ctx;
    book_clear(c->ours);
    for (size_t i = 0; i < c->nseed; i++)
        if (book_set(c->ours, (book_side)c->seed[i].side, c->seed[i].px, c->seed[i].qty) < 0)
            c->errors++;
}

static void book_sorted_prepare(void *ctx)
{
    book_ctx *c = ctx;
    sabook_clear(c->sorted);
    for (size_t i = 0; i < c->nseed; i++)
        sabook_set(c->sorted, (book_side)c->seed[i].side, c->seed[i].px, c->seed[i].qty);
}

static void book_tree_prepare(void *ctx)
{
    book_ctx *c = ctx;
    rbbook_clear(c->tree);
    for (size_t i = 0; i < c->nseed; i++)
        rbbook_set(c->tree, (book_side)c->seed[i].side, c->seed[i].px, c->seed[i].qty);
}

static uint64_t book_ours_run(void *ctx, uint64_t n)
{
    book_ctx *c = ctx;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_update *u = &c->upd[i];
        if (book_set(c->ours, (book_side)u->side, u->px, u->qty) < 0)
            c->errors++;
    }
    return book_count(c->ours, BOOK_BID);
}

static uint64_t book_sorted_run(void *ctx, uint64_t n)
{
    book_ctx *c = ctx;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_update *u = &c->upd[i];
        sabook_set(c->sorted, (book_side)u->side, u->px, u->qty);
    }
    return sabook_count(c->sorted, BOOK_BID);
}

static uint64_t book_tree_run(void *ctx, uint64_t n)
{
    book_ctx *c = ctx;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_update *u = &c->upd[i];
        rbbook_set(c->tree, (book_side)u->side, u->px, u->qty);
    }
    return rbbook_count(c->tree, BOOK_BID);
}

static bool same_level(bool has_a, book_level a, bool has_b, book_level b)
{
    return has_a == has_b && (!has_a || (a.px == b.px && a.qty == b.qty));
}

/* After a full replay all three books hold the same best levels and level counts. */
static bool books_agree(const book_ctx *c)
{
    for (int s = 0; s < 2; s++) {
        book_level a, b, t;
        bool ha = book_best(c->ours, (book_side)s, &a);
        bool hb = sabook_best(c->sorted, (book_side)s, &b);
        bool ht = rbbook_best(c->tree, (book_side)s, &t);
        if (!same_level(ha, a, hb, b) || !same_level(ha, a, ht, t))
            return false;
        size_t n = book_count(c->ours, (book_side)s);
        if (n != sabook_count(c->sorted, (book_side)s) || n != rbbook_count(c->tree, (book_side)s))
            return false;
    }
    return rbbook_valid(c->tree);
}

static bool check_books(book_ctx *c)
{
    book_ours_prepare(c);
    book_sorted_prepare(c);
    book_tree_prepare(c);
    g_sink += book_ours_run(c, c->nupd) + book_sorted_run(c, c->nupd) + book_tree_run(c, c->nupd);
    return books_agree(c);
}

/* ---- Rings: spsc vs the mutex queue, one producer and one consumer thread on different CPUs */

/* Aligned to its size, like the ring's slots, so that one item never spans two 32-byte blocks:
 * the producer's item then costs the spsc push about half as much on this VM (see "ring" in
 * docs/performance.md). The mutex queue is handed the very same item. */
typedef struct tick_item {
    alignas(32) uint64_t seq;
    int64_t px, qty, ts;
} tick_item;

_Static_assert(sizeof(tick_item) == 32, "the ring benchmark moves 32-byte items");

typedef struct ring_ctx {
    spsc *q;
    mutexq *mq;
    bool use_spsc;
    uint64_t n;
    pthread_barrier_t start;
    pthread_t producer, consumer;
    int cpu[2]; /* -1: not pinned */
    uint64_t checksum, errors;
} ring_ctx;

/* Spinning is the intended use of spsc (the engine's hand-off is a polling loop), but on a shared
 * 2-core box a waiting side must let the other side run now and then. */
static void spin_wait(unsigned *spins)
{
    if (++*spins % 64 != 0) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        return;
    }
    sched_yield();
}

/* The consumer works the way the engine's workers do: it drains up to RING_BATCH items per pop and,
 * when the ring is empty, waits a few microseconds before it looks again. Polling an empty ring
 * after every item pulls the producer's index line across cores once per item (measured: ~45
 * ns/item here against ~23 with the pause); letting items accumulate moves them in whole lines. */
#define RING_BATCH       64
#define RING_IDLE_PAUSES 512

static void idle_wait(unsigned *spins)
{
    for (int k = 0; k < RING_IDLE_PAUSES; k++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    if (++*spins % 64 == 0)
        sched_yield();
}

static void pin_self(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void ring_put(ring_ctx *c, const tick_item *it, unsigned *spins)
{
    if (!c->use_spsc) {
        mutexq_push(c->mq, it);
        return;
    }
    while (spsc_push(c->q, it) != 0)
        spin_wait(spins);
}

static void *ring_producer(void *arg)
{
    ring_ctx *c = arg;
    pin_self(c->cpu[0]);
    pthread_barrier_wait(&c->start);
    unsigned spins = 0;
    for (uint64_t i = 0; i < c->n; i++) {
        tick_item it = { .seq = i, .px = 618000 + (int64_t)(i & 255), .qty = 1, .ts = (int64_t)i };
        ring_put(c, &it, &spins);
    }
    return NULL;
}

static void *ring_consumer(void *arg)
{
    ring_ctx *c = arg;
    pin_self(c->cpu[1]);
    pthread_barrier_wait(&c->start);
    unsigned spins = 0;
    uint64_t sum = 0, errors = 0;
    tick_item batch[RING_BATCH];
    for (uint64_t i = 0; i < c->n;) {
        size_t got;
        if (!c->use_spsc) {
            mutexq_pop(c->mq, &batch[0]);
            got = 1;
        } else {
            while ((got = spsc_pop_n(c->q, batch, RING_BATCH)) == 0)
                idle_wait(&spins);
        }
        for (size_t k = 0; k < got; k++, i++) {
            errors += batch[k].seq != i;
            sum += (uint64_t)batch[k].px;
        }
    }
    c->checksum = sum;
    c->errors += errors;
    return NULL;
}

/* Untimed: both threads start, pin themselves and wait at the barrier for run(). */
static void ring_prepare(ring_ctx *c, bool use_spsc)
{
    c->use_spsc = use_spsc;
    pthread_barrier_init(&c->start, NULL, 3);
    pthread_create(&c->producer, NULL, ring_producer, c);
    pthread_create(&c->consumer, NULL, ring_consumer, c);
}

static void ring_spsc_prepare(void *ctx)
{
    ring_prepare(ctx, true);
}

static void ring_mutex_prepare(void *ctx)
{
    ring_prepare(ctx, false);
}

static uint64_t ring_run(void *ctx, uint64_t n)
{
    ring_ctx *c = ctx;
    (void)n; /* the threads move c->n items; fixed_ops == c->n */
    pthread_barrier_wait(&c->start);
    pthread_join(c->producer, NULL);
    pthread_join(c->consumer, NULL);
    pthread_barrier_destroy(&c->start);
    return c->checksum;
}

/* The first two CPUs this process may run on, or -1 when there is only one. */
static void pick_cpus(int cpu[2])
{
    cpu_set_t set;
    cpu[0] = cpu[1] = -1;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2)
        return;
    int found = 0;
    for (int i = 0; i < CPU_SETSIZE && found < 2; i++)
        if (CPU_ISSET(i, &set))
            cpu[found++] = i;
}

/* ---- Histogram: hist_record vs one clock_gettime(CLOCK_MONOTONIC) per operation */

typedef struct hist_ctx {
    hist *h;
    uint64_t *vals; /* HIST_VALUES, a power of two */
} hist_ctx;

static uint64_t hist_record_run(void *ctx, uint64_t n)
{
    hist_ctx *c = ctx;
    for (uint64_t i = 0; i < n; i++)
        hist_record(c->h, c->vals[i & (HIST_VALUES - 1)]);
    return hist_count(c->h);
}

static uint64_t hist_clock_run(void *ctx, uint64_t n)
{
    (void)ctx;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        acc += (uint64_t)ts.tv_nsec;
    }
    return acc;
}

/* Latencies spread log-uniformly from ~50 ns to ~20 ms: every bucket range gets used. */
static uint64_t *hist_values(void)
{
    uint64_t rng = HIST_SEED;
    uint64_t *v = xmalloc(HIST_VALUES * sizeof *v);
    for (size_t i = 0; i < HIST_VALUES; i++) {
        double u = (double)(corpus_rand(&rng) >> 11) * 0x1.0p-53;
        v[i] = (uint64_t)exp(4.0 + u * 13.0);
    }
    return v;
}

/* ---- End to end: decode + dec_parse every level + apply, d20/d100 mix from a snapshot */

typedef struct e2e_ctx {
    stream_decoder *sd;
    jdec *jd;
    book *ours;
    rbbook *tree;
    const corpus_msg *msgs;
    size_t count, pos;
    corpus_msg snapshot;
    dec_scale px, qty;
    uint64_t errors;
} e2e_ctx;

typedef void (*level_sink)(void *book, book_side side, int64_t px, int64_t qty, e2e_ctx *c);

static void ours_set(void *b, book_side side, int64_t px, int64_t qty, e2e_ctx *c)
{
    if (book_set(b, side, px, qty) < 0)
        c->errors++;
}

static void tree_set(void *b, book_side side, int64_t px, int64_t qty, e2e_ctx *c)
{
    (void)c;
    rbbook_set(b, side, px, qty);
}

/* Our side converts from the parts the decoder pre-parsed while it scanned each level (as market.c
 * does); the baseline converts every string with dec_parse, as a build on jansson would (jdec fills
 * the parts too, to be comparable with stream_decode, but the baseline does not use them). */
static inline bool convert_level(const e2e_ctx *c, const ev_level *lv, bool fused, int64_t *px,
                                 int64_t *qty)
{
    if (fused)
        return ev_level_px(lv, &c->px, px) == 0 && ev_level_qty(lv, &c->qty, qty) == 0;
    return dec_parse(lv->px.p, lv->px.n, &c->px, px) == 0 &&
           dec_parse(lv->qty.p, lv->qty.n, &c->qty, qty) == 0;
}

static inline void apply_levels(e2e_ctx *c, const stream_msg *m, ev_levels run, book_side side,
                                level_sink set, void *b, bool fused)
{
    for (uint32_t i = 0; i < run.count; i++) {
        int64_t px, qty;
        if (!convert_level(c, &m->levels[run.first + i], fused, &px, &qty)) {
            c->errors++;
            continue;
        }
        set(b, side, px, qty, c);
    }
}

/* Apply a decoded depthUpdate or snapshot; anything else counts as an error. */
static inline void apply_msg(e2e_ctx *c, const stream_msg *m, level_sink set, void *b, bool fused)
{
    if (m->nevents != 1) {
        c->errors++;
        return;
    }
    const ev *e = &m->events[0];
    if (e->kind == EV_DEPTH) {
        apply_levels(c, m, e->u.depth.bids, BOOK_BID, set, b, fused);
        apply_levels(c, m, e->u.depth.asks, BOOK_ASK, set, b, fused);
    } else if (e->kind == EV_SNAPSHOT) {
        apply_levels(c, m, e->u.snapshot.bids, BOOK_BID, set, b, fused);
        apply_levels(c, m, e->u.snapshot.asks, BOOK_ASK, set, b, fused);
    } else {
        c->errors++;
    }
}

static void e2e_ours_prepare(void *ctx)
{
    e2e_ctx *c = ctx;
    stream_msg m;
    book_clear(c->ours);
    if (stream_decode(c->sd, c->snapshot.p, c->snapshot.n, &m) < 0)
        c->errors++;
    else
        apply_msg(c, &m, ours_set, c->ours, true);
    c->pos = 0;
}

static void e2e_tree_prepare(void *ctx)
{
    e2e_ctx *c = ctx;
    stream_msg m;
    rbbook_clear(c->tree);
    if (jdec_decode(c->jd, c->snapshot.p, c->snapshot.n, &m) < 0)
        c->errors++;
    else
        apply_msg(c, &m, tree_set, c->tree, false);
    c->pos = 0;
}

static const corpus_msg *e2e_next(e2e_ctx *c)
{
    const corpus_msg *m = &c->msgs[c->pos];
    if (++c->pos == c->count)
        c->pos = 0;
    return m;
}

/* Per message the monitor also reads the touch, so both sides do. */
static uint64_t e2e_ours_run(void *ctx, uint64_t n)
{
    e2e_ctx *c = ctx;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_msg *msg = e2e_next(c);
        stream_msg m;
        book_level bid = { 0 }, ask = { 0 };
        if (stream_decode(c->sd, msg->p, msg->n, &m) < 0) {
            c->errors++;
            continue;
        }
        apply_msg(c, &m, ours_set, c->ours, true);
        book_best_bid(c->ours, &bid);
        book_best_ask(c->ours, &ask);
        acc += (uint64_t)(bid.px + ask.px);
    }
    return acc;
}

static uint64_t e2e_tree_run(void *ctx, uint64_t n)
{
    e2e_ctx *c = ctx;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        const corpus_msg *msg = e2e_next(c);
        stream_msg m;
        book_level bid = { 0 }, ask = { 0 };
        if (jdec_decode(c->jd, msg->p, msg->n, &m) < 0) {
            c->errors++;
            continue;
        }
        apply_msg(c, &m, tree_set, c->tree, false);
        rbbook_best(c->tree, BOOK_BID, &bid);
        rbbook_best(c->tree, BOOK_ASK, &ask);
        acc += (uint64_t)(bid.px + ask.px);
    }
    return acc;
}

/* One pass over the mix from the snapshot leaves both books with the same touch and depth. */
static bool check_e2e(e2e_ctx *c)
{
    uint64_t before = c->errors;
    e2e_ours_prepare(c);
    e2e_tree_prepare(c);
    g_sink += e2e_ours_run(c, c->count) + e2e_tree_run(c, c->count);
    for (int s = 0; s < 2; s++) {
        book_level a, t;
        bool ha = book_best(c->ours, (book_side)s, &a);
        bool ht = rbbook_best(c->tree, (book_side)s, &t);
        if (!same_level(ha, a, ht, t) ||
            book_count(c->ours, (book_side)s) != rbbook_count(c->tree, (book_side)s))
            return false;
    }
    return c->errors == before;
}

/* ---- Set-up of every comparison ---- */

typedef struct world {
    options opt;
    sizes sz;
    corpus *corp;
    stream_decoder *sd;
    jdec *jd;
    decode_ctx dec[5];
    decimal_ctx decimal;
    book_ctx book;
    ring_ctx ring;
    hist_ctx hist;
    e2e_ctx e2e;
    /* Self-check outcomes; false until the check runs. */
    bool decode_ok[5], decimal_ok, book_ok, ring_ok, e2e_ok;
    bench_def defs[MAX_BENCHES];
    size_t ndefs;
} world;

static const corpus_kind decode_kinds[5] = { CORPUS_BT, CORPUS_D20, CORPUS_D100, CORPUS_D200,
                                             CORPUS_SNAP };
static const char *const decode_keys[5] = { "decode_bt", "decode_d20", "decode_d100", "decode_d200",
                                            "decode_snap" };
static const char *const decode_labels[5] = {
    "decode bt (stream / jdec)", "decode d20 (stream / jdec)", "decode d100 (stream / jdec)",
    "decode d200 (stream / jdec)", "decode snap (stream / jdec)"
};

static bool wanted(const world *w, const char *key)
{
    return !w->opt.only || strncmp(key, w->opt.only, strlen(w->opt.only)) == 0;
}

static void add_def(world *w, bench_def d)
{
    if (wanted(w, d.key) && w->ndefs < MAX_BENCHES)
        w->defs[w->ndefs++] = d;
}

static void setup_decode(world *w)
{
    for (int i = 0; i < 5; i++) {
        decode_ctx *c = &w->dec[i];
        *c = (decode_ctx){ .sd = w->sd, .jd = w->jd };
        c->msgs = corpus_msgs(w->corp, decode_kinds[i], &c->count);
        if (!wanted(w, decode_keys[i]))
            continue;
        w->decode_ok[i] = check_decoders(c);
        add_def(w, (bench_def){ .key = decode_keys[i],
                                .label = decode_labels[i],
                                .target = i == 0 ? 20 : 25,
                                .ours = { decode_rewind, decode_stream_run, c },
                                .base = { decode_rewind, decode_jdec_run, c },
                                .checked = &w->decode_ok[i],
                                .errors = &c->errors });
    }
}

static void setup_decimal(world *w)
{
    decimal_ctx *c = &w->decimal;
    c->nums = corpus_numbers(w->corp, &c->count);
    c->px = dec_scale_plain(2);
    c->qty = dec_scale_plain(3);
    if (!wanted(w, "dec_parse"))
        return;
    w->decimal_ok = check_decimals(c);
    add_def(w, (bench_def){ .key = "dec_parse",
                            .label = "decimal (dec_parse / strtod)",
                            .ours = { NULL, decimal_dec_run, c },
                            .base = { NULL, decimal_strtod_run, c },
                            .checked = &w->decimal_ok,
                            .errors = &c->errors });
}

static void setup_book(world *w)
{
    book_ctx *c = &w->book;
    if (!wanted(w, "book_tree") && !wanted(w, "book_sorted"))
        return;
    c->nseed = 2 * SEED_LEVELS;
    c->nupd = w->sz.book_updates;
    corpus_update *seed, *upd;
    corpus_book_updates(BOOK_SEED, SEED_LEVELS, c->nupd, &seed, &upd);
    c->seed = seed;
    c->upd = upd;
    c->ours = book_create(NULL);
    c->sorted = sabook_create();
    c->tree = rbbook_create();
    w->book_ok = check_books(c);
    add_def(w, (bench_def){ .key = "book_tree",
                            .label = "book set (book / rb-tree)",
                            .target = 8,
                            .ours = { book_ours_prepare, book_ours_run, c },
                            .base = { book_tree_prepare, book_tree_run, c },
                            .fixed_ops = c->nupd,
                            .checked = &w->book_ok,
                            .errors = &c->errors });
    add_def(w, (bench_def){ .key = "book_sorted",
                            .label = "book set (book / sorted array)",
                            .ours = { book_ours_prepare, book_ours_run, c },
                            .base = { book_sorted_prepare, book_sorted_run, c },
                            .fixed_ops = c->nupd,
                            .checked = &w->book_ok,
                            .errors = &c->errors });
}

static void setup_ring(world *w)
{
    ring_ctx *c = &w->ring;
    if (!wanted(w, "ring"))
        return;
    c->q = spsc_create(RING_CAPACITY, sizeof(tick_item));
    c->mq = mutexq_create(RING_CAPACITY, sizeof(tick_item));
    c->n = w->sz.ring_items;
    pick_cpus(c->cpu);
    w->ring_ok = true; /* the consumer counts out-of-order items into errors */
    add_def(w, (bench_def){ .key = "ring",
                            .label = "ring 32 B (spsc / mutex+cv)",
                            .target = 10,
                            .ours = { ring_spsc_prepare, ring_run, c },
                            .base = { ring_mutex_prepare, ring_run, c },
                            .fixed_ops = c->n,
                            .checked = &w->ring_ok,
                            .errors = &c->errors });
}

static void setup_hist(world *w)
{
    hist_ctx *c = &w->hist;
    if (!wanted(w, "hist"))
        return;
    c->h = hist_create();
    c->vals = hist_values();
    add_def(w, (bench_def){ .key = "hist",
                            .label = "hist record (record / clock)",
                            .target = 4,
                            .ours = { NULL, hist_record_run, c },
                            .base = { NULL, hist_clock_run, c } });
}

static void setup_e2e(world *w)
{
    e2e_ctx *c = &w->e2e;
    if (!wanted(w, "e2e"))
        return;
    *c = (e2e_ctx){ .sd = w->sd, .jd = w->jd, .ours = book_create(NULL), .tree = rbbook_create() };
    c->msgs = corpus_msgs(w->corp, CORPUS_MIX, &c->count);
    c->snapshot = corpus_mix_snapshot(w->corp);
    /* The product's scales (market.c): counts of the exchange's written precision, unit 1, because
     * real books hold levels off the symbol's tick. BTCUSDT writes prices with 2 decimals (tick
     * 0.10) and quantities with 3. Both sides use them. */
    c->px = dec_scale_plain(2);
    c->qty = dec_scale_plain(3);
    w->e2e_ok = check_e2e(c);
    add_def(w, (bench_def){ .key = "e2e",
                            .label = "e2e d20/d100 (ours / jansson+tree)",
                            .target = 20,
                            .ours = { e2e_ours_prepare, e2e_ours_run, c },
                            .base = { e2e_tree_prepare, e2e_tree_run, c },
                            .checked = &w->e2e_ok,
                            .errors = &c->errors });
}

static void world_setup(world *w)
{
    w->corp = corpus_create(CORPUS_SEED);
    if (w->opt.only == NULL || strncmp(w->opt.only, "decode", 6) == 0 || wanted(w, "e2e")) {
        w->sd = stream_decoder_create(NULL);
        w->jd = jdec_create(NULL);
    }
    setup_decode(w);
    setup_decimal(w);
    setup_book(w);
    setup_ring(w);
    setup_hist(w);
    setup_e2e(w);
}

static void world_teardown(world *w)
{
    free((void *)w->book.seed);
    free((void *)w->book.upd);
    if (w->book.ours)
        book_destroy(w->book.ours);
    sabook_destroy(w->book.sorted);
    rbbook_destroy(w->book.tree);
    spsc_destroy(w->ring.q);
    mutexq_destroy(w->ring.mq);
    if (w->hist.h)
        hist_destroy(w->hist.h);
    free(w->hist.vals);
    if (w->e2e.ours)
        book_destroy(w->e2e.ours);
    rbbook_destroy(w->e2e.tree);
    if (w->sd)
        stream_decoder_destroy(w->sd);
    if (w->jd)
        jdec_destroy(w->jd);
    corpus_destroy(w->corp);
}

/* ---- Output ---- */

static bool met(const bench_result *r)
{
    return r->ok && r->ratio >= r->def->target;
}

static void print_header(const world *w)
{
    double load[1] = { -1 };
    getloadavg(load, 1);
    printf("bfbench %s (%s build), %s, %d rounds, %ld CPUs online, load average %.2f\n", BF_VERSION,
           BF_BUILDTYPE, w->opt.quick ? "quick" : "full", w->opt.rounds,
           sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    printf("corpus:");
    for (int k = 0; k < CORPUS_KIND_COUNT; k++)
        printf(" %s %.0f B", corpus_kind_name((corpus_kind)k),
               corpus_mean_bytes(w->corp, (corpus_kind)k));
    size_t nnums;
    corpus_numbers(w->corp, &nnums);
    printf("; %zu decimal strings; book replay %zu updates; ring %zu items\n", nnums,
           w->sz.book_updates, w->sz.ring_items);
    printf("ratio = baseline ns/op / ours ns/op, the median of per-round ratios\n\n");
    printf("%-36s %12s %12s %9s %7s %4s  %s\n", "name", "ours ns/op", "base ns/op", "ratio",
           "target", "met", "ratio range");
}

static void print_row(const bench_result *r)
{
    char target[16] = "-", verdict[8] = "-";
    if (r->def->target > 0) {
        snprintf(target, sizeof target, "%.0fx", r->def->target);
        snprintf(verdict, sizeof verdict, "%s", met(r) ? "yes" : "no");
    }
    printf("%-36s %12.2f %12.2f %8.2fx %7s %4s  %.2f..%.2f%s\n", r->def->label, r->ours_ns,
           r->base_ns, r->ratio, target, verdict, r->ratio_lo, r->ratio_hi,
           r->ok ? "" : "  (INVALID: an operation failed or the two sides disagree)");
}

static void print_json_result(const bench_result *r, bool first)
{
    printf("%s\"%s\":{\"ours_ns\":%.3f,\"base_ns\":%.3f,\"ratio\":%.3f,\"ratio_min\":%.3f,"
           "\"ratio_max\":%.3f,",
           first ? "" : ",", r->def->key, r->ours_ns, r->base_ns, r->ratio, r->ratio_lo,
           r->ratio_hi);
    if (r->def->target > 0)
        printf("\"target\":%.0f,\"met\":%s,", r->def->target, met(r) ? "true" : "false");
    else
        printf("\"target\":null,\"met\":null,");
    printf("\"ok\":%s}", r->ok ? "true" : "false");
}

static void print_json(const world *w, const bench_result *res, size_t n)
{
    double load[1] = { -1 };
    getloadavg(load, 1);
    printf("{\"bench\":\"bfbench\",\"version\":\"%s\",\"buildtype\":\"%s\",\"quick\":%s,"
           "\"rounds\":%d,\"cpus\":%ld,\"loadavg\":%.2f,\"results\":{",
           BF_VERSION, BF_BUILDTYPE, w->opt.quick ? "true" : "false", w->opt.rounds,
           sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    for (size_t i = 0; i < n; i++)
        print_json_result(&res[i], i == 0);
    printf("}}\n");
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: bfbench [--quick] [--rounds N] [--json-only] [--only PREFIX]\n"
               "  --quick      small batches and replays: runs in a few seconds (smoke test)\n"
               "  --rounds N   interleaved rounds per comparison (default 9, quick 5)\n"
               "  --json-only  print only the JSON line\n"
               "  --only P     run only comparisons whose key starts with P (decode, book, ...)\n");
}

static bool parse_rounds(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > MAX_ROUNDS)
        return false;
    *out = (int)v;
    return true;
}

/* 0 on success, 1 for --help, -1 for a bad command line. */
static int parse_args(int argc, char **argv, options *o)
{
    int rounds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            o->quick = true;
        else if (strcmp(argv[i], "--json-only") == 0)
            o->json_only = true;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            if (!parse_rounds(argv[++i], &rounds))
                return -1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            o->only = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        else
            return -1;
    }
    o->rounds = rounds ? rounds : o->quick ? 5 : 9;
    return 0;
}

static sizes pick_sizes(bool quick)
{
    if (quick)
        return (sizes){ .batch_ns = 2e6, .book_updates = 200000, .ring_items = 100000 };
    return (sizes){ .batch_ns = 50e6, .book_updates = 2000000, .ring_items = 2000000 };
}

static void report_checks(const world *w)
{
    for (size_t i = 0; i < w->ndefs; i++) {
        const bench_def *d = &w->defs[i];
        if ((d->checked && !*d->checked) || (d->errors && *d->errors))
            fprintf(stderr, "bfbench: warning: %s: self-check failed or operations failed (%llu)\n",
                    d->key, d->errors ? (unsigned long long)*d->errors : 0ull);
    }
}

int main(int argc, char **argv)
{
    static world w;
    int rc = parse_args(argc, argv, &w.opt);
    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    w.sz = pick_sizes(w.opt.quick);
    world_setup(&w);
    if (!w.opt.json_only)
        print_header(&w);
    bench_result res[MAX_BENCHES];
    for (size_t i = 0; i < w.ndefs; i++) {
        res[i] = run_bench(&w.defs[i], w.opt.rounds, w.sz.batch_ns);
        if (!w.opt.json_only) {
            print_row(&res[i]);
            fflush(stdout);
        }
    }
    report_checks(&w);
    if (!w.opt.json_only)
        printf("\n");
    print_json(&w, res, w.ndefs);
    world_teardown(&w);
    return 0;
}
