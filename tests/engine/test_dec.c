/*
 * Tests for dec: exact decimal strings <-> int64 tick counts.
 *
 * Tables of real values and of every rejection class, the scale helpers, exact round trips over
 * every price and quantity in the real depth snapshots, and a cross-check of a few hundred thousand
 * generated strings against a slow string-arithmetic reference written here (no shared code with
 * dec.c).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/dec.h"
#include "util/err.h"

static dec_scale tick(const char *t)
{
    dec_scale sc;
    int rc = dec_scale_from_tick(t, strlen(t), &sc);
    cr_assert_eq(rc, 0, "dec_scale_from_tick(%s) = %d", t, rc);
    return sc;
}

static dec_scale scale(int64_t unit, unsigned decimals)
{
    return (dec_scale){ .unit = unit, .decimals = (uint8_t)decimals };
}

/* ---- valid values ------------------------------------------------------------------------------
 */

typedef struct {
    const char *s;
    dec_scale sc;
    int64_t want;
} ok_case;

Test(dec, parses_real_values_in_their_ticks)
{
    const ok_case cases[] = {
        { "61800.10", scale(10, 2), 618001 }, /* BTCUSDT 2024: tick "0.10" */
        { "61800.20", scale(10, 2), 618002 },
        { "61800.10", scale(1, 2), 6180010 }, /* no exchangeInfo: plain scale */
        { "0.01734", scale(1, 5), 1734 },     /* AKROUSDT tick "0.00001" */
        { "7.5040", scale(10, 4), 7504 },     /* SUSHIUSDT tick "0.0010" */
        { "1.01000", scale(100, 5), 1010 },   /* CTKUSDT tick "0.00100" */
        { "4.230", scale(1, 3), 4230 },       /* step "0.001" */
        { "0", scale(1, 3), 0 },
        { "0.000", scale(1, 3), 0 },
        { "813", scale(1, 0), 813 },            /* step "1" */
        { "-0.00010000", scale(1, 8), -10000 }, /* negative funding rate */
        { "0.00010000", scale(1, 8), 10000 },
        { "61800.100", scale(10, 2), 618001 }, /* extra trailing zero */
        { "61800.10000000", scale(10, 2), 618001 },
        { "61800.1", scale(10, 2), 618001 }, /* fewer digits than decimals */
        { "61800", scale(10, 2), 618000 },
        { "-0", scale(1, 2), 0 },
        { "-0.000", scale(10, 2), 0 },
        { "007.5", scale(1, 1), 75 },
        { "10", scale(10, 0), 1 }, /* tick "10" */
        { "120", scale(10, 0), 12 },
        { "7", scale(5, 1), 14 }, /* tick "0.5" */
        { "-2.5", scale(5, 1), -5 },
        { "0.000000000000000001", scale(1, 18), 1 },
        { "9.2", scale(1, 18), 9200000000000000000 },
        { "9223372036854775807", scale(1, 0), INT64_MAX },
        { "-9223372036854775808", scale(1, 0), INT64_MIN },
        { "92233720368547758.07", scale(1, 2), INT64_MAX },
        { "-92233720368547758.08", scale(1, 2), INT64_MIN },
        { "92233720368547758.00", scale(100, 2), 92233720368547758 },
        { "0000000000000000000000000000001.50", scale(1, 1), 15 }, /* 34 chars, long zeros */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = 0x5a5a;
        int rc = dec_parse(cases[i].s, strlen(cases[i].s), &cases[i].sc, &got);
        cr_expect_eq(rc, 0, "%s: rc %d", cases[i].s, rc);
        cr_expect_eq(got, cases[i].want, "%s: got %lld want %lld", cases[i].s, (long long)got,
                     (long long)cases[i].want);
    }
}

Test(dec, parses_without_nul_terminator)
{
    /* dec_parse reads exactly n bytes: a value followed by JSON punctuation parses on its own. */
    const char *json = "\"61800.10\",\"4.230\"]";
    dec_scale px = scale(10, 2), qty = scale(1, 3);
    int64_t p, q;
    cr_assert_eq(dec_parse(json + 1, 8, &px, &p), 0);
    cr_assert_eq(dec_parse(json + 12, 5, &qty, &q), 0);
    cr_expect_eq(p, 618001);
    cr_expect_eq(q, 4230);
}

/* ---- rejections --------------------------------------------------------------------------------
 */

typedef struct {
    const char *s;
    size_t n; /* 0: strlen */
    dec_scale sc;
    int want;
} bad_case;

static void expect_rejected(const bad_case *c)
{
    size_t n = c->n ? c->n : strlen(c->s);
    int64_t out = 0x7777;
    int rc = dec_parse(c->s, n, &c->sc, &out);
    cr_expect_eq(rc, c->want, "\"%.*s\": rc %d (%s), want %d", (int)n, c->s, rc, bf_strerror(rc),
                 c->want);
    cr_expect_eq(out, 0x7777, "\"%.*s\": *out written on error", (int)n, c->s);
}

