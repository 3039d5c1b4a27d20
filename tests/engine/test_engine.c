/*
 * The live pipeline without a network: offline engines fed through engine_feed_* with the sample
 * capture and the fixtures, compared with replay (the same market code on one thread); torn-view,
 * ring-overflow, routing, ordering, wait and status tests; the live path's start-up failure and
 * the `bfmon` live options (cli). No .timeout: Criterion 2.4 leaks its timeout watcher when such tests
 * run in parallel (LeakSanitizer report); meson's timeout and the tests' own deadlines bound them.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "codec/rest.h"
#include "codec/stream.h"
#include "engine.h"
#include "feed/recfmt.h"
#include "feed/recorder.h"
#include "feed/replay.h"
#include "market/market.h"
#include "sim/model.h"
#include "sim/server.h"
#include "testutil.h"
#include "util/clk.h"
#include "util/err.h"

#define SAMPLE_LINES  2000
#define SAMPLE_MSGS   1999 /* every line but the REST snapshot */
#define SAMPLE_LAST_U 5123108458915LL
#define WAIT_NS       (20 * CLK_NS_PER_S)
#define BOOK_COPY_MAX 200000
#define CF            "cryptofeed_usdm_20210722/"

static engine *offline_engine(const char *const *symbols, size_t n, unsigned workers,
                              size_t ring_bytes)
{
    engine_config cfg = { .symbols = symbols,
                          .nsymbols = n,
                          .workers = workers,
                          .ring_bytes = ring_bytes,
                          .offline = true };
    engine *e = NULL;
    char why[256] = "";
    int rc = engine_create(&cfg, &e, why, sizeof why);
    cr_assert_eq(rc, 0, "engine_create: %s", why);
    return e;
}

static void start(engine *e)
{
    char why[256] = "";
    int rc = engine_start(e, clk_mono_ns() + WAIT_NS, why, sizeof why);
    cr_assert_eq(rc, 0, "engine_start: %s", why);
}

static bool is_snapshot_line(const recfmt_line *l)
{
    return strncmp(l->json, "{\"lastUpdateId\"", 15) == 0;
}

/* Feed every line of the sample: messages through the stream path, the snapshot as REST. Counts
 * the BF_EAGAIN (ring full) answers in *full when given. */
static void feed_sample(engine *e, unsigned *full)
{
    char *path = tu_source_path(TU_SAMPLE);
    recfmt_reader *rd = NULL;
    cr_assert_eq(recfmt_open(path, NULL, &rd, NULL, 0), 0);
    recfmt_line l;
    int rc;
    unsigned lines = 0;
    while ((rc = recfmt_next(rd, &l)) == 1) {
        lines++;
        if (is_snapshot_line(&l))
            rc = engine_feed_rest_depth(e, "BTCUSDT", l.json, l.len, l.recv_ns, clk_mono_ns());
        else
            rc = engine_feed_message(e, NULL, l.json, l.len, l.recv_ns, clk_mono_ns());
        if (rc == BF_EAGAIN && full)
            ++*full;
        else
            cr_assert_eq(rc, 0, "line %u: %s", lines, bf_strerror(rc));
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(lines, SAMPLE_LINES);
    recfmt_close(rd);
    free(path);
}

typedef bool (*view_pred)(const view_symbol *v, const void *arg);

/* Wait (on publications, with a deadline) until the symbol's view satisfies pred. */
static bool wait_view(engine *e, const char *sym, view_pred pred, const void *arg, view_symbol *v)
{
    int64_t deadline = clk_mono_ns() + WAIT_NS;
    uint64_t seen = 0;
    for (;;) {
        seen = engine_version(e);
        cr_assert_eq(engine_view_symbol(e, sym, v), 0);
        if (pred(v, arg))
            return true;
        if (clk_mono_ns() >= deadline)
            return false;
        engine_wait(e, seen,
                    clk_mono_ns() + 100 * CLK_NS_PER_MS < deadline
                        ? clk_mono_ns() + 100 * CLK_NS_PER_MS
                        : deadline);
    }
}

static bool has_messages(const view_symbol *v, const void *arg)
{
    return v->messages >= *(const uint64_t *)arg;
}

static replay *replay_sample(void)
{
    replay *r = NULL;
    cr_assert_eq(replay_create(NULL, &r, NULL, 0), 0);
    char *path = tu_source_path(TU_SAMPLE);
    cr_assert_eq(replay_file(r, path), 0);
    free(path);
    replay_finish(r);
    return r;
}

static void fmt_px(const view_symbol *v, int64_t px, char *buf, size_t cap)
{
    cr_assert(dec_format(px, &v->px_scale, buf, cap) > 0);
}

static void fmt_qty(const view_symbol *v, int64_t q, char *buf, size_t cap)
{
    cr_assert(dec_format(q, &v->qty_scale, buf, cap) > 0);
}

static const char *const btc[] = { "BTCUSDT" };

/* The final view equals replay's report for the same file. */
Test(engine, sample_view_matches_replay)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    feed_sample(e, NULL);
    view_symbol *v = malloc(sizeof *v);
    uint64_t want = SAMPLE_MSGS;
    cr_assert(wait_view(e, "BTCUSDT", has_messages, &want, v), "not all messages were applied");

    replay *r = replay_sample();
    market *m = replay_find_market(r, "BTCUSDT");
    cr_assert_not_null(m);
    sync_stats ss;
    market_sync_stats(m, &ss);

    cr_assert_eq(v->state, SYNC_LIVE);
    cr_assert_eq(market_state(m), SYNC_LIVE);
    cr_assert_str_eq(v->reason, "");
    cr_assert_eq(v->last_update_id, SAMPLE_LAST_U);
    cr_assert_eq(v->last_update_id, ss.last_update_id);
    cr_assert_eq(v->messages, SAMPLE_MSGS);
    cr_assert_eq(v->gaps, 0);
    cr_assert_eq(v->resyncs, 0);
    cr_assert_eq(v->snapshots, 1);
    cr_assert_eq(v->decode_errors, 0);
    cr_assert(v->has_scale);
    char buf[DEC_FMT_MAX];
    fmt_px(v, v->bids[0].px, buf, sizeof buf);
    cr_assert_str_eq(buf, "61800.10");
    fmt_qty(v, v->bids[0].qty, buf, sizeof buf);
    cr_assert_str_eq(buf, "4.230");
    fmt_px(v, v->asks[0].px, buf, sizeof buf);
    cr_assert_str_eq(buf, "61800.20");
    fmt_qty(v, v->asks[0].qty, buf, sizeof buf);
    cr_assert_str_eq(buf, "4.853");

    const book *b = market_book(m);
    cr_assert_eq(v->bid_levels, book_count(b, BOOK_BID));
    cr_assert_eq(v->ask_levels, book_count(b, BOOK_ASK));
    book_level want_top[VIEW_LEVELS];
    size_t n = book_top(b, BOOK_BID, want_top, VIEW_LEVELS);
    cr_assert_eq(v->nbids, n);
    cr_assert_arr_eq(v->bids, want_top, n * sizeof *want_top);
    n = book_top(b, BOOK_ASK, want_top, VIEW_LEVELS);
    cr_assert_eq(v->nasks, n);
    cr_assert_arr_eq(v->asks, want_top, n * sizeof *want_top);

    market_counters c;
    market_counters_get(m, &c);
    cr_assert_eq(v->bt_checks, c.bt_checks);
    cr_assert_eq(v->bt_mismatches, 0);
    cr_assert_str_eq(v->last.trade_price, market_last_values(m)->trade_price);
    cr_assert_gt(v->nticks, 0);
    cr_assert_eq(v->ticks[v->nticks - 1].u, SAMPLE_LAST_U);

    /* Every stage that the sample exercises has samples. */
    cr_assert_gt(v->stages[STAGE_T_TO_E].count, 0);
    cr_assert_gt(v->stages[STAGE_E_TO_RECV].count + v->stages[STAGE_E_TO_RECV].negative, 0);
    cr_assert_gt(v->stages[STAGE_RECV_TO_APPLIED].count, 0);
    replay_destroy(r);
    free(v);
    engine_destroy(e);
}

