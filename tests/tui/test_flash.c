/* flash: adds and pulls between consecutive views, expiry, scroll-outs ignored, resets. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tui/flash.h"

#define MS 1000000LL

static view_symbol *mkview(const char *sym, uint64_t version)
{
    view_symbol *v = calloc(1, sizeof *v);
    strcpy(v->symbol, sym);
    v->version = version;
    v->state = SYNC_LIVE;
    return v;
}

static void set_side(view_symbol *v, book_side side, const book_level *lv, size_t n)
{
    if (side == BOOK_BID) {
        memcpy(v->bids, lv, n * sizeof *lv);
        v->nbids = n;
    } else {
        memcpy(v->asks, lv, n * sizeof *lv);
        v->nasks = n;
    }
}

static const ladder_mark *find(const ladder_mark *m, size_t n, book_side side, int64_t px)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].side == side && m[i].px == px)
            return &m[i];
    return NULL;
}

static int kind_of(const ladder_mark *m, size_t n, book_side side, int64_t px)
{
    const ladder_mark *k = find(m, n, side, px);
    cr_assert(k, "no mark at %lld", (long long)px);
    return k ? k->kind : 0;
}

Test(flash, marks_adds_and_pulls_then_expires)
{
    flash *f = flash_create(100 * MS);
    view_symbol *a = mkview("BTCUSDT", 1), *b = mkview("BTCUSDT", 2);
    book_level bids1[] = { { 100, 5 }, { 99, 5 }, { 98, 5 } };
    book_level asks1[] = { { 101, 5 }, { 102, 5 } };
    book_level bids2[] = { { 100, 7 }, { 99, 3 }, { 97, 1 } }; /* 98 pulled, 97 added */
    book_level asks2[] = { { 101, 5 }, { 102, 5 } };
    set_side(a, BOOK_BID, bids1, 3);
    set_side(a, BOOK_ASK, asks1, 2);
    set_side(b, BOOK_BID, bids2, 3);
    set_side(b, BOOK_ASK, asks2, 2);
    flash_update(f, a, 0);
    ladder_mark m[16];
    cr_assert_eq(flash_marks(f, 0, m, 16), 0, "the first view has nothing to compare");
    flash_update(f, b, 10 * MS);
    size_t n = flash_marks(f, 10 * MS, m, 16);
    cr_assert_eq(n, 4);
    cr_assert_eq(kind_of(m, n, BOOK_BID, 100), LADDER_ADD, "grew");
    cr_assert_eq(kind_of(m, n, BOOK_BID, 99), LADDER_PULL, "shrank");
    cr_assert_eq(kind_of(m, n, BOOK_BID, 98), LADDER_PULL, "vanished");
    cr_assert_eq(kind_of(m, n, BOOK_BID, 97), LADDER_ADD, "appeared");
    cr_assert_null(find(m, n, BOOK_ASK, 101), "unchanged levels are not marked");
    cr_assert_eq(flash_next_expiry(f), 110 * MS);
    cr_assert_eq(flash_marks(f, 109 * MS, m, 16), 4);
    cr_assert_eq(flash_marks(f, 110 * MS, m, 16), 0, "gone after the hold time");
    cr_assert_eq(flash_next_expiry(f), INT64_MAX);
    free(a);
    free(b);
    flash_destroy(f);
}

Test(flash, the_same_version_twice_changes_nothing)
{
    flash *f = flash_create(100 * MS);
    view_symbol *a = mkview("BTCUSDT", 1);
    book_level bids[] = { { 100, 5 } };
    set_side(a, BOOK_BID, bids, 1);
    flash_update(f, a, 0);
    a->bids[0].qty = 9; /* would be a change, but the version did not move */
    flash_update(f, a, 1);
    ladder_mark m[4];
    cr_assert_eq(flash_marks(f, 1, m, 4), 0);
    free(a);
    flash_destroy(f);
}

/* 100 bid levels 1000..901; the next view moved up one: 1001 appears at the top (an add) and 901
 * scrolls out of the window at the bottom (not a pull). */
