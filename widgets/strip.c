/* strip: not written yet (see strip.h). */
#include "widgets/strip.h"