/* engine_book_copy, taken on the worker, equals replay's full book. */
Test(engine, book_copy_matches_replay)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    feed_sample(e, NULL);
    view_symbol *v = malloc(sizeof *v);
    uint64_t want = SAMPLE_MSGS;
    cr_assert(wait_view(e, "BTCUSDT", has_messages, &want, v));
    replay *r = replay_sample();
    const book *b = market_book(replay_find_market(r, "BTCUSDT"));
    book_level *got = malloc(BOOK_COPY_MAX * sizeof *got);
    book_level *exp = malloc(BOOK_COPY_MAX * sizeof *exp);
    for (int side = BOOK_BID; side <= BOOK_ASK; side++) {
        int64_t luid = 0;
        int n = engine_book_copy(e, "BTCUSDT", (book_side)side, got, BOOK_COPY_MAX, &luid);
        size_t m = book_top(b, (book_side)side, exp, BOOK_COPY_MAX);
        cr_assert_gt(n, 900, "side %d: %d levels", side, n);
        cr_assert_eq((size_t)n, m);
        cr_assert_arr_eq(got, exp, m * sizeof *exp);
        cr_assert_eq(luid, SAMPLE_LAST_U);
    }
    /* A small cap gets the best levels only. */
    int64_t luid = 0;
    cr_assert_eq(engine_book_copy(e, "BTCUSDT", BOOK_ASK, got, 3, &luid), 3);
    cr_assert_arr_eq(got, exp, 3 * sizeof *exp);
    cr_assert_eq(engine_book_copy(e, "ETHUSDT", BOOK_ASK, got, 3, &luid), BF_ENOENT);
    /* After stop the copy is taken inline and is still exact. */
    engine_stop(e);
    cr_assert_eq(engine_book_copy(e, "BTCUSDT", BOOK_ASK, got, BOOK_COPY_MAX, &luid),
                 (int)book_count(b, BOOK_ASK));
    free(got);
    free(exp);
    replay_destroy(r);
    free(v);
    engine_destroy(e);
}

typedef struct reader_ctx {
    engine *e;
    bool stop;
    pthread_mutex_t mu;
    uint64_t copies, live_copies;
    char problem[256];
} reader_ctx;

static bool reader_stopped(reader_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* A view that is internally inconsistent was torn (or built wrong). */
static const char *view_problem(const view_symbol *v, uint64_t prev_version, uint64_t prev_msgs)
{
    if (v->version < prev_version)
        return "version went backwards";
    if (v->messages < prev_msgs)
        return "message count went backwards";
    if (strcmp(v->symbol, "BTCUSDT") != 0)
        return "symbol name changed";
    if (v->nbids > VIEW_LEVELS || v->nasks > VIEW_LEVELS || v->nticks > VIEW_TICKS)
        return "counts out of range";
    for (size_t i = 1; i < v->nbids; i++)
        if (v->bids[i].px >= v->bids[i - 1].px)
            return "bids not strictly descending";
    for (size_t i = 1; i < v->nasks; i++)
        if (v->asks[i].px <= v->asks[i - 1].px)
            return "asks not strictly ascending";
    if (v->state == SYNC_LIVE && v->nbids && v->nasks && v->bids[0].px >= v->asks[0].px)
        return "LIVE book crossed";
    if (v->state == SYNC_LIVE && v->reason[0])
        return "LIVE with a reason";
    return NULL;
}

static void *reader_main(void *arg)
{
    reader_ctx *c = arg;
    view_symbol *v = malloc(sizeof *v);
    uint64_t prev_version = 0, prev_msgs = 0;
    while (!reader_stopped(c)) {
        cr_assert_eq(engine_view_symbol(c->e, "BTCUSDT", v), 0);
        const char *p = view_problem(v, prev_version, prev_msgs);
        pthread_mutex_lock(&c->mu);
        c->copies++;
        c->live_copies += v->state == SYNC_LIVE;
        if (p && !c->problem[0])
            snprintf(c->problem, sizeof c->problem, "version %llu: %s",
                     (unsigned long long)v->version, p);
        pthread_mutex_unlock(&c->mu);
        prev_version = v->version;
        prev_msgs = v->messages;
    }
    free(v);
    return NULL;
}

/* Readers copy views while the worker applies and publishes: never a torn view. */
Test(engine, reader_never_sees_torn_view)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    reader_ctx c = { .e = e };
    pthread_mutex_init(&c.mu, NULL);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &c), 0);
    for (int round = 0; round < 3; round++) {
        /* The same capture again: the diffs are old for the book (dropped), the snapshot too old;
         * the view keeps changing (messages, latency) and must stay consistent. */
        feed_sample(e, NULL);
        view_symbol *v = malloc(sizeof *v);
        uint64_t want = (uint64_t)SAMPLE_MSGS * (uint64_t)(round + 1);
        cr_assert(wait_view(e, "BTCUSDT", has_messages, &want, v));
        free(v);
    }
    pthread_mutex_lock(&c.mu);
    c.stop = true;
    pthread_mutex_unlock(&c.mu);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_str_eq(c.problem, "", "%s", c.problem);
    cr_assert_gt(c.copies, 0);
    pthread_mutex_destroy(&c.mu);
    engine_destroy(e);
}

