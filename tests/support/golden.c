/* golden: compare canvases with checked-in captures (see golden.h). */
#include "golden.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *golden_path(const char *name)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    cr_assert(root, "BF_SOURCE_ROOT is not set (run the tests through meson)");
    size_t cap = strlen(root) + strlen(name) + 64;
    char *path = malloc(cap);
    cr_assert(path);
    snprintf(path, cap, "%s/tests/data/golden/%s.txt", root, name);
    return path;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    size_t n = strlen(text);
    cr_assert_eq(fwrite(text, 1, n, f), n, "short write to %s", path);
    cr_assert_eq(fclose(f), 0, "cannot close %s", path);
}

/* 1-based number of the first line where a and b differ. */
static int first_diff_line(const char *a, const char *b)
{
    int line = 1;
    for (; *a && *a == *b; a++, b++)
        if (*a == '\n')
            line++;
    return line;
}

/* A copy of line n (1-based) of text, for the failure message. */
static char *line_of(const char *text, int n)
{
    for (int i = 1; i < n && text; i++) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    if (!text)
        return strdup("<end of file>");
    size_t len = strcspn(text, "\n");
    return strndup(text, len);
}

static bool update_requested(void)
{
    const char *u = getenv("BF_UPDATE_GOLDEN");
    return u && strcmp(u, "1") == 0;
}

void golden_check(const canvas *c, const char *name)
{
    char *path = golden_path(name);
    char *got = canvas_dump(c, true);
    if (update_requested()) {
        write_file(path, got);
        cr_log_info("golden %s written", path);
        free(got);
        free(path);
        return;
    }
    size_t len = 0;
    char *want = tu_read_file(path, &len);
    cr_assert(want, "golden %s is missing: run the test with BF_UPDATE_GOLDEN=1 and review it",
              path);
    if (strcmp(want, got) != 0) {
        int line = first_diff_line(want, got);
        char *wl = line_of(want, line), *gl = line_of(got, line);
        char actual[512];
        snprintf(actual, sizeof actual, "golden-%s.actual.txt", name);
        write_file(actual, got);
        cr_assert_fail("golden %s differs at line %d\n  want: [%s]\n  got:  [%s]\n(whole output in "
                       "%s; BF_UPDATE_GOLDEN=1 rewrites the capture)",
                       name, line, wl, gl, actual);
    }
    free(want);
    free(got);
    free(path);
}
