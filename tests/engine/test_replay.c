/* Tests for replay: to be written. */
#include <criterion/criterion.h>
