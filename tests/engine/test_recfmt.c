/* Tests for recfmt: the recording line reader (plain and gzip, damaged input, odd lines). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

Test(recfmt, truncated_gzip_delivers_complete_lines_then_corrupt)
{
    size_t len;
    char *d = numbered_lines(20000, &len);
    char *p = write_gz("trunc.gz", d, len);
    size_t glen;
    char *g = tu_read_file(p, &glen);
    cr_assert(g);
    free(write_plain("trunc.gz", g, glen / 2));
    recfmt_reader *r = open_ok(p, 0);
    int count;
    int rc = read_consecutive(r, &count);
    cr_assert_eq(rc, BF_ECORRUPT, "got %d", rc);
    cr_assert_gt(count, 100);
    cr_assert_lt(count, 20000);
    cr_assert(strstr(recfmt_error(r), "truncated"), "%s", recfmt_error(r));
    recfmt_line l;
    cr_assert_eq(recfmt_next(r, &l), BF_ECORRUPT, "damage is sticky");
    recfmt_close(r);
    free(g);
    free(p);
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
