/* Tests for sync: the USDⓈ-M book sync rule on the real hftbacktest capture (diffs + the matching
 * REST snapshot + bookTicker as an oracle) and on synthetic streams for the boundary cases. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market/book.h"
#include "market/sync.h"
#include "testutil.h"
#include "util/err.h"
#include "util/memacct.h"

/* ---- a test-only scanner for the capture (the production decoder lives elsewhere) ---- */

/* "61800.10" with 2 decimals -> 6180010; "4.230" with 3 -> 4230. */
static int64_t fixed(const char **pp, int decimals)
{
    const char *p = *pp;
    int64_t v = 0;
    int frac = -1;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        v = v * 10 + (*p - '0');
        if (frac >= 0)
            frac++;
    }
    for (int f = frac < 0 ? 0 : frac; f < decimals; f++)
        v *= 10;
    cr_assert_leq(frac, decimals, "too many decimals near %.20s", *pp);
    *pp = p;
    return v;
}

static int64_t int_after(const char *obj, const char *key)
{
    const char *p = strstr(obj, key);
    cr_assert(p, "no %s in %.60s", key, obj);
    return strtoll(p + strlen(key), NULL, 10);
}

/* Levels of `"key":[["px","qty"],...]`; returns a malloc'd array. */
static book_level *levels_after(const char *obj, const char *key, size_t *n)
{
    const char *p = strstr(obj, key);
    cr_assert(p, "no %s", key);
    p += strlen(key);
    size_t cap = 16, k = 0;
    book_level *lv = malloc(cap * sizeof(*lv));
    while (*p == '[' || *p == ',') {
        p++;
        if (*p == ']')
            break;
        cr_assert_eq(*p, '[');
        p += 2; /* [" */
        int64_t px = fixed(&p, 2);
        p += 3; /* "," */
        int64_t qty = fixed(&p, 3);
        p += 2; /* "] */
        if (k == cap)
            lv = realloc(lv, (cap *= 2) * sizeof(*lv));
        lv[k++] = (book_level){ px, qty };
    }
    *n = k;
    return lv;
}

typedef struct fx_diff {
    sync_diff d;
    book_level *bids, *asks;
} fx_diff;

typedef struct fx_ticker {
    int64_t u, bid, bid_qty, ask, ask_qty;
} fx_ticker;

typedef struct fixture {
    fx_diff *ev;
    size_t n;
    int64_t L;
    book_level *bids, *asks;
    size_t nbids, nasks;
    fx_ticker *tk;
    size_t ntk;
} fixture;

static char **read_lines(const char *rel, size_t *n, char **buf)
{
    char *path = tu_fixture(rel);
    *buf = tu_read_file(path, NULL);
    cr_assert(*buf, "cannot read %s", path);
    free(path);
    return tu_lines(*buf, n);
}

static void load_diffs(fixture *f)
{
    char *buf;
    char **lines = read_lines("hftbacktest_usdm_btcusdt_20240808/depth_0ms.jsonl", &f->n, &buf);
    f->ev = calloc(f->n, sizeof(fx_diff));
    for (size_t i = 0; i < f->n; i++) {
        const char *data = strstr(lines[i], "\"data\":");
        fx_diff *e = &f->ev[i];
        e->bids = levels_after(data, "\"b\":", &e->d.nbids);
        e->asks = levels_after(data, "\"a\":", &e->d.nasks);
        e->d.bids = e->bids;
        e->d.asks = e->asks;
        e->d.U = int_after(data, "\"U\":");
        e->d.u = int_after(data, "\"u\":");
        e->d.pu = int_after(data, "\"pu\":");
        e->d.E = int_after(data, "\"E\":");
        e->d.T = int_after(data, "\"T\":");
    }
    free(lines);
    free(buf);
}

static void load_snapshot(fixture *f)
{
    char *path = tu_fixture("hftbacktest_usdm_btcusdt_20240808/rest_depth_snapshot_limit1000.json");
    char *buf = tu_read_file(path, NULL);
    cr_assert(buf);
    f->L = int_after(buf, "\"lastUpdateId\":");
    f->bids = levels_after(buf, "\"bids\":", &f->nbids);
    f->asks = levels_after(buf, "\"asks\":", &f->nasks);
    free(buf);
    free(path);
}

