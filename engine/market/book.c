/* book: not yet implemented. */
#include "market/book.h"
