/*
 * Tests for the sim's synthetic market (model): wire format through the engine's decoders,
 * determinism, the pu chain and the global id sequence, client books built by the engine's market
 * module against the model's snapshots for every cadence, REST bodies, stream names and routes,
 * markPrice and klines.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jdec.h"
#include "codec/rest.h"
#include "codec/stream.h"
#include "market/market.h"
#include "sim/model.h"
#include "util/err.h"

#define T0       1723161000000LL /* 2024-08-08 23:50:00 UTC */
#define BODY_CAP (1 << 20)

/* ---- collecting what the model emits ------------------------------------------------------- */

typedef struct rec {
    char *stream;
    char *json;
    size_t len;
    bool diff;
} rec;

typedef struct sink {
    rec *v;
    size_t n, cap;
} sink;

static void on_emit(void *ctx, const source_msg *msg)
{
    sink *k = ctx;
    cr_assert_eq(strlen(msg->json), msg->len, "json not NUL-terminated at len");
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->v = realloc(k->v, k->cap * sizeof *k->v);
    }
    k->v[k->n++] =
        (rec){ strdup(msg->stream), strndup(msg->json, msg->len), msg->len, msg->is_depth_diff };
}

static void sink_free(sink *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->v[i].stream);
        free(k->v[i].json);
    }
    free(k->v);
    memset(k, 0, sizeof *k);
}

static source *make(uint64_t seed, const model_symbol *syms, size_t n, double rate, unsigned levels)
{
    model_config cfg = {
        .seed = seed, .symbols = syms, .nsymbols = n, .rate = rate, .levels = levels, .start_ms = 0
    };
    source *s = NULL;
    char why[256];
    cr_assert_eq(model_create(&cfg, &s, why, sizeof why), 0, "%s", why);
    return s;
}

static void run(source *s, int64_t from, int64_t to, int64_t step_ms, sink *k)
{
    for (int64_t t = from; t < to; t += step_ms)
        s->ops->advance(s, t, on_emit, k);
    s->ops->advance(s, to, on_emit, k);
}

static void want(source *s, const char *stream)
{
    cr_assert_eq(s->ops->check_stream(s, stream, NULL), 0, "%s rejected", stream);
    s->ops->want(s, stream, true);
}

/* The message as a combined-stream frame (the decoder tells partial depth by its stream). */
static int decode(stream_decoder *d, const rec *r, char **frame, stream_msg *out)
{
    size_t n = r->len + strlen(r->stream) + 32;
    *frame = realloc(*frame, n);
    int len = snprintf(*frame, n, "{\"stream\":\"%s\",\"data\":%s}", r->stream, r->json);
    return stream_decode(d, *frame, (size_t)len, out);
}

static const model_symbol two[] = { { .name = "BTCUSDT" }, { .name = "ETHUSDT" } };

/* ---- determinism ---------------------------------------------------------------------------- */

static const char *const many_streams[] = {
    "btcusdt@depth@0ms",  "btcusdt@depth",         "ethusdt@depth@100ms",  "ethusdt@depth@500ms",
    "btcusdt@bookTicker", "ethusdt@bookTicker",    "btcusdt@aggTrade",     "ethusdt@trade",
    "btcusdt@depth5",     "ethusdt@depth20@100ms", "btcusdt@markPrice@1s", "ethusdt@markPrice",
    "btcusdt@kline_1m",   "ethusdt@kline_1M",
};
#define NMANY (sizeof many_streams / sizeof many_streams[0])

/* Everything emitted, concatenated with stream names, for one seed and advance step. */
static char *transcript(uint64_t seed, int64_t step_ms, size_t *count)
{
    source *s = make(seed, two, 2, 3000, 200);
    for (size_t i = 0; i < NMANY; i++)
        want(s, many_streams[i]);
    sink k = { 0 };
    run(s, T0, T0 + 4000, step_ms, &k);
    size_t total = 1;
    for (size_t i = 0; i < k.n; i++)
        total += strlen(k.v[i].stream) + k.v[i].len + 2;
    char *all = malloc(total);
    size_t at = 0;
    for (size_t i = 0; i < k.n; i++)
        at += (size_t)snprintf(all + at, total - at, "%s %s\n", k.v[i].stream, k.v[i].json);
    all[at] = '\0';
    *count = k.n;
    sink_free(&k);
    source_destroy(s);
    return all;
}

Test(model, deterministic_per_seed_and_schedule)
{
    size_t n1, n2, n3, n4;
    char *a = transcript(7, 10, &n1), *b = transcript(7, 10, &n2);
    cr_assert_gt(n1, 1000, "only %zu messages", n1);
    cr_assert_eq(n1, n2);
    cr_assert_str_eq(a, b, "same seed and schedule must give byte-identical output");
    /* Pacing is by exchange time, so a coarser schedule emits the very same sequence. */
    char *c = transcript(7, 37, &n3);
    cr_assert_str_eq(a, c, "output depends on the advance() granularity");
    char *d = transcript(8, 10, &n4);
    cr_assert_str_neq(a, d, "another seed gave the same market");
    free(a);
    free(b);
    free(c);
    free(d);
}

/* ---- wire format ---------------------------------------------------------------------------- */

static ev_kind kind_of_stream(const char *stream)
{
    const char *k = strchr(stream, '@') + 1;
    if (strncmp(k, "depth", 5) == 0)
        return EV_DEPTH;
    if (strcmp(k, "bookTicker") == 0)
        return EV_BOOK_TICKER;
    if (strcmp(k, "aggTrade") == 0)
        return EV_AGG_TRADE;
    if (strcmp(k, "trade") == 0)
        return EV_TRADE;
    if (strncmp(k, "markPrice", 9) == 0)
        return EV_MARK_PRICE;
    return EV_KLINE;
}