static bool not_live_ring_full(const view_symbol *v, const void *arg)
{
    (void)arg;
    return v->state != SYNC_LIVE && strstr(v->reason, "ring full") != NULL;
}

/* A ring too small for the input: drops are counted and the symbol resyncs, never silently wrong. */
Test(engine, ring_overflow_counts_drops_and_resyncs)
{
    engine *e = offline_engine(btc, 1, 1, 128 << 10);
    unsigned full = 0;
    feed_sample(e, &full); /* before start: nothing drains, so the ring fills deterministically */
    cr_assert_gt(full, 0);
    view_global g;
    engine_view_global(e, &g);
    cr_assert_eq(g.ring_drops, full);
    start(e);
    view_symbol *v = malloc(sizeof *v);
    cr_assert(wait_view(e, "BTCUSDT", not_live_ring_full, NULL, v), "state %s reason '%s'",
              sync_state_name(v->state), v->reason);
    cr_assert_lt(v->messages, SAMPLE_MSGS);
    cr_assert_gt(v->messages, 0);
    /* The snapshot and its bridging diff were in the ring: LIVE first, then the resync. */
    cr_assert_geq(v->resyncs, 1);
    free(v);
    engine_destroy(e);
}

Test(engine, unroutable_messages_are_counted)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    static const char eth[] = "{\"stream\":\"ethusdt@depth\",\"data\":{}}";
    cr_assert_eq(engine_feed_message(e, NULL, eth, sizeof eth - 1, 1, 1), BF_ENOENT);
    cr_assert_eq(engine_feed_message(e, "solusdt@aggTrade", "{}", 2, 1, 1), BF_ENOENT);
    cr_assert_eq(engine_feed_message(e, NULL, "{\"e\":\"x\"}", 9, 1, 1), BF_ENOENT);
    cr_assert_eq(engine_feed_rest_depth(e, "ETHUSDT", "{}", 2, 1, 1), BF_ENOENT);
    view_global g;
    engine_view_global(e, &g);
    cr_assert_eq(g.unroutable, 4);
    cr_assert_eq(g.ring_drops, 0);
    view_symbol *v = malloc(sizeof *v);
    cr_assert_eq(engine_view_symbol(e, "ETHUSDT", v), BF_ENOENT);
    cr_assert_eq(engine_view_symbol(e, "BTCUSDT", v), 0);
    cr_assert_eq(v->messages, 0);
    free(v);
    engine_destroy(e);
}

/* Garbage for a known symbol is a decode error of that symbol, nothing else. */
Test(engine, malformed_message_counts_decode_error)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    static const char bad[] = "{\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\",";
    cr_assert_eq(engine_feed_message(e, NULL, bad, sizeof bad - 1, 1, 1), 0);
    view_symbol *v = malloc(sizeof *v);
    uint64_t want = 1;
    cr_assert(wait_view(e, "BTCUSDT", has_messages, &want, v));
    cr_assert_eq(v->decode_errors, 1);
    free(v);
    engine_destroy(e);
}

/* ---- two symbols on two workers ------------------------------------------------------------ */

static char *fixture_text(const char *rel, size_t *len)
{
    char *p = tu_fixture(rel);
    char *t = tu_read_file(p, len);
    cr_assert_not_null(t, "cannot read %s", p);
    free(p);
    return t;
}

typedef struct feed_item {
    const char *sym; /* snapshot symbol, NULL for a stream message */
    const char *json;
} feed_item;

typedef struct script {
    feed_item *items;
    size_t n;
    char *bufs[8];
    size_t nbufs;
} script;

static char **load_lines(script *s, const char *rel, size_t *count)
{
    size_t len;
    char *t = fixture_text(rel, &len);
    s->bufs[s->nbufs++] = t;
    return tu_lines(t, count);
}

static void add_item(script *s, const char *sym, const char *json)
{
    s->items = realloc(s->items, (s->n + 1) * sizeof *s->items);
    s->items[s->n++] = (feed_item){ sym, json };
}

/* SUSHIUSDT and AKROUSDT depth interleaved line by line, each snapshot after its symbol's third
 * diff, AKROUSDT aggTrades in between. */
static void build_script(script *s)
{
    size_t ns, na, nt, n1, n2;
    char **sushi = load_lines(s, CF "derived_ws_depth100ms_SUSHIUSDT.jsonl", &ns);
    char **akro = load_lines(s, CF "derived_ws_depth100ms_AKROUSDT.jsonl", &na);
    char **agg = load_lines(s, CF "derived_ws_aggTrade.jsonl", &nt);
    char **snap1 = load_lines(s, CF "derived_rest_depth_snapshot_SUSHIUSDT.json", &n1);
    char **snap2 = load_lines(s, CF "derived_rest_depth_snapshot_AKROUSDT.json", &n2);
    size_t max = ns > na ? ns : na;
    for (size_t i = 0; i < max; i++) {
        if (i < ns)
            add_item(s, NULL, sushi[i]);
        if (i < na)
            add_item(s, NULL, akro[i]);
        if (i == 2) {
            add_item(s, "SUSHIUSDT", snap1[0]);
            add_item(s, "AKROUSDT", snap2[0]);
        }
        if (i < nt && strstr(agg[i], "akrousdt@aggTrade"))
            add_item(s, NULL, agg[i]);
    }
    free(sushi);
    free(akro);
    free(agg);
    free(snap1);
    free(snap2);
}

static void free_script(script *s)
{
    for (size_t i = 0; i < s->nbufs; i++)
        free(s->bufs[i]);
    free(s->items);
}

