/* http: the REST pool against the scripted test server (tests/support/httpd.c). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "net/http.h"
#include "util/clk.h"
#include "util/err.h"

#define MAX_RECS 16
#define WAIT_MS  10000

/* ---- completion collector: callbacks record here, the test waits on the condition ---- */

typedef struct rec {
    int calls, order;
    http_response r;
    char body[256];
} rec;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    rec recs[MAX_RECS];
} col = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { { 0 } } };

static void on_done(void *ctx, const http_response *r)
{
    rec *rc = ctx;
    pthread_mutex_lock(&col.mu);
    rc->calls++;
    rc->r = *r;
    snprintf(rc->body, sizeof rc->body, "%.*s", (int)r->len, r->body);
    rc->r.body = rc->body;
    rc->order = col.done++;
    pthread_cond_broadcast(&col.cv);
    pthread_mutex_unlock(&col.mu);
}

static bool wait_done(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&col.mu);
    int rc = 0;
    while (col.done < n && rc == 0)
        rc = pthread_cond_timedwait(&col.cv, &col.mu, &ts);
    bool ok = col.done >= n;
    pthread_mutex_unlock(&col.mu);
    return ok;
}

static rec *rec_at(int i)
{
    return &col.recs[i];
}

/* ---- fixtures ---- */

static httpd *srv;
static http_pool *pool;

static void start_server(bool tls)
{
    srv = httpd_start(tls);
    cr_assert_not_null(srv, "test server did not start");
}

static http_config base_cfg(void)
{
    return (http_config){
        .base_url = httpd_url(srv),
        .seed = 42,
        .backoff_min_ms = 1,
        .backoff_max_ms = 5,
        .max_in_flight = 2,
    };
}

static void start_pool(const http_config *cfg)
{
    char why[256] = "";
    int rc = http_create(cfg, &pool, why, sizeof why);
    cr_assert_eq(rc, 0, "http_create: %s", why);
}

static void teardown(void)
{
    http_destroy(pool);
    pool = NULL;
    httpd_stop(srv);
    srv = NULL;
}

static void get(const char *path, int weight, int prio, int slot, uint64_t *id)
{
    cr_assert_eq(http_get(pool, path, weight, prio, on_done, rec_at(slot), id), 0);
}

static httpd_request server_req(size_t i)
{
    httpd_request r;
    cr_assert(httpd_request_at(srv, i, &r), "server saw no request #%zu", i);
    return r;
}

static char *ca_path(void)
{
    static char path[1024];
    const char *root = getenv("BF_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/tests/data/tls/ca.pem", root ? root : ".");
    return path;
}

typedef bool (*stats_pred)(const http_stats *st);

/* Polls the pool's stats (a state, with a deadline) until pred holds. */
static bool wait_stats(stats_pred pred)
{
    int64_t deadline = clk_mono_ns() + WAIT_MS * CLK_NS_PER_MS;
    http_stats st;
    do {
        http_get_stats(pool, &st);
        if (pred(&st))
            return true;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    } while (clk_mono_ns() < deadline);
    return false;
}

static int64_t deadline_in(int64_t ms)
{
    return clk_mono_ns() + ms * CLK_NS_PER_MS;
}

/* ---- keep-alive and concurrency ---- */

Test(http, sequential_gets_share_one_connection, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/fapi/v1/time", &(httpd_reply){ .body = "{\"serverTime\":1}" });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    for (int i = 0; i < 5; i++) {
        http_result res;
        cr_assert_eq(http_fetch(pool, "/fapi/v1/time", 1, deadline_in(WAIT_MS), &res), 0, "%s",
                     res.r.why);
        cr_expect_eq(res.r.status, 200);
        cr_expect_str_eq(res.r.body, "{\"serverTime\":1}");
        cr_expect_eq(res.r.attempts, 1u);
        cr_expect_leq(res.r.queued_mono_ns, res.r.sent_mono_ns);
        cr_expect_lt(res.r.sent_mono_ns, res.r.done_mono_ns);
        cr_expect_gt(res.r.done_real_ns, 0);
        http_result_free(&res);
    }
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.conns_opened, 1u, "client opened %llu connections",
                 (unsigned long long)st.conns_opened);
    cr_expect_eq(httpd_conns(srv), 1u);
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(server_req(i).conn, 0u);
    cr_expect_eq(st.requests, 5u);
    cr_expect_eq(st.attempts, 5u);
    cr_expect_eq(st.failures, 0u);
    cr_expect_eq(st.retries, 0u);
    cr_expect_eq(st.queued, 0u);
    cr_expect_eq(st.in_flight, 0u);
    cr_expect_gt(st.last_rtt_ns, 0);
}