Test(dec, rejects_bad_syntax)
{
    const bad_case cases[] = {
        { "", 0, scale(1, 2), BF_ESYNTAX },
        { "+1", 0, scale(1, 2), BF_ESYNTAX },
        { "1e5", 0, scale(1, 2), BF_ESYNTAX },
        { "1E5", 0, scale(1, 2), BF_ESYNTAX },
        { "1.5e2", 0, scale(1, 2), BF_ESYNTAX },
        { " 1", 0, scale(1, 2), BF_ESYNTAX },
        { "1 ", 0, scale(1, 2), BF_ESYNTAX },
        { "1.5 ", 0, scale(1, 2), BF_ESYNTAX },
        { ".", 0, scale(1, 2), BF_ESYNTAX },
        { "1.", 0, scale(1, 2), BF_ESYNTAX },
        { ".5", 0, scale(1, 2), BF_ESYNTAX },
        { "-", 0, scale(1, 2), BF_ESYNTAX },
        { "--1", 0, scale(1, 2), BF_ESYNTAX },
        { "-.5", 0, scale(1, 2), BF_ESYNTAX },
        { "1..2", 0, scale(1, 2), BF_ESYNTAX },
        { "1.2.3", 0, scale(1, 2), BF_ESYNTAX },
        { "1.2.3", 0, scale(1, 1), BF_ESYNTAX },
        { "0x10", 0, scale(1, 2), BF_ESYNTAX },
        { "1,5", 0, scale(1, 2), BF_ESYNTAX },
        { "1.-2", 0, scale(1, 2), BF_ESYNTAX },
        { "NaN", 0, scale(1, 2), BF_ESYNTAX },
        { "inf", 0, scale(1, 2), BF_ESYNTAX },
        { "1\0", 2, scale(1, 2), BF_ESYNTAX },
        { "\0", 1, scale(1, 2), BF_ESYNTAX },
        { "1.0\0", 4, scale(1, 5), BF_ESYNTAX },
        { "1.5\0", 4, scale(1, 0), BF_ESYNTAX },
        { "\"1\"", 0, scale(1, 2), BF_ESYNTAX },
        { "\xef\xbc\x91", 0, scale(1, 2), BF_ESYNTAX },
        { "1.55x", 0, scale(1, 1), BF_ESYNTAX }, /* syntax outranks the precision loss */
        { "99999999999999999999x", 0, scale(1, 0), BF_ESYNTAX }, /* and the overflow */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_rejected(&cases[i]);
}

Test(dec, rejects_overlong_precision_offtick_and_range)
{
    const bad_case cases[] = {
        { "00000000000000000000000000000000000000001", 0, scale(1, 0), BF_EOVERLONG }, /* 41 */
        { "x0000000000000000000000000000000000000000", 0, scale(1, 0), BF_EOVERLONG },
        { "61800.101", 0, scale(10, 2), BF_EPRECISION },
        { "61800.1000001", 0, scale(10, 2), BF_EPRECISION },
        { "0.0001", 0, scale(1, 3), BF_EPRECISION },
        { "1.5", 0, scale(1, 0), BF_EPRECISION },
        { "-0.000000001", 0, scale(1, 8), BF_EPRECISION },
        { "61800.11", 0, scale(10, 2), BF_EOFFTICK },
        { "7.5041", 0, scale(10, 4), BF_EOFFTICK },
        { "15", 0, scale(10, 0), BF_EOFFTICK },
        { "1.01010", 0, scale(100, 5), BF_EOFFTICK },
        { "-0.3", 0, scale(5, 1), BF_EOFFTICK },
        { "9223372036854775808", 0, scale(1, 0), BF_ERANGE },
        { "-9223372036854775809", 0, scale(1, 0), BF_ERANGE },
        { "92233720368547758.08", 0, scale(1, 2), BF_ERANGE },
        { "922337203685477581", 0, scale(1, 1), BF_ERANGE },    /* overflow in the x10 padding */
        { "92233720368547759.00", 0, scale(10, 2), BF_ERANGE }, /* raw count overflows */
        { "18446744073709551616", 0, scale(1, 0), BF_ERANGE },  /* 2^64: must not wrap to 0 */
        { "36893488147419103232", 0, scale(1, 0), BF_ERANGE },  /* 2^65 */
        { "100000000000000000000", 0, scale(1, 0), BF_ERANGE },
        { "10", 0, scale(1, 18), BF_ERANGE },
        { "9.3", 0, scale(1, 18), BF_ERANGE },
        { "0000000000000000000000010.0", 0, scale(1, 18), BF_ERANGE },
        { "61800.10", 0, scale(0, 2), BF_EINVAL },
        { "61800.10", 0, scale(-10, 2), BF_EINVAL },
        { "61800.10", 0, scale(1, 19), BF_EINVAL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_rejected(&cases[i]);
    /* Exactly DEC_MAX_CHARS is still accepted. */
    int64_t v;
    dec_scale plain = dec_scale_plain(0);
    cr_expect_eq(dec_parse("0000000000000000000000000000000000000042", 40, &plain, &v), 0);
    cr_expect_eq(v, 42);
}

/* ---- format ------------------------------------------------------------------------------------
 */

typedef struct {
    int64_t v;
    dec_scale sc;
    const char *want;
} fmt_case;

Test(dec, formats_exactly_with_scale_decimals)
{
    const fmt_case cases[] = {
        { 618001, scale(10, 2), "61800.10" },
        { 4230, scale(1, 3), "4.230" },
        { 0, scale(1, 3), "0.000" },
        { 0, scale(1, 0), "0" },
        { 813, scale(1, 0), "813" },
        { -10000, scale(1, 8), "-0.00010000" },
        { 1734, scale(1, 5), "0.01734" },
        { 7504, scale(10, 4), "7.5040" },
        { 1, scale(10, 0), "10" },
        { -5, scale(5, 1), "-2.5" },
        { 1, scale(1, 18), "0.000000000000000001" },
        { INT64_MAX, scale(1, 0), "9223372036854775807" },
        { INT64_MIN, scale(1, 0), "-9223372036854775808" },
        { INT64_MAX, scale(1, 2), "92233720368547758.07" },
        { INT64_MIN, scale(1, 18), "-9.223372036854775808" },
        { -1, scale(1, 18), "-0.000000000000000001" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[DEC_FMT_MAX];
        int n = dec_format(cases[i].v, &cases[i].sc, buf, sizeof buf);
        cr_expect_eq(n, (int)strlen(cases[i].want), "%lld: length %d", (long long)cases[i].v, n);
        cr_expect_str_eq(buf, cases[i].want);
    }
}

Test(dec, format_rejects_unrepresentable_and_small_buffers)
{
    char buf[DEC_FMT_MAX];
    dec_scale ten = scale(10, 2);
    cr_expect_eq(dec_format(INT64_MAX, &ten, buf, sizeof buf), BF_ERANGE);
    cr_expect_eq(dec_format(INT64_MIN, &ten, buf, sizeof buf), BF_ERANGE);
    cr_expect_eq(dec_format(INT64_MAX / 10, &ten, buf, sizeof buf), 20);
    cr_expect_str_eq(buf, "92233720368547758.00");
    cr_expect_eq(dec_format(INT64_MAX / 10 + 1, &ten, buf, sizeof buf), BF_ERANGE);
    dec_scale bad = scale(0, 2);
    cr_expect_eq(dec_format(1, &bad, buf, sizeof buf), BF_EINVAL);

    /* "61800.10" needs 9 bytes with the NUL: 9 fits exactly, 8 must not touch past the cap. */
    char small[16];
    memset(small, '#', sizeof small);
    cr_expect_eq(dec_format(618001, &ten, small, 9), 8);
    cr_expect_str_eq(small, "61800.10");
    cr_expect_eq(small[9], '#');
    memset(small, '#', sizeof small);
    cr_expect_eq(dec_format(618001, &ten, small, 8), BF_ETOOBIG);
    for (size_t i = 0; i < sizeof small; i++)
        cr_expect_eq(small[i], '#', "byte %zu written on BF_ETOOBIG", i);
    cr_expect_eq(dec_format(618001, &ten, NULL, 0), BF_ETOOBIG);
}

/* ---- scale helpers -----------------------------------------------------------------------------
 */

Test(dec, scale_from_tick_keeps_the_tick_decimals)
{
    const struct {
        const char *t;
        int64_t unit;
        unsigned decimals;
    } cases[] = {
        { "0.10", 10, 2 },
        { "0.00010", 10, 5 },
        { "1", 1, 0 },
        { "10", 10, 0 },
        { "0.01", 1, 2 },
        { "0.00100", 100, 5 },
        { "0.001", 1, 3 },
        { "0.5", 5, 1 },
        { "0.0010", 10, 4 },
        { "1.0", 10, 1 },
        { "0.000000000000000001", 1, 18 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dec_scale sc = tick(cases[i].t);
        cr_expect_eq(sc.unit, cases[i].unit, "%s: unit %lld", cases[i].t, (long long)sc.unit);
        cr_expect_eq(sc.decimals, cases[i].decimals, "%s: decimals %u", cases[i].t, sc.decimals);
    }
    const struct {
        const char *t;
        int want;
    } bad[] = { { "0", BF_EINVAL },     { "0.000", BF_EINVAL },
                { "-0.1", BF_EINVAL },  { "-0", BF_EINVAL },
                { "abc", BF_ESYNTAX },  { "", BF_ESYNTAX },
                { "1e-3", BF_ESYNTAX }, { "0.0000000000000000001", BF_EPRECISION } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dec_scale sc = scale(77, 7);
        cr_expect_eq(dec_scale_from_tick(bad[i].t, strlen(bad[i].t), &sc), bad[i].want, "%s",
                     bad[i].t);
        cr_expect_eq(sc.unit, 77, "%s: out written on error", bad[i].t);
    }
}

Test(dec, scale_make_and_plain)
{
    dec_scale sc;
    cr_assert_eq(dec_scale_make("0.1", 3, 2, &sc), 0);
    cr_expect_eq(sc.unit, 10);
    cr_expect_eq(sc.decimals, 2);
    cr_assert_eq(dec_scale_make("0.10", 4, 2, &sc), 0); /* BTCUSDT: tick 0.10, prices 2 decimals */
    cr_expect_eq(sc.unit, 10);
    cr_assert_eq(dec_scale_make("0.10", 4, 1, &sc), 0); /* trailing zero is not precision */
    cr_expect_eq(sc.unit, 1);
    cr_expect_eq(sc.decimals, 1);
    cr_assert_eq(dec_scale_make("1", 1, 8, &sc), 0);
    cr_expect_eq(sc.unit, 100000000);
    cr_expect_eq(dec_scale_make("0.05", 4, 1, &sc), BF_EPRECISION); /* decimals do not cover */
    cr_expect_eq(dec_scale_make("0", 1, 2, &sc), BF_EINVAL);
    cr_expect_eq(dec_scale_make("0.1", 3, 19, &sc), BF_EINVAL);
    cr_expect_eq(dec_scale_make("10", 2, 18, &sc), BF_ERANGE); /* 10 * 10^18 does not fit */

    dec_scale p = dec_scale_plain(3);
    cr_expect_eq(p.unit, 1);
    cr_expect_eq(p.decimals, 3);
    p = dec_scale_plain(40); /* clamped: finer strings are then refused, never misread */
    cr_expect_eq(p.decimals, DEC_MAX_DECIMALS);
}

Test(dec, decimals_counts_and_validates)
{
    const struct {
        const char *s;
        int want;
    } cases[] = {
        { "42", 0 },
        { "61800.10", 2 },
        { "0.00010000", 8 },
        { "-0.5", 1 },
        { "0", 0 },
        { "-7", 0 },
        { "1.", BF_ESYNTAX },
        { ".5", BF_ESYNTAX },
        { "1e5", BF_ESYNTAX },
        { "", BF_ESYNTAX },
        { "+1.0", BF_ESYNTAX },
        { "1.0.0", BF_ESYNTAX },
        { "0.000000000000000001", 18 },
        { "0.0000000000000000001", BF_EPRECISION },
        { "00000000000000000000000000000000000000000", BF_EOVERLONG },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(dec_decimals(cases[i].s, strlen(cases[i].s)), cases[i].want, "%s", cases[i].s);
    cr_expect_eq(dec_decimals("1.5\0", 4), BF_ESYNTAX);
}

/* ---- fixtures: every price and quantity round-trips ------------------------------------------ */

/* Parse s in sc and require the exact string back. */
static int round_trip(const char *s, size_t n, const dec_scale *sc)
{
    int64_t x;
    char out[DEC_FMT_MAX];
    int rc = dec_parse(s, n, sc, &x);
    if (rc < 0)
        return rc;
    int len = dec_format(x, sc, out, sizeof out);
    cr_assert(len == (int)n && memcmp(out, s, n) == 0, "\"%.*s\" came back as \"%s\"", (int)n, s,
              out);
    return 0;
}

typedef struct {
    size_t pairs;
    size_t off_tick; /* prices off the tick: they must still round-trip at unit 1 */
} level_stats;

/* Round-trips every ["price","qty"] pair in buf. */
static level_stats check_levels(const char *buf, const dec_scale *px, const dec_scale *qty)
{
    level_stats st = { 0, 0 };
    dec_scale px_plain = dec_scale_plain(px->decimals);
    for (const char *p = strstr(buf, "[\""); p; p = strstr(p, "[\"")) {
        const char *ps = p + 2, *pe = strchr(ps, '"');
        cr_assert(pe && pe[1] == ',' && pe[2] == '"', "unexpected level layout");
        const char *qs = pe + 3, *qe = strchr(qs, '"');
        cr_assert(qe);
        size_t pn = (size_t)(pe - ps), qn = (size_t)(qe - qs);
        int rc = round_trip(ps, pn, px);
        if (rc == BF_EOFFTICK) {
            st.off_tick++;
            rc = round_trip(ps, pn, &px_plain);
        }
        cr_assert_eq(rc, 0, "price \"%.*s\": %s", (int)pn, ps, bf_strerror(rc));
        rc = round_trip(qs, qn, qty);
        cr_assert_eq(rc, 0, "qty \"%.*s\": %s", (int)qn, qs, bf_strerror(rc));
        st.pairs++;
        p = qe;
    }
    return st;
}

static char *read_fixture(const char *rel)
{
    char *path = tu_fixture(rel);
    char *buf = tu_read_file(path, NULL);
    cr_assert(buf, "cannot read %s", path);
    free(path);
    return buf;
}

Test(dec_fixtures, btcusdt_snapshot_round_trips)
{
    char *buf =
        read_fixture("hftbacktest_usdm_btcusdt_20240808/rest_depth_snapshot_limit1000.json");
    /* No exchangeInfo for this capture: infer decimals from the first level. */
    const char *first = strstr(buf, "[\"61800.20\",\"2.909\"]");
    cr_assert(first, "first bid not where expected");
    dec_scale px = dec_scale_plain((unsigned)dec_decimals(first + 2, 8));
    dec_scale qty = dec_scale_plain((unsigned)dec_decimals(first + 13, 5));
    cr_expect_eq(px.decimals, 2);
    cr_expect_eq(qty.decimals, 3);
    level_stats st = check_levels(buf, &px, &qty);
    cr_expect_eq(st.pairs, 2000);
    cr_expect_eq(st.off_tick, 0);
    /* With the real tick "0.10" every price is on the grid as well. */
    dec_scale tick10;
    cr_assert_eq(dec_scale_make("0.10", 4, 2, &tick10), 0);
    st = check_levels(buf, &tick10, &qty);
    cr_expect_eq(st.pairs, 2000);
    cr_expect_eq(st.off_tick, 0);
    free(buf);
}

/* tickSize/stepSize of one symbol, read from the exchangeInfo fixture with jansson directly. */
static void fixture_scales(json_t *info, const char *sym, dec_scale *px, dec_scale *qty)
{
    size_t i, j;
    json_t *s, *f;
    json_array_foreach(json_object_get(info, "symbols"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "symbol")), sym) != 0)
            continue;
        json_array_foreach(json_object_get(s, "filters"), j, f)
        {
            const char *type = json_string_value(json_object_get(f, "filterType"));
            if (strcmp(type, "PRICE_FILTER") == 0)
                *px = tick(json_string_value(json_object_get(f, "tickSize")));
            if (strcmp(type, "LOT_SIZE") == 0)
                *qty = tick(json_string_value(json_object_get(f, "stepSize")));
        }
        return;
    }
    cr_assert_fail("%s not in exchangeInfo", sym);
}

Test(dec_fixtures, cryptofeed_snapshots_round_trip_in_exchange_ticks)
{
    char *path = tu_fixture("cryptofeed_usdm_20210722/derived_rest_exchangeInfo.json");
    json_error_t err;
    json_t *info = json_load_file(path, 0, &err);
    cr_assert(info, "%s: %s", path, err.text);
    free(path);
    /* CTKUSDT's book holds 131 far-from-market orders (35 bids, 96 asks such as "0.50579") that are
     * off the capture's tickSize "0.00100": resting orders from before a tick change. They are
     * refused as BF_EOFFTICK in the tick scale, never misread, and exact at unit 1. */
    const struct {
        const char *sym;
        size_t levels, off_tick;
        int64_t px_unit;
    } syms[] = { { "SUSHIUSDT", 2000, 0, 10 },
                 { "AKROUSDT", 609 + 763, 0, 1 },
                 { "KEEPUSDT", 400 + 612, 0, 1 },
                 { "CTKUSDT", 485 + 744, 35 + 96, 100 } };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        dec_scale px = { 0 }, qty = { 0 };
        fixture_scales(info, syms[i].sym, &px, &qty);
        cr_expect_eq(px.unit, syms[i].px_unit, "%s", syms[i].sym);
        char rel[128];
        snprintf(rel, sizeof rel, "cryptofeed_usdm_20210722/derived_rest_depth_snapshot_%s.json",
                 syms[i].sym);
        char *buf = read_fixture(rel);
        level_stats st = check_levels(buf, &px, &qty);
        cr_expect_eq(st.pairs, syms[i].levels, "%s", syms[i].sym);
        cr_expect_eq(st.off_tick, syms[i].off_tick, "%s", syms[i].sym);
        free(buf);
    }
    json_decref(info);
}

/* ---- cross-check against a slow reference ------------------------------------------------------
 */

/* Reference: explicit state machine for the grammar, then decimal-string arithmetic. */
static bool ref_syntax(const char *s, size_t n)
{
    enum { START, SIGN, INT, DOT, FRAC } st = START;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool digit = c >= '0' && c <= '9';
        if (st == START && c == '-')
            st = SIGN;
        else if ((st == START || st == SIGN || st == INT) && digit)
            st = INT;
        else if (st == INT && c == '.')
            st = DOT;
        else if ((st == DOT || st == FRAC) && digit)
            st = FRAC;
        else
            return false;
    }
    return st == INT || st == FRAC;
}

/* Digits of the value in 10^-decimals units, without leading zeros ("" for zero). */
typedef struct {
    char d[128];
    size_t n;
    bool neg;
} ref_num;

static int ref_digits(const char *s, size_t n, unsigned decimals, ref_num *r)
{
    r->neg = s[0] == '-';
    size_t i = r->neg, k = 0;
    char all[128];
    for (; i < n && s[i] != '.'; i++)
        all[k++] = s[i];
    size_t frac = 0;
    for (i++; i < n; i++, frac++) {
        if (frac < decimals)
            all[k++] = s[i];
        else if (s[i] != '0')
            return BF_EPRECISION;
    }
    for (; frac < decimals; frac++)
        all[k++] = '0';
    size_t z = 0;
    while (z < k && all[z] == '0')
        z++;
    r->n = k - z;
    memcpy(r->d, all + z, r->n);
    r->d[r->n] = '\0';
    return 0;
}

static int ref_parse(const char *s, size_t n, const dec_scale *sc, int64_t *out, ref_num *r)
{
    if (n > DEC_MAX_CHARS)
        return BF_EOVERLONG;
    if (!ref_syntax(s, n))
        return BF_ESYNTAX;
    int rc = ref_digits(s, n, sc->decimals, r);
    if (rc < 0)
        return rc;
    const char *lim = r->neg ? "9223372036854775808" : "9223372036854775807";
    if (r->n > 19 || (r->n == 19 && strcmp(r->d, lim) > 0))
        return BF_ERANGE;
    /* Schoolbook long division by the unit. */
    uint64_t rem = 0, q = 0, unit = (uint64_t)sc->unit;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t cur = rem * 10 + (uint64_t)(r->d[i] - '0');
        q = q * 10 + cur / unit;
        rem = cur % unit;
    }
    if (rem != 0)
        return BF_EOFFTICK;
    *out = r->neg ? (int64_t)(0 - q) : (int64_t)q;
    return 0;
}

