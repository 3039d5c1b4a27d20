/* engine: not written yet (see engine.h). */
#include "engine.h"
