/* Widgets: canvas, theme and the ladder / spread / spark / watchlist goldens and properties. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "testutil.h"
#include "widgets/canvas.h"
#include "widgets/theme.h"

/* ---- canvas ---------------------------------------------------------------------------------- */

Test(canvas, put_clips_to_rect_and_canvas)
{
    canvas *c = canvas_create(6, 2);
    rect clip = { 1, 0, 3, 1 };
    int cols = canvas_put(c, 0, 0, clip, ROLE_BID, "abcdefgh");
    cr_assert_eq(cols, 8);
    char *d = canvas_dump(c, true);
    cr_assert_str_eq(d, " bcd  \n bbb  \n      \n      \n");
    free(d);
    canvas_put(c, -3, 1, canvas_bounds(c), ROLE_ASK, "xyz12345678");
    d = canvas_dump(c, false);
    cr_assert_str_eq(d, " bcd  \n123456\n");
    free(d);
    canvas_destroy(c);
}

Test(canvas, fill_repeats_one_glyph_clipped_like_put)
{
    canvas *c = canvas_create(8, 2);
    rect clip = { 1, 0, 5, 1 };
    canvas_fill(c, -2, 0, clip, ROLE_BID_BAR, "\xe2\x96\x88x", 6); /* only the first glyph */
    canvas_fill(c, 4, 0, clip, ROLE_ASK, "=", 9);                  /* cut at the clip */
    canvas_fill(c, 0, 1, clip, ROLE_ASK, "=", 3);                  /* row outside the clip */
    canvas_fill(c, 6, 1, canvas_bounds(c), ROLE_DIM, "\x01", 5);   /* control: '?' */
    canvas_fill(c, 0, 1, canvas_bounds(c), ROLE_DIM, "z", 0);      /* nothing */
    char *d = canvas_dump(c, true);
    cr_assert_str_eq(d,
                     " \xe2\x96\x88\xe2\x96\x88\xe2\x96\x88==  \n BBBaa  \n      ??\n      dd\n");
    free(d);
    canvas_destroy(c);
}

Test(canvas, utf8_one_glyph_per_cell_invalid_as_question_mark)
{
    canvas *c = canvas_create(8, 1);
    /* valid 3-byte, stray continuation, overlong '/', truncated 3-byte + stray, tab, 2-byte */
    const char *s = "\xe2\x96\x81\x80\xc0\xaf\xe2\x96\x09\xc3\xa9";
    cr_assert_eq(canvas_width_of(s), 8);
    cr_assert_eq(canvas_put(c, 0, 0, canvas_bounds(c), ROLE_NORMAL, s), 8);
    char *d = canvas_dump(c, false);
    cr_assert_str_eq(d, "▁??????é\n");
    free(d);
    /* surrogate and beyond U+10FFFF */
    canvas_put(c, 0, 0, canvas_bounds(c), ROLE_NORMAL, "\xed\xa0\x80\xf4\x90\x80\x80");
    cr_assert_str_eq(canvas_at(c, 0, 0)->glyph, "?");
    canvas_destroy(c);
}

Test(canvas, degenerate_sizes_never_write)
{
    canvas *z = canvas_create(0, 0);
    cr_assert_eq(canvas_put(z, 0, 0, canvas_bounds(z), ROLE_NORMAL, "abc"), 3);
    canvas_clear(z, (rect){ 0, 0, 10, 10 }, ROLE_DIM);
    char *d = canvas_dump(z, true);
    cr_assert_str_eq(d, "");
    free(d);
    cr_assert_null(canvas_at(z, 0, 0));
    canvas_destroy(z);

    canvas *c = canvas_create(3, 3);
    canvas_put(c, 1, 1, (rect){ 1, 1, -5, 2 }, ROLE_ASK, "x");
    canvas_put(c, 1, 1, (rect){ 1, 1, 1, 0 }, ROLE_ASK, "x");
    canvas_put(c, INT_MAX, 1, (rect){ INT_MAX - 1, 0, INT_MAX, INT_MAX }, ROLE_ASK, "xx");
    canvas_clear(c, (rect){ INT_MIN, INT_MIN, INT_MAX, INT_MAX }, ROLE_DIM);
    canvas_set_role(c, (rect){ 2, 2, INT_MAX, INT_MAX }, ROLE_BID);
    d = canvas_dump(c, true);
    cr_assert_str_eq(d, "   \n   \n   \n   \n   \n  b\n");
    free(d);
    canvas_put(c, 0, 0, (rect){ 0, 0, 1, 1 }, ROLE_ASK, "xyz");
    d = canvas_dump(c, true);
    cr_assert_str_eq(d, "x  \na  \n   \n   \n   \n  b\n");
    free(d);
    canvas_destroy(c);
}

Test(canvas, resize_blanks_and_rect_inset)
{
    canvas *c = canvas_create(2, 1);
    canvas_put(c, 0, 0, canvas_bounds(c), ROLE_ASK, "ab");
    canvas_resize(c, 3, 2);
    cr_assert_eq(canvas_width(c), 3);
    cr_assert_eq(canvas_height(c), 2);
    char *d = canvas_dump(c, true);
    cr_assert_str_eq(d, "   \n   \n   \n   \n");
    free(d);
    canvas_resize(c, -1, 4);
    cr_assert_eq(canvas_width(c), 0);
    canvas_destroy(c);

    rect r = rect_inset((rect){ 2, 3, 10, 4 }, 1);
    cr_assert(r.x == 3 && r.y == 4 && r.w == 8 && r.h == 2);
    cr_assert(rect_empty(rect_inset((rect){ 0, 0, 10, 2 }, 1)));
    cr_assert(rect_empty((rect){ 0, 0, 0, 5 }));
}

