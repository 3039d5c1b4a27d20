/*
 * book: an L2 order book for one symbol (see book.h for the contract).
 *
 * Layout per side:
 *   - a ladder window of W ticks starting at `base`: qty[px - base] (0 = empty), one occupancy bit
 * per tick in `bits`, and one summary bit per non-empty bitmap word in `sum`, so "next occupied
 * tick" is two or three ctz/clz steps whatever the gap;
 *   - an overflow array, sorted ascending by price, holding exactly the levels outside the window;
 *   - the cached best price (its quantity is read where the level lives).
 * Invariant: a level lives in the ladder iff base <= px < base + W, otherwise in the overflow
 * array. `base` is always a multiple of 64 so that moving the window moves whole bitmap words. The
 * window re-centres on the touch when the touch leaves the middle half of the window. Owned by one
 * thread (the symbol's worker); nothing here is shared.
 *
 * Speed: book_set on a price inside the window is branch-free on the data (side, set or delete, new
 * or existing level, word turning empty): on depth traffic each of those branches would be
 * mispredicted a third to half of the time, and a mispredict costs more than the whole update.
 * What is left are branches taken by a few percent of updates at most: outside the window
 * (overflow, first level), the level bound, a word turning empty or non-empty, a new best, the
 * best deleted. Sides compare through a key, px ^ flip (flip = 0 for asks, -1 for bids), that is
 * smaller for better prices on both sides.
 */
#include "market/book.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define BOOK_DEFAULT_WINDOW     16384u
#define BOOK_DEFAULT_MAX_LEVELS 100000u
#define BOOK_MIN_WINDOW         64u
#define BOOK_MAX_WINDOW         (1u << 24)
/* Overflow capacity kept after book_clear and never shrunk below. */
#define OVF_MIN_CAP 16u

/* Keeps the empty side out of the fast path: no price is within W of this base. */
#define BASE_NONE INT64_MIN

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef struct book_half {
    /* read by every update */
    int64_t *qty;     /* W slots, NULL until the side's first level */
    uint64_t *bits;   /* W / 64 occupancy words */
    int64_t base;     /* price of qty[0]; multiple of 64; BASE_NONE until the ladder exists */
    int64_t flip;     /* 0 for asks, -1 for bids: px ^ flip is smaller for better prices */
    int64_t best_key; /* best px ^ flip; key_none() when the side is empty (count == 0) */
    size_t count;     /* levels on the side, ladder + overflow */
    /* rarely */
    uint64_t *sum;   /* one bit per non-zero word of `bits` */
    book_level *ovf; /* sorted ascending by px */
    size_t ovf_n, ovf_cap;
    bool is_bid;
} book_half;

struct book {
    uint32_t window; /* W, power of two */
    uint32_t max_levels;
    uint32_t nwords; /* W / 64 */
    uint32_t nsum;   /* ceil(nwords / 64) */
    book_half side[2];
    size_t mem_bytes;
};

/* ---- memory accounting ---- */

static void account(book *b, int64_t delta)
{
    if (delta == 0)
        return;
    b->mem_bytes = (size_t)((int64_t)b->mem_bytes + delta);
    memacct_add(MEM_BOOK, delta);
}

static size_t ladder_bytes(const book *b)
{
    return (size_t)b->window * sizeof(int64_t) + ((size_t)b->nwords + b->nsum) * sizeof(uint64_t);
}

/* ---- small helpers ---- */

static uint32_t round_window(uint32_t w)
{
    if (w == 0)
        return BOOK_DEFAULT_WINDOW;
    if (w < BOOK_MIN_WINDOW)
        return BOOK_MIN_WINDOW;
    if (w > BOOK_MAX_WINDOW)
        return BOOK_MAX_WINDOW;
    uint32_t p = BOOK_MIN_WINDOW;
    while (p < w)
        p <<= 1;
    return p;
}