static symtab *load_symtab(void)
{
    size_t len;
    char *t = fixture_text(CF "derived_rest_exchangeInfo.json", &len);
    symtab *tab = symtab_create();
    size_t skipped;
    cr_assert_eq(rest_parse_exchange_info(t, len, tab, NULL, &skipped, NULL, 0), 0);
    free(t);
    return tab;
}

/* The reference: the same items applied in order on this thread. */
static market *reference_market(const script *s, const char *sym, const symtab *tab)
{
    market_config cfg = { .info = symtab_find(tab, sym, strlen(sym)) };
    cr_assert_not_null(cfg.info);
    market *m = market_create(sym, &cfg);
    stream_decoder *d = stream_decoder_create(NULL);
    char lower[32];
    size_t len = strlen(sym);
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)sym[i]);
    snprintf(lower + len, sizeof lower - len, "@");
    for (size_t i = 0; i < s->n; i++) {
        const feed_item *it = &s->items[i];
        bool mine = it->sym ? strcmp(it->sym, sym) == 0 : strstr(it->json, lower) != NULL;
        if (!mine)
            continue;
        stream_msg msg;
        cr_assert_eq(stream_decode(d, it->json, strlen(it->json), &msg), 0);
        for (size_t k = 0; k < msg.nevents; k++)
            market_on_event(m, &msg.events[k], msg.levels, 1);
    }
    stream_decoder_destroy(d);
    return m;
}

static bool depth_done(const view_symbol *v, const void *arg)
{
    return v->messages >= *(const uint64_t *)arg && v->state == SYNC_LIVE;
}

static void compare_with_reference(engine *e, const script *s, const char *sym, const symtab *tab,
                                   uint64_t msgs)
{
    view_symbol *v = malloc(sizeof *v);
    cr_assert(wait_view(e, sym, depth_done, &msgs, v), "%s: %s %s", sym, sync_state_name(v->state),
              v->reason);
    market *m = reference_market(s, sym, tab);
    sync_stats ss;
    market_sync_stats(m, &ss);
    cr_assert_eq(market_state(m), SYNC_LIVE);
    cr_assert_eq(v->last_update_id, ss.last_update_id, "%s", sym);
    cr_assert_eq(v->gaps, 0);
    cr_assert_eq(v->snapshots, 1);
    book_level *got = malloc(BOOK_COPY_MAX * sizeof *got);
    book_level *exp = malloc(BOOK_COPY_MAX * sizeof *exp);
    for (int side = BOOK_BID; side <= BOOK_ASK; side++) {
        int n = engine_book_copy(e, sym, (book_side)side, got, BOOK_COPY_MAX, NULL);
        size_t k = book_top(market_book(m), (book_side)side, exp, BOOK_COPY_MAX);
        cr_assert_eq((size_t)n, k, "%s side %d", sym, side);
        cr_assert_arr_eq(got, exp, k * sizeof *exp);
    }
    dec_scale px, qty;
    cr_assert(market_scales_from_info(m));
    cr_assert(market_scales(m, &px, &qty));
    cr_assert_eq(v->px_scale.decimals, px.decimals);
    cr_assert_eq(v->qty_scale.decimals, qty.decimals);
    free(got);
    free(exp);
    free(v);
    market_destroy(m);
}

static uint64_t count_messages(const script *s, const char *lower)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += !s->items[i].sym && strstr(s->items[i].json, lower) != NULL;
    return n;
}

Test(engine, two_symbols_two_workers_keep_order)
{
    static const char *const syms[] = { "SUSHIUSDT", "AKROUSDT" };
    engine *e = offline_engine(syms, 2, 2, 0);
    size_t len;
    char *info = fixture_text(CF "derived_rest_exchangeInfo.json", &len);
    char why[256] = "";
    cr_assert_eq(engine_load_exchange_info(e, info, len, why, sizeof why), 0, "%s", why);
    start(e);
    cr_assert_eq(engine_load_exchange_info(e, info, len, why, sizeof why), BF_ESTATE);
    free(info);
    script s = { 0 };
    build_script(&s);
    for (size_t i = 0; i < s.n; i++) {
        const feed_item *it = &s.items[i];
        size_t n = strlen(it->json);
        int rc = it->sym ? engine_feed_rest_depth(e, it->sym, it->json, n, 1, clk_mono_ns())
                         : engine_feed_message(e, NULL, it->json, n, 1, clk_mono_ns());
        cr_assert_eq(rc, 0, "item %zu", i);
    }
    symtab *tab = load_symtab();
    compare_with_reference(e, &s, "SUSHIUSDT", tab, count_messages(&s, "sushiusdt@"));
    compare_with_reference(e, &s, "AKROUSDT", tab, count_messages(&s, "akrousdt@"));

    /* AKROUSDT's aggTrades are kept for the view, newest last, in the symbol's scales. */
    view_symbol *v = malloc(sizeof *v);
    cr_assert_eq(engine_view_symbol(e, "AKROUSDT", v), 0);
    cr_assert_gt(v->ntrades, 0);
    char buf[DEC_FMT_MAX];
    cr_assert(dec_format(v->trades[v->ntrades - 1].px, &v->px_scale, buf, sizeof buf) > 0);
    cr_assert_str_eq(buf, v->last.trade_price);
    cr_assert_eq(engine_view_symbol(e, "SUSHIUSDT", v), 0);
    cr_assert_eq(v->ntrades, 0);
    free(v);
    symtab_destroy(tab);
    free_script(&s);
    engine_destroy(e);
}

/* ---- waiting ------------------------------------------------------------------------------- */

typedef struct waiter {
    engine *e;
    uint64_t seen, got;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    w->got = engine_wait(w->e, w->seen, clk_mono_ns() + WAIT_NS);
    return NULL;
}

Test(engine, wait_wakes_on_publication)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    waiter w = { .e = e, .seen = engine_version(e) };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, waiter_main, &w), 0);
    static const char msg[] =
        "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161256300,\"T\":"
        "1723161256299,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"61800.10\",\"q\":\"0.002\",\"X\":"
        "\"MARKET\",\"m\":true}}";
    cr_assert_eq(engine_feed_message(e, NULL, msg, sizeof msg - 1, 1, clk_mono_ns()), 0);
    pthread_join(th, NULL);
    cr_assert_gt(w.got, w.seen);
    cr_assert_geq(engine_version(e), w.got);
    /* The wakeup fd is readable after a publication, and reading resets it. */
    struct pollfd p = { .fd = engine_wakeup_fd(e), .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 5000), 1);
    uint64_t cnt;
    cr_assert_eq(read(p.fd, &cnt, sizeof cnt), (ssize_t)sizeof cnt);
    cr_assert_eq(poll(&p, 1, 0), 0);
    engine_destroy(e);
}