/* Key order of each kind as Binance writes it. */
static const char *prefix_of(ev_kind k)
{
    switch (k) {
    case EV_DEPTH:
        return "{\"e\":\"depthUpdate\",\"E\":";
    case EV_BOOK_TICKER:
        return "{\"e\":\"bookTicker\",\"u\":";
    case EV_AGG_TRADE:
        return "{\"e\":\"aggTrade\",\"E\":";
    case EV_TRADE:
        return "{\"e\":\"trade\",\"E\":";
    case EV_MARK_PRICE:
        return "{\"e\":\"markPriceUpdate\",\"E\":";
    default:
        return "{\"e\":\"kline\",\"E\":";
    }
}

static void check_key_order(const rec *r, ev_kind k)
{
    static const char *const order[][12] = {
        [EV_DEPTH] = { "\"E\":", "\"T\":", "\"s\":", "\"U\":", "\"u\":", "\"pu\":", "\"b\":",
                       "\"a\":" },
        [EV_BOOK_TICKER] = { "\"u\":", "\"s\":", "\"b\":", "\"B\":", "\"A\":", "\"T\":", "\"E\":" },
        [EV_AGG_TRADE] = { "\"E\":", "\"a\":", "\"s\":", "\"p\":", "\"q\":", "\"nq\":", "\"f\":",
                           "\"l\":", "\"T\":", "\"m\":" },
        [EV_TRADE] = { "\"E\":", "\"T\":", "\"s\":", "\"t\":", "\"p\":", "\"q\":", "\"X\":",
                       "\"m\":" },
        [EV_MARK_PRICE] = { "\"E\":", "\"s\":", "\"p\":", "\"ap\":", "\"P\":", "\"i\":", "\"r\":",
                            "\"T\":" },
        [EV_KLINE] = { "\"E\":", "\"s\":", "\"k\":", "\"t\":", "\"T\":", "\"i\":", "\"f\":",
                       "\"L\":", "\"o\":", "\"c\":", "\"v\":", "\"B\":" },
    };
    const char *at = r->json;
    for (int i = 0; i < 12 && order[k][i]; i++) {
        const char *hit = strstr(at, order[k][i]);
        cr_assert(hit, "%s: key %s missing or out of order in %s", r->stream, order[k][i], r->json);
        at = hit + 1;
    }
}

Test(model, every_message_decodes_in_binance_form)
{
    source *s = make(3, two, 2, 4000, 100);
    for (size_t i = 0; i < NMANY; i++)
        want(s, many_streams[i]);
    sink k = { 0 };
    run(s, T0, T0 + 5000, 5, &k);
    stream_decoder *d = stream_decoder_create(NULL);
    jdec *j = jdec_create(NULL);
    char *frame = NULL;
    size_t seen[EV_KIND_COUNT] = { 0 };
    for (size_t i = 0; i < k.n; i++) {
        stream_msg a, b;
        ev_kind want_kind = kind_of_stream(k.v[i].stream);
        cr_assert_eq(decode(d, &k.v[i], &frame, &a), 0, "%s: %s in %s", k.v[i].stream,
                     stream_decoder_error(d), k.v[i].json);
        cr_assert_eq(jdec_decode(j, frame, strlen(frame), &b), 0, "jdec: %s", jdec_error(j));
        cr_assert(stream_msg_eq(&a, &b), "decoders disagree on %s", frame);
        cr_assert_eq(a.nevents, 1);
        cr_assert_eq(a.events[0].kind, want_kind, "%s decoded as %s", k.v[i].stream,
                     ev_kind_name(a.events[0].kind));
        cr_assert_eq(k.v[i].diff, want_kind == EV_DEPTH && a.events[0].u.depth.partial == false);
        cr_assert_eq(strncmp(k.v[i].json, prefix_of(want_kind), strlen(prefix_of(want_kind))), 0,
                     "%s", k.v[i].json);
        check_key_order(&k.v[i], want_kind);
        if (want_kind == EV_DEPTH)
            cr_assert(a.events[0].has & EV_HAS_PU, "depth without pu");
        seen[want_kind]++;
    }
    for (int kind = EV_DEPTH; kind <= EV_KLINE; kind++)
        if (kind != EV_SNAPSHOT)
            cr_assert_gt(seen[kind], 0, "no %s message", ev_kind_name((ev_kind)kind));
    free(frame);
    jdec_destroy(j);
    stream_decoder_destroy(d);
    sink_free(&k);
    source_destroy(s);
}

/* Prices padded to the tick's decimals, quantities to the step's; a delete is "0.000". */
Test(model, numbers_padded_to_tick_and_step)
{
    source *s = make(5, two, 2, 5000, 30);
    want(s, "btcusdt@depth@100ms");
    want(s, "ethusdt@depth@100ms");
    sink k = { 0 };
    run(s, T0, T0 + 3000, 10, &k);
    stream_decoder *d = stream_decoder_create(NULL);
    char *frame = NULL;
    size_t deletes = 0;
    for (size_t i = 0; i < k.n; i++) {
        stream_msg m;
        cr_assert_eq(decode(d, &k.v[i], &frame, &m), 0);
        const ev_depth *dp = &m.events[0].u.depth;
        for (uint32_t l = 0; l < dp->bids.count + dp->asks.count; l++) {
            const ev_level *lv = l < dp->bids.count
                                     ? &m.levels[dp->bids.first + l]
                                     : &m.levels[dp->asks.first + l - dp->bids.count];
            cr_assert_eq(dec_decimals(lv->px.p, lv->px.n), 2, "%.*s", (int)lv->px.n, lv->px.p);
            cr_assert_eq(dec_decimals(lv->qty.p, lv->qty.n), 3);
            if (bf_str_is(lv->qty, "0.000"))
                deletes++;
            if (lv->qty_m == 0)
                cr_assert(bf_str_is(lv->qty, "0.000"), "unpadded zero");
        }
    }
    cr_assert_gt(deletes, 0, "no deletes seen (a 30-level book must trim)");
    free(frame);
    stream_decoder_destroy(d);
    sink_free(&k);
    source_destroy(s);
}

