/* canvas: not written yet (see canvas.h). */
#include "widgets/canvas.h"
