/* replay: not yet implemented. */
#include "feed/replay.h"
