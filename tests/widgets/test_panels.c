/* Panels: tape, strip, latency, status, help, search: goldens at several sizes in UTF-8 and
 * ASCII, and properties (nothing drawn outside the rect, exact funding arithmetic, units). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "util/dec.h"
#include "widgets/canvas.h"
#include "widgets/help.h"
#include "widgets/latency.h"
#include "widgets/search.h"
#include "widgets/status.h"
#include "widgets/strip.h"
#include "widgets/tape.h"
#include "widgets/theme.h"

/* ---- fixtures: hand-built views ---------------------------------------------------------------- */

#define NOW_MONO  (5000LL * 1000000000LL) /* the UI's monotonic "now" */
#define NOW_MS    1717243965123LL         /* 2024-06-01 12:12:45.123 UTC */
#define NEXT_FUND (NOW_MS + (3 * 3600 + 12 * 60 + 45) * 1000LL - 200) /* 03:12:45 (rounded up) */
#define LARGE_QTY 10000 /* 10.000 in the quantity scale */
#define S(n)      ((int64_t)(n)*1000000000LL)

typedef struct size2 {
    int w, h;
} size2;

static const size2 big_sizes[] = { { 80, 24 }, { 120, 40 }, { 40, 12 }, { 20, 5 }, { 1, 1 } };
/* The strip and the status bar are one or two rows high. */
static const size2 bar_sizes[] = {
    { 80, 2 }, { 120, 2 }, { 40, 2 }, { 40, 1 }, { 20, 1 }, { 1, 1 }
};
#define NSIZES(a) (sizeof(a) / sizeof((a)[0]))

static theme th[2]; /* [0] ASCII, [1] UTF-8 */

static void init_themes(void)
{
    theme_init(&th[0], false, DEPTH_MONO);
    theme_init(&th[1], true, DEPTH_256);
}

static view_symbol *new_symbol(const char *name, sync_state st)
{
    view_symbol *v = calloc(1, sizeof *v);
    cr_assert(v);
    snprintf(v->symbol, sizeof v->symbol, "%s", name);
    v->state = st;
    v->has_scale = true;
    v->px_scale = dec_scale_plain(2);
    v->qty_scale = dec_scale_plain(3);
    return v;
}

/* 30 trades around 61798, newest last, a mix of sides and sizes, two of them large. */
static void fill_trades(view_symbol *v)
{
    static const int64_t qty[10] = { 12, 1500, 250, 25000, 3, 12000, 480, 9999, 10000, 77 };
    int64_t t = NOW_MS - 30 * 347;
    for (int i = 0; i < 30; i++) {
        view_trade *tr = &v->trades[v->ntrades++];
        t += 347 + i % 3 * 5;
        tr->T_ms = t;
        tr->px = 6179800 + (i * 7 % 11) * 5 - 25;
        tr->qty = qty[i % 10] * (i % 4 == 3 ? 10 : 1);
        tr->buyer_maker = i % 3 == 1;
    }
}

static view_latency lat(uint64_t count, uint64_t neg, int64_t p50, int64_t p99, int64_t p999,
                        int64_t max)
{
    return (view_latency){ count, neg, p50, p99, p999, max };
}

static view_symbol *btc(void)
{
    view_symbol *v = new_symbol("BTCUSDT", SYNC_LIVE);
    v->state_since_mono_ns = NOW_MONO - S(300);
    v->last_msg_mono_ns = NOW_MONO - 2000000;
    fill_trades(v);
    snprintf(v->last.mark_price, sizeof v->last.mark_price, "61798.35000000");
    snprintf(v->last.index_price, sizeof v->last.index_price, "61790.12345678");
    snprintf(v->last.funding_rate, sizeof v->last.funding_rate, "0.00010000");
    v->last.next_funding_ms = NEXT_FUND;
    v->stages[STAGE_T_TO_E] = lat(52311, 0, 850000, 3400000, 9870000, 41200000);
    v->stages[STAGE_E_TO_RECV] = lat(52311, 0, 4210000, 12300000, 48000000, 210000000);
    v->stages[STAGE_RECV_TO_APPLIED] = lat(52311, 0, 2300, 18400, 95000, 1250000);
    v->stages[STAGE_APPLIED_TO_PUB] = lat(52311, 0, 900, 4000, 7000, 90000);
    v->stages[STAGE_REST_RTT] = lat(3, 0, 180000000, 240000000, 240000000, 240000000);
    v->msgs_per_s = 412.6;
    return v;
}

static view_global global_ok(void)
{
    view_global g;
    memset(&g, 0, sizeof g);
    g.ws[0].up = g.ws[1].up = true;
    g.msgs_per_s = 1834.2;
    g.clock_offset_ns = -1234567;
    g.clock_rtt_ns = 8400000;
    g.used_weight = 84;
    g.weight_limit = 2400;
    return g;
}

