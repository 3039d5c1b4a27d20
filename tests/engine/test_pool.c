/* Tests for pool: to be written. */
#include <criterion/criterion.h>
