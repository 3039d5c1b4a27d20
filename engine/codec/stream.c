/*
 * stream: the fast decoder. Owns its events and levels arrays (sized from the limits at create) and
 * a jscan (jscan.h: the strict JSON lexer with the cursor, the errors, the duplicate-key frames and
 * the scratch for unescaped strings). One thread per decoder; results stay valid until the next
 * stream_decode(). A message with more levels or events than the limits is still validated to its
 * end, then rejected with BF_ETOOBIG.
 *
 * How it works: one recursive-descent pass over the bytes; jscan validates strict JSON with
 * jansson 2.14's rules and, for the objects that are messages, this file writes fields straight
 * into the event through a per-kind table (key id -> type, destination, presence bit). Errors come
 * in two strengths: a malformed document ("hard": syntax, truncation, depth, duplicates, number
 * overflow) stops at once; a schema problem ("soft": wrong type, missing field, unsupported kind,
 * too big) is remembered and the pass continues, because a later key can still change the verdict
 * (a top-level "stream" turns the object into a wrapper and its other keys into noise) and a later
 * byte can still make the whole document invalid JSON, which jansson would report first.
 *
 * Until an object's kind is known (its "e", or its close for objects without one), the values of
 * keys that some kind knows are deferred: their offsets are kept and they are read once the kind is
 * settled. A REST snapshot is the exception: its first key is "lastUpdateId", so it is read as a
 * snapshot straight away, and only an "e" arriving later sends it back to the deferred path.
 */
#include "codec/stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jscan.h"
#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

/* More than the number of distinct keys known to any message kind (duplicates are rejected first). */
#define MAX_PEND 48

#define DEFAULT_MAX_LEVELS 65536
#define DEFAULT_MAX_EVENTS 4096

#define TRY JSCAN_TRY

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

/* The fast path's memory of one kind (see "the fast path" below): the keys of the last message of
 * that kind it read, in their order, each as the bytes ,"k": (or ,"kk":) to compare in one go. */
#define FAST_STEPS 16

typedef struct fast_step {
    uint64_t key, mask; /* the key's bytes, little-endian, and which bytes of a word they are */
    uint8_t len;        /* 5 or 6 */
    uint8_t id;         /* the key id */
} fast_step;

typedef struct fast_order {
    uint8_t n; /* 0: nothing learnt yet */
    fast_step step[FAST_STEPS];
} fast_order;

struct stream_decoder {
    jscan js; /* the lexer: cursor, errors, duplicate keys, scratch (only jscan_* touch it) */
    fast_order order[EV_KIND_COUNT];
    stream_limits lim;
    ev *events;
    size_t nevents;
    ev spill;           /* target for events past max_events (validated, not kept) */
    jscan_level_buf lv; /* this message's levels: lv.v[0 .. lv.n), lv.cap == lim.max_levels */
    bf_str stream;
    size_t mem; /* this struct and its two arrays (the jscan counts its own) */
};

/* One message object being decoded. */
typedef struct msg {
    const ftable *t; /* NULL until the kind is known; &t_none once the message is a lost cause */
    ev *e;
    uint32_t seen;
    ev_kind want;    /* array elements must be this kind (EV_NONE: any) */
    bool is_msg;     /* "e" decides the kind; keys that arrive before it are deferred */
    bool first_key;  /* no key read yet, and a first "lastUpdateId" may start a snapshot guess */
    bool guess;      /* read as a snapshot while the kind is not settled (guess_start) */
    bool guess_soft; /* no soft error was recorded when the guess started */
    bool inner_seen;
    int64_t inner_st;    /* "st" inside forceOrder's "o" */
    int depth;           /* of the object's values */
    size_t guess_levels; /* lv.n when the guess started */
    uint32_t npend;
    struct {
        uint8_t id;
        size_t at;
    } pend[MAX_PEND];
} msg;

static int obj_fields(stream_decoder *d, msg *m, int depth);
static void msg_init(msg *m, const ftable *t, ev *e, ev_kind want, bool is_msg);

/* ---- fields ---- */

/* A nested object with a fixed table (kline "k", forceOrder "o") into the parent's event. */
static int val_nested(stream_decoder *d, msg *parent, const ftable *t, int depth)
{
    if (jscan_peek(&d->js) != '{')
        return jscan_mistyped(&d->js, depth, "field must be an object");
    msg m;
    msg_init(&m, t, parent->e, EV_NONE, false);
    size_t at = jscan_pos(&d->js);
    TRY(obj_fields(d, &m, depth));
    if ((m.seen & t->required) != t->required)
        jscan_soft(&d->js, BF_EMISSING, at, "required field missing in a nested object");
    if (m.inner_seen) {
        parent->inner_seen = true;
        parent->inner_st = m.inner_st;
    }
    return 0;
}

