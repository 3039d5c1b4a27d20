/*
 * search: the incremental symbol search overlay: the query line and the matching symbols (from
 * exchangeInfo's perpetuals) with the cursor's row selected. Pure.
 */
#ifndef BF_SEARCH_H
#define BF_SEARCH_H

#include <stddef.h>

#include "widgets/canvas.h"

void search_draw(canvas *c, rect r, const theme *t, const char *query, const char *const *matches,
                 size_t n, size_t cursor);

#endif
