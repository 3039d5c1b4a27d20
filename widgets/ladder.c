/* ladder: not written yet (see ladder.h). */
#include "widgets/ladder.h"
