/* search: the symbol search overlay (see search.h). */
#include "widgets/search.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FRAME_MIN_W 16 /* smaller overlays spend no cells on a frame */
#define FRAME_MIN_H 4

static const char *str(const char *s)
{
    return s ? s : "";
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Byte offset of the first ASCII case-insensitive occurrence of q in s, or -1. */
static long find_ci(const char *s, const char *q)
{
    size_t nq = strlen(q);
    if (nq == 0)
        return -1;
    for (size_t i = 0; s[i]; i++) {
        size_t k = 0;
        while (k < nq && s[i + k] && lower(s[i + k]) == lower(q[k]))
            k++;
        if (k == nq)
            return (long)i;
    }
    return -1;
}

/* The last `cols` glyphs of s (a pointer into it): a long query shows where the typing happens. */
static const char *tail_glyphs(const char *s, int cols)
{
    const char *p = s;
    while (*p && (canvas_width_of(p) > cols || (*p & 0xC0) == 0x80)) /* whole glyphs only */
        p++;
    return p;
}

static void draw_count(canvas *c, rect row, const char *query, size_t n, int *right)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%zu match%s", n, n == 1 ? "" : "es");
    int w = canvas_width_of(buf);
    *right = row.x + row.w;
    if ((n == 0 && !query[0]) || w + 4 > row.w) /* the query matters more than the count */
        return;
    canvas_put(c, row.x + row.w - w, row.y, row, ROLE_DIM, buf);
    *right = row.x + row.w - w - 1;
}

static void draw_query(canvas *c, rect row, const theme *t, const char *query, size_t n)
{
    int right;
    draw_count(c, row, query, n, &right);
    int x = row.x + canvas_put(c, row.x, row.y, row, ROLE_HEADER, "/ ");
    int room = right - x - 1; /* one cell for the cursor */
    const char *shown = query;
    if (canvas_width_of(query) > room && room >= 2) {
        x += canvas_put(c, x, row.y, row, ROLE_DIM, t->ellipsis ? t->ellipsis : "~");
        shown = tail_glyphs(query, room - 1);
    } else if (canvas_width_of(query) > room) {
        shown = tail_glyphs(query, room > 0 ? room : 0);
    }
    x += canvas_put(c, x, row.y, (rect){ row.x, row.y, right - row.x, 1 }, ROLE_NORMAL, shown);
    canvas_set_role(c, (rect){ x, row.y, x < right ? 1 : 0, 1 }, ROLE_SELECTED);
}

static void draw_match(canvas *c, rect row, const char *m, const char *query, bool selected)
{
    role base = selected ? ROLE_SELECTED : ROLE_NORMAL;
    if (selected)
        canvas_clear(c, row, ROLE_SELECTED);
    canvas_put(c, row.x + 1, row.y, row, base, m);
    long at = find_ci(m, query);
    if (at < 0 || selected)
        return;
    /* Redraw the matching part highlighted, at its column. */
    char before[256];
    snprintf(before, sizeof before, "%.*s", (int)at, m);
    char part[256];
    snprintf(part, sizeof part, "%.*s", (int)strlen(query), m + at);
    canvas_put(c, row.x + 1 + canvas_width_of(before), row.y, row, ROLE_HEADER, part);
}

/* A frame round r titled "search", so the overlay stands apart from the panels behind it. */
static void draw_frame(canvas *c, const theme *t, rect o)
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
    canvas_put(c, o.x + 2, o.y, (rect){ o.x + 1, o.y, o.w - 2, 1 }, ROLE_HEADER, " search ");
}

void search_draw(canvas *c, rect r, const theme *t, const char *query, const char *const *matches,
                 size_t n, size_t cursor)
{
    if (rect_empty(r))
        return;
    canvas_clear(c, r, ROLE_NORMAL);
    if (r.w >= FRAME_MIN_W && r.h >= FRAME_MIN_H) {
        draw_frame(c, t, r);
        r = (rect){ r.x + 1, r.y + 1, r.w - 2, r.h - 2 };
    }
    query = str(query);
    if (!matches)
        n = 0;
    draw_query(c, (rect){ r.x, r.y, r.w, 1 }, t, query, n);
    size_t vis = (size_t)(r.h - 1);
    if (vis == 0)
        return;
    rect list = { r.x, r.y + 1, r.w, r.h - 1 };
    if (n == 0) {
        canvas_put(c, list.x + 1, list.y, list, ROLE_DIM, query[0] ? "no match" : "type a symbol");
        return;
    }
    cursor = cursor < n ? cursor : n - 1;
    size_t first = cursor >= vis ? cursor - vis + 1 : 0;
    for (size_t i = first; i < n && i < first + vis; i++)
        draw_match(c, (rect){ r.x, list.y + (int)(i - first), r.w, 1 }, str(matches[i]), query,
                   i == cursor);
    /* Arrows at the right edge when more are above or below (the cursor's row keeps its role). */
    if (first > 0)
        canvas_put(c, r.x + r.w - 1, list.y, list, first == cursor ? ROLE_SELECTED : ROLE_DIM,
                   t->up);
    if (first + vis < n)
        canvas_put(c, r.x + r.w - 1, list.y + (int)vis - 1, list,
                   first + vis - 1 == cursor ? ROLE_SELECTED : ROLE_DIM, t->down);
}
