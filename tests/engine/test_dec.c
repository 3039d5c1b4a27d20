/* Tests for dec: to be written. */
#include <criterion/criterion.h>
