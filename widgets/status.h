/*
 * status: the status bar (one or two rows): connection state per route, each symbol's book state
 * (LIVE / SNAPSHOTTING / RESYNCING / STALE) with its age, REST weight used against the limit (and a
 * countdown during a ban), RECORDING, PAUSED and DEMO marks, the REPLAY mark (speed, playing /
 * PAUSED / END, recording time, file i/n), and a message line (what failed; the hint to try
 * --demo). Pure.
 */
#ifndef BF_STATUS_H
#define BF_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

/* `bfmon replay`: the REPLAY mark, shown at every size like DEMO. */
typedef struct status_replay {
    const char *speed;   /* "1x", "0.25x", "max" */
    const char *state;   /* "playing", "PAUSED", "stepping", "jumping", "END" */
    int64_t position_ns; /* recording time (epoch ns, shown in UTC); 0: not known yet */
    size_t file, nfiles; /* the file being played, 1-based */
} status_replay;

typedef struct status_input {
    const view_global *g;
    const view_symbol *const *syms; /* watchlist order */
    size_t nsyms;
    size_t selected;
    int64_t now_mono_ns;
    bool demo, paused;
    const char *message;         /* NULL or a sentence (shown in ROLE_ERROR) */
    const status_replay *replay; /* NULL live; in a replay the display freeze shows FROZEN */
} status_input;

void status_draw(canvas *c, rect r, const theme *t, const status_input *in);

#endif
