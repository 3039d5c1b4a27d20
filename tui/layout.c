/* layout: panel rectangles for a terminal size (see layout.h). */
#include "tui/layout.h"

#include <stdio.h>
#include <string.h>

#define LADDER_MIN_W 40
#define LADDER_MAX_W 64
#define SPARK_H      6
#define LATENCY_H    8
#define TAPE_MIN_H   3
#define WATCH_MAX_H  11 /* title + 10 symbols; more scroll inside the widget */

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static rect mk(int x, int y, int w, int h)
{
    return (rect){ x, y, w > 0 ? w : 0, h > 0 ? h : 0 };
}

/* Right column, top to bottom: strip, watchlist, sparkline, latency, and the tape takes the rest
 * (it is the panel that grows best). Panels that no longer fit get empty rectangles. */
static void stack_right(layout *l, int x, int w, int h, size_t nwatch)
{
    int y = 0;
    l->strip = mk(x, y, w, 1);
    y += 1;
    int watch_h = clamp((int)nwatch + 1, 2, WATCH_MAX_H);
    int rest = h - y;
    if (watch_h > rest - SPARK_H - LATENCY_H - TAPE_MIN_H)
        watch_h = clamp(rest - SPARK_H - LATENCY_H - TAPE_MIN_H, 2, WATCH_MAX_H);
    l->watchlist = mk(x, y, w, watch_h);
    y += watch_h;
    l->spark = mk(x, y, w, SPARK_H);
    y += SPARK_H;
    int latency_h = clamp(h - y - TAPE_MIN_H, 0, LATENCY_H);
    l->tape = mk(x, y, w, h - y - latency_h);
    l->latency = mk(x, h - latency_h, w, latency_h);
}

static void full_shape(layout *l, int w, int h, size_t nwatch)
{
    int status_h = 2;
    int main_h = h - status_h;
    int ladder_w = clamp(w * 45 / 100, LADDER_MIN_W, LADDER_MAX_W);
    l->ladder = mk(0, 0, ladder_w, main_h - 1);
    /* The whole width: under the ladder alone, a BTCUSDT line has no room for mid and imbalance. */
    l->spread = mk(0, main_h - 1, w, 1);
    l->separator = mk(ladder_w, 0, 1, main_h - 1);
    stack_right(l, ladder_w + 1, w - ladder_w - 1, main_h - 1, nwatch);
    l->status = mk(0, main_h, w, status_h);
}

static void compact_shape(layout *l, int w, int h)
{
    int status_h = h >= 16 ? 2 : 1;
    l->strip = mk(0, 0, w, 1);
    l->ladder = mk(0, 1, w, h - status_h - 2);
    l->spread = mk(0, h - status_h - 1, w, 1);
    l->status = mk(0, h - status_h, w, status_h);
}

void layout_compute(int w, int h, size_t nwatch, layout *out)
{
    memset(out, 0, sizeof *out);
    out->screen = mk(0, 0, w, h);
    out->need_w = LAYOUT_MIN_W;
    out->need_h = LAYOUT_MIN_H;
    if (w >= LAYOUT_FULL_W && h >= LAYOUT_FULL_H) {
        out->shape = LAYOUT_FULL;
        full_shape(out, w, h, nwatch);
    } else if (w >= LAYOUT_MIN_W && h >= LAYOUT_MIN_H) {
        out->shape = LAYOUT_COMPACT;
        compact_shape(out, w, h);
    } else {
        out->shape = LAYOUT_TOO_SMALL;
        out->too_small = true;
    }
}

rect layout_overlay(const layout *l, int want_w, int want_h)
{
    int w = want_w < l->screen.w - 2 ? want_w : l->screen.w - 2;
    int h = want_h < l->screen.h - 2 ? want_h : l->screen.h - 2;
    if (w <= 0 || h <= 0)
        return mk(0, 0, 0, 0);
    return mk((l->screen.w - w) / 2, (l->screen.h - h) / 2, w, h);
}

void layout_too_small_text(const layout *l, char *buf, size_t cap)
{
    snprintf(buf, cap, "terminal too small (need %dx%d, have %dx%d)", l->need_w, l->need_h,
             l->screen.w, l->screen.h);
}
