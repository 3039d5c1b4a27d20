/*
 * ws client tests, all against the scripted server in support/wsd.c on 127.0.0.1 (no network).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/ws.h"
#include "util/err.h"
#include "wsd.h"

#define WAIT_MS 8000

/* ---- recorder: what the client delivered and reported ------------------------------------ */

typedef struct rmsg {
    char stream[WS_STREAM_MAX];
    char *data;
    size_t len;
    unsigned conn;
} rmsg;

typedef struct revent {
    ws_event_kind kind;
    bool resumed;
    unsigned conn, replaced;
    char stream[WS_STREAM_MAX];
    char detail[256];
} revent;

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rmsg *msgs;
    size_t n, cap;
    revent ev[512];
    size_t nev;
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void rec_free(rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->msgs[i].data);
    free(r->msgs);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

static void on_msg(void *ctx, const ws_msg_info *info, const char *data, size_t len)
{
    rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->msgs = realloc(r->msgs, r->cap * sizeof *r->msgs);
    }
    rmsg *m = &r->msgs[r->n++];
    snprintf(m->stream, sizeof m->stream, "%s", info->stream);
    m->data = malloc(len + 1);
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    m->len = len;
    m->conn = info->conn;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_event(void *ctx, const ws_event *ev)
{
    rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->nev < sizeof r->ev / sizeof *r->ev) {
        revent *e = &r->ev[r->nev++];
        e->kind = ev->kind;
        e->resumed = ev->resumed;
        e->conn = ev->conn;
        e->replaced = ev->replaced;
        snprintf(e->stream, sizeof e->stream, "%s", ev->stream ? ev->stream : "");
        snprintf(e->detail, sizeof e->detail, "%s", ev->detail ? ev->detail : "");
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static size_t count_events_locked(rec *r, ws_event_kind kind, const char *stream)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nev; i++)
        n += r->ev[i].kind == kind && (!stream || strcmp(r->ev[i].stream, stream) == 0);
    return n;
}

static struct timespec deadline_in(int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    return dl;
}

