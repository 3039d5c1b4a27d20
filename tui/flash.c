/* flash: recent ladder changes (see flash.h). */
#include "tui/flash.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

typedef struct mark {
    ladder_mark m;
    int64_t until_ns;
} mark;

typedef struct side_copy {
    book_level lv[VIEW_LEVELS];
    size_t n;
} side_copy;

#define INDEX_SLOTS (FLASH_MAX * 2) /* a power of two, at most half full */

struct flash {
    int64_t hold_ns;
    mark marks[FLASH_MAX];
    size_t n;
    /* Where each (side, price) sits in marks, open addressing: 0 empty, else index + 1. A busy
     * feed changes hundreds of levels a frame; a linear search per change was quadratic. */
    uint16_t index[INDEX_SLOTS];
    bool have_prev;
    char symbol[SYM_NAME_MAX];
    uint64_t version;
    side_copy prev[2]; /* BOOK_BID, BOOK_ASK order as book_side values */
};

flash *flash_create(int64_t hold_ns)
{
    flash *f = xcalloc(1, sizeof *f);
    f->hold_ns = hold_ns > 0 ? hold_ns : FLASH_HOLD_NS;
    return f;
}

void flash_destroy(flash *f)
{
    free(f);
}

void flash_reset(flash *f)
{
    f->n = 0;
    memset(f->index, 0, sizeof f->index);
    f->have_prev = false;
}

static size_t slot_of(book_side side, int64_t px)
{
    uint64_t h = ((uint64_t)px * 2 + (uint64_t)side) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 40) & (INDEX_SLOTS - 1);
}

/* The index slot holding (side, px), or the empty slot where it would go. */
static uint16_t *find_slot(flash *f, book_side side, int64_t px)
{
    for (size_t s = slot_of(side, px);; s = (s + 1) & (INDEX_SLOTS - 1)) {
        uint16_t *e = &f->index[s];
        if (*e == 0)
            return e;
        const ladder_mark *m = &f->marks[*e - 1].m;
        if (m->side == side && m->px == px)
            return e;
    }
}

/* After marks moved (expiry, the oldest giving way). */
static void reindex(flash *f)
{
    memset(f->index, 0, sizeof f->index);
    for (size_t i = 0; i < f->n; i++)
        *find_slot(f, f->marks[i].m.side, f->marks[i].m.px) = (uint16_t)(i + 1);
}

static void add_mark(flash *f, book_side side, int64_t px, ladder_change kind, int64_t until)
{
    uint16_t *e = find_slot(f, side, px);
    if (*e) {
        f->marks[*e - 1] = (mark){ { side, px, kind }, until };
        return;
    }
    if (f->n == FLASH_MAX) { /* the oldest quarter gives way at once, then the index is rebuilt */
        size_t drop = FLASH_MAX / 4;
        memmove(f->marks, f->marks + drop, (FLASH_MAX - drop) * sizeof *f->marks);
        f->n -= drop;
        reindex(f);
        e = find_slot(f, side, px);
    }
    f->marks[f->n++] = (mark){ { side, px, kind }, until };
    *e = (uint16_t)f->n;
}

/* Is px inside the price range a side's copy covers? Bids run high to low, asks low to high; a
 * copy shorter than VIEW_LEVELS is the whole side, so everything beyond its end is covered. */
static bool covered(const book_level *lv, size_t n, book_side side, int64_t px)
{
    if (n < VIEW_LEVELS)
        return true;
    return side == BOOK_BID ? px >= lv[n - 1].px : px <= lv[n - 1].px;
}

/* Does price a come before price b on this side (bids high to low, asks low to high)? */
static bool before(book_side side, int64_t a, int64_t b)
{
    return side == BOOK_BID ? a > b : a < b;
}

/* The level at px in lv, best first, looked up with a cursor that only moves forward: callers ask
 * in the side's order, so comparing two copies is one pass instead of one scan per level. */
static const book_level *find_level(const book_level *lv, size_t n, size_t *cur, book_side side,
                                    int64_t px)
{
    while (*cur < n && before(side, lv[*cur].px, px))
        (*cur)++;
    return *cur < n && lv[*cur].px == px ? &lv[*cur] : NULL;
}

static void compare_side(flash *f, book_side side, const side_copy *old, const book_level *lv,
                         size_t n, int64_t until)
{
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        if (!covered(old->lv, old->n, side, lv[i].px))
            continue;
        const book_level *o = find_level(old->lv, old->n, &cur, side, lv[i].px);
        if (!o || lv[i].qty > o->qty)
            add_mark(f, side, lv[i].px, LADDER_ADD, until);
        else if (lv[i].qty < o->qty)
            add_mark(f, side, lv[i].px, LADDER_PULL, until);
    }
    cur = 0;
    for (size_t i = 0; i < old->n; i++)
        if (covered(lv, n, side, old->lv[i].px) && !find_level(lv, n, &cur, side, old->lv[i].px))
            add_mark(f, side, old->lv[i].px, LADDER_PULL, until);
}

static void keep(side_copy *c, const book_level *lv, size_t n)
{
    c->n = n < VIEW_LEVELS ? n : VIEW_LEVELS;
    memcpy(c->lv, lv, c->n * sizeof *lv);
}

void flash_update(flash *f, const view_symbol *v, int64_t now_ns)
{
    bool same = f->have_prev && !strcmp(f->symbol, v->symbol);
    if (same && v->version == f->version)
        return;
    if (!same || v->version < f->version || v->state != SYNC_LIVE) {
        f->n = 0;
        memset(f->index, 0, sizeof f->index);
    } else {
        compare_side(f, BOOK_BID, &f->prev[0], v->bids, v->nbids, now_ns + f->hold_ns);
        compare_side(f, BOOK_ASK, &f->prev[1], v->asks, v->nasks, now_ns + f->hold_ns);
    }
    keep(&f->prev[0], v->bids, v->nbids);
    keep(&f->prev[1], v->asks, v->nasks);
    memcpy(f->symbol, v->symbol, sizeof f->symbol);
    f->version = v->version;
    f->have_prev = v->state == SYNC_LIVE;
}

static void expire(flash *f, int64_t now_ns)
{
    size_t w = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->marks[i].until_ns > now_ns)
            f->marks[w++] = f->marks[i];
    if (w != f->n) {
        f->n = w;
        reindex(f);
    }
}

size_t flash_marks(flash *f, int64_t now_ns, ladder_mark *out, size_t cap)
{
    expire(f, now_ns);
    size_t n = f->n < cap ? f->n : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = f->marks[f->n - n + i].m;
    return n;
}

int64_t flash_next_expiry(const flash *f)
{
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < f->n; i++)
        if (f->marks[i].until_ns < t)
            t = f->marks[i].until_ns;
    return t;
}
