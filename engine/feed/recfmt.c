/*
 * recfmt: line reader over a small source layer: plain bytes, zlib inflate (gzip members, one after
 * another) or libzstd streaming (frames, one after another), chosen by the first bytes of the file.
 * One growable buffer holds [pos, len) unread bytes; lines are cut in place so the caller gets a
 * pointer into it, never a copy.
 *
 * A compressed stream that simply stops (no gzip trailer / unfinished zstd frame, and no error in
 * what is there) is a recording cut while being written (kill -9, power loss): a torn tail, not
 * damage. Everything decoded is delivered and only the incomplete last line is dropped.
 */
#include "feed/recfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util/dec.h" /* the 8-digit helpers (inline) */
#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define READ_CHUNK ((size_t)1 << 16)
#define IN_CAP     ((size_t)1 << 16)
/* Mapped files: pages are populated this far ahead of the cursor, a quarter of it at a time (a
 * few big steps cost less than many small ones; the whole file at once would hold a huge one). */
#define MAP_AHEAD ((size_t)64 << 20)

typedef enum src_kind { SRC_PLAIN, SRC_GZIP, SRC_ZSTD } src_kind;

struct recfmt_reader {
    int fd;
    src_kind kind;
    unsigned char *in; /* raw (compressed) bytes [in_pos, in_len) not yet decoded */
    size_t in_pos, in_len;
    bool in_eof;
    z_stream z;
    bool z_live;
    ZSTD_DStream *zd;
    bool in_stream; /* inside a gzip member / zstd frame: its end has not been seen */
    bool torn;      /* the stream stopped inside a member / frame */
    bool compressed;
    char *buf;
    size_t cap;  /* bytes allocated; always > len so buf[len] can take a NUL */
    size_t pos;  /* first unread byte */
    size_t len;  /* end of valid bytes */
    size_t scan; /* bytes in [pos, scan) are known to hold no newline */
    size_t max_line;
    uint64_t line_no;
    const char *map; /* a plain regular file mapped whole (recfmt_config.in_place), or NULL */
    size_t map_len, map_pos, map_ready; /* its size, the cursor, populated up to here */
    bool eof;                           /* the source reported the end (clean, torn or damaged) */
    bool skipping; /* inside a line longer than max_line: drop bytes up to its newline */
    int damage;    /* BF_ECORRUPT / BF_EIO from the source, reported once the buffer drains */
    int fatal;     /* sticky result once the file cannot be read further */
    char damage_why[160];
    recfmt_stats st;
    char err[256];
};