static canvas *render_start(size2 sz)
{
    return canvas_create(sz.w, sz.h);
}

/* Render with `draw` at every size in both glyph sets and compare with <base>_<w>x<h>_<set>. */
typedef void (*draw_fn)(canvas *c, rect r, const theme *t, const void *ctx);

static void golden_sizes(const char *base, const size2 *sizes, size_t nsizes, draw_fn draw,
                         const void *ctx)
{
    init_themes();
    for (size_t i = 0; i < nsizes; i++) {
        for (int u = 0; u < 2; u++) {
            canvas *c = render_start(sizes[i]);
            draw(c, canvas_bounds(c), &th[u], ctx);
            char name[128];
            snprintf(name, sizeof name, "%s_%dx%d_%s", base, sizes[i].w, sizes[i].h,
                     u ? "utf8" : "ascii");
            golden_check(c, name);
            canvas_destroy(c);
        }
    }
}

/* One size, one glyph set. */
static void golden_one(const char *base, size2 sz, bool utf8, draw_fn draw, const void *ctx)
{
    init_themes();
    canvas *c = render_start(sz);
    draw(c, canvas_bounds(c), &th[utf8], ctx);
    char name[128];
    snprintf(name, sizeof name, "%s_%dx%d_%s", base, sz.w, sz.h, utf8 ? "utf8" : "ascii");
    golden_check(c, name);
    canvas_destroy(c);
}

/* The text of row y of a canvas (glyphs only). */
static char *row_text(const canvas *c, int y)
{
    char *all = canvas_dump(c, false), *p = all;
    for (int i = 0; i < y; i++)
        p = strchr(p, '\n') + 1;
    size_t n = strcspn(p, "\n");
    char *out = strndup(p, n);
    free(all);
    return out;
}

/* ---- tape -------------------------------------------------------------------------------------- */

typedef struct tape_ctx {
    const view_symbol *v;
    int64_t large;
} tape_ctx;

static void draw_tape(canvas *c, rect r, const theme *t, const void *ctx)
{
    const tape_ctx *k = ctx;
    tape_draw(c, r, t, k->v, k->large);
}

Test(tape, golden_normal)
{
    view_symbol *v = btc();
    tape_ctx k = { v, LARGE_QTY };
    golden_sizes("tape_normal", big_sizes, NSIZES(big_sizes), draw_tape, &k);
    free(v);
}

Test(tape, golden_empty_and_null)
{
    view_symbol *v = new_symbol("ETHUSDT", SYNC_SNAPSHOTTING);
    tape_ctx k = { v, LARGE_QTY };
    golden_one("tape_empty", (size2){ 40, 12 }, true, draw_tape, &k);
    tape_ctx n = { NULL, 0 };
    golden_one("tape_null", (size2){ 20, 5 }, false, draw_tape, &n);
    free(v);
}

Test(tape, newest_first_sides_and_large_prints)
{
    view_symbol *v = new_symbol("BTCUSDT", SYNC_LIVE);
    v->trades[0] = (view_trade){ 1000, 6179800, 500, false };   /* oldest: buy */
    v->trades[1] = (view_trade){ 2000, 6179700, 20000, true };  /* large sell */
    v->trades[2] = (view_trade){ 3000, 6179900, 10000, false }; /* newest: large buy (==) */
    v->ntrades = 3;
    init_themes();
    canvas *c = canvas_create(40, 4);
    tape_draw(c, canvas_bounds(c), &th[1], v, LARGE_QTY);
    char *r1 = row_text(c, 1), *r2 = row_text(c, 2), *r3 = row_text(c, 3);
    cr_assert_str_eq(r1, "00:00:03.000  61799.00  10.000 ▲        ");
    cr_assert_str_eq(r2, "00:00:02.000  61797.00  20.000 ▼        ");
    cr_assert_str_eq(r3, "00:00:01.000  61798.00   0.500 ▲        ");
    cr_assert_eq(canvas_at(c, 16, 1)->role, ROLE_LARGE_BUY);
    cr_assert_eq(canvas_at(c, 0, 1)->role, ROLE_LARGE_BUY, "the whole large row stands out");
    cr_assert_eq(canvas_at(c, 16, 2)->role, ROLE_LARGE_SELL);
    cr_assert_eq(canvas_at(c, 16, 3)->role, ROLE_UP);
    cr_assert_eq(canvas_at(c, 0, 3)->role, ROLE_DIM, "time of an ordinary print is dim");
    /* Without a threshold nothing is large; a sell is ROLE_DOWN. */
    tape_draw(c, canvas_bounds(c), &th[1], v, 0);
    cr_assert_eq(canvas_at(c, 16, 2)->role, ROLE_DOWN);
    cr_assert_eq(canvas_at(c, 16, 1)->role, ROLE_UP);
    free(r1);
    free(r2);
    free(r3);
    canvas_destroy(c);
    free(v);
}

