/* Tests for recfmt: the recording line reader (plain, gzip and zstd, torn and damaged input, odd
 * lines). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "feed/recfmt.h"
#include "testutil.h"
#include "util/err.h"

static char *tmpdir;

static void setup(void)
{
    tmpdir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(tmpdir);
    free(tmpdir);
}

TestSuite(recfmt, .init = setup, .fini = teardown);

static char *path_in(const char *name)
{
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", tmpdir, name);
    return p;
}

static char *write_plain(const char *name, const char *data, size_t len)
{
    char *p = path_in(name);
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

static char *write_gz(const char *name, const char *data, size_t len)
{
    char *p = path_in(name);
    gzFile g = gzopen(p, "wb");
    cr_assert(g);
    if (len)
        cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(g), Z_OK);
    return p;
}

static char *write_plain_at(const char *p, const char *data, size_t len)
{
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return strdup(p);
}

static char *write_zst(const char *name, const char *data, size_t len, int level)
{
    size_t cap = ZSTD_compressBound(len);
    char *z = malloc(cap);
    size_t n = ZSTD_compress(z, cap, data, len, level);
    cr_assert_not(ZSTD_isError(n));
    char *p = path_in(name);
    free(write_plain_at(p, z, n));
    free(z);
    return p;
}

static recfmt_reader *open_ok(const char *path, size_t max_line)
{
    recfmt_config cfg = { .max_line = max_line };
    recfmt_reader *r = NULL;
    char why[128];
    int rc = recfmt_open(path, &cfg, &r, why, sizeof why);
    cr_assert_eq(rc, 0, "open %s: %s", path, why);
    return r;
}

static void expect_line(recfmt_reader *r, int64_t ts, const char *json, uint64_t line_no)
{
    recfmt_line l;
    int rc = recfmt_next(r, &l);
    cr_assert_eq(rc, 1, "expected line %llu, got %d (%s)", (unsigned long long)line_no, rc,
                 recfmt_error(r));
    cr_assert_eq(l.recv_ns, ts);
    cr_assert_eq(l.len, strlen(json));
    cr_assert_str_eq(l.json, json);
    cr_assert_eq(l.line_no, line_no);
}

static const char three[] = "1723161255030314667 {\"a\":1}\n"
                            "1723161255030314668 {\"bfmon\":\"connect\"}\n"
                            "5 [1,2]\n";

static void expect_three(recfmt_reader *r)
{
    expect_line(r, 1723161255030314667LL, "{\"a\":1}", 1);
    expect_line(r, 1723161255030314668LL, "{\"bfmon\":\"connect\"}", 2);
    expect_line(r, 5, "[1,2]", 3);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0);
    cr_assert_eq(recfmt_next(r, &l), 0, "end is sticky");
}

Test(recfmt, plain_file)
{
    char *p = write_plain("a.txt", three, sizeof three - 1);
    recfmt_reader *r = open_ok(p, 0);
    cr_assert_not(recfmt_compressed(r));
    expect_three(r);
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert_eq(st.lines, 3);
    cr_assert_eq(st.bad_lines, 0);
    cr_assert_eq(st.bytes_read, sizeof three - 1);
    recfmt_close(r);
    free(p);
}

Test(recfmt, gzip_detected_by_magic_not_name)
{
    /* A gzip file without .gz and a plain file named .gz: the content decides. */
    char *gz = write_gz("looks_plain.txt", three, sizeof three - 1);
    char *plain = write_plain("looks_gzip.gz", three, sizeof three - 1);
    recfmt_reader *r = open_ok(gz, 0);
    cr_assert(recfmt_compressed(r));
    expect_three(r);
    recfmt_close(r);
    r = open_ok(plain, 0);
    cr_assert_not(recfmt_compressed(r));
    expect_three(r);
    recfmt_close(r);
    free(gz);
    free(plain);
}

Test(recfmt, crlf_and_no_trailing_newline)
{
    static const char d[] = "1 {\"x\":1}\r\n2 {\"y\":2}\r\n3 {\"z\":3}";
    char *p = write_plain("crlf.txt", d, sizeof d - 1);
    recfmt_reader *r = open_ok(p, 0);
    expect_line(r, 1, "{\"x\":1}", 1);
    expect_line(r, 2, "{\"y\":2}", 2);
    expect_line(r, 3, "{\"z\":3}", 3);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_close(r);
    free(p);
}

