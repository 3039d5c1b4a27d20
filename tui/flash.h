/*
 * flash: which ladder levels changed between two consecutive views of one symbol, kept for a short
 * time so the ladder can mark them (widgets/ladder.h ladder_mark: adds and pulls apart). Pure: the
 * caller passes the clock. One owner thread. Bounded: when FLASH_MAX marks are held, the oldest
 * quarter gives way. Each change costs O(1) (a hash index on side and price).
 *
 * A level counts as added when its price appeared or its quantity grew, pulled when it vanished or
 * shrank. Only the price range both views cover is compared, so levels that merely scroll in or
 * out of the VIEW_LEVELS window are not marks. Views of another symbol, an older version or a book
 * that is not LIVE reset the state (a resync's new book is not a flood of changes).
 */
#ifndef BF_FLASH_H
#define BF_FLASH_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/ladder.h"

#define FLASH_MAX     512
#define FLASH_HOLD_NS (400 * 1000000LL) /* how long a mark shows */

typedef struct flash flash;

flash *flash_create(int64_t hold_ns); /* 0: FLASH_HOLD_NS */
void flash_destroy(flash *f);
/* Forget everything (symbol switch). */
void flash_reset(flash *f);
/* Compare v with the previous view given (if any) and remember v's levels. */
void flash_update(flash *f, const view_symbol *v, int64_t now_ns);
/* The marks still showing at now_ns, newest change of a level wins; returns the count (<= cap). */
size_t flash_marks(flash *f, int64_t now_ns, ladder_mark *out, size_t cap);
/* When the next mark expires (INT64_MAX: none): the UI redraws then. */
int64_t flash_next_expiry(const flash *f);

#endif
