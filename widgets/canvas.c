/* canvas: an off-screen grid of cells (see canvas.h). */
#include "widgets/canvas.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct canvas {
    int w, h;
    cell *cells; /* h rows of w cells */
};

static const cell blank_cell = { .glyph = " ", .role = ROLE_NORMAL };

static int clamp_size(int n)
{
    return n < 0 ? 0 : n;
}

static void fill_blank(canvas *c)
{
    for (size_t i = 0; i < (size_t)c->w * (size_t)c->h; i++)
        c->cells[i] = blank_cell;
}

canvas *canvas_create(int w, int h)
{
    canvas *c = xcalloc(1, sizeof *c);
    canvas_resize(c, w, h);
    return c;
}

void canvas_destroy(canvas *c)
{
    if (!c)
        return;
    free(c->cells);
    free(c);
}

void canvas_resize(canvas *c, int w, int h)
{
    c->w = clamp_size(w);
    c->h = clamp_size(h);
    free(c->cells);
    /* One spare cell so a 0x0 canvas still owns a valid (unused) array. */
    c->cells = xmalloc(((size_t)c->w * (size_t)c->h + 1) * sizeof *c->cells);
    fill_blank(c);
}

int canvas_width(const canvas *c)
{
    return c->w;
}

int canvas_height(const canvas *c)
{
    return c->h;
}

rect canvas_bounds(const canvas *c)
{
    return (rect){ 0, 0, c->w, c->h };
}

bool rect_empty(rect r)
{
    return r.w <= 0 || r.h <= 0;
}

rect rect_intersect(rect a, rect b)
{
    long long x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    long long x1 = (long long)a.x + a.w, y1 = (long long)a.y + a.h;
    long long bx1 = (long long)b.x + b.w, by1 = (long long)b.y + b.h;
    x1 = x1 < bx1 ? x1 : bx1;
    y1 = y1 < by1 ? y1 : by1;
    if (rect_empty(a) || rect_empty(b) || x1 <= x0 || y1 <= y0)
        return (rect){ 0, 0, 0, 0 };
    return (rect){ (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0) };
}

rect rect_inset(rect r, int n)
{
    if (rect_empty(r) || n < 0 || (long long)n * 2 >= r.w || (long long)n * 2 >= r.h)
        return (rect){ r.x, r.y, 0, 0 };
    return (rect){ r.x + n, r.y + n, r.w - 2 * n, r.h - 2 * n };
}

/* Half-open bounds in 64 bits, so huge or negative rectangles cannot overflow. */
typedef struct span {
    long long x0, y0, x1, y1;
} span;

static span clip_span(const canvas *c, rect r)
{
    span s = { 0, 0, 0, 0 };
    if (rect_empty(r))
        return s;
    s.x0 = r.x < 0 ? 0 : r.x;
    s.y0 = r.y < 0 ? 0 : r.y;
    s.x1 = (long long)r.x + r.w;
    s.y1 = (long long)r.y + r.h;
    if (s.x1 > c->w)
        s.x1 = c->w;
    if (s.y1 > c->h)
        s.y1 = c->h;
    if (s.x1 < s.x0)
        s.x1 = s.x0;
    if (s.y1 < s.y0)
        s.y1 = s.y0;
    return s;
}

