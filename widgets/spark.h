/*
 * spark: sparklines of a price series (the engine's mid ticks). The full form draws the series
 * over the rectangle's width (newest right, one column per sample or bucket) with min and max
 * labels formatted in the symbol's scale; the compact form is one row of glyphs with no labels
 * (the watchlist). Values are integers in units of 1/divisor of the scale (mid ticks are mid_x2,
 * divisor 2). Pure.
 *
 * Downsampling: with more samples than columns, the series is cut into equal buckets (one per
 * column) and each column shows the LAST value of its bucket (the bucket's close), so the line
 * reads like a close-price chart and the newest column is always the newest value. The vertical
 * scale and the labels are the true minimum and maximum of ALL samples, so a spike that falls
 * inside a bucket still widens the scale and shows in the labels even when no column reaches it.
 *
 * Scale: each column is filled from the bottom in eighths of a cell; the minimum fills one eighth
 * ("▁"), the maximum the whole height. A flat series is drawn at mid-height. The glyphs take the
 * trend's role (ROLE_UP when the newest value is above the oldest, ROLE_DOWN below, ROLE_NORMAL
 * flat), ROLE_DIM when dim; labels are ROLE_DIM. Labels (max on the top row, min on the bottom)
 * need at least two rows and leave at least four columns to the chart, else they are left out.
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

/* v / divisor in the scale's notation, exactly: with as many extra decimals as the division needs
 * (an odd mid_x2 over 2 gets one more, an even one none), up to 6; a divisor that no power of ten
 * up to 10^6 makes exact is rounded (half away from zero) to 2 extra decimals. Length or BF_E* as
 * dec_format. Shared by the widgets that print mids. */
int spark_format_value(int64_t v, int divisor, const dec_scale *sc, char *buf, size_t cap);

#endif
