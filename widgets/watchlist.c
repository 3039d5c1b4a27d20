/* watchlist: not written yet (see watchlist.h). */
#include "widgets/watchlist.h"
