/* Tests for sync: to be written. */
#include <criterion/criterion.h>