/* bookTicker: {"u":N,...,"b":"61800.10","B":"4.230","a":"...","A":"..."} */
static int64_t quoted_fixed(const char *obj, const char *key, int decimals)
{
    const char *p = strstr(obj, key);
    cr_assert(p, "no %s", key);
    p += strlen(key) + 1;
    return fixed(&p, decimals);
}

static void load_tickers(fixture *f)
{
    char *buf;
    char **lines = read_lines("hftbacktest_usdm_btcusdt_20240808/bookTicker.jsonl", &f->ntk, &buf);
    f->tk = calloc(f->ntk, sizeof(fx_ticker));
    for (size_t i = 0; i < f->ntk; i++) {
        const char *data = strstr(lines[i], "\"data\":");
        f->tk[i] = (fx_ticker){ .u = int_after(data, "\"u\":"),
                                .bid = quoted_fixed(data, "\"b\":", 2),
                                .bid_qty = quoted_fixed(data, "\"B\":", 3),
                                .ask = quoted_fixed(data, "\"a\":", 2),
                                .ask_qty = quoted_fixed(data, "\"A\":", 3) };
    }
    free(lines);
    free(buf);
}

static fixture fx;

static void fx_setup(void)
{
    memset(&fx, 0, sizeof(fx));
    load_diffs(&fx);
    load_snapshot(&fx);
    load_tickers(&fx);
}

static void fx_teardown(void)
{
    for (size_t i = 0; i < fx.n; i++) {
        free(fx.ev[i].bids);
        free(fx.ev[i].asks);
    }
    free(fx.ev);
    free(fx.bids);
    free(fx.asks);
    free(fx.tk);
}

static int snap_fx(book_sync *s)
{
    return sync_on_snapshot(s, fx.L, fx.bids, fx.nbids, fx.asks, fx.nasks, 777);
}

/* ---- an on_apply recorder ---- */

typedef struct recorder {
    size_t calls;
    int64_t u[512];
    const book *b;
    size_t ticker_checked; /* applied events whose top matched the latest bookTicker */
    bool check_tickers;
} recorder;

static const fx_ticker *ticker_at(int64_t u)
{
    const fx_ticker *best = NULL;
    for (size_t i = 0; i < fx.ntk; i++)
        if (fx.tk[i].u <= u && (!best || fx.tk[i].u > best->u))
            best = &fx.tk[i];
    return best;
}

static void record(void *ctx, const sync_diff *d)
{
    recorder *r = ctx;
    if (r->calls < 512)
        r->u[r->calls] = d->u;
    r->calls++;
    if (!r->check_tickers)
        return;
    const fx_ticker *t = ticker_at(d->u);
    cr_assert(t, "no bookTicker before u %lld", (long long)d->u);
    book_level bid, ask;
    cr_assert(book_best_bid(r->b, &bid) && book_best_ask(r->b, &ask));
    cr_assert(bid.px == t->bid && bid.qty == t->bid_qty && ask.px == t->ask &&
                  ask.qty == t->ask_qty,
              "u %lld: book %lld x %lld / %lld x %lld, bookTicker %lld x %lld / %lld x %lld",
              (long long)d->u, (long long)bid.px, (long long)bid.qty, (long long)ask.px,
              (long long)ask.qty, (long long)t->bid, (long long)t->bid_qty, (long long)t->ask,
              (long long)t->ask_qty);
    r->ticker_checked++;
}

static void assert_final_fixture_top(const book *b, const book_sync *s)
{
    book_level bid, ask;
    cr_assert(book_best_bid(b, &bid));
    cr_assert(book_best_ask(b, &ask));
    cr_assert_eq(bid.px, 6180010);
    cr_assert_eq(bid.qty, 4230);
    cr_assert_eq(ask.px, 6180020);
    cr_assert_eq(ask.qty, 4853);
    sync_stats st;
    sync_get_stats(s, &st);
    cr_assert_eq(st.last_update_id, 5123108458915);
    cr_assert_eq(sync_get_state(s), SYNC_LIVE);
}

