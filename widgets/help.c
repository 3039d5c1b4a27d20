/* help: the help overlay (see help.h). */
#include "widgets/help.h"

#include <stdbool.h>
#include <stdio.h>

#define TITLE    "bfmon help"
#define GAP      2
#define WHAT_MIN 8 /* a description narrower than this is not worth a column of its own */

/* Column widths inside the box (action 0: dropped). */
typedef struct help_cols {
    int keys, action, what;
} help_cols;

/* The box and what it holds. */
typedef struct help_box {
    rect outer, inner; /* inner: inside the frame and its one-column padding */
    help_cols cols;
    bool header;
    size_t first, visible;
} help_box;

static const char *str(const char *s)
{
    return s ? s : "";
}

static int max_width(const help_entry *e, size_t n, int field)
{
    int w = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = field == 0 ? e[i].keys : field == 1 ? e[i].action : e[i].what;
        int sw = canvas_width_of(str(s));
        w = sw > w ? sw : w;
    }
    return w;
}

/* Widths for an inner width of `room`: all three columns, then keys and what, then both cut. */
static help_cols fit_columns(help_cols natural, int room)
{
    help_cols c = natural;
    if (c.keys + GAP + c.action + GAP + (c.what < WHAT_MIN ? c.what : WHAT_MIN) <= room) {
        c.what = room - c.keys - c.action - 2 * GAP;
        return c;
    }
    c.action = 0;
    if (c.keys + GAP + (c.what < WHAT_MIN ? c.what : WHAT_MIN) <= room) {
        c.what = room - c.keys - GAP;
        return c;
    }
    c.keys = (room - GAP) / 2 > 0 ? (room - GAP) / 2 : 0;
    c.what = room - c.keys - GAP > 0 ? room - c.keys - GAP : 0;
    return c;
}

static int natural_width(help_cols c)
{
    return c.keys + GAP + c.action + GAP + c.what;
}

static help_box layout(rect r, const help_entry *e, size_t n, size_t first, bool titles)
{
    help_box b;
    help_cols nat = { max_width(e, n, 0), max_width(e, n, 1), max_width(e, n, 2) };
    int inner_w = natural_width(nat);
    inner_w = inner_w < canvas_width_of(TITLE) + 2 ? canvas_width_of(TITLE) + 2 : inner_w;
    inner_w = inner_w > r.w - 4 ? r.w - 4 : inner_w;
    int want_h = (int)(n < 1000 ? n : 1000) + titles; /* entries and the column titles */
    int inner_h = want_h > r.h - 2 ? r.h - 2 : want_h;
    b.outer = (rect){ r.x + (r.w - inner_w - 4) / 2, r.y + (r.h - inner_h - 2) / 2, inner_w + 4,
                      inner_h + 2 };
    b.inner = (rect){ b.outer.x + 2, b.outer.y + 1, inner_w, inner_h };
    b.cols = fit_columns(nat, inner_w);
    b.header = titles && (inner_h >= 4 || inner_h >= want_h);
    b.visible = (size_t)(inner_h - b.header);
    size_t last_first = n > b.visible ? n - b.visible : 0;
    b.first = first < last_first ? first : last_first;
    return b;
}

static void draw_frame(canvas *c, const theme *t, rect o, const char *footer)
{
    int x1 = o.x + o.w - 1, y1 = o.y + o.h - 1;
    for (int x = o.x + 1; x < x1; x++) {
        canvas_put(c, x, o.y, o, ROLE_DIM, t->hline);
        canvas_put(c, x, y1, o, ROLE_DIM, t->hline);
    }
    for (int y = o.y + 1; y < y1; y++) {
        canvas_put(c, o.x, y, o, ROLE_DIM, t->vline);
        canvas_put(c, x1, y, o, ROLE_DIM, t->vline);
    }
    canvas_put(c, o.x, o.y, o, ROLE_DIM, t->corner[0]);
    canvas_put(c, x1, o.y, o, ROLE_DIM, t->corner[1]);
    canvas_put(c, o.x, y1, o, ROLE_DIM, t->corner[2]);
    canvas_put(c, x1, y1, o, ROLE_DIM, t->corner[3]);
    rect top = { o.x + 1, o.y, o.w - 2, 1 }, bottom = { o.x + 1, y1, o.w - 2, 1 };
    canvas_put_cut(c, o.x + 2, o.y, o.w - 4, top, ROLE_HEADER, t, " " TITLE " ");
    if (footer) { /* right-aligned in the bottom border */
        int fw = canvas_width_of(footer);
        canvas_put_cut(c, fw > o.w - 4 ? o.x + 2 : x1 - 1 - fw, y1, o.w - 4, bottom, ROLE_DIM, t,
                       footer);
    }
}

static void draw_row(canvas *c, const theme *t, const help_box *b, int y, const char *const f[3],
                     const role ro[3])
{
    int x = b->inner.x;
    canvas_put_cut(c, x, y, b->cols.keys, b->inner, ro[0], t, f[0]);
    x += b->cols.keys + GAP;
    if (b->cols.action > 0) {
        canvas_put_cut(c, x, y, b->cols.action, b->inner, ro[1], t, f[1]);
        x += b->cols.action + GAP;
    }
    canvas_put_cut(c, x, y, b->cols.what, b->inner, ro[2], t, f[2]);
}

/* Below 6x3 there is no room for a frame: the keys and what they do, one per row. */
static void draw_bare(canvas *c, rect r, const theme *t, const help_entry *e, size_t n)
{
    canvas_clear(c, r, ROLE_NORMAL);
    for (int i = 0; i < r.h && (size_t)i < n; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s %s", str(e[i].keys), str(e[i].what));
        canvas_put_cut(c, r.x, r.y + i, r.w, r, ROLE_NORMAL, t, buf);
    }
}

size_t help_draw_from(canvas *c, rect r, const theme *t, const help_entry *e, size_t n,
                      size_t first)
{
    if (rect_empty(r))
        return 0;
    static const help_entry none = { "", "", "no key bindings" };
    bool empty = !e || n == 0;
    if (empty) { /* one row saying so, where the table would be */
        e = &none;
        n = 1;
    }
    if (r.w < 6 || r.h < 3) {
        draw_bare(c, r, t, e, n);
        return 0;
    }
    help_box b = layout(r, e, n, first, !empty);
    canvas_clear(c, b.outer, ROLE_NORMAL);
    char footer[64];
    bool scrolled = b.visible < n;
    snprintf(footer, sizeof footer, " %zu-%zu of %zu ", b.first + 1, b.first + b.visible, n);
    draw_frame(c, t, b.outer, scrolled ? footer : NULL);
    int y = b.inner.y;
    if (b.header) {
        static const char *const titles[3] = { "keys", "action", "what" };
        static const role head[3] = { ROLE_HEADER, ROLE_HEADER, ROLE_HEADER };
        draw_row(c, t, &b, y++, titles, head);
    }
    static const role body[3] = { ROLE_HEADER, ROLE_DIM, ROLE_NORMAL };
    for (size_t i = b.first; i < n && i < b.first + b.visible; i++, y++) {
        const char *f[3] = { str(e[i].keys), str(e[i].action), str(e[i].what) };
        draw_row(c, t, &b, y, f, body);
    }
    return empty ? 0 : b.first;
}

void help_draw(canvas *c, rect r, const theme *t, const help_entry *e, size_t n)
{
    help_draw_from(c, r, t, e, n, 0);
}
