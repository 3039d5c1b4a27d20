/*
 * The loopback exchange over real sockets: REST (libcurl and a raw keep-alive connection), WS and
 * WSS (tests/support/wsc), faults, limits and the `bfmon sim` command. Most tests serve a small
 * fake source defined here (deterministic, one message per stream per tick); the model-backed
 * tests at the end run when sim/model.c is built.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/model.h"
#include "sim/server.h"
#include "testutil.h"
#include "util/err.h"
#include "wsc.h"

#define TMO 5000 /* ms: generous deadline for anything that must happen */

/* ---- the fake source ---- */

typedef struct fake_stream {
    char name[64];
    int want;
    int64_t last_emit, last_u;
} fake_stream;

typedef struct fake_src {
    source base;
    pthread_mutex_t mu; /* want counts are read by the test thread */
    fake_stream st[64];
    size_t n;
    int64_t next_id;
    bool quiet;
} fake_src;

static fake_src *g_fake;
static const char *const fake_syms[] = { "BTCUSDT", "ETHUSDT" };

static int fake_sym(const char *stream, size_t *len)
{
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(fake_syms[i]);
        if (strncasecmp(stream, fake_syms[i], n) == 0 && stream[n] == '@' &&
            (stream[0] < 'A' || stream[0] > 'Z')) {
            *len = n;
            return i;
        }
    }
    return -1;
}

static int fake_check(const source *s, const char *stream, source_route *route)
{
    (void)s;
    size_t n;
    if (fake_sym(stream, &n) < 0)
        return BF_EINVAL;
    const char *k = stream + n + 1;
    if (!strcmp(k, "depth") || !strcmp(k, "depth@100ms") || !strcmp(k, "bookTicker")) {
        *route = SOURCE_ROUTE_PUBLIC;
        return 0;
    }
    if (!strcmp(k, "aggTrade") || !strcmp(k, "markPrice")) {
        *route = SOURCE_ROUTE_MARKET;
        return 0;
    }
    return BF_EINVAL;
}

static fake_stream *fake_find(fake_src *f, const char *name, bool create)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->st[i].name, name))
            return &f->st[i];
    if (!create || f->n == 64)
        return NULL;
    fake_stream *st = &f->st[f->n++];
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    return st;
}

static void fake_want(source *s, const char *stream, bool want)
{
    fake_src *f = (fake_src *)s;
    pthread_mutex_lock(&f->mu);
    fake_stream *st = fake_find(f, stream, true);
    if (st)
        st->want += want ? 1 : -1;
    pthread_mutex_unlock(&f->mu);
}

static int fake_wanted(const char *stream)
{
    pthread_mutex_lock(&g_fake->mu);
    fake_stream *st = fake_find(g_fake, stream, false);
    int w = st ? st->want : 0;
    pthread_mutex_unlock(&g_fake->mu);
    return w;
}

static int fake_msg(fake_src *f, fake_stream *st, int64_t now, char *buf, size_t cap)
{
    size_t n;
    const char *sym = fake_syms[fake_sym(st->name, &n)];
    const char *k = st->name + n + 1;
    int64_t first = f->next_id + 1, u = f->next_id + 3;
    f->next_id = u;
    if (!strncmp(k, "depth", 5)) {
        int len = snprintf(buf, cap,
                           "{\"e\":\"depthUpdate\",\"E\":%lld,\"T\":%lld,\"s\":\"%s\",\"U\":%lld,"
                           "\"u\":%lld,\"pu\":%lld,\"b\":[[\"100.0\",\"1.000\"]],\"a\":[]}",
                           (long long)now, (long long)now, sym, (long long)first, (long long)u,
                           (long long)st->last_u);
        st->last_u = u;
        return len;
    }
    if (!strcmp(k, "bookTicker"))
        return snprintf(buf, cap,
                        "{\"e\":\"bookTicker\",\"u\":%lld,\"s\":\"%s\",\"b\":\"100.0\",\"B\":\"1\","
                        "\"a\":\"101.0\",\"A\":\"1\",\"T\":%lld,\"E\":%lld}",
                        (long long)u, sym, (long long)now, (long long)now);
    return snprintf(buf, cap, "{\"e\":\"%s\",\"E\":%lld,\"s\":\"%s\",\"a\":%lld}",
                    !strcmp(k, "aggTrade") ? "aggTrade" : "markPriceUpdate", (long long)now, sym,
                    (long long)u);
}

static void fake_advance(source *s, int64_t now, source_emit_fn emit, void *ctx)
{
    fake_src *f = (fake_src *)s;
    if (f->quiet)
        return;
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        fake_stream *st = &f->st[i];
        pthread_mutex_lock(&f->mu);
        int want = st->want;
        pthread_mutex_unlock(&f->mu);
        if (want <= 0)
            continue;
        char buf[512];
        int len = fake_msg(f, st, now, buf, sizeof buf);
        source_msg m = { st->name, buf, (size_t)len, strstr(st->name, "@depth") != NULL };
        emit(ctx, &m);
    }
}

static int fake_depth(source *s, const char *symbol, int limit, int64_t now, char *buf, size_t cap)
{
    fake_src *f = (fake_src *)s;
    (void)limit;
    if (strcmp(symbol, "BTCUSDT") && strcmp(symbol, "ETHUSDT"))
        return BF_ENOENT;
    char name[64];
    snprintf(name, sizeof name, "%s@depth", symbol);
    for (char *p = name; *p && *p != '@'; p++)
        *p = (char)tolower((unsigned char)*p);
    pthread_mutex_lock(&f->mu);
    fake_stream *st = fake_find(f, name, false);
    int64_t last = st && st->last_u ? st->last_u : f->next_id;
    pthread_mutex_unlock(&f->mu);
    return snprintf(buf, cap,
                    "{\"lastUpdateId\":%lld,\"E\":%lld,\"T\":%lld,\"bids\":[[\"100.0\",\"1.000\"]],"
                    "\"asks\":[[\"101.0\",\"1.000\"]]}",
                    (long long)last, (long long)now, (long long)now);
}

static int fake_exinfo(source *s, int64_t now, char *buf, size_t cap)
{
    (void)s;
    return snprintf(
        buf, cap,
        "{\"timezone\":\"UTC\",\"serverTime\":%lld,\"symbols\":[{\"symbol\":\"BTCUSDT\"},"
        "{\"symbol\":\"ETHUSDT\"}]}",
        (long long)now);
}

static int fake_one_ticker(const char *sym, int64_t now, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "{\"symbol\":\"%s\",\"bidPrice\":\"100.0\",\"bidQty\":\"1\",\"askPrice\":"
                    "\"101.0\",\"askQty\":\"1\",\"time\":%lld}",
                    sym, (long long)now);
}

static int fake_bookt(source *s, const char *symbol, int64_t now, char *buf, size_t cap)
{
    (void)s;
    if (!symbol) {
        int n = snprintf(buf, cap, "[");
        n += fake_one_ticker("BTCUSDT", now, buf + n, cap - (size_t)n);
        n += snprintf(buf + n, cap - (size_t)n, ",");
        n += fake_one_ticker("ETHUSDT", now, buf + n, cap - (size_t)n);
        return n + snprintf(buf + n, cap - (size_t)n, "]");
    }
    if (strcmp(symbol, "BTCUSDT") && strcmp(symbol, "ETHUSDT"))
        return BF_ENOENT;
    return fake_one_ticker(symbol, now, buf, cap);
}

