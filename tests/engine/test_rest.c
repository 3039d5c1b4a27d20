/*
 * Tests for rest (exchangeInfo and error bodies) and for the symtab it fills.
 *
 * The real 2021 exchangeInfo capture is parsed whole, then damaged in controlled ways; error bodies
 * come from the shapes quoted in misc/errors_observed.txt plus synthetic edge cases.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rest.h"
#include "market/symtab.h"
#include "testutil.h"
#include "util/err.h"

#define EXCHANGE_INFO "cryptofeed_usdm_20210722/derived_rest_exchangeInfo.json"

static char *read_fixture(const char *rel, size_t *len)
{
    char *path = tu_fixture(rel);
    char *buf = tu_read_file(path, len);
    cr_assert(buf, "cannot read %s", path);
    free(path);
    return buf;
}

static const sym_info *find(const symtab *t, const char *name)
{
    return symtab_find(t, name, strlen(name));
}

typedef struct {
    int rc;
    size_t skipped;
    rest_rate_limits lim;
    char why[256];
} parse_result;

static parse_result parse_into(symtab *t, const char *body, size_t len)
{
    parse_result r = { .skipped = 999, .lim = { -1, -1 } };
    r.rc = rest_parse_exchange_info(body, len, t, &r.lim, &r.skipped, r.why, sizeof r.why);
    return r;
}

/* ---- the real exchangeInfo ---------------------------------------------------------------------
 */

static void expect_scales(const symtab *t, const char *name, const char *tick, int64_t px_unit,
                          unsigned px_dec, const char *step, int64_t qty_unit, unsigned qty_dec)
{
    const sym_info *s = find(t, name);
    cr_assert(s, "%s missing", name);
    cr_expect_str_eq(s->tick_size, tick, "%s tick", name);
    cr_expect_str_eq(s->step_size, step, "%s step", name);
    cr_expect_eq(s->px.unit, px_unit, "%s px unit %lld", name, (long long)s->px.unit);
    cr_expect_eq(s->px.decimals, px_dec, "%s px decimals %u", name, s->px.decimals);
    cr_expect_eq(s->qty.unit, qty_unit, "%s qty unit", name);
    cr_expect_eq(s->qty.decimals, qty_dec, "%s qty decimals", name);
}

Test(rest_fixtures, exchange_info_2021_capture)
{
    size_t len;
    char *body = read_fixture(EXCHANGE_INFO, &len);
    symtab *t = symtab_create();
    parse_result r = parse_into(t, body, len);
    cr_assert_eq(r.rc, 0, "%s", r.why);
    cr_expect_eq(symtab_count(t), 122);
    cr_expect_eq(r.skipped, 0);
    cr_expect_eq(r.lim.request_weight_per_minute, 2400);
    /* ORDERS: 1200/min and 300 per 10 s (= 1800/min): the tighter per-minute figure is kept. */
    cr_expect_eq(r.lim.orders_per_minute, 1200);

    const sym_info *btc = find(t, "BTCUSDT");
    cr_assert(btc);
    cr_expect_str_eq(btc->pair, "BTCUSDT");
    cr_expect_str_eq(btc->status, "TRADING");
    cr_expect_str_eq(btc->contract_type, "PERPETUAL");
    cr_expect_eq(btc->price_precision, 2);
    cr_expect_eq(btc->quantity_precision, 3);
    expect_scales(t, "BTCUSDT", "0.01", 1, 2, "0.001", 1, 3);
    expect_scales(t, "SUSHIUSDT", "0.0010", 10, 4, "1", 1, 0);
    expect_scales(t, "AKROUSDT", "0.00001", 1, 5, "1", 1, 0);
    expect_scales(t, "KEEPUSDT", "0.0001", 1, 4, "1", 1, 0);
    expect_scales(t, "CTKUSDT", "0.00100", 100, 5, "1", 1, 0);
    expect_scales(t, "BNBUSDT", "0.010", 10, 3, "0.01", 1, 2);
    free(body);
    symtab_destroy(t);
}

