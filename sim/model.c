/*
 * model: the synthetic market behind `bfmon sim` (see model.h for the contract).
 *
 * Owns, per symbol: two sorted arrays of levels (best first, at most `levels` + 1 each), a log of
 * the level changes of the current 500 ms (every cadence divides 500 ms, so at each 500 ms
 * boundary every depth window has closed and the log starts again), one window per diff cadence
 * (U, u, pu and where its changes start in the log), the kline candles of every interval, the
 * stream names and the refcount of each. The model owns two reusable text buffers (stream
 * messages, REST bodies) and a scratch for the window merge; nothing is allocated per message once
 * they have grown.
 *
 * Time: the n-th book update happens at t0 + n * 1000 / rate (exchange ms); the exchange time is
 * the caller's clock plus a fixed offset (model_config.start_ms). Depth windows, kline pushes and
 * mark prices run on a 50 ms grid of boundaries processed in time order between updates, so the
 * output is a function of the seed and of the advance() times only. All randomness of the market
 * comes from one xoshiro256** stream drawn only by book updates; mark/index/funding noise is a
 * hash of (seed, symbol, time slot), so REST calls and wanted streams never change the market.
 *
 * One thread (the server's service thread), like every source.
 */
#include "sim/model.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market/symtab.h"
#include "util/dec.h"
#include "util/err.h"
#include "util/xalloc.h"

/* ---- constants ------------------------------------------------------------------------------ */

enum { BID = 0, ASK = 1 };

#define NCAD         4
#define GRID_MS      50
#define FULL_WIN_MS  500  /* every cadence divides it */
#define MAX_BACKLOG  2000 /* ms of updates caught up at most after a stall */
#define SKIP_IDLE_MS 5000 /* a longer gap skips grid boundaries (nothing is open then) */
#define FUNDING_MS   (8LL * 3600 * 1000)
#define MARK_DEC     8
#define MAX_SYMBOLS  512
#define MAX_PX_DEC   8

static const int cad_ms[NCAD] = { 50, 100, 250, 500 };

typedef enum kind_type { K_DIFF, K_PARTIAL, K_BT, K_AGG, K_TRADE, K_MARK, K_KLINE } kind_type;

typedef struct kind_def {
    const char *suffix;
    kind_type type;
    int arg; /* K_DIFF: cadence; K_PARTIAL: cadence*100 + levels; K_MARK: ms; K_KLINE: interval */
    source_route route;
} kind_def;

#define PUB SOURCE_ROUTE_PUBLIC
#define MKT SOURCE_ROUTE_MARKET

/* Index layout: diffs by cadence, partials by (levels, cadence 1..3), then the rest. */
static const kind_def kinds[] = {
    { "depth@0ms", K_DIFF, 0, PUB },
    { "depth@100ms", K_DIFF, 1, PUB },
    { "depth", K_DIFF, 2, PUB },
    { "depth@500ms", K_DIFF, 3, PUB },
    { "depth5@100ms", K_PARTIAL, 105, PUB },
    { "depth5", K_PARTIAL, 205, PUB },
    { "depth5@500ms", K_PARTIAL, 305, PUB },
    { "depth10@100ms", K_PARTIAL, 110, PUB },
    { "depth10", K_PARTIAL, 210, PUB },
    { "depth10@500ms", K_PARTIAL, 310, PUB },
    { "depth20@100ms", K_PARTIAL, 120, PUB },
    { "depth20", K_PARTIAL, 220, PUB },
    { "depth20@500ms", K_PARTIAL, 320, PUB },
    { "bookTicker", K_BT, 0, PUB },
    { "aggTrade", K_AGG, 0, MKT },
    { "trade", K_TRADE, 0, PUB },
    { "markPrice", K_MARK, 3000, MKT },
    { "markPrice@1s", K_MARK, 1000, MKT },
    { "kline_1m", K_KLINE, 0, MKT },
    { "kline_3m", K_KLINE, 1, MKT },
    { "kline_5m", K_KLINE, 2, MKT },
    { "kline_15m", K_KLINE, 3, MKT },
    { "kline_30m", K_KLINE, 4, MKT },
    { "kline_1h", K_KLINE, 5, MKT },
    { "kline_2h", K_KLINE, 6, MKT },
    { "kline_4h", K_KLINE, 7, MKT },
    { "kline_6h", K_KLINE, 8, MKT },
    { "kline_8h", K_KLINE, 9, MKT },
    { "kline_12h", K_KLINE, 10, MKT },
    { "kline_1d", K_KLINE, 11, MKT },
    { "kline_3d", K_KLINE, 12, MKT },
    { "kline_1w", K_KLINE, 13, MKT },
    { "kline_1M", K_KLINE, 14, MKT },
};

#define NKINDS   (sizeof kinds / sizeof kinds[0])
#define KI_DIFF0 0
#define KI_PART0 4
#define KI_BT    13
#define KI_AGG   14
#define KI_TRADE 15
#define KI_MARK3 16
#define KI_MARK1 17
#define KI_KLINE 18
#define NKL      15

/* Kline intervals: fixed lengths, with 1w (Monday-aligned) and 1M (calendar) special. */
static const struct {
    const char *name;
    int64_t ms; /* 0: 1w, -1: 1M */
} intervals[NKL] = {
    { "1m", 60000LL },     { "3m", 180000LL },   { "5m", 300000LL },    { "15m", 900000LL },
    { "30m", 1800000LL },  { "1h", 3600000LL },  { "2h", 7200000LL },   { "4h", 14400000LL },
    { "6h", 21600000LL },  { "8h", 28800000LL }, { "12h", 43200000LL }, { "1d", 86400000LL },
    { "3d", 259200000LL }, { "1w", 0 },          { "1M", -1 },
};

/* Defaults of well-known symbols (tickSize, stepSize, mid). */
static const struct {
    const char *name, *tick, *step, *mid;
} known[] = {
    { "BTCUSDT", "0.10", "0.001", "61800.00" }, { "ETHUSDT", "0.01", "0.001", "2650.00" },
    { "SOLUSDT", "0.0100", "1", "155.0000" },   { "BNBUSDT", "0.010", "0.01", "520.000" },
    { "XRPUSDT", "0.0001", "0.1", "0.5600" },   { "DOGEUSDT", "0.00001", "1", "0.10000" },
    { "ADAUSDT", "0.0001", "1", "0.3500" },     { "LTCUSDT", "0.01", "0.001", "62.00" },
    { "SUSHIUSDT", "0.0010", "1", "7.6100" },   { "AKROUSDT", "0.00001", "1", "0.01734" },
    { "CTKUSDT", "0.00100", "1", "1.01100" },   { "KEEPUSDT", "0.0001", "1", "0.2465" },
};
static const char *const generic_tick = "0.0001", *const generic_step = "1",
                         *const generic_mid = "1.0000";

/* ---- text buffer ---------------------------------------------------------------------------- */

typedef struct tbuf {
    char *p;
    size_t n, cap;
} tbuf;

static void tb_grow(tbuf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + need)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static inline void tb_need(tbuf *b, size_t need)
{
    if (b->n + need > b->cap)
        tb_grow(b, need);
}

