/* Tests for stream: to be written. */
#include <criterion/criterion.h>