Test(http, concurrency_is_capped_at_max_in_flight, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/slow", &(httpd_reply){ .gate = 1, .body = "{\"ok\":1}" });
    http_config cfg = base_cfg();
    cfg.max_in_flight = 2;
    start_pool(&cfg);
    for (int i = 0; i < 5; i++)
        get("/slow", 1, HTTP_PRIO_NORMAL, i, NULL);
    cr_assert(httpd_wait_gated(srv, 1, 2, WAIT_MS), "two requests never reached the server");
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.in_flight, 2u);
    cr_expect_eq(st.queued, 3u);
    httpd_open_gate(srv, 1);
    cr_assert(wait_done(5));
    for (int i = 0; i < 5; i++)
        cr_expect_eq(rec_at(i)->r.err, 0, "%s", rec_at(i)->r.why);
    cr_expect_eq(httpd_peak_active(srv), 2u);
    cr_expect_eq(httpd_request_count(srv), 5u);
    http_get_stats(pool, &st);
    cr_expect_eq(httpd_conns(srv), 2u);
    cr_expect_eq(st.conns_opened, 2u);
}

/* The queue is bounded: past max_queued waiting requests http_get refuses at once (fn never runs)
 * and http_fetch says why; what was accepted still completes, and the pool takes requests again. */
Test(http, queue_is_bounded_at_max_queued, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/slow", &(httpd_reply){ .gate = 1, .body = "{\"ok\":1}" });
    http_config cfg = base_cfg();
    cfg.max_in_flight = 1;
    cfg.max_queued = 3;
    start_pool(&cfg);
    get("/slow", 1, HTTP_PRIO_NORMAL, 0, NULL);
    cr_assert(httpd_wait_gated(srv, 1, 1, WAIT_MS), "the first request never reached the server");
    for (int i = 1; i <= 3; i++)
        get("/slow", 1, HTTP_PRIO_NORMAL, i, NULL);
    cr_expect_eq(http_get(pool, "/slow", 1, HTTP_PRIO_HIGH, on_done, rec_at(4), NULL), BF_EAGAIN);
    http_result res;
    cr_expect_eq(http_fetch(pool, "/slow", 1, deadline_in(WAIT_MS), &res), BF_EAGAIN);
    cr_expect(strstr(res.r.why, "queue is full") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.queued, 3u);
    httpd_open_gate(srv, 1);
    cr_assert(wait_done(4));
    for (int i = 0; i < 4; i++)
        cr_expect_eq(rec_at(i)->r.err, 0, "%s", rec_at(i)->r.why);
    cr_expect_eq(rec_at(4)->calls, 0, "a refused request's callback never runs");
    get("/fapi/v1/ping", 1, HTTP_PRIO_NORMAL, 5, NULL);
    cr_assert(wait_done(5));
    cr_expect_eq(rec_at(5)->r.err, 0, "%s", rec_at(5)->r.why);
}

/* ---- retries ---- */

Test(http, retries_after_500, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/r", &(httpd_reply){ .status = 500, .times = 1 });
    httpd_on(srv, "/r", &(httpd_reply){ .body = "ok" });
    http_config cfg = base_cfg();
    cfg.backoff_min_ms = 30;
    cfg.backoff_max_ms = 60;
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/r", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    cr_expect_str_eq(res.r.body, "ok");
    cr_expect_eq(res.r.attempts, 2u);
    http_result_free(&res);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.retries, 1u);
    cr_expect_eq(st.attempts, 2u);
    cr_expect_eq(st.requests, 1u);
    cr_expect_eq(httpd_request_count(srv), 2u);
    cr_expect_eq(st.conns_opened, 1u, "a 500 keeps the connection alive");
    int64_t gap = server_req(1).arrival_mono_ns - server_req(0).sent_mono_ns;
    cr_expect_geq(gap, 30 * CLK_NS_PER_MS, "the retry came %lld ns after the 500", (long long)gap);
}

