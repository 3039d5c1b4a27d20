/* search: not written yet (see search.h). */
#include "widgets/search.h"
