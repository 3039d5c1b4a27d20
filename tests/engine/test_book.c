/* Tests for book: the L2 ladder + bitmap + overflow book, checked against hand-computed books and a
 * randomized differential run against a plain sorted-array reference. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "market/book.h"
#include "util/err.h"
#include "util/memacct.h"

/* ---- a reference book: one ascending sorted array per side ---- */

typedef struct ref_side {
    book_level *lv;
    size_t n, cap;
} ref_side;

typedef struct ref_book {
    ref_side side[2];
    size_t max_levels;
} ref_book;

static size_t ref_find(const ref_side *r, int64_t px)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->lv[mid].px < px)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int ref_set(ref_book *rb, book_side side, int64_t px, int64_t qty)
{
    ref_side *r = &rb->side[side];
    size_t i = ref_find(r, px);
    bool present = i < r->n && r->lv[i].px == px;
    if (qty == 0) {
        if (present) {
            memmove(&r->lv[i], &r->lv[i + 1], (r->n - i - 1) * sizeof(book_level));
            r->n--;
        }
        return 0;
    }
    if (present) {
        r->lv[i].qty = qty;
        return 0;
    }
    if (r->n >= rb->max_levels)
        return BF_ETOOBIG;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->lv = realloc(r->lv, r->cap * sizeof(book_level));
    }
    memmove(&r->lv[i + 1], &r->lv[i], (r->n - i) * sizeof(book_level));
    r->lv[i] = (book_level){ px, qty };
    r->n++;
    return 0;
}

/* The k-th level from the touch. */
static book_level ref_at(const ref_book *rb, book_side side, size_t k)
{
    const ref_side *r = &rb->side[side];
    return side == BOOK_BID ? r->lv[r->n - 1 - k] : r->lv[k];
}

static void ref_free(ref_book *rb)
{
    free(rb->side[0].lv);
    free(rb->side[1].lv);
}

static void check_side_full(const book *b, const ref_book *rb, book_side side, uint64_t op)
{
    size_t n = rb->side[side].n;
    cr_assert_eq(book_count(b, side), n, "op %llu side %d: count %zu != %zu",
                 (unsigned long long)op, side, book_count(b, side), n);
    book_level *got = malloc((n + 1) * sizeof(book_level));
    size_t k = book_top(b, side, got, n + 1);
    cr_assert_eq(k, n, "op %llu side %d: top returned %zu of %zu", (unsigned long long)op, side, k,
                 n);
    int64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        book_level want = ref_at(rb, side, i);
        cr_assert(got[i].px == want.px && got[i].qty == want.qty,
                  "op %llu side %d level %zu: got %lld x %lld want %lld x %lld",
                  (unsigned long long)op, side, i, (long long)got[i].px, (long long)got[i].qty,
                  (long long)want.px, (long long)want.qty);
        cum += want.qty;
        if (i == n / 3)
            cr_assert_eq(book_cum_qty(b, side, i + 1), cum);
    }
    cr_assert_eq(book_cum_qty(b, side, n + 10), cum);
    free(got);
}

static void check_best(const book *b, const ref_book *rb, uint64_t op)
{
    for (int s = 0; s < 2; s++) {
        book_level got;
        bool has = book_best(b, (book_side)s, &got);
        cr_assert_eq(has, rb->side[s].n > 0, "op %llu side %d: has_best", (unsigned long long)op,
                     s);
        if (has) {
            book_level want = ref_at(rb, (book_side)s, 0);
            cr_assert(got.px == want.px && got.qty == want.qty,
                      "op %llu side %d best %lld x %lld want %lld x %lld", (unsigned long long)op,
                      s, (long long)got.px, (long long)got.qty, (long long)want.px,
                      (long long)want.qty);
        }
    }
}

/* ---- a tiny deterministic PRNG ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t rnd_below(int64_t n)
{
    return (int64_t)(rnd() % (uint64_t)n);
}

/* ---- small books ---- */