Test(http, retries_after_dropped_connection, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/d", &(httpd_reply){ .drop = true, .times = 1 });
    httpd_on(srv, "/d", &(httpd_reply){ .body = "ok" });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/d", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    cr_expect_str_eq(res.r.body, "ok");
    cr_expect_eq(res.r.attempts, 2u);
    http_result_free(&res);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.retries, 1u);
    cr_expect_eq(httpd_request_count(srv), 2u);
    cr_expect_eq(httpd_conns(srv), 2u);
    cr_expect_eq(st.conns_opened, 2u);
}

Test(http, gives_up_after_max_retries_on_5xx, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/e", &(httpd_reply){ .status = 503 });
    http_config cfg = base_cfg();
    cfg.max_retries = 2;
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/e", 1, deadline_in(WAIT_MS), &res), BF_EHTTP);
    cr_expect_eq(res.r.err, BF_EHTTP);
    cr_expect_eq(res.r.status, 503);
    cr_expect_eq(res.r.attempts, 3u);
    cr_expect(strstr(res.r.why, "HTTP 503") != NULL, "why: %s", res.r.why);
    cr_expect(strstr(res.r.why, "gave up after 3 attempts") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.retries, 2u);
    cr_expect_eq(st.failures, 1u);
    cr_expect_eq(httpd_request_count(srv), 3u);
}

Test(http, gives_up_after_max_retries_on_drops, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/d", &(httpd_reply){ .drop = true });
    http_config cfg = base_cfg();
    cfg.max_retries = 2;
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/d", 1, deadline_in(WAIT_MS), &res), BF_ENET);
    cr_expect_eq(res.r.status, 0);
    cr_expect_eq(res.r.attempts, 3u);
    cr_expect(strstr(res.r.why, "/d") != NULL, "why: %s", res.r.why);
    cr_expect(strstr(res.r.why, "gave up after 3 attempts") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    cr_expect_eq(httpd_request_count(srv), 3u);
}

Test(http, client_error_carries_binance_code, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(
        srv, "/fapi/v1/depth",
        &(httpd_reply){ .status = 400, .body = "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}" });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/fapi/v1/depth?symbol=NOPE", 5, deadline_in(WAIT_MS), &res),
                 BF_EHTTP);
    cr_expect_eq(res.r.status, 400);
    cr_expect_eq(res.r.binance_code, -1121);
    cr_expect(strstr(res.r.why, "Invalid symbol.") != NULL, "why: %s", res.r.why);
    cr_expect(strstr(res.r.why, "-1121") != NULL, "why: %s", res.r.why);
    cr_expect_eq(res.r.attempts, 1u, "a 4xx is not retried");
    cr_expect_str_eq(res.r.body, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
    http_result_free(&res);
    cr_expect_eq(httpd_request_count(srv), 1u);
}

/* ---- 429 / 418 holds ---- */

static bool saw_429(const http_stats *st)
{
    return st->status_429 == 1 && st->hold_until_mono_ns > 0;
}

Test(http, status_429_holds_every_request_until_retry_after, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/a",
             &(httpd_reply){ .status = 429,
                             .gate = 1,
                             .times = 1,
                             .headers = "Retry-After: 1\r\n",
                             .body = "{\"code\":-1003,\"msg\":\"Too many requests.\"}" });
    http_config cfg = base_cfg();
    cfg.max_in_flight = 1;
    start_pool(&cfg);
    get("/a", 1, HTTP_PRIO_NORMAL, 0, NULL);
    cr_assert(httpd_wait_gated(srv, 1, 1, WAIT_MS));
    get("/b", 1, HTTP_PRIO_NORMAL, 1, NULL); /* queued before the 429 */
    get("/c", 1, HTTP_PRIO_HIGH, 2, NULL);
    httpd_open_gate(srv, 1);
    cr_assert(wait_stats(saw_429), "the pool never entered the hold");
    get("/d", 1, HTTP_PRIO_HIGH, 3, NULL); /* queued during the hold */
    cr_assert(wait_done(4));
    for (int i = 0; i < 4; i++)
        cr_expect_eq(rec_at(i)->r.err, 0, "%s", rec_at(i)->r.why);
    cr_expect_eq(rec_at(0)->r.attempts, 2u, "the 429'd request is retried after the hold");

    httpd_request first = server_req(0);
    cr_assert_eq(first.status, 429);
    int64_t release = first.sent_mono_ns + 1 * CLK_NS_PER_S;
    cr_assert_eq(httpd_request_count(srv), 5u);
    for (size_t i = 1; i < 5; i++) {
        httpd_request r = server_req(i);
        cr_expect_geq(r.arrival_mono_ns, release, "%s arrived %lld ns before Retry-After ended",
                      r.path, (long long)(release - r.arrival_mono_ns));
    }
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.status_429, 1u);
    cr_expect_eq(st.hold_until_mono_ns, 0, "the hold is over");
}

