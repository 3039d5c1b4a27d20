/* Tests for rest: to be written. */
#include <criterion/criterion.h>