/* ---- the pu chain and the id sequence ------------------------------------------------------- */

Test(model, pu_chain_per_stream_and_global_ids)
{
    static const model_symbol three[] = { { .name = "BTCUSDT" },
                                          { .name = "ETHUSDT" },
                                          { .name = "SOLUSDT" } };
    source *s = make(11, three, 3, 3000, 100);
    const char *streams[] = { "btcusdt@depth@0ms",   "btcusdt@depth@100ms", "btcusdt@depth",
                              "btcusdt@depth@500ms", "ethusdt@depth@0ms",   "solusdt@depth",
                              "btcusdt@depth20",     "btcusdt@bookTicker",  "ethusdt@bookTicker",
                              "solusdt@bookTicker" };
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        want(s, streams[i]);
    sink k = { 0 };
    run(s, T0, T0 + 6000, 7, &k);
    stream_decoder *d = stream_decoder_create(NULL);
    char *frame = NULL;
    int64_t last_u[10] = { 0 }, last_bt = 0;
    size_t events[10] = { 0 }, noncontig = 0;
    for (size_t i = 0; i < k.n; i++) {
        stream_msg m;
        cr_assert_eq(decode(d, &k.v[i], &frame, &m), 0);
        const ev *e = &m.events[0];
        if (e->kind == EV_BOOK_TICKER) { /* one sequence over every symbol, in time order */
            cr_assert_gt(e->u.bt.u, last_bt, "bookTicker ids not increasing");
            last_bt = e->u.bt.u;
            continue;
        }
        size_t si = 0;
        while (strcmp(streams[si], k.v[i].stream) != 0)
            si++;
        const ev_depth *dp = &e->u.depth;
        cr_assert_leq(dp->U, dp->u);
        if (events[si]) {
            cr_assert_eq(dp->pu, last_u[si], "%s: pu %lld != previous u %lld", streams[si],
                         (long long)dp->pu, (long long)last_u[si]);
            cr_assert_gt(dp->U, last_u[si]);
            if (dp->U != dp->pu + 1)
                noncontig++;
        }
        last_u[si] = dp->u;
        events[si]++;
    }
    for (size_t i = 0; i < 7; i++)
        cr_assert_gt(events[i], 5, "%s: %zu events", streams[i], events[i]);
    cr_assert_gt(noncontig, 10, "ids look per-symbol contiguous");
    free(frame);
    stream_decoder_destroy(d);
    sink_free(&k);
    source_destroy(s);
}

/* The JSON array after key ka in a equals the one after kb in b (level arrays: one nesting). */
static void assert_same_array(const char *a, const char *ka, const char *b, const char *kb)
{
    const char *pa = strstr(a, ka) + strlen(ka), *pb = strstr(b, kb) + strlen(kb);
    const char *ea = strstr(pa, "]]"), *eb = strstr(pb, "]]");
    cr_assert(ea && eb, "empty side");
    cr_assert_eq(ea - pa, eb - pb, "partial != book top:\n%s\n%s", a, b);
    cr_assert_eq(memcmp(pa, pb, (size_t)(ea - pa)), 0, "partial != book top:\n%s\n%s", a, b);
}

/* Partial depth of a cadence carries the diff stream's U/u/pu and the book's top N. */
Test(model, partial_depth_is_top_n_of_the_book)
{
    source *s = make(4, two, 2, 2000, 100);
    want(s, "ethusdt@depth");
    want(s, "ethusdt@depth10");
    sink k = { 0 };
    run(s, T0, T0 + 2000, 10, &k);
    s->ops->set_quiet(s, true);
    run(s, T0 + 2000, T0 + 2600, 10, &k);
    cr_assert_gt(k.n, 8);
    for (size_t i = 0; i + 1 < k.n; i += 2) {
        cr_assert_str_eq(k.v[i].stream, "ethusdt@depth");
        cr_assert_str_eq(k.v[i + 1].stream, "ethusdt@depth10");
        const char *a = strstr(k.v[i].json, "\"U\":"), *b = strstr(k.v[i + 1].json, "\"U\":");
        cr_assert_eq(strncmp(a, b, (size_t)(strstr(a, ",\"b\"") - a)), 0, "U/u/pu differ");
    }
    char body[8192];
    cr_assert_gt(s->ops->depth(s, "ETHUSDT", 10, T0 + 2600, body, sizeof body), 0);
    const char *last = k.v[k.n - 1].json;
    cr_assert_str_eq(k.v[k.n - 1].stream, "ethusdt@depth10");
    assert_same_array(last, "\"b\":", body, "\"bids\":");
    assert_same_array(last, "\"a\":", body, "\"asks\":");
    sink_free(&k);
    source_destroy(s);
}

/* ---- clients converge ----------------------------------------------------------------------- */

typedef struct client {
    symtab *info;
    market *mk[2];
    stream_decoder *d;
    char *frame;
} client;

static void client_init(client *c, source *s)
{
    memset(c, 0, sizeof *c);
    char *body = malloc(BODY_CAP), why[256];
    int n = s->ops->exchange_info(s, T0, body, BODY_CAP);
    cr_assert_gt(n, 0);
    c->info = symtab_create();
    size_t skipped = 99;
    cr_assert_eq(
        rest_parse_exchange_info(body, (size_t)n, c->info, NULL, &skipped, why, sizeof why), 0,
        "%s", why);
    cr_assert_eq(skipped, 0);
    for (int i = 0; i < 2; i++) {
        const sym_info *si = symtab_find(c->info, two[i].name, strlen(two[i].name));
        cr_assert(si);
        market_config mc = { .info = si };
        c->mk[i] = market_create(two[i].name, &mc);
    }
    c->d = stream_decoder_create(NULL);
    free(body);
}

