/*
 * event: the decoded form of Binance USDⓈ-M stream messages and REST depth snapshots.
 *
 * Both decoders (stream.h, the fast allocation-free one, and jdec.h, the jansson reference) fill
 * these same structs, so they can be compared field by field. Strings are slices (bf_str), not
 * NUL-terminated; they point into the caller's input buffer or into the decoder's own scratch (for
 * strings that carried JSON escapes) and stay valid until the decoder's next call. Prices and
 * quantities stay strings here: the market layer converts them with the symbol's scale (dec.h).
 * Book levels also carry both numbers pre-parsed by the decoder while it scanned them (ev_level),
 * so that the conversion costs no second pass over the strings. An absent optional string has
 * p == NULL; optional integers and the exact set of fields present are reported in `has`.
 */
#ifndef BF_EVENT_H
#define BF_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dec.h"

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

/* Bits of ev_level.pre. */
enum {
    EV_PRE_PX = 1u << 0,  /* px_m, px_d hold the price */
    EV_PRE_QTY = 1u << 1, /* qty_m, qty_d hold the quantity */
};

/* One price level: both strings as the exchange wrote them ("61800.10", "0.000"), always, and,
 * when its bit of `pre` is set, each number pre-parsed by the decoder while it scanned the string
 * (dec.h): value = m * 10^-d, the digits as a signed integer and how many of them follow the point
 * ("61800.10": 6180010 and 2; "0.000": 0 and 3). A number is pre-parsed when its string is
 * -?[0-9]+(\.[0-9]+)? with at most 19 digits and a value that fits int64, i.e. always on the
 * exchange's data; otherwise its bit is clear, m and d are 0, and the string must go through
 * dec_parse(). ev_level_px() / ev_level_qty() make that choice. "Not pre-parsed" is the clear bit
 * rather than a special d so that a level built by hand and zero-initialised apart from its strings
 * is read from its strings. */
typedef struct ev_level {
    bf_str px, qty;
    int64_t px_m, qty_m;
    uint8_t px_d, qty_d; /* 0..18 */
    uint8_t pre;         /* EV_PRE_* */
} ev_level;

/* Store a level's strings and pre-parse both: the decoders' shared helper (jdec for every level,
 * the fast decoder for those its fused scan does not take); reads exactly the strings' bytes. */
static inline void ev_level_set(ev_level *lv, bf_str px, bf_str qty)
{
    int pd = dec_preparse(px.p, px.n, &lv->px_m), qd = dec_preparse(qty.p, qty.n, &lv->qty_m);
    lv->px = px;
    lv->qty = qty;
    lv->px_d = (uint8_t)(pd < 0 ? 0 : pd);
    lv->qty_d = (uint8_t)(qd < 0 ? 0 : qd);
    lv->pre = (uint8_t)((pd >= 0 ? EV_PRE_PX : 0) | (qd >= 0 ? EV_PRE_QTY : 0));
}

/* The level's price (quantity) in units of sc, from the pre-parsed parts when there are some, else
 * from the string: dec_parse()'s value and error code either way. */
static inline int ev_level_px(const ev_level *lv, const dec_scale *sc, int64_t *out)
{
    if (lv->pre & EV_PRE_PX)
        return dec_from_parts(lv->px_m, lv->px_d, sc, out);
    return dec_parse(lv->px.p, lv->px.n, sc, out);
}

static inline int ev_level_qty(const ev_level *lv, const dec_scale *sc, int64_t *out)
{
    if (lv->pre & EV_PRE_QTY)
        return dec_from_parts(lv->qty_m, lv->qty_d, sc, out);
    return dec_parse(lv->qty.p, lv->qty.n, sc, out);
}

/* One price or quantity of a message other than a level (bookTicker's b, B, a, A), pre-parsed by
 * the fast decoder while the string was in cache, as in ev_level: value = m * 10^-d when `pre` is
 * set. `pre` clear (jdec, the fast decoder's general path, an event built by hand and
 * zero-initialised) means: read the string. ev_num_value() makes that choice. */
typedef struct ev_num {
    int64_t m;
    uint8_t d; /* 0..18 */
    bool pre;
} ev_num;

/* dec_preparse() of s into x (pre clear when it leaves s to dec_parse()). */
static inline void ev_num_set(ev_num *x, bf_str s)
{
    int d = dec_preparse(s.p, s.n, &x->m);
    x->d = (uint8_t)(d < 0 ? 0 : d);
    x->pre = d >= 0;
}

/* The number in units of sc: dec_parse()'s value and error code for s either way. */
static inline int ev_num_value(const ev_num *x, bf_str s, const dec_scale *sc, int64_t *out)
{
    if (x->pre)
        return dec_from_parts(x->m, x->d, sc, out);
    return dec_parse(s.p, s.n, sc, out);
}

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
    bf_str symbol, pair;                             /* s, ps */
    int64_t u, E, T;                                 /* E/T optional */
    bf_str bid_px, bid_qty, ask_px, ask_qty;         /* b, B, a, A */
    ev_num bid_px_n, bid_qty_n, ask_px_n, ask_qty_n; /* the same four, maybe pre-parsed */
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
/* Field-by-field equality of two decoded messages (strings by content). A bookTicker's ev_num are
 * derived from its strings, and one decoder may leave them unset: each one that is set must be what
 * ev_num_set() gives for its string, in either message. */
bool stream_msg_eq(const stream_msg *a, const stream_msg *b);
/* One-line description of an event for test failures and debugging (NUL-terminated, truncated to
 * cap). */
void ev_describe(const stream_msg *m, size_t i, char *buf, size_t cap);
const char *ev_kind_name(ev_kind k);
/* The symbol an event is about ({NULL, 0} for kinds without one, such as REST snapshots). */
bf_str ev_symbol(const ev *e);

#endif