/* The canvas as text equals want. */
static void expect_row(const canvas *c, const char *want, const char *what)
{
    char *d = canvas_dump(c, false);
    cr_assert_str_eq(d, want, "%s", what);
    free(d);
}

Test(canvas, right_aligned_and_cut_text)
{
    canvas *c = canvas_create(8, 1);
    rect all = canvas_bounds(c);
    theme u, a;
    theme_init(&u, true, DEPTH_256);
    theme_init(&a, false, DEPTH_MONO);
    canvas_put_right(c, 8, 0, all, ROLE_NORMAL, "abc");
    expect_row(c, "     abc\n", "right-aligned");
    canvas_clear(c, all, ROLE_NORMAL);
    canvas_put_cut(c, 1, 0, 5, all, ROLE_NORMAL, &u, "fits!");
    expect_row(c, " fits!  \n", "text that fits is not cut");
    canvas_put_cut(c, 1, 0, 5, all, ROLE_NORMAL, &u, "too long");
    expect_row(c, " too \xe2\x80\xa6  \n", "four glyphs and the ellipsis");
    canvas_put_cut(c, 0, 0, 3, all, ROLE_NORMAL, &a, "wxyz");
    expect_row(c, "wx~o \xe2\x80\xa6  \n", "the ASCII theme cuts with ~");
    canvas_put_cut(c, 0, 0, 0, all, ROLE_NORMAL, &a, "none");
    expect_row(c, "wx~o \xe2\x80\xa6  \n", "no columns, nothing drawn");
    canvas_destroy(c);

    rect i = rect_intersect((rect){ 0, 0, 10, 4 }, (rect){ 6, 2, 10, 10 });
    cr_assert(i.x == 6 && i.y == 2 && i.w == 4 && i.h == 2);
    cr_assert(rect_empty(rect_intersect((rect){ 0, 0, 5, 5 }, (rect){ 5, 0, 5, 5 })));
    cr_assert(rect_empty(rect_intersect((rect){ 0, 0, 5, 5 }, (rect){ 1, 1, 0, 3 })));
    i = rect_intersect((rect){ -2147483647, 0, 2147483647, 1 }, (rect){ -5, 0, 10, 1 });
    cr_assert(i.x == -5 && i.w == 5, "no overflow at the int limits");
}

Test(canvas, printf_long_text)
{
    canvas *c = canvas_create(4, 1);
    char big[2000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(canvas_printf(c, 0, 0, canvas_bounds(c), ROLE_UP, "%d%s", 7, big), 2000);
    cr_assert_str_eq(canvas_at(c, 0, 0)->glyph, "7");
    cr_assert_eq(canvas_at(c, 3, 0)->role, ROLE_UP);
    canvas_destroy(c);
}

Test(theme, letters_round_trip_and_glyph_sets)
{
    for (int r = 0; r < ROLE_COUNT; r++)
        cr_assert_eq(theme_role_from_letter(theme_role_letter((role)r)), (role)r);
    cr_assert_eq(theme_role_letter(ROLE_COUNT), '?');
    theme u, a;
    theme_init(&u, true, DEPTH_256);
    theme_init(&a, false, DEPTH_MONO);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(canvas_width_of(u.spark[i]), 1);
        cr_assert_eq(strlen(a.spark[i]), 1);
    }
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(canvas_width_of(u.hbar[i]), 1);
        cr_assert_eq(strlen(a.hbar[i]), 1);
    }
    cr_assert_str_eq(u.spark[7], "█");
    cr_assert_str_eq(a.hbar[8], "#");
}

Test(canvas, golden_roundtrip)
{
    canvas *c = canvas_create(10, 2);
    theme t;
    theme_init(&t, true, DEPTH_256);
    canvas_put(c, 0, 0, canvas_bounds(c), ROLE_HEADER, "BTCUSDT");
    for (int i = 0; i < 8; i++)
        canvas_put(c, i, 1, canvas_bounds(c), ROLE_UP, t.spark[i]);
    golden_check(c, "canvas_basic");
    canvas_destroy(c);
}

/* ---- views ----------------------------------------------------------------------------------- */

#include <stdio.h>

#include "feed/replay.h"
#include "market/market.h"
#include "util/tsring.h"
#include "widgets/ladder.h"
#include "widgets/spark.h"
#include "widgets/spread.h"
#include "widgets/watchlist.h"

