/*
 * palette: how each role (widgets/theme.h) looks at each colour depth: 256 colours, 16, 8, or
 * monochrome (also what NO_COLOR asks for). Pure data and one lookup, no ncurses, so the mapping
 * is tested on its own; tui/screen turns a style into colour pairs and attributes. Any thread.
 *
 * Rules the tests hold it to: 8 colours use only the eight basic colours; 16 colours add the bright
 * variants (8..15) for emphasised roles and nothing above 15; 256 colours may use any index;
 * monochrome uses no colour at all and tells the roles that carry meaning (flashes, large prints,
 * states, the selection, DEMO) apart by attributes alone.
 */
#ifndef BF_PALETTE_H
#define BF_PALETTE_H

#include "widgets/theme.h"

enum {
    PAL_BOLD = 1 << 0,
    PAL_DIM = 1 << 1,
    PAL_REVERSE = 1 << 2,
    PAL_UNDERLINE = 1 << 3,
};

#define PAL_DEFAULT (-1) /* the terminal's own foreground or background */

typedef struct pal_style {
    short fg, bg;   /* colour numbers for the depth, or PAL_DEFAULT; always default in monochrome */
    unsigned attrs; /* PAL_* bits */
} pal_style;

pal_style palette_style(role r, color_depth depth);

#endif
