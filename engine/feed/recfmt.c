/*
 * recfmt: line reader over zlib's gz* API, which reads gzip and plain files alike (it looks at the
 * magic bytes). One growable buffer holds [pos, len) unread bytes; lines are cut in place so the
 * caller gets a pointer into it, never a copy.
 */
#include "feed/recfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define READ_CHUNK ((size_t)1 << 16)

struct recfmt_reader {
    gzFile gz;
    bool compressed;
    char *buf;
    size_t cap;  /* bytes allocated; always > len so buf[len] can take a NUL */
    size_t pos;  /* first unread byte */
    size_t len;  /* end of valid bytes */
    size_t scan; /* bytes in [pos, scan) are known to hold no newline */
    size_t max_line;
    uint64_t line_no;
    bool eof;      /* gzread reported the end (clean or damaged) */
    bool skipping; /* inside a line longer than max_line: drop bytes up to its newline */
    int damage;    /* BF_ECORRUPT / BF_EIO seen by gzread, reported once the buffer drains */
    int fatal;     /* sticky result once the file cannot be read further */
    char damage_why[160];
    recfmt_stats st;
    char err[256];
};

static void set_error(recfmt_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(recfmt_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

static void copy_why(char *why, size_t cap, const char *text)
{
    if (why && cap)
        snprintf(why, cap, "%s", text);
}

int recfmt_open(const char *path, const recfmt_config *cfg, recfmt_reader **out, char *why,
                size_t why_cap)
{
    *out = NULL;
    /* open() first so a missing file is told apart from other failures through errno. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        copy_why(why, why_cap, strerror(e));
        return e == ENOENT ? BF_ENOENT : BF_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        copy_why(why, why_cap, strerror(EISDIR));
        return BF_EIO;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        copy_why(why, why_cap, "cannot start the decompressor");
        return BF_EIO;
    }
    recfmt_reader *r = xcalloc(1, sizeof *r);
    r->gz = gz;
    r->max_line = cfg && cfg->max_line ? cfg->max_line : RECFMT_DEFAULT_MAX_LINE;
    r->cap = READ_CHUNK + 1;
    r->buf = xmalloc(r->cap);
    memacct_add(MEM_OTHER, (int64_t)r->cap);
    gzbuffer(gz, (unsigned)READ_CHUNK);
    /* gzdirect() right after opening peeks at the magic bytes: 0 means gzip. */
    r->compressed = gzdirect(gz) == 0;
    *out = r;
    return 0;
}

void recfmt_close(recfmt_reader *r)
{
    if (!r)
        return;
    gzclose_r(r->gz);
    memacct_add(MEM_OTHER, -(int64_t)r->cap);
    free(r->buf);
    free(r);
}

bool recfmt_compressed(const recfmt_reader *r)
{
    return r->compressed;
}

const char *recfmt_error(const recfmt_reader *r)
{
    return r->err;
}

void recfmt_get_stats(const recfmt_reader *r, recfmt_stats *out)
{
    *out = r->st;
}

/* Move unread bytes to the front and make room for at least one more chunk (or up to the bound). */
static void make_room(recfmt_reader *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->scan -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len > READ_CHUNK / 2)
        return;
    size_t want = r->cap * 2;
    /* Bytes kept never exceed max_line (longer lines are dropped while skipping), so this bound
     * always leaves room to read. */
    size_t bound = r->max_line + READ_CHUNK + 2;
    if (want > bound)
        want = bound;
    if (want <= r->cap)
        return;
    r->buf = xrealloc(r->buf, want);
    memacct_add(MEM_OTHER, (int64_t)(want - r->cap));
    r->cap = want;
}

/* Read more bytes; remember damage or I/O failure to report after the complete lines. */
static void fill(recfmt_reader *r)
{
    make_room(r);
    size_t room = r->cap - 1 - r->len;
    if (room > INT_MAX)
        room = INT_MAX;
    int n = gzread(r->gz, r->buf + r->len, (unsigned)room);
    int zerr = Z_OK;
    const char *zmsg = gzerror(r->gz, &zerr);
    if (n > 0) {
        r->len += (size_t)n;
        r->st.bytes_read += (uint64_t)n;
    }
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        r->eof = true;
        if (zerr == Z_ERRNO) {
            r->damage = BF_EIO;
            snprintf(r->damage_why, sizeof r->damage_why, "read failed: %s", strerror(errno));
        } else {
            r->damage = BF_ECORRUPT;
            snprintf(r->damage_why, sizeof r->damage_why, "compressed data is damaged (%s)",
                     zerr == Z_BUF_ERROR ? "truncated: unexpected end of file" : zmsg);
        }
    } else if (n == 0) {
        r->eof = true;
    }
}