/* What dec_format must print for a parsed value: the raw digits with the point put back. */
static void ref_canonical(const ref_num *r, unsigned decimals, char *buf)
{
    char digits[160];
    size_t n = r->n, pad = n < decimals + 1 ? decimals + 1 - n : 0;
    memset(digits, '0', pad);
    memcpy(digits + pad, r->d, n);
    n += pad;
    char *p = buf;
    if (r->neg && r->n > 0)
        *p++ = '-';
    memcpy(p, digits, n - decimals);
    p += n - decimals;
    if (decimals) {
        *p++ = '.';
        memcpy(p, digits + n - decimals, decimals);
        p += decimals;
    }
    *p = '\0';
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

static char rnd_digit(void)
{
    /* Zeros and nines are the interesting digits (padding, carries, limits). */
    static const char pool[] = "00012345678999";
    return pool[rnd_below(sizeof pool - 1)];
}

static dec_scale rnd_scale(void)
{
    static const int64_t units[] = { 1, 1, 1, 10, 100, 1000, 10000, 5, 25, 3, 7, 123456789 };
    dec_scale sc = { .unit = units[rnd_below(sizeof units / sizeof units[0])],
                     .decimals = (uint8_t)rnd_below(DEC_MAX_DECIMALS + 1) };
    return sc;
}

static size_t gen_noise(char *s)
{
    static const char alphabet[] = "0123456789000999--..+eE \0a";
    size_t n = rnd_below(46);
    for (size_t i = 0; i < n; i++)
        s[i] = alphabet[rnd_below(sizeof alphabet - 1)];
    return n;
}

static size_t gen_structured(char *s)
{
    size_t n = 0;
    if (rnd_below(4) == 0)
        s[n++] = '-';
    for (size_t k = 1 + rnd_below(21); k > 0; k--)
        s[n++] = rnd_digit();
    if (rnd_below(5) > 0) {
        s[n++] = '.';
        for (size_t k = 1 + rnd_below(20); k > 0; k--)
            s[n++] = rnd_digit();
        for (size_t k = rnd_below(3) == 0 ? rnd_below(6) : 0; k > 0; k--)
            s[n++] = '0';
    }
    if (rnd_below(20) == 0 && n > 0) /* mutate one byte */
        s[rnd_below(n)] = "+-.e \0x9"[rnd_below(8)];
    return n;
}

static size_t gen_edge(char *s)
{
    static const char *const bases[] = {
        "9223372036854775807",  "9223372036854775808",  "9223372036854775806",
        "18446744073709551615", "18446744073709551616", "99999999999999999999",
        "10000000000000000000", "1000000000000000000",  "922337203685477580",
    };
    const char *b = bases[rnd_below(sizeof bases / sizeof bases[0])];
    size_t n = 0, len = strlen(b), dot = rnd_below(len + 1);
    if (rnd_below(2))
        s[n++] = '-';
    for (size_t i = 0; i < len; i++) {
        if (i == dot && i > 0)
            s[n++] = '.';
        s[n++] = b[i];
    }
    for (size_t k = rnd_below(4); k > 0 && dot > 0 && dot < len; k--)
        s[n++] = '0';
    return n;
}

/* A value on the scale's grid, written the way the exchange would (sometimes with extra zeros). */
static size_t gen_on_grid(char *s, const dec_scale *sc)
{
    int64_t v = (int64_t)(rnd() >> rnd_below(64));
    if (rnd_below(3) == 0)
        v = -v;
    char buf[DEC_FMT_MAX];
    int n = dec_format(v, sc, buf, sizeof buf);
    if (n < 0)
        return gen_structured(s);
    memcpy(s, buf, (size_t)n);
    if (sc->decimals > 0 && rnd_below(3) == 0)
        for (size_t k = 1 + rnd_below(3); k > 0; k--)
            s[n++] = '0';
    return (size_t)n;
}

/* What the pre-parsers must make of s[0..n): the digits as an integer and the count after the
 * point, by the reference grammar and 128-bit arithmetic; false when s is not pre-parsed (not the
 * grammar, more than 19 digits, or a value outside int64). */
static bool ref_parts(const char *s, size_t n, int64_t *m, int *d)
{
    if (!ref_syntax(s, n))
        return false;
    bool neg = s[0] == '-';
    unsigned __int128 v = 0;
    size_t digits = 0;
    int frac = -1;
    for (size_t i = neg; i < n; i++) {
        if (s[i] == '.') {
            frac = 0;
            continue;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
        digits++;
        frac += frac >= 0;
    }
    if (digits > 19 || v > (neg ? (unsigned __int128)INT64_MAX + 1 : INT64_MAX))
        return false;
    *m = neg ? (int64_t)(0 - (uint64_t)v) : (int64_t)v;
    *d = frac < 0 ? 0 : frac;
    return true;
}

typedef struct {
    size_t pre, pre_ok, by_rc[32];
} parts_stats;

/* dec_preparse() gives the reference parts, and dec_from_parts() of them gives exactly dec_parse()'s
 * outcome (rc, and the value when accepted). */
static void check_parts(const char *s, size_t n, const dec_scale *sc, int rc, int64_t got,
                        parts_stats *st)
{
    int64_t m = -1, want_m = 0, v = 0;
    int want_d = 0, d = dec_preparse(s, n, &m);
    bool pre = ref_parts(s, n, &want_m, &want_d);
    cr_assert_eq(d >= 0, pre, "\"%.*s\": dec_preparse %d, reference %s", (int)n, s, d,
                 pre ? "pre-parses it" : "leaves it");
    if (!pre) {
        cr_assert_eq(m, 0);
        return;
    }
    cr_assert(m == want_m && d == want_d, "\"%.*s\": %lld e-%d, reference %lld e-%d", (int)n, s,
              (long long)m, d, (long long)want_m, want_d);
    int prc = dec_from_parts(m, (unsigned)d, sc, &v);
    cr_assert_eq(prc, rc, "\"%.*s\" unit %lld dec %u: from parts %d, dec_parse %d", (int)n, s,
                 (long long)sc->unit, sc->decimals, prc, rc);
    if (rc == 0)
        cr_assert_eq(v, got, "\"%.*s\": from parts %lld, dec_parse %lld", (int)n, s, (long long)v,
                     (long long)got);
    st->pre++;
    st->pre_ok += rc == 0;
    st->by_rc[-rc]++;
}

Test(dec, agrees_with_slow_reference_on_generated_strings)
{
    size_t accepted = 0, by_rc[32] = { 0 };
    parts_stats parts = { 0 };
    for (int iter = 0; iter < 300000; iter++) {
        char s[96];
        dec_scale sc = rnd_scale();
        size_t n;
        switch (iter % 4) {
        case 0:
            n = gen_noise(s);
            break;
        case 1:
            n = gen_structured(s);
            break;
        case 2:
            n = gen_edge(s);
            break;
        default:
            n = gen_on_grid(s, &sc);
            break;
        }
        int64_t got = 0, want = 0;
        ref_num r;
        int rc = dec_parse(s, n, &sc, &got);
        int ref = ref_parse(s, n, &sc, &want, &r);
        cr_assert_eq(rc, ref, "\"%.*s\" unit %lld dec %u: rc %d, reference %d", (int)n, s,
                     (long long)sc.unit, sc.decimals, rc, ref);
        by_rc[-rc]++;
        check_parts(s, n, &sc, rc, got, &parts);
        if (rc < 0)
            continue;
        accepted++;
        cr_assert_eq(got, want, "\"%.*s\": %lld vs reference %lld", (int)n, s, (long long)got,
                     (long long)want);
        char out[DEC_FMT_MAX], canon[160];
        cr_assert_gt(dec_format(got, &sc, out, sizeof out), 0);
        ref_canonical(&r, sc.decimals, canon);
        cr_assert_str_eq(out, canon, "\"%.*s\" formatted as %s", (int)n, s, out);
    }
    /* The generators must reach every outcome, or this test proves less than it claims. */
    cr_expect_gt(accepted, 50000);
    const int classes[] = { BF_ESYNTAX, BF_EPRECISION, BF_ERANGE, BF_EOFFTICK, BF_EOVERLONG };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        cr_expect_gt(by_rc[-classes[i]], 1000, "%s reached only %zu times", bf_strerror(classes[i]),
                     by_rc[-classes[i]]);
    /* ... and the pre-parsed strings reach every outcome of dec_from_parts() too. */
    cr_expect_gt(parts.pre_ok, 30000);
    const int part_classes[] = { BF_EPRECISION, BF_ERANGE, BF_EOFFTICK };
    for (size_t i = 0; i < sizeof part_classes / sizeof part_classes[0]; i++)
        cr_expect_gt(parts.by_rc[-part_classes[i]], 1000, "pre-parsed %s reached only %zu times",
                     bf_strerror(part_classes[i]), parts.by_rc[-part_classes[i]]);
}

/* Format of random values checked with 128-bit arithmetic, then parsed back. */
Test(dec, format_agrees_with_wide_arithmetic_and_round_trips)
{
    rng_state = 0x0123456789abcdefULL;
    size_t ok = 0, range = 0;
    for (int iter = 0; iter < 200000; iter++) {
        dec_scale sc = rnd_scale();
        int64_t v = (int64_t)(rnd() >> rnd_below(64));
        if (rnd_below(2))
            v = v == INT64_MIN ? v : -v;
        if (iter % 1000 == 0)
            v = iter % 2000 ? INT64_MIN : INT64_MAX;
        __int128 raw = (__int128)v * sc.unit;
        bool fits = raw >= INT64_MIN && raw <= INT64_MAX;
        char out[DEC_FMT_MAX];
        int n = dec_format(v, &sc, out, sizeof out);
        if (!fits) {
            cr_assert_eq(n, BF_ERANGE, "%lld x %lld", (long long)v, (long long)sc.unit);
            range++;
            continue;
        }
        /* Expected text: digits of |raw| padded to decimals + 1, point inserted. */
        unsigned __int128 mag = raw < 0 ? (unsigned __int128)(-raw) : (unsigned __int128)raw;
        char want[64], *p = want + sizeof want;
        *--p = '\0';
        for (unsigned i = 0; mag || i <= sc.decimals; i++, mag /= 10) {
            if (i == sc.decimals && i > 0)
                *--p = '.';
            *--p = (char)('0' + (int)(mag % 10));
        }
        if (raw < 0)
            *--p = '-';
        cr_assert_str_eq(out, p);
        cr_assert_eq(n, (int)strlen(p));
        int64_t back;
        cr_assert_eq(dec_parse(out, (size_t)n, &sc, &back), 0, "%s", out);
        cr_assert_eq(back, v, "%s parsed back as %lld", out, (long long)back);
        ok++;
    }
    cr_expect_gt(ok, 10000);
    cr_expect_gt(range, 10000);
}

/* ---- pre-parsed numbers ------------------------------------------------------------------------
 */

Test(dec, preparse_reads_the_grammar_up_to_19_digits)
{
    const struct {
        const char *s;
        int d; /* DEC_PRE_NONE: left to dec_parse */
        int64_t m;
    } cases[] = {
        { "0", 0, 0 },
        { "-0", 0, 0 },
        { "-0.00", 2, 0 },
        { "61800.10", 2, 6180010 },
        { "4.230", 3, 4230 },
        { "007.50", 2, 750 },
        { "-0.00010000", 8, -10000 },
        { "9223372036854775807", 0, INT64_MAX },
        { "-9223372036854775808", 0, INT64_MIN },
        { "-922337203685477580.8", 1, INT64_MIN },
        { "1234567890123456789", 0, 1234567890123456789 },
        { "0.000000000000000001", 18, 1 },
        { "9223372036854775808", DEC_PRE_NONE, 0 },
        { "922337203685477580.8", DEC_PRE_NONE, 0 },
        { "12345678901234567890", DEC_PRE_NONE, 0 },
        { "0.0000000000000000001", DEC_PRE_NONE, 0 },
        { "1.", DEC_PRE_NONE, 0 },
        { ".5", DEC_PRE_NONE, 0 },
        { "", DEC_PRE_NONE, 0 },
        { "-", DEC_PRE_NONE, 0 },
        { "+1", DEC_PRE_NONE, 0 },
        { "--1", DEC_PRE_NONE, 0 },
        { "1e5", DEC_PRE_NONE, 0 },
        { "1.2.3", DEC_PRE_NONE, 0 },
        { "1 ", DEC_PRE_NONE, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t m = 77;
        int d = dec_preparse(cases[i].s, strlen(cases[i].s), &m);
        cr_expect_eq(d, cases[i].d, "%s: d %d", cases[i].s, d);
        cr_expect_eq(m, cases[i].m, "%s: m %lld", cases[i].s, (long long)m);
    }
    int64_t m;
    cr_expect_eq(dec_preparse("12\0"
                              "3",
                              4, &m),
                 DEC_PRE_NONE);
    cr_expect_eq(dec_preparse("12345", 3, &m), 0); /* exactly n bytes */
    cr_expect_eq(m, 123);
}

Test(dec, from_parts_pads_normalises_and_checks_like_dec_parse)
{
    const struct {
        int64_t m;
        unsigned d;
        dec_scale sc;
        int rc;
        int64_t want;
    } cases[] = {
        { 6180010, 2, { 1, 2 }, 0, 6180010 }, /* the exchange's own precision */
        { 6180010, 2, { 10, 2 }, 0, 618001 }, /* tick 0.10 */
        { 6180015, 2, { 10, 2 }, BF_EOFFTICK, 0 },
        { 61800, 0, { 1, 2 }, 0, 6180000 },       /* padded */
        { 42300, 4, { 1, 3 }, 0, 4230 },          /* "4.2300": trailing zeros normalised */
        { 42301, 4, { 1, 3 }, BF_EPRECISION, 0 }, /* "4.2301" */
        { 0, 9, { 1, 0 }, 0, 0 },
        { -5, 1, { 1, 3 }, 0, -500 },
        { 5, 0, { 1, 18 }, 0, 5000000000000000000 },
        { 10, 0, { 1, 18 }, BF_ERANGE, 0 },
        { INT64_MAX, 0, { 1, 1 }, BF_ERANGE, 0 },
        { INT64_MIN, 0, { 1, 0 }, 0, INT64_MIN },
        { INT64_MIN, 1, { 1, 1 }, 0, INT64_MIN },
        { INT64_MIN, 0, { 1, 1 }, BF_ERANGE, 0 },
        { 922337203685477580, 0, { 1, 1 }, 0, 9223372036854775800 },
        { 922337203685477581, 0, { 1, 1 }, BF_ERANGE, 0 },
        { 25, 1, { 5, 1 }, 0, 5 },
        { 1, 0, { 0, 0 }, BF_EINVAL, 0 },
        { 1, 0, { 1, 19 }, BF_EINVAL, 0 },
        { 1, 19, { 1, 19 }, BF_EINVAL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t out = 42;
        int rc = dec_from_parts(cases[i].m, cases[i].d, &cases[i].sc, &out);
        cr_expect_eq(rc, cases[i].rc, "case %zu: rc %d", i, rc);
        cr_expect_eq(out, rc == 0 ? cases[i].want : 42, "case %zu: %lld", i, (long long)out);
    }
}

/* Every shape a digits word takes (1..8 digits, the point anywhere inside or absent), with random
 * digits and random bytes after the number: the word converts to dec_preparse()'s value, alone and
 * in pairs; and a byte that is not a digit, put in the place of any digit, is always caught. */
Test(dec, digits_words_convert_every_short_number)
{
    rng_state = 0x5eed5eed5eed5eedULL;
    size_t shapes = 0, caught = 0;
    uint64_t prev_word = 0, prev_value = 0;
    for (unsigned digits = 1; digits <= 8; digits++) {
        for (unsigned k = 1; k <= 8; k++) {
            if (k < 8 && k >= digits) /* a point needs a digit on both sides */
                continue;
            for (int rep = 0; rep < 64; rep++) {
                char s[16];
                for (size_t i = 0; i < sizeof s; i++)
                    s[i] = (char)rnd_below(256);
                size_t n = digits + (k < 8);
                for (size_t i = 0; i < n; i++)
                    s[i] = (char)('0' + rnd_below(10));
                if (k < 8)
                    s[k] = '.';
                int64_t m;
                cr_assert_eq(dec_preparse(s, n, &m), k < 8 ? (int)(digits - k) : 0);
                uint64_t w = dec_digits_word(s, digits, k), v, v2;
                cr_assert(dec_digits_ok(w), "\"%.*s\"", (int)n, s);
                cr_assert_eq(dec_digits_value(w), (uint64_t)m, "\"%.*s\"", (int)n, s);
                cr_assert(dec_digits_value2(w, prev_word, &v, &v2));
                cr_assert(v == (uint64_t)m && v2 == prev_value, "\"%.*s\" in a pair", (int)n, s);
                prev_word = w, prev_value = (uint64_t)m;
                shapes++;
                /* Any other byte in place of a digit. */
                size_t at = rnd_below(n);
                if (at == k)
                    at = 0;
                for (int c = 0; c < 256; c++) {
                    if (c >= '0' && c <= '9')
                        continue;
                    char t[16];
                    memcpy(t, s, sizeof t);
                    t[at] = (char)c;
                    uint64_t bad = dec_digits_word(t, digits, k);
                    cr_assert(!dec_digits_ok(bad), "byte 0x%02x at %zu of \"%.*s\"", c, at, (int)n,
                              s);
                    cr_assert(!dec_digits_value2(bad, w, &v, &v2) &&
                              !dec_digits_value2(w, bad, &v, &v2));
                    caught++;
                }
            }
        }
    }
    cr_expect_eq(shapes, 64u * 36u);
    cr_expect_gt(caught, 500000);
}

/* The same for 9..16 digits in two words (high and low 8). */
Test(dec, digits_words16_convert_every_long_number)
{
    rng_state = 0x0ddba11c0ffee000ULL;
    size_t shapes = 0;
    for (unsigned digits = 9; digits <= 16; digits++) {
        for (unsigned k = 1; k <= 16; k++) {
            if (k < 16 && k >= digits)
                continue;
            for (int rep = 0; rep < 64; rep++) {
                char s[24];
                for (size_t i = 0; i < sizeof s; i++)
                    s[i] = (char)rnd_below(256);
                size_t n = digits + (k < 16);
                for (size_t i = 0; i < n; i++)
                    s[i] = (char)('0' + rnd_below(10));
                if (k < 16)
                    s[k] = '.';
                int64_t m;
                cr_assert_eq(dec_preparse(s, n, &m), k < 16 ? (int)(digits - k) : 0);
                uint64_t hi, lo;
                dec_digits_words16(s, digits, k, &hi, &lo);
                cr_assert(dec_digits_ok(hi) && dec_digits_ok(lo), "\"%.*s\"", (int)n, s);
                cr_assert_eq(dec_digits_value(hi) * 100000000 + dec_digits_value(lo), (uint64_t)m,
                             "\"%.*s\"", (int)n, s);
                shapes++;
                size_t at = rnd_below(n);
                if (at == k)
                    at = 0;
                for (int c = 0; c < 256; c++) {
                    if (c >= '0' && c <= '9')
                        continue;
                    char t[24];
                    memcpy(t, s, sizeof t);
                    t[at] = (char)c;
                    dec_digits_words16(t, digits, k, &hi, &lo);
                    cr_assert(!(dec_digits_ok(hi) && dec_digits_ok(lo)),
                              "byte 0x%02x at %zu of \"%.*s\"", c, at, (int)n, s);
                }
            }
        }
    }
    cr_expect_eq(shapes, 64u * 100u); /* digits d has d shapes: no point, or one at 1..d-1 */
}
