/*
 * http: the REST connection pool (see http.h).
 *
 * One thread owns every curl handle: it drives the multi handle with curl_multi_poll/perform, and
 * other threads only touch the mutex-protected request queue and wake it with curl_multi_wakeup.
 * The share handle (connections, TLS sessions, DNS) is therefore used from one thread and needs no
 * lock callbacks. Easy handles are created once (one per in-flight slot) and reused.
 *
 * Trust: libcurl's default CA bundle stays in place; ca_file is loaded once at create and its
 * certificates are added to each new connection's OpenSSL store through CURLOPT_SSL_CTX_FUNCTION
 * (CURLOPT_CAINFO would replace the system store rather than add to it).
 */
#include "net/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bfmon_config.h"
#include "codec/rest.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/xalloc.h"

#define MAX_BODY       (64u << 20) /* larger responses are refused: no Binance body is near */
#define MAX_HOLD_NS    (24LL * 3600 * CLK_NS_PER_S) /* sanity cap on Retry-After / ban end */
#define BAN_DEFAULT_NS (120LL * CLK_NS_PER_S)       /* 418 without Retry-After */
#define IDLE_POLL_MS   1000                         /* poll cap when nothing is scheduled */
#define KEEP_BODY_CAP  (1u << 20)                   /* larger body buffers are not reused */
#define WHY_PATH_MAX   80                           /* path characters quoted in a reason */

typedef struct xfer xfer;

typedef struct req {
    struct req *prev, *next; /* queue links while queued */
    uint64_t id, seq;        /* seq: FIFO order within a priority, kept across retries */
    char *url;
    const char *path; /* points into url, after the base */
    int weight, prio;
    http_done_fn fn;
    void *ctx;
    unsigned attempts;
    int64_t queued_mono_ns, sent_mono_ns;
    int64_t not_before_ns; /* backoff: not started before this (mono) */
    int64_t budget_window; /* window in which held_by_budget already counted it */
    bool cancelled;        /* finish with cancel_err at the next chance */
    int cancel_err;
    int last_status; /* of the previous attempt, for reasons */
} req;

struct xfer {
    CURL *easy;
    req *r; /* NULL when the slot is free (written under mu) */
    char *body;
    size_t len, cap;
    int used_weight;       /* X-MBX-USED-WEIGHT-1M of this response, -1 if absent */
    int64_t retry_after_s; /* Retry-After in seconds, -1 if absent */
    bool too_big;
    char ctype[64]; /* Content-Type of this response, "" if absent (cut to fit) */
    char errbuf[CURL_ERROR_SIZE];
};

struct http_pool {
    /* Fixed after create. */
    http_config cfg;
    char *base, *user_agent;
    X509 **anchors;
    size_t n_anchors;
    CURLM *multi;
    CURLSH *share;
    xfer *xfers;
    pthread_t thread;

    pthread_mutex_t mu; /* everything below */
    req *q_head, *q_tail;
    unsigned n_queued, n_in_flight;
    bool closing, cancels;
    uint64_t next_id, next_seq;
    int weight_limit;
    int64_t win_index; /* current window (real ms / window_ms) */
    int64_t win_used;  /* estimated weight used in the window (header or our own count) */
    int win_header;    /* last header value in the window, -1 when none */
    int64_t in_flight_weight;
    int64_t hold_until_ns; /* mono; every request waits until then (429/418) */
    uint64_t rng;
    http_stats st;
};

/* ---- small helpers ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: enough for jitter, reproducible from the seed. */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t window_of(const http_pool *p, int64_t real_ns)
{
    return real_ns / CLK_NS_PER_MS / p->cfg.window_ms;
}

/* Mono time at which the window after the current one starts. */
static int64_t next_window_mono(const http_pool *p, int64_t now_mono, int64_t now_real)
{
    int64_t start_real = (window_of(p, now_real) + 1) * p->cfg.window_ms * CLK_NS_PER_MS;
    return now_mono + (start_real - now_real);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- configuration ---- */

static void apply_defaults(http_config *c)
{
    if (c->connect_timeout_ms <= 0)
        c->connect_timeout_ms = 5000;
    if (c->total_timeout_ms <= 0)
        c->total_timeout_ms = 15000;
    if (c->max_retries == 0)
        c->max_retries = 4;
    if (c->backoff_min_ms <= 0)
        c->backoff_min_ms = 200;
    if (c->backoff_max_ms <= 0)
        c->backoff_max_ms = 10000;
    if (c->backoff_max_ms < c->backoff_min_ms)
        c->backoff_max_ms = c->backoff_min_ms;
    if (c->max_in_flight == 0)
        c->max_in_flight = 2;
    if (c->max_queued == 0)
        c->max_queued = 1024;
    if (c->weight_limit <= 0)
        c->weight_limit = 2400;
    if (!(c->budget_share > 0.0 && c->budget_share <= 1.0))
        c->budget_share = 0.8;
    if (c->window_ms <= 0)
        c->window_ms = 60000;
}

static int check_base_url(const char *url, char *why, size_t why_cap)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(why, why_cap, "base URL \"%s\" must start with http:// or https://",
                 url ? url : "(null)");
        return BF_EINVAL;
    }
    CURLU *u = curl_url();
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    curl_url_cleanup(u);
    if (uc != CURLUE_OK) {
        snprintf(why, why_cap, "base URL \"%s\" is malformed: %s", url, curl_url_strerror(uc));
        return BF_EINVAL;
    }
    return 0;
}

