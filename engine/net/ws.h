/*
 * ws: the WebSocket client for Binance market streams (libwebsockets).
 *
 * Owns one lws context and its service thread. Every stream goes to the route it belongs to since
 * the 2026 split (ws_route_of: depth, bookTicker, trade -> /public; aggTrade, markPrice, kline,
 * forceOrder, tickers -> /market). Per route the client keeps as few connections as the 200-stream
 * cap allows, in combined mode (<base>/<route>/stream?streams=...) so every message names its
 * stream; streams beyond what fits a short URL (~1.5 KB) are added with SUBSCRIBE frames of at most
 * 100 streams, and runtime subscribe/unsubscribe (symbol switching) are batched into frames sent no
 * faster than `control_per_s` per connection (Binance closes at 10 incoming messages/s).
 *
 * Delivery: each complete message (fragments reassembled up to max_message bytes; larger ones are
 * dropped, counted and reported as soon as they pass the bound, and a message that runs on past
 * 4 x max_message ends its connection, which reconnects) goes to on_msg with its receive stamps and
 * its stream name, in arrival order, on the service thread.
 *
 * Liveness: the client answers every ping with a pong of the same payload (and sends its own ping
 * every ping_interval_ms, dropping the connection when no pong comes within pong_timeout_ms). A
 * stream is STALE when silent longer than max(stale_after_ms, 20 x its expected interval) while
 * its socket may be healthy; on_event reports the change both ways. Irregular streams (interval 0:
 * bookTicker, trade) use stale_after_ms alone; event-only streams (forceOrder, contractInfo) never
 * go stale. Pings from the server are answered by lws itself, with the same payload.
 *
 * Reconnect: a lost connection is re-opened with exponential backoff and full jitter (a uniform
 * delay in [min, min(max, min * 2^attempt)]; a connection that lived backoff_max_ms resets it),
 * re-subscribes its streams and reports WS_EV_CONNECTED with `resumed` so the engine resyncs books.
 * Rotation: rotate_before_ms before max_lifetime_ms, a replacement connection with the same streams
 * is opened (make before break). Both deliver until, per stream, the new connection's messages
 * converge with the old one's (the same message bytes seen on both); from then on only the new
 * connection's messages of that stream are delivered, so nothing is lost or doubled. When every
 * stream has converged (or after rotate_overlap_max_ms) the old connection is closed.
 * Convergence compares 64-bit FNV-1a hashes: the new connection's messages are held until one of
 * the old connection's equals a held one (or a new one equals one the old already delivered).
 *
 * TLS: peers are always verified. With lws 4.1 (LWS_SSL_CLIENT_USE_OS_CA_CERTS) the OS store is
 * loaded first and ca_file is added to the same store. lws's own log is set to errors only
 * (process-wide, once). Messages of streams not subscribed (in flight after an unsubscribe) are
 * dropped and counted (unknown_stream).
 *
 * Threads: create/destroy from the owner; subscribe, unsubscribe, stats and stream status from any
 * thread (commands are queued and the service thread woken). Callbacks run on the service thread
 * and must not block.
 */
#ifndef BF_WS_H
#define BF_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ws_client ws_client;

typedef enum ws_route { WS_ROUTE_PUBLIC = 0, WS_ROUTE_MARKET = 1, WS_ROUTE_COUNT } ws_route;

#define WS_STREAM_MAX 64 /* longest stream name kept, NUL included */

/* The route of a stream name ("btcusdt@depth@100ms" -> PUBLIC). */
ws_route ws_route_of(const char *stream);
const char *ws_route_name(ws_route r); /* "public", "market" */
/* The interval at which a stream is expected to deliver (ms), or 0 when irregular. */
int64_t ws_expected_interval_ms(const char *stream);

typedef struct ws_msg_info {
    const char *stream;   /* from the combined wrapper ("" when absent) */
    int64_t recv_real_ns; /* CLOCK_REALTIME when the final fragment arrived */
    int64_t recv_mono_ns; /* CLOCK_MONOTONIC, same instant */
    unsigned conn;        /* serial of the connection that delivered it */
    ws_route route;
} ws_msg_info;

