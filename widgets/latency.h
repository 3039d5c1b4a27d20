/*
 * latency: the latency panel: one row per stage (T->E, E->recv with the clock offset, recv->applied,
 * applied->drawn, REST round trip) with p50 / p99 / p99.9 / max over the engine's rolling window,
 * a p99 sparkline per stage when history is given, messages/s, and a warning line when the clock
 * looks skewed (negative E->recv samples beyond the offset's uncertainty). Pure.
 *
 * Durations take the unit that fits each value (ns, µs / us, ms, s) with 3 significant digits;
 * "-" for a stage without samples. The E->recv row is dimmed while its numbers cannot be trusted
 * (clock skewed, or no clock offset measured yet). Narrow rects drop columns in the order neg,
 * count, p99.9, p50, max (p99 stays) and shorten the stage names; the clock offset then moves from
 * beside E->recv to a line below the stages. Short rects drop the messages line, the clock line,
 * the header, then stages from the bottom. The skew warning, when due, is always the first row.
 */
#ifndef BF_LATENCY_H
#define BF_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

#define LATENCY_HISTORY 120 /* p99 samples kept per stage for the sparklines */

typedef struct latency_input {
    const view_symbol *v; /* NULL: no symbol selected (every stage "-") */
    const view_global *g; /* NULL: no clock offset, no global rate */
    view_latency drawn;   /* applied -> drawn, measured by the UI (replaces STAGE_APPLIED_TO_PUB) */
    /* Per stage (indexed by view_stage; the applied->drawn row reads row STAGE_APPLIED_TO_PUB),
     * oldest first; NULL: none. */
    const int64_t (*p99_history)[LATENCY_HISTORY];
    size_t nhistory; /* valid samples in each history row */
} latency_input;

void latency_draw(canvas *c, rect r, const theme *t, const latency_input *in);

/* A duration in ns with 3 significant digits and the unit that fits: "950ns", "1.23µs" ("us" when
 * !utf8), "12.3ms", "123ms", "1.00s", "1230s"; negatives get a "-". Returns the length. */
int latency_format_ns(int64_t ns, bool utf8, char *buf, size_t cap);

#endif