Test(tape, time_is_utc_of_day_and_negative_times_wrap)
{
    view_symbol *v = new_symbol("BTCUSDT", SYNC_LIVE);
    v->trades[0] = (view_trade){ -1, 100, 1, false }; /* 1969-12-31 23:59:59.999 */
    v->trades[1] = (view_trade){ NOW_MS, 100, 1, false };
    v->ntrades = 2;
    init_themes();
    canvas *c = canvas_create(30, 2);
    tape_draw(c, canvas_bounds(c), &th[0], v, 0);
    char *a = row_text(c, 0), *b = row_text(c, 1);
    cr_assert(strncmp(a, "12:12:45.123", 12) == 0, "%s", a);
    cr_assert(strncmp(b, "23:59:59.999", 12) == 0, "%s", b);
    free(a);
    free(b);
    canvas_destroy(c);
    free(v);
}

/* ---- strip ------------------------------------------------------------------------------------- */

typedef struct strip_ctx {
    const view_symbol *v;
    int64_t now_ms;
} strip_ctx;

static void draw_strip(canvas *c, rect r, const theme *t, const void *ctx)
{
    const strip_ctx *k = ctx;
    strip_draw(c, r, t, k->v, k->now_ms);
}

Test(strip, golden_normal)
{
    view_symbol *v = btc();
    strip_ctx k = { v, NOW_MS };
    golden_sizes("strip_normal", bar_sizes, NSIZES(bar_sizes), draw_strip, &k);
    free(v);
}

Test(strip, golden_missing_negative_past_stale)
{
    view_symbol *none = new_symbol("ETHUSDT", SYNC_SNAPSHOTTING);
    strip_ctx k = { none, NOW_MS };
    golden_one("strip_missing", (size2){ 80, 1 }, true, draw_strip, &k);
    view_symbol *v = btc();
    snprintf(v->last.funding_rate, sizeof v->last.funding_rate, "-0.00250000");
    v->last.next_funding_ms = NOW_MS - 5000; /* the countdown passed: 00:00:00, never negative */
    strip_ctx p = { v, NOW_MS };
    golden_one("strip_negative", (size2){ 80, 1 }, true, draw_strip, &p);
    v->stream_stale = true;
    golden_one("strip_stale", (size2){ 80, 1 }, false, draw_strip, &p);
    free(none);
    free(v);
}

Test(strip, text_of_the_normal_line)
{
    view_symbol *v = btc();
    init_themes();
    canvas *c = canvas_create(80, 1);
    strip_draw(c, canvas_bounds(c), &th[1], v, NOW_MS);
    char *row = row_text(c, 0);
    char want[96];
    snprintf(want, sizeof want, "%-80s",
             "mark 61798.35  index 61790.12  funding +0.0100%  next 03:12:45");
    cr_assert_str_eq(row, want);
    cr_assert_eq(canvas_at(c, 39, 0)->role, ROLE_UP, "positive funding");
    free(row);
    canvas_destroy(c);
    free(v);
}

typedef struct px_case {
    const char *written;
    int decimals;
    const char *want;
} px_case;

/* Mark and index at the symbol's decimals, rounded half away from zero with integers. */
Test(strip, prices_at_the_symbol_decimals)
{
    static const px_case cases[] = {
        { "61790.12345678", 2, "61790.12" },
        { "61790.12500000", 2, "61790.13" },
        { "61790.12499999", 2, "61790.12" },
        { "99.995", 2, "100.00" },
        { "-0.125", 2, "-0.13" },
        { "61798.3", 2, "61798.30" },
        { "1981.15704420", 2, "1981.16" },
        { "0.00001234", 7, "0.0000123" },
        { "58940", 1, "58940.0" },
        { "1.5", 0, "2" },
        { "abc", 2, "abc" },
        { "", 2, "-" },
    };
    init_themes();
    canvas *c = canvas_create(60, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        view_symbol *v = new_symbol("BTCUSDT", SYNC_LIVE);
        v->px_scale = dec_scale_plain((unsigned)cases[i].decimals);
        snprintf(v->last.mark_price, sizeof v->last.mark_price, "%s", cases[i].written);
        strip_draw(c, canvas_bounds(c), &th[0], v, NOW_MS);
        char *row = row_text(c, 0), want[64];
        snprintf(want, sizeof want, "mark %s ", cases[i].want);
        cr_assert(strncmp(row, want, strlen(want)) == 0, "%s: %s", cases[i].written, row);
        free(row);
        free(v);
    }
    /* Without a scale the string is shown as written. */
    view_symbol *v = new_symbol("BTCUSDT", SYNC_LIVE);
    v->has_scale = false;
    snprintf(v->last.mark_price, sizeof v->last.mark_price, "61798.35000000");
    strip_draw(c, canvas_bounds(c), &th[0], v, NOW_MS);
    char *row = row_text(c, 0);
    cr_assert(strncmp(row, "mark 61798.35000000 ", 20) == 0, "%s", row);
    free(row);
    free(v);
    canvas_destroy(c);
}

