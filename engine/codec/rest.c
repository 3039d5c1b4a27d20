/*
 * rest: exchangeInfo and error bodies through jansson (see rest.h for the contract).
 *
 * Owns nothing beyond one call: the jansson tree lives only inside each function. Pure functions of
 * their arguments (jansson's default allocator is thread-safe), so any thread may call them.
 *
 * exchangeInfo policy:
 *  - The body must be a JSON object with a "symbols" array; otherwise the call fails with a
 * sentence in `why` and leaves the symtab untouched.
 *  - A symbol is kept only with a "symbol" name, a PRICE_FILTER.tickSize and a LOT_SIZE.stepSize
 * that dec_scale_from_tick accepts (positive, well formed). A malformed optional field (pair,
 * status, contractType, *Precision of the wrong type or too long) also skips the symbol: a
 * half-read entry is worse than none. Absent optional strings become "", absent precisions -1.
 *  - Rate limits are normalised to one minute with integer arithmetic rounded down (at least 1 when
 *    the limit is positive); when a type is listed more than once (ORDERS 1200/min and 300/10 s)
 * the smallest per-minute figure is kept. Malformed rateLimits entries are ignored.
 */
#include "codec/rest.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

/* Parse a whole body; premature end of input is BF_ETRUNC so callers can tell a cut body apart. */
static json_t *load_body(const char *body, size_t len, const char *what, int *rc, char *why,
                         size_t why_cap)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (root)
        return root;
    bool cut = json_error_code(&jerr) == json_error_premature_end_of_input;
    *rc = cut ? BF_ETRUNC : BF_ESYNTAX;
    bf_why(why, why_cap, 0, "%s: %s JSON at byte %d: %s", what, cut ? "truncated" : "invalid",
           jerr.position, jerr.text);
    return NULL;
}

/* Copy a string member into dst (NUL-terminated). Absent -> "" (or BF_EMISSING when required). */
static int copy_str(const json_t *obj, const char *key, char *dst, size_t cap, bool required)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!v)
        return required ? BF_EMISSING : 0;
    if (!json_is_string(v))
        return BF_ETYPE;
    size_t n = json_string_length(v);
    if (n >= cap)
        return BF_EOVERLONG;
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return 0;
}

/* An int member; absent -> -1. */
static int get_int(const json_t *obj, const char *key, int *dst)
{
    const json_t *v = json_object_get(obj, key);
    *dst = -1;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return BF_ETYPE;
    json_int_t x = json_integer_value(v);
    if (x < INT_MIN || x > INT_MAX)
        return BF_ERANGE;
    *dst = (int)x;
    return 0;
}

static const json_t *find_filter(const json_t *filters, const char *type)
{
    size_t i;
    const json_t *f;
    json_array_foreach(filters, i, f)
    {
        const char *ft = json_string_value(json_object_get(f, "filterType"));
        if (ft && strcmp(ft, type) == 0)
            return f;
    }
    return NULL;
}

/* filters[type][key] as written plus its scale. */
static int filter_scale(const json_t *filters, const char *type, const char *key, char *text,
                        size_t text_cap, dec_scale *sc)
{
    const json_t *f = find_filter(filters, type);
    if (!f)
        return BF_EMISSING;
    int rc = copy_str(f, key, text, text_cap, true);
    if (rc < 0)
        return rc;
    return dec_scale_from_tick(text, strlen(text), sc);
}

static int parse_symbol(const json_t *js, sym_info *si)
{
    if (!json_is_object(js))
        return BF_ETYPE;
    int rc;
    memset(si, 0, sizeof *si);
    if ((rc = copy_str(js, "symbol", si->name, sizeof si->name, true)) < 0 ||
        (rc = copy_str(js, "pair", si->pair, sizeof si->pair, false)) < 0 ||
        (rc = copy_str(js, "status", si->status, sizeof si->status, false)) < 0 ||
        (rc = copy_str(js, "contractType", si->contract_type, sizeof si->contract_type, false)) <
            0 ||
        (rc = get_int(js, "pricePrecision", &si->price_precision)) < 0 ||
        (rc = get_int(js, "quantityPrecision", &si->quantity_precision)) < 0)
        return rc;
    if (si->name[0] == '\0')
        return BF_EMISSING;
    const json_t *filters = json_object_get(js, "filters");
    if (!json_is_array(filters))
        return filters ? BF_ETYPE : BF_EMISSING;
    rc = filter_scale(filters, "PRICE_FILTER", "tickSize", si->tick_size, sizeof si->tick_size,
                      &si->px);
    if (rc < 0)
        return rc;
    return filter_scale(filters, "LOT_SIZE", "stepSize", si->step_size, sizeof si->step_size,
                        &si->qty);
}

