/* Tests for spsc: to be written. */
#include <criterion/criterion.h>