/* Every level of both sides, for comparing two books. */
static size_t dump(const book *b, book_side side, book_level **out)
{
    size_t n = book_count(b, side);
    *out = malloc((n + 1) * sizeof(book_level));
    cr_assert_eq(book_top(b, side, *out, n + 1), n);
    return n;
}

static void assert_same_book(const book *a, const book *b)
{
    for (int s = 0; s < 2; s++) {
        book_level *la, *lb;
        size_t na = dump(a, (book_side)s, &la), nb = dump(b, (book_side)s, &lb);
        cr_assert_eq(na, nb, "side %d: %zu vs %zu levels", s, na, nb);
        cr_assert_arr_eq(la, lb, na * sizeof(book_level), "side %d differs", s);
        free(la);
        free(lb);
    }
}

/* Run the whole capture: `before` diffs, the snapshot, then the rest. */
static void run_fixture(book *b, book_sync *s, size_t before)
{
    for (size_t i = 0; i < before; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0);
    cr_assert_eq(snap_fx(s), 0);
    for (size_t i = before; i < fx.n; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0, "event %zu", i);
    (void)b;
}

/* ---- the fixture rule on real data ---- */

Test(sync, fixture_all_diffs_buffered_then_snapshot, .init = fx_setup, .fini = fx_teardown)
{
    cr_assert_eq(fx.n, 169);
    cr_assert_eq(fx.L, 5123107852948);
    cr_assert_eq(fx.nbids, 1000);
    cr_assert_eq(fx.nasks, 1000);
    book *b = book_create(NULL);
    book_sync *s = sync_create(b, NULL);
    recorder rec = { .b = b };
    sync_set_on_apply(s, record, &rec);
    cr_assert_eq(sync_get_state(s), SYNC_SNAPSHOTTING);
    cr_assert(sync_wants_snapshot(s));
    sync_snapshot_requested(s);
    cr_assert_not(sync_wants_snapshot(s));
    for (size_t i = 0; i < fx.n; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0);
    sync_stats st;
    sync_get_stats(s, &st);
    cr_assert_eq(st.buffered, 169);
    cr_assert_eq(st.applied, 0);
    cr_assert_eq(book_count(b, BOOK_BID), 0, "nothing reaches the book before the snapshot");
    cr_assert_gt(sync_mem_bytes(s), 0);

    cr_assert_eq(snap_fx(s), 0);
    sync_get_stats(s, &st);
    cr_assert_eq(st.dropped, 4);
    cr_assert_eq(st.first_U, 5123107850310);
    cr_assert_eq(st.first_u, 5123107853551);
    cr_assert_eq(st.applied, 165);
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.resyncs, 0);
    cr_assert_eq(st.snapshots, 1);
    cr_assert_eq(st.snapshot_id, fx.L);
    cr_assert_eq(st.snapshot_mono_ns, 777);
    cr_assert_eq(st.buffered, 0);
    cr_assert_not(sync_wants_snapshot(s));
    cr_assert_str_empty(sync_reason(s));
    assert_final_fixture_top(b, s);
    cr_assert_not(book_crossed(b));
    /* the hook ran once per applied event, in order, with the events' u */
    cr_assert_eq(rec.calls, 165);
    for (size_t i = 0; i < 165; i++)
        cr_assert_eq(rec.u[i], fx.ev[i + 4].d.u, "call %zu", i);
    sync_destroy(s);
    book_destroy(b);
}

Test(sync, fixture_snapshot_after_ten_diffs_gives_same_book, .init = fx_setup, .fini = fx_teardown)
{
    book *b1 = book_create(NULL), *b2 = book_create(NULL);
    book_sync *s1 = sync_create(b1, NULL), *s2 = sync_create(b2, NULL);
    run_fixture(b1, s1, fx.n);
    run_fixture(b2, s2, 10);
    assert_final_fixture_top(b2, s2);
    sync_stats st;
    sync_get_stats(s2, &st);
    cr_assert_eq(st.dropped, 4);
    cr_assert_eq(st.applied, 165);
    cr_assert_eq(st.first_U, 5123107850310);
    assert_same_book(b1, b2);
    sync_destroy(s1);
    sync_destroy(s2);
    book_destroy(b1);
    book_destroy(b2);
}