Test(rest_fixtures, tick_wins_over_price_precision)
{
    size_t len;
    char *body = read_fixture(EXCHANGE_INFO, &len);
    symtab *t = symtab_create();
    cr_assert_eq(parse_into(t, body, len).rc, 0);
    /* YFIUSDT: pricePrecision 1, but tickSize "1": prices are whole numbers. */
    const sym_info *yfi = find(t, "YFIUSDT");
    cr_assert(yfi);
    cr_expect_eq(yfi->price_precision, 1);
    cr_expect_eq(yfi->px.unit, 1);
    cr_expect_eq(yfi->px.decimals, 0);
    /* The protocol notes count 29 symbols whose tick is coarser than 10^-pricePrecision. */
    size_t coarser = 0;
    for (size_t i = 0; i < symtab_count(t); i++) {
        const sym_info *s = symtab_at(t, i);
        int64_t tick_at_precision = s->px.unit; /* tick in units of 10^-pricePrecision */
        for (int d = s->px.decimals; d < s->price_precision; d++)
            tick_at_precision *= 10;
        for (int d = s->price_precision; d < s->px.decimals; d++)
            tick_at_precision = tick_at_precision % 10 ? 0 : tick_at_precision / 10;
        coarser += tick_at_precision > 1;
    }
    cr_expect_eq(coarser, 29);
    /* The odd ones are kept as written. */
    const sym_info *btcst = find(t, "BTCSTUSDT");
    cr_assert(btcst);
    cr_expect_str_eq(btcst->status, "PENDING_TRADING");
    cr_expect_str_eq(btcst->contract_type, "");
    const sym_info *q = find(t, "BTCUSDT_210924");
    cr_assert(q);
    cr_expect_str_eq(q->contract_type, "CURRENT_QUARTER");
    cr_expect_str_eq(q->pair, "BTCUSDT");
    free(body);
    symtab_destroy(t);
}

Test(rest_fixtures, truncated_bodies_fail_and_leave_table_untouched)
{
    size_t len;
    char *body = read_fixture(EXCHANGE_INFO, &len);
    const size_t cuts[] = { 0, 1, 2, 100, 4096, len / 2, len - 2, len - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        symtab *t = symtab_create();
        parse_result r = parse_into(t, body, cuts[i]);
        cr_expect(r.rc == BF_ETRUNC || (cuts[i] == 0 && r.rc == BF_ESYNTAX),
                  "cut at %zu: rc %d (%s)", cuts[i], r.rc, r.why);
        cr_expect_eq(symtab_count(t), 0, "cut at %zu filled the table", cuts[i]);
        cr_expect(strstr(r.why, "exchangeInfo") && strlen(r.why) > 20, "why: %s", r.why);
        symtab_destroy(t);
    }
    free(body);
}

/* The fixture with one substring replaced (first occurrence after `anchor`). */
static char *splice(const char *body, const char *anchor, const char *from, const char *to)
{
    const char *a = strstr(body, anchor);
    cr_assert(a, "%s not found", anchor);
    const char *at = strstr(a, from);
    cr_assert(at);
    size_t head = (size_t)(at - body), flen = strlen(from), tlen = strlen(to);
    size_t tail = strlen(at + flen);
    char *out = malloc(head + tlen + tail + 1);
    memcpy(out, body, head);
    memcpy(out + head, to, tlen);
    memcpy(out + head + tlen, at + flen, tail + 1);
    return out;
}

Test(rest_fixtures, malformed_tick_skips_only_that_symbol)
{
    size_t len;
    char *body = read_fixture(EXCHANGE_INFO, &len);
    char *bad =
        splice(body, "\"symbol\":\"SUSHIUSDT\"", "\"tickSize\":\"0.0010\"", "\"tickSize\":\"abc\"");
    symtab *t = symtab_create();
    parse_result r = parse_into(t, bad, strlen(bad));
    cr_assert_eq(r.rc, 0, "%s", r.why);
    cr_expect_eq(r.skipped, 1);
    cr_expect_eq(symtab_count(t), 121);
    cr_expect_null(find(t, "SUSHIUSDT"));
    cr_expect_not_null(find(t, "AKROUSDT"));
    free(bad);
    free(body);
    symtab_destroy(t);
}

/* ---- synthetic exchangeInfo bodies -------------------------------------------------------------
 */

static parse_result parse_str(symtab *t, const char *body)
{
    return parse_into(t, body, strlen(body));
}