Test(book, empty_book_has_no_top)
{
    book *b = book_create(NULL);
    book_level lv;
    int64_t x;
    cr_assert_not(book_best_bid(b, &lv));
    cr_assert_not(book_best_ask(b, &lv));
    cr_assert_not(book_spread(b, &x));
    cr_assert_not(book_mid_x2(b, &x));
    cr_assert_not(book_crossed(b));
    cr_assert_eq(book_count(b, BOOK_BID), 0);
    cr_assert_eq(book_top(b, BOOK_ASK, &lv, 1), 0);
    cr_assert_eq(book_cum_qty(b, BOOK_BID, 5), 0);
    cr_assert_eq(book_qty_at(b, BOOK_BID, 100), 0);
    book_destroy(b);
}

Test(book, best_spread_mid_on_small_book)
{
    book *b = book_create(NULL);
    cr_assert_eq(book_set(b, BOOK_BID, 6180010, 4230), 0);
    cr_assert_eq(book_set(b, BOOK_BID, 6180000, 100), 0);
    cr_assert_eq(book_set(b, BOOK_ASK, 6180020, 4853), 0);
    cr_assert_eq(book_set(b, BOOK_ASK, 6180050, 7), 0);
    book_level bid, ask;
    cr_assert(book_best_bid(b, &bid));
    cr_assert(book_best_ask(b, &ask));
    cr_assert_eq(bid.px, 6180010);
    cr_assert_eq(bid.qty, 4230);
    cr_assert_eq(ask.px, 6180020);
    cr_assert_eq(ask.qty, 4853);
    int64_t spread, mid2;
    cr_assert(book_spread(b, &spread));
    cr_assert_eq(spread, 10);
    cr_assert(book_mid_x2(b, &mid2));
    cr_assert_eq(mid2, 6180010 + 6180020);
    cr_assert_not(book_crossed(b));
    /* replacing the best quantity keeps the price */
    cr_assert_eq(book_set(b, BOOK_BID, 6180010, 1), 0);
    cr_assert(book_best_bid(b, &bid));
    cr_assert_eq(bid.qty, 1);
    cr_assert_eq(book_count(b, BOOK_BID), 2);
    book_destroy(b);
}

Test(book, crossed_and_locked_detected)
{
    book *b = book_create(NULL);
    book_set(b, BOOK_BID, 1000, 1);
    book_set(b, BOOK_ASK, 1001, 1);
    cr_assert_not(book_crossed(b));
    book_set(b, BOOK_BID, 1001, 1); /* locked: bid == ask */
    cr_assert(book_crossed(b));
    book_set(b, BOOK_BID, 1001, 0);
    cr_assert_not(book_crossed(b));
    book_set(b, BOOK_ASK, 999, 1); /* crossed */
    cr_assert(book_crossed(b));
    int64_t spread;
    cr_assert(book_spread(b, &spread));
    cr_assert_eq(spread, -1);
    book_destroy(b);
}

Test(book, update_bid_and_ask_match_book_set)
{
    book *a = book_create(NULL), *b = book_create(NULL);
    const int64_t px[] = { 500, 505, 498, 505, 400 };
    const int64_t qty[] = { 3, 4, 5, 0, 9 };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(book_update_bid(a, px[i], qty[i]), book_set(b, BOOK_BID, px[i], qty[i]));
        cr_assert_eq(book_update_ask(a, px[i] + 1000, qty[i]),
                     book_set(b, BOOK_ASK, px[i] + 1000, qty[i]));
    }
    book_level la[8], lb[8];
    for (int s = 0; s < 2; s++) {
        size_t na = book_top(a, (book_side)s, la, 8), nb = book_top(b, (book_side)s, lb, 8);
        cr_assert_eq(na, 3);
        cr_assert_eq(na, nb);
        cr_assert_arr_eq(la, lb, na * sizeof(book_level));
    }
    cr_assert_eq(la[0].px, 1400); /* asks: 1400 1498 1500 (1505 deleted) */
    cr_assert_eq(la[1].px, 1498);
    cr_assert_eq(book_update_bid(a, 0, 1), BF_EINVAL);
    cr_assert_eq(book_update_ask(a, 10, -1), BF_EINVAL);
    book_destroy(a);
    book_destroy(b);
}

