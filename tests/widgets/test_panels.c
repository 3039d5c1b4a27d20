#include <criterion/criterion.h>

Test(placeholder, not_written_yet)
{
    cr_skip_test("not written yet");
}
