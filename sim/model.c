/* model: not written yet (see model.h). */
#include "sim/model.h"