static inline void tb_put(tbuf *b, const char *s, size_t n)
{
    tb_need(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

#define TB_LIT(b, lit) tb_put((b), (lit), sizeof(lit) - 1)

static inline void tb_ch(tbuf *b, char c)
{
    tb_need(b, 1);
    b->p[b->n++] = c;
}

/* v / 10^dec with exactly dec digits after the point (no point when dec is 0). */
static void tb_fixed(tbuf *b, int64_t v, unsigned dec)
{
    char tmp[48];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n < dec + 1)
        tmp[n++] = '0';
    tb_need(b, n + 2);
    char *p = b->p + b->n;
    if (v < 0)
        *p++ = '-';
    for (size_t i = n; i > 0; i--) {
        *p++ = tmp[i - 1];
        if (i - 1 == dec && dec)
            *p++ = '.';
    }
    b->n = (size_t)(p - b->p);
}

static inline void tb_int(tbuf *b, int64_t v)
{
    tb_fixed(b, v, 0);
}

/* Copy the buffer into the caller's (NUL-terminated): length or BF_ETOOBIG. */
static int tb_out(const tbuf *b, char *buf, size_t cap)
{
    if (b->n + 1 > cap)
        return BF_ETOOBIG;
    memcpy(buf, b->p, b->n);
    buf[b->n] = '\0';
    return (int)b->n;
}

/* ---- randomness ----------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x9E3779B97F4A7C15ull ^ b * 0xC2B2AE3D27D4EB4Full ^ c;
    splitmix64(&x);
    return splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

typedef struct rng {
    uint64_t s[4];
} rng;

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n) for n >= 1. */
static inline uint64_t rng_below(rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* ---- model state ---------------------------------------------------------------------------- */

typedef struct level {
    int64_t px, qty; /* ticks, lots */
} level;

typedef struct bside {
    level *v; /* best first: bids descending, asks ascending */
    size_t n;
} bside;

typedef struct change {
    int64_t px, qty;
    uint32_t seq;
    uint8_t side;
} change;

typedef struct window {
    bool open;
    int64_t U, u, T, pu;
    size_t start; /* first log entry of the window */
} window;

typedef struct candle {
    int64_t start, end; /* [start, end) ms */
    int64_t o, h, l, c; /* ticks */
    int64_t v, tv;      /* lots: volume, taker-buy volume */
    int64_t q, tq;      /* quote volume in 10^-(px_dec + qty_dec) */
    int64_t n, f, L;
    bool dirty;
} candle;

typedef struct msym {
    char name[SYM_NAME_MAX], lower[SYM_NAME_MAX];
    char tick[DEC_MAX_CHARS + 1], step[DEC_MAX_CHARS + 1];
    size_t name_len;
    dec_scale px, qty;
    int64_t base_lots;
    bside side[2];
    int64_t target; /* where the best bid is drifting to (ticks) */
    int64_t last_id, last_T;
    level top[2]; /* the top the last bookTicker described */
    change *log;
    size_t nlog, cap_log;
    window win[NCAD];
    int64_t trade_id, agg_id;
    candle kl[NKL];
    int64_t ap_e8; /* moving average of the mark price */
    unsigned want[NKINDS];
    char *names[NKINDS];
} msym;

typedef struct model {
    source base;
    uint64_t seed;
    double rate;
    unsigned levels;
    int64_t start_ms;
    int weight_limit;
    msym *syms;
    size_t nsym;
    rng r;
    int64_t next_id, id0;
    bool clock_set;
    int64_t offset; /* exchange time = caller's clock + offset */
    int64_t t0;     /* exchange time of update n0 */
    uint64_t n0, ndone;
    int64_t next_b; /* next grid boundary to process */
    bool quiet, flush_pending, resume_pending;
    tbuf out, rest;
    change *merge;
    size_t cap_merge;
    source_emit_fn emit;
    void *ctx;
} model;

static const source_ops model_ops;

/* ---- symbols and stream names --------------------------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SYM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Fill name, tick/step scales, starting mid (ticks) of one symbol from its config and defaults. */
static int symbol_setup(msym *s, const model_symbol *ms, int64_t *mid_ticks, char *why, size_t cap)
{
    if (!ms->name || !valid_name(ms->name))
        return bf_why(why, cap, BF_EINVAL, "bad symbol name \"%s\" (A-Z, 0-9, _)",
                      ms->name ? ms->name : "");
    const char *tick = generic_tick, *step = generic_step, *mid = generic_mid;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, ms->name) == 0) {
            tick = known[i].tick;
            step = known[i].step;
            mid = known[i].mid;
        }
    tick = ms->tick_size ? ms->tick_size : tick;
    step = ms->step_size ? ms->step_size : step;
    mid = ms->mid ? ms->mid : mid;
    snprintf(s->name, sizeof s->name, "%s", ms->name);
    s->name_len = strlen(s->name);
    for (size_t i = 0; i <= s->name_len; i++)
        s->lower[i] = (char)(s->name[i] >= 'A' && s->name[i] <= 'Z' ? s->name[i] + 32 : s->name[i]);
    if (strlen(tick) > DEC_MAX_CHARS || dec_scale_from_tick(tick, strlen(tick), &s->px) < 0 ||
        s->px.decimals > MAX_PX_DEC)
        return bf_why(why, cap, BF_EINVAL, "bad tick size \"%s\" (positive, at most 8 decimals)",
                      tick);
    if (strlen(step) > DEC_MAX_CHARS || dec_scale_from_tick(step, strlen(step), &s->qty) < 0 ||
        s->qty.decimals > MAX_PX_DEC)
        return bf_why(why, cap, BF_EINVAL, "bad step size \"%s\" (positive, at most 8 decimals)",
                      step);
    snprintf(s->tick, sizeof s->tick, "%s", tick);
    snprintf(s->step, sizeof s->step, "%s", step);
    int64_t ticks;
    if (dec_parse(mid, strlen(mid), &s->px, &ticks) < 0 || ticks < 2)
        return bf_why(why, cap, BF_EINVAL, "bad mid \"%s\" (a positive multiple of the tick %s)",
                      mid, tick);
    *mid_ticks = ticks;
    return 0;
}

static void make_names(msym *s)
{
    for (size_t k = 0; k < NKINDS; k++) {
        size_t n = s->name_len + 1 + strlen(kinds[k].suffix) + 1;
        s->names[k] = xmalloc(n);
        snprintf(s->names[k], n, "%s@%s", s->lower, kinds[k].suffix);
    }
}

/* "btcusdt@depth@100ms" -> symbol index and kind index; false when unknown. */
static bool parse_stream(const model *m, const char *stream, size_t *si, size_t *ki)
{
    const char *at = stream ? strchr(stream, '@') : NULL;
    if (!at)
        return false;
    size_t n = (size_t)(at - stream);
    for (size_t i = 0; i < m->nsym; i++) {
        if (m->syms[i].name_len != n || memcmp(m->syms[i].lower, stream, n) != 0)
            continue;
        for (size_t k = 0; k < NKINDS; k++)
            if (strcmp(at + 1, kinds[k].suffix) == 0) {
                *si = i;
                *ki = k;
                return true;
            }
        return false;
    }
    return false;
}

static msym *find_symbol(model *m, const char *name)
{
    for (size_t i = 0; name && i < m->nsym; i++)
        if (strcmp(m->syms[i].name, name) == 0)
            return &m->syms[i];
    return NULL;
}

/* ---- the book ------------------------------------------------------------------------------- */

static inline bool better(int side, int64_t a, int64_t b)
{
    return side == BID ? a > b : a < b;
}