static bool wait_msgs(rec *r, size_t n, int ms)
{
    struct timespec dl = deadline_in(ms);
    pthread_mutex_lock(&r->mu);
    while (r->n < n && pthread_cond_timedwait(&r->cv, &r->mu, &dl) == 0)
        ;
    bool ok = r->n >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static bool wait_event(rec *r, ws_event_kind kind, const char *stream, size_t n, int ms)
{
    struct timespec dl = deadline_in(ms);
    pthread_mutex_lock(&r->mu);
    while (count_events_locked(r, kind, stream) < n &&
           pthread_cond_timedwait(&r->cv, &r->mu, &dl) == 0)
        ;
    bool ok = count_events_locked(r, kind, stream) >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static size_t count_events(rec *r, ws_event_kind kind, const char *stream)
{
    pthread_mutex_lock(&r->mu);
    size_t n = count_events_locked(r, kind, stream);
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* The nth event of a kind (copy); false if absent. */
static bool event_at(rec *r, ws_event_kind kind, size_t nth, revent *out)
{
    pthread_mutex_lock(&r->mu);
    bool found = false;
    for (size_t i = 0; i < r->nev && !found; i++)
        if (r->ev[i].kind == kind && nth-- == 0) {
            *out = r->ev[i];
            found = true;
        }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Producer pacing (not synchronisation): the server streams at a steady rate. */
static void pace_ms(int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static char base_url[64];

static ws_config test_cfg(wsd *w, rec *r, bool tls)
{
    snprintf(base_url, sizeof base_url, "%s://127.0.0.1:%d", tls ? "wss" : "ws", wsd_port(w));
    ws_config cfg = { 0 };
    cfg.base_url = base_url;
    cfg.backoff_min_ms = 20;
    cfg.backoff_max_ms = 200;
    cfg.ping_interval_ms = 60000;
    cfg.pong_timeout_ms = 60000;
    cfg.stale_after_ms = 60000;
    cfg.connect_timeout_ms = 5000;
    cfg.control_per_s = 4;
    cfg.seed = 42;
    cfg.on_msg = on_msg;
    cfg.on_event = on_event;
    cfg.ctx = r;
    return cfg;
}

static ws_client *start_client(const ws_config *cfg)
{
    ws_client *c = NULL;
    char why[256] = "";
    int rc = ws_create(cfg, &c, why, sizeof why);
    cr_assert_eq(rc, 0, "ws_create: %s", why);
    return c;
}

static void subscribe1(ws_client *c, const char *s)
{
    cr_assert_eq(ws_subscribe(c, &s, 1), 0);
}

static bool all_subscribed(ws_client *c, size_t want, int ms)
{
    ws_stream_status *st = calloc(want + 8, sizeof *st);
    int64_t end = now_ms() + ms;
    bool ok = false;
    while (!ok && now_ms() < end) {
        size_t n = ws_stream_statuses(c, st, want + 8);
        size_t good = 0;
        for (size_t i = 0; i < n && i < want + 8; i++)
            good += st[i].subscribed;
        ok = n == want && good == want;
        if (!ok)
            pace_ms(10);
    }
    free(st);
    return ok;
}

/* Up on both sides: the client reported CONNECTED n times and the server registered n
 * connections (the client can see the handshake finish before the server thread does). */
static bool wait_up(rec *r, wsd *w, size_t n)
{
    return wait_event(r, WS_EV_CONNECTED, NULL, n, WAIT_MS) && wsd_wait_conns(w, (int)n, WAIT_MS);
}

static void send_str(wsd *w, int id, const char *s)
{
    cr_assert_eq(wsd_send(w, id, s, strlen(s), 0), 0);
}

/* ---- routes ------------------------------------------------------------------------------ */

Test(ws, route_table)
{
    static const char *const pub[] = { "btcusdt@depth",         "btcusdt@depth@100ms",
                                       "btcusdt@depth@500ms",   "btcusdt@depth20@100ms",
                                       "btcusdt@depth5",        "btcusdt@bookTicker",
                                       "!bookTicker",           "btcusdt@trade",
                                       "btcusdt@rpiDepth@500ms" };
    static const char *const mkt[] = { "btcusdt@aggTrade",        "btcusdt@markPrice",
                                       "btcusdt@markPrice@1s",    "!markPrice@arr@1s",
                                       "btcusdt@kline_1m",        "btcusdt_perp@continuousKline_1m",
                                       "btcusdt@miniTicker",      "!miniTicker@arr",
                                       "btcusdt@ticker",          "!ticker@arr",
                                       "btcusdt@forceOrder",      "!forceOrder@arr",
                                       "defiusdt@compositeIndex", "!contractInfo",
                                       "!assetIndex@arr" };
    for (size_t i = 0; i < sizeof pub / sizeof *pub; i++)
        cr_expect_eq(ws_route_of(pub[i]), WS_ROUTE_PUBLIC, "%s", pub[i]);
    for (size_t i = 0; i < sizeof mkt / sizeof *mkt; i++)
        cr_expect_eq(ws_route_of(mkt[i]), WS_ROUTE_MARKET, "%s", mkt[i]);
    cr_expect_str_eq(ws_route_name(WS_ROUTE_PUBLIC), "public");
    cr_expect_str_eq(ws_route_name(WS_ROUTE_MARKET), "market");
}

Test(ws, expected_intervals)
{
    cr_expect_eq(ws_expected_interval_ms("btcusdt@depth"), 250);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@depth@100ms"), 100);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@depth@500ms"), 500);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@depth10"), 250);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@depth20@100ms"), 100);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@depth@0ms"), 50);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@aggTrade"), 100);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@markPrice"), 3000);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@markPrice@1s"), 1000);
    cr_expect_eq(ws_expected_interval_ms("!markPrice@arr"), 3000);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@kline_1m"), 250);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@ticker"), 2000);
    cr_expect_eq(ws_expected_interval_ms("!ticker@arr"), 1000);
    cr_expect_eq(ws_expected_interval_ms("!miniTicker@arr"), 1000);
    cr_expect_eq(ws_expected_interval_ms("!bookTicker"), 5000);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@bookTicker"), 0);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@trade"), 0);
    cr_expect_eq(ws_expected_interval_ms("btcusdt@forceOrder"), 0);
}