Test(book, invalid_arguments_rejected_without_change)
{
    book *b = book_create(NULL);
    book_set(b, BOOK_BID, 100, 1);
    cr_assert_eq(book_set(b, BOOK_BID, 0, 5), BF_EINVAL);
    cr_assert_eq(book_set(b, BOOK_BID, -5, 5), BF_EINVAL);
    cr_assert_eq(book_set(b, BOOK_ASK, 100, -1), BF_EINVAL);
    cr_assert_eq(book_set(b, BOOK_BID, 100, -1), BF_EINVAL);
    cr_assert_eq(book_set(b, (book_side)7, 100, 1), BF_EINVAL);
    cr_assert_eq(book_set(NULL, BOOK_BID, 100, 1), BF_EINVAL);
    cr_assert_eq(book_count(b, BOOK_BID), 1);
    cr_assert_eq(book_count(b, BOOK_ASK), 0);
    cr_assert_eq(book_qty_at(b, BOOK_BID, 100), 1);
    /* deleting an absent level is fine */
    cr_assert_eq(book_set(b, BOOK_ASK, 123, 0), 0);
    cr_assert_eq(book_set(b, BOOK_BID, 101, 0), 0);
    cr_assert_eq(book_count(b, BOOK_BID), 1);
    book_destroy(b);
}

/* ---- deleting the best ---- */

Test(book, delete_best_finds_next_within_and_across_words)
{
    book *b = book_create(NULL);
    const int64_t base = 6000000;
    /* same word, next word, a summary-word away (> 4096 ticks), then overflow (> 8192 ticks) */
    const int64_t bids[] = { base, base - 3, base - 70, base - 5000, base - 300000 };
    for (int i = 0; i < 5; i++)
        cr_assert_eq(book_set(b, BOOK_BID, bids[i], 10 + i), 0);
    for (int i = 0; i < 5; i++) {
        book_level lv;
        cr_assert(book_best_bid(b, &lv));
        cr_assert_eq(lv.px, bids[i], "step %d: best %lld", i, (long long)lv.px);
        cr_assert_eq(lv.qty, 10 + i);
        book_set(b, BOOK_BID, bids[i], 0);
    }
    cr_assert_not(book_best_bid(b, NULL));
    const int64_t asks[] = { base + 1, base + 2, base + 130, base + 6000, base + 300000 };
    for (int i = 4; i >= 0; i--)
        cr_assert_eq(book_set(b, BOOK_ASK, asks[i], 20 + i), 0);
    for (int i = 0; i < 5; i++) {
        book_level lv;
        cr_assert(book_best_ask(b, &lv));
        cr_assert_eq(lv.px, asks[i], "step %d: best %lld", i, (long long)lv.px);
        book_set(b, BOOK_ASK, asks[i], 0);
    }
    cr_assert_not(book_best_ask(b, NULL));
    cr_assert_eq(book_count(b, BOOK_ASK), 0);
    book_destroy(b);
}

Test(book, deleting_a_non_best_level_keeps_best)
{
    book *b = book_create(NULL);
    book_set(b, BOOK_ASK, 200, 1);
    book_set(b, BOOK_ASK, 210, 2);
    book_set(b, BOOK_ASK, 210, 0);
    book_level lv;
    cr_assert(book_best_ask(b, &lv));
    cr_assert_eq(lv.px, 200);
    cr_assert_eq(book_count(b, BOOK_ASK), 1);
    book_destroy(b);
}

/* The best's quantity is read where the level lives (ladder or overflow), and an emptied side takes
 * new levels again, including an ask at INT64_MAX, whose key is the empty side's. */