typedef struct pct_case {
    const char *rate, *want;
} pct_case;

Test(strip, funding_string_arithmetic_table)
{
    static const pct_case cases[] = {
        { "0.00010000", "+0.0100%" },
        { "-0.00250000", "-0.2500%" },
        { "0", "0.0000%" },
        { "0.00000000", "0.0000%" },
        { "-0", "0.0000%" },
        { "-0.00000000", "0.0000%" },
        { "0.0001", "+0.0100%" },
        { "0.00012345", "+0.012345%" },
        { "0.00375000", "+0.3750%" },
        { "-0.00000573", "-0.000573%" },
        { "0.01", "+1.0000%" },
        { "0.1", "+10.0000%" },
        { "1", "+100.0000%" },
        { "12.5", "+1250.0000%" },
        { "+0.0003", "+0.0300%" },
        { "0.00058455", "+0.058455%" },
        { "000.00100", "+0.1000%" },
        { "-0.00300000", "-0.3000%" },
        { "0.000000001", "+0.0000001%" },
        { "0.05000010", "+5.00001%" },
    };
    char buf[DEC_FMT_MAX + 8];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = strip_funding_pct(cases[i].rate, buf, sizeof buf);
        cr_assert_eq(n, (int)strlen(cases[i].want), "%s: %d", cases[i].rate, n);
        cr_assert_str_eq(buf, cases[i].want, "%s", cases[i].rate);
    }
    static const char *const bad[] = { "",     "-",   "+",   ".5",    "1.",  "1e-4", " 0.1",
                                       "0.1 ", "0x1", "--1", "1.2.3", "abc", NULL };
    for (size_t i = 0; bad[i]; i++)
        cr_assert_lt(strip_funding_pct(bad[i], buf, sizeof buf), 0, "'%s'", bad[i]);
    cr_assert_lt(strip_funding_pct(NULL, buf, sizeof buf), 0);
    cr_assert_lt(strip_funding_pct("0.00010000", buf, 4), 0, "too small a buffer is an error");
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static __int128 pow10_128(int e)
{
    __int128 p = 1;
    while (e-- > 0)
        p *= 10;
    return p;
}

/* For random m and d, the rate m * 10^-d: the output, read back as a decimal, is exactly 100 times
 * the rate, and keeps 4 decimals at least and no trailing zero beyond them. */
Test(strip, funding_string_arithmetic_property)
{
    char rate[64], out[DEC_FMT_MAX + 8];
    for (int i = 0; i < 20000; i++) {
        int64_t m = (int64_t)(rng() % 2000000000001ull) - 1000000000000LL;
        if (i % 5 == 0)
            m %= 1000; /* many small rates, as real ones are */
        int d = (int)(rng() % 13);
        uint64_t mag = m < 0 ? (uint64_t)-m : (uint64_t)m;
        char digits[32];
        snprintf(digits, sizeof digits, "%0*" PRIu64, d + 1, mag);
        int nd = (int)strlen(digits);
        snprintf(rate, sizeof rate, "%s%.*s%s%s", m < 0 ? "-" : "", nd - d, digits, d ? "." : "",
                 digits + nd - d);
        int n = strip_funding_pct(rate, out, sizeof out);
        cr_assert_gt(n, 0, "%s", rate);
        cr_assert_eq(out[n - 1], '%');
        out[n - 1] = '\0';
        const char *num = out;
        if (m == 0)
            cr_assert(num[0] != '+' && num[0] != '-', "%s -> %s: zero has no sign", rate, out);
        else
            cr_assert_eq(num[0], m < 0 ? '-' : '+', "%s -> %s", rate, out);
        num += num[0] == '+' || num[0] == '-';
        const char *dot = strchr(num, '.');
        cr_assert(dot);
        int k = (int)strlen(dot + 1);
        cr_assert_geq(k, 4, "%s -> %s", rate, out);
        cr_assert(k == 4 || num[strlen(num) - 1] != '0', "%s -> %s: trailing zero", rate, out);
        int64_t got;
        cr_assert_eq(dec_parse(num, strlen(num), &(dec_scale){ 1, (uint8_t)k }, &got), 0, "%s",
                     num);
        /* got * 10^-k == 100 * mag * 10^-d  <=>  got * 10^d == mag * 10^(k+2) */
        cr_assert(got * pow10_128(d) == (__int128)mag * pow10_128(k + 2), "%s -> %s", rate, out);
    }
}

Test(strip, countdown)
{
    char buf[32];
    strip_countdown(0, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "-");
    strip_countdown(NOW_MS - 1, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "00:00:00");
    strip_countdown(NOW_MS, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "00:00:00");
    strip_countdown(NOW_MS + 1, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "00:00:01");
    strip_countdown(NOW_MS + 8 * 3600000LL, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "08:00:00");
    strip_countdown(NEXT_FUND, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "03:12:45");
    strip_countdown(NOW_MS + 100LL * 3600000, NOW_MS, buf, sizeof buf);
    cr_assert_str_eq(buf, "100:00:00");
}

