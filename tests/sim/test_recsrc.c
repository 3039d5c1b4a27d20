/*
 * Tests for recsrc: the sample capture and the cryptofeed fixtures served as a source. A client
 * (the engine's market module) fed recsrc's snapshot and emitted diffs must end equal to recsrc's
 * later snapshot; bookTicker, trade, aggTrade and kline lines go out on their streams; pacing,
 * quiet, stream names, REST bodies; damaged and missing files.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/rest.h"
#include "codec/stream.h"
#include "market/market.h"
#include "sim/recsrc.h"
#include "testutil.h"
#include "util/err.h"

#define CF_DIR   "cryptofeed_usdm_20210722/"
#define BODY_CAP (1 << 20)

static char *tmpdir;

static void setup(void)
{
    tmpdir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(tmpdir);
    free(tmpdir);
}

TestSuite(recsrc, .init = setup, .fini = teardown, .timeout = 120);

static char *path_in(const char *name)
{
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* ---- collecting ----------------------------------------------------------------------------- */

typedef struct rec {
    char *stream, *json;
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

static size_t count_suffix(const sink *k, const char *suffix)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n; i++) {
        const char *at = strchr(k->v[i].stream, '@');
        n += at && strcmp(at + 1, suffix) == 0;
    }
    return n;
}

static source *open_src(const char *path, const char *exinfo, double speed, char *why, size_t cap)
{
    recsrc_config cfg = { .path = path, .exchange_info_path = exinfo, .speed = speed };
    source *s = NULL;
    int rc = recsrc_create(&cfg, &s, why, cap);
    cr_assert_eq(rc, 0, "%s: %s", path, why);
    return s;
}

static void want_all(source *s, const char *const *streams)
{
    for (size_t i = 0; streams[i]; i++) {
        cr_assert_eq(s->ops->check_stream(s, streams[i], NULL), 0, "%s", streams[i]);
        s->ops->want(s, streams[i], true);
    }
}

/* ---- a client ------------------------------------------------------------------------------- */

typedef struct client {
    symtab *info;
    market *mk[4];
    size_t n;
    stream_decoder *d;
    char *frame;
} client;

static void client_init(client *c, source *s)
{
    memset(c, 0, sizeof *c);
    char *body = malloc(BODY_CAP), why[256];
    int n = s->ops->exchange_info(s, 1723161000000LL, body, BODY_CAP);
    cr_assert_gt(n, 0, "%s", bf_strerror(n));
    c->info = symtab_create();
    cr_assert_eq(rest_parse_exchange_info(body, (size_t)n, c->info, NULL, NULL, why, sizeof why), 0,
                 "%s", why);
    c->n = s->ops->symbol_count(s);
    cr_assert_leq(c->n, 4);
    for (size_t i = 0; i < c->n; i++) {
        const char *name = s->ops->symbol_at(s, i);
        const sym_info *si = symtab_find(c->info, name, strlen(name));
        cr_assert(si, "%s not in exchangeInfo", name);
        market_config mc = { .info = si };
        c->mk[i] = market_create(name, &mc);
    }
    c->d = stream_decoder_create(NULL);
    free(body);
}

static void client_free(client *c)
{
    for (size_t i = 0; i < c->n; i++)
        market_destroy(c->mk[i]);
    symtab_destroy(c->info);
    stream_decoder_destroy(c->d);
    free(c->frame);
}

static market *market_for(client *c, const char *stream)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *sym = market_symbol(c->mk[i]);
        size_t n = strlen(sym);
        bool match = strchr(stream, '@') == stream + n;
        for (size_t k = 0; match && k < n; k++)
            match = stream[k] == sym[k] + ('a' - 'A') || stream[k] == sym[k];
        if (match)
            return c->mk[i];
    }
    cr_assert_fail("no market for %s", stream);
    return NULL;
}