Test(sync, fixture_snapshot_first_then_stream, .init = fx_setup, .fini = fx_teardown)
{
    /* snapshot before any diff: wait for the bridging event, dropping older ones as they come */
    book *b = book_create(NULL);
    book_sync *s = sync_create(b, NULL);
    cr_assert_eq(snap_fx(s), 0);
    cr_assert_eq(sync_get_state(s), SYNC_SNAPSHOTTING);
    cr_assert_not(sync_wants_snapshot(s));
    for (size_t i = 0; i < fx.n; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0);
    assert_final_fixture_top(b, s);
    sync_stats st;
    sync_get_stats(s, &st);
    cr_assert_eq(st.dropped, 4);
    cr_assert_eq(st.applied, 165);
    sync_destroy(s);
    book_destroy(b);
}

Test(sync, fixture_top_matches_book_ticker_after_every_event, .init = fx_setup, .fini = fx_teardown)
{
    book *b = book_create(NULL);
    book_sync *s = sync_create(b, NULL);
    recorder rec = { .b = b, .check_tickers = true };
    sync_set_on_apply(s, record, &rec);
    run_fixture(b, s, 30);
    cr_assert_eq(rec.ticker_checked, 165);
    sync_destroy(s);
    book_destroy(b);
}

Test(sync, fixture_removed_event_gaps_then_new_snapshot_resyncs, .init = fx_setup,
     .fini = fx_teardown)
{
    /* the reference: the whole capture, and a snapshot of its book taken right after event 80 */
    book *ref = book_create(NULL);
    book_sync *rs = sync_create(ref, NULL);
    run_fixture(ref, rs, 0);
    book *mid = book_create(NULL);
    book_sync *ms = sync_create(mid, NULL);
    cr_assert_eq(snap_fx(ms), 0);
    for (size_t i = 0; i <= 80; i++)
        sync_on_diff(ms, &fx.ev[i].d);
    book_level *sb, *sa;
    size_t nsb = dump(mid, BOOK_BID, &sb), nsa = dump(mid, BOOK_ASK, &sa);

    book *b = book_create(NULL);
    book_sync *s = sync_create(b, NULL);
    cr_assert_eq(snap_fx(s), 0);
    for (size_t i = 0; i < 60; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0);
    cr_assert_eq(sync_get_state(s), SYNC_LIVE);
    /* event 60 is lost: 61 breaks the chain */
    cr_assert_eq(sync_on_diff(s, &fx.ev[61].d), BF_EGAP);
    cr_assert_eq(sync_get_state(s), SYNC_RESYNCING);
    char want[128];
    snprintf(want, sizeof(want), "pu %lld != previous u %lld", (long long)fx.ev[61].d.pu,
             (long long)fx.ev[59].d.u);
    cr_assert_str_eq(sync_reason(s), want);
    cr_assert(sync_wants_snapshot(s));
    sync_stats st;
    sync_get_stats(s, &st);
    cr_assert_eq(st.gaps, 1);
    cr_assert_eq(st.resyncs, 1);
    cr_assert_eq(st.buffered, 1, "the breaking event is kept");
    sync_snapshot_requested(s);
    for (size_t i = 62; i < 100; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0, "buffering continues");
    sync_get_stats(s, &st);
    cr_assert_eq(st.buffered, 39);
    cr_assert_eq(st.gaps, 1);

    int64_t L = fx.ev[80].d.u; /* u == L: event 80 bridges */
    cr_assert_eq(sync_on_snapshot(s, L, sb, nsb, sa, nsa, 5), 0);
    cr_assert_eq(sync_get_state(s), SYNC_LIVE);
    sync_get_stats(s, &st);
    cr_assert_eq(st.first_u, L);
    cr_assert_eq(st.snapshots, 2);
    for (size_t i = 100; i < fx.n; i++)
        cr_assert_eq(sync_on_diff(s, &fx.ev[i].d), 0);
    assert_final_fixture_top(b, s);
    assert_same_book(ref, b);
    free(sb);
    free(sa);
    sync_destroy(s);
    sync_destroy(ms);
    sync_destroy(rs);
    book_destroy(b);
    book_destroy(mid);
    book_destroy(ref);
}