static void set_error(recfmt_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void map_file(recfmt_reader *r);
static void unmap_file(recfmt_reader *r);

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

/* Append raw bytes to the input buffer. >0, 0 at the end of the file (in_eof), or BF_EIO. */
static int read_in(recfmt_reader *r)
{
    if (r->in_pos == r->in_len)
        r->in_pos = r->in_len = 0;
    for (;;) {
        ssize_t n = read(r->fd, r->in + r->in_len, IN_CAP - r->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(r->damage_why, sizeof r->damage_why, "read failed: %s", strerror(errno));
            return BF_EIO;
        }
        if (n == 0)
            r->in_eof = true;
        r->in_len += (size_t)n;
        return (int)(n > 0);
    }
}

/* The first bytes decide: gzip (1f 8b), zstd (28 b5 2f fd), anything else is plain text. */
static int start_source(recfmt_reader *r)
{
    while (r->in_len < 4 && !r->in_eof)
        if (read_in(r) < 0)
            return BF_EIO;
    const unsigned char *m = r->in;
    if (r->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
        if (inflateInit2(&r->z, 15 + 16) != Z_OK)
            return BF_EIO;
        r->z_live = true;
        r->kind = SRC_GZIP;
    } else if (r->in_len >= 4 && memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0) {
        r->zd = ZSTD_createDStream();
        if (!r->zd || ZSTD_isError(ZSTD_initDStream(r->zd)))
            return BF_EIO;
        r->kind = SRC_ZSTD;
    }
    r->compressed = r->kind != SRC_PLAIN;
    return 0;
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
    recfmt_reader *r = xcalloc(1, sizeof *r);
    r->fd = fd;
    r->in = xmalloc(IN_CAP);
    r->max_line = cfg && cfg->max_line ? cfg->max_line : RECFMT_DEFAULT_MAX_LINE;
    r->cap = READ_CHUNK + 1;
    r->buf = xmalloc(r->cap);
    memacct_add(MEM_OTHER, (int64_t)(r->cap + IN_CAP));
    if (start_source(r) < 0) {
        copy_why(why, why_cap, r->damage_why[0] ? r->damage_why : "cannot start the decompressor");
        recfmt_close(r);
        return BF_EIO;
    }
    if (cfg && cfg->in_place)
        map_file(r);
    *out = r;
    return 0;
}

void recfmt_close(recfmt_reader *r)
{
    if (!r)
        return;
    if (r->z_live)
        inflateEnd(&r->z);
    if (r->zd)
        ZSTD_freeDStream(r->zd);
    unmap_file(r);
    close(r->fd);
    memacct_add(MEM_OTHER, -(int64_t)(r->cap + IN_CAP));
    free(r->in);
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

static long damaged(recfmt_reader *r, const char *what)
{
    snprintf(r->damage_why, sizeof r->damage_why, "compressed data is damaged (%s)", what);
    return BF_ECORRUPT;
}

static long plain_read(recfmt_reader *r, unsigned char *dst, size_t cap)
{
    if (r->in_pos == r->in_len && !r->in_eof) {
        /* Straight into the line buffer (make_room() leaves at least half a chunk): no second copy
         * of every byte. */
        for (;;) {
            ssize_t n = read(r->fd, dst, cap);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(r->damage_why, sizeof r->damage_why, "read failed: %s", strerror(errno));
                return BF_EIO;
            }
            if (n == 0)
                r->in_eof = true;
            return (long)n;
        }
    }
    if (r->in_pos == r->in_len && !r->in_eof) {
        int rc = read_in(r);
        if (rc < 0)
            return rc;
    }
    size_t n = r->in_len - r->in_pos < cap ? r->in_len - r->in_pos : cap;
    memcpy(dst, r->in + r->in_pos, n);
    r->in_pos += n;
    return (long)n;
}

/* The stream ran out of input: clean between members / frames, torn inside one. */
static long source_end(recfmt_reader *r)
{
    r->torn = r->in_stream;
    return 0;
}

/* Members one after another; bytes after a member that are not a member are damage. */
static long gzip_read(recfmt_reader *r, unsigned char *dst, size_t cap)
{
    z_stream *z = &r->z;
    for (;;) {
        if (r->in_pos == r->in_len && !r->in_eof) {
            int rc = read_in(r);
            if (rc < 0)
                return rc;
            continue;
        }
        bool no_input = r->in_pos == r->in_len;
        if (!r->in_stream) {
            if (no_input)
                return 0;
            inflateReset(z);
            r->in_stream = true;
        }
        z->next_in = r->in + r->in_pos;
        z->avail_in = (uInt)(r->in_len - r->in_pos);
        z->next_out = dst;
        z->avail_out = (uInt)cap;
        int zr = inflate(z, Z_NO_FLUSH);
        r->in_pos = r->in_len - z->avail_in;
        if (zr == Z_STREAM_END)
            r->in_stream = false;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return damaged(r, z->msg ? z->msg : "inflate failed");
        size_t n = cap - z->avail_out;
        if (n)
            return (long)n;
        if (no_input)
            return source_end(r);
    }
}

/* Frames one after another (ZSTD_decompressStream moves across frame ends by itself). */
static long zstd_read(recfmt_reader *r, unsigned char *dst, size_t cap)
{
    for (;;) {
        if (r->in_pos == r->in_len && !r->in_eof) {
            int rc = read_in(r);
            if (rc < 0)
                return rc;
            continue;
        }
        bool no_input = r->in_pos == r->in_len;
        ZSTD_inBuffer in = { r->in + r->in_pos, r->in_len - r->in_pos, 0 };
        ZSTD_outBuffer out = { dst, cap, 0 };
        size_t ret = ZSTD_decompressStream(r->zd, &out, &in);
        r->in_pos += in.pos;
        if (ZSTD_isError(ret))
            return damaged(r, ZSTD_getErrorName(ret));
        if (in.pos || out.pos) /* an idle call only returns the next frame's header hint */
            r->in_stream = ret != 0;
        if (out.pos)
            return (long)out.pos;
        if (no_input)
            return source_end(r);
    }
}

/* Read more bytes; remember damage or I/O failure to report after the complete lines. */
static void fill(recfmt_reader *r)
{
    make_room(r);
    size_t room = r->cap - 1 - r->len;
    if (room > INT_MAX)
        room = INT_MAX;
    unsigned char *dst = (unsigned char *)r->buf + r->len;
    long n = r->kind == SRC_GZIP   ? gzip_read(r, dst, room)
             : r->kind == SRC_ZSTD ? zstd_read(r, dst, room)
                                   : plain_read(r, dst, room);
    if (n > 0) {
        r->len += (size_t)n;
        r->st.bytes_read += (uint64_t)n;
        return;
    }
    r->eof = true;
    if (n < 0)
        r->damage = (int)n;
}

enum { LINE_BLANK = 2 };

/* The usual timestamp, 16 to 19 digits then a space (nanoseconds since 1970: 19), in two 8-digit
 * words and at most three more digits, which cannot overflow 64 bits: its length, or 0 for
 * anything else (parse_line() then reads it digit by digit and says what is wrong). */
static size_t quick_timestamp(const char *p, size_t n, uint64_t *ts)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w1, w2;
    if (n < 20)
        return 0;
    memcpy(&w1, p, 8);
    memcpy(&w2, p + 8, 8);
    if (!dec_eight_digits(w1) || !dec_eight_digits(w2))
        return 0;
    uint64_t v = dec_eight_value(w1) * 100000000 + dec_eight_value(w2);
    size_t i = 16;
    for (; i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    if (p[i] != ' ' || v > (uint64_t)INT64_MAX)
        return 0;
    *ts = v;
    return i;
#else
    (void)p, (void)n, (void)ts;
    return 0;
#endif
}

/* Parse "<digits> <json>" in p[0..n). 1, LINE_BLANK, or BF_ESYNTAX. */
static int parse_line(recfmt_reader *r, const char *p, size_t n, recfmt_line *out)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return LINE_BLANK;
    uint64_t ts = 0;
    size_t i = quick_timestamp(p, n, &ts); /* 0: the loop below reads it (it stops at once else) */
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
    out->recv_ns = (int64_t)ts;
    out->json = p + i;
    out->len = n - i;
    out->line_no = r->line_no;
    return 1;
}

