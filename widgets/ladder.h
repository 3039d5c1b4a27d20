/*
 * ladder: the depth ladder of one symbol: asks above (best ask lowest), bids below (best bid
 * highest), the best levels next to the middle. Each row shows price / quantity / cumulative
 * quantity, right-aligned in the exchange's decimals, and a depth bar proportional to the
 * cumulative quantity (scaled to the largest shown on either side, in eighths of a cell with UTF-8).
 * A header row when the rectangle has at least 6 rows; the remaining rows are split evenly, with a
 * separator between the sides when their count is odd. Columns drop as the width shrinks: bar
 * first, then cum, then qty; a price is never cut (narrower than a price: an ellipsis).
 *
 * Grouping to multiples of `group` price units: bids round down, asks round up (a row never looks
 * better than its levels), quantities summed; when the view is truncated (fewer levels than the
 * book holds) the outermost group, which may be incomplete, is left out. Levels that changed
 * recently are marked on the price and quantity (ROLE_FLASH_ADD / ROLE_FLASH_PULL; the newest mark
 * of a row wins; a pulled level that left no row is not shown). A book that is not LIVE is drawn
 * dim with a banner across the middle row ("RESYNCING: pu 5 != previous u 4"), so it never looks
 * trustworthy. Pure: draws only into the canvas, owns every cell of r.
 */
#ifndef BF_LADDER_H
#define BF_LADDER_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

typedef enum ladder_change { LADDER_ADD = 1, LADDER_PULL = -1 } ladder_change;

typedef struct ladder_mark {
    book_side side;
    int64_t px;         /* the level's price (ungrouped, in the symbol's scale) */
    ladder_change kind; /* grew or appeared / shrank or vanished */
} ladder_mark;

typedef struct ladder_input {
    const view_symbol *v;
    int64_t group;            /* grouping in price units of the scale (>= 1: one tick = unit) */
    const ladder_mark *marks; /* recent changes (tui/flash), may be NULL */
    size_t nmarks;
} ladder_input;

void ladder_draw(canvas *c, rect r, const theme *t, const ladder_input *in);

#endif