/* ---- synthetic streams ---- */

static const book_level one_bid[] = { { 1000, 5 } };
static const book_level one_ask[] = { { 1010, 5 } };

/* A diff as a compound literal (an lvalue, so its address can be passed). */
#define MK(U_, u_, pu_, b_, nb_, a_, na_)                                                          \
    (&(sync_diff){ .U = (U_),                                                                      \
                   .u = (u_),                                                                      \
                   .pu = (pu_),                                                                    \
                   .bids = (b_),                                                                   \
                   .nbids = (nb_),                                                                 \
                   .asks = (a_),                                                                   \
                   .nasks = (na_) })
#define PLAIN(U_, u_, pu_) MK(U_, u_, pu_, NULL, 0, NULL, 0)

static int snap(book_sync *s, int64_t L)
{
    return sync_on_snapshot(s, L, one_bid, 1, one_ask, 1, 1);
}

typedef struct env {
    book *b;
    book_sync *s;
    recorder rec;
} env;

static void env_init(env *e, const sync_config *cfg)
{
    e->b = book_create(NULL);
    e->s = sync_create(e->b, cfg);
    memset(&e->rec, 0, sizeof(e->rec));
    e->rec.b = e->b;
    sync_set_on_apply(e->s, record, &e->rec);
}

static void env_fini(env *e)
{
    sync_destroy(e->s);
    book_destroy(e->b);
}

static sync_stats stats(const env *e)
{
    sync_stats st;
    sync_get_stats(e->s, &st);
    return st;
}

Test(sync, first_event_with_U_equal_L_accepted)
{
    env e;
    env_init(&e, NULL);
    sync_on_diff(e.s, &(sync_diff){ .U = 90, .u = 99, .pu = 80 }); /* u < L: dropped */
    cr_assert_eq(sync_on_diff(e.s, PLAIN(100, 120, 95)), 0);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(stats(&e).dropped, 1);
    cr_assert_eq(stats(&e).first_U, 100);
    cr_assert_eq(e.rec.calls, 1);
    cr_assert_eq(e.rec.u[0], 120);
    env_fini(&e);
}

Test(sync, first_event_with_u_equal_L_accepted)
{
    env e;
    env_init(&e, NULL);
    sync_on_diff(e.s, PLAIN(90, 100, 85));
    sync_on_diff(e.s, PLAIN(130, 140, 100));
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    sync_stats st = stats(&e);
    cr_assert_eq(st.dropped, 0);
    cr_assert_eq(st.first_u, 100);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(st.last_update_id, 140);
    env_fini(&e);
}

Test(sync, first_event_with_pu_equal_L_accepted)
{
    env e;
    env_init(&e, NULL);
    sync_on_diff(e.s, PLAIN(105, 110, 100)); /* U > L, but it chains from the snapshot's id */
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(stats(&e).first_U, 105);
    env_fini(&e);
}

Test(sync, ids_are_not_required_to_be_contiguous)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_on_diff(e.s, &(sync_diff){ .U = 90, .u = 150, .pu = 80 }), 0);
    /* U jumps far past previous u + 1: fine on futures, only pu matters */
    cr_assert_eq(sync_on_diff(e.s, &(sync_diff){ .U = 9000, .u = 9500, .pu = 150 }), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(stats(&e).gaps, 0);
    env_fini(&e);
}