/* One complete line p[0, n): deliver, skip or report it. */
static int take_bytes(recfmt_reader *r, const char *p, size_t n, recfmt_line *out)
{
    r->line_no++;
    if (r->skipping || n > r->max_line) {
        r->skipping = false;
        r->st.too_long++;
        set_error(r, "line %llu: longer than %zu bytes, skipped", (unsigned long long)r->line_no,
                  r->max_line);
        return BF_ETOOBIG;
    }
    int rc = parse_line(r, p, n, out);
    if (rc == 1)
        r->st.lines++;
    else if (rc == BF_ESYNTAX)
        r->st.bad_lines++;
    return rc;
}

/* One complete line buf[start, end), NUL-terminated in place when it is delivered. */
static int take_line(recfmt_reader *r, size_t start, size_t end, recfmt_line *out)
{
    int rc = take_bytes(r, r->buf + start, end - start, out);
    if (rc == 1)
        r->buf[out->json - r->buf + out->len] = '\0';
    return rc;
}

/* A compressed stream cut short: drop the incomplete last line, report once, end cleanly. */
static int torn_end(recfmt_reader *r)
{
    size_t cut = r->len - r->pos;
    r->torn = false;
    r->st.torn_tail = true;
    r->st.torn_bytes = cut;
    char where[48] = "at the start";
    if (r->line_no)
        snprintf(where, sizeof where, "after line %llu", (unsigned long long)r->line_no);
    if (cut || r->skipping)
        set_error(r,
                  "%s: file ends inside a line (torn tail, compressed stream truncated): the "
                  "last %zu bytes were skipped",
                  where, cut);
    else
        set_error(r,
                  "%s: file ends before its compressed stream does (torn tail, truncated); no "
                  "line was cut",
                  where);
    r->pos = r->len = r->scan = 0;
    r->skipping = false;
    return 0;
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
    if (r->torn)
        return torn_end(r);
    if (!partial)
        return 0;
    size_t start = r->pos;
    r->pos = r->scan = r->len;
    return take_line(r, start, r->len, out);
}

