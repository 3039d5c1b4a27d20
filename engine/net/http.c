/* http: not written yet (see http.h). */
#include "net/http.h"