Test(recfmt, empty_files)
{
    char *p = write_plain("empty.txt", "", 0);
    char *g = write_gz("empty.gz", "", 0);
    recfmt_line l;
    recfmt_reader *r = open_ok(p, 0);
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_close(r);
    r = open_ok(g, 0);
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_close(r);
    free(p);
    free(g);
}

Test(recfmt, blank_lines_skipped_but_numbered)
{
    static const char d[] = "\n1 {}\n\r\n\n2 []\n\n";
    char *p = write_plain("blank.txt", d, sizeof d - 1);
    recfmt_reader *r = open_ok(p, 0);
    expect_line(r, 1, "{}", 2);
    expect_line(r, 2, "[]", 5);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_close(r);
    free(p);
}

static void expect_bad(recfmt_reader *r, const char *reason_part, const char *line_part)
{
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), BF_ESYNTAX);
    cr_assert(strstr(recfmt_error(r), reason_part), "error was: %s", recfmt_error(r));
    cr_assert(strstr(recfmt_error(r), line_part), "error was: %s", recfmt_error(r));
}

Test(recfmt, malformed_lines_reported_and_skipped)
{
    static const char d[] = "abc {\"a\":1}\n"
                            "12x45 {}\n"
                            "123456\n"
                            " {}\n"
                            "77 \n"
                            "99999999999999999999 {}\n"
                            "42 {\"ok\":true}\n";
    char *p = write_plain("bad.txt", d, sizeof d - 1);
    recfmt_reader *r = open_ok(p, 0);
    expect_bad(r, "does not start with a timestamp", "line 1");
    expect_bad(r, "non-digit", "line 2");
    expect_bad(r, "no space", "line 3");
    expect_bad(r, "no timestamp", "line 4");
    expect_bad(r, "nothing after", "line 5");
    expect_bad(r, "out of range", "line 6");
    expect_line(r, 42, "{\"ok\":true}", 7);
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert_eq(st.bad_lines, 6);
    cr_assert_eq(st.lines, 1);
    recfmt_close(r);
    free(p);
}

/* "<ts> " followed by n bytes of a JSON string. */
static void append_long_line(char **buf, size_t *len, int64_t ts, size_t n)
{
    char head[32];
    int h = snprintf(head, sizeof head, "%lld \"", (long long)ts);
    *buf = realloc(*buf, *len + (size_t)h + n + 3);
    memcpy(*buf + *len, head, (size_t)h);
    memset(*buf + *len + h, 'x', n);
    memcpy(*buf + *len + h + n, "\"\n", 2);
    *len += (size_t)h + n + 2;
}

Test(recfmt, long_lines_up_to_the_bound)
{
    char *d = NULL;
    size_t len = 0;
    append_long_line(&d, &len, 1, 3u << 20); /* 3 MiB: fine under the 64 MiB default */
    append_long_line(&d, &len, 2, 10);
    char *p = write_gz("long.gz", d, len);
    recfmt_reader *r = open_ok(p, 0);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 1, "%s", recfmt_error(r));
    cr_assert_eq(l.len, (3u << 20) + 2);
    cr_assert_eq(l.json[l.len - 1], '"');
    cr_assert_eq(l.json[1], 'x');
    cr_assert_eq(recfmt_next(r, &l), 1);
    cr_assert_eq(l.recv_ns, 2);
    recfmt_close(r);
    free(p);
    free(d);
}

