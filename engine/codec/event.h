/*
 * event: the decoded form of Binance USDⓈ-M stream messages and REST depth snapshots.
 *
 * Both decoders (stream.h, the fast allocation-free one, and jdec.h, the jansson reference) fill
 * these same structs, so they can be compared field by field. Strings are slices (bf_str), not
 * NUL-terminated; they point into the caller's input buffer or into the decoder's own scratch (for
 * strings that carried JSON escapes) and stay valid until the decoder's next call. Prices and
 * quantities stay strings here: the market layer converts them with the symbol's scale (dec.h). An
 * absent optional string has p == NULL; optional integers and the exact set of fields present are
 * reported in `has`.
 */
#ifndef BF_EVENT_H
#define BF_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bf_str {
    const char *p; /* NULL when absent */
    uint32_t n;
} bf_str;

typedef enum ev_kind {
    EV_NONE = 0,
    EV_DEPTH,       /* "depthUpdate": diff (<s>@depth[@...]) or partial (<s>@depth5/10/20) */
    EV_SNAPSHOT,    /* REST GET /fapi/v1/depth body: has lastUpdateId, bids, asks */
    EV_BOOK_TICKER, /* "bookTicker" */
    EV_AGG_TRADE,   /* "aggTrade" */
    EV_TRADE,       /* "trade" */
    EV_MARK_PRICE, /* "markPriceUpdate" (one object; !markPrice@arr yields one event per element) */
    EV_KLINE,      /* "kline" */
    EV_FORCE_ORDER, /* "forceOrder" */
    EV_KIND_COUNT
} ev_kind;

/* One price level: both strings as the exchange wrote them ("61800.10", "0.000"). */
typedef struct ev_level {
    bf_str px, qty;
} ev_level;

/* A run of levels inside stream_msg.levels. */
typedef struct ev_levels {
    uint32_t first, count;
} ev_levels;

/* Bits of ev.has for optional fields. */
enum {
    EV_HAS_T = 1u << 0,  /* depth: "T"; bookTicker: "T" */
    EV_HAS_E = 1u << 1,  /* bookTicker / snapshot: "E" */
    EV_HAS_ST = 1u << 2, /* "st" (2026+, top level or inside forceOrder's "o") */
    EV_HAS_PU = 1u << 3, /* depth: "pu" (required for diff depth; partial depth may omit it) */
};

typedef struct ev_depth {
    bf_str symbol, pair; /* s, ps (pair optional) */
    int64_t E, T, U, u, pu;
    ev_levels bids, asks; /* b, a */
    bool partial;         /* from the stream name (@depth5/@depth10/@depth20); diff otherwise */
} ev_depth;

typedef struct ev_snapshot {
    int64_t last_update_id, E, T; /* E/T optional (EV_HAS_E / EV_HAS_T) */
    ev_levels bids, asks;
} ev_snapshot;

typedef struct ev_book_ticker {
    bf_str symbol, pair;                     /* s, ps */
    int64_t u, E, T;                         /* E/T optional */
    bf_str bid_px, bid_qty, ask_px, ask_qty; /* b, B, a, A */
} ev_book_ticker;

typedef struct ev_agg_trade {
    bf_str symbol, px, qty, nq;              /* s, p, q, nq (nq optional) */
    int64_t E, T, agg_id, first_id, last_id; /* E, T, a, f, l */
    bool buyer_maker;                        /* m */
} ev_agg_trade;

typedef struct ev_trade {
    bf_str symbol, px, qty, exec_type; /* s, p, q, X (X optional) */
    int64_t E, T, trade_id;            /* E, T, t */
    bool buyer_maker;                  /* m */
} ev_trade;

typedef struct ev_mark_price {
    bf_str symbol, mark, index, settle, funding, mark_avg; /* s, p, i, P (opt), r, ap (opt) */
    int64_t E, next_funding;                               /* E, T */
} ev_mark_price;

typedef struct ev_kline {
    bf_str symbol, interval;           /* s (top level), k.i */
    bf_str open, close, high, low;     /* k.o k.c k.h k.l */
    bf_str volume, quote_volume;       /* k.v k.q */
    bf_str taker_base, taker_quote;    /* k.V k.Q */
    int64_t E, start, close_time;      /* E, k.t, k.T */
    int64_t first_id, last_id, trades; /* k.f, k.L, k.n */
    bool closed;                       /* k.x */
} ev_kline;

typedef struct ev_force_order {
    bf_str symbol, side, type, tif; /* o.s o.S o.o o.f */
    bf_str qty, px, avg_px, status; /* o.q o.p o.ap o.X */
    bf_str last_qty, cum_qty;       /* o.l o.z */
    int64_t E, T;                   /* E, o.T */
} ev_force_order;

typedef struct ev {
    ev_kind kind;
    uint32_t has; /* EV_HAS_* */
    int64_t st;   /* valid when has & EV_HAS_ST */
    union {
        ev_depth depth;
        ev_snapshot snapshot;
        ev_book_ticker bt;
        ev_agg_trade agg;
        ev_trade trade;
        ev_mark_price mark;
        ev_kline kline;
        ev_force_order force;
    } u;
} ev;

/* One decoded message: a combined-stream wrapper is unwrapped into `stream`. */
typedef struct stream_msg {
    bf_str stream;  /* "btcusdt@depth@0ms", or p == NULL for a raw (unwrapped) message */
    size_t nevents; /* 1, or one per element of an array message (!markPrice@arr) */
    const ev *events;
    const ev_level *levels; /* storage that ev_levels index into */
} stream_msg;

/* Bounds applied by both decoders. */
typedef struct stream_limits {
    size_t max_levels; /* per message, both sides together (default 65536) */
    size_t max_events; /* per message (default 4096) */
} stream_limits;

/* True when both slices are absent, or both present with the same bytes. */
bool bf_str_eq(bf_str a, bf_str b);
/* True when the slice equals the NUL-terminated string s. */
bool bf_str_is(bf_str a, const char *s);
/* Field-by-field equality of two decoded messages (strings by content). */
bool stream_msg_eq(const stream_msg *a, const stream_msg *b);
/* One-line description of an event for test failures and debugging (NUL-terminated, truncated to
 * cap). */
void ev_describe(const stream_msg *m, size_t i, char *buf, size_t cap);
const char *ev_kind_name(ev_kind k);

#endif
