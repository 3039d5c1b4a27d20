/*
 * vt: the bytes that take a terminal from what it shows to the next frame. Given each role's
 * attribute sequence and the way to address the cursor (tui/screen reads both from terminfo once),
 * it appends cursor moves, attribute changes and glyphs for runs of changed cells to one buffer,
 * which the screen sends with a single write(2) per frame.
 *
 * Why not ncurses' doupdate: it compares the whole screen again, formats every cursor move and
 * colour change through tparm (a cache lookup and a printf each), and was two thirds of the UI
 * thread's time under a busy feed. Here a role change is one precomputed string and an ANSI cursor
 * move a few digits. No ncurses, no I/O: the exact bytes are unit-tested. UI thread only.
 */
#ifndef BF_VT_H
#define BF_VT_H

#include <stdbool.h>
#include <stddef.h>

#include "widgets/canvas.h"
#include "widgets/theme.h"

typedef struct vt vt;

/* terminfo's cursor address for row y, column x (0-based); NULL when it cannot be formatted. */
typedef const char *(*vt_cup_fn)(int y, int x);

typedef struct vt_caps {
    /* Absolute: each resets the attributes, then sets the role's own (NULL: reset only). */
    const char *role_seq[ROLE_COUNT];
    const char *reset; /* attributes off (sgr0) */
    const char *clear; /* clear the screen, cursor home */
    vt_cup_fn cup; /* NULL: ANSI "ESC [ row ; col H" (1-based), what nearly every terminal takes */
    /* Auto-margins without the xterm newline glitch: writing the bottom-right cell would scroll the
     * screen, so that cell is left alone. */
    bool skip_last_cell;
} vt_caps;

vt *vt_create(const vt_caps *caps);
void vt_destroy(vt *v);

/* Start a frame for a w x h screen. clear: begin by clearing the screen (every cell then has to be
 * put). The cursor position and attributes are unknown at the start of a frame: whatever ran on
 * the terminal in between (a suspend, ncurses' own set-up) cannot mislead the next one. */
void vt_begin(vt *v, int w, int h, bool clear);
/* n cells of row y from column x. Cells outside the screen are ignored. */
void vt_put(vt *v, int x, int y, const cell *c, int n);
/* The frame's bytes (attributes reset at the end); valid until the next vt_begin. */
const char *vt_end(vt *v, size_t *len);

#endif
