/* jdec: not yet implemented. */
#include "codec/jdec.h"
