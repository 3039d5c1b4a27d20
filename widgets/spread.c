/* spread: not written yet (see spread.h). */
#include "widgets/spread.h"
