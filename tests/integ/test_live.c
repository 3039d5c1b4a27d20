/*
 * End to end: the live engine (engine.h: ws client, HTTP pool, shard workers, views) against
 * `bfmon sim` over wss and https with the test certificate. These are the acceptance tests of the
 * connectivity issue: books sync and stay LIVE and equal the exchange's own snapshot when it goes
 * quiet; gaps, disconnects, rotation, stalls, 429/418, malformed and oversized frames are survived.
 * Waits are on engine publications (engine_wait) with deadlines; nothing sleeps.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "net/http.h"
#include "testutil.h"
#include "util/clk.h"
#include "util/dec.h"

#define SEC 1000000000LL

typedef struct live {
    tu_sim sim;
    engine *e;
    char *ca;
} live;

static const char *const two_symbols[] = { "BTCUSDT", "ETHUSDT" };

/* --- REST against the sim (libcurl, test CA) --- */

typedef struct body {
    char *p;
    size_t n;
} body;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    body *b = ctx;
    b->p = realloc(b->p, b->n + size * nmemb + 1);
    memcpy(b->p + b->n, data, size * nmemb);
    b->n += size * nmemb;
    b->p[b->n] = '\0';
    return size * nmemb;
}

static json_t *sim_request(live *l, const char *path, bool post)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", l->sim.rest_tls, path);
    body b = { 0 };
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, l->ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "%s: %s", url, curl_easy_strerror(rc));
    json_error_t jerr;
    json_t *j = json_loadb(b.p ? b.p : "", b.n, 0, &jerr);
    cr_assert(j || post, "%s: not JSON: %.200s", url, b.p ? b.p : "");
    free(b.p);
    return j;
}

static void sim_fault(live *l, const char *spec)
{
    char url[512];
    snprintf(url, sizeof url, "%s/sim/fault", l->sim.rest_tls);
    CURL *c = curl_easy_init();
    body b = { 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, l->ca);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, spec);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cr_assert(rc == CURLE_OK && status == 200, "fault %s: %s %ld %s", spec, curl_easy_strerror(rc),
              status, b.p ? b.p : "");
    free(b.p);
}

static json_t *sim_stats(live *l)
{
    return sim_request(l, "/sim/stats", false);
}

static json_int_t stat_int(json_t *stats, const char *key)
{
    json_t *v = json_object_get(stats, key);
    cr_assert(json_is_integer(v), "sim stats lack %s", key);
    return json_integer_value(v);
}

/* --- engine set-up and waits --- */

static void live_start(live *l, const char *const *sim_args, const ws_config *wscfg,
                       const http_config *httpcfg)
{
    memset(l, 0, sizeof *l);
    tu_sim_start(&l->sim, sim_args);
    l->ca = tu_tls_file("ca.pem");
    engine_config cfg = {
        .rest_url = l->sim.rest_tls,
        .ws_url = l->sim.ws_tls,
        .ca_file = l->ca,
        .symbols = two_symbols,
        .nsymbols = 2,
        .ws = wscfg,
        .http = httpcfg,
    };
    char why[256];
    int rc = engine_create(&cfg, &l->e, why, sizeof why);
    cr_assert_eq(rc, 0, "engine_create: %s", why);
    rc = engine_start(l->e, clk_mono_ns() + 30 * SEC, why, sizeof why);
    cr_assert_eq(rc, 0, "engine_start: %s", why);
}

static void live_stop(live *l)
{
    engine_destroy(l->e);
    tu_sim_stop(&l->sim);
    free(l->ca);
}

typedef bool (*view_pred)(const view_symbol *v, void *ctx);

/* Wait until pred holds for the symbol's view (checked at every publication), or fail. */
static void wait_view(live *l, const char *sym, view_pred pred, void *ctx, const char *what)
{
    int64_t deadline = clk_mono_ns() + 60 * SEC;
    uint64_t seen = 0;
    view_symbol *v = malloc(sizeof *v);
    for (;;) {
        cr_assert_eq(engine_view_symbol(l->e, sym, v), 0, "no view for %s", sym);
        if (pred(v, ctx))
            break;
        cr_assert(clk_mono_ns() < deadline,
                  "%s: timed out waiting for %s (state %s: %s; last u %" PRId64 ", msgs %" PRIu64
                  ", gaps %" PRIu64 ", resyncs %" PRIu64 ", snapshots %" PRIu64 ", stale %d)",
                  sym, what, sync_state_name(v->state), v->reason, v->last_update_id, v->messages,
                  v->gaps, v->resyncs, v->snapshots, v->stream_stale);
        seen = engine_wait(l->e, seen,
                           clk_mono_ns() + SEC / 2 < deadline ? clk_mono_ns() + SEC / 2 : deadline);
    }
    free(v);
}

