/* rest: not yet implemented. */
#include "codec/rest.h"