static void client_feed(client *c, const sink *k, size_t from)
{
    for (size_t i = from; i < k->n; i++) {
        size_t n = k->v[i].len + strlen(k->v[i].stream) + 32;
        c->frame = realloc(c->frame, n);
        int len =
            snprintf(c->frame, n, "{\"stream\":\"%s\",\"data\":%s}", k->v[i].stream, k->v[i].json);
        stream_msg m;
        cr_assert_eq(stream_decode(c->d, c->frame, (size_t)len, &m), 0, "%s: %s", k->v[i].stream,
                     stream_decoder_error(c->d));
        int rc = market_on_event(market_for(c, k->v[i].stream), &m.events[0], m.levels, 1);
        cr_assert_eq(rc, 0, "%s: %s", k->v[i].stream, bf_strerror(rc));
    }
}

static int64_t client_snapshot(client *c, source *s, size_t i)
{
    char *body = malloc(BODY_CAP);
    const char *name = market_symbol(c->mk[i]);
    int n = s->ops->depth(s, name, 1000, 0, body, BODY_CAP);
    cr_assert_gt(n, 0);
    stream_msg m;
    cr_assert_eq(stream_decode(c->d, body, (size_t)n, &m), 0, "%s", stream_decoder_error(c->d));
    cr_assert_eq(market_on_event(c->mk[i], &m.events[0], m.levels, 1), 0);
    free(body);
    return m.events[0].u.snapshot.last_update_id;
}

/* The client's top `depth` levels equal recsrc's snapshot, strings compared. Returns the
 * snapshot's lastUpdateId. */
static int64_t assert_top_equals(client *c, source *s, size_t i, size_t depth)
{
    char *body = malloc(BODY_CAP);
    market *mk = c->mk[i];
    int n = s->ops->depth(s, market_symbol(mk), 1000, 0, body, BODY_CAP);
    cr_assert_gt(n, 0);
    stream_msg m;
    cr_assert_eq(stream_decode(c->d, body, (size_t)n, &m), 0);
    const ev_snapshot *sn = &m.events[0].u.snapshot;
    ev_levels runs[2] = { sn->bids, sn->asks };
    book_level *lv = calloc(depth, sizeof *lv);
    for (int side = 0; side < 2; side++) {
        size_t want = runs[side].count < depth ? runs[side].count : depth;
        size_t got = book_top(market_book(mk), (book_side)side, lv, want);
        cr_assert_eq(got, want, "%s side %d: %zu levels, want %zu", market_symbol(mk), side, got,
                     want);
        for (size_t k = 0; k < want; k++) {
            char px[64], qty[64];
            market_format_px(mk, lv[k].px, px, sizeof px);
            market_format_qty(mk, lv[k].qty, qty, sizeof qty);
            const ev_level *w = &m.levels[runs[side].first + k];
            cr_assert(bf_str_is(w->px, px) && bf_str_is(w->qty, qty),
                      "%s side %d level %zu: client %s x %s, recsrc %.*s x %.*s", market_symbol(mk),
                      side, k, px, qty, (int)w->px.n, w->px.p, (int)w->qty.n, w->qty.p);
        }
    }
    free(lv);
    int64_t L = sn->last_update_id;
    free(body);
    return L;
}

static void assert_sound(client *c, size_t i, uint64_t min_checks)
{
    market *mk = c->mk[i];
    market_flush(mk);
    market_counters mc;
    sync_stats st;
    market_counters_get(mk, &mc);
    market_sync_stats(mk, &st);
    cr_assert_eq(market_state(mk), SYNC_LIVE, "%s: %s", market_symbol(mk), market_reason(mk));
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(mc.convert_errors, 0);
    cr_assert_eq(mc.crossed, 0);
    cr_assert_geq(mc.bt_checks, min_checks, "%s: %llu checks", market_symbol(mk),
                  (unsigned long long)mc.bt_checks);
    cr_assert_eq(mc.bt_mismatches, 0, "%s: bookTicker mismatches", market_symbol(mk));
}

/* ---- the sample capture --------------------------------------------------------------------- */

static const char *const sample_streams[] = { "btcusdt@depth@0ms", "btcusdt@bookTicker",
                                              "btcusdt@trade", NULL };