static void client_free(client *c)
{
    for (int i = 0; i < 2; i++)
        market_destroy(c->mk[i]);
    symtab_destroy(c->info);
    stream_decoder_destroy(c->d);
    free(c->frame);
}

static market *market_for(client *c, const char *stream)
{
    return strncmp(stream, "btc", 3) == 0 ? c->mk[0] : c->mk[1];
}

static void client_feed(client *c, sink *k, size_t from)
{
    for (size_t i = from; i < k->n; i++) {
        stream_msg m;
        cr_assert_eq(decode(c->d, &k->v[i], &c->frame, &m), 0);
        int rc = market_on_event(market_for(c, k->v[i].stream), &m.events[0], m.levels, 1);
        cr_assert_eq(rc, 0, "%s: %s", k->v[i].stream, bf_strerror(rc));
    }
}

static void client_snapshot(client *c, source *s, int i, int64_t now)
{
    char *body = malloc(BODY_CAP);
    int n = s->ops->depth(s, two[i].name, 1000, now, body, BODY_CAP);
    cr_assert_gt(n, 0);
    stream_msg m;
    cr_assert_eq(stream_decode(c->d, body, (size_t)n, &m), 0);
    cr_assert_eq(m.events[0].kind, EV_SNAPSHOT);
    cr_assert_eq(market_on_event(c->mk[i], &m.events[0], m.levels, 1), 0);
    free(body);
}

/* The client's book equals the body level for level, prices and quantities as strings. */
static void assert_book_equals(const market *mk, const char *body, size_t len, stream_decoder *d)
{
    stream_msg m;
    cr_assert_eq(stream_decode(d, body, len, &m), 0);
    const ev_snapshot *sn = &m.events[0].u.snapshot;
    const book *b = market_book(mk);
    ev_levels runs[2] = { sn->bids, sn->asks };
    for (int side = 0; side < 2; side++) {
        size_t n = book_count(b, (book_side)side);
        cr_assert_eq(n, runs[side].count, "%s side %d: client %zu levels, model %u",
                     market_symbol(mk), side, n, runs[side].count);
        book_level *lv = calloc(n + 1, sizeof *lv);
        book_top(b, (book_side)side, lv, n);
        for (size_t i = 0; i < n; i++) {
            char px[64], qty[64];
            market_format_px(mk, lv[i].px, px, sizeof px);
            market_format_qty(mk, lv[i].qty, qty, sizeof qty);
            const ev_level *want = &m.levels[runs[side].first + i];
            cr_assert(bf_str_is(want->px, px) && bf_str_is(want->qty, qty),
                      "%s side %d level %zu: client %s x %s, model %.*s x %.*s", market_symbol(mk),
                      side, i, px, qty, (int)want->px.n, want->px.p, (int)want->qty.n, want->qty.p);
        }
        free(lv);
    }
}

static void converge(const char *cadence, unsigned levels, double rate)
{
    source *s = make(21, two, 2, rate, levels);
    char name[64];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s@depth%s", i ? "ethusdt" : "btcusdt", cadence);
        want(s, name);
        want(s, i ? "ethusdt@bookTicker" : "btcusdt@bookTicker");
    }
    client c;
    client_init(&c, s);
    sink k = { 0 };
    run(s, T0, T0 + 700, 3, &k); /* buffered: no snapshot yet */
    client_feed(&c, &k, 0);
    size_t fed = k.n;
    client_snapshot(&c, s, 0, T0 + 700);
    run(s, T0 + 703, T0 + 1300, 3, &k);
    client_snapshot(&c, s, 1, T0 + 1300);
    run(s, T0 + 1303, T0 + 5000, 3, &k);
    s->ops->set_quiet(s, true);
    char *body = malloc(BODY_CAP);
    int n0 = s->ops->depth(s, "BTCUSDT", 1000, T0 + 5000, body, BODY_CAP);
    run(s, T0 + 5001, T0 + 6000, 3, &k); /* the flush; nothing after it */
    size_t after_flush = k.n;
    run(s, T0 + 6001, T0 + 7000, 3, &k);
    cr_assert_eq(k.n, after_flush, "messages while quiet");
    client_feed(&c, &k, fed);
    for (int i = 0; i < 2; i++) {
        market_flush(c.mk[i]);
        int n = s->ops->depth(s, two[i].name, 1000, T0 + 7000, body, BODY_CAP);
        cr_assert_gt(n, 0);
        cr_assert_leq((size_t)n + 1, s->ops->max_body(s));
        if (i == 0)
            cr_assert_eq(n, n0, "book moved while quiet");
        market_counters mc;
        sync_stats st;
        market_counters_get(c.mk[i], &mc);
        market_sync_stats(c.mk[i], &st);
        cr_assert_eq(market_state(c.mk[i]), SYNC_LIVE, "%s: %s", two[i].name,
                     market_reason(c.mk[i]));
        cr_assert_eq(st.gaps, 0);
        cr_assert_eq(mc.convert_errors, 0);
        cr_assert_eq(mc.crossed, 0);
        cr_assert_gt(mc.bt_checks, 3, "%s: %llu checks", two[i].name,
                     (unsigned long long)mc.bt_checks);
        cr_assert_eq(mc.bt_mismatches, 0, "%s: %llu bookTicker mismatches", two[i].name,
                     (unsigned long long)mc.bt_mismatches);
        assert_book_equals(c.mk[i], body, (size_t)n, c.d);
    }
    free(body);
    sink_free(&k);
    client_free(&c);
    source_destroy(s);
}

Test(model, client_converges_at_0ms)
{
    converge("@0ms", 100, 3000);
}

Test(model, client_converges_at_100ms)
{
    converge("@100ms", 40, 3000);
}

Test(model, client_converges_at_250ms)
{
    converge("", 500, 4000);
}

