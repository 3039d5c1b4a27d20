/* opts: option-value parsers shared by the subcommands. */
#include "tui/opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/dur.h"

/* The next comma-separated item of *p, trimmed: start and length; advances *p past the comma. */
static const char *next_item(const char **p, size_t *len)
{
    const char *s = *p;
    size_t n = strcspn(s, ",");
    *p = s[n] ? s + n + 1 : s + n;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

bool opts_parse_list(const char *list, char *items, size_t item_cap, size_t cap, size_t *n)
{
    *n = 0;
    const char *p = list;
    do {
        size_t len;
        const char *s = next_item(&p, &len);
        if (len == 0 || len >= item_cap || *n == cap)
            return false;
        memcpy(items + *n * item_cap, s, len);
        items[*n * item_cap + len] = '\0';
        ++*n;
    } while (*p || p[-1] == ',');
    return true;
}

bool opts_parse_symbols(const char *list, char (*names)[SYM_NAME_MAX], const char **ptrs, size_t *n)
{
    if (!opts_parse_list(list, &names[0][0], SYM_NAME_MAX, ENGINE_MAX_SYMBOLS, n))
        return false;
    for (size_t i = 0; i < *n; i++) {
        for (char *c = names[i]; *c; c++) {
            *c = (char)toupper((unsigned char)*c);
            if (!isalnum((unsigned char)*c) && *c != '_')
                return false;
        }
        ptrs[i] = names[i];
    }
    return true;
}

bool opts_parse_speed(const char *s, const char **suffix)
{
    static const char *const speeds[][2] = {
        { "0ms", "@0ms" }, { "100ms", "@100ms" }, { "250ms", "" }, { "500ms", "@500ms" }
    };
    for (size_t i = 0; i < sizeof speeds / sizeof *speeds; i++)
        if (!strcmp(s, speeds[i][0])) {
            *suffix = speeds[i][1];
            return true;
        }
    return false;
}

bool opts_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool opts_parse_workers(const char *s, unsigned *out)
{
    long v;
    if (!opts_parse_int(s, 1, 64, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

static int unit_shift(const char *u)
{
    static const char units[] = "KMGT";
    if (!*u)
        return 0;
    const char *at = strchr(units, toupper((unsigned char)*u));
    if (!at || !*at)
        return -1;
    int shift = 10 * (int)(at - units + 1);
    u++;
    if (!*u || !strcasecmp(u, "B") || !strcasecmp(u, "iB"))
        return shift;
    return -1;
}

bool opts_parse_size(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = unit_shift(end);
    if (errno || shift < 0 || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

void opts_feed_init(opts_feed *o, int64_t interval_ns)
{
    memset(o, 0, sizeof *o);
    o->rest_url = getenv("BFMON_REST_URL");
    o->ws_url = getenv("BFMON_WS_URL");
    o->interval_ns = interval_ns;
}

static int bad(char *why, size_t cap, const char *opt, const char *arg, const char *what)
{
    snprintf(why, cap, "--%s '%s': %s", opt, arg, what);
    return -1;
}

int opts_take_feed(int c, const char *arg, opts_feed *o, char *why, size_t why_cap)
{
    switch (c) {
    case OPTS_REST:
        o->rest_url = arg;
        return 0;
    case OPTS_WS:
        o->ws_url = arg;
        return 0;
    case OPTS_CA:
        o->ca_file = arg;
        return 0;
    case OPTS_SYMBOLS:
        return opts_parse_symbols(arg, o->names, o->symbols, &o->nsymbols)
                   ? 0
                   : bad(why, why_cap, "symbols", arg, "not a list of symbols");
    case OPTS_SPEED:
        return opts_parse_speed(arg, &o->depth_suffix)
                   ? 0
                   : bad(why, why_cap, "depth-speed", arg, "use 0ms, 100ms, 250ms or 500ms");
    case OPTS_WORKERS:
        return opts_parse_workers(arg, &o->workers)
                   ? 0
                   : bad(why, why_cap, "workers", arg, "use 1 to 64");
    case OPTS_INTERVAL:
        return dur_parse_ns(arg, &o->interval_ns) == 0 && o->interval_ns > 0
                   ? 0
                   : bad(why, why_cap, "status-interval", arg, "not a positive duration");
    case OPTS_DURATION:
        return dur_parse_ns(arg, &o->duration_ns) == 0 && o->duration_ns >= 0
                   ? 0
                   : bad(why, why_cap, "duration", arg, "not a duration");
    default:
        return 1;
    }
}

engine_config opts_feed_engine_config(const opts_feed *o)
{
    return (engine_config){ .rest_url = o->rest_url,
                            .ws_url = o->ws_url,
                            .ca_file = o->ca_file,
                            .symbols = o->nsymbols ? o->symbols : NULL,
                            .nsymbols = o->nsymbols,
                            .depth_suffix = o->depth_suffix,
                            .workers = o->workers };
}