Test(ws, create_rejects_bad_config)
{
    rec r;
    rec_init(&r);
    ws_config cfg = { .base_url = "http://x", .on_msg = on_msg, .ctx = &r };
    ws_client *c = NULL;
    char why[128] = "";
    cr_expect_eq(ws_create(&cfg, &c, why, sizeof why), BF_EINVAL);
    cr_expect(strlen(why) > 0);
    cfg.base_url = "ws://127.0.0.1:1";
    cfg.ca_file = "/nonexistent/ca.pem";
    cr_expect_eq(ws_create(&cfg, &c, why, sizeof why), BF_ENOENT);
    cfg.ca_file = NULL;
    cfg.max_lifetime_ms = 1000;
    cfg.rotate_before_ms = 1000;
    cr_expect_eq(ws_create(&cfg, &c, why, sizeof why), BF_EINVAL);
    cfg.on_msg = NULL;
    cfg.rotate_before_ms = 10;
    cr_expect_eq(ws_create(&cfg, &c, why, sizeof why), BF_EINVAL);
    cr_expect_null(c);
    rec_free(&r);
}

/* ---- connections and subscriptions ------------------------------------------------------- */

Test(ws, connect_path_is_combined_per_route)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    const char *s[] = { "btcusdt@depth@100ms", "ethusdt@bookTicker" };
    cr_assert_eq(ws_subscribe(c, s, 2), 0);
    cr_assert(wsd_wait_conns(w, 1, WAIT_MS));
    char *path = wsd_conn_path(w, 0);
    cr_expect_str_eq(path, "/public/stream?streams=btcusdt@depth@100ms/ethusdt@bookTicker");
    free(path);
    cr_assert(wait_up(&r, w, 1));
    revent e;
    cr_assert(event_at(&r, WS_EV_CONNECTED, 0, &e));
    cr_expect_not(e.resumed);
    cr_expect(all_subscribed(c, 2, WAIT_MS));
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.connections_up, 1);
    cr_expect_eq(st.streams, 2);
    cr_expect_eq(st.control_frames, 0, "everything fit the URL");
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

Test(ws, two_routes_two_connections)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    const char *s[] = { "btcusdt@depth", "btcusdt@aggTrade", "ethusdt@markPrice@1s" };
    cr_assert_eq(ws_subscribe(c, s, 3), 0);
    cr_assert(wsd_wait_conns(w, 2, WAIT_MS));
    char *p0 = wsd_conn_path(w, 0), *p1 = wsd_conn_path(w, 1);
    bool pub_first = strncmp(p0, "/public/", 8) == 0;
    const char *pub = pub_first ? p0 : p1, *mkt = pub_first ? p1 : p0;
    cr_expect_str_eq(pub, "/public/stream?streams=btcusdt@depth");
    cr_expect_str_eq(mkt, "/market/stream?streams=btcusdt@aggTrade/ethusdt@markPrice@1s");
    free(p0);
    free(p1);
    cr_expect(wait_event(&r, WS_EV_CONNECTED, NULL, 2, WAIT_MS));
    cr_expect_eq(wsd_conn_count(w), 2);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

