/* server: not written yet (see server.h). */
#include "sim/server.h"
