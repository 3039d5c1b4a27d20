/* spsc: not yet implemented. */
#include "util/spsc.h"