/* The streams a connection asked for: its URL plus its SUBSCRIBE frames. Checks each frame. */
static size_t conn_streams(wsd *w, int id, char names[][WS_STREAM_MAX], size_t cap)
{
    size_t n = 0;
    char *path = wsd_conn_path(w, id);
    char *q = strstr(path, "streams=");
    cr_assert_not_null(q);
    for (char *tok = strtok(q + 8, "/"); tok && n < cap; tok = strtok(NULL, "/"))
        snprintf(names[n++], WS_STREAM_MAX, "%s", tok);
    free(path);
    size_t nf = wsd_frame_count(w, id);
    for (size_t i = 0; i < nf; i++) {
        char *f = wsd_frame(w, id, i, NULL, NULL);
        cr_assert(strstr(f, "\"method\":\"SUBSCRIBE\""), "%s", f);
        size_t in_frame = 0;
        char *p = strstr(f, "[");
        for (char *tok = strtok(p + 1, "\",]"); tok && n < cap; tok = strtok(NULL, "\",]")) {
            if (strchr(tok, '@')) {
                snprintf(names[n++], WS_STREAM_MAX, "%s", tok);
                in_frame++;
            }
        }
        cr_expect_leq(in_frame, 100);
        free(f);
    }
    return n;
}

Test(ws, cap_200_streams_per_connection)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    enum { N = 250 };
    static char names[N][WS_STREAM_MAX];
    const char *ptr[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], WS_STREAM_MAX, "s%03dusdt@depth@100ms", i);
        ptr[i] = names[i];
    }
    cr_assert_eq(ws_subscribe(c, ptr, N), 0);
    cr_assert(all_subscribed(c, N, 3 * WAIT_MS), "all 250 acknowledged");
    cr_assert_eq(wsd_conn_count(w), 2);
    static char got[2 * N][WS_STREAM_MAX];
    size_t a = conn_streams(w, 0, got, 2 * N);
    size_t b = conn_streams(w, 1, got + a, 2 * N - a);
    cr_expect_leq(a, 200);
    cr_expect_leq(b, 200);
    cr_expect_eq(a + b, N);
    for (int i = 0; i < N; i++) {
        int seen = 0;
        for (size_t j = 0; j < a + b; j++)
            seen += strcmp(got[j], names[i]) == 0;
        cr_expect_eq(seen, 1, "%s asked for %d times", names[i], seen);
    }
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

static int count_params(const char *frame)
{
    int n = 0;
    for (const char *p = strchr(frame, '['); p && *p && *p != ']'; p++)
        n += *p == '@';
    return n;
}

Test(ws, runtime_subscribe_batched_and_paced)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    cfg.control_per_s = 2;
    cfg.max_streams_per_conn = 1000;
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_up(&r, w, 1));
    enum { N = 450 };
    static char names[N][WS_STREAM_MAX];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], WS_STREAM_MAX, "x%03dusdt@bookTicker", i);
        const char *p = names[i];
        cr_assert_eq(ws_subscribe(c, &p, 1), 0); /* one call each: the client batches */
    }
    cr_assert(all_subscribed(c, N + 1, 4 * WAIT_MS));
    size_t subs = wsd_frame_count(w, 0);
    cr_expect_geq(subs, 5);
    const char *ptr[150];
    for (int i = 0; i < 150; i++)
        ptr[i] = names[i];
    cr_assert_eq(ws_unsubscribe(c, ptr, 150), 0);
    cr_assert(wsd_wait_frames(w, 0, subs + 2, 2 * WAIT_MS));
    size_t nf = wsd_frame_count(w, 0);
    int64_t *stamp = calloc(nf, sizeof *stamp);
    int sub_params = 0, unsub_params = 0;
    for (size_t i = 0; i < nf; i++) {
        char *f = wsd_frame(w, 0, i, NULL, &stamp[i]);
        int n = count_params(f);
        cr_expect_leq(n, 100, "frame %zu has %d streams", i, n);
        if (strstr(f, "\"UNSUBSCRIBE\""))
            unsub_params += n;
        else
            sub_params += n;
        free(f);
    }
    cr_expect_eq(sub_params, N);
    cr_expect_eq(unsub_params, 150);
    for (size_t i = 2; i < nf; i++) /* never 3 frames within 1 s: at most control_per_s */
        cr_expect_geq(stamp[i] - stamp[i - 2], 1000000000LL, "frames %zu..%zu", i - 2, i);
    free(stamp);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.streams, N + 1 - 150);
    cr_expect_eq(st.control_frames, nf);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