Test(engine, wait_honours_deadline)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    uint64_t v = engine_version(e);
    int64_t deadline = clk_mono_ns() + 30 * CLK_NS_PER_MS;
    cr_assert_eq(engine_wait(e, v, deadline), v);
    cr_assert_geq(clk_mono_ns(), deadline);
    /* Already newer: returns at once. */
    cr_assert_eq(engine_wait(e, 0, 0), v);
    engine_destroy(e);
}

/* ---- status, config, watchlist ------------------------------------------------------------- */

static json_t *get_path(json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get(o, a);
    return b ? json_object_get(x, b) : x;
}

Test(engine, status_json_fields)
{
    engine *e = offline_engine(btc, 1, 1, 0);
    start(e);
    feed_sample(e, NULL);
    view_symbol *v = malloc(sizeof *v);
    uint64_t want = SAMPLE_MSGS;
    cr_assert(wait_view(e, "BTCUSDT", has_messages, &want, v));
    free(v);
    json_t *st = engine_status_json(e);
    cr_assert(json_is_integer(json_object_get(st, "t")));
    json_t *b = get_path(st, "symbols", "BTCUSDT");
    cr_assert(json_is_object(b));
    cr_assert_str_eq(json_string_value(json_object_get(b, "state")), "LIVE");
    cr_assert_str_eq(json_string_value(json_object_get(b, "reason")), "");
    cr_assert_str_eq(json_string_value(json_object_get(b, "bid")), "61800.10");
    cr_assert_str_eq(json_string_value(json_object_get(b, "bid_qty")), "4.230");
    cr_assert_str_eq(json_string_value(json_object_get(b, "ask")), "61800.20");
    cr_assert_str_eq(json_string_value(json_object_get(b, "ask_qty")), "4.853");
    cr_assert_eq(json_integer_value(json_object_get(b, "last_update_id")), SAMPLE_LAST_U);
    cr_assert_eq(json_integer_value(json_object_get(b, "msgs")), SAMPLE_MSGS);
    cr_assert(json_is_number(json_object_get(b, "msgs_per_s")));
    static const char *const ints[] = { "gaps", "resyncs", "snapshots", "decode_errors" };
    for (size_t i = 0; i < 4; i++)
        cr_assert(json_is_integer(json_object_get(b, ints[i])), "%s", ints[i]);
    cr_assert(json_is_boolean(json_object_get(b, "stale")));
    static const char *const stages[] = { "t_e", "e_recv", "recv_applied", "applied_pub",
                                          "rest_rtt" };
    for (size_t i = 0; i < 5; i++) {
        json_t *l = get_path(b, "latency", stages[i]);
        cr_assert(json_is_object(l), "%s", stages[i]);
        cr_assert(json_is_number(json_object_get(l, "p50")));
        cr_assert(json_is_number(json_object_get(l, "p99")));
        cr_assert(json_is_number(json_object_get(l, "p999")));
        cr_assert(json_is_number(json_object_get(l, "max")));
    }
    json_t *ra = get_path(b, "latency", "recv_applied");
    cr_assert_gt(json_integer_value(json_object_get(ra, "count")), 0);
    cr_assert(json_is_object(get_path(st, "ws", "public")));
    cr_assert(json_is_object(get_path(st, "ws", "market")));
    cr_assert_eq(json_integer_value(get_path(st, "ws", "messages")), SAMPLE_MSGS);
    static const char *const rest[] = { "used_weight",  "weight_limit", "banned_for_ms",
                                        "conns_opened", "requests",     "retries" };
    for (size_t i = 0; i < 6; i++)
        cr_assert(json_is_integer(get_path(st, "rest", rest[i])), "rest.%s", rest[i]);
    cr_assert(json_is_number(get_path(st, "clock", "offset_ms")));
    cr_assert(json_is_number(get_path(st, "clock", "rtt_ms")));
    cr_assert(json_is_boolean(get_path(st, "clock", "skewed")));
    cr_assert_eq(json_integer_value(json_object_get(st, "ring_drops")), 0);
    cr_assert(json_is_integer(get_path(st, "mem", "rss_bytes")));
    char *text = json_dumps(st, JSON_COMPACT);
    cr_assert_not_null(text);
    free(text);
    json_decref(st);
    engine_destroy(e);
}

Test(engine, create_rejects_bad_config)
{
    engine *e = NULL;
    char why[256];
    engine_config c1 = { .rest_url = "ftp://x", .offline = true };
    cr_assert_eq(engine_create(&c1, &e, why, sizeof why), BF_EINVAL);
    cr_assert_neq(why[0], '\0');
    engine_config c2 = { .ws_url = "https://x", .offline = true };
    cr_assert_eq(engine_create(&c2, &e, why, sizeof why), BF_EINVAL);
    static const char *const bad[] = { "BTC/USDT" };
    engine_config c3 = { .symbols = bad, .nsymbols = 1, .offline = true };
    cr_assert_eq(engine_create(&c3, &e, why, sizeof why), BF_EINVAL);
    cr_assert(strstr(why, "BTC/USDT") != NULL, "%s", why);
    engine_config c4 = { .depth_suffix = "@7ms", .offline = true };
    cr_assert_eq(engine_create(&c4, &e, why, sizeof why), BF_EINVAL);
    cr_assert_null(e);
    /* Defaults: the default watchlist. */
    engine_config c5 = { .offline = true, .workers = 1 };
    cr_assert_eq(engine_create(&c5, &e, why, sizeof why), 0);
    cr_assert_eq(engine_symbol_count(e), 5);
    char name[SYM_NAME_MAX];
    cr_assert(engine_symbol_at(e, 0, name, sizeof name));
    cr_assert_str_eq(name, "BTCUSDT");
    cr_assert_not(engine_symbol_at(e, 5, name, sizeof name));
    engine_destroy(e);
}

