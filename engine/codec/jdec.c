/*
 * jdec: the jansson reference decoder. Owns the json_t of the last message (slices point into its
 * strings, so it lives until the next call) and growable events/levels arrays, bounded by the
 * limits. One thread per decoder.
 *
 * Deliberately written differently from stream.c (parse everything with json_loadb, then look each
 * field up by name from a list per kind) so that the differential test compares two independent
 * readings of the same rules.
 */
#include "codec/jdec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/xalloc.h"

#define DEFAULT_MAX_LEVELS 65536
#define DEFAULT_MAX_EVENTS 4096

enum { J_STR, J_INT, J_BOOL, J_LEVELS, J_KLINE, J_FORCE, J_INNER_ST };

typedef struct jfield {
    const char *key;
    uint8_t type;
    bool required;
    uint8_t has;  /* EV_HAS_* when present */
    uint16_t off; /* destination inside ev */
} jfield;

#define OFF(m) ((uint16_t)offsetof(ev, m))
#define REQ(k, t, m)                                                                               \
    {                                                                                              \
        k, t, true, 0, OFF(u.m)                                                                    \
    }
#define OPTS(k, m)                                                                                 \
    {                                                                                              \
        k, J_STR, false, 0, OFF(u.m)                                                               \
    }
#define OPTI(k, m, h)                                                                              \
    {                                                                                              \
        k, J_INT, false, h, OFF(u.m)                                                               \
    }
#define ST_FIELD                                                                                   \
    {                                                                                              \
        "st", J_INT, false, EV_HAS_ST, OFF(st)                                                     \
    }

static const jfield f_depth[] = { REQ("E", J_INT, depth.E),
                                  REQ("s", J_STR, depth.symbol),
                                  REQ("U", J_INT, depth.U),
                                  REQ("u", J_INT, depth.u),
                                  REQ("b", J_LEVELS, depth.bids),
                                  REQ("a", J_LEVELS, depth.asks),
                                  OPTI("pu", depth.pu, EV_HAS_PU),
                                  OPTI("T", depth.T, EV_HAS_T),
                                  OPTS("ps", depth.pair),
                                  ST_FIELD,
                                  { NULL, 0, 0, 0, 0 } };

static const jfield f_snapshot[] = { REQ("lastUpdateId", J_INT, snapshot.last_update_id),
                                     REQ("bids", J_LEVELS, snapshot.bids),
                                     REQ("asks", J_LEVELS, snapshot.asks),
                                     OPTI("E", snapshot.E, EV_HAS_E),
                                     OPTI("T", snapshot.T, EV_HAS_T),
                                     { NULL, 0, 0, 0, 0 } };

static const jfield f_bt[] = { REQ("u", J_INT, bt.u),      REQ("s", J_STR, bt.symbol),
                               REQ("b", J_STR, bt.bid_px), REQ("B", J_STR, bt.bid_qty),
                               REQ("a", J_STR, bt.ask_px), REQ("A", J_STR, bt.ask_qty),
                               OPTI("E", bt.E, EV_HAS_E),  OPTI("T", bt.T, EV_HAS_T),
                               OPTS("ps", bt.pair),        ST_FIELD,
                               { NULL, 0, 0, 0, 0 } };

static const jfield f_agg[] = { REQ("E", J_INT, agg.E),
                                REQ("s", J_STR, agg.symbol),
                                REQ("a", J_INT, agg.agg_id),
                                REQ("p", J_STR, agg.px),
                                REQ("q", J_STR, agg.qty),
                                REQ("f", J_INT, agg.first_id),
                                REQ("l", J_INT, agg.last_id),
                                REQ("T", J_INT, agg.T),
                                REQ("m", J_BOOL, agg.buyer_maker),
                                OPTS("nq", agg.nq),
                                ST_FIELD,
                                { NULL, 0, 0, 0, 0 } };

static const jfield f_trade[] = { REQ("E", J_INT, trade.E),
                                  REQ("T", J_INT, trade.T),
                                  REQ("s", J_STR, trade.symbol),
                                  REQ("t", J_INT, trade.trade_id),
                                  REQ("p", J_STR, trade.px),
                                  REQ("q", J_STR, trade.qty),
                                  REQ("m", J_BOOL, trade.buyer_maker),
                                  OPTS("X", trade.exec_type),
                                  { NULL, 0, 0, 0, 0 } };

