/* layout: every panel inside the screen, none overlapping, and the too-small state. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tui/layout.h"

static rect panel(const layout *l, int i)
{
    const rect r[] = { l->ladder,  l->spread,    l->spark,     l->tape,  l->strip,
                       l->latency, l->watchlist, l->separator, l->status };
    return r[i];
}
#define NPANELS 9

static bool overlap(rect a, rect b)
{
    if (rect_empty(a) || rect_empty(b))
        return false;
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void check_sane(int w, int h)
{
    layout l;
    layout_compute(w, h, 5, &l);
    for (int i = 0; i < NPANELS; i++) {
        rect r = panel(&l, i);
        if (rect_empty(r))
            continue;
        cr_assert(r.x >= 0 && r.y >= 0 && r.x + r.w <= w && r.y + r.h <= h,
                  "%dx%d panel %d (%d,%d %dx%d) leaves the screen", w, h, i, r.x, r.y, r.w, r.h);
        for (int j = i + 1; j < NPANELS; j++)
            cr_assert(!overlap(r, panel(&l, j)), "%dx%d panels %d and %d overlap", w, h, i, j);
    }
}

Test(layout, panels_stay_inside_and_apart_at_every_size)
{
    for (int w = 1; w <= 260; w += 3)
        for (int h = 1; h <= 80; h += 1)
            check_sane(w, h);
}

Test(layout, full_shape_shows_every_panel)
{
    layout l;
    layout_compute(120, 40, 5, &l);
    cr_assert_eq(l.shape, LAYOUT_FULL);
    cr_assert(!l.too_small);
    const char *names[] = { "ladder", "spread", "spark", "tape", "strip", "latency", "watchlist" };
    for (int i = 0; i < 7; i++)
        cr_assert(!rect_empty(panel(&l, i)), "%s is empty at 120x40", names[i]);
    cr_assert_eq(l.status.y + l.status.h, 40, "status at the bottom");
    cr_assert_eq(l.status.w, 120);
    cr_assert_eq(l.watchlist.h, 6, "title + 5 symbols");
    cr_assert_geq(l.ladder.h, 30, "the ladder gets the height");
    cr_assert_eq(l.spread.y, l.ladder.y + l.ladder.h, "spread right under the ladder");
    cr_assert_eq(l.spread.w, 120, "the spread line has the whole width (room for mid and imb)");
    cr_assert_eq(l.latency.y + l.latency.h, l.spread.y, "the right column ends above it");
    cr_assert_eq(l.separator.y + l.separator.h, l.spread.y);
    layout_compute(200, 50, 5, &l);
    cr_assert_eq(l.shape, LAYOUT_FULL);
    cr_assert_eq(l.ladder.w, 64, "ladder width is capped");
    cr_assert_eq(l.spread.w, 200);
}

Test(layout, compact_shape_keeps_the_ladder_and_status)
{
    layout l;
    layout_compute(40, 12, 5, &l);
    cr_assert_eq(l.shape, LAYOUT_COMPACT);
    cr_assert(!rect_empty(l.ladder));
    cr_assert(!rect_empty(l.spread));
    cr_assert(!rect_empty(l.status));
    cr_assert(!rect_empty(l.strip));
    cr_assert(rect_empty(l.tape) && rect_empty(l.latency) && rect_empty(l.watchlist));
    cr_assert_eq(l.status.y + l.status.h, 12);
}

Test(layout, too_small_says_what_is_needed)
{
    layout l;
    layout_compute(20, 6, 5, &l);
    cr_assert(l.too_small);
    cr_assert_eq(l.shape, LAYOUT_TOO_SMALL);
    for (int i = 0; i < NPANELS; i++)
        cr_assert(rect_empty(panel(&l, i)));
    char text[128];
    layout_too_small_text(&l, text, sizeof text);
    cr_assert_str_eq(text, "terminal too small (need 32x10, have 20x6)");
    layout_compute(LAYOUT_MIN_W, LAYOUT_MIN_H, 5, &l);
    cr_assert(!l.too_small, "the minimum itself fits");
    layout_compute(LAYOUT_MIN_W - 1, LAYOUT_MIN_H, 5, &l);
    cr_assert(l.too_small);
}

Test(layout, watchlist_grows_with_symbols_within_bounds)
{
    layout l;
    layout_compute(120, 40, 9, &l);
    cr_assert_eq(l.watchlist.h, 10);
    layout_compute(120, 40, 200, &l);
    cr_assert_eq(l.watchlist.h, 11, "long lists scroll inside the panel");
    layout_compute(120, 24, 200, &l);
    cr_assert_geq(l.tape.h, 3, "the tape keeps its minimum");
}

Test(layout, overlay_is_centred_and_clipped)
{
    layout l;
    layout_compute(120, 40, 5, &l);
    rect r = layout_overlay(&l, 60, 20);
    cr_assert_eq(r.w, 60);
    cr_assert_eq(r.h, 20);
    cr_assert_eq(r.x, 30);
    cr_assert_eq(r.y, 10);
    r = layout_overlay(&l, 500, 500);
    cr_assert_eq(r.w, 118);
    cr_assert_eq(r.h, 38);
}
