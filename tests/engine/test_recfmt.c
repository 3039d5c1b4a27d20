/* Tests for recfmt: to be written. */
#include <criterion/criterion.h>
