/* dec: not yet implemented. */
#include "util/dec.h"