Test(engine, watchlist_add_remove)
{
    static const char *const syms[] = { "btcusdt" };
    engine *e = offline_engine(syms, 1, 2, 0);
    start(e);
    char why[256];
    char name[SYM_NAME_MAX];
    cr_assert(engine_symbol_at(e, 0, name, sizeof name));
    cr_assert_str_eq(name, "BTCUSDT");
    cr_assert_eq(engine_add_symbol(e, "ETHUSDT", why, sizeof why), 0);
    cr_assert_eq(engine_add_symbol(e, "ETHUSDT", why, sizeof why), 0); /* already watched */
    cr_assert_eq(engine_add_symbol(e, "ETH USDT", why, sizeof why), BF_EINVAL);
    cr_assert_eq(engine_symbol_count(e), 2);
    cr_assert(engine_symbol_at(e, 1, name, sizeof name));
    cr_assert_str_eq(name, "ETHUSDT");
    view_symbol *v = malloc(sizeof *v);
    cr_assert_eq(engine_view_symbol(e, "ETHUSDT", v), 0);
    cr_assert_str_eq(v->symbol, "ETHUSDT");
    cr_assert_eq(v->state, SYNC_SNAPSHOTTING);
    engine_focus(e, "ETHUSDT");
    cr_assert_eq(engine_remove_symbol(e, "BTCUSDT"), 0);
    cr_assert_eq(engine_remove_symbol(e, "BTCUSDT"), BF_ENOENT);
    cr_assert_eq(engine_symbol_count(e), 1);
    cr_assert_eq(engine_view_symbol(e, "BTCUSDT", v), BF_ENOENT);
    static const char t[] = "{\"stream\":\"btcusdt@trade\",\"data\":{}}";
    cr_assert_eq(engine_feed_message(e, NULL, t, sizeof t - 1, 1, 1), BF_ENOENT);
    /* Re-added: watched again (its book resyncs). */
    cr_assert_eq(engine_add_symbol(e, "BTCUSDT", why, sizeof why), 0);
    cr_assert_eq(engine_symbol_count(e), 2);
    cr_assert_eq(engine_view_symbol(e, "BTCUSDT", v), 0);
    free(v);
    engine_destroy(e);
}

/* ---- the live path ------------------------------------------------------------------------- */

/* Nothing listens on the port: start fails with BF_E* and a sentence (the live path links). */
Test(engine, start_fails_cleanly_when_unreachable)
{
    http_config hc = { .max_retries = 1,
                       .backoff_min_ms = 10,
                       .backoff_max_ms = 20,
                       .connect_timeout_ms = 1000,
                       .total_timeout_ms = 2000 };
    engine_config cfg = { .rest_url = "http://127.0.0.1:1",
                          .ws_url = "ws://127.0.0.1:1",
                          .symbols = btc,
                          .nsymbols = 1,
                          .workers = 1,
                          .http = &hc };
    engine *e = NULL;
    char why[256] = "";
    cr_assert_eq(engine_create(&cfg, &e, why, sizeof why), 0, "%s", why);
    int rc = engine_start(e, clk_mono_ns() + 10 * CLK_NS_PER_S, why, sizeof why);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(why, "exchangeInfo") != NULL, "%s", why);
    view_global g;
    engine_view_global(e, &g);
    cr_assert_eq(g.ring_drops, 0);
    engine_destroy(e);
}

/* The live path against the in-process loopback exchange: start-up (exchangeInfo, time), streams,
 * snapshots, a gap and a dropped connection repaired by resyncs, runtime subscribe, the clock
 * refresh thread and the status. The lead's end-to-end tests go deeper (book equality). */
static sim_server *start_sim(void)
{
    static const model_symbol syms[] = { { .name = "BTCUSDT" },
                                         { .name = "ETHUSDT" },
                                         { .name = "SOLUSDT" } };
    model_config mc = { .symbols = syms, .nsymbols = 3, .rate = 300 };
    source *src = NULL;
    char why[256] = "";
    cr_assert_eq(model_create(&mc, &src, why, sizeof why), 0, "%s", why);
    static const char *const faults[] = { "gap,stream=btcusdt@depth@100ms,at=1500ms",
                                          "disconnect,at=2500ms" };
    sim_server_config sc = { .src = src, .faults = faults, .nfaults = 2 };
    sim_server *srv = NULL;
    cr_assert_eq(sim_server_create(&sc, &srv, why, sizeof why), 0, "%s", why);
    cr_assert_eq(sim_server_start(srv), 0);
    return srv;
}

static bool live_after_gap(const view_symbol *v, const void *arg)
{
    (void)arg;
    return v->state == SYNC_LIVE && v->gaps >= 1 && v->snapshots >= 2;
}

static bool live(const view_symbol *v, const void *arg)
{
    (void)arg;
    return v->state == SYNC_LIVE;
}

static bool has_rest_rtt(const view_symbol *v, const void *arg)
{
    (void)arg;
    return v->stages[STAGE_REST_RTT].count > 0;
}

static bool reconnected(engine *e)
{
    int64_t deadline = clk_mono_ns() + WAIT_NS;
    view_global g;
    do {
        engine_view_global(e, &g);
        if (g.ws[WS_ROUTE_PUBLIC].reconnects >= 1 && g.ws[WS_ROUTE_PUBLIC].up)
            return true;
        engine_wait(e, engine_version(e), clk_mono_ns() + 100 * CLK_NS_PER_MS);
    } while (clk_mono_ns() < deadline);
    return false;
}