static int fake_premium(source *s, const char *symbol, int64_t now, char *buf, size_t cap)
{
    (void)s;
    if (symbol && strcmp(symbol, "BTCUSDT") && strcmp(symbol, "ETHUSDT"))
        return BF_ENOENT;
    return snprintf(buf, cap, "%s{\"symbol\":\"%s\",\"markPrice\":\"100.5\",\"time\":%lld}%s",
                    symbol ? "" : "[", symbol ? symbol : "BTCUSDT", (long long)now,
                    symbol ? "" : "]");
}

static void fake_set_quiet(source *s, bool quiet)
{
    ((fake_src *)s)->quiet = quiet;
}

static size_t fake_count(const source *s)
{
    (void)s;
    return 2;
}

static const char *fake_at(const source *s, size_t i)
{
    (void)s;
    return fake_syms[i];
}

static size_t fake_max_body(const source *s)
{
    (void)s;
    return 4096;
}

static void fake_destroy(source *s)
{
    fake_src *f = (fake_src *)s;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static const source_ops fake_ops = {
    fake_advance, fake_check,     fake_want,  fake_depth, fake_exinfo,   fake_bookt,
    fake_premium, fake_set_quiet, fake_count, fake_at,    fake_max_body, fake_destroy,
};

static source *fake_new(void)
{
    fake_src *f = calloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    f->next_id = 1000;
    pthread_mutex_init(&f->mu, NULL);
    g_fake = f;
    return &f->base;
}

/* ---- helpers ---- */

static char *g_ca, *g_cert, *g_key;

static void tls_paths(void)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    cr_assert(root, "BF_SOURCE_ROOT is not set");
    static char ca[1024], cert[1024], key[1024];
    snprintf(ca, sizeof ca, "%s/tests/data/tls/ca.pem", root);
    snprintf(cert, sizeof cert, "%s/tests/data/tls/server.pem", root);
    snprintf(key, sizeof key, "%s/tests/data/tls/server.key", root);
    g_ca = ca;
    g_cert = cert;
    g_key = key;
}

static sim_server_config base_cfg(void)
{
    sim_server_config c;
    memset(&c, 0, sizeof c);
    c.src = fake_new();
    c.tls_port = -1;
    return c;
}

static sim_server *start(sim_server_config *c)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sim_server *s;
    char why[256];
    int rc = sim_server_create(c, &s, why, sizeof why);
    cr_assert_eq(rc, 0, "sim_server_create: %s", why);
    cr_assert_eq(sim_server_start(s), 0);
    return s;
}

static sim_server *start_default(void)
{
    sim_server_config c = base_cfg();
    return start(&c);
}

static void url_of(sim_server *s, bool tls, const char *scheme, const char *path, char *buf,
                   size_t cap)
{
    snprintf(buf, cap, "%s://127.0.0.1:%d%s", scheme, sim_server_port(s, tls), path);
}

typedef struct http_res {
    long status;
    char body[65536];
    size_t len;
    char weight[32], retry_after[32], ctype[128];
    CURLcode rc;
} http_res;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    http_res *r = ud;
    size_t k = sz * n;
    if (r->len + k < sizeof r->body) {
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
    }
    return k;
}

