/* Tests for memacct: to be written. */
#include <criterion/criterion.h>
