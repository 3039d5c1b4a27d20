/*
 * server: the loopback Binance USD-M exchange (`bfmon sim`) on libwebsockets: REST over http and
 * https and WebSocket over ws and wss, both on the same port per transport (one plain vhost, one
 * TLS vhost), serving one source (source.h).
 *
 * REST: /fapi/v1/ping, /time, /exchangeInfo, /depth?symbol=&limit= (limits 5,10,20,50,100,500,1000;
 * weights 2/2/2/2/5/10/20), /ticker/bookTicker[?symbol=], /premiumIndex[?symbol=]. Every response
 * carries X-MBX-USED-WEIGHT-1M (weight used in the current window, this request included). Past the
 * limit: 429 with Retry-After (seconds to the window's end) and -1003 "Too many requests; current
 * limit of IP(127.0.0.1) is %d requests per minute. ..."; a client that keeps sending during a 429
 * is banned: 418 with Retry-After and "Way too many requests; IP(127.0.0.1) banned until %lld. ..."
 * (ban lengths double per offence from 2 s, scaled to the window). Errors are Binance's bodies:
 * -1121 "Invalid symbol.", -1100 "Illegal characters found in parameter '%s'; ...", -1102
 * "Mandatory parameter '%s' was not sent, was empty/null, or malformed.", -1130 "Data sent for
 * parameter 'limit' is not valid.", unknown path 404 with {"code":-5,"msg":"Not found."}.
 *
 * WS paths: /public/ws/<s1>/<s2>..., /public/stream?streams=s1/s2, the same under /market, and the
 * legacy /ws and /stream (treated as /public). Any path segment after /ws/ that is not a valid stream
 * (ccxt's connection index "0") is accepted silently. A stream asked on the wrong route is accepted
 * (listed by LIST_SUBSCRIPTIONS) and stays silent, as on Binance. Control frames: SUBSCRIBE,
 * UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY/GET_PROPERTY "combined", with Binance's replies and
 * error replies in the nested shape {"error":{"code":..,"msg":..},"id":..}. Limits: more than
 * `max_incoming_per_s` incoming messages (text, ping, pong) in any second, or more than
 * `max_streams` streams, closes the connection (code 1008). The server pings every
 * `ping_interval_ms` and drops a connection that has not ponged for `pong_timeout_ms`; it closes
 * every connection at `max_lifetime_ms` (code 1000, "max lifetime"). A client too slow to drain
 * `max_send_queue` bytes is disconnected (counted).
 *
 * Faults: a spec "kind[,key=value...]", applied now (sim_server_inject, or POST /sim/fault with the
 * spec as body) or on a schedule (config.faults, `at=` relative to start). Keys: stream=<name>
 * (default: every stream the kind applies to), at=<dur>, every=<dur>, count=<n> (default 1),
 * for=<dur>, delay=<dur>, size=<bytes>, retry_after=<s>. Durations as util/dur.h: 250ms, 1.5s, 2m, 1h; a bare number is seconds.
 *   gap          drop the next depth diff event of the stream (the chain breaks at the client)
 *   dup          send the next message of the stream twice
 *   reorder      swap the next two messages of the stream
 *   stall        send nothing on the stream for `for` while every other stream flows
 *   disconnect   drop every (or the stream's) connection abruptly (no close frame)
 *   close        close cleanly (1000 "server closing")
 *   malformed    send one frame of truncated JSON on the stream's connections
 *   oversized    send one frame of `size` bytes (default 2 MiB) of valid JSON the client must reject
 *   fragment     send the next `count` messages in fragments of `size` bytes (default 512)
 *   slow_snapshot  delay the next `count` /fapi/v1/depth answers by `delay`
 *   http429      answer the next `count` REST requests with 429, Retry-After `retry_after`
 *   http418      answer the next `count` REST requests with 418 (ban for `retry_after` seconds)
 * Control plane (not Binance; tests and demos): POST /sim/fault, POST /sim/quiet, POST /sim/resume,
 * GET /sim/stats (JSON: connections, messages and bytes sent per route, requests per path,
 * 429/418 sent, requests received during a ban, faults applied, last update id per symbol).
 *
 * Details of this implementation:
 *   - The source is told once per stream (want true on the first listener on the stream's route,
 *     false when the last one leaves); silent wrong-route subscriptions are never wanted.
 *   - The weight window is fixed (aligned to weight_window_ms) and shared by every client (all
 *     loopback traffic comes from one IP). A request past the limit gets 429; the next one while
 *     the window is still exhausted gets 418 and a ban of 2 s * window/1 min (at least 100 ms),
 *     doubling per offence. /sim/ requests are neither weighed nor faulted.
 *   - Pings carry the send time as payload; only pongs with a payload are seen (libwebsockets
 *     drops empty pongs before the protocol). Client pings are answered by libwebsockets and are
 *     not counted against max_incoming_per_s.
 *   - A pong timeout drops the connection without a close frame; limit closes send 1008 with
 *     "too many messages" / "too many streams"; fault close sends 1000 "server closing".
 *   - stall holds the stream's messages back and releases them when it ends (a delay, not a
 *     loss); gap, dup, reorder and stall without stream= apply to every stream someone listens
 *     to; disconnect, close, malformed, oversized and fragment without stream= hit every
 *     connection. every= repeats until the server stops (times=<n> bounds it, see faults.h).
 *   - set_quiet(true) also releases what stall/reorder hold back, so clients converge.
 *   - One frame is written per writeable callback (the lws rule); messages going to several
 *     connections share one buffer (the combined wrapper is built once per message).
 *
 * Threads: create/start/destroy from the owner; inject, set_quiet and get_stats from any thread.
 * All lws work happens on the server's own service thread.
 */
