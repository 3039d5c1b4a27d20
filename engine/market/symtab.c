/* symtab: not yet implemented. */
#include "market/symtab.h"
