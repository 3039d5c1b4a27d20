/* memacct: not yet implemented. */
#include "util/memacct.h"