/* ---- latency ----------------------------------------------------------------------------------- */

typedef struct lat_ctx {
    latency_input in;
} lat_ctx;

static void draw_latency(canvas *c, rect r, const theme *t, const void *ctx)
{
    const lat_ctx *k = ctx;
    latency_draw(c, r, t, &k->in);
}

static int64_t history[STAGE_COUNT][LATENCY_HISTORY];

static void fill_history(void)
{
    for (int s = 0; s < STAGE_COUNT; s++)
        for (int i = 0; i < LATENCY_HISTORY; i++)
            history[s][i] = 1000000 * (s + 1) + (int64_t)((i * 37 + s * 11) % 29) * 100000;
}

static lat_ctx lat_normal(const view_symbol *v, const view_global *g)
{
    fill_history();
    lat_ctx k = { { .v = v,
                    .g = g,
                    .drawn = lat(1200, 0, 4100000, 16000000, 16600000, 33000000),
                    .p99_history = history,
                    .nhistory = LATENCY_HISTORY } };
    return k;
}

Test(latency, golden_normal)
{
    view_symbol *v = btc();
    view_global g = global_ok();
    lat_ctx k = lat_normal(v, &g);
    golden_sizes("latency_normal", big_sizes, NSIZES(big_sizes), draw_latency, &k);
    free(v);
}

Test(latency, golden_skewed_without_history)
{
    view_symbol *v = btc();
    v->stages[STAGE_E_TO_RECV] = lat(52000, 311, 150000, 2100000, 7000000, 90000000);
    view_global g = global_ok();
    g.clock_skewed = true;
    lat_ctx k = {
        { .v = v, .g = &g, .drawn = lat(1200, 0, 4100000, 16000000, 16600000, 33000000) }
    };
    golden_one("latency_skewed", (size2){ 80, 24 }, true, draw_latency, &k);
    golden_one("latency_skewed", (size2){ 40, 12 }, false, draw_latency, &k);
    golden_one("latency_skewed", (size2){ 20, 5 }, true, draw_latency, &k);
    free(v);
}

Test(latency, golden_empty)
{
    view_symbol *v = new_symbol("ETHUSDT", SYNC_SNAPSHOTTING);
    lat_ctx k = { { .v = v, .g = NULL } };
    golden_one("latency_empty", (size2){ 80, 24 }, true, draw_latency, &k);
    lat_ctx none = { { .v = NULL, .g = NULL } };
    golden_one("latency_null", (size2){ 40, 12 }, false, draw_latency, &none);
    free(v);
}

Test(latency, skew_warning_is_visible_and_first)
{
    view_symbol *v = btc();
    view_global g = global_ok();
    g.clock_skewed = true;
    lat_ctx k = lat_normal(v, &g);
    init_themes();
    canvas *c = canvas_create(60, 3);
    latency_draw(c, canvas_bounds(c), &th[0], &k.in);
    char *row = row_text(c, 0);
    cr_assert(strstr(row, "clock skew"), "%s", row);
    cr_assert_eq(canvas_at(c, 0, 0)->role, ROLE_WARN);
    free(row);
    canvas_destroy(c);
    free(v);
}

typedef struct ns_case {
    int64_t ns;
    const char *utf8, *ascii;
} ns_case;

Test(latency, units_three_significant_digits)
{
    static const ns_case cases[] = {
        { 0, "0ns", "0ns" },
        { 5, "5ns", "5ns" },
        { 999, "999ns", "999ns" },
        { 1000, "1.00µs", "1.00us" },
        { 1234, "1.23µs", "1.23us" },
        { 1235, "1.24µs", "1.24us" },
        { 12345, "12.3µs", "12.3us" },
        { 123456, "123µs", "123us" },
        { 999499, "999µs", "999us" },
        { 999500, "1.00ms", "1.00ms" },
        { 4210000, "4.21ms", "4.21ms" },
        { 99950000, "100ms", "100ms" },
        { 999999999, "1.00s", "1.00s" },
        { 12345678901, "12.3s", "12.3s" },
        { 1234567890123, "1230s", "1230s" },
        { -1234567, "-1.23ms", "-1.23ms" },
        { INT64_MAX, "9220000000s", "9220000000s" },
        { INT64_MIN, "-9220000000s", "-9220000000s" },
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        latency_format_ns(cases[i].ns, true, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].utf8, "%" PRId64, cases[i].ns);
        latency_format_ns(cases[i].ns, false, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].ascii, "%" PRId64, cases[i].ns);
    }
}

/* ---- status ------------------------------------------------------------------------------------ */

typedef struct status_ctx {
    status_input in;
} status_ctx;