static const char *const sizes[][2] = {
    { "80", "24" }, { "120", "40" }, { "40", "12" }, { "20", "5" }, { "1", "1" }
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* BTCUSDT-like: prices with 2 decimals on a 0.10 tick, quantities with 3 decimals, 40 levels a
 * side around 61800.10 / 61800.20, a wave of mid ticks. */
static view_symbol *hand_view(void)
{
    view_symbol *v = calloc(1, sizeof *v);
    cr_assert(v);
    snprintf(v->symbol, sizeof v->symbol, "BTCUSDT");
    v->state = SYNC_LIVE;
    v->has_scale = true;
    v->px_scale = dec_scale_plain(2);
    v->qty_scale = dec_scale_plain(3);
    for (size_t i = 0; i < 40; i++) {
        int64_t hole = i >= 3 ? 20 : 0; /* 61799.90 and 61799.80 are empty */
        v->bids[i] =
            (book_level){ 6180010 - 10 * (int64_t)i - hole, 1 + (int64_t)((i * 37) % 23) * 211 };
        v->asks[i] = (book_level){ 6180020 + 10 * (int64_t)i, 1 + (int64_t)((i * 29) % 19) * 173 };
    }
    v->nbids = v->nasks = v->bid_levels = v->ask_levels = 40;
    v->nticks = 200;
    for (size_t i = 0; i < v->nticks; i++) {
        int64_t wave = (int64_t)((i * 7) % 40) - (int64_t)((i * 3) % 25);
        v->ticks[i] = (market_tick){ .u = (int64_t)i, .mid_x2 = 12360030 + 10 * wave + (int64_t)i };
    }
    return v;
}

static view_symbol *view_with_state(sync_state st, const char *reason)
{
    view_symbol *v = hand_view();
    v->state = st;
    snprintf(v->reason, sizeof v->reason, "%s", reason);
    return v;
}

/* The real sample replayed through the engine's own market code, turned into a view the way the
 * engine publishes one. */
static view_symbol *sample_view(void)
{
    char *path = tu_source_path(TU_SAMPLE), why[256];
    replay *r = NULL;
    cr_assert_eq(replay_create(NULL, &r, why, sizeof why), 0, "%s", why);
    cr_assert_eq(replay_file(r, path), 0, "%s", replay_error(r));
    free(path);
    replay_finish(r);
    market *m = replay_find_market(r, "BTCUSDT");
    cr_assert(m);
    view_symbol *v = calloc(1, sizeof *v);
    cr_assert(v);
    snprintf(v->symbol, sizeof v->symbol, "BTCUSDT");
    v->state = market_state(m);
    snprintf(v->reason, sizeof v->reason, "%s", market_reason(m));
    v->has_scale = market_scales(m, &v->px_scale, &v->qty_scale);
    const book *b = market_book(m);
    v->nbids = book_top(b, BOOK_BID, v->bids, VIEW_LEVELS);
    v->nasks = book_top(b, BOOK_ASK, v->asks, VIEW_LEVELS);
    v->bid_levels = book_count(b, BOOK_BID);
    v->ask_levels = book_count(b, BOOK_ASK);
    v->nticks = tsring_latest(market_ticks(m), v->ticks, VIEW_TICKS);
    replay_destroy(r);
    return v;
}

/* ---- rendering helpers ----------------------------------------------------------------------- */

typedef void (*draw_fn)(canvas *c, rect r, const theme *t, const void *arg);

static void golden_render(const char *name, int w, int h, bool utf8, draw_fn draw, const void *arg)
{
    canvas *c = canvas_create(w, h);
    theme t;
    theme_init(&t, utf8, DEPTH_256);
    draw(c, canvas_bounds(c), &t, arg);
    char full[256];
    snprintf(full, sizeof full, "%s_%dx%d_%s", name, w, h, utf8 ? "utf8" : "ascii");
    golden_check(c, full);
    canvas_destroy(c);
}

static void golden_all_sizes(const char *name, draw_fn draw, const void *arg)
{
    for (size_t i = 0; i < NSIZES; i++)
        for (int u = 1; u >= 0; u--)
            golden_render(name, atoi(sizes[i][0]), atoi(sizes[i][1]), u, draw, arg);
}

#define SENTINEL "§"

static bool inside(rect r, int x, int y)
{
    return !rect_empty(r) && x >= r.x && y >= r.y && (long long)x < (long long)r.x + r.w &&
           (long long)y < (long long)r.y + r.h;
}

/* Fill the canvas with a sentinel, draw into r, and check that every cell outside r kept it and
 * every cell inside was drawn (a widget owns its whole rectangle). */
static void check_confined_one(draw_fn draw, const void *arg, rect r, bool utf8)
{
    canvas *c = canvas_create(60, 30);
    theme t;
    theme_init(&t, utf8, DEPTH_16);
    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 60; x++)
            canvas_put(c, x, y, canvas_bounds(c), ROLE_DEMO, SENTINEL);
    draw(c, r, &t, arg);
    for (int y = 0; y < 30; y++) {
        for (int x = 0; x < 60; x++) {
            const cell *cl = canvas_at(c, x, y);
            bool kept = strcmp(cl->glyph, SENTINEL) == 0 && cl->role == ROLE_DEMO;
            if (inside(r, x, y))
                cr_assert(!kept, "cell %d,%d inside {%d,%d,%d,%d} not drawn", x, y, r.x, r.y, r.w,
                          r.h);
            else
                cr_assert(kept, "cell %d,%d outside {%d,%d,%d,%d} was written", x, y, r.x, r.y, r.w,
                          r.h);
        }
    }
    canvas_destroy(c);
}

static void check_confined(draw_fn draw, const void *arg)
{
    static const rect rects[] = {
        { 3, 2, 0, 0 },   { 3, 2, 1, 1 },     { 3, 2, -4, 5 },      { 3, 2, 5, -1 },
        { 3, 2, 2, 1 },   { 3, 2, 7, 2 },     { 3, 2, 20, 5 },      { 3, 2, 40, 12 },
        { 1, 1, 57, 27 }, { -5, -5, 30, 10 }, { 10, 10, 200, 200 }, { 0, 29, 60, 1 },
        { 59, 0, 1, 30 }, { 2, 3, 13, 3 },    { 2, 3, 33, 4 },
    };
    for (size_t i = 0; i < sizeof rects / sizeof rects[0]; i++)
        for (int u = 0; u < 2; u++)
            check_confined_one(draw, arg, rects[i], u);
}

/* ---- adapters -------------------------------------------------------------------------------- */

static void draw_ladder(canvas *c, rect r, const theme *t, const void *arg)
{
    ladder_draw(c, r, t, arg);
}

typedef struct spread_arg {
    const view_symbol *v;
    int levels;
} spread_arg;

static void draw_spread(canvas *c, rect r, const theme *t, const void *arg)
{
    const spread_arg *a = arg;
    spread_draw(c, r, t, a->v, a->levels);
}