Test(recfmt, too_long_line_skipped_then_reading_continues)
{
    char *d = NULL;
    size_t len = 0;
    append_long_line(&d, &len, 1, 100);
    append_long_line(&d, &len, 2, 300000); /* spans several read chunks */
    append_long_line(&d, &len, 3, 5000);   /* inside one chunk, still over the bound */
    append_long_line(&d, &len, 4, 50);
    append_long_line(&d, &len, 5, 200000); /* last line, no newline */
    len--;
    char *p = write_plain("toolong.txt", d, len);
    recfmt_reader *r = open_ok(p, 4096);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 1);
    cr_assert_eq(l.recv_ns, 1);
    cr_assert_eq(recfmt_next(r, &l), BF_ETOOBIG);
    cr_assert(strstr(recfmt_error(r), "line 2"), "%s", recfmt_error(r));
    cr_assert_eq(recfmt_next(r, &l), BF_ETOOBIG);
    cr_assert(strstr(recfmt_error(r), "line 3"), "%s", recfmt_error(r));
    cr_assert_eq(recfmt_next(r, &l), 1);
    cr_assert_eq(l.recv_ns, 4);
    cr_assert_eq(l.line_no, 4);
    cr_assert_eq(recfmt_next(r, &l), BF_ETOOBIG);
    cr_assert(strstr(recfmt_error(r), "line 5"), "%s", recfmt_error(r));
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert_eq(st.too_long, 3);
    recfmt_close(r);
    free(p);
    free(d);
}

/* n numbered lines with some bulk so the compressed stream spans many blocks. */
static char *numbered_lines(int n, size_t *len)
{
    size_t cap = (size_t)n * 200, off = 0;
    char *d = malloc(cap);
    for (int i = 1; i <= n; i++)
        off += (size_t)snprintf(d + off, cap - off, "%d {\"i\":%d,\"pad\":\"%0*d\"}\n", 1000 + i, i,
                                (i * 7919) % 97 + 20, i * 31);
    *len = off;
    return d;
}

/* Read until a non-line result; every delivered line must be line i, complete. */
static int read_consecutive(recfmt_reader *r, int *count)
{
    recfmt_line l;
    int rc;
    *count = 0;
    while ((rc = recfmt_next(r, &l)) == 1) {
        int i = ++*count;
        char want[32];
        snprintf(want, sizeof want, "{\"i\":%d,", i);
        cr_assert_eq(l.recv_ns, 1000 + i);
        cr_assert(strncmp(l.json, want, strlen(want)) == 0, "line %d: %s", i, l.json);
        cr_assert_eq(l.json[l.len - 1], '}', "line %d delivered incomplete", i);
    }
    return rc;
}

/* Read past lines and skipped lines to the final code. */
static int read_to_damage(recfmt_reader *r)
{
    recfmt_line l;
    int rc;
    while ((rc = recfmt_next(r, &l)) == 1 || rc == BF_ESYNTAX || rc == BF_ETOOBIG)
        ;
    return rc;
}

/* zstd with its content checksum on (as the recorder writes it). */
static char *write_zst_checked(const char *name, const char *data, size_t len)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t cap = ZSTD_compressBound(len);
    char *z = malloc(cap);
    size_t n = ZSTD_compress2(c, z, cap, data, len);
    cr_assert_not(ZSTD_isError(n));
    ZSTD_freeCCtx(c);
    char *p = path_in(name);
    free(write_plain_at(p, z, n));
    free(z);
    return p;
}

/* The first `keep` bytes of file p, written back over it. */
static void cut_file(const char *p, size_t keep)
{
    size_t n;
    char *d = tu_read_file(p, &n);
    cr_assert(d && keep <= n);
    free(write_plain_at(p, d, keep));
    free(d);
}

/* A cut compressed file (kill -9 while recording): every complete line, then a reported torn
 * tail and a clean end. Formerly BF_ECORRUPT; the torn-tail rule (issue 5) makes it an end. */
static void expect_torn(const char *p, int total)
{
    recfmt_reader *r = open_ok(p, 0);
    int count;
    int rc = read_consecutive(r, &count);
    cr_assert_eq(rc, 0, "got %d: %s", rc, recfmt_error(r));
    cr_assert_gt(count, 100);
    cr_assert_lt(count, total);
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert(st.torn_tail);
    cr_assert_eq(st.lines, (uint64_t)count);
    cr_assert(strstr(recfmt_error(r), "torn tail"), "%s", recfmt_error(r));
    char want[48];
    snprintf(want, sizeof want, "after line %d", count);
    cr_assert(strstr(recfmt_error(r), want), "%s", recfmt_error(r));
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0, "the end is sticky");
    recfmt_close(r);
}