static const jfield f_mark[] = {
    REQ("E", J_INT, mark.E),     REQ("s", J_STR, mark.symbol),  REQ("p", J_STR, mark.mark),
    REQ("i", J_STR, mark.index), REQ("r", J_STR, mark.funding), REQ("T", J_INT, mark.next_funding),
    OPTS("P", mark.settle),      OPTS("ap", mark.mark_avg),     ST_FIELD,
    { NULL, 0, 0, 0, 0 }
};

static const jfield f_kline[] = { REQ("E", J_INT, kline.E),
                                  REQ("s", J_STR, kline.symbol),
                                  { "k", J_KLINE, true, 0, 0 },
                                  ST_FIELD,
                                  { NULL, 0, 0, 0, 0 } };

static const jfield f_kline_k[] = {
    REQ("t", J_INT, kline.start),        REQ("T", J_INT, kline.close_time),
    REQ("i", J_STR, kline.interval),     REQ("f", J_INT, kline.first_id),
    REQ("L", J_INT, kline.last_id),      REQ("o", J_STR, kline.open),
    REQ("c", J_STR, kline.close),        REQ("h", J_STR, kline.high),
    REQ("l", J_STR, kline.low),          REQ("v", J_STR, kline.volume),
    REQ("n", J_INT, kline.trades),       REQ("x", J_BOOL, kline.closed),
    REQ("q", J_STR, kline.quote_volume), REQ("V", J_STR, kline.taker_base),
    REQ("Q", J_STR, kline.taker_quote),  { NULL, 0, 0, 0, 0 }
};

static const jfield f_force[] = {
    REQ("E", J_INT, force.E), { "o", J_FORCE, true, 0, 0 }, ST_FIELD, { NULL, 0, 0, 0, 0 }
};

static const jfield f_force_o[] = { REQ("s", J_STR, force.symbol),
                                    REQ("S", J_STR, force.side),
                                    REQ("o", J_STR, force.type),
                                    REQ("f", J_STR, force.tif),
                                    REQ("q", J_STR, force.qty),
                                    REQ("p", J_STR, force.px),
                                    REQ("ap", J_STR, force.avg_px),
                                    REQ("X", J_STR, force.status),
                                    REQ("l", J_STR, force.last_qty),
                                    REQ("z", J_STR, force.cum_qty),
                                    REQ("T", J_INT, force.T),
                                    { "st", J_INNER_ST, false, 0, 0 },
                                    { NULL, 0, 0, 0, 0 } };

typedef struct kind_def {
    const char *name; /* the "e" value; NULL for kinds recognised by their keys */
    ev_kind kind;
    const jfield *fields;
} kind_def;

static const kind_def kinds[] = {
    { "depthUpdate", EV_DEPTH, f_depth },         { "bookTicker", EV_BOOK_TICKER, f_bt },
    { "aggTrade", EV_AGG_TRADE, f_agg },          { "trade", EV_TRADE, f_trade },
    { "markPriceUpdate", EV_MARK_PRICE, f_mark }, { "kline", EV_KLINE, f_kline },
    { "forceOrder", EV_FORCE_ORDER, f_force },    { NULL, EV_SNAPSHOT, f_snapshot },
};

struct jdec {
    stream_limits lim;
    json_t *root;
    ev *events;
    size_t nevents, cap_events;
    ev_level *levels;
    size_t nlevels, cap_levels;
    bf_str stream;
    char err[256];
};

/* State of one object being read: the event and forceOrder's inner "st". */
typedef struct jmsg {
    ev *e;
    bool inner_seen;
    int64_t inner_st;
} jmsg;

static int fail(jdec *d, int code, const char *what, const char *key)
{
    snprintf(d->err, sizeof d->err, "%s%s%s%s", what, key ? " \"" : "", key ? key : "",
             key ? "\"" : "");
    return code;
}

static bf_str slice(const json_t *s)
{
    return (bf_str){ json_string_value(s), (uint32_t)json_string_length(s) };
}

static ev_level *next_level(jdec *d)
{
    if (d->nlevels == d->cap_levels) {
        d->cap_levels = d->cap_levels ? 2 * d->cap_levels : 256;
        if (d->cap_levels > d->lim.max_levels)
            d->cap_levels = d->lim.max_levels;
        d->levels = xreallocarray(d->levels, d->cap_levels, sizeof *d->levels);
    }
    return &d->levels[d->nlevels++];
}

