/* theme: not written yet (see theme.h). */
#include "widgets/theme.h"