Test(book, best_quantity_follows_ladder_and_overflow_and_empty_sides)
{
    book *b = book_create(NULL);
    book_level lv;
    cr_assert_eq(book_set(b, BOOK_BID, 1000000, 5), 0); /* centres the bid window */
    cr_assert_eq(book_set(b, BOOK_BID, 2000000, 7), 0); /* best, above the window */
    cr_assert_eq(book_set(b, BOOK_BID, 2000000, 8), 0); /* its quantity, in the overflow */
    cr_assert(book_best_bid(b, &lv));
    cr_assert(lv.px == 2000000 && lv.qty == 8);
    cr_assert_eq(book_set(b, BOOK_BID, 1000000, 6), 0);
    cr_assert_eq(book_set(b, BOOK_BID, 2000000, 0), 0);
    cr_assert(book_best_bid(b, &lv));
    cr_assert(lv.px == 1000000 && lv.qty == 6);
    cr_assert_eq(book_set(b, BOOK_BID, 1000000, 0), 0);
    cr_assert_not(book_best_bid(b, &lv));
    cr_assert_eq(book_set(b, BOOK_BID, 1000001, 0), 0); /* absent, on an empty side */
    cr_assert_not(book_best_bid(b, &lv));
    cr_assert_eq(book_set(b, BOOK_BID, 999999, 3), 0);
    cr_assert(book_best_bid(b, &lv));
    cr_assert(lv.px == 999999 && lv.qty == 3);

    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX, 1), 0);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX, 2), 0);
    cr_assert(book_best_ask(b, &lv));
    cr_assert(lv.px == INT64_MAX && lv.qty == 2);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX - 20000, 4), 0); /* in the window: best */
    cr_assert(book_best_ask(b, &lv));
    cr_assert_eq(lv.px, INT64_MAX - 20000);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX - 20000, 0), 0);
    cr_assert(book_best_ask(b, &lv));
    cr_assert(lv.px == INT64_MAX && lv.qty == 2);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX, 0), 0);
    cr_assert_not(book_best_ask(b, &lv));
    cr_assert_eq(book_count(b, BOOK_ASK), 0);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX, 9), 0); /* the first level again */
    cr_assert(book_best_ask(b, &lv));
    cr_assert(lv.px == INT64_MAX && lv.qty == 9);
    book_destroy(b);
}

/* ---- top-N across ladder and overflow ---- */

Test(book, top_n_orders_both_sides_across_overflow)
{
    book_config cfg = { .window_ticks = 64, .max_levels = 1000 };
    book *b = book_create(&cfg);
    const int64_t mid = 100000;
    /* bids: 20 near (in the 64-tick window) and 5 far below; asks likewise above */
    for (int i = 0; i < 20; i++) {
        book_set(b, BOOK_BID, mid - 1 - 2 * i, 100 + i);
        book_set(b, BOOK_ASK, mid + 1 + 2 * i, 200 + i);
    }
    for (int i = 0; i < 5; i++) {
        book_set(b, BOOK_BID, mid - 1000 - 500 * i, 300 + i);
        book_set(b, BOOK_ASK, mid + 1000 + 500 * i, 400 + i);
    }
    book_level lv[40];
    cr_assert_eq(book_top(b, BOOK_BID, lv, 40), 25);
    for (int i = 0; i < 25; i++) {
        int64_t want = i < 20 ? mid - 1 - 2 * i : mid - 1000 - 500 * (i - 20);
        cr_assert_eq(lv[i].px, want, "bid %d", i);
    }
    cr_assert_eq(book_top(b, BOOK_ASK, lv, 40), 25);
    for (int i = 0; i < 25; i++) {
        int64_t want = i < 20 ? mid + 1 + 2 * i : mid + 1000 + 500 * (i - 20);
        cr_assert_eq(lv[i].px, want, "ask %d", i);
    }
    /* a partial top stops at n */
    cr_assert_eq(book_top(b, BOOK_ASK, lv, 3), 3);
    cr_assert_eq(lv[2].px, mid + 5);
    /* cum qty: 100+101+102 for the first three bids; all 25 asks */
    cr_assert_eq(book_cum_qty(b, BOOK_BID, 3), 303);
    int64_t all = 0;
    for (int i = 0; i < 20; i++)
        all += 200 + i;
    for (int i = 0; i < 5; i++)
        all += 400 + i;
    cr_assert_eq(book_cum_qty(b, BOOK_ASK, 1000), all);
    cr_assert_eq(book_count(b, BOOK_BID), 25);
    cr_assert_eq(book_count(b, BOOK_ASK), 25);
    book_destroy(b);
}

