/*
 * ladder: the depth ladder of one symbol: asks above (best ask lowest), bids below, each row price /
 * quantity / cumulative quantity with a depth bar scaled to the largest cumulative quantity shown,
 * as many levels as fit, rows grouped to multiples of `group` ticks. Levels that changed recently
 * are marked (adds and pulls in different roles). A book that is not LIVE is drawn dim with its
 * state across the top, so it never looks trustworthy. Pure: draws only into the canvas.
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