/* ---- delivery ---------------------------------------------------------------------------- */

Test(ws, messages_in_order_with_stream_names)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    const char *s[] = { "btcusdt@aggTrade", "ethusdt@aggTrade" };
    cr_assert_eq(ws_subscribe(c, s, 2), 0);
    cr_assert(wait_up(&r, w, 1));
    send_str(w, 0, "{\"result\":null,\"id\":999}");
    send_str(w, 0, "{\"error\":{\"code\":2,\"msg\":\"Invalid request: invalid stream\"},\"id\":7}");
    for (int i = 0; i < 100; i++) {
        char m[128];
        snprintf(m, sizeof m, "{\"stream\":\"%s\",\"data\":{\"i\":%d}}", s[i % 2], i);
        send_str(w, 0, m);
    }
    send_str(w, 0, "{\"e\":\"bare\"}");
    cr_assert(wait_msgs(&r, 101, WAIT_MS));
    for (int i = 0; i < 100; i++) {
        char m[128];
        snprintf(m, sizeof m, "{\"stream\":\"%s\",\"data\":{\"i\":%d}}", s[i % 2], i);
        cr_expect_str_eq(r.msgs[i].data, m);
        cr_expect_str_eq(r.msgs[i].stream, s[i % 2]);
    }
    cr_expect_str_eq(r.msgs[100].stream, "");
    cr_expect_str_eq(r.msgs[100].data, "{\"e\":\"bare\"}");
    cr_expect_eq(r.n, 101, "control replies are not delivered");
    cr_expect(wait_event(&r, WS_EV_ERROR_REPLY, NULL, 1, WAIT_MS));
    revent e;
    cr_assert(event_at(&r, WS_EV_ERROR_REPLY, 0, &e));
    cr_expect(strstr(e.detail, "invalid stream"), "%s", e.detail);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.error_replies, 1);
    ws_stream_status ss[2];
    cr_assert_eq(ws_stream_statuses(c, ss, 2), 2);
    cr_expect_eq(ss[0].messages, 50);
    cr_expect_eq(ss[1].messages, 50);
    cr_expect_gt(ss[0].last_msg_mono_ns, 0);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

static char *big_message(const char *stream, size_t total)
{
    char *m = malloc(total + 1);
    int head = snprintf(m, total + 1, "{\"stream\":\"%s\",\"data\":\"", stream);
    for (size_t i = (size_t)head; i < total - 2; i++)
        m[i] = (char)('a' + (i * 7) % 26);
    m[total - 2] = '"';
    m[total - 1] = '}';
    m[total] = '\0';
    return m;
}

Test(ws, one_mib_message_in_fragments)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    subscribe1(c, "!markPrice@arr");
    cr_assert(wait_up(&r, w, 1));
    size_t total = 1024 * 1024;
    char *m = big_message("!markPrice@arr", total);
    cr_assert_eq(wsd_send(w, 0, m, total, 64 * 1024), 0);
    cr_assert(wait_msgs(&r, 1, WAIT_MS));
    cr_expect_eq(r.msgs[0].len, total);
    cr_expect(memcmp(r.msgs[0].data, m, total) == 0, "byte-exact");
    cr_expect_str_eq(r.msgs[0].stream, "!markPrice@arr");
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_geq(st.fragments, 15);
    free(m);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