/* The value of key `id` read through table t (the message's own, or the snapshot guess's). */
static inline int field_value(stream_decoder *d, msg *m, const ftable *t, unsigned id, int depth)
{
    if (id >= K_IDS || t->f[id].type == F_NONE)
        return jscan_skip(&d->js, depth);
    const fdesc *f = &t->f[id];
    char *dst = (char *)m->e + f->off;
    m->seen |= 1u << f->bit;
    m->e->has |= f->has;
    switch (f->type) {
    case F_STR:
        return jscan_read_str(&d->js, (bf_str *)(void *)dst, depth);
    case F_INT:
        return jscan_read_int(&d->js, (int64_t *)(void *)dst, depth);
    case F_BOOL:
        return jscan_read_bool(&d->js, (bool *)dst, depth);
    case F_LEVELS:
        return jscan_read_levels(&d->js, &d->lv, (ev_levels *)(void *)dst, depth);
    case F_KLINE:
        return val_nested(d, m, &t_kline_k, depth);
    case F_FORCE:
        return val_nested(d, m, &t_force_o, depth);
    default:
        m->inner_seen = true;
        return jscan_read_int(&d->js, &m->inner_st, depth);
    }
}

/* field_value() for the callers that are off the per-field path (deferred values, the snapshot
 * guess): one out-of-line copy, so the hot copy inlined into obj_fields() stays the only big one. */
