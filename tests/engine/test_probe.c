/* Tests for probe: to be written. */
#include <criterion/criterion.h>
