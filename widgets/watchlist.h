/*
 * watchlist: one row per watched symbol: its number key (1-9), name, last mid, change over the
 * tick window, a compact sparkline of its mid ticks and a state mark; the selected row stands out,
 * symbols whose book is not LIVE are dim. Pure.
 */
#ifndef BF_WATCHLIST_H
#define BF_WATCHLIST_H

#include <stddef.h>

#include "view.h"
#include "widgets/canvas.h"

void watchlist_draw(canvas *c, rect r, const theme *t, const view_symbol *const *syms, size_t n,
                    size_t selected);

#endif
