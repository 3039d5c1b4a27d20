/*
 * stream: the fast decoder. Owns its events and levels arrays (sized from the limits at create), the
 * duplicate-key bookkeeping for every open object, and the scratch that holds unescaped strings. One
 * thread per decoder; results stay valid until the next stream_decode().
 *
 * How it works: one recursive-descent pass over the bytes that validates strict JSON with jansson
 * 2.14's rules and, for the objects that are messages, writes fields straight into the event through
 * a per-kind table (key id -> type, destination, presence bit). Errors come in two strengths: a
 * malformed document ("hard": syntax, truncation, depth, duplicates, number overflow) stops at once;
 * a schema problem ("soft": wrong type, missing field, unsupported kind, too big) is remembered and
 * the pass continues, because a later key can still change the verdict (a top-level "stream" turns
 * the object into a wrapper and its other keys into noise) and a later byte can still make the whole
 * document invalid JSON, which jansson would report first.
 */
#include "codec/stream.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

/* jansson's JSON_PARSER_MAX_DEPTH: the top value is depth 1; a value deeper than this is rejected. */
#define MAX_DEPTH 2048
/* Per object, longer keys are compared one by one up to this count, then sorted at the close. */
#define LINEAR_KEYS 16
/* More than the number of distinct keys known to any message kind (duplicates are rejected first). */
#define MAX_PEND 48

#define DEFAULT_MAX_LEVELS 65536
#define DEFAULT_MAX_EVENTS 4096

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

/* Key ids: a one-byte ASCII key is its own byte; the longer known keys follow. */
enum {
    K_PU = 128,
    K_PS,
    K_ST,
    K_NQ,
    K_AP,
    K_LUID, /* lastUpdateId */
    K_BIDS,
    K_ASKS,
    K_IDS,
    K_UNKNOWN = 255
};

/* How a known field is read. */
enum { F_NONE, F_STR, F_INT, F_BOOL, F_LEVELS, F_KLINE, F_FORCE, F_INNER_ST };

typedef struct fdesc {
    uint8_t type;
    uint8_t bit;  /* bit in the seen mask (OPT for optional fields) */
    uint8_t has;  /* EV_HAS_* to set when present */
    uint16_t off; /* destination inside ev */
} fdesc;

typedef struct ftable {
    ev_kind kind;
    uint32_t required; /* seen bits that must all be set */
    uint16_t usize;    /* bytes of ev.u this kind uses (cleared when the kind is settled) */
    fdesc f[K_IDS];
} ftable;

#define OPT    31
#define OFF(m) ((uint16_t)offsetof(ev, m))
#define RS(m, b)                                                                                   \
    {                                                                                              \
        F_STR, b, 0, OFF(u.m)                                                                      \
    }
#define RI(m, b)                                                                                   \
    {                                                                                              \
        F_INT, b, 0, OFF(u.m)                                                                      \
    }
#define RB(m, b)                                                                                   \
    {                                                                                              \
        F_BOOL, b, 0, OFF(u.m)                                                                     \
    }
#define RL(m, b)                                                                                   \
    {                                                                                              \
        F_LEVELS, b, 0, OFF(u.m)                                                                   \
    }
#define OS(m)                                                                                      \
    {                                                                                              \
        F_STR, OPT, 0, OFF(u.m)                                                                    \
    }
#define OI(m, h)                                                                                   \
    {                                                                                              \
        F_INT, OPT, h, OFF(u.m)                                                                    \
    }
#define ST                                                                                         \
    {                                                                                              \
        F_INT, OPT, EV_HAS_ST, OFF(st)                                                             \
    }

static const ftable t_none = { EV_NONE, 0, 0, { { 0 } } };

static const ftable t_depth = { EV_DEPTH,
                                0x3f,
                                sizeof(((ev *)0)->u.depth),
                                { ['E'] = RI(depth.E, 0),
                                  ['s'] = RS(depth.symbol, 1),
                                  ['U'] = RI(depth.U, 2),
                                  ['u'] = RI(depth.u, 3),
                                  ['b'] = RL(depth.bids, 4),
                                  ['a'] = RL(depth.asks, 5),
                                  [K_PU] = OI(depth.pu, EV_HAS_PU),
                                  ['T'] = OI(depth.T, EV_HAS_T),
                                  [K_PS] = OS(depth.pair),
                                  [K_ST] = ST } };

static const ftable t_snapshot = { EV_SNAPSHOT,
                                   0x7,
                                   sizeof(((ev *)0)->u.snapshot),
                                   { [K_LUID] = RI(snapshot.last_update_id, 0),
                                     [K_BIDS] = RL(snapshot.bids, 1),
                                     [K_ASKS] = RL(snapshot.asks, 2),
                                     ['E'] = OI(snapshot.E, EV_HAS_E),
                                     ['T'] = OI(snapshot.T, EV_HAS_T) } };

static const ftable t_bt = { EV_BOOK_TICKER,
                             0x3f,
                             sizeof(((ev *)0)->u.bt),
                             { ['u'] = RI(bt.u, 0),
                               ['s'] = RS(bt.symbol, 1),
                               ['b'] = RS(bt.bid_px, 2),
                               ['B'] = RS(bt.bid_qty, 3),
                               ['a'] = RS(bt.ask_px, 4),
                               ['A'] = RS(bt.ask_qty, 5),
                               ['E'] = OI(bt.E, EV_HAS_E),
                               ['T'] = OI(bt.T, EV_HAS_T),
                               [K_PS] = OS(bt.pair),
                               [K_ST] = ST } };

static const ftable t_agg = { EV_AGG_TRADE,
                              0x1ff,
                              sizeof(((ev *)0)->u.agg),
                              { ['E'] = RI(agg.E, 0),
                                ['s'] = RS(agg.symbol, 1),
                                ['a'] = RI(agg.agg_id, 2),
                                ['p'] = RS(agg.px, 3),
                                ['q'] = RS(agg.qty, 4),
                                ['f'] = RI(agg.first_id, 5),
                                ['l'] = RI(agg.last_id, 6),
                                ['T'] = RI(agg.T, 7),
                                ['m'] = RB(agg.buyer_maker, 8),
                                [K_NQ] = OS(agg.nq),
                                [K_ST] = ST } };

static const ftable t_trade = { EV_TRADE,
                                0x7f,
                                sizeof(((ev *)0)->u.trade),
                                { ['E'] = RI(trade.E, 0),
                                  ['T'] = RI(trade.T, 1),
                                  ['s'] = RS(trade.symbol, 2),
                                  ['t'] = RI(trade.trade_id, 3),
                                  ['p'] = RS(trade.px, 4),
                                  ['q'] = RS(trade.qty, 5),
                                  ['m'] = RB(trade.buyer_maker, 6),
                                  ['X'] = OS(trade.exec_type) } };

