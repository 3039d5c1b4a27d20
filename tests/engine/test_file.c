/* file: whole-file reads, their NUL, their growth past the first buffer, and their reasons. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/err.h"
#include "util/file.h"

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

Test(file, reads_a_file_larger_than_the_first_buffer_whole)
{
    char *dir = tu_mkdtemp(), *p = path_in(dir, "big");
    size_t want = 200000; /* past 64 KiB and its doublings */
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    for (size_t i = 0; i < want; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
    size_t len = 0;
    int err = -1;
    char why[256] = "";
    char *got = file_read_all(p, &len, &err, why, sizeof why);
    cr_assert_not_null(got, "%s", why);
    cr_assert_eq(err, 0);
    cr_assert_eq(len, want);
    cr_assert_eq(got[len], '\0', "NUL-terminated");
    for (size_t i = 0; i < want; i++)
        cr_assert_eq(got[i], 'a' + (int)(i % 26), "byte %zu", i);
    free(got);
    free(p);
    tu_rmtree(dir);
    free(dir);
}

Test(file, an_empty_file_is_an_empty_string)
{
    char *dir = tu_mkdtemp(), *p = path_in(dir, "empty");
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    fclose(f);
    size_t len = 7;
    int err = -1;
    char *got = file_read_all(p, &len, &err, NULL, 0);
    cr_assert_not_null(got);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(got, "");
    free(got);
    free(p);
    tu_rmtree(dir);
    free(dir);
}

Test(file, a_missing_file_and_a_directory_say_why)
{
    char *dir = tu_mkdtemp(), *p = path_in(dir, "missing");
    size_t len = 0;
    int err = 0;
    char why[512] = "";
    cr_assert_null(file_read_all(p, &len, &err, why, sizeof why));
    cr_assert_eq(err, BF_ENOENT);
    cr_assert(strstr(why, "cannot read ") && strstr(why, p) && strstr(why, "No such file"), "%s",
              why);
    cr_assert_null(file_read_all(dir, &len, &err, why, sizeof why));
    cr_assert_eq(err, BF_EIO);
    cr_assert(strstr(why, "Is a directory"), "%s", why);
    free(p);
    tu_rmtree(dir);
    free(dir);
}