/* First index whose price is not better than px (where px is, or would be inserted). */
static size_t side_find(const bside *sd, int side, int64_t px)
{
    size_t lo = 0, hi = sd->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (better(side, sd->v[mid].px, px))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t px_value(const msym *s, int64_t ticks)
{
    return ticks * s->px.unit;
}

static int64_t qty_value(const msym *s, int64_t lots)
{
    return lots * s->qty.unit;
}

static void put_px(tbuf *b, const msym *s, int64_t ticks)
{
    tb_fixed(b, px_value(s, ticks), s->px.decimals);
}

static void put_qty(tbuf *b, const msym *s, int64_t lots)
{
    tb_fixed(b, qty_value(s, lots), s->qty.decimals);
}

static void emit_text(model *m, const msym *s, size_t kind, bool diff)
{
    source_msg msg = {
        .stream = s->names[kind], .json = m->out.p, .len = m->out.n, .is_depth_diff = diff
    };
    m->out.p[m->out.n] = '\0'; /* tb_need below always leaves room */
    m->emit(m->ctx, &msg);
}

/* Start a stream message; the final NUL is reserved by finish(). */
static tbuf *msg_begin(model *m)
{
    m->out.n = 0;
    return &m->out;
}

static void msg_finish(model *m, const msym *s, size_t kind, bool diff)
{
    tb_need(&m->out, 1);
    emit_text(m, s, kind, diff);
}

static void emit_book_ticker(model *m, const msym *s, int64_t id, int64_t t)
{
    tbuf *b = msg_begin(m);
    TB_LIT(b, "{\"e\":\"bookTicker\",\"u\":");
    tb_int(b, id);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"b\":\"");
    put_px(b, s, s->top[BID].px);
    TB_LIT(b, "\",\"B\":\"");
    put_qty(b, s, s->top[BID].qty);
    TB_LIT(b, "\",\"a\":\"");
    put_px(b, s, s->top[ASK].px);
    TB_LIT(b, "\",\"A\":\"");
    put_qty(b, s, s->top[ASK].qty);
    TB_LIT(b, "\",\"T\":");
    tb_int(b, t);
    TB_LIT(b, ",\"E\":");
    tb_int(b, t);
    tb_ch(b, '}');
    msg_finish(m, s, KI_BT, false);
}

static void log_change(msym *s, int side, int64_t px, int64_t qty, int64_t id, int64_t t)
{
    if (s->nlog == s->cap_log) {
        s->cap_log = s->cap_log ? s->cap_log * 2 : 256;
        s->log = xreallocarray(s->log, s->cap_log, sizeof *s->log);
    }
    s->log[s->nlog] = (change){ .px = px, .qty = qty, .side = (uint8_t)side };
    for (int c = 0; c < NCAD; c++) {
        window *w = &s->win[c];
        if (!w->open) {
            w->open = true;
            w->U = id;
            w->start = s->nlog;
        }
        w->u = id;
        w->T = t;
    }
    s->nlog++;
    s->last_id = id;
    s->last_T = t;
}

/* After each change: a new top (price or quantity, either side) is a bookTicker with its id. */
static void check_top(model *m, msym *s, int64_t id, int64_t t)
{
    level b = s->side[BID].v[0], a = s->side[ASK].v[0];
    if (b.px == s->top[BID].px && b.qty == s->top[BID].qty && a.px == s->top[ASK].px &&
        a.qty == s->top[ASK].qty)
        return;
    s->top[BID] = b;
    s->top[ASK] = a;
    if (s->want[KI_BT])
        emit_book_ticker(m, s, id, t);
}

/* Set one level (qty 0 deletes); a real change takes the next global id. */
static void set_level(model *m, msym *s, int side, int64_t px, int64_t qty, int64_t t)
{
    bside *sd = &s->side[side];
    size_t i = side_find(sd, side, px);
    bool found = i < sd->n && sd->v[i].px == px;
    if (qty == 0) {
        if (!found)
            return;
        memmove(&sd->v[i], &sd->v[i + 1], (sd->n - i - 1) * sizeof(level));
        sd->n--;
    } else if (found) {
        if (sd->v[i].qty == qty)
            return;
        sd->v[i].qty = qty;
    } else {
        memmove(&sd->v[i + 1], &sd->v[i], (sd->n - i) * sizeof(level));
        sd->v[i] = (level){ px, qty };
        sd->n++;
    }
    int64_t id = m->next_id;
    m->next_id += 1 + (int64_t)rng_below(&m->r, 4);
    log_change(s, side, px, qty, id, t);
    check_top(m, s, id, t);
}

/* Keep the window: the farthest levels go, each with its own "0" update. */
static void trim(model *m, msym *s, int side, int64_t t)
{
    bside *sd = &s->side[side];
    while (sd->n > m->levels)
        set_level(m, s, side, sd->v[sd->n - 1].px, 0, t);
}

/* Size of a resting level idx levels from the touch: grows outward, noisy, now and then a wall. */
static int64_t shape_qty(model *m, const msym *s, size_t idx)
{
    int64_t q = s->base_lots * (int64_t)(100 + idx) / 100;
    q = q * (int64_t)(20 + rng_below(&m->r, 160)) / 100;
    if (rng_below(&m->r, 60) == 0)
        q *= 12;
    return q > 0 ? q : 1;
}

/* ---- trades and klines ---------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned mo, unsigned d)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *mo)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *mo = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*mo <= 2);
}

/* The candle of interval k that holds t: [*start, *end). */
static void interval_span(size_t k, int64_t t, int64_t *start, int64_t *end)
{
    const int64_t day = 86400000LL, week = 7 * day, monday = 4 * day; /* 1970-01-05 */
    int64_t len = intervals[k].ms;
    if (len > 0) {
        *start = t / len * len;
        *end = *start + len;
    } else if (len == 0) {
        *start = (t - monday) / week * week + monday;
        *end = *start + week;
    } else {
        int64_t y;
        unsigned mo;
        civil_from_days(t / day, &y, &mo);
        *start = days_from_civil(y, mo, 1) * day;
        *end = (mo == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, mo + 1, 1)) * day;
    }
}

static void candle_open(candle *c, size_t k, int64_t t, int64_t px)
{
    interval_span(k, t, &c->start, &c->end);
    c->o = c->h = c->l = c->c = px;
    c->v = c->tv = c->q = c->tq = c->n = 0;
    c->f = c->L = -1;
    c->dirty = false;
}

/* Volumes of long candles at high rates could pass int64: they stop at the top instead. */
static void sat_add(int64_t *acc, int64_t v)
{
    if (__builtin_add_overflow(*acc, v, acc))
        *acc = INT64_MAX;
}

static void candle_trade(candle *c, int64_t px, int64_t lots, int64_t quote, bool taker_buy,
                         int64_t tid)
{
    if (c->n == 0) {
        c->o = c->h = c->l = px;
        c->f = tid;
    }
    c->h = px > c->h ? px : c->h;
    c->l = px < c->l ? px : c->l;
    c->c = px;
    sat_add(&c->v, lots);
    sat_add(&c->q, quote);
    if (taker_buy) {
        sat_add(&c->tv, lots);
        sat_add(&c->tq, quote);
    }
    c->n++;
    c->L = tid;
    c->dirty = true;
}

static void emit_trade(model *m, const msym *s, int64_t px, int64_t lots, bool buyer_maker,
                       int64_t t)
{
    tbuf *b = msg_begin(m);
    TB_LIT(b, "{\"e\":\"trade\",\"E\":");
    tb_int(b, t);
    TB_LIT(b, ",\"T\":");
    tb_int(b, t);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"t\":");
    tb_int(b, s->trade_id);
    TB_LIT(b, ",\"p\":\"");
    put_px(b, s, px);
    TB_LIT(b, "\",\"q\":\"");
    put_qty(b, s, lots);
    TB_LIT(b, "\",\"X\":\"MARKET\",\"m\":");
    if (buyer_maker)
        TB_LIT(b, "true}");
    else
        TB_LIT(b, "false}");
    msg_finish(m, s, KI_TRADE, false);
}