static void draw_spark(canvas *c, rect r, const theme *t, const void *arg)
{
    spark_draw(c, r, t, arg);
}

typedef struct watch_arg {
    const view_symbol *const *syms;
    size_t n, selected;
} watch_arg;

static void draw_watch(canvas *c, rect r, const theme *t, const void *arg)
{
    const watch_arg *a = arg;
    watchlist_draw(c, r, t, a->syms, a->n, a->selected);
}

/* Spread lines at several widths stacked in one canvas, so one golden shows the degradation. */
static void draw_spread_widths(canvas *c, rect r, const theme *t, const void *arg)
{
    static const int widths[] = { 100, 90, 75, 60, 50, 40, 30, 20, 12, 1 };
    for (int i = 0; i < (int)(sizeof widths / sizeof widths[0]) && i < r.h; i++)
        draw_spread(c, (rect){ r.x, r.y + i, widths[i] < r.w ? widths[i] : r.w, 1 }, t, arg);
}

/* ---- ladder ---------------------------------------------------------------------------------- */

Test(ladder, golden_hand_view_all_sizes)
{
    view_symbol *v = hand_view();
    ladder_mark marks[] = { { BOOK_BID, 6180000, LADDER_ADD },
                            { BOOK_ASK, 6180040, LADDER_PULL },
                            { BOOK_ASK, 6180020, LADDER_ADD } };
    ladder_input in = { .v = v, .group = 1, .marks = marks, .nmarks = 3 };
    golden_all_sizes("ladder_live", draw_ladder, &in);
    free(v);
}

Test(ladder, golden_grouped)
{
    view_symbol *v = hand_view();
    ladder_mark marks[] = { { BOOK_BID, 6179990, LADDER_PULL } };
    ladder_input in = { .v = v, .group = 50, .marks = marks, .nmarks = 1 };
    golden_render("ladder_group50", 60, 16, true, draw_ladder, &in);
    golden_render("ladder_group50", 60, 16, false, draw_ladder, &in);
    free(v);
}

Test(ladder, golden_not_live)
{
    view_symbol *v = view_with_state(SYNC_RESYNCING, "pu 4471235 != previous u 4471230");
    ladder_input in = { .v = v, .group = 1 };
    golden_all_sizes("ladder_resync", draw_ladder, &in);
    v->state = SYNC_STALE;
    snprintf(v->reason, sizeof v->reason, "no depth message for 10 s");
    golden_render("ladder_stale", 50, 10, true, draw_ladder, &in);
    free(v);
}

Test(ladder, golden_empty_and_one_sided)
{
    view_symbol *v = hand_view();
    ladder_input in = { .v = v, .group = 1 };
    v->nasks = v->ask_levels = 0;
    golden_render("ladder_no_asks", 40, 10, true, draw_ladder, &in);
    v->nasks = v->ask_levels = 40;
    v->nbids = v->bid_levels = 0;
    golden_render("ladder_no_bids", 40, 10, false, draw_ladder, &in);
    v->nasks = v->ask_levels = 0;
    golden_render("ladder_empty", 40, 7, true, draw_ladder, &in);
    v->has_scale = false;
    v->state = SYNC_SNAPSHOTTING;
    snprintf(v->reason, sizeof v->reason, "waiting for the snapshot");
    golden_render("ladder_snapshotting", 40, 7, true, draw_ladder, &in);
    free(v);
}

Test(ladder, golden_real_sample)
{
    view_symbol *v = sample_view();
    cr_assert_eq(v->state, SYNC_LIVE, "sample ends %s: %s", sync_state_name(v->state), v->reason);
    ladder_input in = { .v = v, .group = 1 };
    golden_render("ladder_sample", 80, 24, true, draw_ladder, &in);
    golden_render("ladder_sample", 40, 12, false, draw_ladder, &in);
    in.group = 100; /* 1.00 USDT */
    golden_render("ladder_sample_group100", 80, 24, true, draw_ladder, &in);
    free(v);
}

/* Collects the price of every ladder row (first token, in a bid or ask role) top to bottom. */
typedef struct parsed_row {
    int64_t px;
    char side; /* 'a' or 'b' (or the flash roles' letters) */
} parsed_row;

static size_t parse_ladder(const canvas *c, const view_symbol *v, parsed_row *out, size_t cap)
{
    size_t n = 0;
    for (int y = 0; y < canvas_height(c) && n < cap; y++) {
        int x = 0;
        while (x < canvas_width(c) && strcmp(canvas_at(c, x, y)->glyph, " ") == 0)
            x++;
        char tok[64];
        size_t len = 0;
        role ro = x < canvas_width(c) ? canvas_at(c, x, y)->role : ROLE_NORMAL;
        for (; x < canvas_width(c) && len + 1 < sizeof tok; x++) {
            const char *g = canvas_at(c, x, y)->glyph;
            if (strlen(g) != 1 || g[0] == ' ')
                break;
            tok[len++] = g[0];
        }
        tok[len] = '\0';
        int64_t px;
        if (len == 0 || dec_parse(tok, len, &v->px_scale, &px) != 0)
            continue;
        cr_assert(ro == ROLE_BID || ro == ROLE_ASK || ro == ROLE_FLASH_ADD || ro == ROLE_FLASH_PULL,
                  "price %s in role %c", tok, theme_role_letter(ro));
        out[n++] = (parsed_row){ px, theme_role_letter(ro) };
    }
    return n;
}

static bool has_level(const book_level *lv, size_t n, int64_t px)
{
    for (size_t i = 0; i < n; i++)
        if (lv[i].px == px)
            return true;
    return false;
}

/* Every printed price parses back to a level of the view, asks strictly above bids, each side
 * ordered from the top down, best levels next to the middle. */
