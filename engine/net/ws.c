/* ws: not written yet (see ws.h). */
#include "net/ws.h"
