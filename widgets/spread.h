/*
 * spread: one line under the ladder:
 *   bid 61800.10  ask 61800.20  spread 0.10 (1 tick, 0.02 bps)  mid 61800.15  imb +12.3%
 * best bid, best ask, spread in price, in ticks and in basis points of the mid (two decimals:
 * one tick of BTCUSDT is 0.016 bps), the mid (one more decimal only when bid + ask is odd), and the
 * book imbalance (bid qty - ask qty) / (bid qty + ask qty) over the top `levels` levels of each
 * side (levels <= 0: every level in the view), all computed exactly with integers. The view carries
 * no tickSize: the tick is the scale's unit when above 1, else the gcd of the gaps between the
 * levels in view (left out when fewer than 8 gaps). When narrow, fields drop in this order: mid,
 * imbalance, (ticks, bps), spread, labels; a number is never cut (an ellipsis ends the line).
 * Dim, led by the state, when the book is not LIVE. Pure.
 */
#ifndef BF_SPREAD_H
#define BF_SPREAD_H

#include "view.h"
#include "widgets/canvas.h"

void spread_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int levels);
/* The symbol's tick in price units: the view's tickSize from exchangeInfo, else inferred from the
 * levels in view (0 when it cannot be told). The ladder's grouping counts in these. */
int64_t spread_tick(const view_symbol *v);

#endif