Test(rest, rejects_bodies_without_a_symbols_array)
{
    const struct {
        const char *body;
        int want;
    } cases[] = {
        { "[1,2]", BF_ETYPE },
        { "{}", BF_EMISSING },
        { "{\"symbols\":{}}", BF_ETYPE },
        { "{\"symbols\":\"BTCUSDT\"}", BF_ETYPE },
        { "{\"symbols\":null}", BF_ETYPE },
        { "not json", BF_ESYNTAX },
        { "{\"symbols\":[]}}", BF_ESYNTAX }, /* trailing garbage */
        { "{\"symbols\":[", BF_ETRUNC },
        { "{'symbols':[]}", BF_ESYNTAX },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        symtab *t = symtab_create();
        parse_result r = parse_str(t, cases[i].body);
        cr_expect_eq(r.rc, cases[i].want, "%s: rc %d, why: %s", cases[i].body, r.rc, r.why);
        cr_expect_gt(strlen(r.why), 20, "%s: no readable reason (%s)", cases[i].body, r.why);
        symtab_destroy(t);
    }
}

#define FILTERS(tick, step)                                                                        \
    "\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"1\",\"tickSize\":" tick "},"     \
    "{\"filterType\":\"LOT_SIZE\",\"stepSize\":" step "}]"

Test(rest, skips_and_counts_malformed_symbols)
{
    const char *body =
        "{\"futuresType\":\"U_MARGINED\",\"newField\":{\"x\":[1,2]},\"symbols\":["
        "{\"symbol\":\"GOODUSDT\",\"pair\":\"GOODUSDT\",\"status\":\"TRADING\",\"extra\":[{}],"
        "\"contractType\":\"PERPETUAL\",\"pricePrecision\":5,\"quantityPrecision\":0," FILTERS(
            "\"0.00010\"",
            "\"1\"") "},"
                     "{\"symbol\":\"ABCUSDT\"," FILTERS(
                         "\"abc\"",
                         "\"1\"") "},"
                                  "{\"symbol\":\"ZEROUSDT\"," FILTERS(
                                      "\"0.000\"",
                                      "\"1\"") "},"
                                               "{\"symbol\":\"NUMUSDT\"," FILTERS(
                                                   "0.01",
                                                   "\"1\"") "},"
                                                            "{\"symbol\":\"NEGUSDT\"," FILTERS(
                                                                "\"0.01\"",
                                                                "\"-1\"") "},"
                                                                          "{\"symbol\":"
                                                                          "\"NOLOTUSDT\","
                                                                          "\"filters\":[{"
                                                                          "\"filterType\":\"PRICE_"
                                                                          "FILTER\",\"tickSize\":"
                                                                          "\"0.01\"}]},"
                                                                          "{\"symbol\":"
                                                                          "\"NOFILTERS\"},"
                                                                          "{\"symbol\":"
                                                                          "\"FILTERSOBJ\","
                                                                          "\"filters\":{}},"
                                                                          "{\"symbol\":\"PRECSTR\","
                                                                          "\"pricePrecision\":"
                                                                          "\"2\"," FILTERS(
                                                                              "\"0.01\"",
                                                                              "\"1\"") "},"
                                                                                       "{\"symbol\""
                                                                                       ":\"THIS_"
                                                                                       "NAME_IS_"
                                                                                       "FAR_TOO_"
                                                                                       "LONG_FOR_A_"
                                                                                       "SYMBOL\""
                                                                                       "," FILTERS(
                                                                                           "\"0."
                                                                                           "01\"",
                                                                                           "\"1\"") "},"
                                                                                                    "{\"pair\":\"NONAME\"," FILTERS(
                                                                                                        "\"0.01\"",
                                                                                                        "\"1\"") "},"
                                                                                                                 "{\"symbol\":\"\"," FILTERS(
                                                                                                                     "\"0.01\"",
                                                                                                                     "\"1\"") "},"
                                                                                                                              "42,null,[],"
                                                                                                                              "{\"symbol\":\"MINIMAL\"," FILTERS(
                                                                                                                                  "\"0.5\"",
                                                                                                                                  "\"10\"") "}"
                                                                                                                                            "]}";
    symtab *t = symtab_create();
    parse_result r = parse_str(t, body);
    cr_assert_eq(r.rc, 0, "%s", r.why);
    cr_expect_eq(symtab_count(t), 2);
    cr_expect_eq(r.skipped, 14);
    cr_expect_eq(r.lim.request_weight_per_minute, 0); /* absent */
    cr_expect_eq(r.lim.orders_per_minute, 0);
    const sym_info *g = find(t, "GOODUSDT");
    cr_assert(g);
    cr_expect_eq(g->px.unit, 10);
    cr_expect_eq(g->px.decimals, 5);
    cr_expect_eq(g->price_precision, 5);
    const sym_info *m = find(t, "MINIMAL");
    cr_assert(m);
    cr_expect_str_eq(m->pair, "");
    cr_expect_eq(m->price_precision, -1); /* absent */
    cr_expect_eq(m->px.unit, 5);
    cr_expect_eq(m->qty.unit, 10);
    cr_expect_eq(m->qty.decimals, 0);
    cr_expect_null(find(t, "ABCUSDT"));
    symtab_destroy(t);
}

