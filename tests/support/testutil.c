/* testutil: small helpers shared by the Criterion suites. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_fixture(const char *rel)
{
    const char *dir = getenv("BF_FIXTURES");
    cr_assert(dir && *dir, "BF_FIXTURES is not set");
    cr_assert(access(dir, R_OK | X_OK) == 0,
              "real Binance captures not found at %s: they live in ../shared/fixtures beside the "
              "checkout (or configure with -Dfixtures_dir=DIR)",
              dir);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char **tu_lines(char *buf, size_t *count)
{
    size_t cap = 64, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            if (n == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof *lines);
            }
            lines[n++] = p;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    *count = n;
    return lines;
}

char *tu_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/bfmon-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(buf);
    cr_assert(d, "mkdtemp failed");
    return strdup(d);
}

void tu_rmtree(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", path);
}

int tu_run(const char *cmdline, char **out)
{
    FILE *p = popen(cmdline, "r");
    if (!p)
        return -1;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while ((got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}