static void header_val(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (n > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
        const char *v = line + nl + 1;
        while (*v == ' ')
            v++;
        size_t vl = (size_t)(line + n - v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(dst, cap, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    http_res *r = ud;
    header_val(p, sz * n, "x-mbx-used-weight-1m", r->weight, sizeof r->weight);
    header_val(p, sz * n, "retry-after", r->retry_after, sizeof r->retry_after);
    header_val(p, sz * n, "content-type", r->ctype, sizeof r->ctype);
    return sz * n;
}

/* One request on handle h (reused by the caller for keep-alive), or a fresh one. */
static void http_do(CURL *h, const char *url, const char *post, const char *ca, http_res *r)
{
    memset(r, 0, sizeof *r);
    bool own = !h;
    if (own)
        h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    if (post)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    else
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    r->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (own)
        curl_easy_cleanup(h);
}

static void get(sim_server *s, const char *path, http_res *r)
{
    char url[512];
    url_of(s, false, "http", path, url, sizeof url);
    http_do(NULL, url, NULL, NULL, r);
    cr_assert_eq(r->rc, CURLE_OK, "GET %s: %s", path, curl_easy_strerror(r->rc));
}

static void post(sim_server *s, const char *path, const char *body, http_res *r)
{
    char url[512];
    url_of(s, false, "http", path, url, sizeof url);
    http_do(NULL, url, body, NULL, r);
    cr_assert_eq(r->rc, CURLE_OK, "POST %s: %s", path, curl_easy_strerror(r->rc));
}

static wsc *ws_open(sim_server *s, const char *path)
{
    char url[1024], why[256];
    url_of(s, false, "ws", path, url, sizeof url);
    wsc *c;
    int rc = wsc_connect(url, NULL, TMO, &c, why, sizeof why);
    cr_assert_eq(rc, 0, "connect %s: %s", path, why);
    return c;
}

/* The next data message (fails the test on timeout / close). */
static json_t *next_json(wsc *c, wsc_msg *keep)
{
    wsc_msg m;
    int rc = wsc_read_message(c, TMO, &m);
    cr_assert_eq(rc, 0, "read: %s", bf_strerror(rc));
    cr_assert_eq(m.opcode, WSC_TEXT, "expected text, got opcode %d (%s)", m.opcode, m.data);
    json_t *j = json_loadb(m.data, m.len, 0, NULL);
    cr_assert(j, "not JSON: %s", m.data);
    if (keep)
        *keep = m;
    else
        wsc_msg_free(&m);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v ? v : "";
}

static long long jint(json_t *j, const char *key)
{
    return (long long)json_integer_value(json_object_get(j, key));
}

/* Read data messages until one is a reply (has "id"); returns it. */
static json_t *next_reply(wsc *c)
{
    for (int i = 0; i < 10000; i++) {
        json_t *j = next_json(c, NULL);
        if (json_object_get(j, "id"))
            return j;
        json_decref(j);
    }
    cr_assert_fail("no reply");
    return NULL;
}

static void send_json(wsc *c, const char *txt)
{
    cr_assert_eq(wsc_send_text(c, txt), 0);
}

/* Poll a condition with a deadline (not a sleep as synchronisation: the condition decides). */
static void short_pause(void)
{
    struct timespec ts = { 0, 2 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        int waited_ = 0;                                                                           \
        while (!(cond) && waited_ < TMO / 2) {                                                     \
            short_pause();                                                                         \
            waited_++;                                                                             \
        }                                                                                          \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

static sim_server_stats stats_of(sim_server *s)
{
    sim_server_stats st;
    sim_server_get_stats(s, &st);
    return st;
}

/* The connection ends: a close frame (its code returned) or a dropped TCP connection (-2). */
static int wait_end(wsc *c)
{
    for (;;) {
        wsc_msg m;
        int rc = wsc_read_message(c, TMO, &m);
        if (rc == BF_ECLOSED)
            return -2;
        cr_assert_eq(rc, 0, "read: %s", bf_strerror(rc));
        if (m.opcode == WSC_CLOSE) {
            int code = m.close_code;
            wsc_msg_free(&m);
            return code;
        }
        wsc_msg_free(&m);
    }
}

/* ---- creation, URLs ---- */

Test(server, ephemeral_ports_and_urls_json)
{
    tls_paths();
    sim_server_config c = base_cfg();
    c.cert_file = g_cert;
    c.key_file = g_key;
    c.tls_port = 0;
    sim_server *s = start(&c);
    int p = sim_server_port(s, false), q = sim_server_port(s, true);
    cr_assert(p > 0 && q > 0 && p != q, "ports %d %d", p, q);
    char buf[1024], want[128];
    cr_assert(sim_server_urls_json(s, buf, sizeof buf) > 0);
    json_t *j = json_loads(buf, 0, NULL);
    cr_assert(j, "urls json: %s", buf);
    snprintf(want, sizeof want, "http://127.0.0.1:%d", p);
    cr_assert_str_eq(jstr(j, "rest"), want);
    snprintf(want, sizeof want, "ws://127.0.0.1:%d", p);
    cr_assert_str_eq(jstr(j, "ws"), want);
    snprintf(want, sizeof want, "https://127.0.0.1:%d", q);
    cr_assert_str_eq(jstr(j, "rest_tls"), want);
    snprintf(want, sizeof want, "wss://127.0.0.1:%d", q);
    cr_assert_str_eq(jstr(j, "ws_tls"), want);
    json_t *syms = json_object_get(j, "symbols");
    cr_assert_eq(json_array_size(syms), 2);
    cr_assert_str_eq(json_string_value(json_array_get(syms, 0)), "BTCUSDT");
    json_decref(j);
    cr_assert_lt(sim_server_urls_json(s, buf, 10), 0, "a short buffer is an error");
    sim_server_destroy(s);
}

Test(server, plain_only_urls_have_no_tls_keys)
{
    sim_server *s = start_default();
    cr_assert_eq(sim_server_port(s, true), -1);
    char buf[1024];
    cr_assert(sim_server_urls_json(s, buf, sizeof buf) > 0);
    cr_assert_null(strstr(buf, "rest_tls"));
    cr_assert_null(strstr(buf, "wss"));
    sim_server_destroy(s);
}

Test(server, bad_config_is_refused)
{
    char why[256] = "";
    sim_server *s;
    sim_server_config c = base_cfg();
    const char *faults[] = { "explode,at=1s" };
    c.faults = faults;
    c.nfaults = 1;
    cr_assert_eq(sim_server_create(&c, &s, why, sizeof why), BF_EINVAL);
    cr_assert(strstr(why, "explode"), "why: %s", why);
    c = base_cfg();
    c.cert_file = "/nonexistent/cert.pem";
    cr_assert_eq(sim_server_create(&c, &s, why, sizeof why), BF_EINVAL, "cert without key");
    c = base_cfg();
    c.cert_file = "/nonexistent/cert.pem";
    c.key_file = "/nonexistent/key.pem";
    c.tls_port = 0;
    cr_assert_lt(sim_server_create(&c, &s, why, sizeof why), 0, "unreadable certificate");
    cr_assert(why[0]);
}

/* ---- REST ---- */

Test(server, rest_endpoints_bodies_and_headers)
{
    sim_server *s = start_default();
    http_res r;
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{}");
    cr_assert_str_eq(r.weight, "1");
    cr_assert(strstr(r.ctype, "application/json"), "content-type %s", r.ctype);
    get(s, "/fapi/v1/time", &r);
    cr_assert(strncmp(r.body, "{\"serverTime\":", 14) == 0, "%s", r.body);
    cr_assert_str_eq(r.weight, "2");
    get(s, "/fapi/v1/exchangeInfo", &r);
    cr_assert(strstr(r.body, "\"symbols\""), "%s", r.body);
    cr_assert_str_eq(r.weight, "3");
    get(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strncmp(r.body, "{\"lastUpdateId\":", 16) == 0, "%s", r.body);
    cr_assert_str_eq(r.weight, "23", "limit 1000 weighs 20");
    get(s, "/fapi/v1/depth?symbol=ETHUSDT", &r);
    cr_assert_str_eq(r.weight, "33", "default limit 500 weighs 10");
    get(s, "/fapi/v1/depth?symbol=ETHUSDT&limit=100", &r);
    cr_assert_str_eq(r.weight, "38");
    get(s, "/fapi/v1/depth?symbol=ETHUSDT&limit=5", &r);
    cr_assert_str_eq(r.weight, "40");
    get(s, "/fapi/v1/ticker/bookTicker?symbol=BTCUSDT", &r);
    cr_assert(strstr(r.body, "\"symbol\":\"BTCUSDT\""), "%s", r.body);
    cr_assert_str_eq(r.weight, "42");
    get(s, "/fapi/v1/ticker/bookTicker", &r);
    cr_assert_eq(r.body[0], '[');
    cr_assert_str_eq(r.weight, "47");
    get(s, "/fapi/v1/premiumIndex?symbol=ETHUSDT", &r);
    cr_assert(strstr(r.body, "\"markPrice\""), "%s", r.body);
    cr_assert_str_eq(r.weight, "48");
    get(s, "/fapi/v1/premiumIndex", &r);
    cr_assert_eq(r.body[0], '[');
    cr_assert_str_eq(r.weight, "58");
    cr_assert_eq(stats_of(s).weight_used, 58);
    cr_assert_eq(stats_of(s).http_requests, 11);
    sim_server_destroy(s);
}

static void expect_error(sim_server *s, const char *path, long status, int code, const char *msg)
{
    http_res r;
    get(s, path, &r);
    cr_assert_eq(r.status, status, "%s: status %ld", path, r.status);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert(j, "%s: body %s", path, r.body);
    cr_assert_eq(jint(j, "code"), code, "%s: %s", path, r.body);
    cr_assert_str_eq(jstr(j, "msg"), msg, "%s", path);
    cr_assert(r.weight[0], "errors carry the weight header too");
    json_decref(j);
}

Test(server, rest_errors)
{
    sim_server *s = start_default();
    expect_error(s, "/fapi/v1/depth?symbol=XYZUSDT", 400, -1121, "Invalid symbol.");
    expect_error(s, "/fapi/v1/ticker/bookTicker?symbol=XYZUSDT", 400, -1121, "Invalid symbol.");
    expect_error(s, "/fapi/v1/depth?symbol=btcusdt", 400, -1100,
                 "Illegal characters found in parameter 'symbol'; legal range is "
                 "'^[A-Z0-9-_.]{1,20}$'.");
    expect_error(s, "/fapi/v1/depth", 400, -1102,
                 "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    expect_error(s, "/fapi/v1/depth?symbol=", 400, -1102,
                 "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    expect_error(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=7", 400, -1130,
                 "Data sent for parameter 'limit' is not valid.");
    expect_error(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=ab", 400, -1100,
                 "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
    expect_error(s, "/fapi/v1/nothing", 404, -5, "Not found.");
    expect_error(s, "/", 404, -5, "Not found.");
    sim_server_destroy(s);
}

Test(server, weight_limit_429_then_418_ban)
{
    sim_server_config c = base_cfg();
    c.weight_limit = 5;
    sim_server *s = start(&c);
    http_res r;
    for (int i = 1; i <= 5; i++) {
        get(s, "/fapi/v1/ping", &r);
        cr_assert_eq(r.status, 200, "request %d", i);
    }
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 429);
    cr_assert(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 60, "Retry-After %s",
              r.retry_after);
    cr_assert(strstr(r.body, "\"code\":-1003"), "%s", r.body);
    cr_assert(strstr(r.body, "Too many requests; current limit of IP(127.0.0.1) is 5 requests "
                             "per minute."),
              "%s", r.body);
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 418, "kept going during a 429: banned");
    cr_assert(strstr(r.body, "Way too many requests; IP(127.0.0.1) banned until "), "%s", r.body);
    cr_assert(atoi(r.retry_after) >= 1, "Retry-After %s", r.retry_after);
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 418, "still banned");
    sim_server_stats st = stats_of(s);
    cr_assert_eq(st.http_429, 1);
    cr_assert_eq(st.http_418, 2);
    cr_assert_eq(st.http_during_ban, 1);
    get(s, "/sim/stats", &r);
    cr_assert_eq(r.status, 200, "the control plane is not rate limited");
    sim_server_destroy(s);
}

Test(server, keep_alive_reuses_one_connection)
{
    sim_server *s = start_default();
    char url[256];
    url_of(s, false, "http", "/fapi/v1/depth?symbol=BTCUSDT&limit=5", url, sizeof url);
    CURL *h = curl_easy_init();
    http_res r;
    for (int i = 0; i < 20; i++) {
        http_do(h, url, NULL, NULL, &r);
        cr_assert_eq(r.rc, CURLE_OK);
        cr_assert_eq(r.status, 200);
        long connects = -1;
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
        cr_assert_eq(connects, i == 0 ? 1 : 0, "request %d opened a new connection", i);
    }
    curl_easy_cleanup(h);
    /* The same on a raw socket: N requests, N complete answers, one connection. */
    url_of(s, false, "http", "", url, sizeof url);
    wsc *c;
    char why[256];
    cr_assert_eq(wsc_open(url, NULL, TMO, &c, why, sizeof why), 0, "%s", why);
    for (int i = 0; i < 10; i++) {
        wsc_http hr;
        cr_assert_eq(wsc_http_request(c, "GET", "/fapi/v1/time", NULL, TMO, &hr), 0);
        cr_assert_eq(hr.status, 200);
        cr_assert(strstr(hr.body, "serverTime"));
        char v[32];
        cr_assert(wsc_http_header(&hr, "x-mbx-used-weight-1m", v, sizeof v));
        wsc_http_free(&hr);
    }
    wsc_close(c);
    sim_server_destroy(s);
}

/* ---- TLS ---- */

Test(server, https_and_wss_verify_with_the_test_ca)
{
    tls_paths();
    sim_server_config c = base_cfg();
    c.cert_file = g_cert;
    c.key_file = g_key;
    c.tls_port = 0;
    sim_server *s = start(&c);
    char url[256], why[256];
    http_res r;
    url_of(s, true, "https", "/fapi/v1/ping", url, sizeof url);
    http_do(NULL, url, NULL, g_ca, &r);
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{}");
    /* Without the CA the certificate does not verify. */
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_CAINFO, "/dev/null");
    curl_easy_setopt(h, CURLOPT_CAPATH, "/nonexistent");
    http_do(h, url, NULL, NULL, &r);
    curl_easy_cleanup(h);
    cr_assert_neq(r.rc, CURLE_OK, "verification must fail without the CA");
    wsc *w;
    url_of(s, true, "wss", "/public/ws/btcusdt@depth", url, sizeof url);
    cr_assert_eq(wsc_connect(url, g_ca, TMO, &w, why, sizeof why), 0, "%s", why);
    json_t *j = next_json(w, NULL);
    cr_assert_str_eq(jstr(j, "e"), "depthUpdate");
    json_decref(j);
    wsc_close(w);
    cr_assert_lt(wsc_connect(url, NULL, TMO, &w, why, sizeof why), 0, "no CA: must fail");
    cr_assert(strstr(why, "TLS"), "%s", why);
    sim_server_destroy(s);
}

/* ---- WebSocket streams ---- */

Test(server, raw_stream_is_unwrapped_and_chained)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    long long prev_u = 0;
    for (int i = 0; i < 20; i++) {
        json_t *j = next_json(c, NULL);
        cr_assert_null(json_object_get(j, "stream"), "raw: no wrapper");
        cr_assert_str_eq(jstr(j, "e"), "depthUpdate");
        cr_assert_str_eq(jstr(j, "s"), "BTCUSDT");
        if (prev_u)
            cr_assert_eq(jint(j, "pu"), prev_u, "pu chain");
        prev_u = jint(j, "u");
        json_decref(j);
    }
    cr_assert_eq(fake_wanted("btcusdt@depth"), 1);
    wsc_close(c);
    WAIT_FOR(fake_wanted("btcusdt@depth") == 0);
    sim_server_destroy(s);
}

Test(server, long_stream_urls_are_accepted)
{
    sim_server *s = start_default();
    /* 500 names (7 KB): more than lws keeps by default; duplicates count once. */
    size_t cap = 16 + 500 * 14;
    char *path = malloc(cap);
    size_t n = (size_t)snprintf(path, cap, "/public/ws");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(path + n, cap - n, "/btcusdt@depth");
    wsc *c = ws_open(s, path);
    json_t *j = next_json(c, NULL);
    cr_assert_str_eq(jstr(j, "e"), "depthUpdate");
    json_decref(j);
    send_json(c, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}");
    j = next_reply(c);
    cr_assert_eq(json_array_size(json_object_get(j, "result")), 1);
    json_decref(j);
    wsc_close(c);
    free(path);
    sim_server_destroy(s);
}

Test(server, combined_stream_has_the_wrapper)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/stream?streams=btcusdt@depth/ethusdt@bookTicker");
    bool seen_depth = false, seen_bt = false;
    for (int i = 0; i < 50 && !(seen_depth && seen_bt); i++) {
        json_t *j = next_json(c, NULL);
        const char *stream = jstr(j, "stream");
        json_t *data = json_object_get(j, "data");
        cr_assert(json_is_object(data), "wrapper with data");
        if (!strcmp(stream, "btcusdt@depth")) {
            seen_depth = true;
            cr_assert_str_eq(jstr(data, "e"), "depthUpdate");
        } else {
            cr_assert_str_eq(stream, "ethusdt@bookTicker");
            cr_assert_str_eq(jstr(data, "e"), "bookTicker");
            seen_bt = true;
        }
        json_decref(j);
    }
    cr_assert(seen_depth && seen_bt);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, ccxt_connection_index_and_subscribe)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/0");
    send_json(c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@depth@100ms\"],\"id\":1}");
    json_t *j = next_json(c, NULL);
    cr_assert(json_is_null(json_object_get(j, "result")) && json_object_get(j, "result"));
    cr_assert_eq(jint(j, "id"), 1);
    json_decref(j);
    j = next_json(c, NULL);
    cr_assert_str_eq(jstr(j, "e"), "depthUpdate", "raw mode");
    json_decref(j);
    send_json(c, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":3}");
    j = next_reply(c);
    cr_assert_eq(jint(j, "id"), 3);
    json_t *res = json_object_get(j, "result");
    cr_assert_eq(json_array_size(res), 1, "the '0' segment is no stream");
    cr_assert_str_eq(json_string_value(json_array_get(res, 0)), "btcusdt@depth@100ms");
    json_decref(j);
    send_json(c, "{\"method\":\"UNSUBSCRIBE\",\"params\":[\"btcusdt@depth@100ms\"],\"id\":312}");
    j = next_reply(c);
    cr_assert_eq(jint(j, "id"), 312);
    json_decref(j);
    wsc_msg m;
    cr_assert_eq(wsc_read_message(c, 200, &m), BF_ETIMEDOUT, "nothing after UNSUBSCRIBE");
    WAIT_FOR(fake_wanted("btcusdt@depth@100ms") == 0);
    wsc_close(c);
    sim_server_destroy(s);
}

