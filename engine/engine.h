/*
 * engine: the live pipeline. Wires the WebSocket client and the HTTP pool to the shard workers and
 * publishes views (view.h) that readers copy out.
 *
 *   ws service thread --(frameq per shard: raw message + stamps)--> shard worker --> market
 *   http thread (snapshots, exchangeInfo, time) --(same frameq)----^        |
 *                                                   view publication (seqlock) + wakeup fd
 *
 * Shards: symbol i always maps to worker i % workers (one thread and one frame ring per shard), so a
 * symbol's events are applied in arrival order on one thread. Each worker drains its ring in
 * batches, decodes with its own stream decoder, drives the markets, and publishes each touched
 * symbol's view once per batch (a seqlock per symbol: readers copy and retry, never block it).
 * Snapshots, resync orders and book copies travel on the same ring, in order with the messages.
 * A full ring drops the frame, counts it (view_global.ring_drops) and forces a resync of the symbol
 * (a dropped diff would break the chain anyway), never silently: the resync goes ahead of the next
 * record pushed for that shard, or is applied once the worker has drained the ring.
 *
 * Start-up (engine_start): GET /fapi/v1/exchangeInfo (scales, weight limit; a symbol unknown there
 * is reported and skipped), /fapi/v1/time (clock offset = serverTime - midpoint of the request,
 * the lowest-RTT sample of the last few kept, refreshed every time_refresh_ms), then subscribe the
 * streams of every symbol and fetch a snapshot per symbol as soon as its diff stream has delivered
 * (snapshots go through the weight budget, the focused symbol first). A book that asks for a
 * snapshot again (gap, reconnect, ring drop) gets one the same way. On a WebSocket reconnect every
 * symbol of that connection resyncs. During a rotation overlap nothing is doubled (see ws.h).
 *
 * Threads: create/start/stop/destroy from the owner thread; view copies, focus, add/remove symbol,
 * status JSON and wait from any thread.
 */
#ifndef BF_ENGINE_H
#define BF_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"
#include "net/ws.h"
#include "util/hist.h"
#include "view.h"

typedef struct engine engine;
typedef struct recorder recorder; /* feed/recorder.h */

#define ENGINE_DEFAULT_REST_URL "https://fapi.binance.com"
#define ENGINE_DEFAULT_WS_URL   "wss://fstream.binance.com"
#define ENGINE_DEFAULT_SYMBOLS  "BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT,XRPUSDT"
#define ENGINE_MAX_SYMBOLS      256
#define ENGINE_MAX_STREAM_KINDS 16
#define ENGINE_STREAM_KIND_MAX                                                                     \
    24 /* longest stream kind, NUL included (a stream name fits WS_STREAM_MAX) */

typedef struct engine_config {
    const char *rest_url;       /* default ENGINE_DEFAULT_REST_URL */
    const char *ws_url;         /* default ENGINE_DEFAULT_WS_URL */
    const char *ca_file;        /* extra trust anchor for both */
    const char *const *symbols; /* uppercase; NULL: ENGINE_DEFAULT_SYMBOLS */
    size_t nsymbols;
    const char *depth_suffix; /* diff stream speed: "@100ms" (default), "", "@500ms", "@0ms" */
    bool no_trades, no_mark, no_book_ticker; /* streams on by default */
    unsigned workers;                        /* shard workers; 0 = max(1, online CPUs - 1) */
    size_t ring_bytes;                       /* per shard frame ring, default 16 MiB */
    int snapshot_limit;                      /* default 1000 */
    int64_t time_refresh_ms;                 /* clock offset refresh, default 60000 */
    int64_t latency_window_ms; /* rolling window of the stage percentiles, default 10000 */
    const ws_config *ws;       /* tuning (timeouts, rotation, liveness); NULL for defaults. The
                                 engine sets base_url, ca_file and the callbacks itself. */
    const http_config *http;   /* same for the HTTP pool */
    bool offline; /* no network: no ws client, no HTTP pool; data comes through the feed calls
                     below (tests, replay into the live screens) */
    /* Per-symbol stream kinds, each subscribed as "<symbol>@<kind>": "depth" is the diff stream at
     * depth_suffix; anything else is taken as written ("bookTicker", "aggTrade", "trade",
     * "markPrice", "markPrice@1s", "kline_1m", "depth20@100ms", ...). NULL: depth, bookTicker,
     * aggTrade, markPrice@1s minus what the no_* flags turn off. At most ENGINE_MAX_STREAM_KINDS. */
    const char *const *streams;
    size_t nstreams;
    /* The recording tap (feed/recorder.h), NULL for none; borrowed, must outlive the engine's
     * stop. Every WebSocket message is written exactly as received with its receive wall time on
     * the ws thread before it enters a shard ring (a full ring never loses recorded data); every
     * REST depth snapshot with its "rest" marker; and bfmon events (docs/recording-format.md):
     * connect, disconnect, rotation, gap, resync, rest_error, ring_drop. */
    recorder *recorder;
} engine_config;

