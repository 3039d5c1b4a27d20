/* Tests for tsring: to be written. */
#include <criterion/criterion.h>
