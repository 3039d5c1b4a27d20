/*
 * app: the terminal UI's loop. Starts the engine (retrying while the endpoints cannot be reached,
 * and saying so), then polls stdin, the engine's wakeup eventfd, a signalfd and the frame timer;
 * redraws only what changed, at most fps times a second, with one doupdate per frame.
 *
 * Symbols: the watchlist starts as the configured symbols (pinned); '/' search adds any USD-M
 * perpetual, and at most APP_RECENT_MAX added symbols stay subscribed: adding another removes the
 * least recently viewed one. A switch shows the new symbol's view on the next frame, nothing of
 * the old.
 *
 * Replay (app_config.pl): the same screens fed by the player. Everything that says "now" (status
 * ages, the funding countdown) uses the player's recording time, so a paused replay holds still;
 * the status bar carries the REPLAY mark (speed, playing / PAUSED / END, recording time, file i/n)
 * and the player's problems as messages; Space, '.', n, '<' and '>' drive the player.
 *
 * Signals: the caller blocks SIGINT, SIGTERM, SIGHUP, SIGWINCH and SIGTSTP in every thread before
 * the engine's threads exist (app_block_signals); the loop takes them from a signalfd, so no
 * handler ever runs beside ncurses. Main thread only.
 */
#ifndef BF_APP_H
#define BF_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "feed/player.h"
#include "tui/keymap.h"
#include "tui/recsess.h"

#define APP_RECENT_MAX  8 /* symbols added by search that stay subscribed */
#define APP_DEFAULT_FPS 20

typedef struct app_config {
    engine *e;                /* created, not started: the app starts and stops it */
    const char *rest_url;     /* for the messages ("cannot reach ...") */
    int64_t start_timeout_ns; /* per attempt */
    int fps;                  /* frame cap; 0: APP_DEFAULT_FPS */
    bool demo;                /* DEMO at all times */
    bool repaint_all;         /* benchmark baseline: redraw and repaint everything every frame */
    bool bench_floor; /* benchmark floor: frames as usual, but only the status bar is drawn */
    bool force_ascii;
    keymap *km;                /* the caller's, with the keymap file applied */
    const char *first_message; /* shown at start for a while (a keymap file error), or NULL */
    player *pl;   /* replay: the engine is offline and already started, the player (started) feeds
                   it; the screens show recording time, the REPLAY mark and take the replay keys.
                   app_run stops the player before the engine. NULL: live. */
    recsess *rec; /* live and recording (--record): the start prepares the engine and attaches
                     it before streaming; ticked every second; the caller finishes it after
                     app_run (the engine is stopped by then). NULL: not recording. */
} app_config;

/* Block the signals the loop takes (call before any thread starts). */
void app_block_signals(void);
/* Run until quit or a terminating signal. 0, or 1 with a sentence in why when the terminal could
 * not be set up. */
int app_run(const app_config *cfg, char *why, size_t why_cap);

#endif