Test(recsrc, sample_client_converges)
{
    char *path = tu_source_path(TU_SAMPLE), why[512];
    source *s = open_src(path, NULL, 1.0, why, sizeof why);
    cr_assert_str_eq(why, "ok");
    cr_assert_eq(s->ops->symbol_count(s), 1);
    cr_assert_str_eq(s->ops->symbol_at(s, 0), "BTCUSDT");
    want_all(s, sample_streams);
    client c;
    client_init(&c, s);
    sink k = { 0 };
    int64_t t = 1000000;
    for (; t < 1000000 + 3000; t += 20) /* 3 s at the recorded pace, buffered by the client */
        s->ops->advance(s, t, on_emit, &k);
    cr_assert_gt(k.n, 100);
    cr_assert_lt(k.n, 1500, "not paced: %zu messages in 3 s", k.n);
    client_feed(&c, &k, 0);
    size_t fed = k.n;
    /* Mid-stream the snapshot is the recorded one moved to the last diff emitted. */
    int64_t L = client_snapshot(&c, s, 0);
    cr_assert_gt(L, 5123107852948LL);
    for (; t < 1000000 + 12000; t += 20)
        s->ops->advance(s, t, on_emit, &k);
    client_feed(&c, &k, fed);
    cr_assert_eq(count_suffix(&k, "depth@0ms"), 169);
    cr_assert_eq(count_suffix(&k, "bookTicker"), 1483);
    cr_assert_eq(count_suffix(&k, "trade"), 347);
    for (size_t i = 0; i < k.n; i++)
        cr_assert_eq(k.v[i].diff, strcmp(k.v[i].stream, "btcusdt@depth@0ms") == 0);
    assert_sound(&c, 0, 100);
    cr_assert_eq(assert_top_equals(&c, s, 0, 500), 5123108458915LL);
    char body[4096];
    cr_assert_gt(s->ops->depth(s, "BTCUSDT", 5, 0, body, sizeof body), 0);
    cr_assert(strstr(body, "\"bids\":[[\"61800.10\",\"4.230\"]"), "%s", body);
    cr_assert(strstr(body, "\"asks\":[[\"61800.20\",\"4.853\"]"), "%s", body);
    sink_free(&k);
    client_free(&c);
    source_destroy(s);
    free(path);
}

/* Before any advance, /depth answers with the recorded snapshot. */
Test(recsrc, sample_snapshot_before_the_stream)
{
    char *path = tu_source_path(TU_SAMPLE), why[512];
    source *s = open_src(path, NULL, 0, why, sizeof why);
    char *body = malloc(BODY_CAP);
    int n = s->ops->depth(s, "BTCUSDT", 1000, 0, body, BODY_CAP);
    cr_assert_gt(n, 0);
    cr_assert_leq((size_t)n + 1, s->ops->max_body(s));
    static const char head[] = "{\"lastUpdateId\":5123107852948,\"E\":1723161256501,\"T\":";
    cr_assert_eq(strncmp(body, head, sizeof head - 1), 0, "%.80s", body);
    cr_assert(strstr(body, "\"bids\":[[\"61800.20\",\"2.909\"],[\"61800.10\",\"0.696\"]"));
    cr_assert_eq(s->ops->depth(s, "ETHUSDT", 5, 0, body, BODY_CAP), BF_ENOENT);
    cr_assert_eq(s->ops->depth(s, "BTCUSDT", 1000, 0, body, 100), BF_ETOOBIG);
    /* Unwanted streams still move the served book. */
    sink k = { 0 };
    for (int i = 0; i < 5; i++)
        s->ops->advance(s, 1000 + i, on_emit, &k);
    cr_assert_eq(k.n, 0);
    n = s->ops->depth(s, "BTCUSDT", 5, 0, body, BODY_CAP);
    cr_assert_eq(strncmp(body, "{\"lastUpdateId\":5123108458915,", 30), 0, "%.60s", body);
    free(body);
    source_destroy(s);
    free(path);
}