#ifndef BF_SIM_SERVER_H
#define BF_SIM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/source.h"

typedef struct sim_server sim_server;

typedef struct sim_server_config {
    source *src;                 /* the server takes ownership (destroyed with it, also on error) */
    const char *host;            /* default "127.0.0.1" */
    int port;                    /* plain http+ws; 0 = ephemeral (default), -1 = off */
    int tls_port;                /* https+wss; 0 = ephemeral, -1 = off (default off without cert) */
    const char *cert_file;       /* PEM certificate chain for the TLS vhost */
    const char *key_file;        /* PEM private key */
    int64_t ping_interval_ms;    /* default 180000 */
    int64_t pong_timeout_ms;     /* default 600000 */
    int64_t max_lifetime_ms;     /* default 86400000 */
    unsigned max_streams;        /* per connection, default 200 */
    unsigned max_incoming_per_s; /* per connection, default 10 */
    int weight_limit;            /* per window, default: the source's (2400) */
    int64_t weight_window_ms;    /* default 60000 */
    int64_t tick_ms;             /* how often the source is advanced, default 5 */
    size_t max_send_queue; /* bytes queued per connection before it is dropped, default 64 MiB */
    const char *const *faults; /* scheduled fault specs */
    size_t nfaults;
} sim_server_config;

typedef struct sim_server_stats {
    uint64_t ws_connections; /* accepted so far */
    uint64_t ws_open;        /* open now */
    uint64_t ws_messages_sent, ws_bytes_sent;
    uint64_t ws_control_frames; /* SUBSCRIBE & co received */
    uint64_t ws_limit_closes;   /* closed for rate / stream limits */
    uint64_t ws_pong_timeouts, ws_lifetime_closes, ws_slow_drops;
    uint64_t ws_deflate; /* connections that asked for permessage-deflate */
    uint64_t http_requests, http_429, http_418;
    uint64_t http_during_ban; /* requests that arrived while the client was banned */
    uint64_t faults_applied;
    int weight_used; /* in the current window */
} sim_server_stats;

/* Validates the config and the fault specs, binds the listening sockets (so the ports are known
 * when this returns). 0, or BF_E* with a sentence in why. */
int sim_server_create(const sim_server_config *cfg, sim_server **out, char *why, size_t why_cap);
/* Starts the service thread. */
int sim_server_start(sim_server *s);
void sim_server_destroy(sim_server *s);

/* The bound port (tls selects the TLS vhost), -1 when off. */
int sim_server_port(const sim_server *s, bool tls);
/* {"rest":"http://127.0.0.1:P","ws":"ws://127.0.0.1:P","rest_tls":"https://127.0.0.1:Q",
 *  "ws_tls":"wss://127.0.0.1:Q","symbols":["BTCUSDT",...]} (TLS keys only when on). */
int sim_server_urls_json(const sim_server *s, char *buf, size_t cap);

/* Apply a fault spec now (at= is ignored). 0, or BF_EINVAL-style code with a sentence in why. */
int sim_server_inject(sim_server *s, const char *spec, char *why, size_t why_cap);
/* Quiet (true) or resume. Returns once the service thread has taken it: after set_quiet(true)
 * returns, no further market message is produced and every REST snapshot is final. */
void sim_server_set_quiet(sim_server *s, bool quiet);
void sim_server_get_stats(sim_server *s, sim_server_stats *out);

#endif