enum { LINE_BLANK = 2 };

/* Parse "<digits> <json>" in p[0..n); p[n] is writable. 1, LINE_BLANK, or BF_ESYNTAX. */
static int parse_line(recfmt_reader *r, char *p, size_t n, recfmt_line *out)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return LINE_BLANK;
    size_t i = 0;
    uint64_t ts = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (ts > ((uint64_t)INT64_MAX - d) / 10) {
            set_error(r, "line %llu: timestamp out of range", (unsigned long long)r->line_no);
            return BF_ESYNTAX;
        }
        ts = ts * 10 + d;
    }
    const char *why = NULL;
    if (i == 0)
        why = p[0] == ' ' ? "no timestamp before the message"
                          : "line does not start with a timestamp";
    else if (i == n)
        why = "no space and message after the timestamp";
    else if (p[i] != ' ')
        why = "timestamp has a non-digit character";
    if (why) {
        set_error(r, "line %llu: %s", (unsigned long long)r->line_no, why);
        return BF_ESYNTAX;
    }
    while (i < n && p[i] == ' ')
        i++;
    if (i == n) {
        set_error(r, "line %llu: nothing after the timestamp", (unsigned long long)r->line_no);
        return BF_ESYNTAX;
    }
    p[n] = '\0';
    out->recv_ns = (int64_t)ts;
    out->json = p + i;
    out->len = n - i;
    out->line_no = r->line_no;
    return 1;
}

/* One complete line buf[start, end): deliver, skip or report it. */
static int take_line(recfmt_reader *r, size_t start, size_t end, recfmt_line *out)
{
    r->line_no++;
    if (r->skipping || end - start > r->max_line) {
        r->skipping = false;
        r->st.too_long++;
        set_error(r, "line %llu: longer than %zu bytes, skipped", (unsigned long long)r->line_no,
                  r->max_line);
        return BF_ETOOBIG;
    }
    int rc = parse_line(r, r->buf + start, end - start, out);
    if (rc == 1)
        r->st.lines++;
    else if (rc == BF_ESYNTAX)
        r->st.bad_lines++;
    return rc;
}

/* End of input: the last line without a newline, then the end or the damage. */
static int at_end(recfmt_reader *r, recfmt_line *out)
{
    bool partial = r->len > r->pos || r->skipping;
    if (r->damage) {
        r->fatal = r->damage;
        char where[48] = "at the start";
        if (r->line_no)
            snprintf(where, sizeof where, "after line %llu", (unsigned long long)r->line_no);
        if (partial)
            set_error(r, "%s: %s; the incomplete line %llu was not replayed", where, r->damage_why,
                      (unsigned long long)r->line_no + 1);
        else
            set_error(r, "%s: %s", where, r->damage_why);
        r->pos = r->len = r->scan = 0;
        r->skipping = false;
        return r->fatal;
    }
    if (!partial)
        return 0;
    size_t start = r->pos;
    r->pos = r->scan = r->len;
    return take_line(r, start, r->len, out);
}

int recfmt_next(recfmt_reader *r, recfmt_line *out)
{
    for (;;) {
        if (r->fatal)
            return r->fatal;
        char *nl = memchr(r->buf + r->scan, '\n', r->len - r->scan);
        if (nl) {
            size_t start = r->pos, end = (size_t)(nl - r->buf);
            r->pos = r->scan = end + 1;
            int rc = take_line(r, start, end, out);
            if (rc != LINE_BLANK)
                return rc;
            continue;
        }
        r->scan = r->len;
        if (r->len - r->pos > r->max_line) {
            /* Too long to keep: drop what we have and discard up to the newline. */
            r->skipping = true;
            r->pos = r->scan = r->len = 0;
        }
        if (r->eof) {
            int rc = at_end(r, out);
            if (rc != LINE_BLANK)
                return rc;
            continue;
        }
        fill(r);
    }
}