Test(recsrc, pacing_speed_and_quiet)
{
    char *path = tu_source_path(TU_SAMPLE), why[512];
    source *s1 = open_src(path, NULL, 1.0, why, sizeof why),
           *s4 = open_src(path, NULL, 4.0, why, sizeof why),
           *s0 = open_src(path, NULL, 0, why, sizeof why);
    want_all(s1, sample_streams);
    want_all(s4, sample_streams);
    want_all(s0, sample_streams);
    sink k1 = { 0 }, k4 = { 0 }, k0 = { 0 };
    s1->ops->advance(s1, 500, on_emit, &k1);
    s4->ops->advance(s4, 500, on_emit, &k4);
    s0->ops->advance(s0, 500, on_emit, &k0);
    cr_assert_eq(k0.n, 169 + 1483 + 347, "unpaced: everything at once");
    size_t first = k1.n;
    cr_assert_lt(first, 20, "first advance emitted %zu", first);
    s1->ops->advance(s1, 2500, on_emit, &k1);
    s4->ops->advance(s4, 1000, on_emit, &k4); /* 0.5 s at 4x = 2 s recorded */
    cr_assert_gt(k1.n, first);
    cr_assert_lt(k1.n, k0.n);
    long diff = (long)k1.n - (long)k4.n;
    cr_assert(diff > -40 && diff < 40, "speed 4: %zu vs %zu", k4.n, k1.n);
    /* Quiet holds the clock: after a resume the rest keeps its spacing. */
    s1->ops->set_quiet(s1, true);
    size_t at_quiet = k1.n;
    s1->ops->advance(s1, 100000, on_emit, &k1);
    cr_assert_eq(k1.n, at_quiet);
    s1->ops->set_quiet(s1, false);
    s1->ops->advance(s1, 100001, on_emit, &k1);
    cr_assert_lt(k1.n - at_quiet, 30, "resume burst of %zu", k1.n - at_quiet);
    s1->ops->advance(s1, 200000, on_emit, &k1);
    cr_assert_eq(k1.n, k0.n, "the end of the file");
    /* Both ends emitted the same messages in the same order. */
    for (size_t i = 0; i < k0.n; i++)
        cr_assert_str_eq(k1.v[i].json, k0.v[i].json);
    sink_free(&k1);
    sink_free(&k4);
    sink_free(&k0);
    source_destroy(s1);
    source_destroy(s4);
    source_destroy(s0);
    free(path);
}

