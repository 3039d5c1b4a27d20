/* hist: not yet implemented. */
#include "util/hist.h"
