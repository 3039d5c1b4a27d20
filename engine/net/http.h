/*
 * http: the REST connection pool (libcurl multi + share) for Binance's public endpoints.
 *
 * Owns one curl multi handle driven by its own thread, a share handle (connections, TLS sessions,
 * DNS) so requests reuse keep-alive connections, and the request-weight budget. Requests are GETs
 * of a path under the base URL with a declared weight and a priority; they run at most
 * `max_in_flight` at a time, highest priority first (FIFO within one priority), and only while the
 * budget allows: weight used (the server's X-MBX-USED-WEIGHT-1M header when known, plus the weight
 * of requests in flight) + the request's weight <= limit * budget_share. A request that would exceed
 * it waits for the next window (windows are wall-clock minutes, as on Binance; window_ms in tests).
 * Without a header in the window, the pool counts the weight of its own completed requests. The
 * order is strict: a request that does not fit holds back lower-priority ones rather than being
 * overtaken; a request heavier than the whole budget runs alone, once the window's count is zero.
 *
 * Failures: transport errors and 5xx/408 are retried (GETs are idempotent) with exponential backoff
 * and full jitter (attempt n waits uniformly in [min, min(max, min * 2^n)]), up to max_retries;
 * certificate and URL errors are not retried. 429 and 418 hold EVERY request (queued and new) until
 * the Retry-After the server sent (or, missing it, until the window's end for 429 and for 2 minutes
 * for 418; a "banned until <ms>" in the body is honoured too, the later end wins); the request
 * itself is retried after the hold (these attempts count against max_retries too; then it ends with
 * BF_EBANNED). Other 4xx end the request with BF_EHTTP and Binance's code and message. A reason
 * after the last retry ends in "(gave up after N attempts)".
 * TLS peer and host verification are always on; ca_file adds a trust anchor: its certificates are
 * added to each connection's OpenSSL store (CURLOPT_SSL_CTX_FUNCTION) next to libcurl's default
 * bundle, which CURLOPT_CAINFO would replace. This needs libcurl built with OpenSSL.
 *
 * Threads: create/destroy from the owner; http_get, http_fetch, http_set_priority, http_set_limit
 * and http_get_stats from any thread (never after http_destroy began). Completion callbacks run on
 * the HTTP thread and must not block; they may call http_get, but not http_fetch.
 */
#ifndef BF_HTTP_H
#define BF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_pool http_pool;

enum { HTTP_PRIO_HIGH = 0, HTTP_PRIO_NORMAL = 1, HTTP_PRIO_LOW = 2 };

/* Zero (or NULL) in any field selects its default. */
typedef struct http_config {
    const char *base_url;       /* "https://fapi.binance.com" (no trailing slash) */
    const char *ca_file;        /* extra PEM trust anchor, NULL for the system store only */
    int64_t connect_timeout_ms; /* default 5000 */
    int64_t total_timeout_ms;   /* per attempt, default 15000 */
    unsigned max_retries;       /* default 4 */
    int64_t backoff_min_ms;     /* default 200 */
    int64_t backoff_max_ms;     /* default 10000 */
    unsigned max_in_flight;     /* default 2 */
    unsigned max_queued;        /* requests waiting (retries aside); default 1024 */
    int weight_limit;           /* per window until http_set_limit; default 2400 */
    double budget_share;        /* share of the limit this client may use, default 0.8 */
    int64_t window_ms;          /* weight window, default 60000 (wall-clock aligned) */
    uint64_t seed;              /* jitter seed (0: from the clock) */
    const char *user_agent;     /* default "bfmon/<version>" */
} http_config;

typedef struct http_response {
    int err;          /* 0, or BF_ENET / BF_ETIMEDOUT / BF_EHTTP / BF_EBANNED / BF_ECLOSED */
    int status;       /* HTTP status of the last attempt, 0 if none completed */
    int binance_code; /* from an error body, 0 if none */
    char why[256];    /* a readable sentence when err != 0 */
    const char *body; /* NUL-terminated; valid during the callback only */
    size_t len;
    int used_weight; /* from the last response's header, -1 if absent */
    unsigned attempts;
    int64_t queued_mono_ns; /* when http_get was called */
    int64_t sent_mono_ns;   /* start of the final attempt */
    int64_t done_mono_ns, done_real_ns;
} http_response;

typedef void (*http_done_fn)(void *ctx, const http_response *r);

/* A completed request whose body the caller owns (http_fetch). */
typedef struct http_result {
    http_response r; /* r.body points into `owned` */
    char *owned;
} http_result;

typedef struct http_stats {
    uint64_t requests; /* completed (any outcome) */
    uint64_t attempts; /* transfers started */
    uint64_t retries;
    uint64_t failures;     /* completed with err != 0 */
    uint64_t conns_opened; /* new TCP connections (CURLINFO_NUM_CONNECTS summed) */
    uint64_t status_429, status_418;
    uint64_t held_by_budget; /* times a request waited for the next window */
    int used_weight;         /* last header value in the current window (-1: unknown) */
    int used_weight_peak;    /* the highest header value since the pool started (0: none) */
    int weight_limit;
    int64_t hold_until_mono_ns; /* > now while every request is held (429/418), else 0 */
    unsigned queued, in_flight;
    int64_t last_rtt_ns; /* sent -> done of the last successful request */
} http_stats;

/* 0 and *out, or BF_E* with a sentence in why: BF_EINVAL (bad URL, ca_file without a PEM
 * certificate), BF_EIO (ca_file unreadable), BF_ENET (curl init failure). Starts the thread. */
int http_create(const http_config *cfg, http_pool **out, char *why, size_t why_cap);
/* Cancels what is queued or in flight: each callback runs once with BF_ECLOSED. */
void http_destroy(http_pool *p);

/* Queue a GET of path ("/fapi/v1/depth?symbol=BTCUSDT&limit=1000"). fn runs exactly once on the
 * HTTP thread. *id (may be NULL) identifies the request for http_set_priority. 0, BF_ECLOSED (the
 * pool is closing), BF_EAGAIN (max_queued requests already wait: a caller gone wrong, or an
 * exchange that stopped answering; ask again later) or BF_EINVAL (path not starting with '/',
 * weight < 0, prio out of range, no fn); when it fails fn never runs. */
int http_get(http_pool *p, const char *path, int weight, int prio, http_done_fn fn, void *ctx,
             uint64_t *id);
/* Change the priority of a request still queued (the visible symbol's snapshot goes first).
 * 0, BF_ENOENT (unknown, already in flight or done) or BF_EINVAL (prio out of range). */
int http_set_priority(http_pool *p, uint64_t id, int prio);
/* Blocking GET for start-up calls (exchangeInfo, time), at HTTP_PRIO_HIGH: waits until done or
 * deadline (clk_mono_ns). 0 with *out filled, or the error (out->r.why says why; BF_ETIMEDOUT when
 * the deadline passed, and the request is then cancelled). Free *out with http_result_free in
 * every case. Not from a completion callback (it would wait for its own thread). */
int http_fetch(http_pool *p, const char *path, int weight, int64_t deadline_ns, http_result *out);
void http_result_free(http_result *res);

/* The REQUEST_WEIGHT limit per window read from exchangeInfo. */
void http_set_limit(http_pool *p, int weight_limit);
void http_get_stats(http_pool *p, http_stats *out);

#endif
