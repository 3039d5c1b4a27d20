/*
 * testutil: helpers shared by the Criterion suites: locating fixtures, reading whole files,
 * temporary directories, and running the bfmon binary. Test code only.
 */
#ifndef BF_TESTUTIL_H
#define BF_TESTUTIL_H

#include <stddef.h>

/* $BF_FIXTURES/<rel> as a malloc'd path (aborts the test if BF_FIXTURES is unset). */
char *tu_fixture(const char *rel);
/* Whole file into a NUL-terminated malloc'd buffer; *len gets the size. NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);
/* Split a buffer into lines in place (newlines replaced by NUL); returns a malloc'd array of
 * pointers to non-empty lines and their count. */
char **tu_lines(char *buf, size_t *count);
/* A fresh directory under $TMPDIR, removed by tu_rmtree. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Run a shell command line, capturing stdout into *out (malloc'd, NUL-terminated); returns the exit
 * status (or -1). */
int tu_run(const char *cmdline, char **out);

#endif