static void draw_status(canvas *c, rect r, const theme *t, const void *ctx)
{
    const status_ctx *k = ctx;
    status_draw(c, r, t, &k->in);
}

/* BTC LIVE (selected), ETH RESYNCING for 3s, SOL STALE, silent for 12s. */
static void three_symbols(view_symbol *s[3])
{
    s[0] = btc();
    s[1] = new_symbol("ETHUSDT", SYNC_RESYNCING);
    s[1]->state_since_mono_ns = NOW_MONO - S(3) - 400000000;
    s[1]->last_msg_mono_ns = NOW_MONO - 1000000;
    snprintf(s[1]->reason, sizeof s[1]->reason, "pu 4812 != previous u 4809");
    s[2] = new_symbol("SOLUSDT", SYNC_STALE);
    s[2]->state_since_mono_ns = NOW_MONO - S(2);
    s[2]->last_msg_mono_ns = NOW_MONO - S(12);
    snprintf(s[2]->reason, sizeof s[2]->reason, "no message for 10s");
}

static void free_symbols(view_symbol *s[3])
{
    for (int i = 0; i < 3; i++)
        free(s[i]);
}

Test(status, golden_normal_demo_recording)
{
    view_symbol *s[3];
    three_symbols(s);
    view_global g = global_ok();
    g.recording = true;
    g.recorded_bytes = 12345678;
    status_ctx k = { { .g = &g,
                       .syms = (const view_symbol *const *)s,
                       .nsyms = 3,
                       .selected = 0,
                       .now_mono_ns = NOW_MONO,
                       .demo = true } };
    golden_sizes("status_normal", bar_sizes, NSIZES(bar_sizes), draw_status, &k);
    free_symbols(s);
}

Test(status, golden_banned_paused_down_message)
{
    view_symbol *s[3];
    three_symbols(s);
    view_global g = global_ok();
    g.ws[1].up = false;
    snprintf(g.ws[1].detail, sizeof g.ws[1].detail, "connect: connection refused");
    g.used_weight = 2400;
    g.ban_until_mono_ns = NOW_MONO + S(42) - 300000000; /* 41.7 s left: "0:42" */
    status_ctx k = { { .g = &g,
                       .syms = (const view_symbol *const *)s,
                       .nsyms = 3,
                       .selected = 1,
                       .now_mono_ns = NOW_MONO,
                       .paused = true,
                       .message = "exchangeInfo failed: HTTP 418 (banned); try --demo" } };
    golden_sizes("status_banned", bar_sizes, NSIZES(bar_sizes), draw_status, &k);
    k.in.message = NULL; /* the second row tells why the selected book is not LIVE */
    golden_one("status_reason", (size2){ 80, 2 }, true, draw_status, &k);
    g.ban_until_mono_ns = 0;
    s[1]->reason[0] = '\0'; /* ... else why a route is down */
    golden_one("status_route", (size2){ 80, 2 }, false, draw_status, &k);
    free_symbols(s);
}

Test(status, golden_nothing_yet)
{
    status_ctx k = { { .now_mono_ns = NOW_MONO } };
    golden_one("status_empty", (size2){ 40, 2 }, true, draw_status, &k);
}

/* The demand: 40 columns hold DEMO, both routes, every symbol's state and the ban. */
Test(status, fits_forty_columns)
{
    view_symbol *s[3];
    three_symbols(s);
    view_global g = global_ok();
    g.ban_until_mono_ns = NOW_MONO + S(42);
    status_ctx k = { { .g = &g,
                       .syms = (const view_symbol *const *)s,
                       .nsyms = 3,
                       .selected = 0,
                       .now_mono_ns = NOW_MONO,
                       .demo = true } };
    init_themes();
    canvas *c = canvas_create(40, 1);
    status_draw(c, canvas_bounds(c), &th[1], &k.in);
    char *row = row_text(c, 0);
    cr_assert(strncmp(row, "DEMO", 4) == 0, "%s", row);
    cr_assert_eq(canvas_at(c, 0, 0)->role, ROLE_DEMO);
    cr_assert(strstr(row, "BTC LIVE"), "%s", row);
    cr_assert(strstr(row, "ETH") && strstr(row, "3s"), "%s", row);
    cr_assert(strstr(row, "SOL") && strstr(row, "12s"), "%s", row);
    cr_assert(strstr(row, "BAN 0:42"), "%s", row);
    free(row);
    /* Even 20 columns keep DEMO. */
    canvas_resize(c, 20, 1);
    status_draw(c, canvas_bounds(c), &th[0], &k.in);
    cr_assert_str_eq(canvas_at(c, 0, 0)->glyph, "D");
    cr_assert_eq(canvas_at(c, 3, 0)->role, ROLE_DEMO);
    canvas_destroy(c);
    free_symbols(s);
}

/* ---- help -------------------------------------------------------------------------------------- */

