/* recfmt: not yet implemented. */
#include "feed/recfmt.h"
