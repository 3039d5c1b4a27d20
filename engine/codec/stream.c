/* stream: not yet implemented. */
#include "codec/stream.h"
