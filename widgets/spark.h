/*
 * spark: sparklines of a price series (the engine's mid ticks). The full form draws the series
 * over the rectangle's width (newest right, one column per sample or bucket) with min and max
 * labels formatted in the symbol's scale; the compact form is one row of glyphs with no labels
 * (the watchlist). Values are integers in units of 1/divisor of the scale (mid ticks are mid_x2,
 * divisor 2). Pure.
 */
#ifndef BF_SPARK_H
#define BF_SPARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dec.h"
#include "widgets/canvas.h"

typedef struct spark_input {
    const int64_t *vals; /* oldest first */
    size_t n;
    const dec_scale *scale; /* for the labels; NULL: no labels */
    int divisor;            /* >= 1 */
    bool labels;
    bool dim; /* untrustworthy (book not LIVE) */
} spark_input;

void spark_draw(canvas *c, rect r, const theme *t, const spark_input *in);

#endif
