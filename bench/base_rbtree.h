/*
 * base_rbtree: the "std::map" baseline L2 book for bfbench: one red-black tree per side, keyed by
 * int64 price, one heap node per level (as std::map allocates), best = leftmost / rightmost node.
 *
 * It exists only to be measured against book.h on the same updates, so it is written the way a
 * competent generic implementation would be, not tuned. Same contract as book_set for the part the
 * benchmark uses: qty > 0 inserts or replaces, qty == 0 deletes (absent is fine). One thread.
 */
#ifndef BF_BENCH_BASE_RBTREE_H
#define BF_BENCH_BASE_RBTREE_H

#include "market/book.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rbbook rbbook;

rbbook *rbbook_create(void);
void rbbook_destroy(rbbook *b);
/* Free every level. */
void rbbook_clear(rbbook *b);
void rbbook_set(rbbook *b, book_side side, int64_t px, int64_t qty);
/* Best level of a side (highest bid, lowest ask); false when empty. O(log n). */
bool rbbook_best(const rbbook *b, book_side side, book_level *out);
size_t rbbook_count(const rbbook *b, book_side side);
/* Check the red-black invariants (for the benchmark's self-check); true when they hold. */
bool rbbook_valid(const rbbook *b);

#endif
