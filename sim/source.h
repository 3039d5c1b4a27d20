/*
 * source: what the loopback exchange serves, behind one small interface. Two implementations:
 * the synthetic market model (model.h) and a recording (recsrc.h). The server (server.h) owns one
 * source and calls it only from its service thread; a source is never shared between threads.
 *
 * Streams are identified by their Binance name in lowercase ("btcusdt@depth@100ms",
 * "ethusdt@bookTicker", "btcusdt@kline_1m"). The server tells the source which streams anybody
 * listens to (source_want), advances it with the exchange clock, and receives every message that
 * became due as complete JSON text through the emit callback, already in wire form (the payload a
 * raw /ws/<stream> connection receives; the server adds the combined-stream wrapper itself).
 *
 * All JSON produced here is exactly what Binance sends for the kind (field names, key order as in
 * ../shared/docs/binance-protocol.md §3 and §4, prices and quantities as strings padded to the
 * symbol's tickSize/stepSize decimals, update ids int64).
 */
#ifndef BF_SIM_SOURCE_H
#define BF_SIM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct source source;

/* Which route a stream lives on since the 2026 split (depth, bookTicker, trade: PUBLIC). */
typedef enum source_route { SOURCE_ROUTE_PUBLIC = 0, SOURCE_ROUTE_MARKET = 1 } source_route;

/* One due message. `stream` is the lowercase stream name the message belongs to; `kind_depth_diff`
 * marks diff-depth events (the fault injector needs to know which messages carry the pu chain). */
typedef struct source_msg {
    const char *stream;
    const char *json;
    size_t len;
    bool is_depth_diff;
} source_msg;

typedef void (*source_emit_fn)(void *ctx, const source_msg *msg);

typedef struct source_ops {
    /* Advance the exchange clock to now_ms (epoch ms, never decreasing) and emit, in order, every
     * message of a wanted stream that became due. */
    void (*advance)(source *s, int64_t now_ms, source_emit_fn emit, void *ctx);
    /* 0 if the stream name is valid for this source (symbol known, kind served), else BF_EINVAL-
     * style BF_E* code. *route receives the route it belongs to. */
    int (*check_stream)(const source *s, const char *stream, source_route *route);
    /* Somebody started (want=true) or stopped listening to a stream; calls nest (a refcount). */
    void (*want)(source *s, const char *stream, bool want);
    /* REST bodies, written into buf (NUL-terminated). Length, or a negative BF_E* (BF_ENOENT for
     * an unknown symbol: the server answers {"code":-1121,"msg":"Invalid symbol."}, 400). */
    int (*depth)(source *s, const char *symbol, int limit, int64_t now_ms, char *buf, size_t cap);
    int (*exchange_info)(source *s, int64_t now_ms, char *buf, size_t cap);
    /* symbol NULL: the array for every symbol. */
    int (*book_ticker)(source *s, const char *symbol, int64_t now_ms, char *buf, size_t cap);
    int (*premium_index)(source *s, const char *symbol, int64_t now_ms, char *buf, size_t cap);
    /* Pause / resume the market: while quiet, advance emits nothing and the books do not move,
     * so a snapshot taken now is the final state every client must converge to. Updates already
     * in the books but not yet sent (a depth window still open) are emitted by the next advance()
     * after set_quiet(true), and nothing else: call advance() once after quieting. */
    void (*set_quiet)(source *s, bool quiet);
    size_t (*symbol_count)(const source *s);
    const char *(*symbol_at)(const source *s, size_t i); /* "BTCUSDT" */
    /* Largest body any REST call above may need (the server sizes its buffers with this). */
    size_t (*max_body)(const source *s);
    void (*destroy)(source *s);
} source_ops;

/* Every source starts with this header; implementations embed it as their first member. */
struct source {
    const source_ops *ops;
};

static inline void source_destroy(source *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
