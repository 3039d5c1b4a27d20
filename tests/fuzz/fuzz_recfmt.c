/*
 * fuzz_recfmt: the recording reader over every kind of file it may be handed. Each input is read
 * to the end as
 *   - a plain file;
 *   - gzip- and zstd-compressed (zlib / libzstd): the same lines as the plain reading;
 *   - gzip- and zstd-compressed and cut short (a torn recording): a prefix of the plain reading,
 *     then an end;
 *   - the raw input behind a gzip or zstd magic (garbage compressed data): any result, no crash.
 * Every reading must end (the reader consumes a byte per call), deliver NUL-terminated lines of at
 * most max_line bytes with increasing line numbers, and keep returning its final code. Files are
 * memfds opened through /proc/self/fd, so nothing touches the disk.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "feed/recfmt.h"
#include "fuzz.h"
#include "util/err.h"
#include "util/xalloc.h"

#define MAX_LINE 300

/* One result of recfmt_next(): the code, and the line when it is 1. */
typedef struct item {
    int rc;
    int64_t recv_ns;
    uint64_t line_no;
    char *json;
    size_t len;
} item;

typedef struct reading {
    item *v;
    size_t n, cap;
    int end; /* 0, BF_ECORRUPT or BF_EIO */
    bool compressed, torn;
} reading;

static void reading_free(reading *rd)
{
    for (size_t i = 0; i < rd->n; i++)
        free(rd->v[i].json);
    free(rd->v);
}

static void push(reading *rd, int rc, const recfmt_line *ln)
{
    if (rd->n == rd->cap) {
        rd->cap = rd->cap ? 2 * rd->cap : 64;
        rd->v = xreallocarray(rd->v, rd->cap, sizeof *rd->v);
    }
    item it = { .rc = rc };
    if (rc == 1)
        it = (item){ 1, ln->recv_ns, ln->line_no, fuzz_dup(ln->json, ln->len), ln->len };
    rd->v[rd->n++] = it;
}

static void check_line(const recfmt_line *ln, uint64_t *last_no, const char *what)
{
    FUZZ_CHECK(ln->json && ln->json[ln->len] == '\0', "%s: line %llu not NUL-terminated", what,
               (unsigned long long)ln->line_no);
    FUZZ_CHECK(ln->len > 0 && ln->len <= MAX_LINE, "%s: line %llu has %zu bytes", what,
               (unsigned long long)ln->line_no, ln->len);
    FUZZ_CHECK(ln->recv_ns >= 0, "%s: negative timestamp %lld", what, (long long)ln->recv_ns);
    FUZZ_CHECK(ln->line_no > *last_no, "%s: line number %llu after %llu", what,
               (unsigned long long)ln->line_no, (unsigned long long)*last_no);
    *last_no = ln->line_no;
}

/* Read the whole file; every call must consume input, so the count is bounded by the bytes. */
static void read_all(const char *path, reading *rd, const char *what)
{
    recfmt_config cfg = { .max_line = MAX_LINE };
    recfmt_reader *r;
    char why[256];
    int rc = recfmt_open(path, &cfg, &r, why, sizeof why);
    FUZZ_CHECK(rc == 0, "%s: recfmt_open: %d (%s)", what, rc, why);
    rd->compressed = recfmt_compressed(r);
    uint64_t last_no = 0;
    recfmt_line ln;
    recfmt_stats st;
    for (size_t calls = 1;; calls++) {
        rc = recfmt_next(r, &ln);
        if (rc == 0 || rc == BF_ECORRUPT || rc == BF_EIO)
            break;
        FUZZ_CHECK(rc == 1 || rc == BF_ESYNTAX || rc == BF_ETOOBIG, "%s: recfmt_next: %d", what,
                   rc);
        if (rc == 1)
            check_line(&ln, &last_no, what);
        else
            FUZZ_CHECK(recfmt_error(r)[0] != '\0', "%s: code %d without a reason", what, rc);
        push(rd, rc, &ln);
        recfmt_get_stats(r, &st);
        FUZZ_CHECK(calls <= st.bytes_read + 1, "%s: %zu results from %llu bytes", what, calls,
                   (unsigned long long)st.bytes_read);
    }
    rd->end = rc;
    FUZZ_CHECK(recfmt_next(r, &ln) == rc, "%s: the final code %d is not sticky", what, rc);
    recfmt_get_stats(r, &st);
    rd->torn = st.torn_tail;
    FUZZ_CHECK(!st.torn_tail || rc == 0, "%s: a torn tail that ends with %d", what, rc);
    FUZZ_CHECK(st.lines + st.bad_lines + st.too_long == rd->n, "%s: stats count %llu, saw %zu",
               what, (unsigned long long)(st.lines + st.bad_lines + st.too_long), rd->n);
    recfmt_close(r);
}

static bool same_item(const item *a, const item *b)
{
    return a->rc == b->rc &&
           (a->rc != 1 || (a->recv_ns == b->recv_ns && a->line_no == b->line_no &&
                           a->len == b->len && memcmp(a->json, b->json, a->len) == 0));
}