Test(recfmt, truncated_gzip_is_a_torn_tail)
{
    size_t len;
    char *d = numbered_lines(20000, &len);
    char *p = write_gz("trunc.gz", d, len);
    size_t glen;
    free(tu_read_file(p, &glen));
    cut_file(p, glen / 2);
    expect_torn(p, 20000);
    free(p);
    free(d);
}

Test(recfmt, truncated_zstd_is_a_torn_tail)
{
    size_t len;
    char *d = numbered_lines(20000, &len);
    char *p = write_zst("trunc.zst", d, len, 1);
    size_t zlen;
    free(tu_read_file(p, &zlen));
    cut_file(p, zlen / 2);
    expect_torn(p, 20000);
    free(p);
    free(d);
}

/* Cut exactly after a sync flush: no line is cut, the truncation is still reported. */
Test(recfmt, gzip_cut_at_a_flush_point_loses_no_line)
{
    static const char a[] = "1 {\"a\":1}\n2 {\"b\":2}\n";
    z_stream z = { 0 };
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    unsigned char out[256];
    z.next_in = (Bytef *)(uintptr_t)a;
    z.avail_in = sizeof a - 1;
    z.next_out = out;
    z.avail_out = sizeof out;
    cr_assert_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    size_t n = sizeof out - z.avail_out;
    deflateEnd(&z);
    char *p = write_plain("flushed.gz", (const char *)out, n);
    recfmt_reader *r = open_ok(p, 0);
    expect_line(r, 1, "{\"a\":1}", 1);
    expect_line(r, 2, "{\"b\":2}", 2);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert(st.torn_tail);
    cr_assert_eq(st.torn_bytes, 0);
    cr_assert(strstr(recfmt_error(r), "no line was cut"), "%s", recfmt_error(r));
    recfmt_close(r);
    free(p);
}

Test(recfmt, zstd_detected_by_magic_and_read)
{
    char *p = write_zst("looks_plain.txt", three, sizeof three - 1, 3);
    recfmt_reader *r = open_ok(p, 0);
    cr_assert(recfmt_compressed(r));
    expect_three(r);
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert_not(st.torn_tail);
    recfmt_close(r);
    free(p);
}

/* Several gzip members / zstd frames in one file read as one stream (a line may span them). */
Test(recfmt, several_members_and_frames)
{
    size_t len;
    char *d = numbered_lines(3000, &len);
    size_t half = len / 2 + 7; /* inside a line */
    for (int kind = 0; kind < 2; kind++) {
        char *a = kind ? write_zst("a", d, half, 1) : write_gz("a", d, half);
        char *b =
            kind ? write_zst("b", d + half, len - half, 1) : write_gz("b", d + half, len - half);
        size_t na, nb;
        char *da = tu_read_file(a, &na), *db = tu_read_file(b, &nb);
        char *both = malloc(na + nb);
        memcpy(both, da, na);
        memcpy(both + na, db, nb);
        char *p = write_plain("both", both, na + nb);
        recfmt_reader *r = open_ok(p, 0);
        int count;
        cr_assert_eq(read_consecutive(r, &count), 0, "%s", recfmt_error(r));
        cr_assert_eq(count, 3000, "kind %d", kind);
        recfmt_stats st;
        recfmt_get_stats(r, &st);
        cr_assert_not(st.torn_tail);
        recfmt_close(r);
        free(p);
        free(both);
        free(da);
        free(db);
        free(a);
        free(b);
    }
    free(d);
}

Test(recfmt, corrupt_zstd_block_is_reported)
{
    size_t len;
    char *d = numbered_lines(20000, &len);
    char *p = write_zst_checked("bad.zst", d, len);
    size_t zlen;
    char *z = tu_read_file(p, &zlen);
    for (size_t i = zlen / 2; i < zlen / 2 + 64; i++)
        z[i] ^= 0x5a;
    free(write_plain("bad.zst", z, zlen));
    recfmt_reader *r = open_ok(p, 0);
    /* zstd may notice the damage only at the frame's checksum: garbage lines may come first. */
    int rc = read_to_damage(r);
    cr_assert_eq(rc, BF_ECORRUPT, "got %d", rc);
    cr_assert(strstr(recfmt_error(r), "damaged"), "%s", recfmt_error(r));
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), BF_ECORRUPT, "damage is sticky");
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert_not(st.torn_tail);
    recfmt_close(r);
    free(z);
    free(p);
    free(d);
}

