/*
 * watchlist: one row per watched symbol:
 *   1 BTCUSDT      LIVE  61801.695 +1.545 ▃▁▂▃▄▅▃▃▁▂▆▄▄▂▃▃▅▆▄▄▂▂▅▅▆▃▄▂▇▄▅
 * its number key (1-9), name, state mark (LIVE in ROLE_OK; SNAP, RESYN in ROLE_WARN; STALE, also
 * for a LIVE book whose stream is flagged stale, in ROLE_ERROR), last mid (newest tick, else the
 * book's top), change over the tick window (ROLE_UP / ROLE_DOWN) and a compact sparkline of the mid
 * ticks filling the rest. Narrow: the sparkline, then the change, then the mid drop. The selected
 * row is ROLE_SELECTED (the state mark keeps its colour) and scrolled into view; symbols whose book
 * is not LIVE are dim. A NULL entry in syms leaves its row blank. Pure.
 */
#ifndef BF_WATCHLIST_H
#define BF_WATCHLIST_H

#include <stddef.h>

#include "view.h"
#include "widgets/canvas.h"

void watchlist_draw(canvas *c, rect r, const theme *t, const view_symbol *const *syms, size_t n,
                    size_t selected);

#endif