static int read_levels(jdec *d, const json_t *arr, ev_levels *out, const char *key)
{
    if (!json_is_array(arr))
        return fail(d, BF_ETYPE, "levels must be an array:", key);
    out->first = (uint32_t)d->nlevels;
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        const json_t *lv = json_array_get(arr, i);
        const json_t *px = json_array_get(lv, 0), *qty = json_array_get(lv, 1);
        if (!json_is_array(lv) || json_array_size(lv) != 2 || !json_is_string(px) ||
            !json_is_string(qty))
            return fail(d, BF_ETYPE, "a level must be [\"price\",\"qty\"]:", key);
        if (d->nlevels >= d->lim.max_levels)
            return fail(d, BF_ETOOBIG, "more levels than max_levels:", key);
        ev_level_set(next_level(d), slice(px), slice(qty));
    }
    out->count = (uint32_t)(d->nlevels - out->first);
    return 0;
}

static int read_fields(jdec *d, const json_t *obj, const jfield *fs, jmsg *m);

static int read_nested(jdec *d, const json_t *v, const jfield *fs, jmsg *m, const char *key)
{
    if (!json_is_object(v))
        return fail(d, BF_ETYPE, "field must be an object:", key);
    return read_fields(d, v, fs, m);
}

static int read_int(jdec *d, const json_t *v, int64_t *dst, const char *key)
{
    if (!json_is_integer(v))
        return fail(d, BF_ETYPE, "field must be an integer:", key);
    *dst = json_integer_value(v);
    return 0;
}

static int read_field(jdec *d, const json_t *v, const jfield *f, jmsg *m)
{
    char *dst = (char *)m->e + f->off;
    switch (f->type) {
    case J_STR:
        if (!json_is_string(v))
            return fail(d, BF_ETYPE, "field must be a string:", f->key);
        *(bf_str *)(void *)dst = slice(v);
        return 0;
    case J_INT:
        return read_int(d, v, (int64_t *)(void *)dst, f->key);
    case J_BOOL:
        if (!json_is_boolean(v))
            return fail(d, BF_ETYPE, "field must be true or false:", f->key);
        *(bool *)dst = json_is_true(v);
        return 0;
    case J_LEVELS:
        return read_levels(d, v, (ev_levels *)(void *)dst, f->key);
    case J_KLINE:
        return read_nested(d, v, f_kline_k, m, f->key);
    case J_FORCE:
        return read_nested(d, v, f_force_o, m, f->key);
    default:
        m->inner_seen = true;
        return read_int(d, v, &m->inner_st, f->key);
    }
}

static int read_fields(jdec *d, const json_t *obj, const jfield *fs, jmsg *m)
{
    for (const jfield *f = fs; f->key; f++) {
        const json_t *v = json_object_get(obj, f->key);
        if (!v) {
            if (f->required)
                return fail(d, BF_EMISSING, "required field missing:", f->key);
            continue;
        }
        int rc = read_field(d, v, f, m);
        if (rc < 0)
            return rc;
        m->e->has |= f->has;
    }
    return 0;
}

/* The kind of a message object, by "e" or, without it, by its keys. */
static int classify(jdec *d, const json_t *obj, const kind_def **out)
{
    const json_t *e = json_object_get(obj, "e");
    *out = NULL;
    if (e) {
        if (!json_is_string(e))
            return fail(d, BF_ETYPE, "\"e\" must be a string", NULL);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (kinds[k].name && strlen(kinds[k].name) == json_string_length(e) &&
                memcmp(kinds[k].name, json_string_value(e), json_string_length(e)) == 0)
                *out = &kinds[k];
    } else if (json_object_get(obj, "lastUpdateId")) {
        *out = &kinds[sizeof kinds / sizeof kinds[0] - 1];
    } else {
        static const char *const bt_keys[] = { "u", "s", "b", "B", "a", "A" };
        bool all = true;
        for (size_t k = 0; k < 6; k++)
            all = all && json_object_get(obj, bt_keys[k]) != NULL;
        if (all)
            *out = &kinds[1];
    }
    return *out ? 0 : fail(d, BF_EUNSUPPORTED, "unsupported message type", NULL);
}

/* "@depth" directly followed by a digit anywhere in the stream name. */
static bool is_partial(bf_str s)
{
    if (!s.p)
        return false;
    for (const char *p = s.p, *end = s.p + s.n; (p = memmem(p, (size_t)(end - p), "@depth", 6));
         p += 6)
        if (p + 6 < end && p[6] >= '0' && p[6] <= '9')
            return true;
    return false;
}