/* 0 and *out, or BF_E* with a sentence in why (bad URL or symbol, ...). Nothing connects yet. */
int engine_create(const engine_config *cfg, engine **out, char *why, size_t why_cap);
/* Fetches exchangeInfo and time (blocking up to deadline_ns) and starts streaming. 0, or BF_E* with
 * a sentence in why (unreachable, TLS failure, no known symbol). On success why holds the warnings
 * ("XYZUSDT is not listed in exchangeInfo: skipped") or "". Offline it only starts the workers
 * (with the scales of engine_load_exchange_info when it was called, else inferred). */
int engine_start(engine *e, int64_t deadline_ns, char *why, size_t why_cap);
/* Optional first half of engine_start (online): starts the HTTP pool and fetches exchangeInfo and
 * the server time, so a caller can read engine_exchange_info_json() and the clock offset (a
 * recording's header) before any stream is subscribed; engine_start then goes on from there.
 * Offline it does nothing. 0, or BF_E* with a sentence in why (as engine_start). */
int engine_prepare(engine *e, int64_t deadline_ns, char *why, size_t why_cap);
/* Attach the recording tap (engine_config.recorder) before engine_start; BF_ESTATE after. NULL
 * detaches it again, also after engine_stop (before the recorder is destroyed: views no longer
 * read its size). */
int engine_set_recorder(engine *e, recorder *r);
/* Stops the network and the workers; views stay readable. */
void engine_stop(engine *e);
void engine_destroy(engine *e);

size_t engine_symbol_count(engine *e);
/* Copies the symbol name at index i (watchlist order); false past the end. */
bool engine_symbol_at(engine *e, size_t i, char *buf, size_t cap);
/* The symbol the user looks at: its snapshots are fetched first. */
void engine_focus(engine *e, const char *symbol);
/* The USD-M perpetuals exchangeInfo lists as TRADING (contractType PERPETUAL), sorted by name:
 * copies up to cap names into out and returns how many there are in all (0 before a successful
 * engine_start or engine_load_exchange_info). For the UI's symbol search. */
size_t engine_perpetuals(engine *e, char (*out)[SYM_NAME_MAX], size_t cap);
/* Runtime watchlist changes (subscribe / unsubscribe within the control-frame rate). */
int engine_add_symbol(engine *e, const char *symbol, char *why, size_t why_cap);
int engine_remove_symbol(engine *e, const char *symbol);

/* Copy the latest published view. BF_ENOENT for an unknown symbol. Never torn. */
int engine_view_symbol(engine *e, const char *symbol, view_symbol *out);
void engine_view_global(engine *e, view_global *out);
/* Sum of every publication so far: a reader that saw version v waits for > v. */
uint64_t engine_version(engine *e);
/* Block until engine_version() > seen or deadline_ns (clk_mono_ns): the new version, or seen. */
uint64_t engine_wait(engine *e, uint64_t seen, int64_t deadline_ns);
/* Readable (eventfd) when a new version is published; the UI polls it with stdin. Reading it
 * resets it. */