Test(sync, snapshot_too_old_is_refused_and_buffering_continues)
{
    env e;
    env_init(&e, NULL);
    sync_on_diff(e.s, &(sync_diff){ .U = 200, .u = 210, .pu = 190 });
    sync_on_diff(e.s, &(sync_diff){ .U = 220, .u = 230, .pu = 210 });
    sync_snapshot_requested(e.s);
    cr_assert_eq(snap(e.s, 150), BF_ESTATE);
    cr_assert(sync_wants_snapshot(e.s));
    cr_assert_eq(sync_get_state(e.s), SYNC_SNAPSHOTTING);
    sync_stats st = stats(&e);
    cr_assert_eq(st.buffered, 2);
    cr_assert_eq(st.snapshots, 0);
    cr_assert_eq(book_count(e.b, BOOK_BID), 0, "a refused snapshot does not touch the book");
    sync_on_diff(e.s, &(sync_diff){ .U = 240, .u = 250, .pu = 230 });
    cr_assert_eq(snap(e.s, 225), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    st = stats(&e);
    cr_assert_eq(st.dropped, 1);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(st.last_update_id, 250);
    env_fini(&e);
}

Test(sync, waiting_snapshot_then_unbridgeable_event_asks_again)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_not(sync_wants_snapshot(e.s));
    cr_assert_eq(sync_on_diff(e.s, &(sync_diff){ .U = 120, .u = 130, .pu = 110 }), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_SNAPSHOTTING);
    cr_assert(sync_wants_snapshot(e.s));
    cr_assert_eq(stats(&e).buffered, 1);
    cr_assert_eq(snap(e.s, 125), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    env_fini(&e);
}

Test(sync, duplicates_dropped_while_live)
{
    env e;
    env_init(&e, NULL);
    const book_level b1[] = { { 1001, 7 } };
    sync_diff d1 = *MK(90, 110, 80, b1, 1, NULL, 0), d2 = *PLAIN(111, 120, 110);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_on_diff(e.s, &d1), 0);
    cr_assert_eq(sync_on_diff(e.s, &d2), 0);
    const book_level again[] = { { 1001, 99 } };
    sync_diff old = *MK(90, 110, 80, again, 1, NULL, 0);
    cr_assert_eq(sync_on_diff(e.s, &old), 0);
    cr_assert_eq(sync_on_diff(e.s, &d2), 0);
    sync_stats st = stats(&e);
    cr_assert_eq(st.dropped, 2);
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(book_qty_at(e.b, BOOK_BID, 1001), 7, "the old event was not applied");
    env_fini(&e);
}

Test(sync, levels_applied_and_zero_deletes)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    const book_level bids[] = { { 1000, 0 }, { 1002, 3 }, { 900, 0 } }; /* 900 absent: fine */
    const book_level asks[] = { { 1005, 4 } };
    sync_diff d = *MK(95, 105, 90, bids, 3, asks, 1);
    cr_assert_eq(sync_on_diff(e.s, &d), 0);
    cr_assert_eq(book_qty_at(e.b, BOOK_BID, 1000), 0);
    book_level bid, ask;
    cr_assert(book_best_bid(e.b, &bid) && book_best_ask(e.b, &ask));
    cr_assert_eq(bid.px, 1002);
    cr_assert_eq(ask.px, 1005);
    cr_assert_eq(book_count(e.b, BOOK_ASK), 2);
    env_fini(&e);
}

Test(sync, crossed_book_forces_resync)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_on_diff(e.s, PLAIN(95, 105, 90)), 0);
    const book_level cross[] = { { 1010, 1 } }; /* bid at the best ask */
    sync_diff d = *MK(106, 110, 105, cross, 1, NULL, 0);
    cr_assert_eq(sync_on_diff(e.s, &d), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_RESYNCING);
    cr_assert_str_eq(sync_reason(e.s), "crossed book");
    cr_assert(sync_wants_snapshot(e.s));
    sync_stats st = stats(&e);
    cr_assert_eq(st.resyncs, 1);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(e.rec.calls, 2, "the hook still saw the applied event");
    env_fini(&e);
}

