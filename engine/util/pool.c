/* pool: not yet implemented. */
#include "util/pool.h"
