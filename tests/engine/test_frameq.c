/* Tests for frameq: to be written. */
#include <criterion/criterion.h>