Test(sync, buffer_overflow_drops_oldest_and_asks_for_snapshot)
{
    env e;
    sync_config cfg = { .max_buffered_events = 4, .max_buffered_levels = 100 };
    env_init(&e, &cfg);
    sync_snapshot_requested(e.s);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(sync_on_diff(e.s, PLAIN(100 + 10 * i, 105 + 10 * i, 95 + 10 * i)), 0);
    sync_stats st = stats(&e);
    cr_assert_eq(st.buffered, 4);
    cr_assert_eq(st.buffer_overflows, 2);
    cr_assert(sync_wants_snapshot(e.s), "overflow forces a new request");
    /* the two oldest are gone: a snapshot that needs them is too old, a newer one works */
    cr_assert_eq(snap(e.s, 110), BF_ESTATE);
    cr_assert_eq(snap(e.s, 120), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(stats(&e).last_update_id, 155);
    env_fini(&e);
}

Test(sync, buffer_level_bound_drops_oldest)
{
    env e;
    sync_config cfg = { .max_buffered_events = 100, .max_buffered_levels = 5 };
    env_init(&e, &cfg);
    const book_level lv[] = { { 1, 1 }, { 2, 1 } };
    for (int i = 0; i < 4; i++)
        sync_on_diff(e.s, MK(100 + 10 * i, 105 + 10 * i, 95 + 10 * i, lv, 2, NULL, 0));
    sync_stats st = stats(&e);
    cr_assert_eq(st.buffered, 2);
    cr_assert_eq(st.buffer_overflows, 2);
    /* an event larger than the whole buffer cannot be kept */
    const book_level big[6] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 5, 1 }, { 6, 1 } };
    sync_on_diff(e.s, MK(200, 205, 195, big, 6, NULL, 0));
    cr_assert_eq(stats(&e).buffer_overflows, 3);
    env_fini(&e);
}

Test(sync, buffered_levels_are_deep_copies)
{
    env e;
    env_init(&e, NULL);
    book_level lv[] = { { 1003, 9 } };
    sync_on_diff(e.s, MK(95, 105, 90, lv, 1, NULL, 0));
    lv[0].qty = 1; /* the caller reuses its buffer */
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(book_qty_at(e.b, BOOK_BID, 1003), 9);
    env_fini(&e);
}

Test(sync, stale_and_back)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_on_diff(e.s, PLAIN(95, 105, 90)), 0);
    sync_mark_stale(e.s, "no data for 10 s");
    cr_assert_eq(sync_get_state(e.s), SYNC_STALE);
    cr_assert_str_eq(sync_reason(e.s), "no data for 10 s");
    cr_assert_eq(stats(&e).stale, 1);
    cr_assert_eq(sync_on_diff(e.s, PLAIN(106, 110, 105)), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(stats(&e).applied, 2);
    /* stale while not yet synced returns to that state */
    sync_force_resync(e.s, "reconnect");
    sync_mark_stale(e.s, "quiet");
    cr_assert_eq(sync_get_state(e.s), SYNC_STALE);
    sync_on_diff(e.s, PLAIN(111, 115, 110));
    cr_assert_eq(sync_get_state(e.s), SYNC_RESYNCING);
    cr_assert_eq(stats(&e).stale, 2);
    env_fini(&e);
}

Test(sync, force_resync_records_reason)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    sync_on_diff(e.s, PLAIN(95, 105, 90));
    sync_snapshot_requested(e.s);
    sync_force_resync(e.s, "bookTicker mismatch");
    cr_assert_eq(sync_get_state(e.s), SYNC_RESYNCING);
    cr_assert_str_eq(sync_reason(e.s), "bookTicker mismatch");
    cr_assert(sync_wants_snapshot(e.s));
    cr_assert_eq(stats(&e).resyncs, 1);
    /* events now buffer until the next snapshot */
    sync_on_diff(e.s, PLAIN(106, 110, 105));
    cr_assert_eq(stats(&e).buffered, 1);
    cr_assert_eq(snap(e.s, 107), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    env_fini(&e);
}