Test(book, far_levels_five_percent_away)
{
    book *b = book_create(NULL);
    const int64_t mid = 6180015;
    const int64_t far = mid / 20; /* 5 % */
    book_set(b, BOOK_BID, mid - 5, 1);
    book_set(b, BOOK_ASK, mid + 5, 2);
    book_set(b, BOOK_BID, mid - far, 3);
    book_set(b, BOOK_ASK, mid + far, 4);
    book_set(b, BOOK_BID, mid + far, 5); /* absurd but legal: a far bid above everything */
    cr_assert_eq(book_qty_at(b, BOOK_BID, mid - far), 3);
    cr_assert_eq(book_qty_at(b, BOOK_ASK, mid + far), 4);
    book_level lv;
    cr_assert(book_best_bid(b, &lv));
    cr_assert_eq(lv.px, mid + far);
    cr_assert(book_crossed(b));
    book_set(b, BOOK_BID, mid + far, 0);
    cr_assert(book_best_bid(b, &lv));
    cr_assert_eq(lv.px, mid - 5);
    book_level top[4];
    cr_assert_eq(book_top(b, BOOK_BID, top, 4), 2);
    cr_assert_eq(top[1].px, mid - far);
    cr_assert_eq(top[1].qty, 3);
    /* the near level is still found by qty_at after the window followed the touch around */
    cr_assert_eq(book_qty_at(b, BOOK_BID, mid - 5), 1);
    cr_assert_not(book_crossed(b));
    book_destroy(b);
}

Test(book, window_follows_a_drifting_touch_and_keeps_levels)
{
    book_config cfg = { .window_ticks = 256, .max_levels = 100000 };
    book *b = book_create(&cfg);
    /* the touch climbs 20,000 ticks one level at a time, leaving every level behind */
    for (int64_t px = 10000; px < 30000; px += 7)
        cr_assert_eq(book_set(b, BOOK_BID, px, px % 97 + 1), 0);
    size_t n = book_count(b, BOOK_BID);
    cr_assert_eq(n, (30000 - 10000 + 6) / 7);
    book_level *lv = malloc(n * sizeof(*lv));
    cr_assert_eq(book_top(b, BOOK_BID, lv, n), n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(lv[i].px, 10000 + 7 * (int64_t)(n - 1 - i));
        cr_assert_eq(lv[i].qty, lv[i].px % 97 + 1);
    }
    /* and back down: delete from the best, every next best is the next level */
    for (size_t i = 0; i < n; i++) {
        book_level best;
        cr_assert(book_best_bid(b, &best));
        cr_assert_eq(best.px, lv[i].px);
        book_set(b, BOOK_BID, best.px, 0);
    }
    cr_assert_eq(book_count(b, BOOK_BID), 0);
    free(lv);
    book_destroy(b);
}

Test(book, prices_near_one_and_very_large)
{
    book *b = book_create(NULL);
    cr_assert_eq(book_set(b, BOOK_BID, 1, 5), 0);
    cr_assert_eq(book_set(b, BOOK_BID, 3, 6), 0);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX, 7), 0);
    cr_assert_eq(book_set(b, BOOK_ASK, INT64_MAX - 1, 8), 0);
    book_level lv[2];
    cr_assert_eq(book_top(b, BOOK_BID, lv, 2), 2);
    cr_assert_eq(lv[0].px, 3);
    cr_assert_eq(lv[1].px, 1);
    cr_assert_eq(book_top(b, BOOK_ASK, lv, 2), 2);
    cr_assert_eq(lv[0].px, INT64_MAX - 1);
    cr_assert_eq(lv[1].px, INT64_MAX);
    cr_assert_eq(book_qty_at(b, BOOK_ASK, INT64_MAX), 7);
    book_set(b, BOOK_ASK, INT64_MAX - 1, 0);
    cr_assert(book_best_ask(b, &lv[0]));
    cr_assert_eq(lv[0].px, INT64_MAX);
    book_destroy(b);
}