static bool is_live(const view_symbol *v, void *ctx)
{
    (void)ctx;
    return v->state == SYNC_LIVE && v->nbids > 0 && v->nasks > 0;
}

static bool reached_id(const view_symbol *v, void *ctx)
{
    return v->state == SYNC_LIVE && v->last_update_id >= *(const int64_t *)ctx;
}

static void wait_all_live(live *l)
{
    for (size_t i = 0; i < 2; i++)
        wait_view(l, two_symbols[i], is_live, NULL, "LIVE");
}

static void view_of(live *l, const char *sym, view_symbol *v)
{
    cr_assert_eq(engine_view_symbol(l->e, sym, v), 0);
}

/* Quiet the sim, wait until the engine has applied everything, compare every level. */
static void expect_books_equal_sim(live *l)
{
    json_decref(sim_request(l, "/sim/quiet", true));
    for (size_t i = 0; i < 2; i++) {
        const char *sym = two_symbols[i];
        char path[128];
        snprintf(path, sizeof path, "/fapi/v1/depth?symbol=%s&limit=1000", sym);
        json_t *snap = sim_request(l, path, false);
        int64_t last = json_integer_value(json_object_get(snap, "lastUpdateId"));
        wait_view(l, sym, reached_id, &last, "the sim's last update id");
        view_symbol *v = malloc(sizeof *v);
        view_of(l, sym, v);
        static book_level levels[2][1000];
        const char *keys[2] = { "bids", "asks" };
        for (int side = 0; side < 2; side++) {
            int64_t at = 0;
            int n = engine_book_copy(l->e, sym, side == 0 ? BOOK_BID : BOOK_ASK, levels[side], 1000,
                                     &at);
            json_t *want = json_object_get(snap, keys[side]);
            cr_assert_eq(at, last, "%s book copied at %" PRId64 ", sim at %" PRId64, sym, at, last);
            cr_assert_eq((size_t)n, json_array_size(want), "%s %s: %d levels, sim %zu", sym,
                         keys[side], n, json_array_size(want));
            for (int k = 0; k < n; k++) {
                json_t *lv = json_array_get(want, (size_t)k);
                const char *px = json_string_value(json_array_get(lv, 0));
                const char *qty = json_string_value(json_array_get(lv, 1));
                int64_t wpx = 0, wqty = 0;
                cr_assert_eq(dec_parse(px, strlen(px), &v->px_scale, &wpx), 0);
                cr_assert_eq(dec_parse(qty, strlen(qty), &v->qty_scale, &wqty), 0);
                cr_assert(levels[side][k].px == wpx && levels[side][k].qty == wqty,
                          "%s %s level %d: engine %" PRId64 "x%" PRId64 ", sim %s x %s", sym,
                          keys[side], k, levels[side][k].px, levels[side][k].qty, px, qty);
            }
        }
        free(v);
        json_decref(snap);
    }
}

static const char *const base_args[] = { "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--rate", "3000",
                                         NULL };

Test(live, books_sync_and_equal_the_exchange)
{
    live l;
    live_start(&l, base_args, NULL, NULL);
    wait_all_live(&l);
    expect_books_equal_sim(&l);
    view_symbol *v = malloc(sizeof *v);
    view_of(&l, "BTCUSDT", v);
    cr_expect_eq(v->gaps, 0);
    cr_expect_eq(v->resyncs, 0);
    cr_expect_gt(v->messages, 0);
    cr_expect_eq(v->bt_mismatches, 0, "bookTicker disagreed with the book");
    free(v);
    view_global g;
    engine_view_global(l.e, &g);
    cr_expect_eq(g.ring_drops, 0);
    cr_expect_gt(g.clock_rtt_ns, 0, "clock offset measured from /fapi/v1/time");
    live_stop(&l);
}