Test(sync, gap_while_replaying_the_buffer)
{
    env e;
    env_init(&e, NULL);
    sync_on_diff(e.s, PLAIN(95, 105, 90));
    sync_on_diff(e.s, PLAIN(106, 110, 105));
    sync_on_diff(e.s, PLAIN(120, 130, 115)); /* pu 115 != 110 */
    sync_on_diff(e.s, PLAIN(131, 140, 130));
    cr_assert_eq(snap(e.s, 100), BF_EGAP);
    cr_assert_eq(sync_get_state(e.s), SYNC_RESYNCING);
    cr_assert_str_eq(sync_reason(e.s), "pu 115 != previous u 110");
    sync_stats st = stats(&e);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(st.buffered, 2);
    cr_assert_eq(st.gaps, 1);
    cr_assert_eq(snap(e.s, 125), 0);
    cr_assert_eq(stats(&e).last_update_id, 140);
    env_fini(&e);
}

Test(sync, refused_snapshot_level_resyncs)
{
    book_config bc = { .max_levels = 2 };
    book *b = book_create(&bc);
    book_sync *s = sync_create(b, NULL);
    const book_level bids[] = { { 100, 1 }, { 99, 1 }, { 98, 1 } };
    cr_assert_eq(sync_on_snapshot(s, 10, bids, 3, NULL, 0, 0), BF_ETOOBIG);
    cr_assert_eq(sync_get_state(s), SYNC_RESYNCING);
    cr_assert(sync_wants_snapshot(s));
    cr_assert_str_neq(sync_reason(s), "");
    sync_stats st;
    sync_get_stats(s, &st);
    cr_assert_eq(st.snapshots, 0);
    sync_destroy(s);
    book_destroy(b);
}

Test(sync, memory_accounted_and_released)
{
    int64_t start = memacct_get(MEM_SYNC);
    env e;
    env_init(&e, NULL);
    const book_level lv[] = { { 1, 1 }, { 2, 1 } };
    for (int i = 0; i < 100; i++)
        sync_on_diff(e.s, MK(100 + 10 * i, 105 + 10 * i, 95 + 10 * i, lv, 2, NULL, 0));
    size_t held = sync_mem_bytes(e.s);
    cr_assert_geq(held, 100 * 2 * sizeof(book_level));
    cr_assert_eq(memacct_get(MEM_SYNC) - start, (int64_t)held);
    cr_assert_eq(snap(e.s, 100), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(memacct_get(MEM_SYNC) - start, (int64_t)sync_mem_bytes(e.s));
    env_fini(&e);
    cr_assert_eq(memacct_get(MEM_SYNC), start);
}

Test(sync, state_names)
{
    cr_assert_str_eq(sync_state_name(SYNC_SNAPSHOTTING), "SNAPSHOTTING");
    cr_assert_str_eq(sync_state_name(SYNC_LIVE), "LIVE");
    cr_assert_str_eq(sync_state_name(SYNC_RESYNCING), "RESYNCING");
    cr_assert_str_eq(sync_state_name(SYNC_STALE), "STALE");
}

Test(sync, snapshot_refresh_while_live)
{
    env e;
    env_init(&e, NULL);
    cr_assert_eq(snap(e.s, 100), 0);
    const book_level lv[] = { { 1001, 3 } };
    cr_assert_eq(sync_on_diff(e.s, MK(95, 150, 90, lv, 1, NULL, 0)), 0);
    /* older than the book: refused, the book and the chain are untouched */
    cr_assert_eq(snap(e.s, 120), BF_ESTATE);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    cr_assert_eq(book_qty_at(e.b, BOOK_BID, 1001), 3);
    cr_assert_eq(sync_on_diff(e.s, PLAIN(151, 160, 150)), 0);
    /* newer: reloaded, and the stream bridges it again */
    cr_assert_eq(snap(e.s, 165), 0);
    cr_assert_eq(book_qty_at(e.b, BOOK_BID, 1001), 0);
    cr_assert_eq(sync_on_diff(e.s, PLAIN(161, 170, 160)), 0);
    cr_assert_eq(sync_get_state(e.s), SYNC_LIVE);
    sync_stats st = stats(&e);
    cr_assert_eq(st.snapshots, 2);
    cr_assert_eq(st.first_U, 161);
    cr_assert_eq(st.last_update_id, 170);
    cr_assert_eq(st.gaps, 0);
    env_fini(&e);
}
