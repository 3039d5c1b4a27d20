/*
 * strip: the futures context line: mark price, index price, funding rate (as a percentage) and a
 * countdown to the next funding (HH:MM:SS from now_ms, epoch ms). "-" for what has not arrived. Pure.
 *
 * Everything comes from the exchange's strings with integer or string arithmetic, no floating
 * point: mark and index are shown at the symbol's price decimals, rounded half away from zero
 * ("61790.12345678" -> "61790.12"; as written when the scale is unknown); the funding rate is
 * shifted two places ("0.00010000" -> "+0.0100%") and never rounded. Values are dimmed while a
 * stream of the symbol is flagged stale. Narrow rects shorten the labels, then drop the index, the
 * countdown, the labels and the funding, in that order.
 */
#ifndef BF_STRIP_H
#define BF_STRIP_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

void strip_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int64_t now_ms);

/* A funding rate string (-?[0-9]+(\.[0-9]+)?, "+" accepted) as a percentage: the point moved two
 * places right, at least 4 decimals, more only when they are not zeros, "+" for positive rates and
 * no sign for zero: "0.00010000" -> "+0.0100%", "-0.00250000" -> "-0.2500%", "0" -> "0.0000%",
 * "0.00012345" -> "+0.012345%". Returns the length, BF_ESYNTAX for anything else (also ""), or
 * BF_ETOOBIG when cap is too small (DEC_FMT_MAX + 4 always fits a rate of DEC_MAX_CHARS). */
int strip_funding_pct(const char *rate, char *buf, size_t cap);

/* The countdown to next_ms as "HH:MM:SS" (hours may exceed 99), seconds rounded up so 00:00:00
 * means due; "00:00:00" once past; "-" when next_ms is 0 (unknown). Returns the length. */
int strip_countdown(int64_t next_ms, int64_t now_ms, char *buf, size_t cap);

#endif