static void expect_reply_error(wsc *c, const char *frame, const char *id, int code, const char *msg)
{
    send_json(c, frame);
    wsc_msg m;
    json_t *j = next_json(c, &m);
    json_t *err = json_object_get(j, "error");
    cr_assert(json_is_object(err), "%s -> %s", frame, m.data);
    cr_assert_eq(jint(err, "code"), code, "%s -> %s", frame, m.data);
    if (msg)
        cr_assert_str_eq(jstr(err, "msg"), msg, "%s", frame);
    char *idtxt = json_dumps(json_object_get(j, "id"), JSON_ENCODE_ANY);
    cr_assert_str_eq(idtxt, id, "%s -> %s", frame, m.data);
    free(idtxt);
    wsc_msg_free(&m);
    json_decref(j);
}

Test(server, control_frame_replies_and_errors)
{
    sim_server_config cfg = base_cfg();
    cfg.max_incoming_per_s = 100;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws");
    expect_reply_error(c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"nosuch@depth\"],\"id\":1}", "1",
                       2, "Invalid request: invalid stream");
    expect_reply_error(c, "this is not json", "null", 3, NULL);
    expect_reply_error(c, "{\"method\":\"FLY\",\"id\":4}", "4", 2, NULL);
    expect_reply_error(c, "{\"params\":[],\"id\":5}", "5", 2, NULL);
    expect_reply_error(c, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":-1}", "null", 2,
                       "Invalid request: request ID must be an unsigned integer");
    expect_reply_error(c, "{\"method\":\"SET_PROPERTY\",\"params\":[\"speed\",true],\"id\":6}", "6",
                       0, "Unknown property");
    expect_reply_error(c, "{\"method\":\"SET_PROPERTY\",\"params\":[\"combined\",1],\"id\":7}", "7",
                       1, "Invalid value type: expected Boolean");
    expect_reply_error(c, "{\"method\":\"GET_PROPERTY\",\"params\":[7],\"id\":8}", "8", 2,
                       "Invalid request: property name must be a string");
    send_json(c, "{\"method\":\"GET_PROPERTY\",\"params\":[\"combined\"],\"id\":9}");
    json_t *j = next_reply(c);
    cr_assert(json_is_false(json_object_get(j, "result")), "/ws is not combined");
    json_decref(j);
    send_json(c, "{\"method\":\"SET_PROPERTY\",\"params\":[\"combined\",true],\"id\":10}");
    j = next_reply(c);
    cr_assert(json_is_null(json_object_get(j, "result")));
    json_decref(j);
    send_json(c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"ethusdt@depth\"],\"id\":11}");
    json_decref(next_reply(c));
    j = next_json(c, NULL);
    cr_assert_str_eq(jstr(j, "stream"), "ethusdt@depth", "combined after SET_PROPERTY");
    json_decref(j);
    cr_assert_geq(stats_of(s).ws_control_frames, 11);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, market_stream_on_public_is_silent)
{
    sim_server *s = start_default();
    wsc *pub = ws_open(s, "/public/stream?streams=btcusdt@aggTrade/btcusdt@depth");
    wsc *mkt = ws_open(s, "/market/stream?streams=btcusdt@aggTrade/btcusdt@depth");
    wsc *legacy = ws_open(s, "/ws/btcusdt@markPrice/ethusdt@bookTicker");
    for (int i = 0; i < 30; i++) {
        json_t *j = next_json(pub, NULL);
        cr_assert_str_eq(jstr(j, "stream"), "btcusdt@depth", "only the public stream flows");
        json_decref(j);
        j = next_json(mkt, NULL);
        cr_assert_str_eq(jstr(j, "stream"), "btcusdt@aggTrade", "only the market stream flows");
        json_decref(j);
        j = next_json(legacy, NULL);
        cr_assert_str_eq(jstr(j, "e"), "bookTicker", "legacy /ws is public");
        json_decref(j);
    }
    send_json(pub, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":2}");
    json_t *j = next_reply(pub);
    cr_assert_eq(json_array_size(json_object_get(j, "result")), 2, "silent ones are listed");
    json_decref(j);
    cr_assert_eq(fake_wanted("btcusdt@aggTrade"), 1, "wanted once: by /market only");
    wsc_close(pub);
    wsc_close(mkt);
    wsc_close(legacy);
    sim_server_destroy(s);
}

