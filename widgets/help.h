/*
 * help: the help overlay, a framed box centred in r listing every key binding with its action and
 * what it does, generated from the key table (tui/keymap). Pure.
 *
 * The box is as small as its entries allow and never leaves r; only its own cells are drawn (the
 * screen behind stays). Rows are "keys  action  what"; a narrow box drops the action column, then
 * cuts the text with the theme's ellipsis; a short box drops the column header and shows a window
 * of the entries with "first-last of n" in its bottom border. Below 6x3 there is no frame: the
 * entries are listed over r.
 */
#ifndef BF_HELP_H
#define BF_HELP_H

#include <stddef.h>

#include "widgets/canvas.h"

typedef struct help_entry {
    const char *keys;   /* "Tab, l, Right" */
    const char *action; /* "next-symbol" */
    const char *what;   /* "switch to the next symbol" */
} help_entry;

void help_draw(canvas *c, rect r, const theme *t, const help_entry *e, size_t n);

/* The same from entry `first` on, for scrolling; first is clamped so the box stays full. Returns
 * the first entry shown (the TUI keeps it as its scroll position). */
size_t help_draw_from(canvas *c, rect r, const theme *t, const help_entry *e, size_t n,
                      size_t first);

#endif
