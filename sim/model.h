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
 * klines (kline_1m, 3m, 5m, 15m, 1h..., pushed every 250 ms) complete it.
 *
 * Deterministic: for one seed, the sequence of book updates and trades is a function of the
 * update count only; wall-clock pacing decides how many happen per advance() (so two runs with the
 * same seed and the same advance() times produce byte-identical output). The total rate of book
 * updates across symbols is `rate` per second.
 *
 * Owned by one thread (the sim's service thread), like every source.
 */
#ifndef BF_SIM_MODEL_H
#define BF_SIM_MODEL_H

#include <stdint.h>

#include "sim/source.h"

/* One symbol of the model. NULL/0 fields take the defaults of the well-known symbol of that name
 * (BTCUSDT tick "0.10" step "0.001" mid "61800.00", ETHUSDT "0.01"/"0.001"/"2650.00", ...), or
 * generic ones for other names. */
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

#endif