Test(server, fan_out_to_many_connections)
{
    sim_server *s = start_default();
    wsc *c[4];
    for (int i = 0; i < 4; i++)
        c[i] =
            ws_open(s, i % 2 ? "/public/stream?streams=btcusdt@depth" : "/public/ws/btcusdt@depth");
    WAIT_FOR(stats_of(s).ws_open == 4);
    cr_assert_eq(fake_wanted("btcusdt@depth"), 1, "the source is asked once per stream");
    /* Every connection sees the same chain; match on u from the first one's tenth message. */
    long long us[4][40];
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 40; k++) {
            json_t *j = next_json(c[i], NULL);
            json_t *d = json_object_get(j, "data") ? json_object_get(j, "data") : j;
            us[i][k] = jint(d, "u");
            json_decref(j);
        }
    }
    long long target = us[0][30];
    for (int i = 1; i < 4; i++) {
        bool found = false;
        for (int k = 0; k < 40; k++)
            found |= us[i][k] == target;
        cr_assert(found, "connection %d did not see u=%lld", i, target);
    }
    for (int i = 0; i < 4; i++)
        wsc_close(c[i]);
    WAIT_FOR(fake_wanted("btcusdt@depth") == 0);
    WAIT_FOR(stats_of(s).ws_open == 0);
    cr_assert_eq(stats_of(s).ws_connections, 4);
    sim_server_destroy(s);
}

/* ---- connection rules ---- */