/* Reads every certificate of a PEM file (the extra trust anchors). */
static int load_anchors(http_pool *p, const char *file, char *why, size_t why_cap)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!v->ssl_version || strncmp(v->ssl_version, "OpenSSL", 7) != 0) {
        snprintf(why, why_cap, "ca_file needs libcurl built with OpenSSL (this one uses %s)",
                 v->ssl_version ? v->ssl_version : "no TLS");
        return BF_EINVAL;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(why, why_cap, "ca_file %s: %s", file, strerror(errno));
        return BF_EIO;
    }
    X509 *cert;
    while ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        p->anchors = xreallocarray(p->anchors, p->n_anchors + 1, sizeof *p->anchors);
        p->anchors[p->n_anchors++] = cert;
    }
    fclose(f);
    if (p->n_anchors == 0) {
        snprintf(why, why_cap, "ca_file %s holds no PEM certificate", file);
        return BF_EINVAL;
    }
    return 0;
}

/* ---- curl callbacks (HTTP thread) ---- */

static CURLcode add_anchors(CURL *easy, void *ssl_ctx, void *userp)
{
    (void)easy;
    http_pool *p = userp;
    X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
    for (size_t i = 0; i < p->n_anchors; i++)
        if (X509_STORE_add_cert(store, p->anchors[i]) != 1)
            return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    xfer *x = userp;
    size_t add = size * n;
    if (add > MAX_BODY - x->len) {
        x->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->len + add + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + add + 1)
            cap *= 2;
        x->body = xrealloc(x->body, cap);
        x->cap = cap;
    }
    memcpy(x->body + x->len, data, add);
    x->len += add;
    x->body[x->len] = '\0';
    return add;
}

/* A non-negative decimal header value, or -1 when absent or malformed. */
static long long header_number(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return -1;
    size_t i = nl + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    long long v = 0;
    size_t digits = 0;
    for (; i < len && line[i] >= '0' && line[i] <= '9' && digits < 12; i++, digits++)
        v = v * 10 + (line[i] - '0');
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
        i++;
    return digits > 0 && i == len ? v : -1;
}

/* "Content-Type: text/html; charset=utf-8\r\n" -> x->ctype, trimmed; false for another header. */
static bool take_content_type(xfer *x, const char *line, size_t len)
{
    static const char name[] = "Content-Type:";
    size_t nl = sizeof name - 1;
    if (len < nl || strncasecmp(line, name, nl) != 0)
        return false;
    size_t i = nl;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    while (len > i && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    size_t n = len - i < sizeof x->ctype - 1 ? len - i : sizeof x->ctype - 1;
    memcpy(x->ctype, line + i, n);
    x->ctype[n] = '\0';
    return true;
}

/* True for a JSON media type: application/json, text/json or application/<x>+json, parameters
 * (";charset=UTF-8", as Binance sends) aside. An absent Content-Type is given the benefit of the
 * doubt: the decoder still checks the body. */
static bool json_content_type(const char *ct)
{
    size_t n = strcspn(ct, "; \t");
    if (n == 0)
        return true;
    if ((n == 16 && !strncasecmp(ct, "application/json", n)) ||
        (n == 9 && !strncasecmp(ct, "text/json", n)))
        return true;
    return n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5);
}

static size_t on_header(char *line, size_t size, size_t n, void *userp)
{
    xfer *x = userp;
    size_t len = size * n;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100-continue or similar): forget the previous one's headers. */
        x->used_weight = -1;
        x->retry_after_s = -1;
        x->ctype[0] = '\0';
        return len;
    }
    if (take_content_type(x, line, len))
        return len;
    long long v = header_number(line, len, "X-MBX-USED-WEIGHT-1M");
    if (v >= 0)
        x->used_weight = v > 1000000000 ? 1000000000 : (int)v;
    v = header_number(line, len, "Retry-After");
    if (v >= 0)
        x->retry_after_s = v;
    return len;
}