Test(model, client_converges_at_500ms)
{
    converge("@500ms", 1000, 3000);
}

/* ---- REST ----------------------------------------------------------------------------------- */

static size_t count_levels(const char *body, const char *key)
{
    const char *p = strstr(body, key);
    size_t n = 0;
    for (p += strlen(key); *p && *p != ']'; p = strchr(p, ']') + 1) {
        if (*p == ',')
            p++;
        n++;
    }
    return n;
}

Test(model, depth_limits_trim)
{
    static const model_symbol thin[] = { { .name = "BTCUSDT" }, { .name = "FOOUSDT" } };
    source *s = make(2, thin, 2, 2000, 200);
    sink k = { 0 };
    run(s, T0, T0 + 1000, 10, &k);
    char *body = malloc(BODY_CAP);
    static const int limits[] = { 5, 10, 20, 50, 100, 500, 1000 };
    for (size_t i = 0; i < 7; i++) {
        int n = s->ops->depth(s, "BTCUSDT", limits[i], T0 + 1000, body, BODY_CAP);
        cr_assert_gt(n, 0);
        cr_assert_leq((size_t)n, s->ops->max_body(s));
        size_t want_n = limits[i] < 200 ? (size_t)limits[i] : 200; /* thin: all 200 */
        size_t nb = count_levels(body, "\"bids\":["), na = count_levels(body, "\"asks\":[");
        cr_assert(nb <= want_n && na <= want_n, "limit %d: %zu/%zu", limits[i], nb, na);
        if (limits[i] <= 50)
            cr_assert(nb == want_n && na == want_n, "limit %d: %zu/%zu", limits[i], nb, na);
        cr_assert_eq(strncmp(body, "{\"lastUpdateId\":", 16), 0);
        cr_assert(strstr(body, ",\"E\":") && strstr(body, ",\"T\":"));
    }
    /* Odd limits round up to the next valid one. */
    cr_assert_gt(s->ops->depth(s, "BTCUSDT", 7, T0 + 1000, body, BODY_CAP), 0);
    cr_assert_eq(count_levels(body, "\"bids\":["), 10);
    /* Sorted: bids descending, asks ascending, not crossed. */
    stream_decoder *d = stream_decoder_create(NULL);
    stream_msg m;
    int n = s->ops->depth(s, "FOOUSDT", 1000, T0 + 1000, body, BODY_CAP);
    cr_assert_eq(stream_decode(d, body, (size_t)n, &m), 0);
    const ev_snapshot *sn = &m.events[0].u.snapshot;
    cr_assert_leq(sn->bids.count, 201);
    cr_assert_gt(sn->bids.count, 100);
    for (uint32_t i = 1; i < sn->bids.count; i++)
        cr_assert_gt(m.levels[sn->bids.first + i - 1].px_m, m.levels[sn->bids.first + i].px_m);
    for (uint32_t i = 1; i < sn->asks.count; i++)
        cr_assert_lt(m.levels[sn->asks.first + i - 1].px_m, m.levels[sn->asks.first + i].px_m);
    cr_assert_lt(m.levels[sn->bids.first].px_m, m.levels[sn->asks.first].px_m);
    /* Generic defaults: tick 0.0001, step 1. */
    cr_assert_eq(m.levels[sn->bids.first].px_d, 4);
    cr_assert_eq(m.levels[sn->bids.first].qty_d, 0);
    cr_assert_eq(s->ops->depth(s, "NOPEUSDT", 5, T0, body, BODY_CAP), BF_ENOENT);
    cr_assert_eq(s->ops->depth(s, "BTCUSDT", 1000, T0, body, 64), BF_ETOOBIG);
    stream_decoder_destroy(d);
    free(body);
    sink_free(&k);
    source_destroy(s);
}

static void assert_keys(json_t *obj, const char *const *keys, const char *what)
{
    for (size_t i = 0; keys[i]; i++)
        cr_assert(json_object_get(obj, keys[i]), "%s lacks %s", what, keys[i]);
}

