/* tape: the trades tape (see tape.h). */
#include "widgets/tape.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/dec.h"

#define MS_PER_DAY 86400000LL

/* One column arrangement; the draw picks the first of `layouts` that fits the width. */
typedef struct tape_layout {
    int time_w;    /* 12 "HH:MM:SS.mmm", 9 "MM:SS.mmm", 6 "SS.mmm", 0 none */
    int gap;       /* blanks between columns */
    bool side;     /* an arrow after the size, so the side reads without colour */
    bool show_qty; /* false: the price alone (the narrowest form) */
} tape_layout;

static const tape_layout layouts[] = {
    { 12, 2, true, true }, { 12, 2, false, true }, { 12, 1, false, true }, { 9, 1, false, true },
    { 6, 1, false, true }, { 0, 1, false, true },  { 0, 1, false, false },
};

/* Widest formatted price and size among the rows that will be drawn. */
typedef struct tape_widths {
    int px, qty;
} tape_widths;

static char *two_digits(char *p, int v)
{
    *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* HH:MM:SS.mmm, MM:SS.mmm or SS.mmm (time_w 12, 9, 6) of the day in UTC; "" otherwise. By hand:
 * snprintf for every row of a busy tape cost more than the rest of the row. */
static void format_time(int64_t T_ms, int time_w, char *buf, size_t cap)
{
    int64_t ms = T_ms % MS_PER_DAY;
    if (ms < 0)
        ms += MS_PER_DAY;
    int h = (int)(ms / 3600000), m = (int)(ms / 60000 % 60), s = (int)(ms / 1000 % 60);
    int milli = (int)(ms % 1000);
    char *p = buf;
    if (cap < 13 || (time_w != 12 && time_w != 9 && time_w != 6)) {
        buf[0] = '\0';
        return;
    }
    if (time_w == 12) {
        p = two_digits(p, h);
        *p++ = ':';
    }
    if (time_w >= 9) {
        p = two_digits(p, m);
        *p++ = ':';
    }
    p = two_digits(p, s);
    *p++ = '.';
    *p++ = (char)('0' + milli / 100);
    p = two_digits(p, milli % 100);
    *p = '\0';
}

/* A value in the symbol's scale; "?" when it cannot be written (a view without scales prints the
 * raw integer, which is still exact). */
static void format_value(const view_symbol *v, int64_t val, const dec_scale *sc, char *buf,
                         size_t cap)
{
    dec_scale plain = dec_scale_plain(0);
    if (dec_format(val, v->has_scale ? sc : &plain, buf, cap) < 0)
        snprintf(buf, cap, "?");
}

static const view_trade *nth_newest(const view_symbol *v, size_t ntrades, int i)
{
    return &v->trades[ntrades - 1 - (size_t)i];
}

/* The rows' price and size text, formatted once for measuring and drawing. */
typedef struct tape_text {
    char px[VIEW_TRADES][DEC_FMT_MAX], qty[VIEW_TRADES][DEC_FMT_MAX];
} tape_text;

static tape_widths measure(const view_symbol *v, size_t ntrades, int rows, tape_text *txt)
{
    tape_widths tw = { 0, 0 };
    for (int i = 0; i < rows && (size_t)i < ntrades; i++) {
        const view_trade *tr = nth_newest(v, ntrades, i);
        format_value(v, tr->px, &v->px_scale, txt->px[i], sizeof txt->px[i]);
        int w = canvas_width_of(txt->px[i]);
        tw.px = w > tw.px ? w : tw.px;
        format_value(v, tr->qty, &v->qty_scale, txt->qty[i], sizeof txt->qty[i]);
        w = canvas_width_of(txt->qty[i]);
        tw.qty = w > tw.qty ? w : tw.qty;
    }
    return tw;
}

static int layout_width(const tape_layout *l, tape_widths tw)
{
    int w = tw.px;
    if (l->time_w > 0)
        w += l->time_w + l->gap;
    if (l->show_qty)
        w += l->gap + tw.qty;
    if (l->side)
        w += 2;
    return w;
}

static const tape_layout *choose_layout(int width, tape_widths tw)
{
    size_t n = sizeof layouts / sizeof layouts[0];
    for (size_t i = 0; i < n; i++)
        if (layout_width(&layouts[i], tw) <= width)
            return &layouts[i];
    return &layouts[n - 1];
}

static role trade_role(const view_trade *tr, int64_t large_qty)
{
    bool large = large_qty > 0 && tr->qty >= large_qty;
    if (tr->buyer_maker) /* the buyer was resting: a sell hit the bid */
        return large ? ROLE_LARGE_SELL : ROLE_DOWN;
    return large ? ROLE_LARGE_BUY : ROLE_UP;
}

/* Column right edges (exclusive) of the price and size in a row starting at x. */
typedef struct tape_cols {
    int time_x, px_right, qty_right, side_x;
} tape_cols;

static tape_cols columns(const tape_layout *l, tape_widths tw, int x)
{
    tape_cols cols;
    cols.time_x = x;
    cols.px_right = x + (l->time_w > 0 ? l->time_w + l->gap : 0) + tw.px;
    cols.qty_right = cols.px_right + l->gap + tw.qty;
    cols.side_x = cols.qty_right + 1;
    return cols;
}

static void draw_header(canvas *c, rect r, const tape_layout *l, tape_cols cols, int y)
{
    if (l->time_w > 0)
        canvas_put(c, cols.time_x, y, r, ROLE_DIM, "time");
    canvas_put_right(c, cols.px_right, y, r, ROLE_DIM, "price");
    if (l->show_qty)
        canvas_put_right(c, cols.qty_right, y, r, ROLE_DIM, "size");
}

static void draw_trade(canvas *c, rect r, const theme *t, const view_trade *tr, const char *px,
                       const char *qty, const tape_layout *l, tape_cols cols, int y,
                       int64_t large_qty)
{
    role ro = trade_role(tr, large_qty);
    bool large = ro == ROLE_LARGE_BUY || ro == ROLE_LARGE_SELL;
    if (l->time_w > 0) {
        char buf[16];
        format_time(tr->T_ms, l->time_w, buf, sizeof buf);
        canvas_put(c, cols.time_x, y, r, large ? ro : ROLE_DIM, buf);
    }
    if (!l->show_qty) { /* narrowest: the price alone, cut with a mark if even that is too wide */
        canvas_put_cut(c, r.x, y, r.w, r, ro, t, px);
        return;
    }
    canvas_put_right(c, cols.px_right, y, r, ro, px);
    canvas_put_right(c, cols.qty_right, y, r, ro, qty);
    if (l->side)
        canvas_put(c, cols.side_x, y, r, ro, tr->buyer_maker ? t->down : t->up);
    if (large) { /* the whole row stands out, gaps included */
        int right = l->side ? cols.side_x + 1 : cols.qty_right;
        canvas_set_role(c, (rect){ r.x, y, (right < r.x + r.w ? right : r.x + r.w) - r.x, 1 }, ro);
    }
}

void tape_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int64_t large_qty)
{
    if (rect_empty(r))
        return;
    canvas_clear(c, r, ROLE_NORMAL);
    size_t ntrades = v ? v->ntrades : 0;
    if (ntrades > VIEW_TRADES)
        ntrades = VIEW_TRADES;
    bool header = r.h >= 3;
    int y = r.y;
    if (ntrades == 0) {
        canvas_put_cut(c, r.x, y, r.w, r, ROLE_DIM, t, "no trades");
        return;
    }
    int rows = r.h - header;
    tape_text txt;
    tape_widths tw = measure(v, ntrades, rows, &txt);
    if (header) { /* the labels fit over their columns */
        tw.px = tw.px < 5 ? 5 : tw.px;
        tw.qty = tw.qty < 4 ? 4 : tw.qty;
    }
    const tape_layout *l = choose_layout(r.w, tw);
    tape_cols cols = columns(l, tw, r.x);
    if (header)
        draw_header(c, r, l, cols, y++);
    for (int i = 0; i < rows && (size_t)i < ntrades; i++)
        draw_trade(c, r, t, nth_newest(v, ntrades, i), txt.px[i], txt.qty[i], l, cols, y++,
                   large_qty);
}
