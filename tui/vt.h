/*
 * vt: the bytes that take a terminal from what it shows to the next frame. Given how each role
 * looks (its SGR parameters, or its whole attribute sequence on terminals that are not plain ANSI)
 * and the way to address the cursor (tui/screen reads both from terminfo once), it appends cursor
 * moves, attribute changes and glyphs for runs of changed cells to one buffer, which the screen
 * sends with a single write(2) per frame. Every role-to-role change is worked out once: only what
 * differs is sent, and a blank keeps the attributes in force when it looks the same in them.
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

enum { VT_ATTR_COUNT = 4 }; /* bold, dim, reverse, underline: whatever the screen maps them to */

/* Roles described by their ECMA-48 SGR parameters ("ESC [ params m"), for terminals whose attribute
 * and colour strings all have that form (nearly all do). A role change then sends only what differs
 * from the role before, in one sequence: "ESC[48;5;153m" to start a flash instead of a reset, bold
 * and both colours again (~20 bytes, most of a busy frame's bytes before). */
typedef struct vt_sgr {
    const char *attr[VT_ATTR_COUNT]; /* each attribute's parameters ("1" for bold) */
    /* What turns attribute a off ("22" for bold), and which attributes that clears (22 clears bold
     * and dim); NULL: only a reset does. */
    const char *attr_off[VT_ATTR_COUNT];
    unsigned attr_off_clears[VT_ATTR_COUNT];
    unsigned role_attrs[ROLE_COUNT]; /* bit a: attr[a] is on */
    /* Attributes that show on a blank cell (reverse, underline); then the foreground shows too.
     * A blank needs no change between roles that look the same on it. */
    unsigned blank_attrs;
    const char *fg[ROLE_COUNT], *bg[ROLE_COUNT]; /* colour parameters ("38;5;196"); NULL: default */
    /* "39" / "49" bring the default colours back (terminfo's op is ESC[39;49m); otherwise dropping a
     * colour takes a reset. */
    bool default_colours;
} vt_sgr;

typedef struct vt_caps {
    /* Absolute: each resets the attributes, then sets the role's own (NULL: reset only). Used when
     * sgr is NULL. */
    const char *role_seq[ROLE_COUNT];
    const vt_sgr *sgr; /* NULL: the terminal's strings are not plain SGR; role_seq it is */
    const char *reset; /* attributes off (sgr0) */
    const char *clear; /* clear the screen, cursor home */
    /* NULL: ANSI "ESC [ row ; col H" (1-based, "ESC [ row H" for the first column), what nearly
     * every terminal takes; then a move right along the row is "ESC [ n C". */
    vt_cup_fn cup;
    /* Auto-margins without the xterm newline glitch: writing the bottom-right cell would scroll the
     * screen, so that cell is left alone. */
    bool skip_last_cell;
    /* The terminal keeps DEC mode 2026 (synchronized output): each frame goes between
     * "ESC[?2026h" and "ESC[?2026l", so the terminal shows it whole however its reads split it. */
    bool sync;
} vt_caps;

#define VT_SYNC_BEGIN "\033[?2026h"
#define VT_SYNC_END   "\033[?2026l"

vt *vt_create(const vt_caps *caps);
void vt_destroy(vt *v);
/* Mode 2026 found out later (a terminal that answered the question after the screen stopped
 * waiting): from the next vt_begin on, frames are bracketed, or no longer. */
void vt_set_sync(vt *v, bool on);

/* Start a frame for a w x h screen. clear: begin by clearing the screen (every cell then has to be
 * put). The cursor position and attributes are unknown at the start of a frame: whatever ran on
 * the terminal in between (a suspend, ncurses' own set-up) cannot mislead the next one. */
void vt_begin(vt *v, int w, int h, bool clear);
/* n cells of row y from column x. Cells outside the screen are ignored. */
void vt_put(vt *v, int x, int y, const cell *c, int n);
/* The frame's bytes (attributes reset at the end; nothing at all when no cell changed); valid until
 * the next vt_begin. */
const char *vt_end(vt *v, size_t *len);

#endif