Test(model, exchange_info_complete)
{
    static const model_symbol syms[] = {
        { .name = "BTCUSDT" },
        { .name = "XRPUSDT" },
        { .name = "ZZZUSDC", .tick_size = "0.005", .step_size = "0.5", .mid = "10.000" }
    };
    source *s = make(1, syms, 3, 1000, 50);
    char *body = malloc(BODY_CAP), why[256];
    int n = s->ops->exchange_info(s, T0, body, BODY_CAP);
    cr_assert_gt(n, 0);
    cr_assert_leq((size_t)n, s->ops->max_body(s));
    symtab *t = symtab_create();
    rest_rate_limits lim;
    size_t skipped = 9;
    cr_assert_eq(rest_parse_exchange_info(body, (size_t)n, t, &lim, &skipped, why, sizeof why), 0,
                 "%s", why);
    cr_assert_eq(skipped, 0);
    cr_assert_eq(symtab_count(t), 3);
    cr_assert_eq(lim.request_weight_per_minute, 2400);
    const sym_info *z = symtab_find(t, "ZZZUSDC", 7);
    cr_assert_str_eq(z->tick_size, "0.005");
    cr_assert_str_eq(z->step_size, "0.5");
    cr_assert_str_eq(symtab_find(t, "BTCUSDT", 7)->tick_size, "0.10");
    json_error_t jerr;
    json_t *root = json_loadb(body, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert(root, "%s", jerr.text);
    static const char *const top[] = { "timezone",        "serverTime", "futuresType", "rateLimits",
                                       "exchangeFilters", "assets",     "symbols",     NULL };
    assert_keys(root, top, "exchangeInfo");
    cr_assert_eq(json_integer_value(json_object_get(root, "serverTime")), T0);
    static const char *const per[] = { "symbol",
                                       "pair",
                                       "contractType",
                                       "deliveryDate",
                                       "onboardDate",
                                       "status",
                                       "maintMarginPercent",
                                       "requiredMarginPercent",
                                       "baseAsset",
                                       "quoteAsset",
                                       "marginAsset",
                                       "pricePrecision",
                                       "quantityPrecision",
                                       "baseAssetPrecision",
                                       "quotePrecision",
                                       "underlyingType",
                                       "underlyingSubType",
                                       "settlePlan",
                                       "triggerProtect",
                                       "liquidationFee",
                                       "marketTakeBound",
                                       "orderTypes",
                                       "timeInForce",
                                       "filters",
                                       NULL };
    static const char *const filters[] = { "PRICE_FILTER",        "LOT_SIZE",
                                           "MARKET_LOT_SIZE",     "MAX_NUM_ORDERS",
                                           "MAX_NUM_ALGO_ORDERS", "MIN_NOTIONAL",
                                           "PERCENT_PRICE" };
    size_t i;
    json_t *js;
    json_array_foreach(json_object_get(root, "symbols"), i, js)
    {
        assert_keys(js, per, json_string_value(json_object_get(js, "symbol")));
        cr_assert_str_eq(json_string_value(json_object_get(js, "contractType")), "PERPETUAL");
        cr_assert_str_eq(json_string_value(json_object_get(js, "status")), "TRADING");
        json_t *f = json_object_get(js, "filters");
        cr_assert_eq(json_array_size(f), 7);
        for (size_t k = 0; k < 7; k++)
            cr_assert_str_eq(json_string_value(json_object_get(json_array_get(f, k), "filterType")),
                             filters[k]);
    }
    json_t *z_entry = json_array_get(json_object_get(root, "symbols"), 2);
    cr_assert_str_eq(json_string_value(json_object_get(z_entry, "quoteAsset")), "USDC");
    cr_assert_str_eq(json_string_value(json_object_get(z_entry, "baseAsset")), "ZZZ");
    cr_assert_eq(json_array_size(json_object_get(root, "assets")), 2); /* USDT, USDC */
    json_decref(root);
    cr_assert_eq(s->ops->exchange_info(s, T0, body, 100), BF_ETOOBIG);
    symtab_destroy(t);
    free(body);
    source_destroy(s);
}

Test(model, book_ticker_and_premium_index_rest)
{
    source *s = make(6, two, 2, 2000, 100);
    sink k = { 0 };
    run(s, T0, T0 + 1500, 10, &k);
    char body[8192];
    int n = s->ops->book_ticker(s, "ETHUSDT", T0 + 1500, body, sizeof body);
    cr_assert_gt(n, 0);
    json_error_t jerr;
    json_t *o = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert(json_is_object(o), "%s", body);
    static const char *const bt[] = { "symbol", "bidPrice", "bidQty", "askPrice",
                                      "askQty", "time",     NULL };
    assert_keys(o, bt, "bookTicker");
    json_decref(o);
    cr_assert_gt(s->ops->book_ticker(s, NULL, T0, body, sizeof body), 0);
    o = json_loads(body, 0, &jerr);
    cr_assert_eq(json_array_size(o), 2);
    json_decref(o);
    n = s->ops->premium_index(s, "BTCUSDT", T0 + 1500, body, sizeof body);
    cr_assert_gt(n, 0);
    o = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
    static const char *const pi[] = { "symbol",
                                      "markPrice",
                                      "indexPrice",
                                      "estimatedSettlePrice",
                                      "lastFundingRate",
                                      "interestRate",
                                      "nextFundingTime",
                                      "time",
                                      NULL };
    assert_keys(o, pi, "premiumIndex");
    cr_assert_eq(json_integer_value(json_object_get(o, "nextFundingTime")), 1723161600000LL);
    cr_assert_eq(json_integer_value(json_object_get(o, "time")), T0 + 1500);
    json_decref(o);
    cr_assert_gt(s->ops->premium_index(s, NULL, T0, body, sizeof body), 0);
    o = json_loads(body, 0, &jerr);
    cr_assert_eq(json_array_size(o), 2);
    json_decref(o);
    cr_assert_eq(s->ops->book_ticker(s, "NOPE", T0, body, sizeof body), BF_ENOENT);
    cr_assert_eq(s->ops->premium_index(s, "NOPE", T0, body, sizeof body), BF_ENOENT);
    sink_free(&k);
    source_destroy(s);
}

/* ---- streams -------------------------------------------------------------------------------- */

Test(model, check_stream_names_and_routes)
{
    source *s = make(1, NULL, 0, 0, 0);
    cr_assert_eq(s->ops->symbol_count(s), 5);
    cr_assert_str_eq(s->ops->symbol_at(s, 0), "BTCUSDT");
    cr_assert_str_eq(s->ops->symbol_at(s, 4), "XRPUSDT");
    cr_assert_null(s->ops->symbol_at(s, 5));
    static const struct {
        const char *name;
        source_route route;
    } good[] = {
        { "btcusdt@depth", SOURCE_ROUTE_PUBLIC },
        { "btcusdt@depth@0ms", SOURCE_ROUTE_PUBLIC },
        { "btcusdt@depth@100ms", SOURCE_ROUTE_PUBLIC },
        { "ethusdt@depth@500ms", SOURCE_ROUTE_PUBLIC },
        { "ethusdt@depth5", SOURCE_ROUTE_PUBLIC },
        { "solusdt@depth10@100ms", SOURCE_ROUTE_PUBLIC },
        { "bnbusdt@depth20@500ms", SOURCE_ROUTE_PUBLIC },
        { "xrpusdt@bookTicker", SOURCE_ROUTE_PUBLIC },
        { "btcusdt@trade", SOURCE_ROUTE_PUBLIC },
        { "btcusdt@aggTrade", SOURCE_ROUTE_MARKET },
        { "btcusdt@markPrice", SOURCE_ROUTE_MARKET },
        { "btcusdt@markPrice@1s", SOURCE_ROUTE_MARKET },
        { "btcusdt@kline_1m", SOURCE_ROUTE_MARKET },
        { "btcusdt@kline_1M", SOURCE_ROUTE_MARKET },
        { "btcusdt@kline_1w", SOURCE_ROUTE_MARKET },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        source_route r = (source_route)-1;
        cr_assert_eq(s->ops->check_stream(s, good[i].name, &r), 0, "%s", good[i].name);
        cr_assert_eq(r, good[i].route, "%s route", good[i].name);
    }
    static const char *const bad[] = { "",
                                       "btcusdt",
                                       "@depth",
                                       "BTCUSDT@depth",
                                       "dogeusdt@depth",
                                       "btcusdt@depth@250ms",
                                       "btcusdt@depth7",
                                       "btcusdt@depth5@0ms",
                                       "btcusdt@kline_2m",
                                       "btcusdt@bookticker",
                                       "btcusdt@depth ",
                                       "btcusdt@@depth",
                                       "btcusdtx@depth",
                                       "btcusd@depth" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_neq(s->ops->check_stream(s, bad[i], NULL), 0, "\"%s\" accepted", bad[i]);
    cr_assert_neq(s->ops->check_stream(s, NULL, NULL), 0);
    s->ops->want(s, "nonsense", true); /* ignored, no crash */
    source_destroy(s);
}

static size_t count_stream(const sink *k, const char *stream)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n; i++)
        n += strcmp(k->v[i].stream, stream) == 0;
    return n;
}