Test(rest, later_duplicate_replaces_earlier)
{
    const char *body = "{\"symbols\":["
                       "{\"symbol\":\"X\",\"status\":\"TRADING\"," FILTERS(
                           "\"0.1\"", "\"1\"") "},"
                                               "{\"symbol\":\"X\",\"status\":\"SETTLING\"," FILTERS(
                                                   "\"0.01\"", "\"1\"") "}"
                                                                        "]}";
    symtab *t = symtab_create();
    parse_result r = parse_str(t, body);
    cr_assert_eq(r.rc, 0);
    cr_expect_eq(symtab_count(t), 1);
    cr_expect_str_eq(find(t, "X")->status, "SETTLING");
    cr_expect_eq(find(t, "X")->px.decimals, 2);
    symtab_destroy(t);
}

static rest_rate_limits limits_of(const char *rate_limits)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"rateLimits\":%s,\"symbols\":[]}", rate_limits);
    symtab *t = symtab_create();
    parse_result r = parse_str(t, body);
    cr_assert_eq(r.rc, 0, "%s", r.why);
    symtab_destroy(t);
    return r.lim;
}

#define RL(type, interval, num, limit)                                                             \
    "{\"rateLimitType\":\"" type "\",\"interval\":\"" interval "\",\"intervalNum\":" #num          \
    ",\"limit\":" #limit "}"

Test(rest, rate_limits_are_normalised_to_one_minute)
{
    rest_rate_limits l = limits_of("[" RL("REQUEST_WEIGHT", "SECOND", 10, 300) "]");
    cr_expect_eq(l.request_weight_per_minute, 1800);
    l = limits_of(
        "[" RL("REQUEST_WEIGHT", "MINUTE", 5, 6000) "," RL("ORDERS", "HOUR", 1, 6000) "]");
    cr_expect_eq(l.request_weight_per_minute, 1200);
    cr_expect_eq(l.orders_per_minute, 100);
    l = limits_of("[" RL("ORDERS", "DAY", 1, 200000) "]");
    cr_expect_eq(l.orders_per_minute, 138); /* 138.9 rounded down */
    l = limits_of("[" RL("ORDERS", "DAY", 1, 10) "]");
    cr_expect_eq(l.orders_per_minute, 1); /* a positive limit never reads as "absent" */
    l = limits_of("[" RL("REQUEST_WEIGHT", "SECOND", 1, 2147483647) "]");
    cr_expect_eq(l.request_weight_per_minute, 2147483647); /* clamped, not wrapped */
    /* Unknown interval, bad intervalNum, wrong types, unknown type: ignored. */
    l = limits_of(
        "[" RL("REQUEST_WEIGHT", "WEEK", 1, 5) "," RL("REQUEST_WEIGHT", "MINUTE", 0, 5) "," RL(
            "REQUEST_WEIGHT", "MINUTE", 1,
            "5") "," RL("RAW_REQUESTS", "MINUTE", 1, 5) ",42,{}," RL("REQUEST_WEIGHT", "MINUTE", 1,
                                                                     2400) "]");
    cr_expect_eq(l.request_weight_per_minute, 2400);
    cr_expect_eq(l.orders_per_minute, 0);
    l = limits_of("{}");
    cr_expect_eq(l.request_weight_per_minute, 0);

    /* lim and skipped may be NULL. */
    symtab *t = symtab_create();
    cr_expect_eq(rest_parse_exchange_info("{\"symbols\":[]}", 14, t, NULL, NULL, NULL, 0), 0);
    symtab_destroy(t);
}

