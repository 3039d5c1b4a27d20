/*
 * regress: the Criterion driver of a fuzz target (built once per target with -DFUZZ_NAME=<target>).
 * It feeds every file under tests/data/fuzz/<target>/ (the hand-made seeds and every input the
 * fuzzer ever crashed on) to the target's LLVMFuzzerTestOneInput, compiled without libFuzzer, so
 * each finding stays a test in every build (gcc and clang, with and without sanitizers). A broken
 * invariant aborts in fuzz_fail(), which names the file; Criterion reports the crash.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "testutil.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted (malloc'd names). */
static char **list_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    size_t n = 0, cap = 64;
    char **names = malloc(cap * sizeof *names);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    *count = n;
    return names;
}

#define REGRESSION_TEST(name) Test(fuzz_regressions, name, .timeout = 600)

REGRESSION_TEST(FUZZ_NAME)
{
    char *dir = tu_source_path("tests/data/fuzz/" STR(FUZZ_NAME));
    size_t n;
    char **names = list_dir(dir, &n);
    cr_assert_gt(n, 0, "no inputs in %s", dir);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        char *data = tu_read_file(path, &len);
        cr_assert_not_null(data, "cannot read %s", path);
        fuzz_input_name = path;
        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        free(data);
        free(names[i]);
    }
    fuzz_input_name = NULL;
    cr_log_info("%s: %zu inputs passed", STR(FUZZ_NAME), n);
    free(names);
    free(dir);
}