static void check_prices_round_trip(const view_symbol *v, int w, int h)
{
    canvas *c = canvas_create(w, h);
    theme t;
    theme_init(&t, true, DEPTH_256);
    ladder_input in = { .v = v, .group = 1 };
    ladder_draw(c, canvas_bounds(c), &t, &in);
    parsed_row rows[256];
    size_t n = parse_ladder(c, v, rows, 256);
    int body = h >= 6 ? h - 1 : h;
    size_t expect = (size_t)(body / 2) + (size_t)(body - body / 2) - (body >= 3 && body % 2);
    cr_assert_eq(n, expect, "%zu prices parsed at %dx%d, %zu expected", n, w, h, expect);
    size_t nask = 0;
    while (nask < n && rows[nask].side == 'a')
        nask++;
    for (size_t i = 0; i < n; i++) {
        bool ask = i < nask;
        cr_assert(has_level(ask ? v->asks : v->bids, ask ? v->nasks : v->nbids, rows[i].px),
                  "row %zu price %lld is not a level of the view", i, (long long)rows[i].px);
        if (i > 0)
            cr_assert_gt(rows[i - 1].px, rows[i].px, "rows out of order at %zu", i);
    }
    if (nask > 0)
        cr_assert_eq(rows[nask - 1].px, v->asks[0].px, "best ask not next to the middle");
    if (nask < n)
        cr_assert_eq(rows[nask].px, v->bids[0].px, "best bid not next to the middle");
    canvas_destroy(c);
}

Test(ladder, prices_parse_back_to_the_view)
{
    view_symbol *v = hand_view();
    check_prices_round_trip(v, 80, 24);
    check_prices_round_trip(v, 40, 12);
    check_prices_round_trip(v, 30, 7);
    check_prices_round_trip(v, 60, 5);
    free(v);
    v = sample_view();
    check_prices_round_trip(v, 80, 24);
    check_prices_round_trip(v, 120, 40);
    check_prices_round_trip(v, 60, 150); /* more rows than levels in view */
    free(v);
}

Test(ladder, grouping_sums_quantities_and_rounds_outward)
{
    view_symbol *v = calloc(1, sizeof *v);
    v->state = SYNC_LIVE;
    v->has_scale = true;
    v->px_scale = dec_scale_plain(1);
    v->qty_scale = dec_scale_plain(0);
    /* bids 100.9 100.5 100.4 99.9; asks 101.1 101.5 101.6 */
    v->bids[0] = (book_level){ 1009, 1 };
    v->bids[1] = (book_level){ 1005, 2 };
    v->bids[2] = (book_level){ 1004, 4 };
    v->bids[3] = (book_level){ 999, 8 };
    v->asks[0] = (book_level){ 1011, 16 };
    v->asks[1] = (book_level){ 1015, 32 };
    v->asks[2] = (book_level){ 1016, 64 };
    v->nbids = v->bid_levels = 4;
    v->nasks = v->ask_levels = 3;
    canvas *c = canvas_create(30, 8);
    theme t;
    theme_init(&t, false, DEPTH_MONO);
    ladder_input in = { .v = v, .group = 5 };
    ladder_draw(c, canvas_bounds(c), &t, &in);
    char *d = canvas_dump(c, false);
    /* header, 3 ask rows, separator, 3 bid rows: asks 101.5 (16+32) and 102.0 (64); bids 100.5
     * (1+2), 100.0 (4) and 99.5 (8). Bars over 16 cells = 128 eighths for cum 112: 48 -> 54 (6 full
     * + 6/8 '+'), 3 -> 3 ('.'), 7 -> 8, 15 -> 17 (2 full + 1/8 '.'). */
    cr_assert_str_eq(d,
                     "price qty cum group 0.5       \n"
                     "                              \n"
                     "102.0  64 112 ################\n"
                     "101.5  48  48 ######+         \n"
                     "------------------------------\n"
                     "100.5   3   3 .               \n"
                     "100.0   4   7 #               \n"
                     " 99.5   8  15 ##.             \n",
                     "got:\n%s", d);
    free(d);
    canvas_destroy(c);
    free(v);
}

/* A deep book in a few rows: the shown groups are complete (their quantities and cumulative sums
 * count every level of the group), marks on levels that are not shown change nothing, and a mark
 * on a shown group's level flashes that row. */
Test(ladder, a_deep_book_in_few_rows_groups_and_marks_only_what_shows)
{
    view_symbol *v = calloc(1, sizeof *v);
    v->state = SYNC_LIVE;
    v->has_scale = true;
    v->px_scale = dec_scale_plain(1);
    v->qty_scale = dec_scale_plain(0);
    for (int i = 0; i < VIEW_LEVELS; i++) {
        v->bids[i] = (book_level){ 1000 - i, 1 };
        v->asks[i] = (book_level){ 1001 + i, 2 };
    }
    v->nbids = v->nasks = VIEW_LEVELS;
    v->bid_levels = v->ask_levels = 5000;
    ladder_mark marks[] = { { BOOK_BID, 950, LADDER_ADD },
                            { BOOK_BID, 997, LADDER_PULL },
                            { BOOK_ASK, 1100, LADDER_ADD } };
    canvas *c = canvas_create(20, 8);
    theme t;
    theme_init(&t, false, DEPTH_MONO);
    ladder_input in = { .v = v, .group = 5, .marks = marks, .nmarks = 3 };
    ladder_draw(c, canvas_bounds(c), &t, &in);
    char *d = canvas_dump(c, false);
    /* asks round up: 100.1..100.5 -> 100.5 (5 x 2), then 101.0, 101.5; bids round down: 100.0
     * alone, then 99.5 (99.5..99.9) and 99.0 (99.0..99.4), 5 each. */
    cr_assert_str_eq(d,
                     "price qty cum group \n"
                     "101.5  10  30 ######\n"
                     "101.0  10  20 ####  \n"
                     "100.5  10  10 ##    \n"
                     "--------------------\n"
                     "100.0   1   1 .     \n"
                     " 99.5   5   6 #.    \n"
                     " 99.0   5  11 ##.   \n",
                     "got:\n%s", d);
    free(d);
    for (int y = 1; y < 8; y++) /* asks on rows 1-3, the separator on 4, bids on 5-7 */
        if (y != 4)
            cr_assert_eq(canvas_at(c, 1, y)->role,
                         y == 6  ? ROLE_FLASH_PULL
                         : y < 4 ? ROLE_ASK
                                 : ROLE_BID,
                         "row %d", y);
    canvas_destroy(c);
    free(v);
}

