#include <criterion/criterion.h>
#include <stdint.h>

#include "util/dur.h"
#include "util/err.h"

static int64_t ms_of(const char *s)
{
    int64_t ms = -1;
    cr_assert_eq(dur_parse_ms(s, &ms), 0, "\"%s\" rejected", s);
    return ms;
}

Test(dur, units_and_bare_seconds)
{
    cr_expect_eq(ms_of("250ms"), 250);
    cr_expect_eq(ms_of("1.5s"), 1500);
    cr_expect_eq(ms_of("2m"), 120000);
    cr_expect_eq(ms_of("1h"), 3600000);
    cr_expect_eq(ms_of("10"), 10000, "a bare number is seconds");
    cr_expect_eq(ms_of("0"), 0);
    int64_t ns = 0;
    cr_assert_eq(dur_parse_ns("0.000001s", &ns), 0);
    cr_expect_eq(ns, 1000);
}

Test(dur, bad_input_is_rejected)
{
    const char *bad[] = { "",   "s",    "-1s", "+1s", " 1s",    "1 s",
                          "1x", "1sec", "inf", "nan", "1e300h", "5parsecs" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        cr_expect_eq(dur_parse_ms(bad[i], &v), BF_EINVAL, "\"%s\" accepted", bad[i]);
        cr_expect_eq(v, 42, "\"%s\" wrote a value", bad[i]);
    }
    cr_expect_eq(dur_parse_ns(NULL, &(int64_t){ 0 }), BF_EINVAL);
}