Test(http, status_429_without_retry_after_holds_until_window_end, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/a", &(httpd_reply){ .status = 429, .times = 1 });
    http_config cfg = base_cfg();
    cfg.window_ms = 300;
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/a", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    http_result_free(&res);
    int64_t win = cfg.window_ms * CLK_NS_PER_MS;
    int64_t window_end = (server_req(0).sent_real_ns / win + 1) * win;
    cr_expect_geq(server_req(1).arrival_real_ns, window_end);
}

Test(http, status_418_honours_banned_until, .fini = teardown, .timeout = 30)
{
    start_server(false);
    int64_t until_ms = clk_real_ns() / CLK_NS_PER_MS + 1200;
    char body[256];
    snprintf(body, sizeof body,
             "{\"code\":-1003,\"msg\":\"Way too many requests; IP(127.0.0.1) banned until %lld. "
             "Please use the websocket for live updates to avoid bans.\"}",
             (long long)until_ms);
    httpd_on(srv, "/ban", &(httpd_reply){ .status = 418, .times = 1, .body = body });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/ban", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    cr_expect_eq(res.r.attempts, 2u);
    http_result_free(&res);
    /* Mono/real conversion of the ban end may be off by clock slewing: allow 2 ms. */
    int64_t earliest = until_ms * CLK_NS_PER_MS - 2 * CLK_NS_PER_MS;
    cr_expect_geq(server_req(1).arrival_real_ns, earliest);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.status_418, 1u);
}

Test(http, repeated_429_ends_banned_after_max_retries, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/a", &(httpd_reply){ .status = 429, .headers = "Retry-After: 0\r\n" });
    http_config cfg = base_cfg();
    cfg.max_retries = 1;
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/a", 1, deadline_in(WAIT_MS), &res), BF_EBANNED);
    cr_expect_eq(res.r.status, 429);
    cr_expect_eq(res.r.attempts, 2u);
    cr_expect(strstr(res.r.why, "HTTP 429") != NULL, "why: %s", res.r.why);
    cr_expect(strstr(res.r.why, "gave up after 2 attempts") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.status_429, 2u);
}

Test(http, status_408_is_retried, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/t", &(httpd_reply){ .status = 408, .times = 1 });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/t", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    cr_expect_eq(res.r.attempts, 2u);
    cr_expect_eq(res.r.status, 200);
    http_result_free(&res);
}

/* ---- weight budget ---- */

