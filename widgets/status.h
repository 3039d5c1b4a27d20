/*
 * status: the status bar (one or two rows): connection state per route, each symbol's book state
 * (LIVE / SNAPSHOTTING / RESYNCING / STALE) with its age, REST weight used against the limit (and a
 * countdown during a ban), RECORDING, PAUSED and DEMO marks, and a message line (what failed; the
 * hint to try --demo). Pure.
 */
#ifndef BF_STATUS_H
#define BF_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

typedef struct status_input {
    const view_global *g;
    const view_symbol *const *syms; /* watchlist order */
    size_t nsyms;
    size_t selected;
    int64_t now_mono_ns;
    bool demo, paused;
    const char *message; /* NULL or a sentence (shown in ROLE_ERROR) */
} status_input;

void status_draw(canvas *c, rect r, const theme *t, const status_input *in);

#endif