static const help_entry keys[] = {
    { "q, Ctrl-C", "quit", "leave bfmon" },
    { "?, F1", "help", "show or hide this help" },
    { "Tab, l, Right", "next-symbol", "switch to the next symbol" },
    { "S-Tab, h, Left", "prev-symbol", "switch to the previous symbol" },
    { "/", "search", "find a symbol and add it to the watchlist" },
    { "p, Space", "pause", "freeze the display (data keeps flowing)" },
    { "+, =", "group-more", "group the ladder by more ticks" },
    { "-", "group-less", "group the ladder by fewer ticks" },
    { "t", "tape", "show or hide the trades tape" },
    { "L", "latency", "show or hide the latency panel" },
    { "d", "delete-symbol", "remove the selected symbol" },
    { "r", "resync", "drop the book and fetch a new snapshot" },
    { "Ctrl-L", "redraw", "repaint the whole screen" },
    { "é, ü", "utf8-keys", "non-ASCII key names stay one column per glyph" },
};
#define NKEYS (sizeof keys / sizeof keys[0])

typedef struct help_ctx {
    size_t first;
} help_ctx;

static void draw_help(canvas *c, rect r, const theme *t, const void *ctx)
{
    const help_ctx *k = ctx;
    /* An overlay: what is behind stays outside the box. */
    for (int y = 0; y < r.h; y++)
        for (int x = 0; x < r.w; x++)
            canvas_put(c, r.x + x, r.y + y, r, ROLE_BID, ".");
    help_draw_from(c, r, t, keys, NKEYS, k->first);
}

Test(help, golden_normal)
{
    help_ctx k = { 0 };
    golden_sizes("help_normal", big_sizes, NSIZES(big_sizes), draw_help, &k);
}

Test(help, golden_scrolled_and_empty)
{
    help_ctx k = { 5 };
    golden_one("help_scrolled", (size2){ 40, 12 }, true, draw_help, &k);
    golden_one("help_scrolled", (size2){ 80, 10 }, false, draw_help, &k);
    init_themes();
    canvas *c = canvas_create(30, 6);
    help_draw(c, canvas_bounds(c), &th[1], NULL, 0);
    golden_check(c, "help_empty_30x6_utf8");
    canvas_destroy(c);
}

Test(help, scroll_position_is_clamped)
{
    init_themes();
    canvas *c = canvas_create(80, 10); /* 8 inner rows: the header is kept (>= 4), 7 entries */
    cr_assert_eq(help_draw_from(c, canvas_bounds(c), &th[1], keys, NKEYS, 0), 0);
    cr_assert_eq(help_draw_from(c, canvas_bounds(c), &th[1], keys, NKEYS, 3), 3);
    cr_assert_eq(help_draw_from(c, canvas_bounds(c), &th[1], keys, NKEYS, 1000), NKEYS - 7);
    canvas_resize(c, 120, 40);
    cr_assert_eq(help_draw_from(c, canvas_bounds(c), &th[1], keys, NKEYS, 5), 0, "all fit");
    canvas_destroy(c);
}

/* ---- search ------------------------------------------------------------------------------------ */

typedef struct search_ctx {
    const char *query;
    const char *const *matches;
    size_t n, cursor;
} search_ctx;

static void draw_search(canvas *c, rect r, const theme *t, const void *ctx)
{
    const search_ctx *k = ctx;
    search_draw(c, r, t, k->query, k->matches, k->n, k->cursor);
}

static const char *const found[] = {
    "BTCUSDT",  "BTCDOMUSDT", "BTCUSDT_250627", "BTCUSDC",  "WBTCUSDT", "BTCSTUSDT", "RBTCUSDT",
    "TBTCUSDT", "BTC1USDT",   "BTCXUSDT",       "BTCAUSDT", "BTCBUSDT", "BTCCUSDT",  "BTCDUSDT",
    "BTCEUSDT", "BTCFUSDT",   "BTCGUSDT",       "BTCHUSDT", "BTCIUSDT", "BTCJUSDT",
};

Test(search, golden_normal)
{
    search_ctx k = { "bt", found, 8, 2 };
    golden_sizes("search_normal", big_sizes, NSIZES(big_sizes), draw_search, &k);
}

Test(search, golden_no_match_empty_scrolled_long_query)
{
    search_ctx none = { "zzz", found, 0, 0 };
    golden_one("search_nomatch", (size2){ 40, 12 }, true, draw_search, &none);
    search_ctx empty = { "", NULL, 0, 0 };
    golden_one("search_empty", (size2){ 40, 12 }, false, draw_search, &empty);
    search_ctx scrolled = { "btc", found, 20, 15 };
    golden_one("search_scrolled", (size2){ 40, 12 }, true, draw_search, &scrolled);
    search_ctx longq = { "averyveryverylongquerythatdoesnotfit", found, 0, 0 };
    golden_one("search_longquery", (size2){ 20, 5 }, true, draw_search, &longq);
}

