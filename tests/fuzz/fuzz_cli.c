/*
 * fuzz_cli: a placeholder for the command line target. It fuzzes what the command line parses
 * today through engine/util: durations (dur.h), whole input and every line of it. The full
 * command-line target (every subcommand's options) waits for the CLI refactor.
 *   - an accepted duration is not negative, its milliseconds are its nanoseconds rounded;
 *   - a string that does not start with a digit is rejected (no sign, blank or "inf").
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/dur.h"
#include "util/err.h"

static void check_duration(const char *s)
{
    int64_t ns = -1, ms = -1;
    int rc = dur_parse_ns(s, &ns), rm = dur_parse_ms(s, &ms);
    FUZZ_CHECK(rc == 0 || rc == BF_EINVAL, "dur_parse_ns('%s') returned %d", s, rc);
    FUZZ_CHECK(rc == rm, "'%s': dur_parse_ns %d but dur_parse_ms %d", s, rc, rm);
    if (rc != 0)
        return;
    FUZZ_CHECK(isdigit((unsigned char)s[0]), "'%s' accepted without a leading digit", s);
    FUZZ_CHECK(ns >= 0 && ms >= 0, "'%s': negative duration %lld ns", s, (long long)ns);
    FUZZ_CHECK(ms == (ns + 500000) / 1000000, "'%s': %lld ns but %lld ms", s, (long long)ns,
               (long long)ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strdup(data, size);
    check_duration(s);
    for (char *line = s, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        check_duration(line);
    }
    free(s);
    return 0;
}
