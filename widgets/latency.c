/* latency: not written yet (see latency.h). */
#include "widgets/latency.h"
