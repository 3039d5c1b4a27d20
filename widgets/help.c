/* help: not written yet (see help.h). */
#include "widgets/help.h"