static bool resynced_live(const view_symbol *v, void *ctx)
{
    return v->state == SYNC_LIVE && v->gaps >= 1 && v->snapshots >= *(const uint64_t *)ctx + 1;
}

Test(live, gap_is_detected_and_resynced)
{
    live l;
    live_start(&l, base_args, NULL, NULL);
    wait_all_live(&l);
    view_symbol *v = malloc(sizeof *v);
    view_of(&l, "BTCUSDT", v);
    uint64_t snaps = v->snapshots;
    sim_fault(&l, "gap,stream=btcusdt@depth@100ms");
    wait_view(&l, "BTCUSDT", resynced_live, &snaps, "a resync after the gap");
    view_of(&l, "BTCUSDT", v);
    cr_expect_geq(v->resyncs, 1);
    free(v);
    expect_books_equal_sim(&l);
    live_stop(&l);
}

static bool reconnected(const view_symbol *v, void *ctx)
{
    (void)ctx;
    return v->state == SYNC_LIVE && v->snapshots >= 2;
}

Test(live, disconnect_reconnects_and_resyncs)
{
    live l;
    live_start(&l, base_args, NULL, NULL);
    wait_all_live(&l);
    sim_fault(&l, "disconnect");
    for (size_t i = 0; i < 2; i++)
        wait_view(&l, two_symbols[i], reconnected, NULL, "LIVE after the reconnect");
    view_global g;
    engine_view_global(l.e, &g);
    cr_expect_geq(g.ws[WS_ROUTE_PUBLIC].reconnects, 1);
    expect_books_equal_sim(&l);
    live_stop(&l);
}

static bool rotated_twice(const view_symbol *v, void *ctx)
{
    (void)v;
    view_global g;
    engine_view_global(ctx, &g);
    return g.ws[WS_ROUTE_PUBLIC].rotations >= 2;
}

Test(live, rotation_before_max_lifetime_stays_live)
{
    static const char *const args[] = { "--symbols", "BTCUSDT,ETHUSDT", "--rate",
                                        "2000",      "--max-lifetime",  "4s",
                                        NULL };
    ws_config ws = { .max_lifetime_ms = 4000, .rotate_before_ms = 1500 };
    live l;
    live_start(&l, args, &ws, NULL);
    wait_all_live(&l);
    view_symbol *before = malloc(sizeof *before), *after = malloc(sizeof *after);
    view_of(&l, "BTCUSDT", before);
    wait_view(&l, "BTCUSDT", rotated_twice, l.e, "two rotations");
    view_of(&l, "BTCUSDT", after);
    cr_expect_eq(after->state, SYNC_LIVE);
    cr_expect_eq(after->resyncs, before->resyncs, "the book left LIVE during a rotation");
    cr_expect_eq(after->gaps, 0);
    cr_expect_eq(after->state_since_mono_ns, before->state_since_mono_ns);
    free(before);
    free(after);
    expect_books_equal_sim(&l);
    live_stop(&l);
}

static bool stale(const view_symbol *v, void *ctx)
{
    (void)ctx;
    return v->stream_stale;
}

Test(live, stalled_stream_is_flagged)
{
    ws_config ws = { .stale_after_ms = 1000 };
    live l;
    live_start(&l, base_args, &ws, NULL);
    wait_all_live(&l);
    sim_fault(&l, "stall,stream=ethusdt@depth@100ms,for=20s");
    wait_view(&l, "ETHUSDT", stale, NULL, "the stall to be flagged");
    view_symbol *v = malloc(sizeof *v);
    view_of(&l, "BTCUSDT", v);
    cr_expect(!v->stream_stale, "BTCUSDT flows and must not be flagged");
    cr_expect_eq(v->state, SYNC_LIVE);
    free(v);
    live_stop(&l);
}

