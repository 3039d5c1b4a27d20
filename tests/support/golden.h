/*
 * golden: compare a rendered canvas with a checked-in text capture under tests/data/golden/.
 * With BF_UPDATE_GOLDEN=1 in the environment the capture is (re)written instead, so a deliberate
 * change of a widget's look is one command and a reviewable diff. Test code only.
 */
#ifndef BF_GOLDEN_H
#define BF_GOLDEN_H

#include "widgets/canvas.h"

/* Assert (Criterion) that the canvas, dumped with roles, equals tests/data/golden/<name>.txt. */
void golden_check(const canvas *c, const char *name);

#endif
