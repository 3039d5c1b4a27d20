/* file: whole-file reads (see file.h). */
#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/xalloc.h"

#define FIRST_CAP ((size_t)1 << 16)

char *file_read_all(const char *path, size_t *len, int *err, char *why, size_t why_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = bf_why(why, why_cap, errno == ENOENT ? BF_ENOENT : BF_EIO, "cannot read %s: %s",
                      path, strerror(errno));
        return NULL;
    }
    size_t cap = FIRST_CAP, n = 0, got;
    char *buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) { /* one byte kept for the NUL */
        n += got;
        if (cap - n < 2)
            buf = xrealloc(buf, cap *= 2);
    }
    int failed = ferror(f), code = errno; /* a directory opens, then fails here (EISDIR) */
    fclose(f);
    if (failed) {
        free(buf);
        *err = bf_why(why, why_cap, BF_EIO, "cannot read %s: %s", path,
                      code ? strerror(code) : "read error");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    *err = 0;
    return buf;
}