/* ---- easy handles ---- */

static void setup_easy(http_pool *p, xfer *x)
{
    CURL *e = x->easy = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_SHARE, p->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->cfg.total_timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, p->user_agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* exchangeInfo is large: take gzip */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (p->n_anchors > 0) {
        curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, add_anchors);
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, p);
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
}

static void start_transfer(http_pool *p, xfer *x)
{
    if (x->cap > KEEP_BODY_CAP) { /* do not keep an exchangeInfo-sized buffer per slot */
        free(x->body);
        x->body = NULL;
        x->cap = 0;
    }
    x->len = 0;
    if (x->body)
        x->body[0] = '\0';
    x->used_weight = -1;
    x->retry_after_s = -1;
    x->too_big = false;
    x->ctype[0] = '\0';
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_URL, x->r->url);
    curl_multi_add_handle(p->multi, x->easy);
}

/* ---- queue (under mu) ---- */

static void queue_push(http_pool *p, req *r)
{
    r->next = NULL;
    r->prev = p->q_tail;
    if (p->q_tail)
        p->q_tail->next = r;
    else
        p->q_head = r;
    p->q_tail = r;
    p->n_queued++;
}

static void queue_remove(http_pool *p, req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        p->q_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        p->q_tail = r->prev;
    r->prev = r->next = NULL;
    p->n_queued--;
}

static bool goes_before(const req *a, const req *b)
{
    return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

/* The best request whose backoff has passed; *wake gets the earliest backoff end otherwise. */
static req *queue_best(http_pool *p, int64_t now, int64_t *wake)
{
    req *best = NULL;
    for (req *r = p->q_head; r; r = r->next) {
        if (r->not_before_ns > now)
            *wake = min64(*wake, r->not_before_ns);
        else if (!best || goes_before(r, best))
            best = r;
    }
    return best;
}

static void roll_window(http_pool *p, int64_t now_real)
{
    int64_t w = window_of(p, now_real);
    if (w != p->win_index) {
        p->win_index = w;
        p->win_used = 0;
        p->win_header = -1;
    }
}

/* The budget rule of http.h. A request heavier than the whole budget runs alone in a fresh window
 * rather than never. */
static bool budget_allows(const http_pool *p, const req *r)
{
    int64_t budget = (int64_t)(p->weight_limit * p->cfg.budget_share);
    int64_t used = p->win_used + p->in_flight_weight;
    return used + r->weight <= budget || used == 0;
}

static xfer *free_slot(http_pool *p)
{
    for (unsigned i = 0; i < p->cfg.max_in_flight; i++)
        if (!p->xfers[i].r)
            return &p->xfers[i];
    return NULL;
}

/* Moves startable requests into free slots (strict priority order: when the best request does not
 * fit the budget, nothing overtakes it). Returns when the thread must look again (mono). */
static int64_t schedule_locked(http_pool *p, int64_t now, int64_t now_real, xfer **starts,
                               unsigned *n_starts)
{
    int64_t wake = now + IDLE_POLL_MS * CLK_NS_PER_MS;
    if (p->hold_until_ns > now)
        return p->n_queued ? min64(wake, p->hold_until_ns) : wake;
    p->hold_until_ns = 0;
    xfer *x;
    while ((x = free_slot(p)) != NULL) {
        req *r = queue_best(p, now, &wake);
        if (!r)
            break;
        if (!budget_allows(p, r)) {
            if (r->budget_window != p->win_index) {
                r->budget_window = p->win_index;
                p->st.held_by_budget++;
            }
            wake = min64(wake, next_window_mono(p, now, now_real));
            break;
        }
        queue_remove(p, r);
        x->r = r;
        r->attempts++;
        r->sent_mono_ns = now;
        p->in_flight_weight += r->weight;
        p->n_in_flight++;
        p->st.attempts++;
        starts[(*n_starts)++] = x;
    }
    return wake;
}

/* ---- completion ---- */

typedef struct outcome {
    enum { OUT_OK, OUT_RETRY, OUT_FAIL } kind;
    int err, status, binance_code;
    bool hold; /* 429/418: the global hold was extended */
    char why[256];
} outcome;

static void classify_transport(const req *r, const xfer *x, CURLcode cc, outcome *o)
{
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    o->err = cc == CURLE_OPERATION_TIMEDOUT ? BF_ETIMEDOUT : BF_ENET;
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        o->kind = OUT_FAIL; /* retrying cannot fix a certificate or a URL */
        break;
    case CURLE_WRITE_ERROR:
        if (x->too_big) {
            o->kind = OUT_FAIL;
            detail = "response body larger than 64 MiB";
        }
        break;
    default:
        break;
    }
    snprintf(o->why, sizeof o->why, "GET %.*s: %.140s", WHY_PATH_MAX, r->path, detail);
}

