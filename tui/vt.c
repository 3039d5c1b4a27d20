/* vt: a frame's changed cells as terminal bytes (see vt.h). */
#include "tui/vt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define GLYPH_MAX 4 /* UTF-8 bytes of one glyph */
#define CUP_MAX   32
#define SGR_MAX   128
#define SLOT      32         /* role changes up to this long are copied as one fixed-size block */
#define FROM_ANY  ROLE_COUNT /* trans[FROM_ANY]: from attributes unknown */
#define PLAIN     ROLE_COUNT /* in sgr_change: the state right after a reset */

struct vt {
    /* trans[a][b]: from role a's attributes to role b's; trans[FROM_ANY][b] from any state. */
    char *trans[ROLE_COUNT + 1][ROLE_COUNT];
    size_t trans_len[ROLE_COUNT + 1][ROLE_COUNT];
    size_t seq_max;                           /* the longest of them */
    bool blank_alike[ROLE_COUNT][ROLE_COUNT]; /* a blank looks the same in both roles */
    char *reset, *clear;
    vt_cup_fn cup;
    bool skip_last_cell;
    bool sync;      /* this frame is bracketed */
    bool sync_next; /* the next frames are */

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

/* Appends parameter p to the list in b ("1" then "38;5;16" make "1;38;5;16"). */
static void param_add(char *b, size_t cap, const char *p)
{
    size_t n = strlen(b);
    snprintf(b + n, cap - n, "%s%s", n ? ";" : "", p);
}

static bool same_colour(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

typedef struct look {
    unsigned attrs;
    const char *fg, *bg; /* NULL: default */
} look;

static look look_of(const vt_sgr *s, int r)
{
    if (r == PLAIN)
        return (look){ 0, NULL, NULL };
    return (look){ s->role_attrs[r], s->fg[r], s->bg[r] };
}

/* Parameters that add what b has and a lacks, given that a's attributes are a subset of b's and
 * that a colour can be dropped (default colours) when b has none. */
static void add_look(const vt_sgr *s, char *p, size_t cap, look a, look b)
{
    for (int i = 0; i < VT_ATTR_COUNT; i++)
        if ((b.attrs & ~a.attrs) & (1u << i) && s->attr[i])
            param_add(p, cap, s->attr[i]);
    if (!same_colour(a.fg, b.fg))
        param_add(p, cap, b.fg ? b.fg : "39");
    if (!same_colour(a.bg, b.bg))
        param_add(p, cap, b.bg ? b.bg : "49");
}

/* Parameters that take a to b without a reset: attribute-off codes for what b lacks; false when an
 * attribute or a colour cannot be dropped that way. */
static bool step_look(const vt_sgr *s, char *p, size_t cap, look a, look b)
{
    if (!s->default_colours && ((a.fg && !b.fg) || (a.bg && !b.bg)))
        return false;
    for (int i = 0; i < VT_ATTR_COUNT; i++) {
        if (!((a.attrs & ~b.attrs) & (1u << i)))
            continue;
        if (!s->attr_off[i])
            return false;
        param_add(p, cap, s->attr_off[i]);
        a.attrs &= ~s->attr_off_clears[i]; /* 22 takes dim with bold: added back below */
    }
    add_look(s, p, cap, a, b);
    return true;
}

/* The SGR that takes the terminal from role `from`'s attributes and colours (PLAIN: just reset) to
 * role `to`'s: the shorter of a step (only what is added, changed or turned off) and a reset with
 * everything of `to`. "" when both look the same. */
static void sgr_change(const vt_sgr *s, int from, int to, char *out, size_t cap)
{
    look a = look_of(s, from), b = look_of(s, to);
    char reset[SGR_MAX] = "0", step[SGR_MAX] = "";
    add_look(s, reset, sizeof reset, look_of(s, PLAIN), b);
    const char *p =
        step_look(s, step, sizeof step, a, b) && strlen(step) <= strlen(reset) ? step : reset;
    if (p[0])
        snprintf(out, cap, "\x1b[%sm", p);
    else
        out[0] = '\0';
}

static void set_trans(vt *v, int from, int to, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    v->trans[from][to] = xcalloc(1, na + nb + 1 > SLOT ? na + nb + 1 : SLOT);
    memcpy(v->trans[from][to], a, na);
    memcpy(v->trans[from][to] + na, b, nb + 1);
    v->trans_len[from][to] = na + nb;
    if (na + nb > v->seq_max)
        v->seq_max = na + nb;
}

/* Whether a blank cell looks the same in roles a and b: only the background shows, and the
 * foreground too under an attribute that shows on blanks (reverse). */
static bool blanks_alike(const vt_sgr *s, int a, int b)
{
    look la = look_of(s, a), lb = look_of(s, b);
    unsigned shown_a = la.attrs & s->blank_attrs, shown_b = lb.attrs & s->blank_attrs;
    return shown_a == shown_b && same_colour(la.bg, lb.bg) &&
           (!shown_a || same_colour(la.fg, lb.fg));
}

/* Every role-to-role change, worked out once. */
static void build_transitions(vt *v, const vt_caps *caps)
{
    char seq[SGR_MAX];
    for (int to = 0; to < ROLE_COUNT; to++) {
        if (!caps->sgr) {
            const char *abs = caps->role_seq[to] ? caps->role_seq[to] : v->reset;
            for (int from = 0; from <= FROM_ANY; from++)
                set_trans(v, from, to, from == to ? "" : abs, "");
            continue;
        }
        sgr_change(caps->sgr, PLAIN, to, seq, sizeof seq);
        set_trans(v, FROM_ANY, to, v->reset, seq); /* the terminal's own reset first */
        for (int from = 0; from < ROLE_COUNT; from++) {
            sgr_change(caps->sgr, from, to, seq, sizeof seq);
            set_trans(v, from, to, seq, "");
            v->blank_alike[from][to] = blanks_alike(caps->sgr, from, to);
        }
    }
}

vt *vt_create(const vt_caps *caps)
{
    vt *v = xcalloc(1, sizeof *v);
    v->reset = dup_or_empty(caps->reset);
    v->clear = dup_or_empty(caps->clear);
    build_transitions(v, caps);
    v->cup = caps->cup;
    v->skip_last_cell = caps->skip_last_cell;
    v->sync = v->sync_next = caps->sync;
    v->cur_x = v->cur_y = v->cur_role = -1;
    return v;
}

void vt_destroy(vt *v)
{
    if (!v)
        return;
    for (int from = 0; from <= FROM_ANY; from++)
        for (int to = 0; to < ROLE_COUNT; to++)
            free(v->trans[from][to]);
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

/* The shortest ANSI move: forward along the row ("ESC [ n C"), a row's first column ("ESC [ y H"),
 * or the full address. Trailing parameters of 1 are left out, as ECMA-48 allows. */
static char *ansi_move(char *p, const vt *v, int x, int y)
{
    *p++ = '\x1b';
    *p++ = '[';
    if (y == v->cur_y && v->cur_x >= 0 && x > v->cur_x) {
        if (x - v->cur_x > 1)
            p = put_uint(p, (unsigned)(x - v->cur_x));
        *p++ = 'C';
        return p;
    }
    if (y > 0 || x > 0) /* "ESC [ ; n H" is valid too, but not every parser takes it */
        p = put_uint(p, (unsigned)y + 1);
    if (x > 0) {
        *p++ = ';';
        p = put_uint(p, (unsigned)x + 1);
    }
    *p++ = 'H';
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
        char b[CUP_MAX];
        append(v, b, (size_t)(ansi_move(b, v, x, y) - b));
    }
    v->cur_x = x;
    v->cur_y = y;
}

void vt_set_sync(vt *v, bool on)
{
    v->sync_next = on;
}

void vt_begin(vt *v, int w, int h, bool clear)
{
    v->len = 0;
    v->sync = v->sync_next;
    v->w = w;
    v->h = h;
    v->cur_x = v->cur_y = v->cur_role = -1;
    if (v->sync)
        append(v, VT_SYNC_BEGIN, sizeof VT_SYNC_BEGIN - 1);
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
    reserve(v, (size_t)n * ((v->seq_max > SLOT ? v->seq_max : SLOT) + GLYPH_MAX));
    char *p = v->buf + v->len;
    for (int i = 0; i < n; i++) {
        int r = c[i].role < ROLE_COUNT ? c[i].role : ROLE_NORMAL;
        bool blank = c[i].glyph[0] == ' ' || c[i].glyph[0] == '\0';
        if (r != v->cur_role && !(blank && v->cur_role >= 0 && v->blank_alike[v->cur_role][r])) {
            int from = v->cur_role < 0 ? FROM_ANY : v->cur_role;
            size_t len = v->trans_len[from][r];
            if (len <= SLOT)
                memcpy(p, v->trans[from][r], SLOT); /* constant size: a move or two, no call */
            else
                memcpy(p, v->trans[from][r], len);
            p += len;
            v->cur_role = r;
        }
        p = put_glyph(p, &c[i]);
    }
    v->len = (size_t)(p - v->buf);
    v->cur_x = x + n < v->w ? x + n : -1; /* past the last column the cursor waits to wrap */
}

const char *vt_end(vt *v, size_t *len)
{
    size_t opening = v->sync ? sizeof VT_SYNC_BEGIN - 1 : 0;
    if (v->len == opening) /* nothing changed: nothing to send, not even the brackets */
        v->len = 0;
    if (v->len > 0 && v->cur_role != -1) {
        append(v, v->reset, strlen(v->reset));
        v->cur_role = -1;
    }
    if (v->len > 0 && v->sync)
        append(v, VT_SYNC_END, sizeof VT_SYNC_END - 1);
    *len = v->len;
    return v->buf ? v->buf : "";
}
