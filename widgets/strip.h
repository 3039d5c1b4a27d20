/*
 * strip: the futures context line: mark price, index price, funding rate (as a percentage) and a
 * countdown to the next funding (HH:MM:SS from now_ms, epoch ms). "-" for what has not arrived. Pure.
 */
#ifndef BF_STRIP_H
#define BF_STRIP_H

#include <stdint.h>

#include "view.h"
#include "widgets/canvas.h"

void strip_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int64_t now_ms);

#endif