static void emit_agg_trade(model *m, const msym *s, int64_t px, int64_t lots, bool buyer_maker,
                           int64_t t)
{
    tbuf *b = msg_begin(m);
    TB_LIT(b, "{\"e\":\"aggTrade\",\"E\":");
    tb_int(b, t);
    TB_LIT(b, ",\"a\":");
    tb_int(b, s->agg_id);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"p\":\"");
    put_px(b, s, px);
    TB_LIT(b, "\",\"q\":\"");
    put_qty(b, s, lots);
    TB_LIT(b, "\",\"nq\":\"");
    put_qty(b, s, lots);
    TB_LIT(b, "\",\"f\":");
    tb_int(b, s->trade_id);
    TB_LIT(b, ",\"l\":");
    tb_int(b, s->trade_id);
    TB_LIT(b, ",\"T\":");
    tb_int(b, t);
    if (buyer_maker)
        TB_LIT(b, ",\"m\":true}");
    else
        TB_LIT(b, ",\"m\":false}");
    msg_finish(m, s, KI_AGG, false);
}

/* A market order of the taker side against the touch: reduces (or takes) the best level. */
static void do_trade(model *m, msym *s, int64_t t, bool taker_buy)
{
    int side = taker_buy ? ASK : BID;
    bside *sd = &s->side[side];
    level best = sd->v[0];
    int64_t lots;
    if (rng_below(&m->r, 100) < 35 && sd->n > 1)
        lots = best.qty;
    else
        lots = 1 + (int64_t)rng_below(&m->r, (uint64_t)(best.qty / 3 > 0 ? best.qty / 3 : 1));
    if (lots >= best.qty && sd->n <= 1)
        lots = best.qty - 1; /* a side never empties */
    if (lots <= 0)
        return;
    s->trade_id++;
    s->agg_id++;
    bool buyer_maker = !taker_buy;
    if (s->want[KI_TRADE])
        emit_trade(m, s, best.px, lots, buyer_maker, t);
    if (s->want[KI_AGG])
        emit_agg_trade(m, s, best.px, lots, buyer_maker, t);
    int64_t quote = px_value(s, best.px) * qty_value(s, lots);
    for (size_t k = 0; k < NKL; k++)
        candle_trade(&s->kl[k], best.px, lots, quote, taker_buy, s->trade_id);
    set_level(m, s, side, best.px, best.qty - lots, t);
}

/* ---- one book update ------------------------------------------------------------------------ */

/* A new level right inside the spread, on the side the drift asks for. */
static void do_improve(model *m, msym *s, int64_t t, int64_t gap)
{
    int64_t bb = s->side[BID].v[0].px, ba = s->side[ASK].v[0].px;
    int side = gap > 0 ? BID : gap < 0 ? ASK : (int)rng_below(&m->r, 2);
    if (ba - bb <= 1) { /* no room: refresh the touch instead */
        set_level(m, s, side, s->side[side].v[0].px, shape_qty(m, s, 0), t);
        return;
    }
    set_level(m, s, side, side == BID ? bb + 1 : ba - 1, shape_qty(m, s, 0), t);
    trim(m, s, side, t);
}

/* New quantity for a resting level, mostly near the touch. */
static void do_modify(model *m, msym *s, int64_t t)
{
    int side = (int)rng_below(&m->r, 2);
    bside *sd = &s->side[side];
    uint64_t u = rng_below(&m->r, sd->n);
    size_t idx = (size_t)(u * u / sd->n);
    set_level(m, s, side, sd->v[idx].px, shape_qty(m, s, idx), t);
}

/* A level somewhere in (or just past) the side's range; fills gaps and extends thin sides. */
static void do_insert(model *m, msym *s, int64_t t)
{
    int side = (int)rng_below(&m->r, 2);
    bside *sd = &s->side[side];
    int64_t best = sd->v[0].px, far = sd->v[sd->n - 1].px;
    int64_t span = best > far ? best - far : far - best;
    int64_t d = 1 + (int64_t)rng_below(&m->r, (uint64_t)span + 8);
    int64_t px = side == BID ? best - d : best + d;
    if (px < 1 || (d > span && sd->n >= m->levels)) {
        do_modify(m, s, t);
        return;
    }
    set_level(m, s, side, px, shape_qty(m, s, side_find(sd, side, px)), t);
    trim(m, s, side, t);
}

static void do_delete(model *m, msym *s, int64_t t)
{
    int side = (int)rng_below(&m->r, 2);
    bside *sd = &s->side[side];
    if (sd->n <= m->levels / 2 || sd->n < 3) {
        do_insert(m, s, t);
        return;
    }
    size_t idx = 1 + (size_t)rng_below(&m->r, sd->n - 1);
    set_level(m, s, side, sd->v[idx].px, 0, t);
}

/* One book update of a random symbol: the target drifts as a random walk; trades and touch
 * improvements pull the book after it. */
static void step(model *m, int64_t t)
{
    msym *s = &m->syms[rng_below(&m->r, m->nsym)];
    if (rng_below(&m->r, 50) == 0)
        s->target += rng_below(&m->r, 2) ? 1 : -1;
    if (s->target < 1)
        s->target = 1;
    int64_t gap = s->target - s->side[BID].v[0].px;
    uint64_t r = rng_below(&m->r, 100);
    if (r < 10) {
        bool buy = gap > 0   ? rng_below(&m->r, 5) != 0
                   : gap < 0 ? rng_below(&m->r, 5) == 0
                             : rng_below(&m->r, 2) != 0;
        do_trade(m, s, t, buy);
    } else if (r < 22) {
        do_improve(m, s, t, gap);
    } else if (r < 78) {
        do_modify(m, s, t);
    } else if (r < 90) {
        do_insert(m, s, t);
    } else {
        do_delete(m, s, t);
    }
}

/* ---- depth events --------------------------------------------------------------------------- */

static int cmp_change(const void *pa, const void *pb)
{
    const change *a = pa, *b = pb;
    if (a->side != b->side)
        return a->side < b->side ? -1 : 1;
    if (a->px != b->px)
        return a->px < b->px ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The window's changes, last value per (side, price), sorted by side then ascending price. */
static size_t merge_window(model *m, const msym *s, const window *w)
{
    size_t n = s->nlog - w->start;
    if (n > m->cap_merge) {
        m->cap_merge = n * 2;
        m->merge = xreallocarray(m->merge, m->cap_merge, sizeof *m->merge);
    }
    for (size_t i = 0; i < n; i++) {
        m->merge[i] = s->log[w->start + i];
        m->merge[i].seq = (uint32_t)i;
    }
    qsort(m->merge, n, sizeof *m->merge, cmp_change);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n || m->merge[i + 1].side != m->merge[i].side ||
                    m->merge[i + 1].px != m->merge[i].px;
        if (last)
            m->merge[k++] = m->merge[i];
    }
    return k;
}

static void put_level(tbuf *b, const msym *s, int64_t px, int64_t qty)
{
    TB_LIT(b, "[\"");
    put_px(b, s, px);
    TB_LIT(b, "\",\"");
    put_qty(b, s, qty);
    TB_LIT(b, "\"]");
}

static void put_depth_head(tbuf *b, const msym *s, const window *w, int64_t E)
{
    TB_LIT(b, "{\"e\":\"depthUpdate\",\"E\":");
    tb_int(b, E);
    TB_LIT(b, ",\"T\":");
    tb_int(b, w->T);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"U\":");
    tb_int(b, w->U);
    TB_LIT(b, ",\"u\":");
    tb_int(b, w->u);
    TB_LIT(b, ",\"pu\":");
    tb_int(b, w->pu);
}