Test(ladder, confined_to_its_rect)
{
    view_symbol *v = hand_view();
    ladder_mark marks[] = { { BOOK_BID, 6180000, LADDER_ADD } };
    ladder_input in = { .v = v, .group = 1, .marks = marks, .nmarks = 1 };
    check_confined(draw_ladder, &in);
    in.group = 1000;
    check_confined(draw_ladder, &in);
    v->state = SYNC_RESYNCING;
    snprintf(v->reason, sizeof v->reason, "pu 1 != 2");
    check_confined(draw_ladder, &in);
    v->nasks = 0;
    check_confined(draw_ladder, &in);
    v->nbids = 0;
    v->has_scale = false;
    check_confined(draw_ladder, &in);
    free(v);
    v = sample_view();
    in.v = v;
    check_confined(draw_ladder, &in);
    free(v);
}

/* ---- spread ---------------------------------------------------------------------------------- */

static char *line_text(const canvas *c, int y)
{
    char *d = canvas_dump(c, false);
    char *p = d;
    for (int i = 0; i < y; i++)
        p = strchr(p, '\n') + 1;
    *strchr(p, '\n') = '\0';
    char *out = strdup(p);
    free(d);
    /* right-trim */
    for (size_t n = strlen(out); n > 0 && out[n - 1] == ' '; n--)
        out[n - 1] = '\0';
    return out;
}

static char *spread_text(const view_symbol *v, int w, int levels)
{
    canvas *c = canvas_create(w, 1);
    theme t;
    theme_init(&t, true, DEPTH_256);
    spread_draw(c, canvas_bounds(c), &t, v, levels);
    char *s = line_text(c, 0);
    canvas_destroy(c);
    return s;
}

Test(spread, exact_fields)
{
    view_symbol *v = hand_view();
    v->bids[0].qty = 1123;
    v->asks[0].qty = 877;
    char *s = spread_text(v, 120, 1);
    /* 0.10 / 61800.15 = 0.0162 bps */
    cr_assert_str_eq(
        s, "bid 61800.10  ask 61800.20  spread 0.10 (1 tick, 0.02 bps)  mid 61800.15  imb +12.3%");
    free(s);
    v->asks[0].px = 6180050; /* 4 ticks, even mid */
    v->asks[0].qty = 3369;   /* (1123 - 3369) / 4492 = -50.0 % */
    s = spread_text(v, 120, 1);
    cr_assert_str_eq(
        s, "bid 61800.10  ask 61800.50  spread 0.40 (4 ticks, 0.06 bps)  mid 61800.30  imb -50.0%");
    free(s);
    free(v);
}

