/* tape: not written yet (see tape.h). */
#include "widgets/tape.h"
