/* Tests for hist: to be written. */
#include <criterion/criterion.h>