Test(flash, levels_scrolling_out_of_the_window_are_not_pulls)
{
    flash *f = flash_create(100 * MS);
    view_symbol *a = mkview("ETHUSDT", 1), *b = mkview("ETHUSDT", 2);
    for (int i = 0; i < VIEW_LEVELS; i++) {
        a->bids[i] = (book_level){ 1000 - i, 1 };
        b->bids[i] = (book_level){ 1001 - i, 1 };
    }
    a->nbids = b->nbids = VIEW_LEVELS;
    flash_update(f, a, 0);
    flash_update(f, b, 1);
    ladder_mark m[8];
    size_t n = flash_marks(f, 1, m, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(m[0].px, 1001);
    cr_assert_eq(m[0].kind, LADDER_ADD);
    free(a);
    free(b);
    flash_destroy(f);
}

Test(flash, another_symbol_or_a_resync_resets)
{
    flash *f = flash_create(100 * MS);
    view_symbol *a = mkview("BTCUSDT", 5), *b = mkview("ETHUSDT", 6);
    book_level x[] = { { 100, 5 } }, y[] = { { 200, 5 } };
    set_side(a, BOOK_BID, x, 1);
    set_side(b, BOOK_BID, y, 1);
    flash_update(f, a, 0);
    flash_update(f, b, 1);
    ladder_mark m[4];
    cr_assert_eq(flash_marks(f, 1, m, 4), 0, "a symbol switch is not a change");

    view_symbol *c = mkview("ETHUSDT", 7);
    c->state = SYNC_RESYNCING;
    flash_update(f, c, 2);
    view_symbol *d = mkview("ETHUSDT", 8);
    book_level z[] = { { 300, 1 } };
    set_side(d, BOOK_BID, z, 1);
    flash_update(f, d, 3);
    cr_assert_eq(flash_marks(f, 3, m, 4), 0, "the first LIVE book after a resync is not a flood");
    free(a);
    free(b);
    free(c);
    free(d);
    flash_destroy(f);
}

Test(flash, bounded_and_newest_first_out)
{
    flash *f = flash_create(100 * MS);
    view_symbol *a = mkview("X", 1), *b = mkview("X", 2);
    for (int i = 0; i < VIEW_LEVELS; i++) {
        a->bids[i] = (book_level){ 1000 - i, 1 };
        b->bids[i] = (book_level){ 1000 - i, 2 };
        a->asks[i] = (book_level){ 2000 + i, 1 };
        b->asks[i] = (book_level){ 2000 + i, 2 };
    }
    a->nbids = b->nbids = a->nasks = b->nasks = VIEW_LEVELS;
    flash_update(f, a, 0);
    flash_update(f, b, 1);
    ladder_mark m[FLASH_MAX];
    cr_assert_eq(flash_marks(f, 1, m, FLASH_MAX), 2 * VIEW_LEVELS);
    ladder_mark few[3];
    cr_assert_eq(flash_marks(f, 1, few, 3), 3, "cap respected");
    free(a);
    free(b);
    flash_destroy(f);
}

/* A side of n unique prices below top (bids) drawn at random, best first. */
static void random_bids(book_level *lv, size_t n, int64_t top, unsigned *seed)
{
    int64_t px = top;
    for (size_t i = 0; i < n; i++) {
        px -= 1 + (int64_t)(rand_r(seed) % 3);
        lv[i] = (book_level){ px, 1 + (int64_t)(rand_r(seed) % 4) };
    }
}

static const book_level *level_at(const book_level *lv, size_t n, int64_t px)
{
    for (size_t i = 0; i < n; i++)
        if (lv[i].px == px)
            return &lv[i];
    return NULL;
}

/* Hundreds of changes a frame for many frames, past FLASH_MAX and through expiries: every change
 * of the frame is marked with its kind, no price is marked twice, the bound holds. */
Test(flash, busy_feed_marks_every_change_once_within_the_bound)
{
    flash *f = flash_create(500 * MS);
    view_symbol *prev = mkview("X", 1), *cur = mkview("X", 1);
    unsigned seed = 7;
    random_bids(prev->bids, VIEW_LEVELS, 100000, &seed);
    prev->nbids = VIEW_LEVELS;
    flash_update(f, prev, 0);
    static ladder_mark m[FLASH_MAX];
    bool overflowed = false;
    for (int frame = 1; frame <= 300; frame++) {
        memcpy(cur, prev, sizeof *cur);
        cur->version = (uint64_t)frame + 1;
        random_bids(cur->bids, VIEW_LEVELS, 100000 - (frame % 60) * 10, &seed);
        int64_t now = frame * 10 * MS;
        flash_update(f, cur, now);
        size_t n = flash_marks(f, now, m, FLASH_MAX);
        cr_assert_leq(n, FLASH_MAX);
        overflowed |= n > FLASH_MAX * 3 / 4;
        for (size_t i = 0; i < n; i++)
            for (size_t k = i + 1; k < n; k++)
                cr_assert(m[i].side != m[k].side || m[i].px != m[k].px, "price %lld marked twice",
                          (long long)m[i].px);
        int64_t low = prev->bids[VIEW_LEVELS - 1].px; /* the range both views cover */
        int64_t low_cur = cur->bids[VIEW_LEVELS - 1].px;
        for (size_t i = 0; i < VIEW_LEVELS; i++) {
            const book_level *c = &cur->bids[i];
            const book_level *o = level_at(prev->bids, VIEW_LEVELS, c->px);
            if (c->px < low || (o && o->qty == c->qty))
                continue;
            int want = !o || c->qty > o->qty ? LADDER_ADD : LADDER_PULL;
            cr_assert_eq(kind_of(m, n, BOOK_BID, c->px), want, "frame %d price %lld", frame,
                         (long long)c->px);
        }
        for (size_t i = 0; i < VIEW_LEVELS; i++) {
            const book_level *o = &prev->bids[i];
            if (o->px >= low_cur && !level_at(cur->bids, VIEW_LEVELS, o->px))
                cr_assert_eq(kind_of(m, n, BOOK_BID, o->px), LADDER_PULL, "frame %d gone %lld",
                             frame, (long long)o->px);
        }
        memcpy(prev, cur, sizeof *prev);
    }
    cr_expect(overflowed, "the test never filled the marks");
    free(prev);
    free(cur);
    flash_destroy(f);
}