Test(http, weight_budget_defers_to_next_window, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/w1", &(httpd_reply){ .headers = "X-MBX-USED-WEIGHT-1M: 75\r\n" });
    http_config cfg = base_cfg();
    cfg.weight_limit = 100; /* budget 80 */
    cfg.window_ms = 400;
    cfg.max_in_flight = 1;
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/w1", 5, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    cr_expect_eq(res.r.used_weight, 75);
    int64_t win = cfg.window_ms * CLK_NS_PER_MS;
    int64_t done_real = res.r.done_real_ns;
    http_result_free(&res);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.held_by_budget, 0u, "weight 5 fitted the empty window");

    cr_assert_eq(http_fetch(pool, "/w2", 10, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    cr_expect_eq(res.r.used_weight, -1);
    http_result_free(&res);
    int64_t next_window = (done_real / win + 1) * win;
    cr_expect_geq(server_req(1).arrival_real_ns, next_window, "75 + 10 > 80 must wait");
    http_get_stats(pool, &st);
    /* Unless the window happened to roll over between the two requests, the pool held one. */
    if (next_window - done_real > 20 * CLK_NS_PER_MS)
        cr_expect_eq(st.held_by_budget, 1u);
    cr_expect_eq(st.weight_limit, 100);
}

Test(http, set_limit_and_used_weight_in_stats, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/x", &(httpd_reply){ .headers = "x-mbx-used-weight-1m: 17\r\n" });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.weight_limit, 2400);
    cr_expect_eq(st.used_weight, -1);
    http_set_limit(pool, 1200);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/x", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    http_result_free(&res);
    http_get_stats(pool, &st);
    cr_expect_eq(st.weight_limit, 1200);
    /* The window is a wall-clock minute: the value is known unless it just rolled over. */
    if (clk_real_ns() / CLK_NS_PER_MS % 60000 > 100)
        cr_expect_eq(st.used_weight, 17);
    cr_expect_eq(st.used_weight_peak, 17);
    /* a lower value later: the last one is in use, the peak stays */
    httpd_on(srv, "/y", &(httpd_reply){ .headers = "x-mbx-used-weight-1m: 5\r\n" });
    cr_assert_eq(http_fetch(pool, "/y", 1, deadline_in(WAIT_MS), &res), 0, "%s", res.r.why);
    http_result_free(&res);
    http_get_stats(pool, &st);
    cr_expect_eq(st.used_weight_peak, 17, "the peak is the highest header seen");
}

/* ---- priorities ---- */

static void gate_first_request(uint64_t *id)
{
    httpd_on(srv, "/first", &(httpd_reply){ .gate = 1 });
    http_config cfg = base_cfg();
    cfg.max_in_flight = 1;
    start_pool(&cfg);
    get("/first", 1, HTTP_PRIO_LOW, 0, id);
    cr_assert(httpd_wait_gated(srv, 1, 1, WAIT_MS));
}

static void expect_server_order(const char *const *paths, size_t n)
{
    cr_assert_eq(httpd_request_count(srv), n);
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(server_req(i).path, paths[i], "request #%zu", i);
}

Test(http, highest_priority_first_fifo_within, .fini = teardown, .timeout = 30)
{
    start_server(false);
    gate_first_request(NULL);
    const char *paths[] = { "/l1", "/n1", "/h1", "/n2", "/l2", "/h2" };
    const int prios[] = { HTTP_PRIO_LOW,    HTTP_PRIO_NORMAL, HTTP_PRIO_HIGH,
                          HTTP_PRIO_NORMAL, HTTP_PRIO_LOW,    HTTP_PRIO_HIGH };
    for (int i = 0; i < 6; i++)
        get(paths[i], 1, prios[i], i + 1, NULL);
    httpd_open_gate(srv, 1);
    cr_assert(wait_done(7));
    const char *want[] = { "/first", "/h1", "/h2", "/n1", "/n2", "/l1", "/l2" };
    expect_server_order(want, 7);
    cr_expect_eq(rec_at(3)->order, 1, "/h1 completes right after /first");
    cr_expect_eq(rec_at(5)->order, 6, "/l2 completes last");
}

Test(http, set_priority_moves_a_queued_request_forward, .fini = teardown, .timeout = 30)
{
    start_server(false);
    uint64_t first = 0, c = 0;
    gate_first_request(&first);
    get("/a", 1, HTTP_PRIO_LOW, 1, NULL);
    get("/b", 1, HTTP_PRIO_LOW, 2, NULL);
    get("/c", 1, HTTP_PRIO_LOW, 3, &c);
    cr_expect_eq(http_set_priority(pool, c, HTTP_PRIO_HIGH), 0);
    cr_expect_eq(http_set_priority(pool, first, HTTP_PRIO_HIGH), BF_ENOENT, "already in flight");
    cr_expect_eq(http_set_priority(pool, 987654, HTTP_PRIO_HIGH), BF_ENOENT);
    cr_expect_eq(http_set_priority(pool, c, 7), BF_EINVAL);
    httpd_open_gate(srv, 1);
    cr_assert(wait_done(4));
    const char *want[] = { "/first", "/c", "/a", "/b" };
    expect_server_order(want, 4);
}

/* ---- TLS ---- */

Test(http, https_with_ca_file_succeeds, .fini = teardown, .timeout = 30)
{
    start_server(true);
    httpd_on(srv, "/fapi/v1/ping", &(httpd_reply){ .body = "{}" });
    http_config cfg = base_cfg();
    cfg.ca_file = ca_path();
    start_pool(&cfg);
    for (int i = 0; i < 2; i++) {
        http_result res;
        cr_assert_eq(http_fetch(pool, "/fapi/v1/ping", 1, deadline_in(WAIT_MS), &res), 0, "%s",
                     res.r.why);
        cr_expect_str_eq(res.r.body, "{}");
        http_result_free(&res);
    }
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.conns_opened, 1u, "the TLS connection is kept alive");
}