/* ---- bounds and memory ---- */

Test(book, max_levels_refuses_and_leaves_book_unchanged)
{
    book_config cfg = { .window_ticks = 1024, .max_levels = 4 };
    book *b = book_create(&cfg);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(book_set(b, BOOK_BID, 5000 - i, 1 + i), 0);
    book_level before[4], after[5];
    cr_assert_eq(book_top(b, BOOK_BID, before, 4), 4);
    cr_assert_eq(book_set(b, BOOK_BID, 5001, 9), BF_ETOOBIG);    /* would-be best, in the ladder */
    cr_assert_eq(book_set(b, BOOK_BID, 4990, 9), BF_ETOOBIG);    /* in the ladder */
    cr_assert_eq(book_set(b, BOOK_BID, 1000000, 9), BF_ETOOBIG); /* overflow above */
    cr_assert_eq(book_set(b, BOOK_BID, 10, 9), BF_ETOOBIG);      /* overflow below */
    cr_assert_eq(book_count(b, BOOK_BID), 4);
    cr_assert_eq(book_top(b, BOOK_BID, after, 5), 4);
    cr_assert_arr_eq(before, after, sizeof(before));
    /* replacing and deleting still work at the bound; the other side has its own bound */
    cr_assert_eq(book_set(b, BOOK_BID, 5000, 42), 0);
    cr_assert_eq(book_qty_at(b, BOOK_BID, 5000), 42);
    cr_assert_eq(book_set(b, BOOK_ASK, 6000, 1), 0);
    cr_assert_eq(book_set(b, BOOK_BID, 4999, 0), 0);
    cr_assert_eq(book_set(b, BOOK_BID, 10, 9), 0);
    cr_assert_eq(book_count(b, BOOK_BID), 4);
    book_destroy(b);
}

Test(book, memory_follows_far_levels_and_clear)
{
    int64_t start = memacct_get(MEM_BOOK);
    book *b = book_create(NULL);
    book_set(b, BOOK_BID, 6000000, 1);
    size_t with_ladder = book_mem_bytes(b);
    cr_assert_gt(with_ladder, 0);
    cr_assert_eq(memacct_get(MEM_BOOK) - start, (int64_t)with_ladder);
    for (int64_t i = 0; i < 50000; i++)
        cr_assert_eq(book_set(b, BOOK_BID, 5000000 - i, 1), 0);
    size_t grown = book_mem_bytes(b);
    cr_assert_geq(grown, with_ladder + 50000 * sizeof(book_level));
    cr_assert_eq(memacct_get(MEM_BOOK) - start, (int64_t)grown);
    for (int64_t i = 0; i < 50000; i++)
        book_set(b, BOOK_BID, 5000000 - i, 0);
    size_t shrunk = book_mem_bytes(b);
    cr_assert_lt(shrunk, with_ladder + 4096, "overflow kept %zu bytes", shrunk - with_ladder);
    cr_assert_eq(memacct_get(MEM_BOOK) - start, (int64_t)shrunk);
    for (int64_t i = 0; i < 50000; i++)
        book_set(b, BOOK_ASK, 7000000 + 3 * i, 1);
    cr_assert_gt(book_mem_bytes(b), shrunk + 50000 * sizeof(book_level));
    book_clear(b);
    cr_assert_lt(book_mem_bytes(b), 2 * with_ladder + 4096);
    cr_assert_eq(book_count(b, BOOK_ASK), 0);
    cr_assert_eq(book_count(b, BOOK_BID), 0);
    cr_assert_not(book_best_bid(b, NULL));
    cr_assert_eq(memacct_get(MEM_BOOK) - start, (int64_t)book_mem_bytes(b));
    /* a cleared book is usable again */
    cr_assert_eq(book_set(b, BOOK_ASK, 42, 1), 0);
    book_level lv;
    cr_assert(book_best_ask(b, &lv));
    cr_assert_eq(lv.px, 42);
    book_destroy(b);
    cr_assert_eq(memacct_get(MEM_BOOK), start);
}

