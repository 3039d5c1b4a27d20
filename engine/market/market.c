/* market: not yet implemented. */
#include "market/market.h"