static void emit_diff(model *m, const msym *s, int c, int64_t E)
{
    const window *w = &s->win[c];
    size_t n = merge_window(m, s, w);
    tbuf *b = msg_begin(m);
    put_depth_head(b, s, w, E);
    TB_LIT(b, ",\"b\":[");
    size_t i = 0;
    for (bool first = true; i < n && m->merge[i].side == BID; i++, first = false) {
        if (!first)
            tb_ch(b, ',');
        put_level(b, s, m->merge[i].px, m->merge[i].qty);
    }
    TB_LIT(b, "],\"a\":[");
    for (bool first = true; i < n; i++, first = false) {
        if (!first)
            tb_ch(b, ',');
        put_level(b, s, m->merge[i].px, m->merge[i].qty);
    }
    TB_LIT(b, "]}");
    msg_finish(m, s, KI_DIFF0 + (size_t)c, true);
}

/* Levels of one side, best first, n at most. */
static void put_side(tbuf *b, const msym *s, int side, size_t n)
{
    const bside *sd = &s->side[side];
    for (size_t i = 0; i < n && i < sd->n; i++) {
        if (i)
            tb_ch(b, ',');
        put_level(b, s, sd->v[i].px, sd->v[i].qty);
    }
}

static void emit_partial(model *m, const msym *s, int c, size_t kind, size_t nlev, int64_t E)
{
    tbuf *b = msg_begin(m);
    put_depth_head(b, s, &s->win[c], E);
    TB_LIT(b, ",\"b\":[");
    put_side(b, s, BID, nlev);
    TB_LIT(b, "],\"a\":[");
    put_side(b, s, ASK, nlev);
    TB_LIT(b, "]}");
    msg_finish(m, s, kind, false);
}

/* Close cadence c's window of s at E: its diff and partial events (when wanted), then pu moves. */
static void close_window(model *m, msym *s, int c, int64_t E)
{
    window *w = &s->win[c];
    if (!w->open)
        return;
    if (s->want[KI_DIFF0 + (size_t)c])
        emit_diff(m, s, c, E);
    static const size_t part_levels[3] = { 5, 10, 20 };
    for (size_t p = 0; c > 0 && p < 3; p++) {
        size_t kind = KI_PART0 + p * 3 + (size_t)(c - 1);
        if (s->want[kind])
            emit_partial(m, s, c, kind, part_levels[p], E);
    }
    w->pu = w->u;
    w->open = false;
}

/* ---- mark price ----------------------------------------------------------------------------- */

typedef struct mark_vals {
    int64_t mark, index, settle, funding, ap; /* 10^-8 */
    int64_t next_funding;
} mark_vals;

static int64_t pow10i(unsigned d)
{
    int64_t p = 1;
    while (d--)
        p *= 10;
    return p;
}

static int64_t signed_noise(uint64_t h, int64_t span)
{
    return (int64_t)(h % (uint64_t)(2 * span + 1)) - span;
}

/* Mark, index and funding at exchange time t: the book's mid plus seeded noise per second. */
static void mark_values(const model *m, const msym *s, int64_t t, mark_vals *v)
{
    size_t si = (size_t)(s - m->syms);
    int64_t mid_x2 = s->side[BID].v[0].px + s->side[ASK].v[0].px;
    int64_t mid = mid_x2 * s->px.unit * pow10i(MARK_DEC - s->px.decimals) / 2;
    int64_t sec = t / 1000, period = t / FUNDING_MS;
    v->mark = mid + mid / 10000000 * signed_noise(mix3(m->seed, si, (uint64_t)sec), 800);
    v->index = v->mark - mid / 10000000 * signed_noise(mix3(m->seed ^ 1, si, (uint64_t)sec), 400);
    v->settle = v->index + mid / 10000000 * signed_noise(mix3(m->seed ^ 2, si, (uint64_t)sec), 200);
    v->funding = 10000 + signed_noise(mix3(m->seed ^ 3, si, (uint64_t)period), 15000);
    v->ap = s->ap_e8 ? s->ap_e8 : v->mark;
    v->next_funding = (period + 1) * FUNDING_MS;
}

static void emit_mark(model *m, msym *s, size_t kind, int64_t E)
{
    mark_vals v;
    mark_values(m, s, E, &v);
    tbuf *b = msg_begin(m);
    TB_LIT(b, "{\"e\":\"markPriceUpdate\",\"E\":");
    tb_int(b, E);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"p\":\"");
    tb_fixed(b, v.mark, MARK_DEC);
    TB_LIT(b, "\",\"ap\":\"");
    tb_fixed(b, v.ap, MARK_DEC);
    TB_LIT(b, "\",\"P\":\"");
    tb_fixed(b, v.settle, MARK_DEC);
    TB_LIT(b, "\",\"i\":\"");
    tb_fixed(b, v.index, MARK_DEC);
    TB_LIT(b, "\",\"r\":\"");
    tb_fixed(b, v.funding, MARK_DEC);
    TB_LIT(b, "\",\"T\":");
    tb_int(b, v.next_funding);
    tb_ch(b, '}');
    msg_finish(m, s, kind, false);
}

/* Every second: the mark average moves (always, so it does not depend on who listens). */
static void mark_second(model *m, msym *s, int64_t b)
{
    mark_vals v;
    mark_values(m, s, b, &v);
    s->ap_e8 = s->ap_e8 ? (s->ap_e8 * 29 + v.mark) / 30 : v.mark;
    if (s->want[KI_MARK1])
        emit_mark(m, s, KI_MARK1, b);
    if (b % 3000 == 0 && s->want[KI_MARK3])
        emit_mark(m, s, KI_MARK3, b);
}

/* ---- klines --------------------------------------------------------------------------------- */

static void emit_kline(model *m, const msym *s, size_t k, bool closed, int64_t E)
{
    const candle *c = &s->kl[k];
    unsigned qd = s->px.decimals + s->qty.decimals;
    tbuf *b = msg_begin(m);
    TB_LIT(b, "{\"e\":\"kline\",\"E\":");
    tb_int(b, E);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"k\":{\"t\":");
    tb_int(b, c->start);
    TB_LIT(b, ",\"T\":");
    tb_int(b, c->end - 1);
    TB_LIT(b, ",\"s\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"i\":\"");
    tb_put(b, intervals[k].name, strlen(intervals[k].name));
    TB_LIT(b, "\",\"f\":");
    tb_int(b, c->f);
    TB_LIT(b, ",\"L\":");
    tb_int(b, c->L);
    const int64_t pxs[4] = { c->o, c->c, c->h, c->l };
    static const char *const keys[4] = { ",\"o\":\"", "\",\"c\":\"", "\",\"h\":\"", "\",\"l\":\"" };
    for (int i = 0; i < 4; i++) {
        tb_put(b, keys[i], strlen(keys[i]));
        put_px(b, s, pxs[i]);
    }
    TB_LIT(b, "\",\"v\":\"");
    put_qty(b, s, c->v);
    TB_LIT(b, "\",\"n\":");
    tb_int(b, c->n);
    if (closed)
        TB_LIT(b, ",\"x\":true,\"q\":\"");
    else
        TB_LIT(b, ",\"x\":false,\"q\":\"");
    tb_fixed(b, c->q, qd);
    TB_LIT(b, "\",\"V\":\"");
    put_qty(b, s, c->tv);
    TB_LIT(b, "\",\"Q\":\"");
    tb_fixed(b, c->tq, qd);
    TB_LIT(b, "\",\"B\":\"0\"}}");
    msg_finish(m, s, KI_KLINE + k, false);
}