/* A damaged block in the middle stays damage even when the file is also cut: the stream is made
 * with a full flush (a byte-aligned block boundary) and a byte that opens a block of the reserved
 * type 3 is put there, which inflate must reject. */
Test(recfmt, corrupt_middle_of_a_cut_gzip_is_damage)
{
    size_t len;
    char *d = numbered_lines(4000, &len);
    z_stream z = { 0 };
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)len) + 64, half = len / 2;
    unsigned char *out = malloc(cap + 1);
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)half;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FULL_FLUSH), Z_OK);
    size_t at = cap - z.avail_out;
    z.avail_in = (uInt)(len - half);
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    memmove(out + at + 1, out + at, n - at);
    out[at] = 0x06; /* BFINAL 0, BTYPE 11 */
    char *p = write_plain("badcut.gz", (const char *)out, at + 1 + (n - at) / 2);
    recfmt_reader *r = open_ok(p, 0);
    int count;
    int rc = read_consecutive(r, &count);
    cr_assert_eq(rc, BF_ECORRUPT, "got %d: %s", rc, recfmt_error(r));
    cr_assert_gt(count, 100, "the lines before the damage are delivered");
    cr_assert(strstr(recfmt_error(r), "invalid block type"), "%s", recfmt_error(r));
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    cr_assert_not(st.torn_tail);
    recfmt_close(r);
    free(p);
    free(out);
    free(d);
}

Test(recfmt, corrupt_gzip_block_is_reported)
{
    size_t len;
    char *d = numbered_lines(20000, &len);
    char *p = write_gz("bad.gz", d, len);
    size_t glen;
    char *g = tu_read_file(p, &glen);
    for (size_t i = glen / 2; i < glen / 2 + 64; i++)
        g[i] ^= 0x5a;
    free(write_plain("bad.gz", g, glen));
    recfmt_reader *r = open_ok(p, 0);
    int count;
    int rc = read_consecutive(r, &count);
    cr_assert_lt(count, 20000);
    /* Inflating flipped bits may yield garbage lines (reported and skipped) before zlib notices the
     * damage (bad code or CRC); reading goes on to the end, which must be the corruption. */
    recfmt_line l;
    while (rc == 1 || rc == BF_ESYNTAX || rc == BF_ETOOBIG)
        rc = recfmt_next(r, &l);
    cr_assert_eq(rc, BF_ECORRUPT, "got %d after %d lines", rc, count);
    cr_assert(strstr(recfmt_error(r), "damaged"), "%s", recfmt_error(r));
    recfmt_close(r);
    free(g);
    free(p);
    free(d);
}

Test(recfmt, missing_file)
{
    char *p = path_in("nope.txt");
    recfmt_reader *r = (recfmt_reader *)1;
    char why[128] = "";
    cr_assert_eq(recfmt_open(p, NULL, &r, why, sizeof why), BF_ENOENT);
    cr_assert_null(r);
    cr_assert_str_eq(why, "No such file or directory");
    cr_assert_eq(recfmt_open(tmpdir, NULL, &r, why, sizeof why), BF_EIO, "a directory");
    cr_assert_null(r);
    cr_assert_str_eq(why, "Is a directory");
    free(p);
}

/* Timestamps of 16 to 19 digits are read a word at a time; the edges of that path (the int64
 * limit, one digit more, a non-digit or a tab right after the digits, fewer digits) give what the
 * digit-by-digit reading gives. */
