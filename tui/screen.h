/*
 * screen: the only code that calls ncurses. Sets the terminal up (locale, UTF-8 detection, cbreak,
 * noecho, keypad, colours for 256 / 16 / 8 colours or monochrome, NO_COLOR respected), maps each
 * role (widgets/theme.h) to the terminal's attribute and colour strings, copies a canvas to the
 * terminal where it differs from the previous frame in one write per frame, reads keys as keymap
 * codes (tui/keymap.h), and restores the terminal on every way out: screen_close, exit(), and
 * fatal signals (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL: restored, then the signal's default
 * action). Main thread only; one screen per process.
 */
#ifndef BF_SCREEN_H
#define BF_SCREEN_H

#include <stdbool.h>

#include "widgets/canvas.h"
#include "widgets/theme.h"

typedef struct screen screen;

typedef struct screen_opts {
    bool force_ascii; /* ASCII glyphs even in a UTF-8 locale */
    bool repaint_all; /* every frame rewrites every cell and repaints the terminal (benchmark) */
} screen_opts;

/* NULL with a sentence in why when stdin/stdout is not a terminal or ncurses cannot start. */
screen *screen_open(const screen_opts *o, char *why, size_t why_cap);
/* Restore the terminal; safe to call twice and with NULL. */
void screen_close(screen *s);

/* The theme matching the terminal: UTF-8 glyphs or ASCII, colour depth. */
const theme *screen_theme(const screen *s);
void screen_size(const screen *s, int *w, int *h);
/* Re-read the terminal size after SIGWINCH / KEY_RESIZE; true when it changed. The next frame
 * repaints everything. */
bool screen_resize(screen *s);
/* Forget what the terminal shows: the next frame repaints every cell (Ctrl-L). */
void screen_invalidate(screen *s);

/* Ctrl-Z: give the terminal back, stop the process, and take the terminal again when continued
 * (the next frame repaints everything). */
void screen_suspend(screen *s);

/* Copy the canvas (the screen's size) to the terminal: only changed cells, one write. Returns the
 * number of cells that changed. Draws nothing while busy. */
int screen_draw(screen *s, const canvas *c);
/* True while the terminal has not taken all of the last frame (it stopped reading). Poll
 * screen_output_fd for POLLOUT and call screen_flush; frames wait until it is false. */
bool screen_busy(const screen *s);
int screen_output_fd(const screen *s);
/* Send what the terminal takes now of the pending frame. Never blocks. */
void screen_flush(screen *s);

/* The next pending key as a keymap code (KM_KEY_RESIZE for a resize), or -1 when none is waiting.
 * Never blocks. */
int screen_key(screen *s);
/* The descriptor to poll for input. */
int screen_input_fd(const screen *s);

#endif
