/* spark: not written yet (see spark.h). */
#include "widgets/spark.h"
