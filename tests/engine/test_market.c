/* Tests for market: to be written. */
#include <criterion/criterion.h>