/* b's results are a's first results (all of them when `whole`). */
static void expect_prefix(const reading *a, const reading *b, bool whole, const char *what)
{
    FUZZ_CHECK(b->n <= a->n, "%s: %zu results, plain file %zu", what, b->n, a->n);
    for (size_t i = 0; i < b->n; i++)
        FUZZ_CHECK(same_item(&a->v[i], &b->v[i]),
                   "%s: result %zu is code %d (line %llu), plain file: code %d (line %llu)", what,
                   i, b->v[i].rc, (unsigned long long)b->v[i].line_no, a->v[i].rc,
                   (unsigned long long)a->v[i].line_no);
    if (whole)
        FUZZ_CHECK(b->n == a->n && b->end == a->end,
                   "%s: %zu results ending %d, plain %zu ending %d", what, b->n, b->end, a->n,
                   a->end);
}

/* Write the bytes to a fresh memfd and read them. */
static void read_bytes(const void *p, size_t n, reading *rd, const char *what)
{
    int fd = memfd_create("fuzz_recfmt", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create failed");
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        FUZZ_CHECK(w > 0, "write to the memfd failed");
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    read_all(path, rd, what);
    close(fd);
}

/* The compressors live for the whole run: creating them per input would dominate its time. */
static z_stream gz_stream;
static ZSTD_CCtx *zstd_ctx;

static char *gzip_bytes(const uint8_t *p, size_t n, size_t *out_n)
{
    z_stream *z = &gz_stream;
    if (!z->state)
        FUZZ_CHECK(deflateInit2(z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
                   "deflateInit2 failed");
    else
        deflateReset(z);
    size_t cap = deflateBound(z, (uLong)n) + 32;
    char *out = xmalloc(cap);
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)out;
    z->avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(z, Z_FINISH) == Z_STREAM_END, "deflate did not finish");
    *out_n = cap - z->avail_out;
    return out;
}

static char *zstd_bytes(const uint8_t *p, size_t n, size_t *out_n)
{
    if (!zstd_ctx)
        zstd_ctx = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(n);
    char *out = xmalloc(cap);
    *out_n = ZSTD_compressCCtx(zstd_ctx, out, cap, p, n, 1);
    FUZZ_CHECK(!ZSTD_isError(*out_n), "ZSTD_compress failed");
    return out;
}

/* The raw input behind a compressed file's magic bytes. */
static void read_behind_magic(const uint8_t *data, size_t size, const char *magic, size_t mlen,
                              const char *what)
{
    char *b = xmalloc(size + mlen);
    memcpy(b, magic, mlen);
    if (size)
        memcpy(b + mlen, data, size);
    reading rd = { 0 };
    read_bytes(b, size + mlen, &rd, what);
    reading_free(&rd);
    free(b);
}

static bool starts_with_magic(const uint8_t *p, size_t n)
{
    return (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
           (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0);
}

/* The compressed file whole (the plain reading exactly) and cut short after its magic of mlen
 * bytes (a prefix of it); the cut point comes from the input's first bytes. */
static void read_compressed(const reading *plain, bool comparable, const uint8_t *data, size_t size,
                            const char *c, size_t cn, size_t mlen, const char *what)
{
    reading whole = { 0 }, torn = { 0 };
    read_bytes(c, cn, &whole, what);
    FUZZ_CHECK(whole.compressed, "%s: read as a plain file", what);
    FUZZ_CHECK(!whole.torn, "%s: a whole file was taken for a torn one", what);
    if (comparable)
        expect_prefix(plain, &whole, true, what);
    size_t cut = mlen + (size >= 2 ? ((size_t)data[0] << 8 | data[1]) : size) % (cn - mlen);
    char torn_what[32];
    snprintf(torn_what, sizeof torn_what, "torn %s", what);
    read_bytes(c, cut, &torn, torn_what);
    if (comparable)
        expect_prefix(plain, &torn, false, torn_what);
    reading_free(&whole);
    reading_free(&torn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reading plain = { 0 };
    read_bytes(data, size, &plain, "plain");
    bool comparable = !plain.compressed && !starts_with_magic(data, size);
    FUZZ_CHECK(plain.compressed || !plain.torn, "a plain file was taken for a torn one");

    size_t gn, zn;
    char *gz = gzip_bytes(data, size, &gn);
    read_compressed(&plain, comparable, data, size, gz, gn, 2, "gzip");
    char *zs = zstd_bytes(data, size, &zn);
    read_compressed(&plain, comparable, data, size, zs, zn, 4, "zstd");

    read_behind_magic(data, size, "\x1f\x8b\x08", 3, "raw behind gzip magic");
    read_behind_magic(data, size, "\x28\xb5\x2f\xfd", 4, "raw behind zstd magic");

    reading_free(&plain);
    free(gz);
    free(zs);
    return 0;
}