Test(live, rate_limits_and_bans_are_honoured)
{
    live l;
    live_start(&l, base_args, NULL, NULL);
    wait_all_live(&l);
    view_symbol *v = malloc(sizeof *v);
    view_of(&l, "BTCUSDT", v);
    uint64_t snaps = v->snapshots;
    sim_fault(&l, "http429,count=1,retry_after=2");
    sim_fault(&l, "gap,stream=btcusdt@depth@100ms");
    wait_view(&l, "BTCUSDT", resynced_live, &snaps, "a resync through a 429");
    view_of(&l, "BTCUSDT", v);
    snaps = v->snapshots;
    sim_fault(&l, "http418,count=1,retry_after=2");
    sim_fault(&l, "gap,stream=btcusdt@depth@100ms");
    wait_view(&l, "BTCUSDT", resynced_live, &snaps, "a resync through a 418 ban");
    free(v);
    json_t *st = sim_stats(&l);
    cr_expect_geq(stat_int(st, "http_429"), 1);
    cr_expect_geq(stat_int(st, "http_418"), 1);
    cr_expect_eq(stat_int(st, "http_during_ban"), 0, "a request was sent during a ban");
    json_decref(st);
    live_stop(&l);
}

Test(live, malformed_and_oversized_frames_are_survived)
{
    live l;
    live_start(&l, base_args, NULL, NULL);
    wait_all_live(&l);
    sim_fault(&l, "malformed,stream=btcusdt@depth@100ms");
    sim_fault(&l, "oversized,stream=btcusdt@depth@100ms,size=6000000");
    expect_books_equal_sim(&l);
    view_symbol *v = malloc(sizeof *v);
    view_global g;
    view_of(&l, "BTCUSDT", v);
    engine_view_global(l.e, &g);
    cr_expect_geq(v->decode_errors + g.unroutable, 1, "the malformed frame was not counted");
    cr_expect_geq(g.ws_oversized, 1, "the oversized frame was not counted");
    free(v);
    live_stop(&l);
}

Test(live, sequential_snapshots_share_one_connection)
{
    tu_sim sim;
    tu_sim_start(&sim, base_args);
    char *ca = tu_tls_file("ca.pem");
    http_config cfg = { .base_url = sim.rest_tls, .ca_file = ca };
    http_pool *p;
    char why[256];
    cr_assert_eq(http_create(&cfg, &p, why, sizeof why), 0, "%s", why);
    for (int i = 0; i < 8; i++) {
        http_result r;
        int rc = http_fetch(p, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", 20,
                            clk_mono_ns() + 20 * SEC, &r);
        cr_assert_eq(rc, 0, "%s", r.r.why);
        cr_assert_eq(r.r.status, 200);
        cr_assert(strstr(r.r.body, "\"lastUpdateId\""));
        http_result_free(&r);
    }
    http_stats st;
    http_get_stats(p, &st);
    cr_expect_eq(st.conns_opened, 1, "8 sequential snapshots opened %" PRIu64 " connections",
                 st.conns_opened);
    cr_expect_gt(st.used_weight, 0);
    http_destroy(p);
    free(ca);
    tu_sim_stop(&sim);
}

Test(live, headless_prints_json_status_lines)
{
    tu_sim sim;
    tu_sim_start(&sim, base_args);
    char *ca = tu_tls_file("ca.pem");
    const char *bfmon = getenv("BF_BFMON");
    char *argv[] = {
        (char *)bfmon, "--headless", "--json", "--rest-url", sim.rest_tls,      "--ws-url",
        sim.ws_tls,    "--ca-file",  ca,       "--symbols",  "BTCUSDT,ETHUSDT", "--status-interval",
        "200ms",       "--duration", "5s",     NULL
    };
    tu_proc *p = tu_spawn(argv, NULL);
    char *out = tu_proc_rest(p, 60000);
    int code = tu_proc_stop(p, 0, 10000);
    tu_sim_stop(&sim);
    free(ca);
    cr_assert_eq(code, 0, "bfmon --headless exit %d", code);
    size_t n = 0;
    char **lines = tu_lines(out, &n);
    cr_assert_gt(n, 3, "only %zu status lines", n);
    json_error_t jerr;
    json_t *last = json_loads(lines[n - 1], 0, &jerr);
    cr_assert(last, "last status line is not JSON: %s", lines[n - 1]);
    json_t *btc = json_object_get(json_object_get(last, "symbols"), "BTCUSDT");
    cr_assert(btc, "no BTCUSDT in %s", lines[n - 1]);
    cr_expect_str_eq(json_string_value(json_object_get(btc, "state")), "LIVE");
    cr_expect(json_is_string(json_object_get(btc, "bid")));
    cr_expect(json_is_object(json_object_get(last, "rest")));
    json_decref(last);
    free(lines);
    free(out);
}