Test(search, cursor_row_selected_and_visible)
{
    init_themes();
    canvas *c = canvas_create(30, 7); /* framed: 4 match rows (2..5) */
    search_draw(c, canvas_bounds(c), &th[1], "BTC", found, 20, 9);
    /* cursor 9 in 4 rows: rows show 6..9, the cursor on the last */
    char *last = row_text(c, 5);
    cr_assert(strstr(last, found[9]), "%s", last);
    for (int x = 1; x < 29; x++)
        cr_assert_eq(canvas_at(c, x, 5)->role, ROLE_SELECTED);
    cr_assert_neq(canvas_at(c, 0, 5)->role, ROLE_SELECTED, "the frame is not selected");
    cr_assert_neq(canvas_at(c, 5, 4)->role, ROLE_SELECTED);
    /* Out of range clamps to the last match. */
    search_draw(c, canvas_bounds(c), &th[1], "BTC", found, 3, 99);
    char *r3 = row_text(c, 4);
    cr_assert(strstr(r3, found[2]), "%s", r3);
    cr_assert_eq(canvas_at(c, 1, 4)->role, ROLE_SELECTED);
    free(last);
    free(r3);
    canvas_destroy(c);
}

/* ---- nothing outside the rect -------------------------------------------------------------------- */

#define SENT_W 50
#define SENT_H 20

static void fill_sentinel(canvas *c)
{
    for (int y = 0; y < SENT_H; y++)
        for (int x = 0; x < SENT_W; x++)
            canvas_put(c, x, y, canvas_bounds(c), ROLE_FLASH_PULL, "#");
}

static bool inside(rect r, int x, int y)
{
    return x >= r.x && y >= r.y && (long long)x < (long long)r.x + r.w &&
           (long long)y < (long long)r.y + r.h;
}

static void assert_untouched_outside(const canvas *c, rect r, const char *what)
{
    for (int y = 0; y < SENT_H; y++) {
        for (int x = 0; x < SENT_W; x++) {
            if (inside(r, x, y))
                continue;
            const cell *p = canvas_at(c, x, y);
            cr_assert(strcmp(p->glyph, "#") == 0 && p->role == ROLE_FLASH_PULL,
                      "%s wrote (%d,%d) outside rect {%d,%d,%d,%d}", what, x, y, r.x, r.y, r.w,
                      r.h);
        }
    }
}

static rect random_rect(void)
{
    rect r;
    r.x = (int)(rng() % 70) - 10;
    r.y = (int)(rng() % 30) - 5;
    r.w = (int)(rng() % 60) - 2;
    r.h = (int)(rng() % 25) - 2;
    if (rng() % 8 == 0) { /* small ones are where the layouts get tested */
        r.w = (int)(rng() % 4);
        r.h = (int)(rng() % 3);
    }
    return r;
}

Test(panels, nothing_drawn_outside_the_rect)
{
    init_themes();
    view_symbol *s[3];
    three_symbols(s);
    view_symbol *empty = new_symbol("XRPUSDT", SYNC_SNAPSHOTTING);
    view_global g = global_ok();
    g.clock_skewed = true;
    g.recording = true;
    g.ban_until_mono_ns = NOW_MONO + S(100);
    lat_ctx lk = lat_normal(s[0], &g);
    status_input si = { .g = &g,
                        .syms = (const view_symbol *const *)s,
                        .nsyms = 3,
                        .selected = 2,
                        .now_mono_ns = NOW_MONO,
                        .demo = true,
                        .paused = true,
                        .message = "a message that is long enough to be cut in most rects" };
    canvas *c = canvas_create(SENT_W, SENT_H);
    for (int i = 0; i < 600; i++) {
        rect r = random_rect();
        const theme *t = &th[i % 2];
        const view_symbol *v = i % 5 == 0 ? empty : s[0];
        fill_sentinel(c);
        tape_draw(c, r, t, v, LARGE_QTY);
        assert_untouched_outside(c, r, "tape");
        fill_sentinel(c);
        strip_draw(c, r, t, v, NOW_MS);
        assert_untouched_outside(c, r, "strip");
        fill_sentinel(c);
        lk.in.v = v;
        latency_draw(c, r, t, &lk.in);
        assert_untouched_outside(c, r, "latency");
        fill_sentinel(c);
        si.message = i % 3 ? si.message : NULL;
        status_draw(c, r, t, &si);
        assert_untouched_outside(c, r, "status");
        fill_sentinel(c);
        help_draw_from(c, r, t, keys, i % 7 ? NKEYS : 1, (size_t)i % 20);
        assert_untouched_outside(c, r, "help");
        fill_sentinel(c);
        search_draw(c, r, t, i % 4 ? "btc" : "a query much longer than the rect", found,
                    (size_t)i % 21, (size_t)i % 23);
        assert_untouched_outside(c, r, "search");
    }
    canvas_destroy(c);
    free(empty);
    free_symbols(s);
}
