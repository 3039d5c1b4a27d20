/*
 * book: an L2 order book for one symbol, prices and quantities as int64 (ticks and lots, see
 * dec.h).
 *
 * Built for Binance depth traffic: most updates land within a few hundred ticks of the touch, some
 * land far away (±5 %). Near levels live in a tick-indexed ladder per side (quantity array indexed
 * by price - base, with a 64-bit occupancy bitmap per 64 ticks) that re-centres when the touch
 * drifts; far levels live in a sorted overflow array. Best bid/ask are cached (O(1)); deleting the
 * best finds the next one with a bitmap scan. The number of levels per side is bounded
 * (book_config.max_levels): an update that would exceed it is refused with BF_ETOOBIG so the caller
 * can resync, never grown silently. A book belongs to one thread (its symbol's worker).
 */
#ifndef BF_BOOK_H
#define BF_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct book book;

typedef enum book_side { BOOK_BID = 0, BOOK_ASK = 1 } book_side;

typedef struct book_level {
    int64_t px;  /* ticks */
    int64_t qty; /* lots, > 0 */
} book_level;

typedef struct book_config {
    uint32_t window_ticks; /* ladder width per side, power of two (default 16384) */
    uint32_t max_levels;   /* per side, ladder + overflow (default 100000) */
} book_config;

/* cfg may be NULL for the defaults. */
book *book_create(const book_config *cfg);
void book_destroy(book *b);
/* Remove every level (keeps the memory). */
void book_clear(book *b);

/* Set the quantity at a price: qty > 0 adds or replaces, qty == 0 deletes (deleting an absent level
 * is not an error). BF_EINVAL for px <= 0 or qty < 0; BF_ETOOBIG past max_levels. */
int book_set(book *b, book_side side, int64_t px, int64_t qty);
/* The seed's FastOrderBook.update_bid / update_ask. */
int book_update_bid(book *b, int64_t px, int64_t qty);
int book_update_ask(book *b, int64_t px, int64_t qty);

/* Best level of a side; false when the side is empty. O(1). */
bool book_best(const book *b, book_side side, book_level *out);
bool book_best_bid(const book *b, book_level *out);
bool book_best_ask(const book *b, book_level *out);
/* ask - bid in ticks; false when either side is empty. */
bool book_spread(const book *b, int64_t *ticks);
/* bid + ask in ticks (twice the mid, exact); false when either side is empty. */
bool book_mid_x2(const book *b, int64_t *mid_x2);
/* best bid >= best ask. */
bool book_crossed(const book *b);

/* Quantity at one price (0 when absent). */
int64_t book_qty_at(const book *b, book_side side, int64_t px);
/* Copy up to n levels from the touch outward; returns how many. */
size_t book_top(const book *b, book_side side, book_level *out, size_t n);
/* Sum of quantities over the n best levels. */
int64_t book_cum_qty(const book *b, book_side side, size_t n);
/* Levels on a side. */
size_t book_count(const book *b, book_side side);
/* Bytes held (ladder + overflow), for memory accounting. */
size_t book_mem_bytes(const book *b);

#endif
