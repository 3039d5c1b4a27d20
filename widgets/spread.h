/*
 * spread: one line under the ladder: best bid, best ask, spread in price, in ticks and in basis
 * points, mid, and the book imbalance (bid qty - ask qty) / (bid qty + ask qty) over the top
 * `levels` levels of each side. Dim with the state when the book is not LIVE. Pure.
 */
#ifndef BF_SPREAD_H
#define BF_SPREAD_H

#include "view.h"
#include "widgets/canvas.h"

void spread_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int levels);

#endif
