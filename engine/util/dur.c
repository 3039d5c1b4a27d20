/* dur: see dur.h. */
#include "util/dur.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static double unit_ns(const char *suffix)
{
    if (!*suffix || strcmp(suffix, "s") == 0)
        return 1e9;
    if (strcmp(suffix, "ms") == 0)
        return 1e6;
    if (strcmp(suffix, "m") == 0)
        return 60e9;
    if (strcmp(suffix, "h") == 0)
        return 3600e9;
    return 0;
}

int dur_parse_ns(const char *s, int64_t *ns)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return BF_EINVAL; /* also rejects signs, spaces and "inf"/"nan" */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double unit = unit_ns(end);
    if (errno || !isfinite(v) || unit == 0 || v * unit > 9e18)
        return BF_EINVAL;
    *ns = (int64_t)llround(v * unit);
    return 0;
}

int dur_parse_ms(const char *s, int64_t *ms)
{
    int64_t ns;
    int rc = dur_parse_ns(s, &ns);
    if (rc == 0)
        *ms = (ns + 500000) / 1000000;
    return rc;
}
