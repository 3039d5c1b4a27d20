/*
 * help: the help overlay, a framed box centred in r listing every key binding with its action and
 * what it does, generated from the key table (tui/keymap). Pure.
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

#endif
