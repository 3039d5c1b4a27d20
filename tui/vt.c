/* vt: a frame's changed cells as terminal bytes (see vt.h). */
#include "tui/vt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define GLYPH_MAX 4 /* UTF-8 bytes of one glyph */
#define CUP_MAX   32

struct vt {
    char *seq[ROLE_COUNT];
    size_t seq_len[ROLE_COUNT];
    size_t seq_max; /* the longest role sequence */
    char *reset, *clear;
    vt_cup_fn cup;
    bool skip_last_cell;

    int w, h;
    int cur_x, cur_y; /* where the cursor is; -1: unknown */
    int cur_role;     /* the attributes in force; -1: unknown */

    char *buf;
    size_t len, cap;
};

static char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

vt *vt_create(const vt_caps *caps)
{
    vt *v = xcalloc(1, sizeof *v);
    v->reset = dup_or_empty(caps->reset);
    v->clear = dup_or_empty(caps->clear);
    for (int r = 0; r < ROLE_COUNT; r++) {
        v->seq[r] = dup_or_empty(caps->role_seq[r] ? caps->role_seq[r] : caps->reset);
        v->seq_len[r] = strlen(v->seq[r]);
        if (v->seq_len[r] > v->seq_max)
            v->seq_max = v->seq_len[r];
    }
    v->cup = caps->cup;
    v->skip_last_cell = caps->skip_last_cell;
    v->cur_x = v->cur_y = v->cur_role = -1;
    return v;
}

void vt_destroy(vt *v)
{
    if (!v)
        return;
    for (int r = 0; r < ROLE_COUNT; r++)
        free(v->seq[r]);
    free(v->reset);
    free(v->clear);
    free(v->buf);
    free(v);
}

/* Room for n more bytes. */
static void reserve(vt *v, size_t n)
{
    if (v->cap - v->len >= n)
        return;
    size_t cap = v->cap ? v->cap : 4096;
    while (cap - v->len < n)
        cap *= 2;
    v->buf = xrealloc(v->buf, cap);
    v->cap = cap;
}

static void append(vt *v, const char *s, size_t n)
{
    reserve(v, n);
    memcpy(v->buf + v->len, s, n);
    v->len += n;
}

static char *put_uint(char *p, unsigned u)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static void move_to(vt *v, int x, int y)
{
    if (v->cur_x == x && v->cur_y == y)
        return;
    if (v->cup) {
        const char *s = v->cup(y, x);
        if (s)
            append(v, s, strlen(s));
    } else {
        char b[CUP_MAX], *p = b;
        *p++ = '\x1b';
        *p++ = '[';
        p = put_uint(p, (unsigned)y + 1);
        *p++ = ';';
        p = put_uint(p, (unsigned)x + 1);
        *p++ = 'H';
        append(v, b, (size_t)(p - b));
    }
    v->cur_x = x;
    v->cur_y = y;
}

void vt_begin(vt *v, int w, int h, bool clear)
{
    v->len = 0;
    v->w = w;
    v->h = h;
    v->cur_x = v->cur_y = v->cur_role = -1;
    if (clear) {
        append(v, v->reset, strlen(v->reset)); /* some terminals clear with the current colours */
        append(v, v->clear, strlen(v->clear));
    }
}

/* One glyph's bytes at p; a blank cell is a space, and anything that is not a printable glyph
 * (which the canvas never holds) a '?', so the terminal never sees a control character. */
static char *put_glyph(char *p, const cell *c)
{
    unsigned char b = (unsigned char)c->glyph[0];
    if (b < 0x80) {
        *p++ = b == 0 ? ' ' : (b < 0x20 || b == 0x7f) ? '?' : (char)b;
        return p;
    }
    for (int i = 0; i < GLYPH_MAX && c->glyph[i]; i++)
        *p++ = c->glyph[i];
    return p;
}

void vt_put(vt *v, int x, int y, const cell *c, int n)
{
    if (y < 0 || y >= v->h || x >= v->w || n <= 0)
        return;
    if (x < 0) {
        c -= x;
        n += x;
        x = 0;
    }
    if (n > v->w - x)
        n = v->w - x;
    if (v->skip_last_cell && y == v->h - 1 && x + n == v->w)
        n--;
    if (n <= 0)
        return;
    move_to(v, x, y);
    reserve(v, (size_t)n * (v->seq_max + GLYPH_MAX));
    char *p = v->buf + v->len;
    for (int i = 0; i < n; i++) {
        int r = c[i].role < ROLE_COUNT ? c[i].role : ROLE_NORMAL;
        if (r != v->cur_role) {
            memcpy(p, v->seq[r], v->seq_len[r]);
            p += v->seq_len[r];
            v->cur_role = r;
        }
        p = put_glyph(p, &c[i]);
    }
    v->len = (size_t)(p - v->buf);
    v->cur_x = x + n < v->w ? x + n : -1; /* past the last column the cursor waits to wrap */
}

const char *vt_end(vt *v, size_t *len)
{
    if (v->len > 0 && v->cur_role != -1) {
        append(v, v->reset, strlen(v->reset));
        v->cur_role = -1;
    }
    *len = v->len;
    return v->buf ? v->buf : "";
}