static const ftable t_mark = { EV_MARK_PRICE,
                               0x3f,
                               sizeof(((ev *)0)->u.mark),
                               { ['E'] = RI(mark.E, 0),
                                 ['s'] = RS(mark.symbol, 1),
                                 ['p'] = RS(mark.mark, 2),
                                 ['i'] = RS(mark.index, 3),
                                 ['r'] = RS(mark.funding, 4),
                                 ['T'] = RI(mark.next_funding, 5),
                                 ['P'] = OS(mark.settle),
                                 [K_AP] = OS(mark.mark_avg),
                                 [K_ST] = ST } };

static const ftable t_kline = { EV_KLINE,
                                0x7,
                                sizeof(((ev *)0)->u.kline),
                                { ['E'] = RI(kline.E, 0),
                                  ['s'] = RS(kline.symbol, 1),
                                  ['k'] = { F_KLINE, 2, 0, 0 },
                                  [K_ST] = ST } };

/* The "k" object of a kline. */
static const ftable t_kline_k = { EV_KLINE,
                                  0x7fff,
                                  sizeof(((ev *)0)->u.kline),
                                  { ['t'] = RI(kline.start, 0),
                                    ['T'] = RI(kline.close_time, 1),
                                    ['i'] = RS(kline.interval, 2),
                                    ['f'] = RI(kline.first_id, 3),
                                    ['L'] = RI(kline.last_id, 4),
                                    ['o'] = RS(kline.open, 5),
                                    ['c'] = RS(kline.close, 6),
                                    ['h'] = RS(kline.high, 7),
                                    ['l'] = RS(kline.low, 8),
                                    ['v'] = RS(kline.volume, 9),
                                    ['n'] = RI(kline.trades, 10),
                                    ['x'] = RB(kline.closed, 11),
                                    ['q'] = RS(kline.quote_volume, 12),
                                    ['V'] = RS(kline.taker_base, 13),
                                    ['Q'] = RS(kline.taker_quote, 14) } };

static const ftable t_force = {
    EV_FORCE_ORDER,
    0x3,
    sizeof(((ev *)0)->u.force),
    { ['E'] = RI(force.E, 0), ['o'] = { F_FORCE, 1, 0, 0 }, [K_ST] = ST }
};

/* The "o" object of a forceOrder; its "st" only counts when the top level has none. */
static const ftable t_force_o = { EV_FORCE_ORDER,
                                  0x7ff,
                                  sizeof(((ev *)0)->u.force),
                                  { ['s'] = RS(force.symbol, 0),
                                    ['S'] = RS(force.side, 1),
                                    ['o'] = RS(force.type, 2),
                                    ['f'] = RS(force.tif, 3),
                                    ['q'] = RS(force.qty, 4),
                                    ['p'] = RS(force.px, 5),
                                    [K_AP] = RS(force.avg_px, 6),
                                    ['X'] = RS(force.status, 7),
                                    ['l'] = RS(force.last_qty, 8),
                                    ['z'] = RS(force.cum_qty, 9),
                                    ['T'] = RI(force.T, 10),
                                    [K_ST] = { F_INNER_ST, OPT, 0, 0 } } };

/* Tables of the kinds a message object can be (used to decide which keys to defer). */
static const ftable *const msg_tables[] = { &t_depth, &t_snapshot, &t_bt,    &t_agg,
                                            &t_trade, &t_mark,     &t_kline, &t_force };

/* Duplicate-key state of one open object. */
typedef struct frame {
    /* One-byte ASCII keys seen. unsigned long long, not uint64_t (= unsigned long = size_t on LP64),
     * so stores here cannot alias the cursor for the optimiser. */
    unsigned long long lo, hi;
    uint32_t base; /* its longer keys are keys[base .. nkeys) */
    bool is_obj;   /* for the generic skipper: object or array */
} frame;

struct stream_decoder {
    stream_limits lim;
    const unsigned char *b;
    size_t n, i;

    ev *events;
    size_t nevents;
    ev spill; /* target for events past max_events (validated, not kept) */
    ev_level *levels;
    size_t nlevels;
    bf_str stream;

    frame *frames; /* indexed by depth */
    bf_str *keys;
    size_t nkeys, cap_keys;

    char *sc; /* scratch for unescaped strings (bump allocated) */
    size_t sc_cap, sc_used;
    char **sc_old; /* blocks outgrown during this call: freed at the next one */
    size_t sc_nold, sc_cap_old, sc_old_bytes;

    int soft_code; /* first schema error, 0 if none */
    size_t soft_at;
    const char *soft_what;
    int hard_code;
    size_t hard_at;
    const char *hard_what;

    locale_t c_locale; /* strtod in the "C" locale whatever the process locale is */
    size_t mem;
    char err[192];
};

/* One message object being decoded. */
typedef struct msg {
    const ftable *t; /* NULL until the kind is known; &t_none once the message is a lost cause */
    ev *e;
    uint32_t seen;
    ev_kind want; /* array elements must be this kind (EV_NONE: any) */
    bool is_msg;  /* "e" decides the kind; keys that arrive before it are deferred */
    bool inner_seen;
    int64_t inner_st; /* "st" inside forceOrder's "o" */
    int depth;        /* of the object's values */
    uint32_t npend;
    struct {
        uint8_t id;
        size_t at;
    } pend[MAX_PEND];
} msg;

/* ---- errors ---- */

static int hard(stream_decoder *d, int code, size_t at, const char *what)
{
    d->hard_code = code;
    d->hard_at = at;
    d->hard_what = what;
    return code;
}

/* Where the input ended, a truncation; elsewhere a syntax error naming what was expected. */
static int unexpected(stream_decoder *d, const char *expected)
{
    if (d->i >= d->n)
        return hard(d, BF_ETRUNC, d->n, expected);
    return hard(d, BF_ESYNTAX, d->i, expected);
}

static void soft(stream_decoder *d, int code, size_t at, const char *what)
{
    if (d->soft_code)
        return;
    d->soft_code = code;
    d->soft_at = at;
    d->soft_what = what;
}

/* ---- memory ---- */

static void account(stream_decoder *d, int64_t delta)
{
    d->mem = (size_t)((int64_t)d->mem + delta);
    memacct_add(MEM_DECODER, delta);
}

