/* status: not written yet (see status.h). */
#include "widgets/status.h"