static __attribute__((noinline)) int field_value_cold(stream_decoder *d, msg *m, const ftable *t,
                                                      unsigned id, int depth)
{
    return field_value(d, m, t, id, depth);
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

/* The union is cleared later, for the size of the kind, once the kind is known. */
static void ev_clear(ev *e)
{
    e->kind = EV_NONE;
    e->has = 0;
    e->st = 0;
}

/* Settle the kind of m; an unsupported kind (or one an array does not allow) is a soft error. */
static void set_kind(stream_decoder *d, msg *m, const ftable *t, size_t at)
{
    if (!t || (m->want != EV_NONE && t->kind != m->want)) {
        jscan_soft(&d->js, BF_EUNSUPPORTED, at, "unsupported message type");
        m->t = &t_none;
        return;
    }
    m->t = t;
    m->e->kind = t->kind;
    memset(&m->e->u, 0, t->usize);
}

/* The first key is "lastUpdateId", as in every REST snapshot: without an "e" the object is a
 * snapshot (rule 4), so read its fields now instead of deferring them all to a second pass. The
 * kind stays unsettled (m->t NULL) until the object closes or an "e" turns up. */
static void guess_start(stream_decoder *d, msg *m)
{
    m->guess = true;
    m->guess_levels = d->lv.n;
    m->guess_soft = jscan_soft_code(&d->js) == 0;
    m->e->kind = EV_SNAPSHOT;
    memset(&m->e->u, 0, t_snapshot.usize);
}

/* An "e" after all: forget what the guess decoded, as if the fields had only been deferred (their
 * offsets were kept all the same). */
static void guess_undo(stream_decoder *d, msg *m)
{
    m->guess = false;
    d->lv.n = m->guess_levels;
    if (m->guess_soft)
        jscan_soft_clear(&d->js);
    m->seen = 0;
    ev_clear(m->e);
}

/* The "e" field: it decides the kind. */
static int msg_kind(stream_decoder *d, msg *m, int depth)
{
    if (m->guess)
        guess_undo(d, m);
    size_t at = jscan_pos(&d->js);
    if (jscan_peek(&d->js) != '"') {
        m->t = &t_none;
        return jscan_mistyped(&d->js, depth, "\"e\" must be a string");
    }
    bf_str s;
    TRY(jscan_str(&d->js, &s));
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

/* A field of an object whose kind is not settled yet. */
static int field_before_kind(stream_decoder *d, msg *m, unsigned id, int depth)
{
    if (m->first_key) {
        m->first_key = false;
        if (id == K_LUID)
            guess_start(d, m);
    }
    /* Remember where the value is, to read it once the kind is settled (or the guess fails). */
    if (id < K_IDS && m->npend < MAX_PEND && known_somewhere(id)) {
        m->pend[m->npend].id = (uint8_t)id;
        m->pend[m->npend++].at = jscan_pos(&d->js);
    }
    if (m->guess)
        return field_value_cold(d, m, &t_snapshot, id, depth);
    return jscan_skip(&d->js, depth);
}

static inline int msg_field(stream_decoder *d, msg *m, bf_str key, int depth)
{
    unsigned id = key_id(key);
    if (m->is_msg && id == 'e')
        return msg_kind(d, m, depth);
    if (m->t)
        return field_value(d, m, m->t, id, depth);
    return field_before_kind(d, m, id, depth);
}

/* The object at the cursor ('{') at `depth`, its fields dispatched through m. */
static int obj_fields(stream_decoder *d, msg *m, int depth)
{
    jscan *s = &d->js;
    jscan_step(s);
    m->depth = depth + 1;
    jscan_skip_ws(s);
    if (jscan_peek(s) == '}')
        return jscan_step(s), 0;
    jscan_frame_push(s, depth, true);
    for (;;) {
        bf_str k;
        TRY(jscan_key(s, depth, &k));
        TRY(msg_field(d, m, k, depth + 1));
        int c = jscan_next(s);
        if (c == '}') {
            jscan_step(s);
            return jscan_frame_pop(s, depth);
        }
        if (c != ',')
            return jscan_unexpected(s, "',' or '}'");
        jscan_step(s);
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
    size_t save = jscan_pos(&d->js);
    for (uint32_t k = 0; k < m->npend; k++) {
        if (m->t->f[m->pend[k].id].type == F_NONE)
            continue;
        jscan_seek(&d->js, m->pend[k].at);
        TRY(field_value_cold(d, m, m->t, m->pend[k].id, m->depth));
    }
    jscan_seek(&d->js, save);
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
    if (!m->t && m->guess) {
        m->t = &t_snapshot; /* no "e" came: the guess was rule 4 */
        m->npend = 0;       /* and every field was read already */
    } else if (!m->t) {
        set_kind(d, m, classify_without_e(m), at);
    }
    if (m->t == &t_none)
        return 0;
    if (m->npend)
        TRY(replay_pending(d, m));
    if ((m->seen & m->t->required) != m->t->required)
        jscan_soft(&d->js, BF_EMISSING, at, "required field missing");
    ev *e = m->e;
    if (e->kind == EV_FORCE_ORDER && m->inner_seen && !(e->has & EV_HAS_ST)) {
        e->st = m->inner_st;
        e->has |= EV_HAS_ST;
    }
    if (e->kind == EV_DEPTH)
        e->u.depth.partial = partial_stream(d->stream);
    return 0;
}

/* Only the header of m is set: the deferred-value list is read up to npend and never zeroed. */
static void msg_init(msg *m, const ftable *t, ev *e, ev_kind want, bool is_msg)
{
    m->t = t;
    m->e = e;
    m->seen = 0;
    m->want = want;
    m->is_msg = is_msg;
    m->first_key = is_msg && want == EV_NONE;
    m->guess = false;
    m->guess_soft = false;
    m->inner_seen = false;
    m->inner_st = 0;
    m->depth = 0;
    m->guess_levels = 0;
    m->npend = 0;
}

static int message(stream_decoder *d, ev *e, ev_kind want, int depth)
{
    msg m;
    msg_init(&m, NULL, e, want, true);
    ev_clear(e);
    size_t at = jscan_pos(&d->js);
    TRY(obj_fields(d, &m, depth));
    return msg_finish(d, &m, at);
}

/* One element of a !markPrice@arr array, at the cursor. */
static int mark_element(stream_decoder *d, int depth)
{
    jscan *s = &d->js;
    if (jscan_peek(s) != '{') {
        jscan_soft(s, BF_EUNSUPPORTED, jscan_pos(s),
                   "array elements must be markPriceUpdate objects");
        return jscan_skip(s, depth);
    }
    if (d->nevents < d->lim.max_events)
        return message(d, &d->events[d->nevents++], EV_MARK_PRICE, depth);
    jscan_soft(s, BF_ETOOBIG, jscan_pos(s), "more events than max_events");
    return message(d, &d->spill, EV_MARK_PRICE, depth);
}

/* !markPrice@arr: an array of markPriceUpdate objects, one event each. */
static int mark_array(stream_decoder *d, int depth)
{
    jscan *s = &d->js;
    jscan_step(s);
    jscan_skip_ws(s);
    if (jscan_peek(s) == ']')
        return jscan_step(s), 0;
    for (;;) {
        jscan_skip_ws(s);
        TRY(mark_element(d, depth + 1));
        jscan_skip_ws(s);
        int c = jscan_peek(s);
        if (c == ']')
            return jscan_step(s), 0;
        if (c != ',')
            return jscan_unexpected(s, "',' or ']'");
        jscan_step(s);
    }
}

/* The "data" of a wrapper (or a top-level array): one message or a markPrice array. */
static int payload(stream_decoder *d, int depth)
{
    jscan_skip_ws(&d->js);
    int c = jscan_peek(&d->js);
    if (c == '{') {
        d->nevents = 1;
        return message(d, &d->events[0], EV_NONE, depth);
    }
    if (c == '[')
        return mark_array(d, depth);
    return jscan_mistyped(&d->js, depth, "\"data\" must be an object or an array");
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
    d->lv.n = 0;
    jscan_soft_clear(&d->js);
    if (jscan_peek(&d->js) != '"')
        return jscan_mistyped(&d->js, 2, "\"stream\" must be a string");
    return jscan_str(&d->js, &d->stream);
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
        t->data_at = jscan_pos(&d->js);
    }
    if (t->has_stream)
        return jscan_skip(&d->js, 2);
    return msg_field(d, m, k, 2);
}

/* The members of the top-level object, whose '{' is consumed. */
static int top_members(stream_decoder *d, msg *m, top *t)
{
    jscan *s = &d->js;
    jscan_skip_ws(s);
    if (jscan_peek(s) == '}')
        return jscan_step(s), 0;
    jscan_frame_push(s, 1, true);
    for (;;) {
        bf_str k;
        TRY(jscan_key(s, 1, &k));
        TRY(top_key(d, m, t, k));
        jscan_skip_ws(s);
        int c = jscan_peek(s);
        jscan_step(s);
        if (c == '}')
            return jscan_frame_pop(s, 1);
        if (c != ',')
            return jscan_seek(s, jscan_pos(s) - 1), jscan_unexpected(s, "',' or '}'");
    }
}

/* The top-level object: a wrapper when it has "stream", else a raw message. */
static int top_object(stream_decoder *d)
{
    msg m;
    msg_init(&m, NULL, &d->events[0], EV_NONE, true);
    ev_clear(m.e);
    m.depth = 2;
    top t = { .data_at = SIZE_MAX };
    jscan_step(&d->js);
    TRY(top_members(d, &m, &t));
    if (!t.has_stream) {
        d->nevents = 1;
        return msg_finish(d, &m, 0);
    }
    if (!t.has_data)
        jscan_soft(&d->js, BF_EMISSING, 0, "wrapper has \"stream\" but no \"data\"");
    if (t.data_at == SIZE_MAX)
        return 0;
    size_t save = jscan_pos(&d->js);
    jscan_seek(&d->js, t.data_at);
    TRY(payload(d, 2));
    jscan_seek(&d->js, save);
    return 0;
}

static int decode_doc(stream_decoder *d)
{
    jscan_skip_ws(&d->js);
    int c = jscan_peek(&d->js);
    if (c == '{')
        TRY(top_object(d));
    else if (c == '[')
        TRY(mark_array(d, 1));
    else
        return jscan_unexpected(&d->js, "'{' or '['");
    return jscan_expect_end(&d->js);
}

/* ---- the fast path ----
 *
 * Nearly every line of a recording, and every message of a live combined stream, has one shape:
 * {"stream":"<name>","data":{"e":"<kind>",<fields>}} without whitespace or escapes, "e" first,
 * every key one or two plain characters that the kind knows, and values that are plain strings,
 * integers of at most 15 digits, literals or (depth) level arrays. fast_doc() decodes exactly that
 * shape (also unwrapped: {"e":"<kind>",...}) in one straight pass, with no deferral, following the
 * key order of the kind's last message (fast_order). At the first byte that does not fit it gives
 * up (FAST_MISS) and stream_decode()
 * decodes the message again from its start on the general path, which then accepts or rejects it
 * with its own error. So the fast path never rejects anything: an input it takes is valid JSON
 * (every byte it passed was checked against the shape, the levels by jscan_read_levels() with all
 * of JSON's rules) and gets the very fields, flags and slices the general path would give it. */

enum { FAST_MISS = 1 };

/* A byte that may stand in a string as itself: printable ASCII or DEL (jscan_is_special()). */
static inline bool fast_plain_byte(unsigned c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if defined(DEC_HAVE_SSE2)
static inline __m128i fast_load16(const unsigned char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Bit j set when byte j of v is c. */
static inline uint32_t fast_eq16(__m128i v, char c)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/* Bit j set when byte j of v may not stand in a plain string: below 0x20, 0x80 and up (negative
 * as signed bytes, so one compare finds both) or a backslash. */
static inline uint32_t fast_special16(__m128i v)
{
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}
#endif

/* The plain string whose opening quote is b[i]: the index after its closing quote, 0 otherwise.
 *
 * Each field's position waits on the end of the one before, so the fast path is one chain of
 * dependent loads and scans per message: it keeps that chain to one compare per value (the closing
 * quote of a string, the ',' or '}' after a number) and checks the bytes in between beside it. */
static inline __attribute__((always_inline)) size_t fast_str(const unsigned char *b, size_t i,
                                                             size_t n, bf_str *out)
{
    if (i >= n || b[i] != '"')
        return 0;
#if defined(DEC_HAVE_SSE2)
    if (n - i > 16) {
        __m128i v = fast_load16(b + i + 1);
        uint32_t q = fast_eq16(v, '"');
        if (q) {
            unsigned len = (unsigned)__builtin_ctz(q);
            if (fast_special16(v) & ((1u << len) - 1))
                return 0;
            *out = (bf_str){ (const char *)b + i + 1, len };
            return i + len + 2;
        }
    }
#endif
    size_t e = jscan_find_special(b, i + 1, n);
    if (e >= n || b[e] != '"')
        return 0;
    *out = (bf_str){ (const char *)b + i + 1, (uint32_t)(e - i - 1) };
    return e + 1;
}

/* fast_str() for a string that is usually 16 to 31 bytes long (a stream name): 32 bytes in two
 * independent loads. */
static inline size_t fast_str32(const unsigned char *b, size_t i, size_t n, bf_str *out)
{
#if defined(DEC_HAVE_SSE2)
    if (i < n && b[i] == '"' && n - i > 32) {
        __m128i v = fast_load16(b + i + 1), w = fast_load16(b + i + 17);
        uint32_t q = fast_eq16(v, '"') | fast_eq16(w, '"') << 16;
        if (q) {
            unsigned len = (unsigned)__builtin_ctz(q);
            if ((fast_special16(v) | fast_special16(w) << 16) & ((1u << len) - 1))
                return 0;
            *out = (bf_str){ (const char *)b + i + 1, len };
            return i + len + 2;
        }
    }
#endif
    return fast_str(b, i, n, out);
}

/* How many of the 8 bytes of w (first byte in the low byte) are ASCII digits before the first that
 * is not (8: all). A byte >= 0xFA may carry into the next one, but only past the first non-digit. */
static inline unsigned fast_digit_run(uint64_t w)
{
    uint64_t t =
        (w & 0xF0F0F0F0F0F0F0F0ull) | (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4);
    uint64_t y = t ^ 0x3333333333333333ull;
    return y ? (unsigned)__builtin_ctzll(y) >> 3 : 8;
}

/* The value of the first k (1..8) bytes of w, all digits: shifted to the top of the word, the
 * bytes after them (whatever a borrow did to them) fall out and zeros come in as leading digits. */
static inline uint64_t fast_digits_value(uint64_t w, unsigned k)
{
    uint64_t v = (w - 0x3030303030303030ull) << (8 * (8 - k));
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFull;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFull;
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFull;
}

static const uint64_t fast_pow10[9] = { 1,      10,      100,      1000,     10000,
                                        100000, 1000000, 10000000, 100000000 };

/* A non-negative JSON integer of at most 15 digits (no overflow possible) ending at ',' or '}':
 * the index after it, 0 otherwise (a sign, a leading zero, a fraction, an exponent, more digits).
 * Two words of digits at most, with a byte loop for a short tail at the end of the input. */
static inline __attribute__((always_inline)) size_t fast_int(const unsigned char *b, size_t i,
                                                             size_t n, int64_t *out)
{
#if defined(DEC_HAVE_SSE2)
    if (n - i >= 16) {
        __m128i x = fast_load16(b + i);
        unsigned end = fast_eq16(x, ',') | fast_eq16(x, '}');
        unsigned len = end ? (unsigned)__builtin_ctz(end) : 0;
        unsigned other = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_cmplt_epi8(x, _mm_set1_epi8('0')), _mm_cmpgt_epi8(x, _mm_set1_epi8('9'))));
        if (len == 0 || (other & ((1u << len) - 1)) || (len > 1 && b[i] == '0'))
            return 0;
        uint64_t w, w2, v;
        memcpy(&w, b + i, 8);
        if (len <= 8) {
            v = fast_digits_value(w, len);
        } else {
            memcpy(&w2, b + i + 8, 8);
            v = fast_digits_value(w, 8) * fast_pow10[len - 8] + fast_digits_value(w2, len - 8);
        }
        *out = (int64_t)v;
        return i + len;
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w, v = 0;
    if (n - i < 8) { /* at most 6 digits before the end of the input */
        size_t e = i;
        for (; e < n && b[e] >= '0' && b[e] <= '9'; e++)
            v = v * 10 + (uint64_t)(b[e] - '0');
        if (e == i || (e - i > 1 && b[i] == '0') || e >= n || (b[e] != ',' && b[e] != '}'))
            return 0;
        *out = (int64_t)v;
        return e;
    }
    memcpy(&w, b + i, 8);
    unsigned k = fast_digit_run(w);
    if (k == 0 || (k > 1 && b[i] == '0'))
        return 0;
    v = fast_digits_value(w, k);
    i += k;
    if (k == 8 && n - i >= 8) {
        memcpy(&w, b + i, 8);
        k = fast_digit_run(w);
        if (k == 8)
            return 0;
        if (k) {
            v = v * fast_pow10[k] + fast_digits_value(w, k);
            i += k;
        }
    } else if (k == 8) { /* fewer than 8 bytes left: fewer than 15 digits in all */
        for (; i < n && b[i] >= '0' && b[i] <= '9'; i++)
            v = v * 10 + (uint64_t)(b[i] - '0');
    }
    if (i >= n || (b[i] != ',' && b[i] != '}'))
        return 0;
    *out = (int64_t)v;
    return i;
#else
    (void)b, (void)i, (void)n, (void)out;
    return 0;
#endif
}

static inline __attribute__((always_inline)) size_t fast_bool(const unsigned char *b, size_t i,
                                                              size_t n, bool *out)
{
    if (n - i >= 4 && memcmp(b + i, "true", 4) == 0) {
        *out = true;
        return i + 4;
    }
    if (n - i >= 5 && memcmp(b + i, "false", 5) == 0) {
        *out = false;
        return i + 5;
    }
    return 0;
}

/* The key at b[*i] ("k": or "kk":, plain characters) as a key id, the cursor moved to its value;
 * K_UNKNOWN for any other key. */
static inline unsigned fast_key(const unsigned char *b, size_t *i, size_t n)
{
    size_t at = *i;
    if (n - at < 6 || b[at] != '"' || !fast_plain_byte(b[at + 1]))
        return K_UNKNOWN;
    if (b[at + 2] == '"') {
        if (b[at + 3] != ':')
            return K_UNKNOWN;
        *i = at + 4;
        return b[at + 1];
    }
    if (!fast_plain_byte(b[at + 2]) || b[at + 3] != '"' || b[at + 4] != ':')
        return K_UNKNOWN;
    *i = at + 5;
    return key_id((bf_str){ (const char *)b + at + 1, 2 });
}

/* Levels through the general reader (full validation), which must take them without a complaint. */
static size_t fast_levels(stream_decoder *d, size_t i, ev_levels *dst, int depth)
{
    jscan_seek(&d->js, i);
    if (jscan_read_levels(&d->js, &d->lv, dst, depth) < 0 || jscan_soft_code(&d->js) != 0)
        return 0;
    return jscan_pos(&d->js);
}

/* One value of field f at b[i] into e: the index after it, 0 when it does not fit. Inlined into
 * the per-field loops on purpose: a call per field costs more than most values. */
static inline __attribute__((always_inline)) size_t fast_value(stream_decoder *d, const fdesc *f,
                                                               ev *e, size_t i, int depth)
{
    size_t n;
    const unsigned char *b = jscan_input(&d->js, &n);
    char *dst = (char *)e + f->off;
    e->has |= f->has;
    switch (f->type) {
    case F_STR:
        return fast_str(b, i, n, (bf_str *)(void *)dst);
    case F_INT:
        return fast_int(b, i, n, (int64_t *)(void *)dst);
    case F_BOOL:
        return fast_bool(b, i, n, (bool *)dst);
    case F_LEVELS:
        return fast_levels(d, i, (ev_levels *)(void *)dst, depth);
    default: /* unknown to the kind, or a nested object: the general path */
        return 0;
    }
}

/* The keys of the order o as far as the message at b[i] follows it, each value read: the number
 * of keys followed, with *i after the last value; *i = 0 when a value does not fit. */
static inline size_t fast_follow(stream_decoder *d, const ftable *t, const fast_order *o, ev *e,
                                 size_t *i, int depth)
{
    size_t n, k = 0, at = *i;
    const unsigned char *b = jscan_input(&d->js, &n);
    for (; k < o->n && n - at >= 8; k++) {
        const fast_step *st = &o->step[k];
        uint64_t w;
        memcpy(&w, b + at, 8);
        if ((w & st->mask) != st->key)
            break;
        at = fast_value(d, &t->f[st->id], e, at + st->len, depth);
        if (at == 0)
            break;
    }
    *i = at;
    return k;
}

/* Note key id at b[at] (its ',' and quote) as step k of o, when it fits. */
static void fast_learn(fast_order *o, size_t k, const unsigned char *b, size_t at, size_t len,
                       unsigned id)
{
    if (k >= FAST_STEPS)
        return;
    fast_step *st = &o->step[k];
    st->key = 0;
    for (size_t j = 0; j < len; j++)
        st->key |= (uint64_t)b[at + j] << (8 * j);
    st->mask = (1ull << (8 * len)) - 1;
    st->len = (uint8_t)len;
    st->id = (uint8_t)id;
}

/* The fields after "e" of a message of table t at b[i] (',' or '}') at `depth`: the index after
 * its '}', 0 when the shape does not fit or a required field is missing. The keys usually come in
 * the order of the previous message of the kind (d->order): those are checked one word each; from
 * the first other key on, each key is read and looked up, a repeat being a miss (the general path
 * reports it; "e" counts as seen from the start), and the new order is learnt. */
static size_t fast_fields(stream_decoder *d, const ftable *t, ev *e, size_t i, int depth)
{
    size_t n;
    const unsigned char *b = jscan_input(&d->js, &n);
    fast_order *o = &d->order[t->kind];
    size_t k = fast_follow(d, t, o, e, &i, depth + 1);
    if (i == 0)
        return 0;
    if (k == o->n && k > 0 && i < n && b[i] == '}')
        return i + 1; /* the same keys as a message already taken: all required ones there */
    /* The order changes from step k on: it is no order until this message is taken whole, so that
     * a message that stops half-way leaves no mixture of two messages' keys behind. */
    o->n = 0;
    uint64_t ids[3] = { 0, 0, 0 }; /* key ids seen: K_IDS <= 192 */
    ids['e' >> 6] = 1ull << ('e' & 63);
    uint32_t seen = 0;
    for (size_t j = 0; j < k; j++) {
        unsigned id = o->step[j].id;
        ids[id >> 6] |= 1ull << (id & 63);
        seen |= 1u << t->f[id].bit;
    }
    for (; i < n && b[i] == ','; k++) {
        size_t at = i++;
        unsigned id = fast_key(b, &i, n);
        if (id >= K_IDS || (ids[id >> 6] & 1ull << (id & 63)))
            return 0;
        ids[id >> 6] |= 1ull << (id & 63);
        seen |= 1u << t->f[id].bit;
        fast_learn(o, k, b, at, i - at, id);
        if ((i = fast_value(d, &t->f[id], e, i, depth + 1)) == 0)
            return 0;
    }
    if (i >= n || b[i] != '}' || (seen & t->required) != t->required)
        return 0;
    o->n = (uint8_t)(k <= FAST_STEPS ? k : 0);
    return i + 1;
}

/* A bookTicker's number s, a slice of the input with 16 bytes readable, shaped like
 * [0-9]+(\.[0-9]+)? with at most 8 digits: true with its digits word (dec.h, the point squeezed
 * out) and its fraction digits. Only the point is looked for here (the lowest '.' of the first
 * word); a byte that is not a digit shows in the word, which dec_digits_value2() checks. */
static inline bool fast_num_word(bf_str s, const unsigned char *b, size_t n, uint64_t *w,
                                 uint8_t *d)
{
#if defined(DEC_HAVE_SSE2)
    if (n - (size_t)((const unsigned char *)s.p - b) < 16 || s.n - 1 >= 9u)
        return false;
    uint64_t lo, x;
    memcpy(&lo, s.p, 8);
    x = lo ^ 0x2E2E2E2E2E2E2E2Eull;
    x = (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
    unsigned k = x ? (unsigned)__builtin_ctzll(x) >> 3 : 8;
    if (k >= s.n)
        k = 8; /* no point in the string */
    else if (k == 0 || k == s.n - 1)
        return false;
    unsigned digits = s.n - (k != 8);
    if (digits > 8)
        return false;
    *w = dec_digits_word(s.p, digits, k);
    *d = (uint8_t)(k != 8 ? s.n - 1 - k : 0);
    return true;
#else
    (void)s, (void)b, (void)n, (void)w, (void)d;
    return false;
#endif
}

/* A bookTicker side's price and quantity pre-parsed while they are in cache (ev_num): both digits
 * words converted together when both are in the usual form (what the level reader does), else
 * each through jscan_preparse(). */
static inline __attribute__((always_inline)) void
fast_num_pair(ev_num *px, bf_str spx, ev_num *qty, bf_str sqty, const unsigned char *b, size_t n)
{
    uint64_t wp, wq, vp, vq;
    if (fast_num_word(spx, b, n, &wp, &px->d) && fast_num_word(sqty, b, n, &wq, &qty->d) &&
        dec_digits_value2(wp, wq, &vp, &vq)) {
        px->m = (int64_t)vp;
        qty->m = (int64_t)vq;
        px->pre = qty->pre = true;
        return;
    }
    px->pre = jscan_preparse(spx.p, spx.n, n - (size_t)((const unsigned char *)spx.p - b), &px->m,
                             &px->d);
    qty->pre = jscan_preparse(sqty.p, sqty.n, n - (size_t)((const unsigned char *)sqty.p - b),
                              &qty->m, &qty->d);
}

static void fast_bt_numbers(stream_decoder *d, ev_book_ticker *t)
{
    size_t n;
    const unsigned char *b = jscan_input(&d->js, &n);
    fast_num_pair(&t->bid_px_n, t->bid_px, &t->bid_qty_n, t->bid_qty, b, n);
    fast_num_pair(&t->ask_px_n, t->ask_px, &t->ask_qty_n, t->ask_qty, b, n);
}

/* What the general path's memset of the kind's size clears and a message taken by fast_fields()
 * may leave unwritten: the optional fields (every required one is written, or the message is not
 * taken; fast_bt_numbers() writes a bookTicker's numbers). The two commonest kinds field by field,
 * as a memset of their size is a slow `rep stos` here; the others whole. */
static inline void fast_clear(const ftable *t, ev *e)
{
    if (t == &t_bt) {
        e->u.bt.pair = (bf_str){ NULL, 0 };
        e->u.bt.E = e->u.bt.T = 0;
    } else if (t == &t_agg) {
        e->u.agg.nq = (bf_str){ NULL, 0 };
    } else {
        memset(&e->u, 0, t->usize);
    }
}

/* The kinds fast_fields() can read whole (the others have nested objects). */
static const ftable *fast_table(bf_str kind)
{
    /* The two commonest kinds first, compared inline. */
    if (kind.n == 10 && memcmp(kind.p, "bookTicker", 10) == 0)
        return &t_bt;
    if (kind.n == 8 && memcmp(kind.p, "aggTrade", 8) == 0)
        return &t_agg;
    const ftable *t = table_for_name(kind);
    return t == &t_kline || t == &t_force ? NULL : t;
}

/* {"e":"<kind>",...} at b[i] at `depth`: the index after it, 0 when it does not fit. */
static size_t fast_message(stream_decoder *d, ev *e, size_t i, int depth)
{
    size_t n;
    const unsigned char *b = jscan_input(&d->js, &n);
    if (n - i < 8 || memcmp(b + i, "{\"e\":", 5) != 0)
        return 0;
    bf_str kind;
    i = fast_str(b, i + 5, n, &kind);
    const ftable *t = i ? fast_table(kind) : NULL;
    if (!t)
        return 0;
    ev_clear(e);
    e->kind = t->kind;
    fast_clear(t, e);
    i = fast_fields(d, t, e, i, depth);
    if (i && t == &t_bt)
        fast_bt_numbers(d, &e->u.bt);
    else if (i && t == &t_depth)
        e->u.depth.partial = partial_stream(d->stream);
    return i;
}

/* The whole document in the fast shape: 0 with the message decoded, FAST_MISS otherwise. */
static int fast_doc(stream_decoder *d)
{
    size_t n;
    const unsigned char *b = jscan_input(&d->js, &n);
    static const char head[] = "{\"stream\":", mid[] = ",\"data\":";
    size_t i = 0;
    int depth = 1;
    bool wrapped = n > sizeof head && memcmp(b, head, sizeof head - 1) == 0;
    if (wrapped) {
        i = fast_str32(b, sizeof head - 1, n, &d->stream);
        if (!i || n - i < sizeof mid || memcmp(b + i, mid, sizeof mid - 1) != 0)
            return FAST_MISS;
        i += sizeof mid - 1;
        depth = 2;
    }
    i = fast_message(d, &d->events[0], i, depth);
    if (!i || (wrapped && (i >= n || b[i++] != '}')))
        return FAST_MISS;
    jscan_seek(&d->js, i);
    if (jscan_expect_end(&d->js) < 0)
        return FAST_MISS;
    d->nevents = 1;
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
    d->lv.v = xcalloc(nl, sizeof *d->lv.v);
    d->lv.cap = d->lim.max_levels;
    jscan_init(&d->js);
    d->mem = sizeof *d + ne * sizeof *d->events + nl * sizeof *d->lv.v;
    memacct_add(MEM_DECODER, (int64_t)d->mem);
    return d;
}

void stream_decoder_destroy(stream_decoder *d)
{
    if (!d)
        return;
    jscan_fini(&d->js);
    memacct_add(MEM_DECODER, -(int64_t)d->mem);
    free(d->lv.v);
    free(d->events);
    free(d);
}

int stream_decode(stream_decoder *d, const char *buf, size_t len, stream_msg *out)
{
    d->nevents = d->lv.n = 0;
    d->stream = (bf_str){ NULL, 0 };
    int rc = jscan_begin(&d->js, buf, len);
    if (rc == 0 && fast_doc(d) == FAST_MISS) {
        /* From the start again: forget what the fast path decoded and any error it met. */
        d->nevents = d->lv.n = 0;
        d->stream = (bf_str){ NULL, 0 };
        rc = jscan_begin(&d->js, buf, len);
        if (rc == 0)
            rc = decode_doc(d);
    }
    rc = jscan_result(&d->js, rc);
    if (rc < 0)
        return rc;
    *out = (stream_msg){
        .stream = d->stream, .nevents = d->nevents, .events = d->events, .levels = d->lv.v
    };
    return 0;
}

const char *stream_decoder_error(const stream_decoder *d)
{
    return jscan_error(&d->js);
}

size_t stream_decoder_mem_bytes(const stream_decoder *d)
{
    return d->mem + jscan_mem_bytes(&d->js);
}