static bool reached_capture_end(const view_symbol *v, void *ctx)
{
    (void)ctx;
    return v->state == SYNC_LIVE && v->last_update_id >= 5123108458915LL;
}

/* A real capture (the hftbacktest BTCUSDT sample) served by `bfmon sim --replay` over wss: the
 * engine syncs from the sim's snapshot of the recording's position and ends where the capture
 * ends, with the top of book the capture itself verifies (binance-protocol.md §5.3). */
Test(live, real_capture_travels_over_sockets)
{
    char *sample = tu_source_path(TU_SAMPLE);
    const char *args[] = { "--replay", sample, "--speed", "0.5", NULL };
    live l;
    memset(&l, 0, sizeof l);
    tu_sim_start(&l.sim, args);
    l.ca = tu_tls_file("ca.pem");
    static const char *const btc[] = { "BTCUSDT" };
    engine_config cfg = { .rest_url = l.sim.rest_tls,
                          .ws_url = l.sim.ws_tls,
                          .ca_file = l.ca,
                          .symbols = btc,
                          .nsymbols = 1,
                          .depth_suffix = "@0ms" };
    char why[256];
    cr_assert_eq(engine_create(&cfg, &l.e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(engine_start(l.e, clk_mono_ns() + 30 * SEC, why, sizeof why), 0, "%s", why);
    wait_view(&l, "BTCUSDT", reached_capture_end, NULL, "the end of the capture");
    view_symbol *v = malloc(sizeof *v);
    view_of(&l, "BTCUSDT", v);
    char bid[32], ask[32];
    dec_format(v->bids[0].px, &v->px_scale, bid, sizeof bid);
    dec_format(v->asks[0].px, &v->px_scale, ask, sizeof ask);
    cr_expect_eq(v->last_update_id, 5123108458915LL);
    cr_expect_str_eq(bid, "61800.10");
    cr_expect_str_eq(ask, "61800.20");
    cr_expect_eq(v->gaps, 0);
    cr_expect_eq(v->bt_mismatches, 0);
    free(v);
    live_stop(&l);
    free(sample);
}

static bool is_stale(const view_symbol *v, void *ctx)
{
    (void)ctx;
    return v->state == SYNC_STALE;
}

/* When the exchange goes away, no book may keep looking live. */
Test(live, lost_exchange_marks_books_stale)
{
    /* Stream silence alone would take 10 minutes here: only the lost connection can do it. */
    ws_config ws = { .stale_after_ms = 600000 };
    live l;
    live_start(&l, base_args, &ws, NULL);
    wait_all_live(&l);
    tu_sim_stop(&l.sim);
    for (size_t i = 0; i < 2; i++)
        wait_view(&l, two_symbols[i], is_stale, NULL, "STALE after the exchange went away");
    view_symbol *v = malloc(sizeof *v);
    view_of(&l, "BTCUSDT", v);
    cr_expect(strstr(v->reason, "connection lost"), "reason: %s", v->reason);
    free(v);
    view_global g;
    engine_view_global(l.e, &g);
    cr_expect(!g.ws[WS_ROUTE_PUBLIC].up);
    engine_destroy(l.e);
    free(l.ca);
}

/* permessage-deflate (off by default): asked for, negotiated with the sim, books still exact. */
Test(live, permessage_deflate_keeps_books_exact)
{
    ws_config ws = { .permessage_deflate = true };
    live l;
    live_start(&l, base_args, &ws, NULL);
    wait_all_live(&l);
    expect_books_equal_sim(&l);
    json_t *st = sim_stats(&l);
    cr_expect_geq(stat_int(st, "deflate"), 2, "both routes should have asked for deflate");
    json_decref(st);
    live_stop(&l);
}

Test(live, deflate_is_off_by_default)
{
    live l;
    live_start(&l, base_args, NULL, NULL);
    wait_all_live(&l);
    json_t *st = sim_stats(&l);
    cr_expect_eq(stat_int(st, "deflate"), 0);
    json_decref(st);
    live_stop(&l);
}
