/* frameq: not yet implemented. */
#include "util/frameq.h"
