/* recsrc: not written yet (see recsrc.h). */
#include "sim/recsrc.h"