Test(http, https_without_ca_file_fails_verification, .fini = teardown, .timeout = 30)
{
    start_server(true);
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/fapi/v1/ping", 1, deadline_in(WAIT_MS), &res), BF_ENET);
    cr_expect(strstr(res.r.why, "certificate") != NULL, "why: %s", res.r.why);
    cr_expect_eq(res.r.attempts, 1u, "a certificate failure is not retried");
    http_result_free(&res);
}

Test(http, create_rejects_bad_input, .timeout = 30)
{
    char why[256] = "";
    http_pool *p = NULL;
    http_config cfg = { .base_url = "ftp://example.com" };
    cr_expect_eq(http_create(&cfg, &p, why, sizeof why), BF_EINVAL);
    cr_expect(strstr(why, "ftp://example.com") != NULL, "why: %s", why);
    cr_expect_null(p);
    cfg.base_url = "https://127.0.0.1:1";
    cfg.ca_file = "/nonexistent/ca.pem";
    cr_expect_eq(http_create(&cfg, &p, why, sizeof why), BF_EIO);
    cr_expect(strstr(why, "/nonexistent/ca.pem") != NULL, "why: %s", why);
    cfg.ca_file = NULL;
    cr_assert_eq(http_create(&cfg, &p, why, sizeof why), 0, "%s", why);
    cr_expect_eq(http_get(p, "no-slash", 1, HTTP_PRIO_LOW, on_done, rec_at(0), NULL), BF_EINVAL);
    cr_expect_eq(http_get(p, "/x", 1, 9, on_done, rec_at(0), NULL), BF_EINVAL);
    cr_expect_eq(http_get(p, "/x", 1, HTTP_PRIO_LOW, NULL, NULL, NULL), BF_EINVAL);
    http_destroy(p);
    cr_expect_eq(rec_at(0)->calls, 0);
}

/* ---- deadlines and shutdown ---- */

static bool fetch_cancelled(const http_stats *st)
{
    return st->requests == 1 && st->in_flight == 0;
}

Test(http, fetch_deadline_times_out, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/slow", &(httpd_reply){ .gate = 1 });
    http_config cfg = base_cfg();
    start_pool(&cfg);
    http_result res;
    cr_assert_eq(http_fetch(pool, "/slow", 1, deadline_in(100), &res), BF_ETIMEDOUT);
    cr_expect_eq(res.r.err, BF_ETIMEDOUT);
    cr_expect(strstr(res.r.why, "deadline") != NULL, "why: %s", res.r.why);
    http_result_free(&res);
    cr_assert(wait_stats(fetch_cancelled), "the abandoned request was not cancelled");
    http_stats st;
    http_get_stats(pool, &st);
    cr_expect_eq(st.failures, 1u);
}

Test(http, destroy_completes_pending_requests_once, .fini = teardown, .timeout = 30)
{
    start_server(false);
    httpd_on(srv, "/g", &(httpd_reply){ .gate = 1 });
    http_config cfg = base_cfg();
    cfg.max_in_flight = 1;
    start_pool(&cfg);
    for (int i = 0; i < 4; i++)
        get("/g", 1, HTTP_PRIO_NORMAL, i, NULL);
    cr_assert(httpd_wait_gated(srv, 1, 1, WAIT_MS));
    http_destroy(pool);
    pool = NULL;
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(rec_at(i)->calls, 1, "request %d: %d callbacks", i, rec_at(i)->calls);
        cr_expect_eq(rec_at(i)->r.err, BF_ECLOSED);
        cr_expect(strstr(rec_at(i)->r.why, "/g") != NULL, "why: %s", rec_at(i)->r.why);
    }
}