/* floor to a multiple of 64 (also for negative bases near price 0). */
static int64_t align64(int64_t x)
{
    return (int64_t)((uint64_t)x & ~(uint64_t)63);
}

/* The base that puts px in the middle of the window, kept far enough from INT64_MAX that
 * base + W never overflows. */
static int64_t centred_base(const book *b, int64_t px)
{
    int64_t want = px - (int64_t)(b->window / 2);
    int64_t limit = INT64_MAX - 2 * (int64_t)b->window;
    return align64(want < limit ? want : limit);
}

/* Unsigned distance: exact for px >= base, huge (>= W) for px < base, without signed overflow. */
static uint64_t offset_of(const book_half *h, int64_t px)
{
    return (uint64_t)px - (uint64_t)h->base;
}

static bool in_window(const book *b, const book_half *h, int64_t px)
{
    return h->qty && offset_of(h, px) < b->window;
}

/* best_key of an empty side: at or above every key of the side, and of the same sign as all of
 * them, so that key - best_key never overflows. For bids it is the key of px 0; for asks it is also
 * the key of an ask at INT64_MAX (see update_best and refind_best). */
static int64_t key_none(const book_half *h)
{
    return h->is_bid ? -1 : INT64_MAX;
}

static bool better(const book_half *h, int64_t a, int64_t c)
{
    return h->is_bid ? a > c : a < c;
}

static size_t ladder_levels(const book_half *h)
{
    return h->count - h->ovf_n;
}

/* ---- bitmap ---- */

static void bit_set(book_half *h, size_t i)
{
    size_t w = i >> 6;
    h->bits[w] |= (uint64_t)1 << (i & 63);
    h->sum[w >> 6] |= (uint64_t)1 << (w & 63);
}

static void bit_clear(book_half *h, size_t i)
{
    size_t w = i >> 6;
    h->bits[w] &= ~((uint64_t)1 << (i & 63));
    if (h->bits[w] == 0)
        h->sum[w >> 6] &= ~((uint64_t)1 << (w & 63));
}

/* Lowest occupied slot >= i, or -1. */
static int64_t ladder_next(const book *b, const book_half *h, int64_t i)
{
    if (i < 0)
        i = 0;
    if (i >= (int64_t)b->window)
        return -1;
    size_t w = (size_t)i >> 6;
    uint64_t m = h->bits[w] & (~(uint64_t)0 << (i & 63));
    if (m)
        return (int64_t)((w << 6) + (size_t)__builtin_ctzll(m));
    size_t nw = w + 1;
    if (nw >= b->nwords)
        return -1;
    size_t si = nw >> 6;
    uint64_t sm = h->sum[si] & (~(uint64_t)0 << (nw & 63));
    while (!sm) {
        if (++si >= b->nsum)
            return -1;
        sm = h->sum[si];
    }
    size_t word = (si << 6) + (size_t)__builtin_ctzll(sm);
    return (int64_t)((word << 6) + (size_t)__builtin_ctzll(h->bits[word]));
}

/* Highest occupied slot <= i, or -1. */
static int64_t ladder_prev(const book *b, const book_half *h, int64_t i)
{
    if (i < 0)
        return -1;
    if (i >= (int64_t)b->window)
        i = (int64_t)b->window - 1;
    size_t w = (size_t)i >> 6;
    uint64_t m = h->bits[w] & (~(uint64_t)0 >> (63 - (i & 63)));
    if (m)
        return (int64_t)((w << 6) + 63 - (size_t)__builtin_clzll(m));
    if (w == 0)
        return -1;
    size_t pw = w - 1;
    size_t si = pw >> 6;
    uint64_t sm = h->sum[si] & (~(uint64_t)0 >> (63 - (pw & 63)));
    while (!sm) {
        if (si-- == 0)
            return -1;
        sm = h->sum[si];
    }
    size_t word = (si << 6) + 63 - (size_t)__builtin_clzll(sm);
    return (int64_t)((word << 6) + 63 - (size_t)__builtin_clzll(h->bits[word]));
}