Test(spread, mid_of_odd_sum_gets_one_more_decimal_and_even_none)
{
    char buf[DEC_FMT_MAX];
    dec_scale sc = dec_scale_plain(2);
    cr_assert_eq(spark_format_value(12360030, 2, &sc, buf, sizeof buf), 8);
    cr_assert_str_eq(buf, "61800.15");
    spark_format_value(12360031, 2, &sc, buf, sizeof buf);
    cr_assert_str_eq(buf, "61800.155");
    spark_format_value(-3, 2, &sc, buf, sizeof buf);
    cr_assert_str_eq(buf, "-0.015");
    spark_format_value(10, 3, &sc, buf, sizeof buf); /* 0.0333.. rounded to 2 more decimals */
    cr_assert_str_eq(buf, "0.0333");
    spark_format_value(7, 1, &sc, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.07");
}

Test(spread, degrades_by_importance)
{
    view_symbol *v = hand_view();
    spread_arg a = { v, 10 };
    golden_render("spread_widths", 100, 10, true, draw_spread_widths, &a);
    golden_render("spread_widths", 100, 10, false, draw_spread_widths, &a);
    /* whatever the width, bid and ask come before anything else is kept */
    for (int w = 1; w <= 100; w++) {
        char *s = spread_text(v, w, 10);
        if (w >= 27)
            cr_assert(strstr(s, "bid 61800.10") && strstr(s, "ask 61800.20"), "w %d: %s", w, s);
        if (strstr(s, "mid"))
            cr_assert(strstr(s, "imb") && strstr(s, "bps"), "w %d: mid kept before %s", w, s);
        cr_assert_leq(canvas_width_of(s), w);
        free(s);
    }
    free(v);
}

Test(spread, not_live_and_degenerate_books)
{
    view_symbol *v = view_with_state(SYNC_RESYNCING, "pu 1 != 2");
    spread_arg a = { v, 10 };
    golden_render("spread_resync", 90, 1, true, draw_spread, &a);
    char *s = spread_text(v, 90, 10);
    cr_assert(strncmp(s, "RESYNCING  bid 61800.10", 23) == 0, "%s", s);
    free(s);
    v->state = SYNC_LIVE;
    v->nasks = 0;
    s = spread_text(v, 90, 10);
    cr_assert_str_eq(s, "bid 61800.10  ask -  imb +100.0%");
    free(s);
    v->nbids = 0;
    s = spread_text(v, 90, 10);
    cr_assert_str_eq(s, "bid -  ask -");
    free(s);
    v->nbids = v->nasks = 1; /* too few levels to trust a tick */
    s = spread_text(v, 90, 10);
    cr_assert(strstr(s, "spread 0.10 (0.02 bps)"), "%s", s);
    free(s);
    v->asks[0].px = v->bids[0].px; /* crossed / locked: still printed, zero spread */
    s = spread_text(v, 90, 10);
    cr_assert(strstr(s, "spread 0.00"), "%s", s);
    free(s);
    check_confined(draw_spread, &a);
    v->has_scale = false;
    check_confined(draw_spread, &a);
    free(v);
}

Test(spread, real_sample_prices_parse_back)
{
    view_symbol *v = sample_view();
    char *s = spread_text(v, 120, 10);
    int64_t bid, ask;
    char bs[DEC_FMT_MAX], as[DEC_FMT_MAX];
    cr_assert_eq(sscanf(s, "bid %47s ask %47s", bs, as), 2, "%s", s);
    cr_assert_eq(dec_parse(bs, strlen(bs), &v->px_scale, &bid), 0);
    cr_assert_eq(dec_parse(as, strlen(as), &v->px_scale, &ask), 0);
    cr_assert_eq(bid, v->bids[0].px);
    cr_assert_eq(ask, v->asks[0].px);
    spread_arg a = { v, 10 };
    golden_render("spread_sample", 100, 1, true, draw_spread, &a);
    free(s);
    free(v);
}

/* ---- spark ----------------------------------------------------------------------------------- */

static char *spark_text(const spark_input *in, int w, int h, bool utf8)
{
    canvas *c = canvas_create(w, h);
    theme t;
    theme_init(&t, utf8, DEPTH_256);
    spark_draw(c, canvas_bounds(c), &t, in);
    char *d = canvas_dump(c, false);
    canvas_destroy(c);
    return d;
}

Test(spark, flat_series_mid_height_and_empty_series)
{
    int64_t flat[5] = { 7, 7, 7, 7, 7 };
    spark_input in = { .vals = flat, .n = 5, .divisor = 1 };
    char *d = spark_text(&in, 5, 1, true);
    cr_assert_str_eq(d, "▄▄▄▄▄\n");
    free(d);
    d = spark_text(&in, 3, 2, true);
    cr_assert_str_eq(d, "   \n███\n");
    free(d);
    in.n = 0;
    d = spark_text(&in, 4, 2, true);
    cr_assert_str_eq(d, "    \n    \n");
    free(d);
}

Test(spark, downsampling_keeps_each_bucket_close_and_true_range)
{
    int64_t v[80];
    for (int i = 0; i < 80; i++)
        v[i] = i;
    v[41] = 1000; /* a spike inside a bucket: widens the scale, no column reaches it */
    spark_input in = { .vals = v, .n = 80, .divisor = 1 };
    char *d = spark_text(&in, 8, 1, true); /* buckets of 10: closes 9, 19, ..., 79 */
    cr_assert_str_eq(d, "▁▁▁▁▁▁▁▁\n");
    free(d);
    v[41] = 41;
    d = spark_text(&in, 8, 1, true);
    cr_assert_str_eq(d, "▁▂▃▄▅▆▇█\n"); /* closes 9..79 over 0..79 */
    free(d);
    /* fewer samples than columns: one per column, newest at the right edge */
    in.n = 3;
    d = spark_text(&in, 6, 1, false);
    cr_assert_str_eq(d, "   _=@\n");
    free(d);
}

Test(spark, labels_in_the_scale)
{
    int64_t v[6] = { 12360031, 12360030, 12360040, 12360020, 12360050, 12360041 };
    dec_scale sc = dec_scale_plain(2);
    spark_input in = { .vals = v, .n = 6, .scale = &sc, .divisor = 2, .labels = true };
    char *d = spark_text(&in, 16, 3, true);
    /* 24 eighths: the min fills 1, the max 24; 61800.155 fills 1 + 11 * 23 / 30 = 9 */
    cr_assert_str_eq(d,
                     "61800.25      █▁\n"
                     "          ▁ █ ██\n"
                     "61800.10  ███▁██\n",
                     "got:\n%s", d);
    free(d);
    /* no room for the labels: chart only */
    d = spark_text(&in, 10, 3, true);
    cr_assert(strstr(d, "61800") == NULL);
    free(d);
}

Test(spark, golden_sizes_and_confined)
{
    view_symbol *v = sample_view();
    int64_t vals[VIEW_TICKS];
    for (size_t i = 0; i < v->nticks; i++)
        vals[i] = v->ticks[i].mid_x2;
    spark_input in = {
        .vals = vals, .n = v->nticks, .scale = &v->px_scale, .divisor = 2, .labels = true
    };
    golden_all_sizes("spark_sample", draw_spark, &in);
    in.dim = true;
    golden_render("spark_sample_dim", 40, 4, true, draw_spark, &in);
    check_confined(draw_spark, &in);
    in.n = 1;
    check_confined(draw_spark, &in);
    int64_t extreme[3] = { INT64_MIN, 0, INT64_MAX };
    in.vals = extreme;
    in.n = 3;
    check_confined(draw_spark, &in);
    free(v);
}

/* ---- watchlist ------------------------------------------------------------------------------- */

Test(watchlist, golden_and_confined)
{
    view_symbol *a = hand_view(), *b = hand_view(), *c = hand_view(), *d = hand_view();
    snprintf(b->symbol, sizeof b->symbol, "ETHUSDT");
    for (size_t i = 0; i < b->nticks; i++)
        b->ticks[i].mid_x2 = 600000 - 3 * (int64_t)i;
    b->state = SYNC_RESYNCING;
    snprintf(c->symbol, sizeof c->symbol, "SOLUSDT");
    c->nticks = 1;
    snprintf(d->symbol, sizeof d->symbol, "1000PEPEUSDT");
    d->state = SYNC_SNAPSHOTTING;
    d->has_scale = false;
    d->nticks = 0;
    const view_symbol *syms[] = { a, b, c, d };
    watch_arg w = { syms, 4, 1 };
    golden_render("watchlist", 80, 5, true, draw_watch, &w);
    golden_render("watchlist", 80, 5, false, draw_watch, &w);
    golden_render("watchlist", 40, 4, true, draw_watch, &w);
    golden_render("watchlist", 20, 3, true, draw_watch, &w);
    golden_render("watchlist", 1, 1, true, draw_watch, &w);
    w.selected = 3; /* scrolled so the selection shows */
    golden_render("watchlist_scrolled", 60, 2, true, draw_watch, &w);
    check_confined(draw_watch, &w);
    free(a);
    free(b);
    free(c);
    free(d);
}

Test(watchlist, real_sample_change_and_mid)
{
    view_symbol *v = sample_view();
    const view_symbol *syms[] = { v };
    canvas *c = canvas_create(70, 1);
    theme t;
    theme_init(&t, true, DEPTH_256);
    watchlist_draw(c, canvas_bounds(c), &t, syms, 1, 0);
    char *s = line_text(c, 0);
    char mid[DEC_FMT_MAX];
    spark_format_value(v->ticks[v->nticks - 1].mid_x2, 2, &v->px_scale, mid, sizeof mid);
    cr_assert(strncmp(s, "1 BTCUSDT LIVE  ", 16) == 0, "%s", s);
    cr_assert(strstr(s, mid), "%s lacks %s", s, mid);
    cr_assert_eq(canvas_at(c, 0, 0)->role, ROLE_SELECTED);
    cr_assert_eq(canvas_at(c, 10, 0)->role, ROLE_OK);
    golden_check(c, "watchlist_sample");
    free(s);
    canvas_destroy(c);
    free(v);
}

/* ---- random views ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? rng_state % n : 0;
}

/* Sorted books of random depth, some with absurd quantities or prices, random states and series. */
static void random_view(view_symbol *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->symbol, sizeof v->symbol, "R%uUSDT", (unsigned)rnd(1000));
    v->state = (sync_state)rnd(4);
    snprintf(v->reason, sizeof v->reason, "%s", rnd(2) ? "pu 1 != 2" : "");
    v->has_scale = rnd(8) != 0;
    v->px_scale = dec_scale_plain((unsigned)rnd(9));
    v->qty_scale = dec_scale_plain((unsigned)rnd(9));
    bool huge = rnd(6) == 0;
    int64_t step = 1 + (int64_t)rnd(50), mid = huge ? INT64_MAX / 4 : 1000 + (int64_t)rnd(1000000);
    v->nbids = v->bid_levels = rnd(VIEW_LEVELS + 1);
    v->nasks = v->ask_levels = rnd(VIEW_LEVELS + 1);
    for (size_t i = 0; i < v->nbids; i++)
        v->bids[i] = (book_level){ mid - step * (int64_t)(i + 1),
                                   huge ? INT64_MAX / 8 : 1 + (int64_t)rnd(1000) };
    for (size_t i = 0; i < v->nasks; i++)
        v->asks[i] =
            (book_level){ mid + step * (int64_t)i, huge ? INT64_MAX / 8 : 1 + (int64_t)rnd(1000) };
    if (rnd(3) == 0)
        v->ask_levels += 500; /* the view is truncated */
    v->nticks = rnd(VIEW_TICKS + 1);
    for (size_t i = 0; i < v->nticks; i++)
        v->ticks[i].mid_x2 = huge ? (int64_t)rnd(UINT64_MAX) : 2 * mid + (int64_t)rnd(100);
}