Test(server, ping_pong_and_pong_timeout)
{
    sim_server_config cfg = base_cfg();
    cfg.ping_interval_ms = 40;
    cfg.pong_timeout_ms = 400;
    cfg.max_incoming_per_s = 1000;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws");
    wsc_set_auto_pong(c, false);
    /* Answer pings for longer than the pong timeout: the connection stays. */
    int pings = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        wsc_frame f;
        cr_assert_eq(wsc_read_frame(c, TMO, &f), 0, "connection dropped while ponging");
        if (f.opcode == WSC_PING) {
            pings++;
            cr_assert_eq(wsc_send(c, WSC_PONG, f.data, f.len, true), 0);
        }
        wsc_frame_free(&f);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > 600 && pings >= 3)
            break;
    }
    cr_assert_eq(stats_of(s).ws_pong_timeouts, 0);
    /* Stop answering: dropped. */
    for (;;) {
        wsc_frame f;
        int rc = wsc_read_frame(c, TMO, &f);
        if (rc == BF_ECLOSED)
            break;
        cr_assert_eq(rc, 0, "read: %s", bf_strerror(rc));
        cr_assert_eq(f.opcode, WSC_PING);
        wsc_frame_free(&f);
    }
    WAIT_FOR(stats_of(s).ws_pong_timeouts == 1);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, max_lifetime_closes_with_1000)
{
    sim_server_config cfg = base_cfg();
    cfg.max_lifetime_ms = 150;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    wsc_msg m;
    for (;;) {
        cr_assert_eq(wsc_read_message(c, TMO, &m), 0);
        if (m.opcode == WSC_CLOSE)
            break;
        wsc_msg_free(&m);
    }
    cr_assert_eq(m.close_code, 1000);
    cr_assert_str_eq(m.data, "max lifetime");
    wsc_msg_free(&m);
    WAIT_FOR(stats_of(s).ws_lifetime_closes == 1);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, incoming_rate_limit_closes_1008)
{
    sim_server_config cfg = base_cfg();
    cfg.max_incoming_per_s = 3;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws");
    for (int i = 0; i < 5; i++)
        wsc_send_text(c, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}");
    cr_assert_eq(wait_end(c), 1008);
    WAIT_FOR(stats_of(s).ws_limit_closes == 1);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, stream_limit_closes_1008)
{
    sim_server_config cfg = base_cfg();
    cfg.max_streams = 2;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    send_json(c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"ethusdt@depth\"],\"id\":1}");
    json_decref(next_reply(c));
    send_json(c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"ethusdt@bookTicker\"],\"id\":2}");
    cr_assert_eq(wait_end(c), 1008);
    wsc_close(c);
    c = ws_open(s, "/public/stream?streams=btcusdt@depth/ethusdt@depth/btcusdt@bookTicker");
    cr_assert_eq(wait_end(c), 1008, "too many streams in the URL");
    wsc_close(c);
    WAIT_FOR(stats_of(s).ws_limit_closes == 2);
    sim_server_destroy(s);
}

Test(server, unknown_ws_path_is_refused)
{
    sim_server *s = start_default();
    char url[256], why[256];
    url_of(s, false, "ws", "/private/ws/x", url, sizeof url);
    wsc *c;
    cr_assert_lt(wsc_connect(url, NULL, TMO, &c, why, sizeof why), 0);
    sim_server_destroy(s);
}

Test(server, slow_consumer_is_dropped)
{
    sim_server_config cfg = base_cfg();
    cfg.max_send_queue = 1500000;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    json_decref(next_json(c, NULL));
    char why[128];
    cr_assert_eq(sim_server_inject(s, "oversized,size=1000000,count=8", why, sizeof why), 0);
    WAIT_FOR(stats_of(s).ws_slow_drops == 1);
    cr_assert_eq(wait_end(c), -2, "dropped without a close frame");
    wsc_close(c);
    sim_server_destroy(s);
}

/* ---- faults ---- */

/* Diff events of a raw depth connection: u, pu of the next one. */
static void next_diff(wsc *c, long long *u, long long *pu)
{
    json_t *j = next_json(c, NULL);
    cr_assert_str_eq(jstr(j, "e"), "depthUpdate");
    *u = jint(j, "u");
    *pu = jint(j, "pu");
    json_decref(j);
}

static void inject(sim_server *s, const char *spec)
{
    char why[256];
    cr_assert_eq(sim_server_inject(s, spec, why, sizeof why), 0, "%s: %s", spec, why);
}

Test(server, fault_gap_breaks_the_chain_once)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    long long u, pu, prev;
    next_diff(c, &prev, &pu);
    inject(s, "gap,stream=btcusdt@depth");
    int breaks = 0;
    for (int i = 0; i < 40; i++) {
        next_diff(c, &u, &pu);
        breaks += pu != prev;
        prev = u;
    }
    cr_assert_eq(breaks, 1, "exactly one dropped diff");
    WAIT_FOR(stats_of(s).faults_applied == 1);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, fault_dup_and_reorder)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    long long u, pu, prev;
    next_diff(c, &prev, &pu);
    inject(s, "dup");
    int dups = 0;
    for (int i = 0; i < 40; i++) {
        next_diff(c, &u, &pu);
        dups += u == prev;
        prev = u;
    }
    cr_assert_eq(dups, 1, "one message sent twice");
    inject(s, "reorder,stream=btcusdt@depth");
    int backwards = 0;
    for (int i = 0; i < 40; i++) {
        next_diff(c, &u, &pu);
        backwards += u < prev;
        prev = u;
    }
    cr_assert_eq(backwards, 1, "two messages swapped");
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, fault_stall_silences_one_stream)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/stream?streams=btcusdt@depth/ethusdt@depth");
    json_decref(next_json(c, NULL));
    inject(s, "stall,stream=btcusdt@depth,for=300ms");
    /* At 5 ms per tick, a 300 ms stall lets ~60 ETH messages through in a row. */
    int eth_run = 0, best = 0;
    long long prev_btc_u = 0;
    bool chain_ok = true;
    for (int i = 0; i < 400 && best < 20; i++) {
        json_t *j = next_json(c, NULL);
        json_t *d = json_object_get(j, "data");
        if (!strcmp(jstr(j, "stream"), "ethusdt@depth")) {
            eth_run++;
            best = eth_run > best ? eth_run : best;
        } else {
            eth_run = 0;
            if (prev_btc_u)
                chain_ok &= jint(d, "pu") == prev_btc_u;
            prev_btc_u = jint(d, "u");
        }
        json_decref(j);
    }
    cr_assert_geq(best, 20, "the stalled stream went silent while the other flowed");
    /* It resumes, with nothing lost. */
    for (int got = 0; got < 5;) {
        json_t *j = next_json(c, NULL);
        if (!strcmp(jstr(j, "stream"), "btcusdt@depth")) {
            json_t *d = json_object_get(j, "data");
            if (prev_btc_u)
                chain_ok &= jint(d, "pu") == prev_btc_u;
            prev_btc_u = jint(d, "u");
            got++;
        }
        json_decref(j);
    }
    cr_assert(chain_ok, "a stall delays, it does not drop");
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, fault_disconnect_and_close)
{
    sim_server *s = start_default();
    wsc *a = ws_open(s, "/public/ws/btcusdt@depth");
    wsc *b = ws_open(s, "/public/ws/ethusdt@depth");
    json_decref(next_json(a, NULL));
    json_decref(next_json(b, NULL));
    inject(s, "disconnect,stream=btcusdt@depth");
    cr_assert_eq(wait_end(a), -2, "abrupt: no close frame");
    json_decref(next_json(b, NULL)); /* the other stream's connection lives on */
    inject(s, "close");
    cr_assert_eq(wait_end(b), 1000);
    wsc_close(a);
    wsc_close(b);
    sim_server_destroy(s);
}