Test(recfmt, long_timestamps_at_the_edges)
{
    static const char d[] = "9223372036854775807 {\"max\":1}\n"
                            "9223372036854775808 {}\n"
                            "10000000000000000000 {}\n"
                            "1723161255030314667x {}\n"
                            "1723161255030314667\t{}\n"
                            "172316125503031466 {\"d\":18}\n"
                            "17231612550303146 {\"d\":17}\n"
                            "1723161255030314 {\"d\":16}\n"
                            "172316125503031 {\"d\":15}\n"
                            "0000000000000000007 {\"zeros\":1}\n"
                            "17231612550a0314667 {}\n"
                            "1723161255030314667   {\"spaces\":1}\n"
                            "1723161255030314667";
    char *p = write_plain("ts.txt", d, sizeof d - 1);
    recfmt_reader *r = open_ok(p, 0);
    expect_line(r, INT64_MAX, "{\"max\":1}", 1);
    expect_bad(r, "out of range", "line 2");
    expect_bad(r, "out of range", "line 3");
    expect_bad(r, "non-digit", "line 4");
    expect_bad(r, "non-digit", "line 5");
    expect_line(r, 172316125503031466, "{\"d\":18}", 6);
    expect_line(r, 17231612550303146, "{\"d\":17}", 7);
    expect_line(r, 1723161255030314, "{\"d\":16}", 8);
    expect_line(r, 172316125503031, "{\"d\":15}", 9);
    expect_line(r, 7, "{\"zeros\":1}", 10);
    expect_bad(r, "non-digit", "line 11");
    expect_line(r, 1723161255030314667, "{\"spaces\":1}", 12);
    expect_bad(r, "no space", "line 13");
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_close(r);
    free(p);
}

/* ---- in_place: plain files mapped, lines handed out where they lie ---- */

/* Every result of reading path to its end with cfg, one per line of text: the code, then the
 * line (timestamp, line number, message by its length) or the error sentence. */
static char *all_results(const char *path, const recfmt_config *cfg)
{
    recfmt_reader *r = NULL;
    char why[128];
    cr_assert_eq(recfmt_open(path, cfg, &r, why, sizeof why), 0, "%s", why);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    recfmt_line l;
    int rc;
    while ((rc = recfmt_next(r, &l)) != 0) {
        if (rc == 1)
            fprintf(f, "1 %lld %llu %.*s\n", (long long)l.recv_ns, (unsigned long long)l.line_no,
                    (int)l.len, l.json);
        else
            fprintf(f, "%d %s\n", rc, recfmt_error(r));
        if (rc == BF_ECORRUPT || rc == BF_EIO)
            break;
    }
    recfmt_stats st;
    recfmt_get_stats(r, &st);
    fprintf(f, "end: %llu lines, %llu bad, %llu long, %llu bytes\n", (unsigned long long)st.lines,
            (unsigned long long)st.bad_lines, (unsigned long long)st.too_long,
            (unsigned long long)st.bytes_read);
    recfmt_close(r);
    fclose(f);
    return out;
}

/* The same lines, numbers, errors and counts whether the file is read or mapped. */
static void expect_in_place_same(const char *name, const char *data, size_t len, size_t max_line)
{
    char *p = write_plain(name, data, len);
    recfmt_config read_cfg = { .max_line = max_line },
                  map_cfg = { .max_line = max_line, .in_place = true };
    char *a = all_results(p, &read_cfg), *b = all_results(p, &map_cfg);
    cr_assert_str_eq(b, a, "%s", name);
    free(a);
    free(b);
    free(p);
}

Test(recfmt, in_place_gives_the_same_lines_as_reading)
{
    expect_in_place_same("three.txt", three, sizeof three - 1, 0);
    static const char crlf[] = "1 {\"a\":1}\r\n\r\n\n2 {\"b\":2}\r\n3 {\"c\":3}";
    expect_in_place_same("crlf.txt", crlf, sizeof crlf - 1, 0);
    static const char bad[] = "abc {}\n12x45 {}\n123456\n {}\n77 \n99999999999999999999 {}\n"
                              "42 {\"ok\":true}\n\n";
    expect_in_place_same("bad.txt", bad, sizeof bad - 1, 0);
    static const char lng[] = "1 \"0123456789abcdef\"\n2 \"x\"\n3 \"0123456789abcdefg\"\n"
                              "4 \"y\"\n5 \"0123456789abcdefghij\"";
    expect_in_place_same("long.txt", lng, sizeof lng - 1, 18);
    expect_in_place_same("long_last.txt", lng, sizeof lng - 1, 20);
    expect_in_place_same("one_byte.txt", "\n", 1, 0);
    /* Far more than one read chunk, with lines of every length up to 3000 bytes. */
    size_t cap = (size_t)5 << 20, n = 0;
    char *big = malloc(cap);
    cr_assert_not_null(big);
    for (int i = 0; n + 4096 < cap; i++) {
        n += (size_t)snprintf(big + n, 64, "%lld \"", 1700000000000000000LL + i);
        size_t k = (size_t)(i * 7919) % 3000;
        memset(big + n, 'x', k);
        memcpy(big + n + k, "\"\n", 2);
        n += k + 2;
    }
    expect_in_place_same("big.txt", big, n, 0);
    free(big);
}

