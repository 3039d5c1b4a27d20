/*
 * latency: the latency panel: one row per stage (T->E, E->recv with the clock offset, recv->applied,
 * applied->drawn, REST round trip) with p50 / p99 / p99.9 / max over the engine's rolling window,
 * a p99 sparkline per stage when history is given, messages/s, and a warning line when the clock
 * looks skewed (negative E->recv samples beyond the offset's uncertainty). Pure.
 */
#ifndef BF_LATENCY_H
#define BF_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

#define LATENCY_HISTORY 120 /* p99 samples kept per stage for the sparklines */

typedef struct latency_input {
    const view_symbol *v;
    const view_global *g;
    view_latency drawn; /* applied -> drawn, measured by the UI (replaces STAGE_APPLIED_TO_PUB) */
    const int64_t (*p99_history)[LATENCY_HISTORY]; /* per stage, oldest first; NULL: none */
    size_t nhistory;                               /* valid samples in each history row */
} latency_input;

void latency_draw(canvas *c, rect r, const theme *t, const latency_input *in);

#endif