Test(widgets, random_views_stay_in_their_rect)
{
    view_symbol *v = malloc(sizeof *v), *w = malloc(sizeof *w);
    cr_assert(v && w);
    for (int it = 0; it < 150; it++) {
        random_view(v);
        random_view(w);
        rect r = { (int)rnd(70) - 5, (int)rnd(40) - 5, (int)rnd(80) - 3, (int)rnd(45) - 3 };
        ladder_mark marks[2] = { { BOOK_BID, v->nbids ? v->bids[0].px : 0, LADDER_ADD },
                                 { BOOK_ASK, v->nasks ? v->asks[0].px : 0, LADDER_PULL } };
        ladder_input li = { v, 1 + (int64_t)rnd(3) * (int64_t)rnd(1000), marks, 2 };
        check_confined_one(draw_ladder, &li, r, it & 1);
        spread_arg sa = { v, (int)rnd(30) - 5 };
        check_confined_one(draw_spread, &sa, r, it & 1);
        int64_t vals[VIEW_TICKS];
        for (size_t i = 0; i < v->nticks; i++)
            vals[i] = v->ticks[i].mid_x2;
        spark_input si = { vals, v->nticks, &v->px_scale, 1 + (int)rnd(3), rnd(2), rnd(2) };
        check_confined_one(draw_spark, &si, r, it & 1);
        const view_symbol *syms[] = { v, w, v };
        watch_arg wa = { syms, 1 + rnd(3), rnd(4) };
        check_confined_one(draw_watch, &wa, r, it & 1);
    }
    free(v);
    free(w);
}