/* expect_line() for a line that may lack its NUL (in_place). */
static void expect_line_n(recfmt_reader *r, int64_t ts, const char *json, uint64_t line_no)
{
    recfmt_line l;
    int rc = recfmt_next(r, &l);
    cr_assert_eq(rc, 1, "expected line %llu, got %d (%s)", (unsigned long long)line_no, rc,
                 recfmt_error(r));
    cr_assert_eq(l.recv_ns, ts);
    cr_assert(l.len == strlen(json) && memcmp(l.json, json, l.len) == 0, "got %.*s", (int)l.len,
              l.json);
    cr_assert_eq(l.line_no, line_no);
}

/* A file that grows while it is being read (a recording still being written): the lines written
 * after it was opened are read too, the one cut at the end of the mapping included. */
Test(recfmt, in_place_reads_what_is_appended_after_the_open)
{
    char *p = write_plain("grow.txt", "1 {\"a\":1}\n2 {\"b\"", 16);
    recfmt_config cfg = { .in_place = true };
    recfmt_reader *r = NULL;
    char why[128];
    cr_assert_eq(recfmt_open(p, &cfg, &r, why, sizeof why), 0, "%s", why);
    expect_line_n(r, 1, "{\"a\":1}", 1);
    FILE *f = fopen(p, "ab");
    cr_assert_not_null(f);
    fputs(":2}\n3 {\"c\":3}\n", f);
    fclose(f);
    expect_line_n(r, 2, "{\"b\":2}", 2);
    expect_line_n(r, 3, "{\"c\":3}", 3);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 0);
    recfmt_close(r);
    free(p);
}

/* A mapped file cut shorter while it is read: the reader notices before touching the missing pages
 * (which would raise SIGBUS), hands out the lines it still has, and ends with BF_EIO and a
 * sentence. 96 MiB of 1 KiB lines; cut to 70 MiB once the first 64 MiB were mapped in. */
Test(recfmt, in_place_file_cut_shorter_is_an_error_not_a_crash)
{
#ifndef MADV_POPULATE_READ
    cr_skip_test("no MADV_POPULATE_READ: the kernel cannot tell a cut file before SIGBUS");
#endif
    enum { LINE = 1024, LINES = 96 * 1024, CUT = 70 << 20 };
    char *line = malloc(LINE);
    memset(line, 'x', LINE);
    memcpy(line, "1000000000 {\"a\":\"", 17);
    memcpy(line + LINE - 3, "\"}\n", 3);
    char *p = path_in("cut.txt");
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    for (int i = 0; i < LINES; i++)
        cr_assert_eq(fwrite(line, 1, LINE, f), (size_t)LINE);
    fclose(f);
    recfmt_config cfg = { .in_place = true };
    recfmt_reader *r = NULL;
    char why[128];
    cr_assert_eq(recfmt_open(p, &cfg, &r, why, sizeof why), 0, "%s", why);
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), 1);
    cr_assert_eq(truncate(p, CUT), 0);
    int rc;
    uint64_t lines = 1;
    while ((rc = recfmt_next(r, &l)) == 1)
        lines++;
    cr_assert_eq(rc, BF_EIO, "rc %d after %llu lines: %s", rc, (unsigned long long)lines,
                 recfmt_error(r));
    cr_expect(strstr(recfmt_error(r), "cut shorter") != NULL, "%s", recfmt_error(r));
    cr_expect_eq(lines, CUT / LINE, "every whole line before the cut, no more");
    recfmt_close(r);
    free(line);
    free(p);
}
