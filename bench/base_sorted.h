/*
 * base_sorted: the sorted-array baseline L2 book for bfbench. Each side is one array of levels kept
 * best first (bids by descending price, asks by ascending price); an update binary-searches its
 * price and memmoves the tail to insert or delete, so the best level is always [0].
 *
 * Only here to be measured against book.h. qty > 0 inserts or replaces, qty == 0 deletes (absent is
 * fine). The arrays grow by doubling and never shrink. One thread.
 */
#ifndef BF_BENCH_BASE_SORTED_H
#define BF_BENCH_BASE_SORTED_H

#include "market/book.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sabook sabook;

sabook *sabook_create(void);
void sabook_destroy(sabook *b);
void sabook_clear(sabook *b);
void sabook_set(sabook *b, book_side side, int64_t px, int64_t qty);
/* O(1): the level at [0]. */
bool sabook_best(const sabook *b, book_side side, book_level *out);
size_t sabook_count(const sabook *b, book_side side);

#endif