Test(recsrc, stream_names_and_routes)
{
    char *path = tu_source_path(TU_SAMPLE), why[512];
    source *s = open_src(path, NULL, 0, why, sizeof why);
    static const struct {
        const char *name;
        source_route route;
    } good[] = {
        { "btcusdt@depth@0ms", SOURCE_ROUTE_PUBLIC },    /* recorded */
        { "btcusdt@bookTicker", SOURCE_ROUTE_PUBLIC },   /* recorded */
        { "btcusdt@trade", SOURCE_ROUTE_PUBLIC },        /* recorded */
        { "btcusdt@depth@100ms", SOURCE_ROUTE_PUBLIC },  /* valid, silent */
        { "btcusdt@depth20", SOURCE_ROUTE_PUBLIC },      /* valid, silent */
        { "btcusdt@aggTrade", SOURCE_ROUTE_MARKET },     /* valid, silent */
        { "btcusdt@markPrice@1s", SOURCE_ROUTE_MARKET }, /* valid, silent */
        { "btcusdt@kline_1M", SOURCE_ROUTE_MARKET },     /* valid, silent */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        source_route r = (source_route)-1;
        cr_assert_eq(s->ops->check_stream(s, good[i].name, &r), 0, "%s", good[i].name);
        cr_assert_eq(r, good[i].route, "%s", good[i].name);
    }
    static const char *const bad[] = { "ethusdt@depth", "btcusdt@nonsense", "btcusdt",
                                       "BTCUSDT@depth", "btcusdt@kline_2m", "",
                                       "@depth" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_neq(s->ops->check_stream(s, bad[i], NULL), 0, "%s accepted", bad[i]);
    cr_assert_neq(s->ops->check_stream(s, NULL, NULL), 0);
    /* want/unwant nest. */
    sink k = { 0 };
    s->ops->want(s, "btcusdt@trade", true);
    s->ops->want(s, "btcusdt@trade", true);
    s->ops->want(s, "btcusdt@trade", false);
    s->ops->want(s, "btcusdt@aggTrade", true); /* not recorded: nothing */
    s->ops->advance(s, 1, on_emit, &k);
    cr_assert_eq(k.n, 347);
    cr_assert_eq(count_suffix(&k, "trade"), 347);
    sink_free(&k);
    source_destroy(s);
    free(path);
}

Test(recsrc, rest_bodies_without_exchange_info)
{
    char *path = tu_source_path(TU_SAMPLE), why[512];
    source *s = open_src(path, NULL, 0, why, sizeof why);
    char *body = malloc(BODY_CAP);
    int n = s->ops->exchange_info(s, 1723161000000LL, body, BODY_CAP);
    cr_assert_gt(n, 0);
    cr_assert_leq((size_t)n + 1, s->ops->max_body(s));
    symtab *t = symtab_create();
    size_t skipped = 9;
    cr_assert_eq(rest_parse_exchange_info(body, (size_t)n, t, NULL, &skipped, why, sizeof why), 0);
    cr_assert_eq(skipped, 0);
    cr_assert_str_eq(symtab_find(t, "BTCUSDT", 7)->tick_size, "0.01");
    cr_assert_str_eq(symtab_find(t, "BTCUSDT", 7)->step_size, "0.001");
    symtab_destroy(t);
    sink k = { 0 };
    s->ops->advance(s, 1, on_emit, &k);
    n = s->ops->book_ticker(s, "BTCUSDT", 0, body, BODY_CAP);
    cr_assert_gt(n, 0);
    json_t *o = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    cr_assert(o, "%s", body);
    /* The last bookTicker of the file (it runs past the last depth event). */
    cr_assert_str_eq(json_string_value(json_object_get(o, "bidPrice")), "61808.00");
    cr_assert_str_eq(json_string_value(json_object_get(o, "askQty")), "0.005");
    cr_assert_eq(json_integer_value(json_object_get(o, "lastUpdateId")), 5123108471928LL);
    json_decref(o);
    n = s->ops->premium_index(s, NULL, 1723161600001LL, body, BODY_CAP);
    o = json_loads(body, 0, NULL);
    cr_assert_eq(json_array_size(o), 1, "%s", body);
    json_t *p = json_array_get(o, 0);
    cr_assert_str_eq(json_string_value(json_object_get(p, "markPrice")), "61800.15000000");
    cr_assert_eq(json_integer_value(json_object_get(p, "nextFundingTime")), 1723190400000LL);
    json_decref(o);
    cr_assert_eq(s->ops->book_ticker(s, "XRPUSDT", 0, body, BODY_CAP), BF_ENOENT);
    free(body);
    sink_free(&k);
    source_destroy(s);
    free(path);
}

/* ---- damaged input -------------------------------------------------------------------------- */

Test(recsrc, truncated_gzip_serves_the_rest)
{
    char *path = tu_source_path(TU_SAMPLE), why[512];
    size_t len;
    char *gz = tu_read_file(path, &len);
    cr_assert(gz);
    char *cut = path_in("cut.txt.gz");
    write_file(cut, gz, len / 2);
    source *s = open_src(cut, NULL, 0, why, sizeof why);
    cr_assert(strstr(why, "damaged"), "%s", why);
    cr_assert_eq(s->ops->symbol_count(s), 1);
    want_all(s, sample_streams);
    sink k = { 0 };
    s->ops->advance(s, 1, on_emit, &k);
    cr_assert_gt(k.n, 100);
    cr_assert_lt(k.n, 1999);
    client c;
    client_init(&c, s);
    client_snapshot(&c, s, 0);
    client_feed(&c, &k, 0);
    cr_assert_eq(market_state(c.mk[0]), SYNC_LIVE, "%s", market_reason(c.mk[0]));
    assert_top_equals(&c, s, 0, 500);
    sink_free(&k);
    client_free(&c);
    source_destroy(s);
    free(cut);
    free(gz);
    free(path);
}

Test(recsrc, bad_lines_are_reported_and_skipped)
{
    const char text[] =
        "1723161255030314667 {\"e\":\"trade\",\"E\":1723161256322,\"T\":1723161256322,\"s\":"
        "\"BTCUSDT\",\"t\":5266583935,\"p\":\"61800.30\",\"q\":\"0.006\",\"X\":\"MARKET\","
        "\"m\":false}\n"
        "not a line\n"
        "1723161255030314668 {\"e\":\"trade\",\"E\":1723161256323,\"T\":1723161256323,\"s\":"
        "\"BTCUSDT\",\"t\":5266583936,\"p\":\"61800.30\",\"q\":\"0.100\",\"X\":\"MARKET\","
        "\"m\":true}\n"
        "1723161255030314669 {\"e\":\"trade\",\"E\":17231612\n"
        "1723161255030314670 {\"result\":null,\"id\":1}\n";
    char *p = path_in("bad.txt"), why[512];
    write_file(p, text, sizeof text - 1);
    source *s = open_src(p, NULL, 0, why, sizeof why);
    cr_assert(strstr(why, "line 2"), "%s", why);
    cr_assert(s->ops->check_stream(s, "btcusdt@trade", NULL) == 0);
    s->ops->want(s, "btcusdt@trade", true);
    sink k = { 0 };
    s->ops->advance(s, 1, on_emit, &k);
    cr_assert_eq(k.n, 2, "raw trades go out on <sym>@trade");
    cr_assert_str_eq(k.v[0].stream, "btcusdt@trade");
    cr_assert_eq(strncmp(k.v[1].json, "{\"e\":\"trade\",\"E\":1723161256323,", 31), 0);
    sink_free(&k);
    source_destroy(s);
    free(p);
}

Test(recsrc, missing_and_empty_files)
{
    char why[512];
    source *s = NULL;
    char *p = path_in("nope.txt");
    recsrc_config cfg = { .path = p };
    cr_assert_eq(recsrc_create(&cfg, &s, why, sizeof why), BF_ENOENT);
    cr_assert(strstr(why, "nope.txt"), "%s", why);
    cr_assert_null(s);
    char *g = path_in("garbage.txt");
    write_file(g, "hello\nworld\n", 12);
    recsrc_config cg = { .path = g };
    cr_assert_eq(recsrc_create(&cg, &s, why, sizeof why), BF_ECORRUPT);
    cr_assert(strstr(why, "nothing usable"), "%s", why);
    cr_assert_null(s);
    recsrc_config ce = { .path = g, .exchange_info_path = p };
    cr_assert_eq(recsrc_create(&ce, &s, why, sizeof why), BF_ENOENT);
    recsrc_config cn = { 0 };
    cr_assert_eq(recsrc_create(&cn, &s, why, sizeof why), BF_EINVAL);
    free(p);
    free(g);
}

/* ---- the cryptofeed fixtures: four symbols, exchangeInfo, aggTrade and klines --------------- */

typedef struct cf_line {
    int64_t ns;
    size_t seq;
    char *text;
} cf_line;

/* "1626992741.06217" -> ns, by digits. */
static int64_t sec_to_ns(const char *s, size_t n)
{
    int64_t sec = 0, frac = 0;
    size_t i = 0, digits = 0;
    for (; i < n && s[i] != '.'; i++)
        sec = sec * 10 + (s[i] - '0');
    for (i++; i < n && digits < 9; i++, digits++)
        frac = frac * 10 + (s[i] - '0');
    for (; digits < 9; digits++)
        frac *= 10;
    return sec * 1000000000LL + frac;
}

static char *line_text(int64_t ns, const char *pre, const char *body)
{
    size_t n = strlen(pre) + strlen(body) + 64;
    char *t = malloc(n);
    snprintf(t, n, "%s%lld %s\n", pre, (long long)ns, body);
    return t;
}

static int cf_cmp(const void *a, const void *b)
{
    const cf_line *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ws lines "<sec>: <msg>" and http lines "<url> -> <sec>: <body>" (with a bfmon rest marker),
 * merged by time into one recording. */
static size_t read_cf(const char *file, cf_line *out, size_t n, bool http)
{
    char *path = tu_fixture(file);
    char *data = tu_read_file(path, NULL);
    cr_assert(data, "%s", path);
    size_t count;
    char **lines = tu_lines(data, &count);
    for (size_t i = 0; i < count; i++) {
        char *arrow = http ? strstr(lines[i], " -> ") : NULL;
        char *start = http ? (arrow ? arrow + 4 : NULL) : lines[i];
        char *colon = start ? strstr(start, ": ") : NULL;
        if (!colon || *start < '0' || *start > '9')
            continue;
        int64_t ns = sec_to_ns(start, (size_t)(colon - start));
        char marker[256] = "";
        if (http) {
            char *sym = strstr(lines[i], "symbol="), *amp = strchr(sym, '&');
            char *m = line_text(ns, "", "");
            m[strlen(m) - 2] = '\0'; /* "<ns>" */
            snprintf(marker, sizeof marker, "%s {\"bfmon\":\"rest\",\"symbol\":\"%.*s\"}\n", m,
                     (int)(amp - sym - 7), sym + 7);
            free(m);
        }
        out[n] = (cf_line){ ns, n, line_text(ns, marker, colon + 2) };
        n++;
    }
    free(lines);
    free(data);
    free(path);
    return n;
}

static char *cryptofeed_recording(void)
{
    cf_line *v = calloc(4096, sizeof *v);
    size_t n = read_cf(CF_DIR "BINANCE_FUTURES.ws.1.0", v, 0, false);
    n = read_cf(CF_DIR "BINANCE_FUTURES.http.0.0", v, n, true);
    cr_assert_eq(n, 1539);
    qsort(v, n, sizeof *v, cf_cmp);
    char *path = path_in("cf.txt");
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++) {
        fputs(v[i].text, f);
        free(v[i].text);
    }
    fclose(f);
    free(v);
    return path;
}

Test(recsrc, cryptofeed_four_symbols)
{
    char *recording = cryptofeed_recording(), why[512];
    char *ex = tu_fixture(CF_DIR "derived_rest_exchangeInfo.json");
    source *s = open_src(recording, ex, 0, why, sizeof why);
    cr_assert_eq(s->ops->symbol_count(s), 4);
    size_t exlen;
    char *exbody = tu_read_file(ex, &exlen), *body = malloc(BODY_CAP);
    int n = s->ops->exchange_info(s, 0, body, BODY_CAP);
    cr_assert_eq((size_t)n, exlen);
    cr_assert_eq(memcmp(body, exbody, exlen), 0, "exchangeInfo not served as given");
    static const char *const names[] = { "sushiusdt", "akrousdt", "keepusdt", "ctkusdt" };
    static const char *const kinds[] = { "@depth@100ms", "@bookTicker", "@aggTrade", "@kline_1m" };
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            char st[64];
            snprintf(st, sizeof st, "%s%s", names[i], kinds[j]);
            cr_assert_eq(s->ops->check_stream(s, st, NULL), 0, "%s", st);
            s->ops->want(s, st, true);
        }
    client c;
    client_init(&c, s);
    /* Snapshots first (each recorded one, as served before the stream), then everything. */
    for (size_t i = 0; i < c.n; i++)
        client_snapshot(&c, s, i);
    sink k = { 0 };
    s->ops->advance(s, 1, on_emit, &k);
    cr_assert_eq(k.n, 1535 - 0, "every recorded stream line goes out (%zu)", k.n);
    cr_assert_eq(count_suffix(&k, "depth@100ms"), 255 + 189 + 135 + 185);
    cr_assert_eq(count_suffix(&k, "aggTrade"), 91);
    cr_assert_eq(count_suffix(&k, "kline_1m"), 67);
    cr_assert_eq(count_suffix(&k, "bookTicker"), 613);
    client_feed(&c, &k, 0);
    static const char *const tops[4][2] = { { "7.6120", "7.6160" },
                                            { "0.01734", "0.01735" },
                                            { "0.2463", "0.2467" },
                                            { "1.01100", "1.01200" } };
    for (size_t i = 0; i < c.n; i++) {
        assert_sound(&c, i, 10);
        assert_top_equals(&c, s, i, 300);
        const char *sym = market_symbol(c.mk[i]);
        size_t t = 0;
        while (strcasecmp(names[t], sym) != 0)
            t++;
        char bt[4096];
        cr_assert_gt(s->ops->depth(s, sym, 5, 0, bt, sizeof bt), 0);
        char want_b[64], want_a[64];
        snprintf(want_b, sizeof want_b, "\"bids\":[[\"%s\"", tops[t][0]);
        snprintf(want_a, sizeof want_a, "\"asks\":[[\"%s\"", tops[t][1]);
        cr_assert(strstr(bt, want_b) && strstr(bt, want_a), "%s: %s", sym, bt);
    }
    sink_free(&k);
    client_free(&c);
    source_destroy(s);
    free(body);
    free(exbody);
    free(ex);
    free(recording);
}