static void ladder_alloc(book *b, book_half *h, int64_t px)
{
    h->qty = xcalloc(b->window, sizeof(int64_t));
    h->bits = xcalloc(b->nwords, sizeof(uint64_t));
    h->sum = xcalloc(b->nsum, sizeof(uint64_t));
    h->base = centred_base(b, px);
    account(b, (int64_t)ladder_bytes(b));
}

/* ---- overflow array ---- */

/* First index with px >= target. */
static size_t ovf_lower(const book_half *h, int64_t target)
{
    size_t lo = 0, hi = h->ovf_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->ovf[mid].px < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void ovf_set_cap(book *b, book_half *h, size_t cap)
{
    if (cap == h->ovf_cap)
        return;
    h->ovf = xreallocarray(h->ovf, cap ? cap : 1, sizeof(book_level));
    account(b, ((int64_t)cap - (int64_t)h->ovf_cap) * (int64_t)sizeof(book_level));
    h->ovf_cap = cap;
}

static void ovf_reserve(book *b, book_half *h, size_t need)
{
    if (need <= h->ovf_cap)
        return;
    size_t cap = h->ovf_cap ? h->ovf_cap : OVF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    ovf_set_cap(b, h, cap);
}

/* Halve when less than a quarter full, so memory follows the book down (no thrash: after halving
 * the array is still at most half full). */
static void ovf_maybe_shrink(book *b, book_half *h)
{
    size_t cap = h->ovf_cap;
    while (cap > OVF_MIN_CAP && h->ovf_n < cap / 4)
        cap /= 2;
    ovf_set_cap(b, h, cap);
}

/* Open a gap of k entries at pos. */
static void ovf_open(book *b, book_half *h, size_t pos, size_t k)
{
    ovf_reserve(b, h, h->ovf_n + k);
    memmove(&h->ovf[pos + k], &h->ovf[pos], (h->ovf_n - pos) * sizeof(book_level));
    h->ovf_n += k;
}

/* Remove k entries starting at pos. */
static void ovf_close(book *b, book_half *h, size_t pos, size_t k)
{
    memmove(&h->ovf[pos], &h->ovf[pos + k], (h->ovf_n - pos - k) * sizeof(book_level));
    h->ovf_n -= k;
    ovf_maybe_shrink(b, h);
}

/* ---- re-centring ---- */

/* Move every ladder level of bitmap words [w0, w1) to the overflow array. Those levels are
 * contiguous in price and the overflow holds nothing inside the window, so they go in as one block.
 */
static void evict_words(book *b, book_half *h, size_t w0, size_t w1)
{
    size_t k = 0;
    for (size_t w = w0; w < w1; w++)
        k += (size_t)__builtin_popcountll(h->bits[w]);
    if (k == 0)
        return;
    size_t pos = ovf_lower(h, h->base + (int64_t)(w0 << 6));
    ovf_open(b, h, pos, k);
    for (size_t w = w0; w < w1; w++) {
        while (h->bits[w]) {
            size_t i = (w << 6) + (size_t)__builtin_ctzll(h->bits[w]);
            h->ovf[pos++] = (book_level){ .px = h->base + (int64_t)i, .qty = h->qty[i] };
            h->qty[i] = 0;
            bit_clear(h, i);
        }
    }
}

/* Slide the ladder contents so that slot i of the new window (base nb) is slot i + shift of the
 * old. Only called when every level left is inside both windows. */
static void shift_ladder(book *b, book_half *h, int64_t shift_words)
{
    size_t nw = b->nwords;
    size_t sw = (size_t)(shift_words < 0 ? -shift_words : shift_words);
    size_t keep = nw - sw;
    if (shift_words > 0) {
        memmove(h->qty, h->qty + (sw << 6), (keep << 6) * sizeof(int64_t));
        memset(h->qty + (keep << 6), 0, (sw << 6) * sizeof(int64_t));
        memmove(h->bits, h->bits + sw, keep * sizeof(uint64_t));
        memset(h->bits + keep, 0, sw * sizeof(uint64_t));
    } else {
        memmove(h->qty + (sw << 6), h->qty, (keep << 6) * sizeof(int64_t));
        memset(h->qty, 0, (sw << 6) * sizeof(int64_t));
        memmove(h->bits + sw, h->bits, keep * sizeof(uint64_t));
        memset(h->bits, 0, sw * sizeof(uint64_t));
    }
    memset(h->sum, 0, b->nsum * sizeof(uint64_t));
    for (size_t w = 0; w < nw; w++)
        if (h->bits[w])
            h->sum[w >> 6] |= (uint64_t)1 << (w & 63);
}

/* Pull the overflow levels that fall inside the (new) window into the ladder. */
static void adopt_overflow(book *b, book_half *h)
{
    size_t lo = ovf_lower(h, h->base);
    size_t hi = ovf_lower(h, h->base + (int64_t)b->window);
    for (size_t j = lo; j < hi; j++) {
        size_t i = (size_t)offset_of(h, h->ovf[j].px);
        h->qty[i] = h->ovf[j].qty;
        bit_set(h, i);
    }
    if (hi > lo)
        ovf_close(b, h, lo, hi - lo);
}

__attribute__((noinline, cold)) static void recentre(book *b, book_half *h, int64_t nb)
{
    if (nb == h->base)
        return;
    int64_t shift_words = (nb - h->base) / 64; /* exact: both are multiples of 64 */
    size_t nw = b->nwords;
    if (shift_words >= (int64_t)nw || shift_words <= -(int64_t)nw)
        evict_words(b, h, 0, nw);
    else if (shift_words > 0)
        evict_words(b, h, 0, (size_t)shift_words);
    else
        evict_words(b, h, nw - (size_t)(-shift_words), nw);
    if (ladder_levels(h))
        shift_ladder(b, h, shift_words);
    h->base = nb;
    adopt_overflow(b, h);
}

/* ---- best ---- */

static int64_t best_px(const book_half *h)
{
    return h->best_key ^ h->flip;
}

/* The best level of a non-empty side: in the ladder, or else at the overflow's end on the side's
 * better side (the overflow is sorted, and the best is better than every level). */
static book_level best_level(const book *b, const book_half *h)
{
    int64_t px = best_px(h);
    if (in_window(b, h, px))
        return (book_level){ .px = px, .qty = h->qty[offset_of(h, px)] };
    return h->is_bid ? h->ovf[h->ovf_n - 1] : h->ovf[0];
}

/* Keep the touch in the middle half of the window so that the levels around it stay in the ladder.
 */
static void follow_touch(book *b, book_half *h)
{
    if (h->count == 0)
        return;
    int64_t px = best_px(h);
    /* off in [W/4, 3W/4) as one unsigned compare */
    if (offset_of(h, px) - b->window / 4 < b->window / 2)
        return;
    recentre(b, h, centred_base(b, px));
}

/* After the best at old_px was deleted: the new best is the better of the ladder's and the
 * overflow's extremes, and the ladder's extreme lies on the worse side of old_px, so the scan
 * starts there. */
static void refind_best(book *b, book_half *h, int64_t old_px)
{
    h->best_key = key_none(h);
    if (h->qty && ladder_levels(h)) {
        /* off >= W means old_px was outside the window: then scan the whole ladder. */
        uint64_t off = offset_of(h, old_px);
        bool inside = off < b->window;
        int64_t li;
        if (h->is_bid)
            li = ladder_prev(b, h, inside ? (int64_t)off : (int64_t)b->window - 1);
        else
            li = ladder_next(b, h, inside ? (int64_t)off : 0);
        if (li >= 0) /* always, as the ladder is not empty */
            h->best_key = (h->base + li) ^ h->flip;
    }
    if (h->ovf_n) {
        int64_t key = (h->is_bid ? h->ovf[h->ovf_n - 1].px : h->ovf[0].px) ^ h->flip;
        /* an ask at INT64_MAX has the key of an empty side: the best when the ladder is empty */
        if (key < h->best_key || ladder_levels(h) == 0)
            h->best_key = key;
    }
}

/* px, just stored with a quantity, is better than the best or the side was empty. */
__attribute__((noinline)) static int new_best(book *b, book_half *h, int64_t px)
{
    h->best_key = px ^ h->flip;
    follow_touch(b, h);
    return 0;
}

/* The best level at px was just deleted. */
__attribute__((noinline)) static int best_deleted(book *b, book_half *h, int64_t px)
{
    refind_best(b, h, px);
    follow_touch(b, h);
    return 0;
}

/* After qty (0: delete) was stored at px. One branch per event, each taken by a couple of percent
 * of depth updates: written with `&&` the compiler branches on qty first, which is mispredicted on
 * every third update. key - best does not overflow (same sign, see key_none) and -qty is negative
 * for any qty > 0. An ask at INT64_MAX on an empty side is not better than key_none, and needs not
 * be: its key is already best_key. */
static inline int update_best(book *b, book_half *h, int64_t px, int64_t qty)
{
    int64_t key = px ^ h->flip, best = h->best_key;
    if (UNLIKELY(((key - best) & -qty) < 0)) /* a level better than the best */
        return new_best(b, h, px);
    if (UNLIKELY(((key ^ best) | qty) == 0)) /* the best deleted */
        return best_deleted(b, h, px);
    return 0;
}

/* ---- set / delete ---- */

/* Store qty (0 deletes) at ladder slot off. Branch-free on the data, and short on the dependency
 * chains that run from one update to the next through memory (the bitmap word, the summary word,
 * the count): the occupancy bit is toggled with one xor, and the summary word, shared by every
 * update near the touch, is written only when the word is or was empty. The level bound is one
 * compare of the new count. */
static inline int ladder_store(const book *b, book_half *h, uint64_t off, int64_t qty)
{
    int64_t prev = h->qty[off];
    int64_t added = (int64_t)(qty != 0) - (int64_t)(prev != 0); /* -1, 0 or +1 */
    size_t n = h->count + (size_t)added;
    if (UNLIKELY(n > b->max_levels)) /* count <= max_levels: only a new level can pass it */
        return BF_ETOOBIG;
    h->count = n;
    h->qty[off] = qty;
    size_t w = (size_t)(off >> 6);
    uint64_t old = h->bits[w];
    uint64_t word = old ^ ((uint64_t)(added & 1) << (off & 63));
    h->bits[w] = word;
    /* The toggled bit is 0 or one bit, so old & word is 0 iff the word was or is empty: two
     * instructions where (old == 0) != (word == 0) takes six. It also holds for a no-op in an
     * empty word, hence the summary bit is assigned, not toggled. */
    if (UNLIKELY((old & word) == 0)) {
        uint64_t *s = &h->sum[w >> 6], bit = (uint64_t)1 << (w & 63);
        *s = word ? *s | bit : *s & ~bit;
    }
    return 0;
}

static int ovf_put(book *b, book_half *h, int64_t px, int64_t qty)
{
    size_t pos = ovf_lower(h, px);
    if (pos < h->ovf_n && h->ovf[pos].px == px) {
        h->ovf[pos].qty = qty;
        return 0;
    }
    if (h->count >= b->max_levels)
        return BF_ETOOBIG;
    ovf_open(b, h, pos, 1);
    h->ovf[pos] = (book_level){ .px = px, .qty = qty };
    h->count++;
    return 0;
}

static void ovf_delete(book *b, book_half *h, int64_t px)
{
    size_t pos = ovf_lower(h, px);
    if (pos < h->ovf_n && h->ovf[pos].px == px) {
        ovf_close(b, h, pos, 1);
        h->count--;
    }
}

/* book_set for a price outside the window, or on a side whose ladder does not exist yet (the
 * first level centres it). */
__attribute__((noinline, cold)) static int set_outside(book *b, book_half *h, int64_t px,
                                                       int64_t qty)
{
    int rc = 0;
    if (!h->qty && qty == 0)
        return 0;
    if (!h->qty)
        ladder_alloc(b, h, px);
    if (in_window(b, h, px))
        rc = ladder_store(b, h, offset_of(h, px), qty);
    else if (qty == 0)
        ovf_delete(b, h, px);
    else
        rc = ovf_put(b, h, px, qty);
    return rc < 0 ? rc : update_best(b, h, px, qty);
}

/* ---- public API ---- */

book *book_create(const book_config *cfg)
{
    book *b = xcalloc(1, sizeof(*b));
    b->window = round_window(cfg ? cfg->window_ticks : 0);
    b->nwords = b->window / 64;
    b->nsum = (b->nwords + 63) / 64;
    b->max_levels = cfg && cfg->max_levels ? cfg->max_levels : BOOK_DEFAULT_MAX_LEVELS;
    for (int s = 0; s < 2; s++) {
        book_half *h = &b->side[s];
        h->is_bid = s == BOOK_BID;
        h->flip = h->is_bid ? -1 : 0;
        h->base = BASE_NONE;
        h->best_key = key_none(h);
    }
    return b;
}

void book_destroy(book *b)
{
    if (!b)
        return;
    for (int s = 0; s < 2; s++) {
        book_half *h = &b->side[s];
        free(h->qty);
        free(h->bits);
        free(h->sum);
        free(h->ovf);
    }
    account(b, -(int64_t)b->mem_bytes);
    free(b);
}

void book_clear(book *b)
{
    for (int s = 0; s < 2; s++) {
        book_half *h = &b->side[s];
        if (h->qty && ladder_levels(h)) {
            memset(h->qty, 0, (size_t)b->window * sizeof(int64_t));
            memset(h->bits, 0, (size_t)b->nwords * sizeof(uint64_t));
            memset(h->sum, 0, (size_t)b->nsum * sizeof(uint64_t));
        }
        h->count = 0;
        h->ovf_n = 0;
        if (h->ovf_cap > OVF_MIN_CAP)
            ovf_set_cap(b, h, OVF_MIN_CAP);
        h->best_key = key_none(h);
    }
}

int book_set(book *b, book_side side, int64_t px, int64_t qty)
{
    if (UNLIKELY(!b || (unsigned)side > BOOK_ASK || px <= 0 || qty < 0))
        return BF_EINVAL;
    book_half *h = &b->side[side];
    uint64_t off = offset_of(h, px);
    if (UNLIKELY(off >= b->window))
        return set_outside(b, h, px, qty);
    if (UNLIKELY(ladder_store(b, h, off, qty) < 0))
        return BF_ETOOBIG;
    return update_best(b, h, px, qty);
}

int book_update_bid(book *b, int64_t px, int64_t qty)
{
    return book_set(b, BOOK_BID, px, qty);
}

int book_update_ask(book *b, int64_t px, int64_t qty)
{
    return book_set(b, BOOK_ASK, px, qty);
}

bool book_best(const book *b, book_side side, book_level *out)
{
    if (!b || (side != BOOK_BID && side != BOOK_ASK))
        return false;
    const book_half *h = &b->side[side];
    if (h->count == 0)
        return false;
    if (out)
        *out = best_level(b, h);
    return true;
}

bool book_best_bid(const book *b, book_level *out)
{
    return book_best(b, BOOK_BID, out);
}

bool book_best_ask(const book *b, book_level *out)
{
    return book_best(b, BOOK_ASK, out);
}

bool book_spread(const book *b, int64_t *ticks)
{
    book_level bid, ask;
    if (!book_best_bid(b, &bid) || !book_best_ask(b, &ask))
        return false;
    if (ticks)
        *ticks = ask.px - bid.px;
    return true;
}

bool book_mid_x2(const book *b, int64_t *mid_x2)
{
    book_level bid, ask;
    if (!book_best_bid(b, &bid) || !book_best_ask(b, &ask))
        return false;
    if (mid_x2)
        *mid_x2 = bid.px + ask.px;
    return true;
}

bool book_crossed(const book *b)
{
    book_level bid, ask;
    return book_best_bid(b, &bid) && book_best_ask(b, &ask) && bid.px >= ask.px;
}

int64_t book_qty_at(const book *b, book_side side, int64_t px)
{
    if (!b || (side != BOOK_BID && side != BOOK_ASK))
        return 0;
    const book_half *h = &b->side[side];
    if (in_window(b, h, px))
        return h->qty[offset_of(h, px)];
    size_t pos = ovf_lower(h, px);
    return pos < h->ovf_n && h->ovf[pos].px == px ? h->ovf[pos].qty : 0;
}

/* Walks one side from the touch outward, merging the ladder (bitmap order) with the overflow array
 * (which may hold levels on both sides of the window). */
typedef struct walker {
    const book *b;
    const book_half *h;
    int64_t li; /* next ladder slot, -1 when done */
    size_t oi;  /* overflow entries left (bids walk down from ovf_n, asks walk up from 0) */
} walker;

static void walker_init(walker *w, const book *b, const book_half *h)
{
    w->b = b;
    w->h = h;
    w->li = -1;
    if (h->qty && ladder_levels(h))
        w->li = h->is_bid ? ladder_prev(b, h, (int64_t)b->window - 1) : ladder_next(b, h, 0);
    w->oi = h->is_bid ? h->ovf_n : 0;
}

static bool walker_next(walker *w, book_level *out)
{
    const book_half *h = w->h;
    bool has_o = h->is_bid ? w->oi > 0 : w->oi < h->ovf_n;
    const book_level *o = has_o ? &h->ovf[h->is_bid ? w->oi - 1 : w->oi] : NULL;
    if (w->li >= 0) {
        int64_t lpx = h->base + w->li;
        if (!o || better(h, lpx, o->px)) {
            *out = (book_level){ .px = lpx, .qty = h->qty[w->li] };
            w->li = h->is_bid ? ladder_prev(w->b, h, w->li - 1) : ladder_next(w->b, h, w->li + 1);
            return true;
        }
    }
    if (!o)
        return false;
    *out = *o;
    if (h->is_bid)
        w->oi--;
    else
        w->oi++;
    return true;
}

size_t book_top(const book *b, book_side side, book_level *out, size_t n)
{
    if (!b || (side != BOOK_BID && side != BOOK_ASK) || (!out && n))
        return 0;
    walker w;
    walker_init(&w, b, &b->side[side]);
    size_t k = 0;
    while (k < n && walker_next(&w, &out[k]))
        k++;
    return k;
}

int64_t book_cum_qty(const book *b, book_side side, size_t n)
{
    if (!b || (side != BOOK_BID && side != BOOK_ASK))
        return 0;
    walker w;
    walker_init(&w, b, &b->side[side]);
    book_level lv;
    int64_t sum = 0;
    for (size_t k = 0; k < n && walker_next(&w, &lv); k++)
        sum += lv.qty;
    return sum;
}

size_t book_count(const book *b, book_side side)
{
    if (!b || (side != BOOK_BID && side != BOOK_ASK))
        return 0;
    return b->side[side].count;
}

size_t book_mem_bytes(const book *b)
{
    return b ? b->mem_bytes : 0;
}
