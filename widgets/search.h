/*
 * search: the incremental symbol search overlay: the query line and the matching symbols (from
 * exchangeInfo's perpetuals) with the cursor's row selected. Pure.
 *
 * Fills r, framed and titled when r is at least 16x4. Inside, row 0 is "/ query" with the cursor
 * cell (ROLE_SELECTED) after the query (a long query shows its end) and the match count at the
 * right; the rows below list the matches, scrolled so the cursor's row is visible, the part equal
 * to the query (ASCII case-insensitive) highlighted, the cursor's row in ROLE_SELECTED, arrows at
 * the right edge when more are above or below. "no match" when a query matches nothing.
 */
#ifndef BF_SEARCH_H
#define BF_SEARCH_H

#include <stddef.h>

#include "widgets/canvas.h"

void search_draw(canvas *c, rect r, const theme *t, const char *query, const char *const *matches,
                 size_t n, size_t cursor);

#endif