/* ---- error bodies ------------------------------------------------------------------------------
 */

Test(rest, error_body_flat_and_nested)
{
    int code = 0;
    char msg[256];
    const char *flat = "{\"code\":-1003,\"msg\":\"Way too many requests; IP(194.127.199.97) banned "
                       "until 1746327239762. Please use the websocket for live updates to avoid "
                       "bans.\"}";
    cr_assert_eq(rest_parse_error(flat, strlen(flat), &code, msg, sizeof msg), 0);
    cr_expect_eq(code, -1003);
    cr_expect(strncmp(msg, "Way too many requests; IP(194.127.199.97)", 41) == 0, "%s", msg);
    cr_expect(strstr(msg, "to avoid bans.") != NULL);

    const char *ws = "{\"error\":{\"code\":4,\"msg\":\"Too many subscriptions\"},\"id\":19}";
    cr_assert_eq(rest_parse_error(ws, strlen(ws), &code, msg, sizeof msg), 0);
    cr_expect_eq(code, 4);
    cr_expect_str_eq(msg, "Too many subscriptions");

    const char *nomsg = "{\"code\":-1121}";
    cr_assert_eq(rest_parse_error(nomsg, strlen(nomsg), &code, msg, sizeof msg), 0);
    cr_expect_eq(code, -1121);
    cr_expect_str_eq(msg, "");
}

Test(rest, error_msg_is_truncated_safely)
{
    int code = 0;
    char msg[10];
    memset(msg, '#', sizeof msg);
    const char *body = "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}";
    cr_assert_eq(rest_parse_error(body, strlen(body), &code, msg, 8), 0);
    cr_expect_str_eq(msg, "Invalid");
    cr_expect_eq(msg[8], '#', "wrote past msg_cap");
    /* Never split a UTF-8 character: "ab" + U+00E9 (2 bytes) with room for 3 bytes -> "ab". */
    const char *utf = "{\"code\":1,\"msg\":\"ab\\u00e9cd\"}";
    cr_assert_eq(rest_parse_error(utf, strlen(utf), &code, msg, 4), 0);
    cr_expect_str_eq(msg, "ab");
    cr_assert_eq(rest_parse_error(utf, strlen(utf), &code, msg, 5), 0);
    cr_expect_str_eq(msg, "ab\xc3\xa9");
    /* msg_cap 0: only the code. */
    code = 0;
    cr_assert_eq(rest_parse_error(body, strlen(body), &code, NULL, 0), 0);
    cr_expect_eq(code, -1121);
}