/* Every 250 ms: candles that ended close (a final x:true push), changed ones are pushed. */
static void kline_tick(model *m, msym *s, int64_t b)
{
    for (size_t k = 0; k < NKL; k++) {
        candle *c = &s->kl[k];
        bool wanted = s->want[KI_KLINE + k] != 0;
        if (b >= c->end) {
            if (wanted)
                emit_kline(m, s, k, true, b);
            candle_open(c, k, b, c->c);
        }
        if (c->dirty && wanted)
            emit_kline(m, s, k, false, b);
        c->dirty = false;
    }
}

/* ---- the clock ------------------------------------------------------------------------------ */

static void on_boundary(model *m, int64_t b)
{
    for (int c = 0; c < NCAD; c++)
        if (b % cad_ms[c] == 0)
            for (size_t i = 0; i < m->nsym; i++)
                close_window(m, &m->syms[i], c, b);
    for (size_t i = 0; i < m->nsym; i++) {
        msym *s = &m->syms[i];
        if (b % FULL_WIN_MS == 0)
            s->nlog = 0; /* every window has closed */
        if (b % 250 == 0)
            kline_tick(m, s, b);
        if (b % 1000 == 0)
            mark_second(m, s, b);
    }
}

static void boundaries_upto(model *m, int64_t t)
{
    while (m->next_b <= t) {
        int64_t b = m->next_b;
        on_boundary(m, b);
        m->next_b = b + GRID_MS;
        if (b % FULL_WIN_MS == 0 && t - m->next_b > SKIP_IDLE_MS) /* idle: nothing is open */
            m->next_b = (t - 1000) / FULL_WIN_MS * FULL_WIN_MS;
    }
}

static int64_t update_time(const model *m, uint64_t n)
{
    return m->t0 + (int64_t)((double)(n - m->n0) * 1000.0 / m->rate);
}

static void pacing_restart(model *m, int64_t now)
{
    m->t0 = now;
    m->n0 = m->ndone;
}

static void clock_start(model *m, int64_t now_ms)
{
    m->clock_set = true;
    m->offset = m->start_ms ? m->start_ms - now_ms : 0;
    int64_t t = now_ms + m->offset;
    pacing_restart(m, t);
    m->next_b = t / GRID_MS * GRID_MS + GRID_MS;
    for (size_t i = 0; i < m->nsym; i++) {
        msym *s = &m->syms[i];
        s->last_T = t;
        for (size_t k = 0; k < NKL; k++)
            candle_open(&s->kl[k], k, t, s->side[BID].v[0].px);
    }
}

static int64_t exch_time(model *m, int64_t now_ms)
{
    if (!m->clock_set)
        clock_start(m, now_ms);
    return now_ms + m->offset;
}

static void flush_windows(model *m, int64_t now)
{
    for (size_t i = 0; i < m->nsym; i++) {
        for (int c = 0; c < NCAD; c++)
            close_window(m, &m->syms[i], c, now);
        m->syms[i].nlog = 0;
    }
}

static void model_advance(source *src, int64_t now_ms, source_emit_fn emit, void *ctx)
{
    model *m = (model *)src;
    int64_t now = exch_time(m, now_ms);
    m->emit = emit;
    m->ctx = ctx;
    if (m->flush_pending) {
        flush_windows(m, now);
        m->flush_pending = false;
    }
    if (!m->quiet && m->resume_pending) { /* the quiet time leaves no backlog */
        pacing_restart(m, now);
        m->next_b = now / GRID_MS * GRID_MS + GRID_MS;
        m->resume_pending = false;
    }
    if (!m->quiet) {
        if (now - update_time(m, m->ndone) > MAX_BACKLOG)
            pacing_restart(m, now); /* a stalled caller: drop the backlog, not the market */
        for (int64_t t; (t = update_time(m, m->ndone)) <= now; m->ndone++) {
            boundaries_upto(m, t);
            step(m, t);
        }
        boundaries_upto(m, now);
    }
    m->emit = NULL;
    m->ctx = NULL;
}

static void model_set_quiet(source *src, bool quiet)
{
    model *m = (model *)src;
    if (quiet == m->quiet)
        return;
    m->quiet = quiet;
    if (quiet)
        m->flush_pending = true;
    else
        m->resume_pending = m->clock_set;
}

/* ---- streams -------------------------------------------------------------------------------- */

static int model_check_stream(const source *src, const char *stream, source_route *route)
{
    const model *m = (const model *)src;
    size_t si, ki;
    if (!parse_stream(m, stream, &si, &ki))
        return BF_EINVAL;
    if (route)
        *route = kinds[ki].route;
    return 0;
}

static void model_want(source *src, const char *stream, bool want)
{
    model *m = (model *)src;
    size_t si, ki;
    if (!parse_stream(m, stream, &si, &ki))
        return;
    unsigned *w = &m->syms[si].want[ki];
    if (want)
        (*w)++;
    else if (*w > 0)
        (*w)--;
}

/* ---- REST ----------------------------------------------------------------------------------- */

static int depth_levels(int limit)
{
    static const int valid[] = { 5, 10, 20, 50, 100, 500, 1000 };
    if (limit <= 0)
        return 500;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (limit <= valid[i])
            return valid[i];
    return 1000;
}

static int model_depth(source *src, const char *symbol, int limit, int64_t now_ms, char *buf,
                       size_t cap)
{
    model *m = (model *)src;
    msym *s = find_symbol(m, symbol);
    if (!s)
        return BF_ENOENT;
    int64_t now = exch_time(m, now_ms);
    size_t n = (size_t)depth_levels(limit);
    tbuf *b = &m->rest;
    b->n = 0;
    TB_LIT(b, "{\"lastUpdateId\":");
    tb_int(b, s->last_id);
    TB_LIT(b, ",\"E\":");
    tb_int(b, now);
    TB_LIT(b, ",\"T\":");
    tb_int(b, s->last_T);
    TB_LIT(b, ",\"bids\":[");
    put_side(b, s, BID, n);
    TB_LIT(b, "],\"asks\":[");
    put_side(b, s, ASK, n);
    TB_LIT(b, "]}");
    return tb_out(b, buf, cap);
}

static void put_book_ticker(tbuf *b, const msym *s)
{
    TB_LIT(b, "{\"lastUpdateId\":");
    tb_int(b, s->last_id);
    TB_LIT(b, ",\"symbol\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"bidPrice\":\"");
    put_px(b, s, s->side[BID].v[0].px);
    TB_LIT(b, "\",\"bidQty\":\"");
    put_qty(b, s, s->side[BID].v[0].qty);
    TB_LIT(b, "\",\"askPrice\":\"");
    put_px(b, s, s->side[ASK].v[0].px);
    TB_LIT(b, "\",\"askQty\":\"");
    put_qty(b, s, s->side[ASK].v[0].qty);
    TB_LIT(b, "\",\"time\":");
    tb_int(b, s->last_T);
    tb_ch(b, '}');
}

static void put_premium(tbuf *b, const model *m, const msym *s, int64_t now)
{
    mark_vals v;
    mark_values(m, s, now, &v);
    TB_LIT(b, "{\"symbol\":\"");
    tb_put(b, s->name, s->name_len);
    TB_LIT(b, "\",\"markPrice\":\"");
    tb_fixed(b, v.mark, MARK_DEC);
    TB_LIT(b, "\",\"indexPrice\":\"");
    tb_fixed(b, v.index, MARK_DEC);
    TB_LIT(b, "\",\"estimatedSettlePrice\":\"");
    tb_fixed(b, v.settle, MARK_DEC);
    TB_LIT(b, "\",\"lastFundingRate\":\"");
    tb_fixed(b, v.funding, MARK_DEC);
    TB_LIT(b, "\",\"interestRate\":\"0.00010000\",\"nextFundingTime\":");
    tb_int(b, v.next_funding);
    TB_LIT(b, ",\"time\":");
    tb_int(b, now);
    tb_ch(b, '}');
}

