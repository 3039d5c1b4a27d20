/*
 * base_sorted: sorted arrays with binary search + memmove (see base_sorted.h). Bids are stored with
 * the price negated so both sides share one ascending search.
 */
#include "base_sorted.h"

#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct sa_side {
    book_level *lv; /* lv[i].px is the search key: -price for bids, price for asks */
    size_t n, cap;
} sa_side;

struct sabook {
    sa_side side[2];
};

sabook *sabook_create(void)
{
    return xcalloc(1, sizeof(sabook));
}

void sabook_destroy(sabook *b)
{
    if (!b)
        return;
    free(b->side[0].lv);
    free(b->side[1].lv);
    free(b);
}

void sabook_clear(sabook *b)
{
    b->side[0].n = 0;
    b->side[1].n = 0;
}

/* First index whose key is >= key. */
static size_t lower_bound(const sa_side *s, int64_t key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->lv[mid].px < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void insert_at(sa_side *s, size_t i, int64_t key, int64_t qty)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->lv = xreallocarray(s->lv, s->cap, sizeof *s->lv);
    }
    memmove(&s->lv[i + 1], &s->lv[i], (s->n - i) * sizeof *s->lv);
    s->lv[i] = (book_level){ .px = key, .qty = qty };
    s->n++;
}

void sabook_set(sabook *b, book_side side, int64_t px, int64_t qty)
{
    sa_side *s = &b->side[side == BOOK_ASK];
    int64_t key = side == BOOK_ASK ? px : -px;
    size_t i = lower_bound(s, key);
    bool found = i < s->n && s->lv[i].px == key;
    if (qty > 0 && found) {
        s->lv[i].qty = qty;
    } else if (qty > 0) {
        insert_at(s, i, key, qty);
    } else if (found) {
        memmove(&s->lv[i], &s->lv[i + 1], (s->n - i - 1) * sizeof *s->lv);
        s->n--;
    }
}

bool sabook_best(const sabook *b, book_side side, book_level *out)
{
    const sa_side *s = &b->side[side == BOOK_ASK];
    if (s->n == 0)
        return false;
    int64_t key = s->lv[0].px;
    *out = (book_level){ .px = side == BOOK_ASK ? key : -key, .qty = s->lv[0].qty };
    return true;
}

size_t sabook_count(const sabook *b, book_side side)
{
    return b->side[side == BOOK_ASK].n;
}
