/* golden: not written yet (see golden.h). */
#include "golden.h"