typedef enum ws_event_kind {
    WS_EV_CONNECTED,    /* a connection is up and subscribed; resumed = it replaces a lost one */
    WS_EV_DISCONNECTED, /* a connection was lost (detail says why); reconnect is scheduled */
    WS_EV_ROTATED,      /* a replacement took over before the max lifetime */
    WS_EV_STREAM_STALE, /* stream silent too long */
    WS_EV_STREAM_LIVE,  /* a stale stream delivers again */
    WS_EV_OVERSIZED,    /* a message above max_message was dropped */
    WS_EV_ERROR_REPLY,  /* the server answered a control frame with an error (detail) */
} ws_event_kind;

typedef struct ws_event {
    ws_event_kind kind;
    ws_route route;
    unsigned conn;
    unsigned replaced; /* WS_EV_ROTATED: the connection the new one (conn) replaced; else 0 */
    bool resumed;
    const char *stream; /* for stream events, else NULL */
    const char *detail; /* a readable sentence, or NULL */
} ws_event;

typedef void (*ws_msg_fn)(void *ctx, const ws_msg_info *info, const char *data, size_t len);
typedef void (*ws_event_fn)(void *ctx, const ws_event *ev);

typedef struct ws_config {
    const char *base_url;          /* "wss://fstream.binance.com"; ws:// is plain TCP */
    const char *ca_file;           /* extra PEM trust anchor, NULL for the system store only */
    size_t max_message;            /* default 4 MiB (never below 1 MiB) */
    bool permessage_deflate;       /* default false */
    int64_t max_lifetime_ms;       /* the server's limit, default 24 h */
    int64_t rotate_before_ms;      /* default 10 min (tests use less) */
    int64_t rotate_overlap_max_ms; /* default 10 s */
    int64_t backoff_min_ms;        /* default 250 */
    int64_t backoff_max_ms;        /* default 30000 */
    int64_t ping_interval_ms;      /* client pings, default 30000 */
    int64_t pong_timeout_ms;       /* default 20000 */
    int64_t stale_after_ms;        /* default 10000 */
    int64_t connect_timeout_ms;    /* default 10000 */
    unsigned max_streams_per_conn; /* default 200 */
    unsigned control_per_s;        /* default 4 */
    uint64_t seed;                 /* jitter seed (0: from the clock) */
    ws_msg_fn on_msg;
    ws_event_fn on_event; /* may be NULL */
    void *ctx;
} ws_config;

typedef struct ws_stats {
    uint64_t messages, bytes;       /* delivered to on_msg */
    uint64_t fragments;             /* continuation frames reassembled */
    uint64_t oversized;             /* messages dropped for size */
    uint64_t binary;                /* binary messages refused (their connection dropped) */
    uint64_t duplicates_suppressed; /* during rotation overlaps */
    uint64_t rotation_forced;       /* overlaps ended by a bound (held bytes, overlap time) */
    uint64_t unknown_stream;        /* messages of streams not subscribed (in flight at unsub) */
    uint64_t error_replies;
    uint64_t connects, reconnects, disconnects, rotations;
    uint64_t pings_received, pongs_sent; /* lws 4.1 answers pings inside the library: stay 0 */
    uint64_t pong_timeouts;
    uint64_t control_frames; /* SUBSCRIBE/UNSUBSCRIBE sent */
    unsigned connections_up;
    unsigned streams, stale_streams;
} ws_stats;

typedef struct ws_stream_status {
    char name[WS_STREAM_MAX];
    ws_route route;
    bool subscribed; /* acknowledged by the server */
    bool stale;
    uint64_t messages;
    int64_t last_msg_mono_ns; /* 0 if none yet */
} ws_stream_status;

/* Validates, creates the context and starts the service thread (connections open once streams
 * exist). 0 and *out, or BF_E* with a sentence in why. */
int ws_create(const ws_config *cfg, ws_client **out, char *why, size_t why_cap);
void ws_destroy(ws_client *c);
/* Add / remove streams (lowercase names). Unknown or duplicate names are ignored. 0 or BF_ECLOSED. */
int ws_subscribe(ws_client *c, const char *const *streams, size_t n);
int ws_unsubscribe(ws_client *c, const char *const *streams, size_t n);
void ws_get_stats(ws_client *c, ws_stats *out);
/* Copies up to cap stream statuses; returns the number of streams. */
size_t ws_stream_statuses(ws_client *c, ws_stream_status *out, size_t cap);

#endif