Test(ws, oversized_dropped_connection_survives)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    cfg.max_message = 1024 * 1024;
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_up(&r, w, 1));
    size_t total = 1536 * 1024;
    char *m = big_message("btcusdt@depth", total);
    cr_assert_eq(wsd_send(w, 0, m, total, 64 * 1024), 0);
    send_str(w, 0, "{\"stream\":\"btcusdt@depth\",\"data\":{\"after\":1}}");
    cr_assert(wait_msgs(&r, 1, WAIT_MS));
    cr_expect_str_eq(r.msgs[0].data, "{\"stream\":\"btcusdt@depth\",\"data\":{\"after\":1}}");
    cr_expect(wait_event(&r, WS_EV_OVERSIZED, NULL, 1, WAIT_MS));
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.oversized, 1);
    cr_expect_eq(st.disconnects, 0);
    cr_expect_eq(st.messages, 1);
    cr_expect_eq(wsd_conn_count(w), 1);
    free(m);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

/* ---- liveness ---------------------------------------------------------------------------- */

Test(ws, ping_payload_echoed)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_up(&r, w, 1));
    static const char payload[] = "ping-1791091007473";
    cr_assert_eq(wsd_ping(w, 0, payload, sizeof payload - 1), 0);
    cr_assert(wsd_wait_pongs(w, 0, 1, WAIT_MS));
    char got[128];
    size_t gl = 0;
    cr_expect_eq(wsd_pongs(w, 0, got, sizeof got, &gl), 1);
    cr_expect_eq(gl, sizeof payload - 1);
    cr_expect(memcmp(got, payload, gl) == 0);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

Test(ws, missing_pong_reconnects)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    cfg.ping_interval_ms = 100;
    cfg.pong_timeout_ms = 300;
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_up(&r, w, 1));
    cr_assert(wsd_wait_pongs(w, 0, 0, 10)); /* no-op: the server answers pings by itself */
    cr_assert_eq(wsd_freeze(w, 0), 0);
    cr_assert(wait_event(&r, WS_EV_DISCONNECTED, NULL, 1, WAIT_MS));
    revent e;
    cr_assert(event_at(&r, WS_EV_DISCONNECTED, 0, &e));
    cr_expect(strstr(e.detail, "pong"), "%s", e.detail);
    cr_assert(wsd_wait_conns(w, 2, WAIT_MS));
    cr_assert(wait_event(&r, WS_EV_CONNECTED, NULL, 2, WAIT_MS));
    cr_assert(event_at(&r, WS_EV_CONNECTED, 1, &e));
    cr_expect(e.resumed);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_geq(st.pong_timeouts, 1);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

Test(ws, abrupt_drop_reconnects_and_resubscribes)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_up(&r, w, 1));
    subscribe1(c, "ethusdt@depth"); /* runtime: a SUBSCRIBE frame */
    cr_assert(wsd_wait_frames(w, 0, 1, WAIT_MS));
    cr_assert(all_subscribed(c, 2, WAIT_MS));
    cr_assert_eq(wsd_drop(w, 0), 0);
    cr_assert(wait_event(&r, WS_EV_DISCONNECTED, NULL, 1, WAIT_MS));
    cr_assert(wsd_wait_conns(w, 2, WAIT_MS));
    char *path = wsd_conn_path(w, 1);
    cr_expect_str_eq(path, "/public/stream?streams=btcusdt@depth/ethusdt@depth");
    free(path);
    cr_assert(wait_event(&r, WS_EV_CONNECTED, NULL, 2, WAIT_MS));
    revent e;
    cr_assert(event_at(&r, WS_EV_CONNECTED, 1, &e));
    cr_expect(e.resumed);
    cr_expect(all_subscribed(c, 2, WAIT_MS));
    send_str(w, 1, "{\"stream\":\"ethusdt@depth\",\"data\":{}}");
    cr_expect(wait_msgs(&r, 1, WAIT_MS));
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.reconnects, 1);
    cr_expect_eq(st.disconnects, 1);
    cr_expect_eq(st.connections_up, 1);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

