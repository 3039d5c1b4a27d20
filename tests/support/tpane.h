/*
 * tpane: a program in a detached tmux session with its own server socket (one per test process),
 * for the terminal end-to-end tests: start it from a script, send keys, capture the screen, poll
 * the screen until it shows what is expected (or fail with the last capture), stop it. Captures
 * are plain text, one line per terminal row. Criterion assertions report failures.
 */
#ifndef BF_TEST_TPANE_H
#define BF_TEST_TPANE_H

#include <stdbool.h>

typedef struct tpane {
    char sock[64];
    bool up;
} tpane;

typedef bool (*tpane_pred)(const char *cap, const void *ctx);

/* Writes dir/run.sh: LANG=C.UTF-8, body, then the program's exit status ("bfmon exited N") and
 * the terminal's icanon/echo state, then keeps the pane open. Returns the path (malloc'd). */
char *tpane_script(const char *dir, const char *body);
/* `sh script` in a w x h session named "bf" (asserts). */
void tpane_start(tpane *p, int w, int h, const char *script);
/* Kills the server and its socket file; safe when not started. */
void tpane_stop(tpane *p);

/* A tmux command against this server; its exit status, output in *out (malloc'd) if out. */
int tpane_cmd(const tpane *p, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *tpane_capture(const tpane *p);
char *tpane_capture_escapes(const tpane *p);       /* with the SGR sequences */
void tpane_keys(const tpane *p, const char *keys); /* send-keys syntax: "Tab", "q", "/ D O" */

/* Polls the screen until pred holds and returns that capture (malloc'd); fails the test with the
 * last capture after timeout_ms. */
char *tpane_wait(const tpane *p, tpane_pred pred, const void *ctx, int timeout_ms,
                 const char *what);
/* Polls a tmux format of the pane ("#{alternate_on}") until it reads want (asserts). */
void tpane_wait_format(const tpane *p, const char *format, const char *want, int timeout_ms);
/* After the program: "bfmon exited 0", the shell's screen (not the alternate one), a visible
 * cursor, and the line discipline back to canonical input with echo. */
void tpane_expect_restored(const tpane *p, int timeout_ms);

bool tpane_has_text(const char *cap, const void *text);
bool tpane_lacks_text(const char *cap, const void *text);
bool tpane_matches(const char *text, const char *pattern); /* POSIX ERE, per line */
/* Columns [x0, x1) of rows [y0, y1) of a capture, one column per code point (malloc'd). */
char *tpane_region(const char *cap, int x0, int x1, int y0, int y1);

#endif