typedef enum rest_kind { R_TICKER, R_PREMIUM } rest_kind;

/* One object for a symbol, the array of all for NULL. */
static int per_symbol_body(model *m, rest_kind kind, const char *symbol, int64_t now_ms, char *buf,
                           size_t cap)
{
    int64_t now = exch_time(m, now_ms);
    tbuf *b = &m->rest;
    b->n = 0;
    const msym *one = symbol ? find_symbol(m, symbol) : NULL;
    if (symbol && !one)
        return BF_ENOENT;
    if (!one)
        tb_ch(b, '[');
    for (size_t i = 0; i < m->nsym; i++) {
        const msym *s = &m->syms[i];
        if (one && s != one)
            continue;
        if (!one && i)
            tb_ch(b, ',');
        if (kind == R_TICKER)
            put_book_ticker(b, s);
        else
            put_premium(b, m, s, now);
    }
    if (!one)
        tb_ch(b, ']');
    return tb_out(b, buf, cap);
}

static int model_book_ticker(source *src, const char *symbol, int64_t now_ms, char *buf, size_t cap)
{
    return per_symbol_body((model *)src, R_TICKER, symbol, now_ms, buf, cap);
}

static int model_premium_index(source *src, const char *symbol, int64_t now_ms, char *buf,
                               size_t cap)
{
    return per_symbol_body((model *)src, R_PREMIUM, symbol, now_ms, buf, cap);
}

/* ---- exchangeInfo --------------------------------------------------------------------------- */

#define EI_HEAD_MAX   1024
#define EI_SYMBOL_MAX 2048