Test(ws, stale_stream_flagged_then_live)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    cfg.stale_after_ms = 300;
    ws_client *c = start_client(&cfg);
    const char *s[] = { "btcusdt@bookTicker", "ethusdt@bookTicker" };
    cr_assert_eq(ws_subscribe(c, s, 2), 0);
    cr_assert(wait_up(&r, w, 1));
    wsd_mute(w, 0, "ethusdt@bookTicker");
    bool stale = false, live = false;
    int64_t end = now_ms() + WAIT_MS;
    for (int i = 0; now_ms() < end && !live; i++) {
        for (int j = 0; j < 2; j++) {
            char m[96];
            snprintf(m, sizeof m, "{\"stream\":\"%s\",\"data\":{\"u\":%d}}", s[j], i);
            send_str(w, 0, m);
        }
        if (!stale && count_events(&r, WS_EV_STREAM_STALE, s[1]) > 0) {
            stale = true;
            cr_expect_eq(count_events(&r, WS_EV_STREAM_STALE, s[0]), 0, "btc keeps flowing");
            ws_stream_status ss[2];
            ws_stream_statuses(c, ss, 2);
            for (int k = 0; k < 2; k++)
                cr_expect_eq(ss[k].stale, strcmp(ss[k].name, s[1]) == 0, "%s", ss[k].name);
            ws_stats st;
            ws_get_stats(c, &st);
            cr_expect_eq(st.stale_streams, 1);
            wsd_mute(w, 0, NULL);
        }
        live = stale && count_events(&r, WS_EV_STREAM_LIVE, s[1]) > 0;
        pace_ms(20);
    }
    cr_expect(stale, "eth flagged stale");
    cr_expect(live, "eth live again");
    cr_expect_eq(count_events(&r, WS_EV_STREAM_STALE, s[0]), 0);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.stale_streams, 0);
    cr_expect_eq(st.disconnects, 0);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

/* ---- rotation ---------------------------------------------------------------------------- */

static long seq_of(const rmsg *m)
{
    const char *p = strstr(m->data, "\"n\":");
    return p ? strtol(p + 4, NULL, 10) : -1;
}

Test(ws, rotation_delivers_each_message_once)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, false);
    cfg.max_lifetime_ms = 1500;
    cfg.rotate_before_ms = 1000;
    cfg.rotate_overlap_max_ms = 5000;
    ws_client *c = start_client(&cfg);
    const char *s[] = { "btcusdt@aggTrade", "ethusdt@aggTrade" };
    cr_assert_eq(ws_subscribe(c, s, 2), 0);
    cr_assert(wait_up(&r, w, 1));
    long n = 0;
    int64_t end = now_ms() + 3 * WAIT_MS;
    bool closed = false;
    long after_close = 0;
    while (now_ms() < end && after_close < 100) {
        for (int j = 0; j < 2; j++) {
            char m[96];
            n++;
            snprintf(m, sizeof m, "{\"stream\":\"%s\",\"data\":{\"n\":%ld}}", s[j], n);
            wsd_broadcast(w, m, strlen(m));
        }
        if (!closed)
            closed = count_events(&r, WS_EV_ROTATED, NULL) > 0 && !wsd_conn_open(w, 0);
        else
            after_close++;
        pace_ms(5);
    }
    cr_assert(closed, "rotated and the old connection closed");
    cr_assert(wsd_wait_closed(w, 0, WAIT_MS));
    cr_assert(wait_msgs(&r, (size_t)(n / 2), WAIT_MS));
    pthread_mutex_lock(&r.mu);
    long expect = 1;
    size_t bad = 0;
    for (size_t i = 0; i < r.n; i++) {
        long v = seq_of(&r.msgs[i]);
        if (v != expect && bad++ < 5)
            cr_log_error("message %zu: n=%ld, expected %ld (conn %u)", i, v, expect,
                         r.msgs[i].conn);
        expect = v + 1;
    }
    size_t delivered = r.n;
    bool two_conns = r.msgs[0].conn != r.msgs[r.n - 1].conn;
    pthread_mutex_unlock(&r.mu);
    cr_expect_eq(bad, 0, "each number exactly once, in order");
    cr_expect_geq(delivered, (size_t)(n / 2));
    cr_expect(two_conns, "later messages come from the replacement");
    pthread_mutex_lock(&r.mu);
    /* each rotation names the connection it replaced and its replacement (the lifetime is short:
     * the replacement may itself be replaced before the test ends) */
    unsigned expect_replaced = r.msgs[0].conn;
    size_t rotations = 0;
    for (size_t i = 0; i < r.nev; i++) {
        if (r.ev[i].kind != WS_EV_ROTATED)
            continue;
        cr_expect_eq(r.ev[i].replaced, expect_replaced, "rotation %zu replaced conn %u, not %u",
                     rotations, r.ev[i].replaced, expect_replaced);
        cr_expect_neq(r.ev[i].conn, r.ev[i].replaced);
        expect_replaced = r.ev[i].conn;
        rotations++;
    }
    cr_expect_geq(rotations, 1);
    pthread_mutex_unlock(&r.mu);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_geq(st.rotations, 1);
    cr_expect_eq(st.disconnects, 0);
    cr_expect_gt(st.duplicates_suppressed, 0);
    cr_log_info("rotation: %zu delivered, %llu duplicates suppressed, %llu forced", delivered,
                (unsigned long long)st.duplicates_suppressed,
                (unsigned long long)st.rotation_forced);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

