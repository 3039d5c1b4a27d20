/*
 * model: the loopback exchange's synthetic market, a source (source.h).
 *
 * Per symbol: a mid that moves as a seeded random walk on the tick grid, a book of `levels` price
 * levels per side (never more than 1000, so /fapi/v1/depth?limit=1000 is the whole book) with a
 * realistic shape (sizes growing away from the touch, occasional gaps and walls), and a stream of
 * book updates. Every update takes the next id of ONE global sequence shared by all symbols that
 * advances by a random step >= 1 (ids are not contiguous, as on Binance). Diff depth events are
 * produced per cadence (@0ms ~50 ms, @100ms, default 250 ms, @500ms) as Binance does: one event per
 * cadence window holding every level changed in it (last value wins, qty "0..." deletes), U = first
 * update id in the window, u = last, pu = the u of the previous event of the same stream.
 * Partial depth (@depth5/10/20 with optional @100ms/@500ms, default 250 ms), bookTicker (on every
 * top change, u = the update that changed it), aggTrade and trade (trades hit the touch and change
 * it), markPrice (@1s or 3 s; mark, index, funding rate, next funding time on the 8 h grid), and
 * klines (every interval 1m..1M, pushed every 250 ms when they changed, x:true when the candle
 * closes; 1w starts on Monday, 1M on the calendar month) complete it. All-market streams
 * (!bookTicker, !markPrice@arr) are not served (check_stream rejects them).
 *
 * Quiet (source_ops.set_quiet): the book stops at once; the depth windows still open at that moment
 * are closed and emitted (E = that time) by the next advance(), which emits nothing else while
 * quiet. So the server calls advance() once after set_quiet(true) and before it reports the market
 * final; from then on /depth equals what every client applying the diffs holds. Resuming starts the
 * pacing afresh (no backlog of the quiet time).
 *
 * REST depth: limit is rounded up to the next of 5, 10, 20, 50, 100, 500, 1000 (<= 0: 500);
 * lastUpdateId is the id of the symbol's latest book update (inside the current window of every
 * cadence, so U <= lastUpdateId <= u holds for the next event or pu == lastUpdateId).
 *
 * Deterministic: for one seed, the sequence of book updates and trades is a function of the
 * update count only; wall-clock pacing decides how many happen per advance() (so two runs with the
 * same seed and the same advance() times produce byte-identical output). Update n happens at exchange
 * time start + n / rate and windows close on a 50 ms grid of exchange time, so even the advance()
 * granularity does not change the output (only the first advance, which fixes the start, and a
 * stall of more than 2 s, whose backlog is dropped, do). The total rate of book updates across
 * symbols is `rate` per second; a level that falls out of the `levels` window is deleted with its
 * own "0" update, so a client's book stays equal to /depth?limit=1000.
 *
 * Owned by one thread (the sim's service thread), like every source.
 */
#ifndef BF_SIM_MODEL_H
#define BF_SIM_MODEL_H

#include <stdint.h>

#include "sim/source.h"

/* One symbol of the model. NULL/0 fields take the defaults of the well-known symbol of that name
 * (BTCUSDT tick "0.10" step "0.001" mid "61800.00", ETHUSDT "0.01"/"0.001"/"2650.00", ...), or
 * generic ones for other names (tick "0.0001", step "1", mid "1.0000"). Names are A-Z, 0-9, _;
 * tick and step have at most 8 decimals; the mid must be a multiple of the tick. */
typedef struct model_symbol {
    const char *name;      /* "BTCUSDT" */
    const char *tick_size; /* "0.10" */
    const char *step_size; /* "0.001" */
    const char *mid;       /* starting mid, "61800.00" */
} model_symbol;

typedef struct model_config {
    uint64_t seed;               /* default 1 */
    const model_symbol *symbols; /* NULL: the monitor's default symbols (MODEL_DEFAULT_SYMBOLS) */
    size_t nsymbols;
    double rate;      /* book updates per second over all symbols; default 2000, up to 1e6 */
    unsigned levels;  /* levels per side, 20..1000; default 500 */
    int64_t start_ms; /* exchange time of the first advance; 0 = the first advance's now_ms */
    int weight_limit; /* REQUEST_WEIGHT per minute announced in exchangeInfo (default 2400) */
} model_config;

/* The symbols `bfmon` watches by default; `bfmon sim` with no arguments serves exactly these. */
#define MODEL_DEFAULT_SYMBOLS "BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT,XRPUSDT"

/* 0 and *out, or BF_E* with a sentence in why (bad tick/step/mid string, too many levels). */
int model_create(const model_config *cfg, source **out, char *why, size_t why_cap);

/* The exchangeInfo body the model serves, for any list of symbols (name, tick_size and step_size
 * required; mid ignored): complete enough for ccxt's binanceusdm loadMarkets and for
 * rest_parse_exchange_info. recsrc uses it to synthesise one. Length (NUL-terminated in buf), or
 * BF_EINVAL for a missing/overlong field, BF_ETOOBIG when cap is too small. Any thread. */
int model_write_exchange_info(const model_symbol *syms, size_t n, int64_t server_time_ms,
                              int weight_limit, char *buf, size_t cap);
/* An upper bound of that body's size for n symbols (NUL included). */
size_t model_exchange_info_max(size_t nsymbols);

#endif
