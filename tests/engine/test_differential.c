/* Tests for differential: to be written. */
#include <criterion/criterion.h>
