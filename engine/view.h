/*
 * view: what the UI (and the headless status line) may read of the engine: plain-data copies,
 * published by the engine's threads and copied out by readers (engine_view_symbol /
 * engine_view_global). A view is immutable once copied; its version tells a reader whether anything
 * changed since the copy it drew. Nothing here points into engine memory.
 */
#ifndef BF_VIEW_H
#define BF_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "market/book.h"
#include "market/market.h"
#include "market/symtab.h"
#include "market/sync.h"
#include "util/dec.h"
#include "util/memacct.h"

#define VIEW_LEVELS     100 /* levels per side copied into a view */
#define VIEW_TICKS      512 /* recent mid ticks */
#define VIEW_TRADES     64  /* recent aggTrades */
#define VIEW_REASON_MAX 96

/* The latency stages the panel shows (docs: issue 3 §4). */
typedef enum view_stage {
    STAGE_T_TO_E,          /* exchange: transaction time -> event time */
    STAGE_E_TO_RECV,       /* network: event time -> receive, corrected by the clock offset */
    STAGE_RECV_TO_APPLIED, /* engine: receive -> applied to the book */
    STAGE_APPLIED_TO_PUB,  /* engine: applied -> published to readers */
    STAGE_REST_RTT,        /* REST round trips (snapshots) */
    STAGE_COUNT
} view_stage;

/* Over the engine's rolling window (engine_config.latency_window_ms). APPLIED_TO_PUB has one sample
 * per symbol and batch: the wait of the batch's first applied record. */
typedef struct view_latency {
    uint64_t count;    /* samples >= 0 in the window (the percentiles' population) */
    uint64_t negative; /* samples below zero (clock skew), counted apart */
    int64_t p50_ns, p99_ns, p999_ns, max_ns;
} view_latency;

typedef struct view_trade {
    int64_t T_ms;     /* trade time */
    int64_t px, qty;  /* in the symbol's scales */
    bool buyer_maker; /* true: a sell hit the bid */
} view_trade;

typedef struct view_symbol {
    uint64_t version;          /* grows with every publication of this symbol */
    int64_t published_mono_ns; /* when this version was built (the UI measures published->drawn) */
    char symbol[SYM_NAME_MAX];
    sync_state state;
    char reason[VIEW_REASON_MAX]; /* why the book is not LIVE ("" when LIVE) */
    int64_t state_since_mono_ns;  /* when the state was entered */
    int64_t last_msg_mono_ns;     /* last message of any stream of the symbol (0: none) */
    bool stream_stale;            /* a stream of the symbol is flagged stale by the ws client */

    bool has_scale;
    dec_scale px_scale, qty_scale;
    int64_t tick; /* tickSize in px_scale units from exchangeInfo; 0 when unknown */
    int64_t last_update_id;
    book_level bids[VIEW_LEVELS], asks[VIEW_LEVELS]; /* best first */
    size_t nbids, nasks;
    size_t bid_levels, ask_levels; /* total levels held */

    market_tick ticks[VIEW_TICKS]; /* oldest first */
    size_t nticks;
    view_trade trades[VIEW_TRADES]; /* oldest first */
    size_t ntrades;
    market_last last; /* mark, index, funding, next funding, last trade */

    view_latency stages[STAGE_COUNT];
    uint64_t messages; /* messages of this symbol decoded */
    double msgs_per_s; /* over the last second or so */
    uint64_t gaps, resyncs, snapshots;
    uint64_t dropped;       /* diffs discarded as already in the book (duplicates, u < snapshot) */
    uint64_t decode_errors; /* malformed / unusable messages */
    uint64_t bt_checks, bt_mismatches;
} view_symbol;

typedef struct view_conn {
    bool up;
    uint64_t connects, reconnects, rotations, disconnects;
    char detail[VIEW_REASON_MAX]; /* last disconnect reason */
} view_conn;

typedef struct view_global {
    uint64_t version;
    view_conn ws[2]; /* public, market */
    uint64_t ws_messages, ws_oversized, ws_error_replies;
    uint64_t ws_fragments; /* continuation frames reassembled into messages */
    double msgs_per_s;
    uint64_t ring_drops;     /* frames dropped because a shard ring was full */
    uint64_t unroutable;     /* messages for no known symbol */
    int64_t clock_offset_ns; /* exchange - local (realtime), from /fapi/v1/time */
    int64_t clock_rtt_ns;    /* RTT of the sample the offset came from (0: not measured yet) */
    bool clock_skewed;       /* E->receive went negative beyond the offset's uncertainty */
    int used_weight, weight_limit;
    int used_weight_peak;      /* the highest used weight any response reported since the start */
    int64_t ban_until_mono_ns; /* > now while REST is held by 429/418 */
    uint64_t http_conns_opened, http_requests, http_retries;
    int64_t rss_bytes;
    int64_t mem[MEM_MODULE_COUNT];
    bool recording;
    uint64_t recorded_bytes;
} view_global;

#endif