/* ---- TLS --------------------------------------------------------------------------------- */

static char ca_path[1024];

static const char *test_ca(void)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    snprintf(ca_path, sizeof ca_path, "%s/tests/data/tls/ca.pem", root ? root : ".");
    return ca_path;
}

Test(ws, wss_with_ca_file)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(true);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, true);
    cfg.ca_file = test_ca();
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_up(&r, w, 1));
    send_str(w, 0, "{\"stream\":\"btcusdt@depth\",\"data\":{\"tls\":true}}");
    cr_assert(wait_msgs(&r, 1, WAIT_MS));
    cr_expect_str_eq(r.msgs[0].stream, "btcusdt@depth");
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

Test(ws, wss_without_ca_file_fails_on_certificate)
{
    rec r;
    rec_init(&r);
    wsd *w = wsd_start(true);
    cr_assert_not_null(w);
    ws_config cfg = test_cfg(w, &r, true);
    cfg.backoff_min_ms = 1000;
    cfg.backoff_max_ms = 1000;
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    cr_assert(wait_event(&r, WS_EV_DISCONNECTED, NULL, 1, WAIT_MS));
    revent e;
    cr_assert(event_at(&r, WS_EV_DISCONNECTED, 0, &e));
    cr_expect(strcasestr(e.detail, "cert") != NULL, "%s", e.detail);
    cr_expect_eq(count_events(&r, WS_EV_CONNECTED, NULL), 0);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.connects, 0);
    cr_expect_eq(st.connections_up, 0);
    ws_destroy(c);
    wsd_stop(w);
    rec_free(&r);
}

/* ---- teardown ---------------------------------------------------------------------------- */

Test(ws, destroy_while_connecting)
{
    /* a listener that accepts TCP but never answers the HTTP upgrade */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(ls, 4), 0);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    rec r;
    rec_init(&r);
    snprintf(base_url, sizeof base_url, "ws://127.0.0.1:%d", ntohs(a.sin_port));
    ws_config cfg = { .base_url = base_url, .on_msg = on_msg, .on_event = on_event, .ctx = &r };
    ws_client *c = start_client(&cfg);
    subscribe1(c, "btcusdt@depth");
    struct pollfd pf = { .fd = ls, .events = POLLIN };
    cr_assert_eq(poll(&pf, 1, WAIT_MS), 1, "the client connects");
    int s = accept(ls, NULL, NULL);
    cr_assert_geq(s, 0);
    ws_destroy(c); /* mid-handshake */
    cr_expect_eq(count_events(&r, WS_EV_CONNECTED, NULL), 0);
    close(s);
    close(ls);
    rec_free(&r);
}