static int read_message(jdec *d, const json_t *obj, ev *e, ev_kind want)
{
    const kind_def *k;
    memset(e, 0, sizeof *e);
    int rc = classify(d, obj, &k);
    if (rc < 0)
        return rc;
    if (want != EV_NONE && k->kind != want)
        return fail(d, BF_EUNSUPPORTED, "array elements must be markPriceUpdate", NULL);
    e->kind = k->kind;
    jmsg m = { .e = e };
    rc = read_fields(d, obj, k->fields, &m);
    if (rc < 0)
        return rc;
    if (e->kind == EV_FORCE_ORDER && m.inner_seen && !(e->has & EV_HAS_ST)) {
        e->st = m.inner_st;
        e->has |= EV_HAS_ST;
    }
    if (e->kind == EV_DEPTH)
        e->u.depth.partial = is_partial(d->stream);
    return 0;
}

static ev *next_event(jdec *d)
{
    if (d->nevents == d->cap_events) {
        d->cap_events = d->cap_events ? 2 * d->cap_events : 4;
        d->events = xreallocarray(d->events, d->cap_events, sizeof *d->events);
    }
    return &d->events[d->nevents++];
}

static int read_array(jdec *d, const json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        const json_t *el = json_array_get(arr, i);
        if (!json_is_object(el))
            return fail(d, BF_EUNSUPPORTED, "array elements must be markPriceUpdate objects", NULL);
        if (d->nevents >= d->lim.max_events)
            return fail(d, BF_ETOOBIG, "more events than max_events", NULL);
        int rc = read_message(d, el, next_event(d), EV_MARK_PRICE);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int read_payload(jdec *d, const json_t *v)
{
    if (json_is_array(v))
        return read_array(d, v);
    if (!json_is_object(v))
        return fail(d, BF_ETYPE, "\"data\" must be an object or an array", NULL);
    if (d->lim.max_events == 0)
        return fail(d, BF_ETOOBIG, "more events than max_events", NULL);
    return read_message(d, v, next_event(d), EV_NONE);
}

static int read_top(jdec *d, const json_t *root)
{
    if (json_is_array(root))
        return read_array(d, root);
    const json_t *stream = json_object_get(root, "stream");
    if (!stream) {
        if (d->lim.max_events == 0)
            return fail(d, BF_ETOOBIG, "more events than max_events", NULL);
        return read_message(d, root, next_event(d), EV_NONE);
    }
    if (!json_is_string(stream))
        return fail(d, BF_ETYPE, "\"stream\" must be a string", NULL);
    const json_t *data = json_object_get(root, "data");
    if (!data)
        return fail(d, BF_EMISSING, "wrapper has \"stream\" but no \"data\"", NULL);
    d->stream = slice(stream);
    return read_payload(d, data);
}

static int load_error(jdec *d, const json_error_t *je)
{
    int code;
    switch (json_error_code(je)) {
    case json_error_stack_overflow:
        code = BF_EDEPTH;
        break;
    case json_error_duplicate_key:
        code = BF_EDUP;
        break;
    case json_error_numeric_overflow:
        code = BF_ERANGE;
        break;
    case json_error_premature_end_of_input:
        code = BF_ETRUNC;
        break;
    default:
        code = BF_ESYNTAX;
        break;
    }
    snprintf(d->err, sizeof d->err, "%s at byte %d", je->text, je->position);
    return code;
}

jdec *jdec_create(const stream_limits *lim)
{
    jdec *d = xcalloc(1, sizeof *d);
    d->lim.max_levels = lim ? lim->max_levels : DEFAULT_MAX_LEVELS;
    d->lim.max_events = lim ? lim->max_events : DEFAULT_MAX_EVENTS;
    return d;
}

void jdec_destroy(jdec *d)
{
    if (!d)
        return;
    json_decref(d->root);
    free(d->events);
    free(d->levels);
    free(d);
}

int jdec_decode(jdec *d, const char *buf, size_t len, stream_msg *out)
{
    json_decref(d->root);
    d->root = NULL;
    d->nevents = d->nlevels = 0;
    d->stream = (bf_str){ NULL, 0 };
    d->err[0] = '\0';
    if (len > UINT32_MAX)
        return fail(d, BF_ETOOBIG, "message longer than 4 GiB", NULL);
    /* jansson drops a NUL byte that directly follows a number or a literal ("[1\0]" loads); every
     * NUL is malformed input here, as in stream.c. */
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        snprintf(d->err, sizeof d->err, "NUL byte at byte %zu", (size_t)(nul - buf));
        return BF_ESYNTAX;
    }
    json_error_t je;
    d->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!d->root)
        return load_error(d, &je);
    int rc = read_top(d, d->root);
    if (rc < 0)
        return rc;
    *out = (stream_msg){
        .stream = d->stream, .nevents = d->nevents, .events = d->events, .levels = d->levels
    };
    return 0;
}

const char *jdec_error(const jdec *d)
{
    return d->err;
}
