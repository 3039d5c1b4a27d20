/* event: not yet implemented. */
#include "codec/event.h"