Test(engine, live_smoke_against_sim)
{
    sim_server *srv = start_sim();
    char rest[64], wsu[64];
    snprintf(rest, sizeof rest, "http://127.0.0.1:%d", sim_server_port(srv, false));
    snprintf(wsu, sizeof wsu, "ws://127.0.0.1:%d", sim_server_port(srv, false));
    static const char *const syms[] = { "BTCUSDT", "ETHUSDT", "DOGEUSDT" };
    ws_config wc = { .backoff_min_ms = 50, .backoff_max_ms = 200 };
    engine_config cfg = { .rest_url = rest,
                          .ws_url = wsu,
                          .symbols = syms,
                          .nsymbols = 3,
                          .workers = 2,
                          .time_refresh_ms = 200,
                          .ws = &wc };
    engine *e = NULL;
    char why[256] = "";
    cr_assert_eq(engine_create(&cfg, &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(engine_start(e, clk_mono_ns() + WAIT_NS, why, sizeof why), 0, "%s", why);
    cr_assert(strstr(why, "DOGEUSDT") != NULL, "the unlisted symbol is reported: '%s'", why);
    cr_assert_eq(engine_symbol_count(e), 2);
    engine_focus(e, "ETHUSDT");
    view_symbol *v = malloc(sizeof *v);
    cr_assert(wait_view(e, "ETHUSDT", live, NULL, v), "%s", v->reason);
    cr_assert(wait_view(e, "BTCUSDT", live_after_gap, NULL, v), "%s gaps %llu: %s",
              sync_state_name(v->state), (unsigned long long)v->gaps, v->reason);
    cr_assert(reconnected(e));
    cr_assert(wait_view(e, "BTCUSDT", live, NULL, v), "%s", v->reason);
    cr_assert(v->has_scale);
    cr_assert_gt(v->nbids, 0);
    cr_assert_lt(v->bids[0].px, v->asks[0].px);
    cr_assert_eq(engine_add_symbol(e, "XRPUSDT", why, sizeof why), BF_ENOENT);
    cr_assert_eq(engine_add_symbol(e, "SOLUSDT", why, sizeof why), 0, "%s", why);
    cr_assert(wait_view(e, "SOLUSDT", live, NULL, v), "%s", v->reason);
    /* Latency windows are summarised a few times a second, not on every publication. */
    cr_assert(wait_view(e, "SOLUSDT", has_rest_rtt, NULL, v));
    free(v);

    json_t *st = engine_status_json(e);
    cr_assert(json_is_true(get_path(get_path(st, "ws", "public"), "up", NULL)));
    cr_assert_eq(json_integer_value(get_path(st, "rest", "weight_limit")), 2400);
    cr_assert_gt(json_integer_value(get_path(st, "rest", "requests")), 3);
    cr_assert_gt(json_real_value(get_path(st, "clock", "rtt_ms")), 0);
    json_decref(st);
    engine_stop(e);
    view_symbol *after = malloc(sizeof *after);
    cr_assert_eq(engine_view_symbol(e, "SOLUSDT", after), 0); /* views stay readable */
    free(after);
    engine_destroy(e);
    sim_server_destroy(srv);
}

/* ---- the recording tap ---------------------------------------------------------------------- */

typedef struct tap_counts {
    uint64_t headers, messages, connects, disconnects, gaps, resyncs, rest_markers, snapshots;
    bool snapshot_after_marker; /* every snapshot body directly follows its rest marker */
} tap_counts;

static bool has_kind(const recfmt_line *l, const char *kind)
{
    char head[64];
    snprintf(head, sizeof head, "{\"bfmon\":\"%s\"", kind);
    return strncmp(l->json, head, strlen(head)) == 0;
}

static void count_line(tap_counts *c, const recfmt_line *l, bool *after_marker)
{
    bool marker = has_kind(l, "rest");
    if (is_snapshot_line(l)) {
        c->snapshots++;
        c->snapshot_after_marker &= *after_marker;
    } else if (strncmp(l->json, "{\"bfmon\"", 8) != 0) {
        c->messages++;
    }
    c->headers += has_kind(l, "header");
    c->connects += has_kind(l, "connect");
    c->disconnects += has_kind(l, "disconnect") && strstr(l->json, "\"reason\":");
    c->gaps += has_kind(l, "gap") && strstr(l->json, "\"symbol\":\"BTCUSDT\",\"pu\":") &&
               strstr(l->json, "\"prev_u\":");
    c->resyncs += has_kind(l, "resync") && strstr(l->json, "\"reason\":");
    c->rest_markers += marker;
    *after_marker = marker;
}

/* Counts over the files (taken before recorder_destroy, read after it finished them). */
static tap_counts count_recording(char (*files)[512], size_t n)
{
    tap_counts c = { .snapshot_after_marker = true };
    for (size_t i = 0; i < n && i < 64; i++) {
        recfmt_reader *rd = NULL;
        cr_assert_eq(recfmt_open(files[i], NULL, &rd, NULL, 0), 0, "%s", files[i]);
        recfmt_line l;
        bool after_marker = false;
        int rc;
        while ((rc = recfmt_next(rd, &l)) == 1)
            count_line(&c, &l, &after_marker);
        cr_assert_eq(rc, 0, "%s: %s", files[i], recfmt_error(rd));
        recfmt_close(rd);
    }
    return c;
}

/* The tap against the loopback exchange with its scheduled gap and disconnect: every WebSocket
 * message is in the recording, every snapshot follows its marker, and the engine's events are
 * there as bfmon lines. */
Test(engine, recording_tap_records_messages_snapshots_and_events)
{
    sim_server *srv = start_sim();
    char rest[64], wsu[64];
    snprintf(rest, sizeof rest, "http://127.0.0.1:%d", sim_server_port(srv, false));
    snprintf(wsu, sizeof wsu, "ws://127.0.0.1:%d", sim_server_port(srv, false));
    char *dir = tu_mkdtemp();
    recorder_config rc = { .dir = dir, .header_json = "{\"bfmon\":\"header\",\"format\":1}" };
    recorder *r = NULL;
    char why[256] = "";
    cr_assert_eq(recorder_create(&rc, &r, why, sizeof why), 0, "%s", why);
    static const char *const syms[] = { "BTCUSDT", "ETHUSDT" };
    static const char *const kinds[] = { "depth", "bookTicker", "trade" };
    ws_config wc = { .backoff_min_ms = 50, .backoff_max_ms = 200 };
    engine_config cfg = { .rest_url = rest,
                          .ws_url = wsu,
                          .symbols = syms,
                          .nsymbols = 2,
                          .workers = 2,
                          .streams = kinds,
                          .nstreams = 3,
                          .ws = &wc,
                          .recorder = r };
    engine *e = NULL;
    cr_assert_eq(engine_create(&cfg, &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(engine_start(e, clk_mono_ns() + WAIT_NS, why, sizeof why), 0, "%s", why);
    view_symbol *v = malloc(sizeof *v);
    cr_assert(wait_view(e, "BTCUSDT", live_after_gap, NULL, v), "%s", v->reason);
    cr_assert(reconnected(e));
    cr_assert(wait_view(e, "ETHUSDT", live, NULL, v), "%s", v->reason);
    hist_summary hs;
    cr_assert_eq(engine_latency_total(e, "BTCUSDT", STAGE_E_TO_RECV, &hs), BF_ESTATE);
    engine_stop(e);
    cr_assert_eq(engine_latency_total(e, "BTCUSDT", STAGE_E_TO_RECV, &hs), 0);
    cr_assert_gt(hs.count, 0);
    ws_stream_status st[8];
    size_t nst = engine_stream_stats(e, st, 8);
    cr_assert_eq(nst, 6, "2 symbols x 3 kinds");
    bool has_trade = false;
    for (size_t i = 0; i < nst; i++)
        has_trade |= strcmp(st[i].name, "btcusdt@trade") == 0;
    cr_assert(has_trade, "the configured kinds are subscribed");
    view_global g;
    engine_view_global(e, &g);
    cr_assert_eq(recorder_flush(r, clk_mono_ns() + WAIT_NS), 0);
    static char files[64][512];
    size_t nfiles = recorder_files(r, files, 64);
    recorder_destroy(r);
    tap_counts c = count_recording(files, nfiles);
    cr_assert_eq(engine_record_rejected(e), 0);
    cr_assert_eq(c.headers, 1);
    cr_assert_eq(c.messages, g.ws_messages, "recorded %" PRIu64 " of %" PRIu64 " messages",
                 c.messages, g.ws_messages);
    cr_assert_geq(c.snapshots, 3, "a snapshot per symbol plus the one after the gap");
    cr_assert_eq(c.rest_markers, c.snapshots);
    cr_assert(c.snapshot_after_marker);
    cr_assert_geq(c.connects, 2, "the first connection and the reconnect");
    cr_assert_geq(c.disconnects, 1);
    cr_assert_geq(c.gaps, 1);
    cr_assert_geq(c.resyncs, 1);
    free(v);
    engine_destroy(e);
    sim_server_destroy(srv);
    tu_rmtree(dir);
    free(dir);
}

Test(engine, exchange_info_json_keeps_the_watched_entries)
{
    static const char *const syms[] = { "SUSHIUSDT", "AKROUSDT" };
    engine *e = offline_engine(syms, 2, 1, 0);
    cr_assert_null(engine_exchange_info_json(e), "nothing loaded yet");
    size_t len;
    char *info = fixture_text(CF "derived_rest_exchangeInfo.json", &len);
    char why[256] = "";
    cr_assert_eq(engine_load_exchange_info(e, info, len, why, sizeof why), 0, "%s", why);
    json_t *full = json_loadb(info, len, 0, NULL);
    free(info);
    json_t *x = engine_exchange_info_json(e);
    cr_assert(json_is_object(x));
    cr_assert(json_equal(json_object_get(x, "rateLimits"), json_object_get(full, "rateLimits")));
    json_t *list = json_object_get(x, "symbols");
    cr_assert_eq(json_array_size(list), 2);
    size_t i;
    json_t *entry, *want = NULL;
    json_array_foreach(json_object_get(full, "symbols"), i,
                       entry) if (!strcmp(json_string_value(json_object_get(entry, "symbol")),
                                          "AKROUSDT")) want = entry;
    bool found = false;
    json_array_foreach(list, i, entry) if (json_equal(entry, want)) found = true;
    cr_assert(found, "AKROUSDT's entry is kept as the exchange sent it, filters included");
    json_decref(x);
    json_decref(full);
    /* Offline, prepare does nothing; the tap can be set until the start. */
    cr_assert_eq(engine_prepare(e, clk_mono_ns() + WAIT_NS, why, sizeof why), 0);
    cr_assert_eq(engine_set_recorder(e, NULL), 0);
    start(e);
    cr_assert_eq(engine_set_recorder(e, NULL), BF_ESTATE);
    cr_assert_eq(engine_prepare(e, clk_mono_ns() + WAIT_NS, why, sizeof why), BF_ESTATE);
    engine_destroy(e);
}

Test(engine, create_rejects_bad_stream_kinds)
{
    engine *e = NULL;
    char why[256];
    static const char *const bad[] = { "depth", "book ticker" };
    engine_config c1 = { .streams = bad, .nstreams = 2, .offline = true };
    cr_assert_eq(engine_create(&c1, &e, why, sizeof why), BF_EINVAL);
    cr_assert(strstr(why, "book ticker"), "%s", why);
    engine_config c2 = { .streams = bad, .nstreams = 0, .offline = true };
    cr_assert_eq(engine_create(&c2, &e, why, sizeof why), BF_EINVAL);
    static const char *const good[] = { "depth", "markPrice", "kline_1m", "depth20@100ms" };
    engine_config c3 = { .streams = good, .nstreams = 4, .offline = true, .workers = 1 };
    cr_assert_eq(engine_create(&c3, &e, why, sizeof why), 0, "%s", why);
    engine_destroy(e);
}

/* ---- bfmon live options -------------------------------------------------------------------- */

static int run_bfmon(const char *args, char **out)
{
    const char *bin = getenv("BF_BFMON");
    cr_assert_not_null(bin, "BF_BFMON is not set");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    int st = tu_run(cmd, out);
    return st;
}

Test(engine_cli, bad_usage_exits_2)
{
    static const char *const cases[] = { "--bogus",         "--depth-speed 7ms",
                                         "--workers 0",     "--status-interval 0",
                                         "--duration xyz",  "--symbols ''",
                                         "--headless extra" };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int st = run_bfmon(cases[i], &out);
        cr_assert_eq(st, 2, "'%s' exit %d: %s", cases[i], st, out ? out : "");
        cr_assert(out && strstr(out, "bfmon"), "'%s' says nothing: %s", cases[i], out);
        free(out);
    }
}

Test(engine_cli, help_prints_usage)
{
    static const char *const cases[] = { "--help-live", "--headless --help" };
    for (size_t i = 0; i < 2; i++) {
        char *out = NULL;
        cr_assert_eq(run_bfmon(cases[i], &out), 0, "%s", cases[i]);
        cr_assert(strstr(out, "--headless") && strstr(out, "--duration"), "%s", out);
        free(out);
    }
}

Test(engine_cli, unreachable_exchange_exits_1)
{
    char *out = NULL;
    int st = run_bfmon("--headless --json --rest-url http://127.0.0.1:1 --ws-url ws://127.0.0.1:1 "
                       "--symbols BTCUSDT --duration 1s",
                       &out);
    cr_assert_eq(st, 1, "exit %d: %s", st, out);
    cr_assert(strstr(out, "exchangeInfo") != NULL, "%s", out);
    free(out);
}