Test(server, fault_malformed_oversized_fragment)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    json_decref(next_json(c, NULL));
    inject(s, "malformed");
    bool bad = false;
    for (int i = 0; i < 100 && !bad; i++) {
        wsc_msg m;
        cr_assert_eq(wsc_read_message(c, TMO, &m), 0);
        json_t *j = json_loadb(m.data, m.len, 0, NULL);
        bad = !j;
        json_decref(j);
        wsc_msg_free(&m);
    }
    cr_assert(bad, "a frame of truncated JSON");
    inject(s, "oversized,size=300000");
    bool big = false;
    for (int i = 0; i < 200 && !big; i++) {
        wsc_msg m;
        cr_assert_eq(wsc_read_message(c, TMO, &m), 0);
        if (m.len == 300000) {
            json_t *j = json_loadb(m.data, m.len, 0, NULL);
            cr_assert(j, "oversized is valid JSON");
            json_decref(j);
            big = true;
        }
        wsc_msg_free(&m);
    }
    cr_assert(big);
    inject(s, "fragment,size=16,count=2");
    int fragmented = 0;
    for (int i = 0; i < 200 && fragmented < 2; i++) {
        wsc_msg m;
        cr_assert_eq(wsc_read_message(c, TMO, &m), 0);
        json_t *j = json_loadb(m.data, m.len, 0, NULL);
        cr_assert(j, "reassembled fragments are the message: %s", m.data);
        json_decref(j);
        if (m.nframes > 1) {
            cr_assert_eq(m.nframes, (m.len + 15) / 16);
            fragmented++;
        }
        wsc_msg_free(&m);
    }
    cr_assert_eq(fragmented, 2);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, fault_fragment_frames_on_the_wire)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    json_decref(next_json(c, NULL));
    inject(s, "fragment,size=20");
    /* Frame by frame: a TEXT without FIN, CONTINUATIONs, the last with FIN. */
    wsc_frame f;
    for (;;) {
        cr_assert_eq(wsc_read_frame(c, TMO, &f), 0);
        if (!f.fin)
            break;
        wsc_frame_free(&f);
    }
    cr_assert_eq(f.opcode, WSC_TEXT);
    cr_assert_eq(f.len, 20);
    wsc_frame_free(&f);
    for (;;) {
        cr_assert_eq(wsc_read_frame(c, TMO, &f), 0);
        cr_assert_eq(f.opcode, WSC_CONT);
        bool fin = f.fin;
        wsc_frame_free(&f);
        if (fin)
            break;
    }
    wsc_close(c);
    sim_server_destroy(s);
}

/* A fragment fault that names a stream fragments that stream's messages only: the connection's
 * bookTickers in between still go out whole, and the count is spent on depth messages. */
Test(server, fault_fragment_of_a_stream_spares_the_others)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/stream?streams=btcusdt@bookTicker/btcusdt@depth");
    json_decref(next_json(c, NULL));
    inject(s, "fragment,stream=btcusdt@depth,count=2,size=20");
    int fragmented = 0, whole_tickers = 0;
    bool in_message = false;
    while (fragmented < 2) {
        wsc_frame f;
        cr_assert_eq(wsc_read_frame(c, TMO, &f), 0);
        if (f.opcode == WSC_TEXT && !in_message) {
            static const char depth_head[] = "{\"stream\":\"btcusdt@d"; /* 20 bytes */
            bool depth = f.len >= 20 && !memcmp(f.data, depth_head, 20);
            if (f.fin) {
                whole_tickers += f.len > 21 && !memcmp(f.data + 11, "btcusdt@bookTicker", 18);
            } else {
                cr_assert(depth, "a fragmented message of another stream: %.*s", (int)f.len,
                          f.data);
                cr_assert_eq(f.len, 20);
                in_message = true;
            }
        } else if (f.opcode == WSC_CONT) {
            cr_assert(in_message);
            if (f.fin) {
                in_message = false;
                fragmented++;
            }
        }
        wsc_frame_free(&f);
    }
    cr_log_info("%d bookTickers whole while 2 depth messages went fragmented", whole_tickers);
    wsc_close(c);
    sim_server_destroy(s);
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

Test(server, fault_slow_snapshot_and_http_faults)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    json_decref(next_json(c, NULL));
    inject(s, "slow_snapshot,delay=300ms");
    http_res r;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    get(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=5", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_geq(elapsed_ms(&t0), 300.0, "the answer is held back by the delay");
    json_t *snap = json_loads(r.body, 0, NULL);
    long long L = jint(snap, "lastUpdateId");
    json_decref(snap);
    long long u, pu;
    next_diff(c, &u, &pu);
    while (u <= L)
        next_diff(c, &u, &pu);
    cr_assert_gt(u, L, "the stream moved on while the snapshot waited");
    inject(s, "http429,count=2,retry_after=7");
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 429);
    cr_assert_str_eq(r.retry_after, "7");
    get(s, "/fapi/v1/time", &r);
    cr_assert_eq(r.status, 429);
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 200, "count=2: the third passes");
    inject(s, "http418,retry_after=3");
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 418);
    cr_assert_str_eq(r.retry_after, "3");
    cr_assert(strstr(r.body, "banned until"), "%s", r.body);
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 200);
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, control_plane_over_http)
{
    sim_server *s = start_default();
    http_res r;
    post(s, "/sim/fault", "http429,count=1", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    get(s, "/fapi/v1/ping", &r);
    cr_assert_eq(r.status, 429);
    post(s, "/sim/fault", "nonsense", &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "unknown fault kind"), "%s", r.body);
    post(s, "/sim/fault", "gap,for=xyz", &r);
    cr_assert_eq(r.status, 400);
    post(s, "/sim/quiet", "", &r);
    cr_assert_eq(r.status, 200);
    get(s, "/sim/stats", &r);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert(j, "%s", r.body);
    cr_assert(json_is_true(json_object_get(j, "quiet")));
    cr_assert_eq(jint(j, "http_429"), 1);
    cr_assert_eq(jint(j, "faults_applied"), 1);
    cr_assert(json_is_object(json_object_get(j, "requests")));
    cr_assert(json_is_object(json_object_get(j, "last_update_id")));
    cr_assert(json_is_object(json_object_get(j, "messages")));
    json_decref(j);
    post(s, "/sim/resume", "", &r);
    get(s, "/sim/stats", &r);
    cr_assert(strstr(r.body, "\"quiet\":false"), "%s", r.body);
    sim_server_destroy(s);
}