static void classify_status(const req *r, const xfer *x, outcome *o)
{
    char msg[160] = "";
    int code = 0;
    if (x->len > 0 && rest_parse_error(x->body, x->len, &code, msg, sizeof msg) == 0)
        o->binance_code = code;
    if (o->status == 429 || o->status == 418) {
        o->err = BF_EBANNED;
        o->hold = true;
    } else {
        o->err = BF_EHTTP;
        o->kind = o->status >= 500 || o->status == 408 ? OUT_RETRY : OUT_FAIL;
    }
    if (o->binance_code != 0)
        snprintf(o->why, sizeof o->why, "GET %.*s: HTTP %d: %.90s (Binance code %d)", WHY_PATH_MAX,
                 r->path, o->status, msg, o->binance_code);
    else
        snprintf(o->why, sizeof o->why, "GET %.*s: HTTP %d", WHY_PATH_MAX, r->path, o->status);
}

/* A 2xx that is not JSON: a proxy, captive portal or CDN error page in the exchange's place. It is
 * retried like a 5xx (such pages come and go) and never handed to a decoder as a body. */
static void classify_wrong_type(const req *r, const xfer *x, outcome *o)
{
    o->err = BF_EHTTP;
    o->kind = OUT_RETRY;
    snprintf(o->why, sizeof o->why,
             "GET %.*s: HTTP %d with Content-Type '%.40s', not JSON (a proxy or captive portal "
             "answering?)",
             WHY_PATH_MAX, r->path, o->status, x->ctype);
}

static outcome classify(const req *r, const xfer *x, CURLcode cc, long status)
{
    outcome o = { .kind = OUT_RETRY, .status = (int)status };
    if (cc != CURLE_OK)
        classify_transport(r, x, cc, &o);
    else if (status >= 200 && status < 300 && !json_content_type(x->ctype))
        classify_wrong_type(r, x, &o);
    else if (status >= 200 && status < 300)
        o.kind = OUT_OK;
    else
        classify_status(r, x, &o);
    return o;
}

/* "... banned until 1746327239762 ..." -> epoch ms, or -1. */
static int64_t banned_until_ms(const xfer *x)
{
    const char *s = x->len ? strstr(x->body, "banned until ") : NULL;
    if (!s)
        return -1;
    s += strlen("banned until ");
    int64_t v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 16; s++, digits++)
        v = v * 10 + (*s - '0');
    return digits >= 10 ? v : -1;
}

/* Extends the global hold after a 429/418 (under mu): until Retry-After and a "banned until" in the
 * body, whichever ends later; with neither, to the window's end (429) or for 2 minutes (418). */
static void extend_hold(http_pool *p, const xfer *x, int status, int64_t now, int64_t now_real)
{
    int64_t until = -1;
    if (x->retry_after_s >= 0)
        until = now + min64(x->retry_after_s * CLK_NS_PER_S, MAX_HOLD_NS);
    int64_t ban_ms = banned_until_ms(x);
    if (ban_ms > 0)
        until = max64(until, now + min64(ban_ms * CLK_NS_PER_MS - now_real, MAX_HOLD_NS));
    if (until < 0)
        until = status == 429 ? next_window_mono(p, now, now_real) : now + BAN_DEFAULT_NS;
    p->hold_until_ns = max64(p->hold_until_ns, until);
    if (status == 429)
        p->st.status_429++;
    else
        p->st.status_418++;
}

static int64_t backoff_ns(http_pool *p, unsigned attempts)
{
    int64_t lo = p->cfg.backoff_min_ms, hi = lo;
    for (unsigned i = 0; i < attempts && hi < p->cfg.backoff_max_ms; i++)
        hi *= 2;
    hi = min64(hi, p->cfg.backoff_max_ms);
    /* Full jitter above the floor: uniform in [min, min(max, min * 2^attempts)]. */
    int64_t span = hi - lo + 1;
    int64_t ms = lo + (int64_t)(rng_next(&p->rng) % (uint64_t)span);
    return ms * CLK_NS_PER_MS;
}

static void account_weight(http_pool *p, const req *r, const xfer *x, int64_t now_real)
{
    roll_window(p, now_real);
    if (x->used_weight >= 0) {
        p->win_used = x->used_weight;
        p->win_header = x->used_weight;
        if (x->used_weight > p->st.used_weight_peak)
            p->st.used_weight_peak = x->used_weight;
    } else {
        p->win_used += r->weight; /* no header: count it ourselves, to be safe */
    }
}

