/* Tests for book: to be written. */
#include <criterion/criterion.h>
