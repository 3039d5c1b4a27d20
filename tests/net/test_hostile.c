/* hostile: peers that misbehave on purpose (issue 6). A never-ending WebSocket message, a
 * slow-loris HTTP reply, a body far larger than any real one, HTML where JSON belongs, deep
 * nesting, huge numbers and invalid UTF-8 in REST bodies and stream frames. Each must end in a
 * clear error (a BF_E* code and a sentence) and a retry or reconnect, with bounded memory and no
 * hang. docs/reliability.md lists these tests next to the limits they prove. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/rest.h"
#include "codec/stream.h"
#include "httpd.h"
#include "market/symtab.h"
#include "net/http.h"
#include "net/ws.h"
#include "util/clk.h"
#include "util/dec.h"
#include "util/err.h"
#include "util/memacct.h"
#include "wsd.h"

#define WAIT_MS 10000
#define MIB     (1024u * 1024u)

static int64_t deadline_in(int64_t ms)
{
    return clk_mono_ns() + ms * CLK_NS_PER_MS;
}

/* Producer pacing between polls of a state (not synchronisation). */
static void pause_ms(int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- WebSocket: a message that never ends ------------------------------------------------ */

typedef struct wsrec {
    pthread_mutex_t mu;
    size_t msgs, connected, disconnected, oversized;
    char last_msg[128];
    char disconnect_why[192];
} wsrec;

static void ws_on_msg(void *ctx, const ws_msg_info *info, const char *data, size_t len)
{
    (void)info;
    wsrec *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->msgs++;
    snprintf(r->last_msg, sizeof r->last_msg, "%.*s", (int)len, data);
    pthread_mutex_unlock(&r->mu);
}

static void ws_on_event(void *ctx, const ws_event *e)
{
    wsrec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (e->kind == WS_EV_CONNECTED)
        r->connected++;
    else if (e->kind == WS_EV_OVERSIZED)
        r->oversized++;
    else if (e->kind == WS_EV_DISCONNECTED) {
        if (r->disconnected++ == 0)
            snprintf(r->disconnect_why, sizeof r->disconnect_why, "%s", e->detail ? e->detail : "");
    }
    pthread_mutex_unlock(&r->mu);
}

static size_t wsrec_get(wsrec *r, const size_t *field)
{
    pthread_mutex_lock(&r->mu);
    size_t v = *field;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* Polls a counter of r until it reaches n; tracks the peak of the ws module's memory meanwhile. */
static bool wsrec_wait(wsrec *r, const size_t *field, size_t n, int64_t *peak_mem)
{
    int64_t end = deadline_in(WAIT_MS);
    while (clk_mono_ns() < end) {
        int64_t m = memacct_get(MEM_OTHER);
        if (peak_mem && m > *peak_mem)
            *peak_mem = m;
        if (wsrec_get(r, field) >= n)
            return true;
        pause_ms(2);
    }
    return false;
}

static char ws_url[64];

static ws_client *ws_start(wsd *w, wsrec *r)
{
    snprintf(ws_url, sizeof ws_url, "ws://127.0.0.1:%d", wsd_port(w));
    ws_config cfg = { .base_url = ws_url,
                      .max_message = MIB,
                      .backoff_min_ms = 20,
                      .backoff_max_ms = 200,
                      .ping_interval_ms = 60000,
                      .pong_timeout_ms = 60000,
                      .stale_after_ms = 60000,
                      .seed = 42,
                      .on_msg = ws_on_msg,
                      .on_event = ws_on_event,
                      .ctx = r };
    ws_client *c = NULL;
    char why[256] = "";
    cr_assert_eq(ws_create(&cfg, &c, why, sizeof why), 0, "ws_create: %s", why);
    const char *s = "btcusdt@depth";
    cr_assert_eq(ws_subscribe(c, &s, 1), 0);
    cr_assert(wsrec_wait(r, &r->connected, 1, NULL));
    cr_assert(wsd_wait_conns(w, 1, WAIT_MS));
    return c;
}

static const char after_msg[] = "{\"stream\":\"btcusdt@depth\",\"data\":{\"after\":1}}";

Test(hostile, ws_never_ending_message_is_dropped_and_the_connection_replaced, .timeout = 30)
{
    wsrec r = { .mu = PTHREAD_MUTEX_INITIALIZER };
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_client *c = ws_start(w, &r);
    size_t frag_len = 64 * 1024;
    char *frag = malloc(frag_len);
    memset(frag, 'x', frag_len);
    memcpy(frag, "{\"stream\":\"btcusdt@depth\",\"data\":\"", 34);
    int64_t before = memacct_get(MEM_OTHER), peak = before;
    cr_assert_eq(wsd_send_endless(w, 0, frag, frag_len), 0);
    /* Reported as soon as it passes the bound, long before the connection gives up on it. */
    cr_assert(wsrec_wait(&r, &r.oversized, 1, &peak));
    cr_assert(wsrec_wait(&r, &r.disconnected, 1, &peak), "the endless message never ended");
    pthread_mutex_lock(&r.mu);
    cr_expect(strstr(r.disconnect_why, "did not end within 4194304 bytes") != NULL, "why: %s",
              r.disconnect_why);
    pthread_mutex_unlock(&r.mu);
    /* The reassembly buffer never grew past max_message (plus what other buffers hold). */
    cr_expect_leq(peak - before, (int64_t)MIB, "ws memory grew by %lld",
                  (long long)(peak - before));
    /* Reconnected and resubscribed: the next message on the new connection is delivered. */
    cr_assert(wsrec_wait(&r, &r.connected, 2, NULL));
    cr_assert(wsd_wait_conns(w, 2, WAIT_MS));
    cr_assert_eq(wsd_send(w, 1, after_msg, strlen(after_msg), 0), 0);
    cr_assert(wsrec_wait(&r, &r.msgs, 1, NULL));
    pthread_mutex_lock(&r.mu);
    cr_expect_str_eq(r.last_msg, after_msg);
    pthread_mutex_unlock(&r.mu);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.oversized, 1);
    cr_expect_geq(st.reconnects, 1);
    free(frag);
    ws_destroy(c);
    wsd_stop(w);
}

/* The wrong content type on a WebSocket: a binary message. Never decoded or delivered; the
 * connection is dropped with a sentence and replaced, and the next text message arrives. */
Test(hostile, ws_binary_message_is_refused_and_the_connection_replaced, .timeout = 30)
{
    wsrec r = { .mu = PTHREAD_MUTEX_INITIALIZER };
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_client *c = ws_start(w, &r);
    static const char json_as_binary[] = "{\"stream\":\"btcusdt@depth\",\"data\":{}}";
    cr_assert_eq(wsd_send_binary(w, 0, json_as_binary, sizeof json_as_binary - 1), 0);
    cr_assert(wsrec_wait(&r, &r.disconnected, 1, NULL), "the binary message went unnoticed");
    pthread_mutex_lock(&r.mu);
    cr_expect(strstr(r.disconnect_why, "binary message") != NULL, "why: %s", r.disconnect_why);
    cr_expect_eq(r.msgs, 0, "a binary message is never delivered");
    pthread_mutex_unlock(&r.mu);
    cr_assert(wsrec_wait(&r, &r.connected, 2, NULL));
    cr_assert(wsd_wait_conns(w, 2, WAIT_MS));
    cr_assert_eq(wsd_send(w, 1, after_msg, strlen(after_msg), 0), 0);
    cr_assert(wsrec_wait(&r, &r.msgs, 1, NULL));
    pthread_mutex_lock(&r.mu);
    cr_expect_str_eq(r.last_msg, after_msg);
    pthread_mutex_unlock(&r.mu);
    ws_stats st;
    ws_get_stats(c, &st);
    cr_expect_eq(st.binary, 1);
    cr_expect_geq(st.reconnects, 1);
    ws_destroy(c);
    wsd_stop(w);
}

Test(hostile, ws_single_frame_above_the_bound_is_dropped_connection_survives, .timeout = 30)
{
    wsrec r = { .mu = PTHREAD_MUTEX_INITIALIZER };
    wsd *w = wsd_start(false);
    cr_assert_not_null(w);
    ws_client *c = ws_start(w, &r);
    size_t total = 3 * MIB / 2; /* one frame, no fragments: lws hands it over in pieces */
    char *m = malloc(total);
    memset(m, ' ', total);
    memcpy(m, "{\"stream\":\"btcusdt@depth\",\"data\":1", 34);
    m[total - 1] = '}';
    int64_t before = memacct_get(MEM_OTHER), peak = before;
    cr_assert_eq(wsd_send(w, 0, m, total, 0), 0);
    cr_assert_eq(wsd_send(w, 0, after_msg, strlen(after_msg), 0), 0);
    cr_assert(wsrec_wait(&r, &r.msgs, 1, &peak));
    pthread_mutex_lock(&r.mu);
    cr_expect_str_eq(r.last_msg, after_msg);
    cr_expect_eq(r.oversized, 1);
    cr_expect_eq(r.disconnected, 0);
    pthread_mutex_unlock(&r.mu);
    cr_expect_leq(peak - before, (int64_t)MIB);
    free(m);
    ws_destroy(c);
    wsd_stop(w);
}

/* ---- HTTP: slow, huge and wrong replies ---------------------------------------------------- */

static httpd *srv;
static http_pool *pool;

static void teardown(void)
{
    http_destroy(pool);
    pool = NULL;
    httpd_stop(srv);
    srv = NULL;
}

static void start(unsigned max_retries, int64_t total_timeout_ms)
{
    srv = httpd_start(false);
    cr_assert_not_null(srv);
    http_config cfg = { .base_url = httpd_url(srv),
                        .seed = 42,
                        .backoff_min_ms = 1,
                        .backoff_max_ms = 5,
                        .max_retries = max_retries,
                        .total_timeout_ms = total_timeout_ms };
    char why[256] = "";
    cr_assert_eq(http_create(&cfg, &pool, why, sizeof why), 0, "http_create: %s", why);
}

/* The pool still answers a well-behaved request after the hostile one. */
static void expect_pool_works(void)
{
    httpd_on(srv, "/fapi/v1/ping", &(httpd_reply){ .body = "{}" });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/ping", 1, deadline_in(WAIT_MS), &res);
    cr_expect_eq(rc, 0, "after the hostile reply: %s", res.r.why);
    cr_expect_str_eq(res.r.body ? res.r.body : "", "{}");
    http_result_free(&res);
}

Test(hostile, http_slow_loris_headers_fail_at_the_total_timeout, .fini = teardown, .timeout = 30)
{
    /* 200 ms per byte: the status line alone would take seconds; the timeout is 300 ms. */
    start(1, 300);
    httpd_on(srv, "/fapi/v1/depth", &(httpd_reply){ .trickle_ms = 200 });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/depth?symbol=BTCUSDT", 5, deadline_in(WAIT_MS), &res);
    cr_expect_eq(rc, BF_ETIMEDOUT, "rc %d: %s", rc, res.r.why);
    cr_expect(strstr(res.r.why, "gave up after 2 attempts") != NULL, "why: %s", res.r.why);
    cr_expect_eq(res.r.attempts, 2u, "a timeout is retried");
    http_result_free(&res);
    expect_pool_works();
}

Test(hostile, http_slow_loris_body_fails_at_the_total_timeout, .fini = teardown, .timeout = 30)
{
    /* Headers arrive at once; the body then trickles (a long body at 1 byte per 50 ms). */
    start(0, 400);
    static char body[4096];
    memset(body, ' ', sizeof body - 1);
    body[0] = '{';
    body[sizeof body - 2] = '}';
    httpd_on(srv, "/fapi/v1/depth", &(httpd_reply){ .body = body, .trickle_ms = 50 });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/depth?symbol=BTCUSDT", 5, deadline_in(WAIT_MS), &res);
    cr_expect_eq(rc, BF_ETIMEDOUT, "rc %d: %s", rc, res.r.why);
    cr_expect(strstr(res.r.why, "time") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    expect_pool_works();
}

Test(hostile, http_body_larger_than_64_mib_is_refused, .fini = teardown, .timeout = 30)
{
    start(0, 20000);
    /* 65 MiB of spaces after "{": far above the largest real body (exchangeInfo, a few MB). */
    httpd_on(srv, "/fapi/v1/exchangeInfo",
             &(httpd_reply){ .body = "{", .pad_spaces = (size_t)65 * MIB, .times = 1 });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/exchangeInfo", 1, deadline_in(25000), &res);
    cr_expect_eq(rc, BF_ENET, "rc %d: %s", rc, res.r.why);
    cr_expect(strstr(res.r.why, "response body larger than 64 MiB") != NULL, "why: %s", res.r.why);
    cr_expect_eq(res.r.attempts, 1u, "a body over the cap is not retried");
    cr_expect_leq(res.r.len, (size_t)64 * MIB, "what was read stays within the cap");
    http_result_free(&res);
    expect_pool_works();
}

/* A captive portal or proxy answering 200 with a web page: refused by its Content-Type before any
 * decoder sees it, retried like a 5xx, then a sentence that says what came back. */
Test(hostile, http_html_200_is_refused_by_content_type_and_retried, .fini = teardown, .timeout = 30)
{
    start(2, 5000);
    const char *html = "<!DOCTYPE html><html><body>Welcome to nginx!</body></html>";
    httpd_on(srv, "/fapi/v1/depth",
             &(httpd_reply){ .body = html, .content_type = "text/html; charset=utf-8" });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", 20, deadline_in(WAIT_MS),
                        &res);
    cr_expect_eq(rc, BF_EHTTP, "rc %d: %s", rc, res.r.why);
    cr_expect_eq(res.r.status, 200);
    cr_expect_eq(res.r.attempts, 3u, "retried up to max_retries");
    cr_expect(strstr(res.r.why, "Content-Type 'text/html; charset=utf-8', not JSON") != NULL,
              "why: %s", res.r.why);
    cr_expect(strstr(res.r.why, "gave up after 3 attempts") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    expect_pool_works();
}

/* What counts as JSON: Binance's own header, other JSON media types, and no header at all (the
 * decoder still checks the body); text/plain does not. */
Test(hostile, http_json_content_types_accepted_others_refused, .fini = teardown, .timeout = 30)
{
    start(0, 5000);
    const struct {
        const char *ctype;
        int rc;
    } cases[] = {
        { "application/json;charset=UTF-8", 0 },
        { "APPLICATION/JSON", 0 },
        { "application/problem+json", 0 },
        { "text/json", 0 },
        { "", 0 },
        { "text/plain", BF_EHTTP },
        { "application/jsonp", BF_EHTTP },
        { "+json", BF_EHTTP },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[32]; /* one path per case: the first rule for a path wins */
        snprintf(path, sizeof path, "/fapi/v1/ct%zu", i);
        httpd_on(srv, path,
                 &(httpd_reply){ .body = "{\"serverTime\":1}", .content_type = cases[i].ctype });
        http_result res;
        int rc = http_fetch(pool, path, 1, deadline_in(WAIT_MS), &res);
        cr_expect_eq(rc, cases[i].rc, "'%s': rc %d: %s", cases[i].ctype, rc, res.r.why);
        http_result_free(&res);
    }
}

Test(hostile, http_html_502_page_is_retried_then_a_sentence, .fini = teardown, .timeout = 30)
{
    start(2, 5000);
    const char *html = "<html><head><title>502 Bad Gateway</title></head><body>"
                       "<center><h1>502 Bad Gateway</h1></center></body></html>";
    httpd_on(srv, "/fapi/v1/depth",
             &(httpd_reply){ .status = 502, .body = html, .content_type = "text/html" });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/depth?symbol=BTCUSDT", 5, deadline_in(WAIT_MS), &res);
    cr_expect_eq(rc, BF_EHTTP, "rc %d: %s", rc, res.r.why);
    cr_expect_eq(res.r.status, 502);
    cr_expect_eq(res.r.binance_code, 0, "no Binance code in an HTML page");
    cr_expect_eq(res.r.attempts, 3u, "5xx is retried up to max_retries");
    cr_expect(strstr(res.r.why, "502") != NULL, "why: %s", res.r.why);
    cr_expect(strstr(res.r.why, "gave up after 3 attempts") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    expect_pool_works();
}

Test(hostile, http_html_400_page_ends_with_the_status, .fini = teardown, .timeout = 30)
{
    start(2, 5000);
    httpd_on(
        srv, "/fapi/v1/depth",
        &(httpd_reply){ .status = 400, .body = "<html>bad</html>", .content_type = "text/html" });
    http_result res;
    int rc = http_fetch(pool, "/fapi/v1/depth?symbol=BTCUSDT", 5, deadline_in(WAIT_MS), &res);
    cr_expect_eq(rc, BF_EHTTP, "rc %d: %s", rc, res.r.why);
    cr_expect_eq(res.r.attempts, 1u, "4xx is not retried");
    cr_expect_eq(res.r.binance_code, 0);
    cr_expect(strstr(res.r.why, "400") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
}

/* ---- decoders: nesting, numbers, UTF-8 ----------------------------------------------------- */

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(hl + n + tl + 1);
    memcpy(s, head, hl);
    memset(s + hl, c, n);
    memcpy(s + hl + n, tail, tl + 1);
    return s;
}

static const char valid_depth[] =
    "{\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"T\":1,\"s\":"
    "\"BTCUSDT\",\"U\":2,\"u\":3,\"pu\":1,\"b\":[[\"1.0\",\"2\"]],\"a\":[]}}";

/* Decodes s with a fresh decoder: the code, the sentence, and that the decoder still works. */
static int decode_stream(const char *s, size_t len, char *why, size_t cap)
{
    stream_decoder *d = stream_decoder_create(NULL);
    stream_msg m;
    int rc = stream_decode(d, s, len, &m);
    snprintf(why, cap, "%s", rc < 0 ? stream_decoder_error(d) : "");
    cr_expect_eq(stream_decode(d, valid_depth, strlen(valid_depth), &m), 0,
                 "the decoder works after a hostile frame: %s", stream_decoder_error(d));
    stream_decoder_destroy(d);
    return rc;
}

static void expect_stream_rejects(const char *s, int want, const char *why_part)
{
    char why[256];
    int rc = decode_stream(s, strlen(s), why, sizeof why);
    cr_expect_eq(rc, want, "rc %d (%s) for %.60s...", rc, why, s);
    cr_expect(strstr(why, why_part) != NULL, "why: \"%s\", wanted \"%s\"", why, why_part);
}

Test(hostile, stream_deep_nesting_rejected_at_2048)
{
    char *deep = repeat("{\"stream\":\"btcusdt@depth\",\"data\":", '[', 100000, "");
    expect_stream_rejects(deep, BF_EDEPTH, "nest");
    free(deep);
    /* 2047 levels of arrays under the wrapper object = depth 2048: valid JSON, unknown type. */
    char *ok = repeat("{\"x\":", '[', 2047, "");
    size_t len = strlen(ok);
    ok = realloc(ok, len + 2047 + 2);
    memset(ok + len, ']', 2047);
    memcpy(ok + len + 2047, "}", 2);
    char why[256];
    int rc = decode_stream(ok, strlen(ok), why, sizeof why);
    cr_expect_eq(rc, BF_EUNSUPPORTED, "rc %d: %s", rc, why);
    free(ok);
}

Test(hostile, stream_huge_numbers_rejected)
{
    expect_stream_rejects("{\"e\":\"depthUpdate\",\"E\":1e999999,\"s\":\"X\",\"U\":2,\"u\":3,"
                          "\"b\":[],\"a\":[]}",
                          BF_ERANGE, "");
    char *digits = repeat("{\"e\":\"depthUpdate\",\"E\":", '9', 400,
                          ",\"s\":\"X\",\"U\":2,\"u\":3,\"b\":[],\"a\":[]}");
    expect_stream_rejects(digits, BF_ERANGE, "");
    free(digits);
    /* A 100-digit price string is valid JSON: the decoder keeps the slice, and the market's
     * conversion refuses it (more than DEC_MAX_CHARS = 40 characters). */
    char *price = repeat("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":2,\"u\":3,\"b\":[[\"",
                         '9', 100, "\",\"1\"]],\"a\":[]}");
    stream_decoder *d = stream_decoder_create(NULL);
    stream_msg m;
    cr_assert_eq(stream_decode(d, price, strlen(price), &m), 0, "%s", stream_decoder_error(d));
    dec_scale sc = dec_scale_plain(2);
    int64_t px = 0;
    cr_expect_eq(ev_level_px(&m.levels[0], &sc, &px), BF_EOVERLONG);
    stream_decoder_destroy(d);
    free(price);
}

Test(hostile, stream_invalid_utf8_rejected)
{
    /* A lone continuation byte, an overlong '/', a surrogate half and a truncated sequence. */
    const char *bad[] = {
        "{\"stream\":\"btcusdt@depth\x80\",\"data\":{}}",
        "{\"stream\":\"\xc0\xaf\",\"data\":{}}",
        "{\"stream\":\"\xed\xa0\x80\",\"data\":{}}",
        "{\"stream\":\"btc\xe2\x82\",\"data\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_stream_rejects(bad[i], BF_ESYNTAX, "UTF-8");
}

static int parse_info(const char *body, char *why, size_t cap)
{
    symtab *t = symtab_create();
    size_t skipped = 0;
    int rc = rest_parse_exchange_info(body, strlen(body), t, NULL, &skipped, why, cap);
    symtab_destroy(t);
    return rc;
}

Test(hostile, rest_bodies_reject_nesting_numbers_and_utf8)
{
    char why[256];
    char *deep = repeat("{\"symbols\":", '[', 100000, "");
    cr_expect_lt(parse_info(deep, why, sizeof why), 0);
    cr_expect_neq(why[0], '\0');
    free(deep);
    cr_expect_lt(parse_info("{\"symbols\":[],\"serverTime\":1e999999}", why, sizeof why), 0);
    cr_expect_neq(why[0], '\0');
    cr_expect_lt(parse_info("{\"symbols\":[{\"symbol\":\"BTC\xff\"}]}", why, sizeof why), 0);
    cr_expect_neq(why[0], '\0');
    cr_expect_lt(parse_info("<html>502 Bad Gateway</html>", why, sizeof why), 0);
    cr_expect_neq(why[0], '\0');
    int code = 7;
    char msg[64];
    char *digits = repeat("{\"code\":", '9', 400, ",\"msg\":\"x\"}");
    cr_expect_lt(rest_parse_error(digits, strlen(digits), &code, msg, sizeof msg), 0);
    free(digits);
    cr_expect_lt(rest_parse_error("{\"code\":-1,\"msg\":\"\xc3\"}", 18, &code, msg, sizeof msg), 0);
}
