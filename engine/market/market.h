/*
 * market: everything the engine keeps for one symbol, fed with decoded events (event.h).
 *
 * Owns the symbol's scales, its L2 book and sync state machine (diff depth and REST snapshots), a
 * separate top-N book replaced by each partial-depth message, the bookTicker cross-check, trade /
 * aggTrade / markPrice / kline / forceOrder counters and last values, a ring of mid ticks (one per
 * applied depth event) and the exchange-to-receive latency distribution. The live engine and replay
 * drive the same code.
 *
 * Scales: from exchangeInfo (sym_info) when known, as the decimals its tickSize / stepSize strings
 * carry with unit 1 (real books hold levels off the current tick, so values are not counted in
 * ticks); otherwise inferred from the first message that
 * carries prices (depth, snapshot or bookTicker): decimals = the most decimals among its price
 * (resp. quantity) strings, unit 1. Binance pads every price and quantity of a symbol to one
 * precision, so one message is enough; a later string with more digits is a convert error.
 *
 * bookTicker cross-check: after each applied depth event with final id u, the book's best bid and
 * ask (prices and quantities) must equal the latest bookTicker whose id is <= u. Both streams arrive
 * in either order, so checks wait in a bounded queue until a bookTicker with id > u arrives (or one
 * already has); when the bounded bookTicker history no longer reaches back to u the check is
 * unverifiable (counted apart, not a mismatch). A full queue resolves its oldest check with what is
 * known; market_flush() resolves the rest. A symbol without bookTicker traffic has no checks.
 *
 * A market belongs to one thread (its symbol's worker). Memory: book and sync report themselves to
 * memacct; the market's scratch, histories and rings are reported as MEM_OTHER / MEM_RING / MEM_HIST.
 */
#ifndef BF_MARKET_H
#define BF_MARKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/event.h"
#include "market/book.h"
#include "market/symtab.h"
#include "market/sync.h"
#include "util/dec.h"
#include "util/hist.h"
#include "util/tsring.h"

typedef struct market market;

typedef struct market_config {
    const sym_info *info;      /* exchangeInfo for the symbol (copied), or NULL to infer scales */
    const book_config *book;   /* NULL for book defaults */
    const sync_config *sync;   /* NULL for sync defaults */
    size_t bt_history;         /* bookTickers kept for the cross-check (default 4096) */
    size_t max_pending_checks; /* cross-checks waiting for a later bookTicker (default 4096) */
    size_t tick_capacity;      /* mid ticks kept (default 4096) */
} market_config;

/* One record of market_ticks(): the book after an applied depth event. */
typedef struct market_tick {
    int64_t recv_ns; /* local receive time of the event */
    int64_t E;       /* exchange event time (ms) */
    int64_t u;       /* final update id of the event */
    int64_t mid_x2;  /* best bid + best ask in ticks (twice the mid, exact) */
} market_tick;

/* A book top as compared by the cross-check (has_* false for an empty side). */
typedef struct market_top {
    bool has_bid, has_ask;
    book_level bid, ask;
} market_top;

typedef struct market_mismatch {
    int64_t u;         /* depth event after which the book was captured */
    int64_t bt_id;     /* id of the bookTicker it was compared with */
    market_top book;   /* book top after event u */
    market_top ticker; /* what the bookTicker said */
} market_mismatch;

typedef struct market_counters {
    uint64_t depth_events;    /* diff depth events received */
    uint64_t partial_events;  /* partial depth (top-N) messages received */
    uint64_t snapshot_events; /* REST snapshots received */
    uint64_t book_tickers;    /* bookTickers received */
    uint64_t bt_out_of_order; /* bookTickers ignored: id not above the previous one */
    uint64_t trades, agg_trades, mark_prices, klines, force_orders;
    uint64_t convert_errors; /* price/qty that did not fit the scale, missing pu on a diff */
    uint64_t crossed;        /* applied events after which best bid >= best ask */
    uint64_t bt_checks;      /* cross-checks resolved against a bookTicker */
    uint64_t bt_mismatches;  /* ... that found a different top */
    uint64_t bt_unverified;  /* skipped: the history no longer reached back to u */
    uint64_t bt_pending;     /* currently waiting */
} market_counters;

/* Last values of the derivative streams, exactly as the exchange wrote them ("" when never seen). */
typedef struct market_last {
    char mark_price[DEC_MAX_CHARS + 1];
    char index_price[DEC_MAX_CHARS + 1];
    char funding_rate[DEC_MAX_CHARS + 1];
    int64_t next_funding_ms; /* 0 when never seen */
    char trade_price[DEC_MAX_CHARS + 1];
    char trade_qty[DEC_MAX_CHARS + 1];
} market_last;

/* Signed latency summary (recv_ns - E*1e6): negative when the local clock is behind the exchange. */
typedef struct market_latency {
    uint64_t count;
    uint64_t negative; /* samples below zero */
    int64_t min_ns, p50_ns, p99_ns, max_ns;
} market_latency;

market *market_create(const char *symbol, const market_config *cfg);
void market_destroy(market *m);

/* Apply one decoded event of this symbol. levels is the message's level storage (stream_msg.levels),
 * recv_ns the local receive time. Returns 0, BF_EGAP when a diff broke the chain (the book is now
 * RESYNCING; counted by sync), or another BF_E* when the event could not be used (counted in
 * convert_errors): BF_EMISSING (diff without pu), BF_EPRECISION / BF_EOFFTICK / BF_ERANGE / ... from
 * dec_parse, BF_ETOOBIG from the book, BF_ESTATE from a snapshot older than every buffered event. */
int market_on_event(market *m, const ev *e, const ev_level *levels, int64_t recv_ns);
/* End of input: resolve every pending cross-check with what is known. */
void market_flush(market *m);

const char *market_symbol(const market *m);
/* True when the scales came from exchangeInfo, false when inferred (or not known yet). */
bool market_scales_from_info(const market *m);
/* False until a scale is known (exchangeInfo or the first message with prices). */
bool market_scales(const market *m, dec_scale *px, dec_scale *qty);
/* Format a price / quantity in the symbol's scale (as the exchange writes it). Length or BF_E*. */
int market_format_px(const market *m, int64_t v, char *buf, size_t cap);
int market_format_qty(const market *m, int64_t v, char *buf, size_t cap);

const book *market_book(const market *m);
/* The book of the latest partial-depth message (top N, replaced each time); NULL if none came. */
const book *market_partial_book(const market *m);
sync_state market_state(const market *m);
const char *market_reason(const market *m);
void market_sync_stats(const market *m, sync_stats *out);
bool market_wants_snapshot(const market *m);
/* The engine's hooks into the sync state machine (sync.h), for events the market cannot see:
 * frames lost before decoding (ring full), a WebSocket reconnect, a silent stream. */
void market_force_resync(market *m, const char *reason);
void market_mark_stale(market *m, const char *reason);
void market_counters_get(const market *m, market_counters *out);
/* The first cross-check mismatch; false if there was none. */
bool market_first_mismatch(const market *m, market_mismatch *out);
const market_last *market_last_values(const market *m);
void market_latency_get(const market *m, market_latency *out);
const tsring *market_ticks(const market *m);
size_t market_mem_bytes(const market *m);

#endif