int engine_wakeup_fd(engine *e);

/* Full depth of one side, best first, taken on the symbol's worker between two events (exact,
 * consistent with *last_update_id). Returns the number of levels (<= cap) or BF_E*. For tests and
 * the "compare with the exchange" check. */
int engine_book_copy(engine *e, const char *symbol, book_side side, book_level *out, size_t cap,
                     int64_t *last_update_id);

/* The exchangeInfo body the engine loaded, reduced to the watched symbols: {"rateLimits":[..],
 * "symbols":[each watched symbol's entry as the exchange sent it, filters included]} (new
 * reference), or NULL before one was loaded (engine_prepare / engine_start /
 * engine_load_exchange_info). */
json_t *engine_exchange_info_json(engine *e);
/* Messages the recording tap could not hand to the recorder (longer than its ring can ever hold);
 * the recorder's own stats count the lines it dropped. */
uint64_t engine_record_rejected(engine *e);
/* The clock offset in use (exchange minus local, ns; 0 before the first /fapi/v1/time sample). */
int64_t engine_clock_offset_ns(engine *e);
/* Per-stream statuses of the WebSocket client (messages delivered, stale, ...): copies up to cap,
 * returns the number of streams; 0 offline. After engine_stop: the statuses at the stop. */
size_t engine_stream_stats(engine *e, ws_stream_status *out, size_t cap);
/* Since-start latency of one stage for a symbol (every sample >= 0 since engine_start; negative
 * samples are not in it), for end-of-run reports. Only after engine_stop (the workers own the
 * histograms while they run): 0, BF_ESTATE before, BF_ENOENT for an unknown symbol. */
int engine_latency_total(engine *e, const char *symbol, view_stage stage, hist_summary *out);

/* One status object: {"t":..,"symbols":{"BTCUSDT":{"state","reason","bid","bid_qty","ask",
 * "ask_qty","last_update_id","msgs","msgs_per_s","gaps","resyncs","snapshots","decode_errors",
 * "stale","latency":{"t_e":{p50,p99,p999,max},...}},...},"ws":{...},"rest":{"used_weight",
 * "weight_limit","banned_for_ms","conns_opened","requests","retries"},"clock":{"offset_ms",
 * "rtt_ms","skewed"},"ring_drops":..,"mem":{...}} (new reference). Prices as the exchange writes. */
json_t *engine_status_json(engine *e);

/*
 * Feed: sources that are not the network (engine_config.offline; tests, replay into the live
 * screens). They enter the same pipeline as the WebSocket and REST data: routed by symbol onto the
 * shard rings, decoded and applied by the workers, published as views. Any thread, but messages of
 * one symbol keep their order only when fed from one thread. May be called before engine_start
 * (records wait in the rings; a full ring drops as in live operation).
 */
/* One stream message as received (raw, or the combined {"stream":..,"data":..} wrapper). stream is
 * its stream name ("btcusdt@depth@0ms"); NULL or "" reads it from the wrapper. 0, BF_ENOENT when no
 * watched symbol matches (counted in unroutable), BF_EAGAIN when the shard ring was full (counted in
 * ring_drops; the symbol resyncs). */
int engine_feed_message(engine *e, const char *stream, const char *data, size_t len,
                        int64_t recv_real_ns, int64_t recv_mono_ns);
/* A GET /fapi/v1/depth body for symbol, applied in order with the diffs. Same returns. */
int engine_feed_rest_depth(engine *e, const char *symbol, const char *body, size_t len,
                           int64_t recv_real_ns, int64_t recv_mono_ns);
/* An exchangeInfo body: scales and the weight limit. Before engine_start only (BF_ESTATE after);
 * watched symbols missing from it are skipped at start. 0 or BF_E* with a sentence in why. */
int engine_load_exchange_info(engine *e, const char *body, size_t len, char *why, size_t why_cap);

#endif