/* Base and quote asset of a symbol name (a known quote suffix, else USDT). */
static void split_assets(const char *name, char *base, char *quote, size_t cap)
{
    static const char *const quotes[] = { "USDT", "USDC", "BUSD", "FDUSD" };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof quotes / sizeof quotes[0]; i++) {
        size_t q = strlen(quotes[i]);
        if (n > q && strcmp(name + n - q, quotes[i]) == 0) {
            snprintf(base, cap, "%.*s", (int)(n - q), name);
            snprintf(quote, cap, "%s", quotes[i]);
            return;
        }
    }
    snprintf(base, cap, "%s", name);
    snprintf(quote, cap, "USDT");
}

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tb_printf(tbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    tb_need(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void put_filters(tbuf *b, const char *tick, const char *step)
{
    tb_printf(b,
              "\"filters\":[{\"minPrice\":\"%s\",\"maxPrice\":\"1000000\",\"filterType\":"
              "\"PRICE_FILTER\",\"tickSize\":\"%s\"},{\"stepSize\":\"%s\",\"filterType\":"
              "\"LOT_SIZE\",\"maxQty\":\"1000000\",\"minQty\":\"%s\"},{\"stepSize\":\"%s\","
              "\"filterType\":\"MARKET_LOT_SIZE\",\"maxQty\":\"100000\",\"minQty\":\"%s\"},"
              "{\"limit\":200,\"filterType\":\"MAX_NUM_ORDERS\"},{\"limit\":10,\"filterType\":"
              "\"MAX_NUM_ALGO_ORDERS\"},{\"notional\":\"5\",\"filterType\":\"MIN_NOTIONAL\"},"
              "{\"multiplierDown\":\"0.8500\",\"multiplierUp\":\"1.1500\",\"multiplierDecimal\":"
              "\"4\",\"filterType\":\"PERCENT_PRICE\"}],",
              tick, tick, step, step, step, step);
}

static void put_symbol_info(tbuf *b, const char *name, const char *tick, const char *step)
{
    char base[SYM_NAME_MAX], quote[SYM_NAME_MAX];
    split_assets(name, base, quote, sizeof base);
    int pd = dec_decimals(tick, strlen(tick)), qd = dec_decimals(step, strlen(step));
    tb_printf(b,
              "{\"symbol\":\"%s\",\"pair\":\"%s\",\"contractType\":\"PERPETUAL\","
              "\"deliveryDate\":4133404800000,\"onboardDate\":1569398400000,\"status\":"
              "\"TRADING\",\"maintMarginPercent\":\"2.5000\",\"requiredMarginPercent\":"
              "\"5.0000\",\"baseAsset\":\"%s\",\"quoteAsset\":\"%s\",\"marginAsset\":\"%s\","
              "\"pricePrecision\":%d,\"quantityPrecision\":%d,\"baseAssetPrecision\":8,"
              "\"quotePrecision\":8,\"underlyingType\":\"COIN\",\"underlyingSubType\":[],"
              "\"settlePlan\":0,\"triggerProtect\":\"0.0500\",\"liquidationFee\":\"0.012500\","
              "\"marketTakeBound\":\"0.05\",",
              name, name, base, quote, quote, pd < 0 ? 0 : pd, qd < 0 ? 0 : qd);
    put_filters(b, tick, step);
    TB_LIT(b, "\"orderTypes\":[\"LIMIT\",\"MARKET\",\"STOP\",\"STOP_MARKET\",\"TAKE_PROFIT\","
              "\"TAKE_PROFIT_MARKET\",\"TRAILING_STOP_MARKET\"],\"timeInForce\":[\"GTC\","
              "\"IOC\",\"FOK\",\"GTX\",\"GTD\"]}");
}

/* The quote assets used, each once, as the "assets" array. */
static void put_assets(tbuf *b, const model_symbol *syms, size_t n)
{
    TB_LIT(b, "\"assets\":[");
    size_t written = 0;
    for (size_t i = 0; i < n; i++) {
        char base[SYM_NAME_MAX], quote[SYM_NAME_MAX];
        split_assets(syms[i].name, base, quote, sizeof base);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            char b2[SYM_NAME_MAX], q2[SYM_NAME_MAX];
            split_assets(syms[j].name, b2, q2, sizeof b2);
            seen = strcmp(q2, quote) == 0;
        }
        if (seen)
            continue;
        tb_printf(b, "%s{\"asset\":\"%s\",\"marginAvailable\":true,\"autoAssetExchange\":\"0\"}",
                  written++ ? "," : "", quote);
    }
    TB_LIT(b, "],");
}

static void write_exchange_info(tbuf *b, const model_symbol *syms, size_t n, int64_t server_time,
                                int weight_limit)
{
    tb_printf(b,
              "{\"timezone\":\"UTC\",\"serverTime\":%lld,\"futuresType\":\"U_MARGINED\","
              "\"rateLimits\":[{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\","
              "\"intervalNum\":1,\"limit\":%d},{\"rateLimitType\":\"ORDERS\",\"interval\":"
              "\"MINUTE\",\"intervalNum\":1,\"limit\":1200},{\"rateLimitType\":\"ORDERS\","
              "\"interval\":\"SECOND\",\"intervalNum\":10,\"limit\":300}],"
              "\"exchangeFilters\":[],",
              (long long)server_time, weight_limit > 0 ? weight_limit : 2400);
    put_assets(b, syms, n);
    TB_LIT(b, "\"symbols\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tb_ch(b, ',');
        put_symbol_info(b, syms[i].name, syms[i].tick_size, syms[i].step_size);
    }
    TB_LIT(b, "]}");
}

int model_write_exchange_info(const model_symbol *syms, size_t n, int64_t server_time_ms,
                              int weight_limit, char *buf, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        if (!syms[i].name || !syms[i].tick_size || !syms[i].step_size ||
            strlen(syms[i].name) >= SYM_NAME_MAX || strlen(syms[i].tick_size) > DEC_MAX_CHARS ||
            strlen(syms[i].step_size) > DEC_MAX_CHARS)
            return BF_EINVAL;
    tbuf b = { 0 };
    write_exchange_info(&b, syms, n, server_time_ms, weight_limit);
    int rc = tb_out(&b, buf, cap);
    free(b.p);
    return rc;
}

size_t model_exchange_info_max(size_t nsymbols)
{
    return EI_HEAD_MAX + nsymbols * (EI_SYMBOL_MAX + 64);
}

static int model_exchange_info(source *src, int64_t now_ms, char *buf, size_t cap)
{
    model *m = (model *)src;
    int64_t now = exch_time(m, now_ms);
    model_symbol *list = xcalloc(m->nsym ? m->nsym : 1, sizeof *list);
    for (size_t i = 0; i < m->nsym; i++)
        list[i] = (model_symbol){ .name = m->syms[i].name,
                                  .tick_size = m->syms[i].tick,
                                  .step_size = m->syms[i].step };
    m->rest.n = 0;
    write_exchange_info(&m->rest, list, m->nsym, now, m->weight_limit);
    free(list);
    return tb_out(&m->rest, buf, cap);
}

/* ---- the rest of the interface -------------------------------------------------------------- */

static size_t model_symbol_count(const source *src)
{
    return ((const model *)src)->nsym;
}

static const char *model_symbol_at(const source *src, size_t i)
{
    const model *m = (const model *)src;
    return i < m->nsym ? m->syms[i].name : NULL;
}

/* A level is at most 2 numbers of DEC_FMT_MAX plus 8 bytes of punctuation. */
static size_t model_max_body(const source *src)
{
    const model *m = (const model *)src;
    size_t depth = 256 + 2 * (size_t)m->levels * (2 * DEC_FMT_MAX + 8);
    size_t per_sym = m->nsym * (512 + 8 * DEC_FMT_MAX);
    size_t ei = model_exchange_info_max(m->nsym);
    size_t mx = depth > per_sym ? depth : per_sym;
    return mx > ei ? mx : ei;
}

static void model_destroy(source *src)
{
    model *m = (model *)src;
    for (size_t i = 0; i < m->nsym; i++) {
        msym *s = &m->syms[i];
        free(s->side[BID].v);
        free(s->side[ASK].v);
        free(s->log);
        for (size_t k = 0; k < NKINDS; k++)
            free(s->names[k]);
    }
    free(m->syms);
    free(m->out.p);
    free(m->rest.p);
    free(m->merge);
    free(m);
}

static const source_ops model_ops = {
    .advance = model_advance,
    .check_stream = model_check_stream,
    .want = model_want,
    .depth = model_depth,
    .exchange_info = model_exchange_info,
    .book_ticker = model_book_ticker,
    .premium_index = model_premium_index,
    .set_quiet = model_set_quiet,
    .symbol_count = model_symbol_count,
    .symbol_at = model_symbol_at,
    .max_body = model_max_body,
    .destroy = model_destroy,
};

/* ---- creation ------------------------------------------------------------------------------- */

/* One side of the starting book: `levels` levels from the touch, mostly one tick apart. */
static void seed_side(model *m, msym *s, int side, int64_t touch)
{
    bside *sd = &s->side[side];
    sd->v = xcalloc(m->levels + 2, sizeof(level));
    int64_t px = touch;
    for (size_t i = 0; i < m->levels && px >= 1; i++) {
        sd->v[sd->n++] = (level){ px, shape_qty(m, s, i) };
        int64_t stepd = rng_below(&m->r, 100) < 85 ? 1 : 2 + (int64_t)rng_below(&m->r, 3);
        px = side == BID ? px - stepd : px + stepd;
    }
}

static void seed_symbol(model *m, msym *s, int64_t mid_ticks)
{
    /* About 30k quote units a level near the touch. */
    double px = (double)(mid_ticks * s->px.unit) / (double)pow10i(s->px.decimals);
    double lot = (double)s->qty.unit / (double)pow10i(s->qty.decimals);
    double lots = 30000.0 / (px * lot);
    s->base_lots = lots < 1 ? 1 : lots > 1e9 ? 1000000000 : (int64_t)lots;
    seed_side(m, s, BID, mid_ticks);
    seed_side(m, s, ASK, mid_ticks + 1);
    s->target = mid_ticks;
    s->top[BID] = s->side[BID].v[0];
    s->top[ASK] = s->side[ASK].v[0];
    s->last_id = m->id0;
    for (int c = 0; c < NCAD; c++)
        s->win[c].pu = m->id0;
    s->trade_id = 1000000 + (int64_t)rng_below(&m->r, 1000000);
    s->agg_id = s->trade_id / 2;
    make_names(s);
}

static int check_config(const model_config *cfg, char *why, size_t cap)
{
    if (cfg->levels && (cfg->levels < 20 || cfg->levels > 1000))
        return bf_why(why, cap, BF_EINVAL, "%s", "levels must be 20..1000 per side");
    if (cfg->rate < 0 || cfg->rate > 1e6 || cfg->rate != cfg->rate)
        return bf_why(why, cap, BF_EINVAL, "%s", "rate must be in (0, 1000000] updates/s");
    if (cfg->nsymbols > MAX_SYMBOLS)
        return bf_why(why, cap, BF_EINVAL, "%s", "too many symbols (at most 512)");
    return 0;
}

/* The default symbol list as model_symbol entries (names point into `names`). */
static size_t default_symbols(model_symbol *out, char *names, size_t cap)
{
    snprintf(names, cap, "%s", MODEL_DEFAULT_SYMBOLS);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        out[n++] = (model_symbol){ .name = tok };
    return n;
}

static int build_symbols(model *m, const model_symbol *list, size_t n, char *why, size_t cap)
{
    m->syms = xcalloc(n, sizeof *m->syms);
    for (size_t i = 0; i < n; i++) {
        int64_t mid = 0;
        int rc = symbol_setup(&m->syms[i], &list[i], &mid, why, cap);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->syms[j].name, m->syms[i].name) == 0)
                return bf_why(why, cap, BF_EINVAL, "symbol %s listed twice", m->syms[i].name);
        m->nsym = i + 1;
        seed_symbol(m, &m->syms[i], mid);
    }
    return 0;
}

int model_create(const model_config *cfg, source **out, char *why, size_t why_cap)
{
    model_config def = { 0 };
    cfg = cfg ? cfg : &def;
    *out = NULL;
    int rc = check_config(cfg, why, why_cap);
    if (rc < 0)
        return rc;
    model *m = xcalloc(1, sizeof *m);
    m->base.ops = &model_ops;
    m->seed = cfg->seed ? cfg->seed : 1;
    m->rate = cfg->rate > 0 ? cfg->rate : 2000;
    m->levels = cfg->levels ? cfg->levels : 500;
    m->start_ms = cfg->start_ms;
    m->weight_limit = cfg->weight_limit > 0 ? cfg->weight_limit : 2400;
    rng_seed(&m->r, m->seed);
    m->id0 = 1000000000000LL + (int64_t)rng_below(&m->r, 1000000000000ULL);
    m->next_id = m->id0 + 1 + (int64_t)rng_below(&m->r, 4);
    model_symbol defaults[16];
    char names[sizeof MODEL_DEFAULT_SYMBOLS];
    const model_symbol *list = cfg->symbols;
    size_t n = cfg->nsymbols;
    if (!list || n == 0) {
        n = default_symbols(defaults, names, sizeof names);
        list = defaults;
    }
    rc = build_symbols(m, list, n, why, why_cap);
    if (rc < 0) {
        model_destroy(&m->base);
        return rc;
    }
    *out = &m->base;
    if (why && why_cap)
        snprintf(why, why_cap, "ok");
    return 0;
}