/* Under mu: decides whether the request goes back to the queue. */
static bool requeue_locked(http_pool *p, req *r, outcome *o, int64_t now)
{
    if (o->kind == OUT_OK || r->cancelled)
        return false;
    if (p->closing) {
        if (o->kind == OUT_RETRY) {
            o->err = BF_ECLOSED;
            snprintf(o->why, sizeof o->why, "GET %.*s: %s", WHY_PATH_MAX, r->path,
                     bf_strerror(BF_ECLOSED));
        }
        return false;
    }
    if (o->kind == OUT_FAIL || r->attempts > p->cfg.max_retries) {
        if (o->kind != OUT_FAIL) {
            size_t n = strlen(o->why);
            snprintf(o->why + n, sizeof o->why - n, " (gave up after %u attempts)", r->attempts);
        }
        return false;
    }
    r->not_before_ns = o->hold ? p->hold_until_ns : now + backoff_ns(p, r->attempts);
    r->last_status = o->status;
    queue_push(p, r);
    p->st.retries++;
    return true;
}

static void deliver(req *r, const outcome *o, const xfer *x, int64_t now, int64_t now_real)
{
    http_response resp = {
        .err = o->err,
        .status = o->status,
        .binance_code = o->binance_code,
        .body = x && x->body ? x->body : "",
        .len = x ? x->len : 0,
        .used_weight = x ? x->used_weight : -1,
        .attempts = r->attempts,
        .queued_mono_ns = r->queued_mono_ns,
        .sent_mono_ns = r->sent_mono_ns,
        .done_mono_ns = now,
        .done_real_ns = now_real,
    };
    if (o->err)
        snprintf(resp.why, sizeof resp.why, "%s", o->why);
    r->fn(r->ctx, &resp);
    free(r->url);
    free(r);
}

static void finish_stats_locked(http_pool *p, const req *r, const outcome *o, int64_t now)
{
    p->st.requests++;
    if (o->err)
        p->st.failures++;
    else if (r->sent_mono_ns > 0)
        p->st.last_rtt_ns = now - r->sent_mono_ns;
}

static void on_transfer_done(http_pool *p, xfer *x, CURLcode cc)
{
    req *r = x->r;
    long status = 0, conns = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
    curl_multi_remove_handle(p->multi, x->easy);
    int64_t now = clk_mono_ns(), now_real = clk_real_ns();
    outcome o = classify(r, x, cc, status);

    pthread_mutex_lock(&p->mu);
    p->st.conns_opened += (uint64_t)(conns > 0 ? conns : 0);
    p->in_flight_weight -= r->weight;
    p->n_in_flight--;
    x->r = NULL;
    account_weight(p, r, x, now_real);
    if (o.hold)
        extend_hold(p, x, o.status, now, now_real);
    if (r->cancelled) {
        o.err = r->cancel_err;
        snprintf(o.why, sizeof o.why, "GET %.*s: %s", WHY_PATH_MAX, r->path,
                 bf_strerror(r->cancel_err));
    }
    bool again = requeue_locked(p, r, &o, now);
    if (!again)
        finish_stats_locked(p, r, &o, now);
    pthread_mutex_unlock(&p->mu);
    if (!again)
        deliver(r, &o, x, now, now_real);
}

/* Completes a request that never got (or lost) its transfer, with err. */
static void finish_without_transfer(http_pool *p, req *r, int err)
{
    outcome o = { .kind = OUT_FAIL, .err = err, .status = r->last_status };
    snprintf(o.why, sizeof o.why, "GET %.*s: %s", WHY_PATH_MAX, r->path, bf_strerror(err));
    int64_t now = clk_mono_ns(), now_real = clk_real_ns();
    pthread_mutex_lock(&p->mu);
    finish_stats_locked(p, r, &o, now);
    pthread_mutex_unlock(&p->mu);
    deliver(r, &o, NULL, now, now_real);
}

/* ---- the HTTP thread ---- */

static unsigned drain_messages(http_pool *p)
{
    unsigned done = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode cc = m->data.result;
        on_transfer_done(p, x, cc);
        done++;
    }
    return done;
}

/* Under mu: takes cancelled requests out of the queue (into *out) and marks cancelled in-flight
 * slots (into *aborts). */
static void collect_cancels_locked(http_pool *p, req **out, xfer **aborts, unsigned *n_aborts)
{
    if (!p->cancels)
        return;
    p->cancels = false;
    for (req *r = p->q_head, *next; r; r = next) {
        next = r->next;
        if (r->cancelled) {
            queue_remove(p, r);
            r->next = *out;
            *out = r;
        }
    }
    for (unsigned i = 0; i < p->cfg.max_in_flight; i++) {
        req *r = p->xfers[i].r;
        if (r && r->cancelled) {
            /* The slot stays taken (x->r set) until abort_transfer has removed the handle. */
            p->in_flight_weight -= r->weight;
            p->n_in_flight--;
            aborts[(*n_aborts)++] = &p->xfers[i];
        }
    }
}

