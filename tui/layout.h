/*
 * layout: where every panel goes on a W x H terminal. Pure arithmetic, any thread.
 *
 * Three shapes, chosen by size:
 *   full    (>= LAYOUT_FULL_W x LAYOUT_FULL_H): the ladder on the left; strip, watchlist,
 *           sparkline, tape and latency panel stacked on the right; below both, the spread line
 *           across the whole width, then the status bar.
 *   compact (>= LAYOUT_MIN_W x LAYOUT_MIN_H): strip, ladder, spread line and a one-row status bar;
 *           the other panels are empty rectangles (not drawn).
 *   too small: every panel is empty and `too_small` is set with the size needed, so the caller shows
 *           "terminal too small (need WxH)" instead of a garbled screen.
 * Rectangles never overlap and never leave the screen.
 */
#ifndef BF_LAYOUT_H
#define BF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "widgets/canvas.h"

#define LAYOUT_MIN_W  32
#define LAYOUT_MIN_H  10
#define LAYOUT_FULL_W 90
#define LAYOUT_FULL_H 24

typedef enum layout_shape { LAYOUT_TOO_SMALL = 0, LAYOUT_COMPACT, LAYOUT_FULL } layout_shape;

typedef struct layout {
    layout_shape shape;
    bool too_small;     /* shape == LAYOUT_TOO_SMALL */
    int need_w, need_h; /* the smallest size that shows anything */
    rect screen;        /* the whole terminal */
    rect ladder, spread, spark, tape, strip, latency, watchlist, status;
    rect separator; /* the vertical rule between the columns (full shape), else empty */
} layout;

/* nwatch: symbols in the watchlist (sizes its panel in the full shape). */
void layout_compute(int w, int h, size_t nwatch, layout *out);
/* The rectangle of a centred overlay (help, search) of at most want_w x want_h on the screen. */
rect layout_overlay(const layout *l, int want_w, int want_h);
/* "terminal too small (need 32x10, have 20x5)" into buf. */
void layout_too_small_text(const layout *l, char *buf, size_t cap);

#endif
