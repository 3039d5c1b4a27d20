/* faults: not written yet. */
#include "sim/faults.h"
