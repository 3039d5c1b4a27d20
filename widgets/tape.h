/*
 * tape: the trades tape (aggTrade): newest first, time (HH:MM:SS.mmm, UTC), price, size, side
 * coloured by the aggressor (buyer_maker = a sell hit the bid); prints of at least `large_qty`
 * (in the quantity scale; 0 = none) highlighted. Pure.
 */
#ifndef BF_TAPE_H
#define BF_TAPE_H

#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

void tape_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int64_t large_qty);

#endif
