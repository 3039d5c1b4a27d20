/* tsring: not yet implemented. */
#include "util/tsring.h"
