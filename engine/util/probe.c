/* probe: not yet implemented. */
#include "util/probe.h"
