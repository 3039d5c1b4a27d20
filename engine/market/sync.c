/* sync: not yet implemented. */
#include "market/sync.h"