Test(model, only_wanted_streams_are_built)
{
    source *s = make(9, two, 2, 3000, 100);
    sink k = { 0 };
    run(s, T0, T0 + 1000, 10, &k);
    cr_assert_eq(k.n, 0, "emitted %zu messages nobody wants", k.n);
    s->ops->want(s, "btcusdt@bookTicker", true);
    s->ops->want(s, "btcusdt@bookTicker", true);
    run(s, T0 + 1000, T0 + 2000, 10, &k);
    size_t n1 = k.n;
    cr_assert_gt(n1, 0);
    cr_assert_eq(count_stream(&k, "btcusdt@bookTicker"), n1);
    s->ops->want(s, "btcusdt@bookTicker", false); /* one listener left */
    run(s, T0 + 2000, T0 + 3000, 10, &k);
    cr_assert_gt(k.n, n1);
    cr_assert_eq(count_stream(&k, "btcusdt@bookTicker"), k.n);
    s->ops->want(s, "btcusdt@bookTicker", false);
    s->ops->want(s, "btcusdt@bookTicker", false); /* below zero: ignored */
    size_t n2 = k.n;
    run(s, T0 + 3000, T0 + 4000, 10, &k);
    cr_assert_eq(k.n, n2);
    sink_free(&k);
    source_destroy(s);
}

/* ---- markPrice and klines ------------------------------------------------------------------- */

Test(model, mark_price_and_funding_grid)
{
    source *s = make(12, two, 2, 2000, 100);
    want(s, "btcusdt@markPrice@1s");
    want(s, "btcusdt@markPrice");
    want(s, "btcusdt@bookTicker");
    sink k = { 0 };
    run(s, T0, T0 + 9999, 10, &k);
    stream_decoder *d = stream_decoder_create(NULL);
    char *frame = NULL;
    size_t n1 = 0, n3 = 0;
    double mid = 0;
    for (size_t i = 0; i < k.n; i++) {
        stream_msg m;
        cr_assert_eq(decode(d, &k.v[i], &frame, &m), 0);
        const ev *e = &m.events[0];
        if (e->kind == EV_BOOK_TICKER) {
            mid = (strtod(e->u.bt.bid_px.p, NULL) + strtod(e->u.bt.ask_px.p, NULL)) / 2;
            continue;
        }
        const ev_mark_price *mp = &e->u.mark;
        bool one_s = strcmp(k.v[i].stream, "btcusdt@markPrice@1s") == 0;
        n1 += one_s;
        n3 += !one_s;
        cr_assert_eq(mp->E % (one_s ? 1000 : 3000), 0, "E %lld off the grid", (long long)mp->E);
        cr_assert_eq(mp->next_funding % (8 * 3600 * 1000LL), 0);
        cr_assert_gt(mp->next_funding, mp->E);
        cr_assert_leq(mp->next_funding - mp->E, 8 * 3600 * 1000LL);
        cr_assert_eq(mp->next_funding, 1723161600000LL); /* 2024-08-09 00:00 UTC */
        cr_assert(mp->mark_avg.p && mp->settle.p, "ap / P missing");
        cr_assert_eq(dec_decimals(mp->mark.p, mp->mark.n), 8);
        double mark = strtod(mp->mark.p, NULL), fr = strtod(mp->funding.p, NULL);
        cr_assert(mid > 0 && mark > mid * 0.999 && mark < mid * 1.001, "mark %f vs mid %f", mark,
                  mid);
        cr_assert(fr > -0.001 && fr < 0.001, "funding %f", fr);
    }
    cr_assert(n1 >= 9 && n1 <= 10, "%zu @1s", n1);
    cr_assert(n3 >= 3 && n3 <= 4, "%zu @3s", n3);
    free(frame);
    stream_decoder_destroy(d);
    sink_free(&k);
    source_destroy(s);
}