static cell *cell_at(canvas *c, long long x, long long y)
{
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

/* The first row cell by cell, the others copied from it: panels are cleared on every redraw. */
void canvas_clear(canvas *c, rect r, role ro)
{
    span s = clip_span(c, r);
    if (s.y0 >= s.y1 || s.x0 >= s.x1)
        return;
    cell blank = blank_cell;
    blank.role = (uint8_t)ro;
    cell *first = cell_at(c, s.x0, s.y0);
    size_t n = (size_t)(s.x1 - s.x0);
    for (size_t x = 0; x < n; x++)
        first[x] = blank;
    for (long long y = s.y0 + 1; y < s.y1; y++)
        memcpy(cell_at(c, s.x0, y), first, n * sizeof *first);
}

void canvas_set_role(canvas *c, rect r, role ro)
{
    span s = clip_span(c, r);
    for (long long y = s.y0; y < s.y1; y++)
        for (long long x = s.x0; x < s.x1; x++)
            cell_at(c, x, y)->role = (uint8_t)ro;
}

const cell *canvas_at(const canvas *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return NULL;
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

/* Length of the valid UTF-8 sequence at s (1..4) with its code point, or 0 when the bytes are not
 * one (stray continuation, truncation, overlong form, surrogate, beyond U+10FFFF). */
static int utf8_seq(const unsigned char *s, uint32_t *cp)
{
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    int len;
    uint32_t v;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, v = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, v = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, v = s[0] & 0x07;
    else
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp < 0xA0);
}

/* Next glyph of text into g (NUL-padded to its end, so cells compare as plain bytes); returns the
 * bytes consumed (>= 1). */
static int next_glyph(const char *text, char g[5])
{
    uint32_t cp = 0;
    memset(g, 0, 5);
    int n = utf8_seq((const unsigned char *)text, &cp);
    if (n == 0 || is_control(cp)) {
        g[0] = '?';
        g[1] = '\0';
        return n == 0 ? 1 : n;
    }
    memcpy(g, text, (size_t)n);
    g[n] = '\0';
    return n;
}

int canvas_put(canvas *c, int x, int y, rect clip, role ro, const char *text)
{
    if (!text)
        return 0;
    span s = clip_span(c, clip);
    bool row_ok = y >= s.y0 && y < s.y1;
    int cols = 0;
    char g[5];
    for (const char *p = text; *p; cols++) {
        unsigned char b = (unsigned char)*p;
        if (b >= 0x20 && b < 0x7f) { /* printable ASCII, nearly all of what widgets write */
            long long col = (long long)x + cols;
            p++;
            if (row_ok && col >= s.x0 && col < s.x1) {
                cell *cl = cell_at(c, col, y);
                memset(cl->glyph, 0, sizeof cl->glyph);
                cl->glyph[0] = (char)b;
                cl->role = (uint8_t)ro;
            }
            continue;
        }
        p += next_glyph(p, g);
        long long col = (long long)x + cols;
        if (row_ok && col >= s.x0 && col < s.x1) {
            cell *cl = cell_at(c, col, y);
            memcpy(cl->glyph, g, sizeof cl->glyph);
            cl->role = (uint8_t)ro;
        }
    }
    return cols;
}

void canvas_fill(canvas *c, int x, int y, rect clip, role ro, const char *glyph, int n)
{
    span s = clip_span(c, clip);
    if (!glyph || !*glyph || n <= 0 || y < s.y0 || y >= s.y1)
        return;
    long long x0 = x > s.x0 ? x : s.x0, x1 = (long long)x + n < s.x1 ? (long long)x + n : s.x1;
    cell one = { .role = (uint8_t)ro };
    next_glyph(glyph, one.glyph);
    for (long long col = x0; col < x1; col++)
        *cell_at(c, col, y) = one;
}

int canvas_printf(canvas *c, int x, int y, rect clip, role ro, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 0;
    if ((size_t)n < sizeof buf)
        return canvas_put(c, x, y, clip, ro, buf);
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int cols = canvas_put(c, x, y, clip, ro, big);
    free(big);
    return cols;
}

int canvas_width_of(const char *text)
{
    int cols = 0;
    char g[5];
    if (!text)
        return 0;
    for (const char *p = text; *p; cols++)
        p += next_glyph(p, g);
    return cols;
}

void canvas_put_right(canvas *c, int right, int y, rect clip, role ro, const char *text)
{
    canvas_put(c, right - canvas_width_of(text), y, clip, ro, text);
}

void canvas_put_cut(canvas *c, int x, int y, int cols, rect clip, role ro, const theme *t,
                    const char *text)
{
    if (cols <= 0)
        return;
    if (canvas_width_of(text) <= cols) {
        canvas_put(c, x, y, clip, ro, text);
        return;
    }
    canvas_put(c, x, y, rect_intersect((rect){ x, y, cols - 1, 1 }, clip), ro, text);
    canvas_put(c, x + cols - 1, y, clip, ro, t->ellipsis ? t->ellipsis : "~");
}

char *canvas_dump(const canvas *c, bool with_roles)
{
    size_t lines = (size_t)c->h * (with_roles ? 2 : 1);
    /* Glyphs take up to 4 bytes, role letters one. */
    char *out = xmalloc(lines * ((size_t)c->w * 4 + 1) + 1);
    char *p = out;
    for (int y = 0; y < c->h; y++) {
        const cell *row = &c->cells[(size_t)y * (size_t)c->w];
        for (int x = 0; x < c->w; x++) {
            size_t n = strlen(row[x].glyph);
            memcpy(p, row[x].glyph, n);
            p += n;
        }
        *p++ = '\n';
        if (!with_roles)
            continue;
        for (int x = 0; x < c->w; x++)
            *p++ = theme_role_letter((role)row[x].role);
        *p++ = '\n';
    }
    *p = '\0';
    return out;
}