/* Minutes per interval unit, as a fraction num/den (SECOND = 1/60 minute). */
static bool interval_minutes(const char *interval, int64_t *num, int64_t *den)
{
    static const struct {
        const char *name;
        int64_t num, den;
    } units[] = { { "SECOND", 1, 60 }, { "MINUTE", 1, 1 }, { "HOUR", 60, 1 }, { "DAY", 1440, 1 } };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(interval, units[i].name) == 0) {
            *num = units[i].num;
            *den = units[i].den;
            return true;
        }
    }
    return false;
}

/* limit per (intervalNum x interval) -> per minute, or -1 for an entry we cannot read. */
static int64_t per_minute(const json_t *rl)
{
    const char *interval = json_string_value(json_object_get(rl, "interval"));
    const json_t *jn = json_object_get(rl, "intervalNum"), *jl = json_object_get(rl, "limit");
    int64_t num, den;
    if (!interval || !json_is_integer(jn) || !json_is_integer(jl) ||
        !interval_minutes(interval, &num, &den))
        return -1;
    json_int_t count = json_integer_value(jn), limit = json_integer_value(jl);
    /* Bounds keep limit * den and count * num far from int64 overflow. */
    if (count < 1 || count > 1000000 || limit < 0 || limit > INT_MAX)
        return -1;
    int64_t r = (int64_t)limit * den / ((int64_t)count * num);
    if (r == 0 && limit > 0)
        r = 1;
    return r > INT_MAX ? INT_MAX : r;
}

static void keep_min(int *slot, int64_t v)
{
    if (v >= 0 && (*slot == 0 || v < *slot))
        *slot = (int)v;
}

static void parse_rate_limits(const json_t *root, rest_rate_limits *lim)
{
    lim->request_weight_per_minute = 0;
    lim->orders_per_minute = 0;
    size_t i;
    const json_t *rl;
    json_array_foreach(json_object_get(root, "rateLimits"), i, rl)
    {
        const char *type = json_string_value(json_object_get(rl, "rateLimitType"));
        if (!type)
            continue;
        if (strcmp(type, "REQUEST_WEIGHT") == 0)
            keep_min(&lim->request_weight_per_minute, per_minute(rl));
        else if (strcmp(type, "ORDERS") == 0)
            keep_min(&lim->orders_per_minute, per_minute(rl));
    }
}

static const json_t *symbols_array(const json_t *root, int *rc, char *why, size_t why_cap)
{
    if (!json_is_object(root)) {
        *rc = BF_ETYPE;
        bf_why(why, why_cap, 0, "exchangeInfo: body is not a JSON object");
        return NULL;
    }
    const json_t *syms = json_object_get(root, "symbols");
    if (!json_is_array(syms)) {
        *rc = syms ? BF_ETYPE : BF_EMISSING;
        bf_why(why, why_cap, 0, "exchangeInfo: \"symbols\" is %s",
               syms ? "not an array" : "missing");
        return NULL;
    }
    return syms;
}

int rest_parse_exchange_info(const char *body, size_t len, symtab *t, rest_rate_limits *lim,
                             size_t *skipped, char *why, size_t why_cap)
{
    int rc = 0;
    bf_why(why, why_cap, 0, "ok");
    json_t *root = load_body(body, len, "exchangeInfo", &rc, why, why_cap);
    if (!root)
        return rc;
    const json_t *syms = symbols_array(root, &rc, why, why_cap);
    if (syms) {
        size_t i, bad = 0;
        const json_t *js;
        sym_info si;
        json_array_foreach(syms, i, js)
        {
            if (parse_symbol(js, &si) < 0)
                bad++;
            else
                symtab_put(t, &si);
        }
        if (lim)
            parse_rate_limits(root, lim);
        if (skipped)
            *skipped = bad;
    }
    json_decref(root);
    return rc;
}

/* Copy at most cap-1 bytes, backing off so a multi-byte UTF-8 character is never cut in half. */
static void copy_truncated(char *dst, size_t cap, const char *src, size_t n)
{
    if (cap == 0)
        return;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int rest_parse_error(const char *body, size_t len, int *code, char *msg_buf, size_t msg_cap)
{
    int rc = 0;
    json_t *root = load_body(body, len, "error body", &rc, NULL, 0);
    if (!root)
        return rc;
    /* The WS API nests the same pair: {"error":{"code":..,"msg":..},"id":..}. */
    const json_t *obj = root, *nested = json_object_get(root, "error");
    if (json_is_object(nested))
        obj = nested;
    const json_t *jc = json_object_get(obj, "code"), *jm = json_object_get(obj, "msg");
    if (!json_is_object(obj))
        rc = BF_ETYPE;
    else if (!jc)
        rc = BF_EMISSING;
    else if (!json_is_integer(jc) || (jm && !json_is_string(jm)))
        rc = BF_ETYPE;
    else if (json_integer_value(jc) < INT_MIN || json_integer_value(jc) > INT_MAX)
        rc = BF_ERANGE;
    if (rc == 0) {
        *code = (int)json_integer_value(jc);
        copy_truncated(msg_buf, msg_cap, jm ? json_string_value(jm) : "",
                       jm ? json_string_length(jm) : 0);
    }
    json_decref(root);
    return rc;
}