Test(model, klines_close_on_the_interval_grid)
{
    model_config cfg = { .seed = 13,
                         .symbols = two,
                         .nsymbols = 2,
                         .rate = 3000,
                         .levels = 100,
                         .start_ms = 1723161598000LL }; /* 2 s before :00 */
    source *s = NULL;
    cr_assert_eq(model_create(&cfg, &s, NULL, 0), 0);
    want(s, "btcusdt@kline_1m");
    want(s, "btcusdt@kline_1w");
    want(s, "btcusdt@kline_1M");
    want(s, "btcusdt@trade");
    sink k = { 0 };
    run(s, 5000, 9000, 10, &k); /* the caller's clock: 2 s to the minute, then 2 s more */
    stream_decoder *d = stream_decoder_create(NULL);
    char *frame = NULL;
    int64_t trades_in[2] = { 0 }, last_n[2] = { 0 };
    bool closed = false;
    for (size_t i = 0; i < k.n; i++) {
        stream_msg m;
        cr_assert_eq(decode(d, &k.v[i], &frame, &m), 0);
        const ev *e = &m.events[0];
        if (e->kind == EV_TRADE) {
            trades_in[e->u.trade.T >= 1723161600000LL]++;
            continue;
        }
        const ev_kline *kl = &e->u.kline;
        cr_assert_eq(kl->E % 250, 0);
        double o = strtod(kl->open.p, NULL), c = strtod(kl->close.p, NULL),
               h = strtod(kl->high.p, NULL), l = strtod(kl->low.p, NULL);
        cr_assert(l <= o && l <= c && h >= o && h >= c, "ohlc %f %f %f %f", o, h, l, c);
        if (bf_str_is(kl->interval, "1w")) {
            cr_assert_eq(kl->start, 1722816000000LL); /* Monday 2024-08-05 */
            cr_assert_eq(kl->close_time, 1722816000000LL + 7 * 86400000LL - 1);
        } else if (bf_str_is(kl->interval, "1M")) {
            cr_assert_eq(kl->start, 1722470400000LL); /* 2024-08-01 */
            cr_assert_eq(kl->close_time, 1725148800000LL - 1);
        } else {
            cr_assert(bf_str_is(kl->interval, "1m"));
            int half = kl->start == 1723161600000LL;
            cr_assert(half || kl->start == 1723161540000LL, "start %lld", (long long)kl->start);
            cr_assert_eq(kl->close_time, kl->start + 59999);
            if (kl->closed) {
                cr_assert(!half);
                cr_assert_eq(kl->E, 1723161600000LL);
                closed = true;
            }
            last_n[half] = kl->trades;
        }
    }
    cr_assert(closed, "the 23:59 candle never closed");
    /* The model started mid-candle: the candle counts exactly the trades since the start. */
    cr_assert_eq(last_n[0], trades_in[0]);
    cr_assert_gt(last_n[1], 0);
    cr_assert_leq(last_n[1], trades_in[1]);
    free(frame);
    stream_decoder_destroy(d);
    sink_free(&k);
    source_destroy(s);
}

/* ---- configuration -------------------------------------------------------------------------- */

Test(model, bad_config_is_reported)
{
    source *s = NULL;
    char why[256];
    model_config c1 = { .levels = 10 };
    cr_assert_eq(model_create(&c1, &s, why, sizeof why), BF_EINVAL);
    cr_assert(strstr(why, "levels"), "%s", why);
    model_config c2 = { .levels = 1001 };
    cr_assert_eq(model_create(&c2, &s, why, sizeof why), BF_EINVAL);
    static const model_symbol bad_tick[] = { { .name = "BTCUSDT", .tick_size = "0" } };
    model_config c3 = { .symbols = bad_tick, .nsymbols = 1 };
    cr_assert_eq(model_create(&c3, &s, why, sizeof why), BF_EINVAL);
    cr_assert(strstr(why, "tick"), "%s", why);
    static const model_symbol bad_step[] = { { .name = "BTCUSDT", .step_size = "x" } };
    model_config c4 = { .symbols = bad_step, .nsymbols = 1 };
    cr_assert_eq(model_create(&c4, &s, why, sizeof why), BF_EINVAL);
    static const model_symbol bad_mid[] = { { .name = "BTCUSDT", .mid = "61800.05" } };
    model_config c5 = { .symbols = bad_mid, .nsymbols = 1 };
    cr_assert_eq(model_create(&c5, &s, why, sizeof why), BF_EINVAL);
    cr_assert(strstr(why, "mid"), "%s", why);
    static const model_symbol dup[] = { { .name = "BTCUSDT" }, { .name = "BTCUSDT" } };
    model_config c6 = { .symbols = dup, .nsymbols = 2 };
    cr_assert_eq(model_create(&c6, &s, why, sizeof why), BF_EINVAL);
    static const model_symbol lower[] = { { .name = "btcusdt" } };
    model_config c7 = { .symbols = lower, .nsymbols = 1 };
    cr_assert_eq(model_create(&c7, &s, why, sizeof why), BF_EINVAL);
    model_config c8 = { .rate = 2e6 };
    cr_assert_eq(model_create(&c8, &s, why, sizeof why), BF_EINVAL);
    cr_assert_null(s);
}

/* A long stall (or quiet time) does not turn into a burst of backlog. */
Test(model, stall_and_resume_have_no_backlog)
{
    source *s = make(14, two, 2, 2000, 100);
    want(s, "btcusdt@bookTicker");
    want(s, "ethusdt@bookTicker");
    sink k = { 0 };
    run(s, T0, T0 + 1000, 10, &k);
    size_t per_s = k.n;
    s->ops->advance(s, T0 + 60000, on_emit, &k); /* a minute without advance */
    cr_assert_lt(k.n - per_s, per_s * 4, "stall produced %zu messages", k.n - per_s);
    s->ops->set_quiet(s, true);
    run(s, T0 + 60000, T0 + 70000, 10, &k);
    size_t before = k.n;
    s->ops->set_quiet(s, false);
    s->ops->advance(s, T0 + 600000, on_emit, &k);
    cr_assert_lt(k.n - before, 50, "resume produced a backlog of %zu", k.n - before);
    run(s, T0 + 600000, T0 + 601000, 10, &k);
    cr_assert_gt(k.n - before, per_s / 3, "market did not resume");
    sink_free(&k);
    source_destroy(s);
}