/* ---- mapped plain files ---- */

/* Map a plain regular file whole (recfmt_config.in_place), so that its lines are handed out where
 * they lie instead of being copied twice (by read(), then out of the buffer). Any failure leaves
 * the reader on read(): mapping is only a faster way to the same lines. The bytes start_source()
 * already read are read again from the map; the file offset no longer matters until the map ends. */
static void map_file(recfmt_reader *r)
{
    struct stat sb;
    if (r->kind != SRC_PLAIN || fstat(r->fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (off_t)(size_t)sb.st_size != sb.st_size)
        return;
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, r->fd, 0);
    if (m == MAP_FAILED)
        return;
    r->map = m;
    r->map_len = (size_t)sb.st_size;
}

static void unmap_file(recfmt_reader *r)
{
    if (r->map)
        munmap((void *)(uintptr_t)r->map, r->map_len);
    r->map = NULL;
}

/* Fault the pages in ahead of the cursor, a step at a time, where page faults one by one would
 * cost more than the copy that mapping saves (MADV_POPULATE_READ; without it, faults do it). */
static void map_populate(recfmt_reader *r)
{
#ifdef MADV_POPULATE_READ
    while (r->map_ready < r->map_len && r->map_ready - r->map_pos < MAP_AHEAD) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), at = r->map_ready & ~(page - 1);
        size_t len = r->map_len - at < MAP_AHEAD / 4 ? r->map_len - at : MAP_AHEAD / 4;
        if (madvise((void *)(uintptr_t)(r->map + at), len, MADV_POPULATE_READ) != 0 &&
            errno == EFAULT) {
            /* The file is shorter than when it was mapped: touching those pages would raise
             * SIGBUS. Read no further than what is still there, then end with the damage. */
            r->map_len = at;
            r->damage = BF_EIO;
            snprintf(r->damage_why, sizeof r->damage_why,
                     "the file was cut shorter while being read (at byte %zu)", at);
            break;
        }
        r->map_ready = at + len;
    }
#else
    r->map_ready = r->map_len;
#endif
}

/* The map is used up: what is left of it (a last line without its newline) goes to the buffer,
 * and reading goes on with read() from the end of the map (a file that grew since it was opened
 * is read to its new end). */
static void map_done(recfmt_reader *r)
{
    size_t left = r->map_len - r->map_pos;
    r->pos = r->scan = 0;
    r->len = 0;
    r->st.bytes_read += left;
    if (left > r->max_line) { /* too long to keep, as the buffer would have found */
        r->skipping = true;
        left = 0;
    } else if (left + 1 > r->cap) {
        size_t want = left + READ_CHUNK + 1;
        r->buf = xrealloc(r->buf, want);
        memacct_add(MEM_OTHER, (int64_t)(want - r->cap));
        r->cap = want;
    }
    memcpy(r->buf, r->map + r->map_pos, left);
    r->len = left;
    r->in_pos = r->in_len = 0;
    r->in_eof = lseek(r->fd, (off_t)r->map_len, SEEK_SET) < 0;
    unmap_file(r);
}

/* recfmt_next() while the file is mapped: 1, a per-line error, or LINE_BLANK (read on). */
static int map_next(recfmt_reader *r, recfmt_line *out)
{
    map_populate(r);
    const char *p = r->map + r->map_pos;
    const char *nl = memchr(p, '\n', r->map_len - r->map_pos);
    if (!nl) {
        map_done(r);
        return LINE_BLANK;
    }
    size_t n = (size_t)(nl - p);
    r->map_pos += n + 1;
    r->st.bytes_read += n + 1;
    return take_bytes(r, p, n, out);
}

int recfmt_next(recfmt_reader *r, recfmt_line *out)
{
    while (r->map) {
        int rc = map_next(r, out);
        if (rc != LINE_BLANK)
            return rc;
    }
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