Test(server, scheduled_faults_fire)
{
    sim_server_config cfg = base_cfg();
    const char *faults[] = { "close,at=150ms", "http429,every=50ms,times=2" };
    cfg.faults = faults;
    cfg.nfaults = 2;
    sim_server *s = start(&cfg);
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    cr_assert_eq(wait_end(c), 1000);
    wsc_close(c);
    WAIT_FOR(stats_of(s).faults_applied == 3);
    sim_server_destroy(s);
}

Test(server, quiet_stops_the_stream_and_depth_is_final)
{
    sim_server *s = start_default();
    wsc *c = ws_open(s, "/public/ws/btcusdt@depth");
    long long u, pu;
    next_diff(c, &u, &pu);
    sim_server_set_quiet(s, true);
    http_res r;
    get(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=5", &r);
    json_t *snap = json_loads(r.body, 0, NULL);
    long long L = jint(snap, "lastUpdateId");
    json_decref(snap);
    while (u < L)
        next_diff(c, &u, &pu);
    cr_assert_eq(u, L, "the stream ends exactly at the snapshot");
    wsc_msg m;
    cr_assert_eq(wsc_read_message(c, 200, &m), BF_ETIMEDOUT, "nothing after quiet");
    get(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=5", &r);
    snap = json_loads(r.body, 0, NULL);
    cr_assert_eq(jint(snap, "lastUpdateId"), L, "the snapshot does not move");
    json_decref(snap);
    sim_server_set_quiet(s, false);
    next_diff(c, &u, &pu);
    cr_assert_eq(pu, L, "resumes where it stopped");
    wsc_close(c);
    sim_server_destroy(s);
}

Test(server, destroy_with_open_connections)
{
    sim_server *s = start_default();
    wsc *a = ws_open(s, "/public/ws/btcusdt@depth");
    wsc *b = ws_open(s, "/market/ws/ethusdt@aggTrade");
    json_decref(next_json(a, NULL));
    json_decref(next_json(b, NULL));
    char why[64];
    cr_assert_eq(sim_server_inject(s, "dup", why, sizeof why), 0);
    cr_assert_eq(sim_server_inject(s, "warp", why, sizeof why), BF_EINVAL);
    sim_server_destroy(s);
    wsc_close(a);
    wsc_close(b);
}

/* ---- bfmon sim ---- */

static pid_t spawn_sim(const char *const *args, int *out_fd)
{
    const char *bin = getenv("BF_BFMON");
    cr_assert(bin, "BF_BFMON is not set");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)bin;
        argv[n++] = (char *)"sim";
        for (; *args && n < 31; args++)
            argv[n++] = (char *)*args;
        argv[n] = NULL;
        execv(bin, argv);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static int exit_status(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(server, cli_bfmon_sim_serves_and_exits_cleanly)
{
    signal(SIGPIPE, SIG_IGN);
    const char *args[] = { "--port", "0", "--symbols", "BTCUSDT,ETHUSDT", NULL };
    int fd;
    pid_t pid = spawn_sim(args, &fd);
    FILE *f = fdopen(fd, "r");
    char line[2048];
    cr_assert(fgets(line, sizeof line, f), "no URLs line from bfmon sim");
    json_t *j = json_loads(line, 0, NULL);
    cr_assert(j, "not JSON: %s", line);
    char url[512];
    snprintf(url, sizeof url, "%s/fapi/v1/ping", jstr(j, "rest"));
    cr_assert(strncmp(url, "http://127.0.0.1:", 17) == 0, "%s", url);
    cr_assert_eq(json_array_size(json_object_get(j, "symbols")), 2);
    json_decref(j);
    http_res r;
    http_do(NULL, url, NULL, NULL, &r);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{}");
    kill(pid, SIGTERM);
    cr_assert_eq(exit_status(pid), 0);
    fclose(f);
}

Test(server, cli_bfmon_sim_bad_usage_exits_2)
{
    const char *bad[][3] = {
        { "--no-such-flag", NULL, NULL },        { "--port", "notaport", NULL },
        { "--ping-interval", "5parsecs", NULL }, { "--fault", "explode", NULL },
        { "--cert", "/tmp/x.pem", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd;
        pid_t pid = spawn_sim(bad[i], &fd);
        close(fd);
        cr_assert_eq(exit_status(pid), 2, "bfmon sim %s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
    }
    const char *help[] = { "--help", NULL };
    int fd;
    pid_t pid = spawn_sim(help, &fd);
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "9443"), "--help documents the default port");
    close(fd);
    cr_assert_eq(exit_status(pid), 0);
}

/* ---- with the synthetic market model ---- */

static sim_server *start_model(void)
{
    model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.rate = 4000;
    mc.levels = 100;
    source *src;
    char why[256];
    cr_assert_eq(model_create(&mc, &src, why, sizeof why), 0, "model_create: %s", why);
    sim_server_config c;
    memset(&c, 0, sizeof c);
    c.src = src;
    c.tls_port = -1;
    return start(&c);
}

/* The next diff event of a combined depth connection (other streams skipped). */
static void next_model_diff(wsc *c, const char *stream, long long *U, long long *u, long long *pu)
{
    for (;;) {
        json_t *j = next_json(c, NULL);
        if (!strcmp(jstr(j, "stream"), stream)) {
            json_t *d = json_object_get(j, "data");
            *U = jint(d, "U");
            *u = jint(d, "u");
            *pu = jint(d, "pu");
            json_decref(j);
            return;
        }
        json_decref(j);
    }
}

Test(server, model_book_syncs_over_sockets)
{
    sim_server *s = start_model();
    char buf[2048];
    cr_assert_gt(sim_server_urls_json(s, buf, sizeof buf), 0);
    cr_assert(strstr(buf, "\"BTCUSDT\"") && strstr(buf, "\"ETHUSDT\""), "%s", buf);
    http_res r;
    get(s, "/fapi/v1/exchangeInfo", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"symbol\":\"BTCUSDT\""));
    const char *stream = "btcusdt@depth@100ms";
    wsc *c = ws_open(s, "/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker");
    long long U, u, pu, prev;
    next_model_diff(c, stream, &U, &prev, &pu);
    get(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.weight, "21");
    json_t *snap = json_loads(r.body, 0, NULL);
    cr_assert(snap, "%s", r.body);
    long long L = jint(snap, "lastUpdateId");
    cr_assert_gt(json_array_size(json_object_get(snap, "bids")), 0);
    json_decref(snap);
    /* Binance's rule: the first event applied has U <= L <= u, then pu == previous u. */
    bool synced = prev >= L;
    while (!synced) {
        next_model_diff(c, stream, &U, &u, &pu);
        cr_assert_eq(pu, prev, "pu chain");
        prev = u;
        synced = u >= L;
        if (synced)
            cr_assert_leq(U, L, "the snapshot falls inside the event that overlaps it");
    }
    sim_server_set_quiet(s, true);
    get(s, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", &r);
    snap = json_loads(r.body, 0, NULL);
    long long final_id = jint(snap, "lastUpdateId");
    json_decref(snap);
    while (prev < final_id) {
        next_model_diff(c, stream, &U, &u, &pu);
        cr_assert_eq(pu, prev, "pu chain");
        prev = u;
    }
    cr_assert_eq(prev, final_id, "quiet: the stream ends at the final snapshot");
    wsc_close(c);
    sim_server_destroy(s);
}