Test(rest, error_body_rejections)
{
    const struct {
        const char *body;
        int want;
    } cases[] = {
        { "{'code':-1003,'msg':'Way too many requests'}", BF_ESYNTAX }, /* Python dict repr */
        { "{\"code\":-1003,\"msg\":\"Way too many", BF_ETRUNC },
        { "{\"code\":-1003,", BF_ETRUNC },
        { "", BF_ETRUNC },
        { "<html>429</html>", BF_ESYNTAX },
        { "[-1003]", BF_ETYPE },
        { "{\"msg\":\"no code\"}", BF_EMISSING },
        { "{\"error\":{\"msg\":\"no code\"},\"id\":1}", BF_EMISSING },
        { "{\"code\":\"-1003\",\"msg\":\"x\"}", BF_ETYPE },
        { "{\"code\":-1003.5,\"msg\":\"x\"}", BF_ETYPE },
        { "{\"code\":-1003,\"msg\":42}", BF_ETYPE },
        { "{\"code\":99999999999,\"msg\":\"x\"}", BF_ERANGE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = 777;
        char msg[32] = "untouched";
        int rc = rest_parse_error(cases[i].body, strlen(cases[i].body), &code, msg, sizeof msg);
        cr_expect_eq(rc, cases[i].want, "%s: rc %d", cases[i].body, rc);
        cr_expect_eq(code, 777, "%s: code written on error", cases[i].body);
        cr_expect_str_eq(msg, "untouched");
    }
}

Test(rest_fixtures, observed_error_quotes)
{
    char *buf = read_fixture("misc/errors_observed.txt", NULL);
    size_t n_lines, parsed = 0, rejected = 0;
    char **lines = tu_lines(buf, &n_lines);
    for (size_t i = 0; i < n_lines; i++) {
        char *text = strchr(lines[i], '\t');
        if (lines[i][0] == '#' || !text || text[1] != '{')
            continue; /* comments and quotes without a JSON envelope */
        text++;
        char *source = strchr(text, '\t');
        cr_assert(source, "no source column: %s", lines[i]);
        *source = '\0';
        int code = 0;
        char msg[256];
        int rc = rest_parse_error(text, strlen(text), &code, msg, sizeof msg);
        if (text[1] == '\'') { /* the Python-dict rendering is not JSON */
            cr_expect_eq(rc, BF_ESYNTAX, "%s", text);
            rejected++;
            continue;
        }
        cr_assert_eq(rc, 0, "%s", text);
        cr_expect(code == -1003 || code == 4 || code == 2, "%s: code %d", text, code);
        cr_expect(strstr(msg, "too many") || strstr(msg, "Too many") || strstr(msg, "Invalid"),
                  "%s", msg);
        parsed++;
    }
    cr_expect_eq(parsed, 4);
    cr_expect_eq(rejected, 1);
    free(lines);
    free(buf);
}

/* ---- symtab ------------------------------------------------------------------------------------
 */

static sym_info make_sym(const char *name, int prec)
{
    sym_info s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.price_precision = prec;
    s.px = dec_scale_plain(2);
    return s;
}

Test(symtab, grows_keeps_order_and_pointers)
{
    symtab *t = symtab_create();
    sym_info first = make_sym("SYM0", 0);
    symtab_put(t, &first);
    const sym_info *p0 = find(t, "SYM0");
    cr_assert(p0);
    for (int i = 1; i < 3000; i++) {
        char name[16];
        snprintf(name, sizeof name, "SYM%d", i);
        sym_info s = make_sym(name, i);
        symtab_put(t, &s);
        /* Prefixes of stored names are different names, whatever slot they hash to. */
        cr_assert_null(symtab_find(t, name, 3), "\"SYM\" found after %s", name);
        cr_assert_null(symtab_find(t, name, 2), "\"SY\" found after %s", name);
    }
    cr_expect_eq(symtab_count(t), 3000);
    cr_expect_eq(find(t, "SYM0"), p0, "entry moved while the table grew");
    for (int i = 0; i < 3000; i++) {
        char name[16];
        snprintf(name, sizeof name, "SYM%d", i);
        const sym_info *s = find(t, name);
        cr_assert(s, "%s lost", name);
        cr_expect_eq(s->price_precision, i);
        cr_expect_eq(symtab_at(t, (size_t)i), s, "insertion order");
    }
    cr_expect_null(symtab_at(t, 3000));
    symtab_destroy(t);
}

Test(symtab, replace_find_by_length_and_misses)
{
    symtab *t = symtab_create();
    sym_info a = make_sym("BTCUSDT", 1), b = make_sym("BTCUSDT_210924", 2);
    symtab_put(t, &a);
    symtab_put(t, &b);
    const sym_info *p = find(t, "BTCUSDT");
    a.price_precision = 7;
    symtab_put(t, &a);
    cr_expect_eq(symtab_count(t), 2);
    cr_expect_eq(find(t, "BTCUSDT"), p, "replace must keep the entry");
    cr_expect_eq(p->price_precision, 7);
    /* (ptr, len): a prefix of a longer buffer, not NUL-terminated. */
    const char *stream = "BTCUSDT@depth";
    cr_expect_eq(symtab_find(t, stream, 7), p);
    cr_expect_eq(symtab_find(t, "BTCUSDT_210924xyz", 14)->price_precision, 2);
    cr_expect_null(symtab_find(t, stream, 6));
    cr_expect_null(find(t, "btcusdt"));
    cr_expect_null(find(t, ""));
    cr_expect_null(symtab_find(t, "A_NAME_LONGER_THAN_THE_TABLE_ALLOWS_AT_ALL", 42));
    symtab_destroy(t);
    symtab_destroy(NULL);
}
