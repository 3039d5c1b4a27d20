/*
 * canvas: an off-screen grid of cells that every widget draws into. The TUI copies the cells that
 * changed since the last frame to ncurses (tui/screen); tests dump a canvas as text and compare it
 * with golden captures. Knows nothing of ncurses or of the engine. A canvas belongs to one thread.
 *
 * Every cell holds one single-column glyph (ASCII, or a UTF-8 sequence of up to 4 bytes: the block
 * and box-drawing characters bfmon uses are all one column wide) and a role that the screen maps to
 * colours and attributes (theme.h). Drawing is clipped to the rectangle given, so a widget can
 * never write outside its area, whatever the size.
 */
#ifndef BF_CANVAS_H
#define BF_CANVAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "widgets/theme.h"

typedef struct rect {
    int x, y, w, h; /* w or h <= 0: empty */
} rect;

typedef struct cell {
    char glyph[5]; /* UTF-8, NUL-padded to the end (so cells compare with memcmp); " " blank */
    uint8_t role;  /* a role (theme.h) */
} cell;

typedef struct canvas canvas;

canvas *canvas_create(int w, int h);
void canvas_destroy(canvas *c);
/* New size; contents become blank. */
void canvas_resize(canvas *c, int w, int h);
int canvas_width(const canvas *c);
int canvas_height(const canvas *c);
rect canvas_bounds(const canvas *c);

/* Blank every cell of r (clipped to the canvas) with the given role. */
void canvas_clear(canvas *c, rect r, role ro);
/* Write UTF-8 text at (x, y), one glyph per column, clipped to clip and to the canvas; invalid
 * UTF-8 and control characters are drawn as '?'. Returns the columns the text would take (also
 * what was clipped), so callers can right-align with canvas_width_of(). */
int canvas_put(canvas *c, int x, int y, rect clip, role ro, const char *text);
/* n copies of the first glyph of `glyph` from (x, y) along the row, clipped like canvas_put (a
 * bar is one glyph many times: decoded once). */
void canvas_fill(canvas *c, int x, int y, rect clip, role ro, const char *glyph, int n);
int canvas_printf(canvas *c, int x, int y, rect clip, role ro, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Columns a UTF-8 string takes (one per glyph). */
int canvas_width_of(const char *text);
/* Text that ends just left of column `right` (right-aligned), clipped like canvas_put. */
void canvas_put_right(canvas *c, int right, int y, rect clip, role ro, const char *text);
/* Text in at most `cols` columns from (x, y): when it does not fit, its first cols - 1 glyphs and
 * the theme's ellipsis in the last column. Nothing when cols <= 0. */
void canvas_put_cut(canvas *c, int x, int y, int cols, rect clip, role ro, const theme *t,
                    const char *text);
/* Set only the role of the cells of r (highlight without redrawing text). */
void canvas_set_role(canvas *c, rect r, role ro);

const cell *canvas_at(const canvas *c, int x, int y); /* NULL outside */

/* The canvas as text: h lines of w glyphs each, '\n' after every line (malloc'd). With roles, every
 * text line is followed by a line of role letters (theme_role_letter), so golden files show colour
 * decisions too. */
char *canvas_dump(const canvas *c, bool with_roles);

/* r shrunk by n cells on every side; empty when it does not fit. */
rect rect_inset(rect r, int n);
bool rect_empty(rect r);
/* The cells both rects cover (empty when they do not meet). */
rect rect_intersect(rect a, rect b);

#endif