/* Keep the current block alive (slices may point into it) and start a bigger one. */
static void scratch_grow(stream_decoder *d, size_t need)
{
    if (d->sc) {
        if (d->sc_nold == d->sc_cap_old) {
            d->sc_cap_old = d->sc_cap_old ? 2 * d->sc_cap_old : 8;
            d->sc_old = xreallocarray(d->sc_old, d->sc_cap_old, sizeof *d->sc_old);
        }
        d->sc_old[d->sc_nold++] = d->sc;
        d->sc_old_bytes += d->sc_cap;
    }
    size_t cap = d->sc_cap * 2 > 256 ? d->sc_cap * 2 : 256;
    if (cap < need)
        cap = need;
    d->sc = xmalloc(cap);
    d->sc_cap = cap;
    d->sc_used = 0;
    account(d, (int64_t)cap);
}

static char *scratch_alloc(stream_decoder *d, size_t n)
{
    if (d->sc_cap - d->sc_used < n)
        scratch_grow(d, n);
    char *p = d->sc + d->sc_used;
    d->sc_used += n;
    return p;
}

static void scratch_reset(stream_decoder *d)
{
    for (size_t k = 0; k < d->sc_nold; k++)
        free(d->sc_old[k]);
    if (d->sc_nold)
        account(d, -(int64_t)d->sc_old_bytes);
    d->sc_nold = 0;
    d->sc_old_bytes = 0;
    d->sc_used = 0;
}

/* ---- bytes ---- */

static inline int peek(const stream_decoder *d)
{
    return d->i < d->n ? d->b[d->i] : -1;
}