/* ---- the randomized differential run ---- */

typedef struct diff_run {
    book *b;
    ref_book ref;
    int64_t mid;
} diff_run;

static int64_t pick_px(diff_run *r, book_side side)
{
    int64_t roll = rnd_below(100);
    int64_t dist;
    if (roll < 8)
        dist = rnd_below(r->mid / 20) + 1; /* far: up to 5 % away */
    else if (roll < 40)
        dist = rnd_below(1000) + 1;
    else
        dist = rnd_below(rnd_below(80) + 1) + 1; /* mostly close to the touch */
    return side == BOOK_BID ? r->mid - dist : r->mid + dist;
}

static void one_op(diff_run *r, uint64_t op)
{
    book_side side = (book_side)(rnd() & 1);
    ref_side *rs = &r->ref.side[side];
    int64_t roll = rnd_below(100), px, qty = 0;
    if (roll < 55) {
        px = pick_px(r, side);
        qty = rnd_below(5000) + 1;
    } else if (roll < 85 && rs->n > 0) {
        /* delete an existing level, often the best */
        size_t k = rnd_below(3) == 0 ? 0 : (size_t)rnd_below((int64_t)rs->n);
        px = ref_at(&r->ref, side, k).px;
    } else {
        px = pick_px(r, side); /* usually absent: a no-op delete */
    }
    int want = ref_set(&r->ref, side, px, qty);
    int got = book_set(r->b, side, px, qty);
    cr_assert_eq(got, want, "op %llu: set(%d, %lld, %lld) -> %d, want %d", (unsigned long long)op,
                 side, (long long)px, (long long)qty, got, want);
}

static void drift(diff_run *r)
{
    int64_t roll = rnd_below(1000);
    if (roll < 2)
        r->mid +=
            rnd_below(40001) - 20000; /* a jump: the window must move by more than its width */
    else
        r->mid += rnd_below(7) - 3;
    if (r->mid < 1000000)
        r->mid = 1000000;
}

static void differential(uint32_t window, uint32_t max_levels, uint64_t seed)
{
    book_config cfg = { .window_ticks = window, .max_levels = max_levels };
    diff_run r = { .b = book_create(&cfg), .ref = { .max_levels = max_levels }, .mid = 6000000 };
    rng_state = seed;
    const uint64_t ops = 200000, every = 250;
    for (uint64_t op = 1; op <= ops; op++) {
        drift(&r);
        one_op(&r, op);
        check_best(r.b, &r.ref, op);
        if (op % every == 0) {
            check_side_full(r.b, &r.ref, BOOK_BID, op);
            check_side_full(r.b, &r.ref, BOOK_ASK, op);
            int64_t probe = r.mid + rnd_below(2001) - 1000;
            size_t i = ref_find(&r.ref.side[BOOK_BID], probe);
            const ref_side *bs = &r.ref.side[BOOK_BID];
            int64_t want = i < bs->n && bs->lv[i].px == probe ? bs->lv[i].qty : 0;
            cr_assert_eq(book_qty_at(r.b, BOOK_BID, probe), want);
        }
    }
    book_destroy(r.b);
    ref_free(&r.ref);
}

Test(book, differential_default_window)
{
    differential(16384, 100000, 0x9e3779b97f4a7c15ull);
}

Test(book, differential_small_window_recentres_often)
{
    differential(256, 100000, 0x1234567887654321ull);
}

Test(book, differential_tight_level_bound)
{
    differential(1024, 300, 0xdeadbeefcafef00dull);
}
