/* opts: option-value parsers shared by the subcommands. */
#include "tui/opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