static void abort_transfer(http_pool *p, xfer *x, int err)
{
    long conns = 0;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
    curl_multi_remove_handle(p->multi, x->easy);
    pthread_mutex_lock(&p->mu);
    p->st.conns_opened += (uint64_t)(conns > 0 ? conns : 0);
    req *r = x->r;
    x->r = NULL;
    pthread_mutex_unlock(&p->mu);
    finish_without_transfer(p, r, err);
}

static void finish_list(http_pool *p, req *list)
{
    while (list) {
        req *next = list->next;
        finish_without_transfer(p, list, list->cancel_err);
        list = next;
    }
}

/* One round: cancellations, new transfers, curl progress. False once the pool closes. */
static bool http_round(http_pool *p, xfer **starts, xfer **aborts)
{
    unsigned n_starts = 0, n_aborts = 0;
    req *cancelled = NULL;
    int64_t now = clk_mono_ns(), now_real = clk_real_ns();
    pthread_mutex_lock(&p->mu);
    bool closing = p->closing;
    int64_t wake = now;
    if (!closing) {
        roll_window(p, now_real);
        collect_cancels_locked(p, &cancelled, aborts, &n_aborts);
        wake = schedule_locked(p, now, now_real, starts, &n_starts);
    }
    pthread_mutex_unlock(&p->mu);
    if (closing)
        return false;
    for (unsigned i = 0; i < n_aborts; i++)
        abort_transfer(p, aborts[i], aborts[i]->r->cancel_err);
    finish_list(p, cancelled);
    for (unsigned i = 0; i < n_starts; i++)
        start_transfer(p, starts[i]);
    int running = 0;
    curl_multi_perform(p->multi, &running);
    if (drain_messages(p) > 0 || n_aborts > 0 || cancelled)
        return true; /* slots freed: schedule again before sleeping */
    int64_t wait_ms = (wake - clk_mono_ns() + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS;
    if (wait_ms > 0)
        curl_multi_poll(p->multi, NULL, 0, (int)min64(wait_ms, IDLE_POLL_MS), NULL);
    return true;
}

/* At close: every request still queued or in flight completes with BF_ECLOSED. */
static void close_all(http_pool *p)
{
    for (unsigned i = 0; i < p->cfg.max_in_flight; i++) {
        xfer *x = &p->xfers[i];
        pthread_mutex_lock(&p->mu);
        bool busy = x->r != NULL;
        if (busy) {
            p->in_flight_weight -= x->r->weight;
            p->n_in_flight--;
        }
        pthread_mutex_unlock(&p->mu);
        if (busy)
            abort_transfer(p, x, BF_ECLOSED);
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        req *r = p->q_head;
        if (r)
            queue_remove(p, r);
        pthread_mutex_unlock(&p->mu);
        if (!r)
            break;
        finish_without_transfer(p, r, BF_ECLOSED);
    }
}

static void *http_main(void *arg)
{
    pthread_setname_np(pthread_self(), "bf-http"); /* for top -H, perf and the benchmarks */
    http_pool *p = arg;
    xfer **starts = xcalloc(p->cfg.max_in_flight, sizeof *starts);
    xfer **aborts = xcalloc(p->cfg.max_in_flight, sizeof *aborts);
    while (http_round(p, starts, aborts)) {
    }
    close_all(p);
    free(starts);
    free(aborts);
    return NULL;
}

/* ---- public API ---- */

static int make_handles(http_pool *p, char *why, size_t why_cap)
{
    p->multi = curl_multi_init();
    p->share = curl_share_init();
    if (!p->multi || !p->share) {
        snprintf(why, why_cap, "libcurl could not create its multi/share handles");
        return BF_ENET;
    }
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    p->xfers = xcalloc(p->cfg.max_in_flight, sizeof *p->xfers);
    for (unsigned i = 0; i < p->cfg.max_in_flight; i++)
        setup_easy(p, &p->xfers[i]);
    return 0;
}

static void free_pool(http_pool *p)
{
    for (unsigned i = 0; p->xfers && i < p->cfg.max_in_flight; i++) {
        curl_easy_cleanup(p->xfers[i].easy);
        free(p->xfers[i].body);
    }
    free(p->xfers);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    if (p->share)
        curl_share_cleanup(p->share);
    for (size_t i = 0; i < p->n_anchors; i++)
        X509_free(p->anchors[i]);
    free(p->anchors);
    free(p->base);
    free(p->user_agent);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static http_pool *new_pool(const http_config *cfg)
{
    http_pool *p = xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    apply_defaults(&p->cfg);
    size_t n = strlen(cfg->base_url);
    while (n > 0 && cfg->base_url[n - 1] == '/')
        n--;
    p->base = xstrndup(cfg->base_url, n);
    p->user_agent = xstrdup(cfg->user_agent ? cfg->user_agent : "bfmon/" BFMON_VERSION);
    p->cfg.base_url = p->base;
    p->cfg.user_agent = p->user_agent;
    p->cfg.ca_file = NULL; /* loaded into anchors; the caller's string is not kept */
    p->weight_limit = p->cfg.weight_limit;
    p->win_header = -1;
    p->win_index = window_of(p, clk_real_ns());
    p->rng = cfg->seed ? cfg->seed : (uint64_t)clk_mono_ns() ^ (uint64_t)clk_real_ns();
    p->next_id = 1;
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

int http_create(const http_config *cfg, http_pool **out, char *why, size_t why_cap)
{
    *out = NULL;
    if (!cfg) {
        snprintf(why, why_cap, "no configuration");
        return BF_EINVAL;
    }
    int rc = check_base_url(cfg->base_url, why, why_cap);
    if (rc)
        return rc;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(why, why_cap, "libcurl init failed: %s", curl_easy_strerror(curl_init_rc));
        return BF_ENET;
    }
    http_pool *p = new_pool(cfg);
    rc = cfg->ca_file ? load_anchors(p, cfg->ca_file, why, why_cap) : 0;
    if (rc == 0)
        rc = make_handles(p, why, why_cap);
    if (rc == 0 && pthread_create(&p->thread, NULL, http_main, p) != 0) {
        snprintf(why, why_cap, "cannot start the HTTP thread");
        rc = BF_ENET;
    }
    if (rc) {
        free_pool(p);
        return rc;
    }
    *out = p;
    return 0;
}

void http_destroy(http_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    pthread_mutex_unlock(&p->mu);
    curl_multi_wakeup(p->multi);
    pthread_join(p->thread, NULL);
    free_pool(p);
}

int http_get(http_pool *p, const char *path, int weight, int prio, http_done_fn fn, void *ctx,
             uint64_t *id)
{
    if (!path || path[0] != '/' || weight < 0 || prio < HTTP_PRIO_HIGH || prio > HTTP_PRIO_LOW ||
        !fn)
        return BF_EINVAL;
    req *r = xcalloc(1, sizeof *r);
    size_t blen = strlen(p->base), plen = strlen(path);
    r->url = xmalloc(blen + plen + 1);
    memcpy(r->url, p->base, blen);
    memcpy(r->url + blen, path, plen + 1);
    r->path = r->url + blen;
    r->weight = weight;
    r->prio = prio;
    r->fn = fn;
    r->ctx = ctx;
    r->budget_window = -1;
    r->queued_mono_ns = clk_mono_ns();
    pthread_mutex_lock(&p->mu);
    int rc = p->closing ? BF_ECLOSED : p->n_queued >= p->cfg.max_queued ? BF_EAGAIN : 0;
    if (rc == 0) {
        r->id = p->next_id++;
        r->seq = p->next_seq++;
        queue_push(p, r);
        if (id)
            *id = r->id;
    }
    pthread_mutex_unlock(&p->mu);
    if (rc < 0) {
        free(r->url);
        free(r);
        return rc;
    }
    curl_multi_wakeup(p->multi);
    return 0;
}

int http_set_priority(http_pool *p, uint64_t id, int prio)
{
    if (prio < HTTP_PRIO_HIGH || prio > HTTP_PRIO_LOW)
        return BF_EINVAL;
    int rc = BF_ENOENT;
    pthread_mutex_lock(&p->mu);
    for (req *r = p->q_head; r; r = r->next) {
        if (r->id == id) {
            r->prio = prio;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (rc == 0)
        curl_multi_wakeup(p->multi);
    return rc;
}

/* Marks a queued or in-flight request for completion with err (the HTTP thread finishes it). */
static void cancel_request(http_pool *p, uint64_t id, int err)
{
    req *hit = NULL;
    pthread_mutex_lock(&p->mu);
    for (req *r = p->q_head; r && !hit; r = r->next)
        if (r->id == id)
            hit = r;
    for (unsigned i = 0; i < p->cfg.max_in_flight && !hit; i++)
        if (p->xfers[i].r && p->xfers[i].r->id == id)
            hit = p->xfers[i].r;
    if (hit && !hit->cancelled) {
        hit->cancelled = true;
        hit->cancel_err = err;
        p->cancels = true;
    }
    pthread_mutex_unlock(&p->mu);
    if (hit)
        curl_multi_wakeup(p->multi);
}

/* http_fetch's rendezvous: shared by the waiter and the callback, freed by whichever is last. */
typedef struct fetch_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
    int refs;
    http_result res;
} fetch_wait;

static void fetch_release(fetch_wait *fw)
{
    pthread_mutex_lock(&fw->mu);
    bool last = --fw->refs == 0;
    pthread_mutex_unlock(&fw->mu);
    if (!last)
        return;
    free(fw->res.owned);
    pthread_cond_destroy(&fw->cv);
    pthread_mutex_destroy(&fw->mu);
    free(fw);
}

static void fetch_done(void *ctx, const http_response *r)
{
    fetch_wait *fw = ctx;
    pthread_mutex_lock(&fw->mu);
    if (!fw->abandoned) {
        fw->res.r = *r;
        fw->res.owned = xmalloc(r->len + 1);
        memcpy(fw->res.owned, r->body, r->len);
        fw->res.owned[r->len] = '\0';
        fw->res.r.body = fw->res.owned;
    }
    fw->done = true;
    pthread_cond_signal(&fw->cv);
    pthread_mutex_unlock(&fw->mu);
    fetch_release(fw);
}

static fetch_wait *fetch_wait_new(void)
{
    fetch_wait *fw = xcalloc(1, sizeof *fw);
    pthread_mutex_init(&fw->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fw->cv, &ca);
    pthread_condattr_destroy(&ca);
    fw->refs = 2;
    return fw;
}

/* Waits for the callback until deadline (mono); true when it ran. */
static bool fetch_wait_until(fetch_wait *fw, int64_t deadline_ns)
{
    pthread_mutex_lock(&fw->mu);
    while (!fw->done) {
        int64_t left = deadline_ns - clk_mono_ns();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t abs = (int64_t)ts.tv_sec * CLK_NS_PER_S + ts.tv_nsec + left;
        ts.tv_sec = abs / CLK_NS_PER_S;
        ts.tv_nsec = abs % CLK_NS_PER_S;
        pthread_cond_timedwait(&fw->cv, &fw->mu, &ts);
    }
    bool done = fw->done;
    fw->abandoned = !done;
    pthread_mutex_unlock(&fw->mu);
    return done;
}

static void fetch_error(http_result *out, int err, const char *path, const char *detail)
{
    memset(out, 0, sizeof *out);
    out->r.err = err;
    out->r.used_weight = -1;
    out->r.body = "";
    snprintf(out->r.why, sizeof out->r.why, "GET %.*s: %s", WHY_PATH_MAX, path, detail);
}

int http_fetch(http_pool *p, const char *path, int weight, int64_t deadline_ns, http_result *out)
{
    fetch_wait *fw = fetch_wait_new();
    uint64_t id = 0;
    int rc = http_get(p, path, weight, HTTP_PRIO_HIGH, fetch_done, fw, &id);
    if (rc) {
        fetch_error(out, rc, path ? path : "(null)",
                    rc == BF_EAGAIN ? "the request queue is full" : bf_strerror(rc));
        fw->refs = 1;
        fetch_release(fw);
        return rc;
    }
    if (fetch_wait_until(fw, deadline_ns)) {
        *out = fw->res;
        fw->res.owned = NULL; /* ownership moves to the caller */
        rc = out->r.err;
    } else {
        cancel_request(p, id, BF_ETIMEDOUT);
        fetch_error(out, BF_ETIMEDOUT, path, "the deadline passed before the response came");
        rc = BF_ETIMEDOUT;
    }
    fetch_release(fw);
    return rc;
}

void http_result_free(http_result *res)
{
    if (!res)
        return;
    free(res->owned);
    memset(res, 0, sizeof *res);
}

void http_set_limit(http_pool *p, int weight_limit)
{
    if (weight_limit <= 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->weight_limit = weight_limit;
    pthread_mutex_unlock(&p->mu);
    curl_multi_wakeup(p->multi);
}

void http_get_stats(http_pool *p, http_stats *out)
{
    int64_t now = clk_mono_ns(), now_real = clk_real_ns();
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    out->used_weight = window_of(p, now_real) == p->win_index ? p->win_header : -1;
    out->weight_limit = p->weight_limit;
    out->hold_until_mono_ns = p->hold_until_ns > now ? p->hold_until_ns : 0;
    out->queued = p->n_queued;
    out->in_flight = p->n_in_flight;
    pthread_mutex_unlock(&p->mu);
}