static inline void skip_ws(stream_decoder *d)
{
    /* The wire has no whitespace: one compare decides the common case. */
    while (d->i < d->n && d->b[d->i] <= ' ') {
        unsigned char c = d->b[d->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        d->i++;
    }
}

/* Skip whitespace and consume `c`, or fail naming it. */
static inline int expect(stream_decoder *d, int c, const char *what)
{
    skip_ws(d);
    if (peek(d) != c)
        return unexpected(d, what);
    d->i++;
    return 0;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* High bit set in each byte that is '"', '\\', < 0x20 or >= 0x80. Above the lowest flagged byte the
 * borrow tricks may add false flags, so only the lowest one is exact, which is all we use. */
static inline uint64_t special_bytes(uint64_t v)
{
    uint64_t q = v ^ (ONES * '"'), s = v ^ (ONES * '\\');
    uint64_t zq = (q - ONES) & ~q, zs = (s - ONES) & ~s, ctl = (v - ONES * 0x20) & ~v;
    return (zq | zs | ctl | v) & HIGHS;
}

static inline bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static inline bool is_special(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/* Index of the next byte in [i, n) that ends the plain run of a string, or n. */
static inline size_t find_special(const unsigned char *b, size_t i, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n - i >= 8) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        uint64_t m = special_bytes(v);
        if (m)
            return i + ((unsigned)__builtin_ctzll(m) >> 3);
        i += 8;
    }
#endif
    while (i < n && !is_special(b[i]))
        i++;
    return i;
}

/* ---- strings ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The 4 hex digits at b[i..i+4) as a code unit; -1 when invalid, -2 when the input ends first. */
static long hex4(const stream_decoder *d, size_t i)
{
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        if (i + k >= d->n)
            return -2;
        int h = hexval(d->b[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static int bad_hex(stream_decoder *d, long v, size_t at)
{
    if (v == -2)
        return hard(d, BF_ETRUNC, d->n, "input ends inside a \\u escape");
    return hard(d, BF_ESYNTAX, at, "invalid \\u escape");
}

/* A \u escape at b[*i] ('\\'): validate (pairs, no lone surrogates, no \u0000) and step over it. */
static int check_uescape(stream_decoder *d, size_t *i)
{
    size_t at = *i;
    long v = hex4(d, at + 2);
    if (v < 0)
        return bad_hex(d, v, at);
    if (v == 0)
        return hard(d, BF_ESYNTAX, at, "\\u0000 is not allowed");
    if (v >= 0xDC00 && v <= 0xDFFF)
        return hard(d, BF_ESYNTAX, at, "lone low surrogate");
    *i = at + 6;
    if (v < 0xD800 || v > 0xDBFF)
        return 0;
    if (d->n - *i < 2)
        return *i == d->n || d->b[*i] == '\\' ? hard(d, BF_ETRUNC, d->n, "input ends in a string")
                                              : hard(d, BF_ESYNTAX, at, "lone high surrogate");
    if (d->b[*i] != '\\' || d->b[*i + 1] != 'u')
        return hard(d, BF_ESYNTAX, at, "lone high surrogate");
    long lo = hex4(d, *i + 2);
    if (lo < 0)
        return bad_hex(d, lo, *i);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return hard(d, BF_ESYNTAX, at, "high surrogate not followed by a low one");
    *i += 6;
    return 0;
}

/* An escape at b[*i] ('\\'): validate and step over it. */
static int check_escape(stream_decoder *d, size_t *i)
{
    if (*i + 1 >= d->n)
        return hard(d, BF_ETRUNC, d->n, "input ends in a string escape");
    switch (d->b[*i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *i += 2;
        return 0;
    case 'u':
        return check_uescape(d, i);
    default:
        return hard(d, BF_ESYNTAX, *i, "invalid escape");
    }
}

/* A UTF-8 sequence at b[*i] (>= 0x80), with jansson's rules: shortest form, no surrogates, at most
 * U+10FFFF. */
static int check_utf8(stream_decoder *d, size_t *i)
{
    const unsigned char *b = d->b;
    unsigned c = b[*i], len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return hard(d, BF_ESYNTAX, *i, "invalid UTF-8");
    for (unsigned k = 1; k < len; k++) {
        if (*i + k >= d->n)
            return hard(d, BF_ETRUNC, d->n, "input ends inside a UTF-8 sequence");
        if ((b[*i + k] & 0xC0) != 0x80)
            return hard(d, BF_ESYNTAX, *i, "invalid UTF-8");
        cp = cp << 6 | (b[*i + k] & 0x3F);
    }
    bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return hard(d, BF_ESYNTAX, *i, "invalid UTF-8");
    *i += len;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static char unescape_char(unsigned char c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return (char)c; /* '"', '\\', '/' */
    }
}

/* Decode the already validated string body b[s..e) into scratch (never longer than the source). */
static bf_str unescape(stream_decoder *d, size_t s, size_t e)
{
    char *o = scratch_alloc(d, e - s), *start = o;
    const unsigned char *b = d->b;
    while (s < e) {
        if (b[s] != '\\') {
            *o++ = (char)b[s++];
            continue;
        }
        if (b[s + 1] != 'u') {
            *o++ = unescape_char(b[s + 1]);
            s += 2;
            continue;
        }
        uint32_t cp = (uint32_t)hex4(d, s + 2);
        s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(d, s + 2) - 0xDC00);
            s += 6;
        }
        o += put_utf8(o, cp);
    }
    return (bf_str){ start, (uint32_t)(o - start) };
}

/* The rest of a string whose plain run stopped at b[i] on an escape, a UTF-8 lead byte or a control
 * character: checked one by one, plain runs still 8 bytes at a time. */
static __attribute__((noinline)) int scan_str_slow(stream_decoder *d, size_t s, size_t i,
                                                   bf_str *out)
{
    const unsigned char *b = d->b;
    bool esc = false;
    for (;;) {
        if (i >= d->n)
            return hard(d, BF_ETRUNC, d->n, "input ends in a string");
        unsigned char c = b[i];
        if (c == '"')
            break;
        if (c == '\\') {
            TRY(check_escape(d, &i));
            esc = true;
        } else if (c >= 0x80) {
            TRY(check_utf8(d, &i));
        } else {
            return hard(d, BF_ESYNTAX, i, "control character in a string");
        }
        i = find_special(b, i, d->n);
    }
    d->i = i + 1;
    if (out)
        *out = esc ? unescape(d, s, i) : (bf_str){ (const char *)b + s, (uint32_t)(i - s) };
    return 0;
}

/* The string at b[i] ('"'). With `out`, its value: a slice of the input, or of scratch when it held
 * escapes. The common case (no escape, ASCII) stays inline. */
static inline int scan_str(stream_decoder *d, bf_str *out)
{
    const unsigned char *b = d->b;
    size_t s = d->i + 1, i = find_special(b, s, d->n);
    if (__builtin_expect(i < d->n && b[i] == '"', 1)) {
        d->i = i + 1;
        if (out)
            *out = (bf_str){ (const char *)b + s, (uint32_t)(i - s) };
        return 0;
    }
    return scan_str_slow(d, s, i, out);
}

/* ---- numbers and literals ---- */

/* Exactly jansson's test: strtod of the token overflows to +-HUGE_VAL (underflow is fine). */
static int check_real(stream_decoder *d, size_t s, size_t e)
{
    char *tmp = scratch_alloc(d, e - s + 1);
    memcpy(tmp, d->b + s, e - s);
    tmp[e - s] = '\0';
    errno = 0;
    double v = strtod_l(tmp, NULL, d->c_locale);
    d->sc_used -= e - s + 1; /* the copy is dead now; give the room back */
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
        return hard(d, BF_ERANGE, s, "real number overflow");
    return 0;
}

static size_t skip_digits(const stream_decoder *d, size_t i)
{
    while (i < d->n && d->b[i] >= '0' && d->b[i] <= '9')
        i++;
    return i;
}

/* Fraction and exponent of a real whose integer part ends at b[i]. */
static int real_tail(stream_decoder *d, size_t s, size_t i)
{
    if (i < d->n && d->b[i] == '.') {
        size_t j = skip_digits(d, i + 1);
        if (j == i + 1)
            return d->i = i + 1, unexpected(d, "a digit after '.'");
        i = j;
    }
    if (i < d->n && (d->b[i] == 'e' || d->b[i] == 'E')) {
        i++;
        if (i < d->n && (d->b[i] == '+' || d->b[i] == '-'))
            i++;
        size_t j = skip_digits(d, i);
        if (j == i)
            return d->i = i, unexpected(d, "a digit in the exponent");
        i = j;
    }
    d->i = i;
    return check_real(d, s, i);
}

/* A number at b[i]; *is_int tells whether it was an integer (then in *v). Integers must fit int64
 * and reals must not overflow a double, as in jansson. */
static int number(stream_decoder *d, int64_t *v, bool *is_int)
{
    const unsigned char *b = d->b;
    size_t s = d->i, i = s;
    bool neg = i < d->n && b[i] == '-';
    i += neg;
    uint64_t acc = 0;
    size_t nd = 0;
    if (i < d->n && b[i] == '0') {
        i++, nd = 1;
    } else {
        for (; i < d->n && b[i] >= '0' && b[i] <= '9'; i++, nd++)
            acc = acc * 10 + (uint64_t)(b[i] - '0'); /* wraps past 19 digits: nd tells */
        if (nd == 0)
            return d->i = i, unexpected(d, "a digit");
    }
    if (i < d->n && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
        *is_int = false;
        return real_tail(d, s, i);
    }
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (nd > 19 || acc > lim)
        return hard(d, BF_ERANGE, s, "integer does not fit in 64 bits");
    d->i = i;
    *is_int = true;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

static int literal(stream_decoder *d, const char *word, size_t wn)
{
    size_t left = d->n - d->i;
    if (left >= wn && memcmp(d->b + d->i, word, wn) == 0) {
        d->i += wn;
        return 0;
    }
    if (left < wn && memcmp(d->b + d->i, word, left) == 0)
        return hard(d, BF_ETRUNC, d->n, "input ends inside a literal");
    return hard(d, BF_ESYNTAX, d->i, "invalid literal");
}

/* ---- duplicate keys ---- */

static void frame_push(stream_decoder *d, int depth, bool is_obj)
{
    frame *f = &d->frames[depth];
    f->lo = f->hi = 0;
    f->base = (uint32_t)d->nkeys;
    f->is_obj = is_obj;
}

static int key_cmp(const void *a, const void *b)
{
    const bf_str *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->n ? memcmp(x->p, y->p, x->n) : 0;
}

/* Close an object; one with many long keys is checked for duplicates here, by sorting. */
static int frame_pop(stream_decoder *d, int depth)
{
    frame *f = &d->frames[depth];
    size_t cnt = d->nkeys - f->base;
    if (cnt > LINEAR_KEYS) {
        bf_str *k = d->keys + f->base;
        qsort(k, cnt, sizeof *k, key_cmp);
        for (size_t j = 1; j < cnt; j++)
            if (key_cmp(&k[j - 1], &k[j]) == 0)
                return hard(d, BF_EDUP, d->i - 1, "duplicate key in an object");
    }
    d->nkeys = f->base;
    return 0;
}

static int long_key(stream_decoder *d, frame *f, bf_str k, size_t at)
{
    size_t cnt = d->nkeys - f->base;
    if (cnt < LINEAR_KEYS)
        for (size_t j = f->base; j < d->nkeys; j++)
            if (key_cmp(&d->keys[j], &k) == 0)
                return hard(d, BF_EDUP, at, "duplicate key");
    if (d->nkeys == d->cap_keys) {
        account(d, (int64_t)(d->cap_keys * sizeof *d->keys));
        d->cap_keys *= 2;
        d->keys = xreallocarray(d->keys, d->cap_keys, sizeof *d->keys);
    }
    d->keys[d->nkeys++] = k;
    return 0;
}

/* Record key k of the object at `depth`; a repeat is a hard error (JSON_REJECT_DUPLICATES). */
static inline int note_key(stream_decoder *d, int depth, bf_str k, size_t at)
{
    frame *f = &d->frames[depth];
    if (k.n == 1 && (unsigned char)k.p[0] < 128) {
        unsigned c = (unsigned char)k.p[0];
        unsigned long long *w = c < 64 ? &f->lo : &f->hi, bit = 1ull << (c & 63);
        if (*w & bit)
            return hard(d, BF_EDUP, at, "duplicate key");
        *w |= bit;
        return 0;
    }
    return long_key(d, f, k, at);
}

/* The general key: any length, escapes, whitespace before the ':'. */
static __attribute__((noinline)) int read_key_slow(stream_decoder *d, int depth, bf_str *k)
{
    skip_ws(d);
    size_t at = d->i;
    if (peek(d) != '"')
        return unexpected(d, "a key string");
    TRY(scan_str(d, k));
    TRY(note_key(d, depth, *k, at));
    TRY(expect(d, ':', "':'"));
    skip_ws(d);
    return 0;
}

/* A key of the object at `depth`, its ':' and the whitespace before the value. Nearly every Binance
 * key is one plain character right before its ':', which is checked here without a general scan. */
static inline int read_key(stream_decoder *d, int depth, bf_str *k)
{
    const unsigned char *b = d->b;
    size_t at = d->i, n = d->n;
    if (n - at > 4 && b[at] == '"' && b[at + 2] == '"' && b[at + 3] == ':' &&
        plain_byte(b[at + 1])) {
        *k = (bf_str){ (const char *)b + at + 1, 1 };
        d->i = at + 4;
        TRY(note_key(d, depth, *k, at));
        if (b[at + 4] <= ' ')
            skip_ws(d);
        return 0;
    }
    return read_key_slow(d, depth, k);
}

/* The next byte that is not whitespace (-1 at the end); one compare when there is none. */
static inline int next_byte(stream_decoder *d)
{
    size_t i = d->i;
    if (i < d->n && d->b[i] > ' ')
        return d->b[i];
    skip_ws(d);
    return peek(d);
}

/* ---- generic values ---- */

/* Start the value at `depth`: a scalar or an empty container is consumed (0); a non-empty container
 * is opened (1), for an object up to its first value. */
static int skip_item(stream_decoder *d, int depth)
{
    if (depth > MAX_DEPTH)
        return hard(d, BF_EDEPTH, d->i, "nesting deeper than 2048");
    skip_ws(d);
    int64_t v;
    bool is_int;
    bf_str k;
    switch (peek(d)) {
    case '{':
        d->i++;
        skip_ws(d);
        if (peek(d) == '}')
            return d->i++, 0;
        frame_push(d, depth, true);
        TRY(read_key(d, depth, &k));
        return 1;
    case '[':
        d->i++;
        skip_ws(d);
        if (peek(d) == ']')
            return d->i++, 0;
        frame_push(d, depth, false);
        return 1;
    case '"':
        return scan_str(d, NULL);
    case 't':
        return literal(d, "true", 4);
    case 'f':
        return literal(d, "false", 5);
    case 'n':
        return literal(d, "null", 4);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return number(d, &v, &is_int);
    default:
        return unexpected(d, "a value");
    }
}

/* After a complete value at depth cur+1 inside the container at `cur`: 1 when the next value begins
 * (the container stays open), 0 when the container closed. */
static int skip_next(stream_decoder *d, int cur)
{
    frame *f = &d->frames[cur];
    bf_str k;
    skip_ws(d);
    int c = peek(d);
    if (c == ',') {
        d->i++;
        if (f->is_obj)
            TRY(read_key(d, cur, &k));
        return 1;
    }
    if (c != (f->is_obj ? '}' : ']'))
        return unexpected(d, f->is_obj ? "',' or '}'" : "',' or ']'");
    d->i++;
    if (f->is_obj)
        TRY(frame_pop(d, cur));
    return 0;
}

/* Validate any value at `depth` without keeping it. Iterative: nesting costs no C stack. */
static int skip_value(stream_decoder *d, int depth)
{
    int cur = depth; /* depth of the value about to start */
    for (;;) {
        int r = skip_item(d, cur);
        if (r < 0)
            return r;
        if (r == 1) {
            cur++;
            continue;
        }
        for (;;) { /* the value at `cur` is complete */
            if (cur == depth)
                return 0;
            r = skip_next(d, cur - 1);
            if (r < 0)
                return r;
            if (r == 1)
                break;
            cur--;
        }
    }
}

/* A known field holds the wrong JSON type: note it and step over the value. */
static int mistyped(stream_decoder *d, int depth, const char *what)
{
    soft(d, BF_ETYPE, d->i, what);
    return skip_value(d, depth);
}

/* ---- typed values ---- */

static int val_str(stream_decoder *d, bf_str *dst, int depth)
{
    if (peek(d) != '"')
        return mistyped(d, depth, "field must be a string");
    return scan_str(d, dst);
}

/* True when all 8 bytes of v are ASCII digits. */
static inline bool eight_digits(uint64_t v)
{
    return ((v & 0xF0F0F0F0F0F0F0F0ull) |
            (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) == 0x3333333333333333ull;
}

/* The value of 8 ASCII digits loaded little-endian (first digit in the low byte): pairs, then
 * quads, then the whole, each step one multiply. */
static inline uint64_t eight_value(uint64_t v)
{
    v -= 0x3030303030303030ull;
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFull;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFull;
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFull;
}

static int val_int(stream_decoder *d, int64_t *dst, int depth)
{
    const unsigned char *b = d->b;
    size_t i = d->i, n = d->n;
    if (i < n && b[i] >= '1' && b[i] <= '9') {
        /* Up to 18 digits cannot overflow; anything longer or real goes the long way. */
        uint64_t acc = 0;
        size_t e = n - i > 18 ? i + 18 : n;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t w;
        if (e - i >= 8 && (memcpy(&w, b + i, 8), eight_digits(w))) {
            acc = eight_value(w);
            i += 8;
        }
#endif
        for (; i < e && b[i] >= '0' && b[i] <= '9'; i++)
            acc = acc * 10 + (uint64_t)(b[i] - '0');
        if (i < n && !(b[i] >= '0' && b[i] <= '9') && b[i] != '.' && (b[i] | 0x20) != 'e') {
            *dst = (int64_t)acc;
            d->i = i;
            return 0;
        }
    }
    int c = peek(d);
    if (c != '-' && (c < '0' || c > '9'))
        return mistyped(d, depth, "field must be an integer");
    size_t at = d->i;
    bool is_int;
    TRY(number(d, dst, &is_int));
    if (!is_int)
        soft(d, BF_ETYPE, at, "field must be an integer");
    return 0;
}

static int val_bool(stream_decoder *d, bool *dst, int depth)
{
    if (peek(d) == 't') {
        *dst = true;
        return literal(d, "true", 4);
    }
    if (peek(d) == 'f') {
        *dst = false;
        return literal(d, "false", 5);
    }
    return mistyped(d, depth, "field must be true or false");
}

/* A plain string body starting at b[i] and its closing quote; 0 when it is not that simple. */
static inline size_t plain_str_end(const unsigned char *b, size_t i, size_t n)
{
    size_t e = find_special(b, i, n);
    return e < n && b[e] == '"' ? e : 0;
}

/* ["px","qty"] exactly as the exchange writes it (no whitespace, no escapes): true when taken. */
static inline bool level_fast(stream_decoder *d, ev_level *lv)
{
    const unsigned char *b = d->b;
    size_t i = d->i, n = d->n;
    if (n - i < 8 || b[i + 1] != '"')
        return false;
    size_t e1 = plain_str_end(b, i + 2, n);
    if (!e1 || n - e1 < 4 || b[e1 + 1] != ',' || b[e1 + 2] != '"')
        return false;
    size_t e2 = plain_str_end(b, e1 + 3, n);
    if (!e2 || n - e2 < 2 || b[e2 + 1] != ']')
        return false;
    lv->px = (bf_str){ (const char *)b + i + 2, (uint32_t)(e1 - i - 2) };
    lv->qty = (bf_str){ (const char *)b + e1 + 3, (uint32_t)(e2 - e1 - 3) };
    d->i = e2 + 2;
    return true;
}

/* One level ["px","qty"] at `depth`; any other shape is a type error. */
static int level(stream_decoder *d, ev_level *lv, int depth)
{
    if (level_fast(d, lv))
        return 0;
    size_t at = d->i;
    d->i++;
    skip_ws(d);
    if (peek(d) == '"') {
        TRY(scan_str(d, &lv->px));
        skip_ws(d);
        if (peek(d) == ',') {
            d->i++;
            skip_ws(d);
            if (peek(d) == '"') {
                TRY(scan_str(d, &lv->qty));
                skip_ws(d);
                if (peek(d) == ']')
                    return d->i++, 0;
            }
        }
    }
    d->i = at;
    return mistyped(d, depth, "a level must be [\"price\",\"qty\"]");
}

static int val_levels(stream_decoder *d, ev_levels *dst, int depth)
{
    if (peek(d) != '[')
        return mistyped(d, depth, "levels must be an array");
    d->i++;
    dst->first = (uint32_t)d->nlevels;
    dst->count = 0;
    skip_ws(d);
    if (peek(d) == ']')
        return d->i++, 0;
    ev_level scrap;
    for (;;) {
        size_t at = d->i;
        if (peek(d) != '[') {
            TRY(mistyped(d, depth + 1, "a level must be [\"price\",\"qty\"]"));
        } else if (d->nlevels < d->lim.max_levels) {
            TRY(level(d, &d->levels[d->nlevels++], depth + 1));
        } else {
            soft(d, BF_ETOOBIG, at, "more levels than max_levels");
            TRY(level(d, &scrap, depth + 1));
        }
        skip_ws(d);
        int c = peek(d);
        d->i++;
        if (c == ']')
            break;
        if (c != ',')
            return d->i--, unexpected(d, "',' or ']'");
        skip_ws(d);
    }
    dst->count = (uint32_t)(d->nlevels - dst->first);
    return 0;
}

static int obj_fields(stream_decoder *d, msg *m, int depth);
static void msg_init(msg *m, const ftable *t, ev *e, ev_kind want, bool is_msg);

/* A nested object with a fixed table (kline "k", forceOrder "o") into the parent's event. */
static int val_nested(stream_decoder *d, msg *parent, const ftable *t, int depth)
{
    if (peek(d) != '{')
        return mistyped(d, depth, "field must be an object");
    msg m;
    msg_init(&m, t, parent->e, EV_NONE, false);
    size_t at = d->i;
    TRY(obj_fields(d, &m, depth));
    if ((m.seen & t->required) != t->required)
        soft(d, BF_EMISSING, at, "required field missing in a nested object");
    if (m.inner_seen) {
        parent->inner_seen = true;
        parent->inner_st = m.inner_st;
    }
    return 0;
}

/* The value of key `id` for a message whose table is known. */
static inline int field_value(stream_decoder *d, msg *m, unsigned id, int depth)
{
    if (id >= K_IDS || m->t->f[id].type == F_NONE)
        return skip_value(d, depth);
    const fdesc *f = &m->t->f[id];
    char *dst = (char *)m->e + f->off;
    m->seen |= 1u << f->bit;
    m->e->has |= f->has;
    switch (f->type) {
    case F_STR:
        return val_str(d, (bf_str *)(void *)dst, depth);
    case F_INT:
        return val_int(d, (int64_t *)(void *)dst, depth);
    case F_BOOL:
        return val_bool(d, (bool *)dst, depth);
    case F_LEVELS:
        return val_levels(d, (ev_levels *)(void *)dst, depth);
    case F_KLINE:
        return val_nested(d, m, &t_kline_k, depth);
    case F_FORCE:
        return val_nested(d, m, &t_force_o, depth);
    default:
        m->inner_seen = true;
        return val_int(d, &m->inner_st, depth);
    }
}

/* ---- messages ---- */

static unsigned key_id(bf_str k)
{
    const char *p = k.p;
    if (k.n == 1)
        return (unsigned char)p[0] < 128 ? (unsigned char)p[0] : K_UNKNOWN;
    if (k.n == 2) {
        switch (p[0]) {
        case 'p':
            return p[1] == 'u' ? K_PU : p[1] == 's' ? K_PS : K_UNKNOWN;
        case 's':
            return p[1] == 't' ? K_ST : K_UNKNOWN;
        case 'n':
            return p[1] == 'q' ? K_NQ : K_UNKNOWN;
        case 'a':
            return p[1] == 'p' ? K_AP : K_UNKNOWN;
        default:
            return K_UNKNOWN;
        }
    }
    if (k.n == 4)
        return memcmp(p, "bids", 4) == 0 ? K_BIDS : memcmp(p, "asks", 4) == 0 ? K_ASKS : K_UNKNOWN;
    if (k.n == 12 && memcmp(p, "lastUpdateId", 12) == 0)
        return K_LUID;
    return K_UNKNOWN;
}

static const ftable *table_for_name(bf_str s)
{
    switch (s.n) {
    case 5:
        return memcmp(s.p, "trade", 5) == 0   ? &t_trade
               : memcmp(s.p, "kline", 5) == 0 ? &t_kline
                                              : NULL;
    case 8:
        return memcmp(s.p, "aggTrade", 8) == 0 ? &t_agg : NULL;
    case 10:
        return memcmp(s.p, "bookTicker", 10) == 0   ? &t_bt
               : memcmp(s.p, "forceOrder", 10) == 0 ? &t_force
                                                    : NULL;
    case 11:
        return memcmp(s.p, "depthUpdate", 11) == 0 ? &t_depth : NULL;
    case 15:
        return memcmp(s.p, "markPriceUpdate", 15) == 0 ? &t_mark : NULL;
    default:
        return NULL;
    }
}

/* Settle the kind of m; an unsupported kind (or one an array does not allow) is a soft error. */
static void set_kind(stream_decoder *d, msg *m, const ftable *t, size_t at)
{
    if (!t || (m->want != EV_NONE && t->kind != m->want)) {
        soft(d, BF_EUNSUPPORTED, at, "unsupported message type");
        m->t = &t_none;
        return;
    }
    m->t = t;
    m->e->kind = t->kind;
    memset(&m->e->u, 0, t->usize);
}

/* The "e" field: it decides the kind. */
static int msg_kind(stream_decoder *d, msg *m, int depth)
{
    size_t at = d->i;
    if (peek(d) != '"') {
        m->t = &t_none;
        return mistyped(d, depth, "\"e\" must be a string");
    }
    bf_str s;
    TRY(scan_str(d, &s));
    set_kind(d, m, table_for_name(s), at);
    return 0;
}

static bool known_somewhere(unsigned id)
{
    for (size_t k = 0; k < sizeof msg_tables / sizeof msg_tables[0]; k++)
        if (msg_tables[k]->f[id].type != F_NONE)
            return true;
    return false;
}

static inline int msg_field(stream_decoder *d, msg *m, bf_str key, int depth)
{
    unsigned id = key_id(key);
    if (m->is_msg && id == 'e')
        return msg_kind(d, m, depth);
    if (m->t)
        return field_value(d, m, id, depth);
    /* Kind not known yet: remember where the value is and read it once the object is closed. */
    if (id < K_IDS && m->npend < MAX_PEND && known_somewhere(id)) {
        m->pend[m->npend].id = (uint8_t)id;
        m->pend[m->npend++].at = d->i;
    }
    return skip_value(d, depth);
}

/* The object at b[i] ('{') at `depth`, its fields dispatched through m. */
static int obj_fields(stream_decoder *d, msg *m, int depth)
{
    d->i++;
    m->depth = depth + 1;
    skip_ws(d);
    if (peek(d) == '}')
        return d->i++, 0;
    frame_push(d, depth, true);
    for (;;) {
        bf_str k;
        TRY(read_key(d, depth, &k));
        TRY(msg_field(d, m, k, depth + 1));
        int c = next_byte(d);
        if (c == '}') {
            d->i++;
            return frame_pop(d, depth);
        }
        if (c != ',')
            return unexpected(d, "',' or '}'");
        d->i++;
    }
}

static bool pending_has(const msg *m, unsigned id)
{
    for (uint32_t k = 0; k < m->npend; k++)
        if (m->pend[k].id == id)
            return true;
    return false;
}

/* A message without "e": a REST snapshot, the old bookTicker, or nothing we know. */
static const ftable *classify_without_e(const msg *m)
{
    if (pending_has(m, K_LUID))
        return &t_snapshot;
    static const char bt_keys[] = "usbBaA";
    for (const char *c = bt_keys; *c; c++)
        if (!pending_has(m, (unsigned char)*c))
            return NULL;
    return &t_bt;
}

/* Read the values deferred while the kind was unknown (they are valid JSON already). */
static int replay_pending(stream_decoder *d, msg *m)
{
    size_t save = d->i;
    for (uint32_t k = 0; k < m->npend; k++) {
        if (m->t->f[m->pend[k].id].type == F_NONE)
            continue;
        d->i = m->pend[k].at;
        TRY(field_value(d, m, m->pend[k].id, m->depth));
    }
    d->i = save;
    return 0;
}

static bool partial_stream(bf_str s)
{
    static const char tag[] = "@depth";
    for (uint32_t k = 0; s.p && k + 6 < s.n; k++)
        if (memcmp(s.p + k, tag, 6) == 0 && s.p[k + 6] >= '0' && s.p[k + 6] <= '9')
            return true;
    return false;
}

/* After the object closed: settle the kind, read deferred values, check required fields. */
static int msg_finish(stream_decoder *d, msg *m, size_t at)
{
    if (!m->t)
        set_kind(d, m, classify_without_e(m), at);
    if (m->t == &t_none)
        return 0;
    if (m->npend)
        TRY(replay_pending(d, m));
    if ((m->seen & m->t->required) != m->t->required)
        soft(d, BF_EMISSING, at, "required field missing");
    ev *e = m->e;
    if (e->kind == EV_FORCE_ORDER && m->inner_seen && !(e->has & EV_HAS_ST)) {
        e->st = m->inner_st;
        e->has |= EV_HAS_ST;
    }
    if (e->kind == EV_DEPTH)
        e->u.depth.partial = partial_stream(d->stream);
    return 0;
}

/* The union is cleared later, for the size of the kind, once the kind is known. */
static void ev_clear(ev *e)
{
    e->kind = EV_NONE;
    e->has = 0;
    e->st = 0;
}

/* Only the header of m is set: the deferred-value list is read up to npend and never zeroed. */
static void msg_init(msg *m, const ftable *t, ev *e, ev_kind want, bool is_msg)
{
    m->t = t;
    m->e = e;
    m->seen = 0;
    m->want = want;
    m->is_msg = is_msg;
    m->inner_seen = false;
    m->inner_st = 0;
    m->depth = 0;
    m->npend = 0;
}

static int message(stream_decoder *d, ev *e, ev_kind want, int depth)
{
    msg m;
    msg_init(&m, NULL, e, want, true);
    ev_clear(e);
    size_t at = d->i;
    TRY(obj_fields(d, &m, depth));
    return msg_finish(d, &m, at);
}

/* !markPrice@arr: an array of markPriceUpdate objects, one event each. */
static int mark_array(stream_decoder *d, int depth)
{
    d->i++;
    skip_ws(d);
    if (peek(d) == ']')
        return d->i++, 0;
    for (;;) {
        skip_ws(d);
        if (peek(d) != '{') {
            soft(d, BF_EUNSUPPORTED, d->i, "array elements must be markPriceUpdate objects");
            TRY(skip_value(d, depth + 1));
        } else if (d->nevents < d->lim.max_events) {
            TRY(message(d, &d->events[d->nevents++], EV_MARK_PRICE, depth + 1));
        } else {
            soft(d, BF_ETOOBIG, d->i, "more events than max_events");
            TRY(message(d, &d->spill, EV_MARK_PRICE, depth + 1));
        }
        skip_ws(d);
        int c = peek(d);
        if (c == ']')
            return d->i++, 0;
        if (c != ',')
            return unexpected(d, "',' or ']'");
        d->i++;
    }
}

/* The "data" of a wrapper (or a top-level array): one message or a markPrice array. */
static int payload(stream_decoder *d, int depth)
{
    skip_ws(d);
    int c = peek(d);
    if (c == '{') {
        d->nevents = 1;
        return message(d, &d->events[0], EV_NONE, depth);
    }
    if (c == '[')
        return mark_array(d, depth);
    return mistyped(d, depth, "\"data\" must be an object or an array");
}

typedef struct top {
    bool has_stream, has_data;
    size_t data_at; /* SIZE_MAX unless "data" came before "stream" */
} top;

/* "stream" at the top level: the object is a wrapper; whatever was decoded as a raw message goes. */
static int top_stream(stream_decoder *d, msg *m, top *t)
{
    t->has_stream = true;
    m->t = &t_none;
    d->nevents = 0;
    d->nlevels = 0;
    d->soft_code = 0;
    if (peek(d) != '"')
        return mistyped(d, 2, "\"stream\" must be a string");
    return scan_str(d, &d->stream);
}

static int top_key(stream_decoder *d, msg *m, top *t, bf_str k)
{
    if (k.n == 6 && memcmp(k.p, "stream", 6) == 0)
        return top_stream(d, m, t);
    bool data = k.n == 4 && memcmp(k.p, "data", 4) == 0;
    if (data && t->has_stream) {
        t->has_data = true;
        return payload(d, 2);
    }
    if (data) {
        t->has_data = true;
        t->data_at = d->i;
    }
    if (t->has_stream)
        return skip_value(d, 2);
    return msg_field(d, m, k, 2);
}

/* The top-level object: a wrapper when it has "stream", else a raw message. */
static int top_object(stream_decoder *d)
{
    msg m;
    msg_init(&m, NULL, &d->events[0], EV_NONE, true);
    ev_clear(m.e);
    m.depth = 2;
    top t = { .data_at = SIZE_MAX };
    d->i++;
    skip_ws(d);
    bool empty = peek(d) == '}';
    if (empty)
        d->i++;
    else
        frame_push(d, 1, true);
    while (!empty) {
        bf_str k;
        TRY(read_key(d, 1, &k));
        TRY(top_key(d, &m, &t, k));
        skip_ws(d);
        int c = peek(d);
        d->i++;
        if (c == '}')
            break;
        if (c != ',')
            return d->i--, unexpected(d, "',' or '}'");
    }
    if (!empty)
        TRY(frame_pop(d, 1));
    if (!t.has_stream) {
        d->nevents = 1;
        return msg_finish(d, &m, 0);
    }
    if (!t.has_data)
        soft(d, BF_EMISSING, 0, "wrapper has \"stream\" but no \"data\"");
    if (t.data_at == SIZE_MAX)
        return 0;
    size_t save = d->i;
    d->i = t.data_at;
    TRY(payload(d, 2));
    d->i = save;
    return 0;
}

static int decode_doc(stream_decoder *d)
{
    skip_ws(d);
    int c = peek(d);
    if (c == '{')
        TRY(top_object(d));
    else if (c == '[')
        TRY(mark_array(d, 1));
    else
        return unexpected(d, "'{' or '['");
    skip_ws(d);
    if (d->i != d->n)
        return hard(d, BF_ESYNTAX, d->i, "trailing characters after the message");
    return 0;
}

/* ---- API ---- */

stream_decoder *stream_decoder_create(const stream_limits *lim)
{
    stream_decoder *d = xcalloc(1, sizeof *d);
    d->lim.max_levels = lim ? lim->max_levels : DEFAULT_MAX_LEVELS;
    d->lim.max_events = lim ? lim->max_events : DEFAULT_MAX_EVENTS;
    size_t ne = d->lim.max_events ? d->lim.max_events : 1;
    size_t nl = d->lim.max_levels ? d->lim.max_levels : 1;
    d->events = xcalloc(ne, sizeof *d->events);
    d->levels = xcalloc(nl, sizeof *d->levels);
    d->frames = xcalloc(MAX_DEPTH + 2, sizeof *d->frames);
    d->cap_keys = 256;
    d->keys = xcalloc(d->cap_keys, sizeof *d->keys);
    d->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (d->c_locale == (locale_t)0) {
        fprintf(stderr, "stream: cannot create the C locale\n");
        abort();
    }
    account(d, (int64_t)(sizeof *d + ne * sizeof *d->events + nl * sizeof *d->levels +
                         (MAX_DEPTH + 2) * sizeof *d->frames + d->cap_keys * sizeof *d->keys));
    return d;
}

void stream_decoder_destroy(stream_decoder *d)
{
    if (!d)
        return;
    scratch_reset(d);
    memacct_add(MEM_DECODER, -(int64_t)d->mem);
    free(d->sc_old);
    free(d->sc);
    free(d->keys);
    free(d->frames);
    free(d->levels);
    free(d->events);
    freelocale(d->c_locale);
    free(d);
}

static void format_error(stream_decoder *d, int rc)
{
    size_t at = d->hard_code ? d->hard_at : d->soft_at;
    const char *what = d->hard_code ? d->hard_what : d->soft_what;
    if (rc == BF_ESYNTAX && at < d->n && d->b[at] >= 0x20 && d->b[at] < 0x7f)
        snprintf(d->err, sizeof d->err, "unexpected '%c' at byte %zu (%s)", d->b[at], at, what);
    else if (rc == BF_ETRUNC)
        snprintf(d->err, sizeof d->err, "input ends at byte %zu (expected %s)", at, what);
    else
        snprintf(d->err, sizeof d->err, "%s at byte %zu", what, at);
}

int stream_decode(stream_decoder *d, const char *buf, size_t len, stream_msg *out)
{
    d->b = (const unsigned char *)buf;
    d->n = len;
    d->i = 0;
    d->nevents = d->nlevels = d->nkeys = 0;
    d->stream = (bf_str){ NULL, 0 };
    d->soft_code = d->hard_code = 0;
    scratch_reset(d);
    int rc = len > UINT32_MAX ? hard(d, BF_ETOOBIG, 0, "message longer than 4 GiB") : decode_doc(d);
    if (rc == 0)
        rc = d->soft_code;
    if (rc < 0) {
        format_error(d, rc);
        return rc;
    }
    d->err[0] = '\0';
    *out = (stream_msg){
        .stream = d->stream, .nevents = d->nevents, .events = d->events, .levels = d->levels
    };
    return 0;
}

const char *stream_decoder_error(const stream_decoder *d)
{
    return d->err;
}

size_t stream_decoder_mem_bytes(const stream_decoder *d)
{
    return d->mem;
}
