/*
 * recorder: producers format complete lines ("<ns> <json>\n") straight into a frameq record under a
 * short mutex (frameq is single-producer; the mutex makes the producers one); the writer thread
 * takes records out without the mutex, feeds them to the compressor and writes in 256 KiB batches.
 *
 * Each ring record is a rec_hdr followed by the text of one or more lines (a writev, or a marker
 * alone). Accounting: lines handed to the compressor are "pending" until the next successful flush
 * or finish puts them on disk (lines_written); when a write fails, the pending lines and every line
 * taken from the ring until a new file opens are "lost" (dropped_io) and reported by one dropped
 * marker in the next file. So after recorder_flush(): lines_in == lines_written + dropped_io.
 *
 * Waking the writer: the writer polls every POLL_NS while it has unflushed data (a producer never
 * signals then, so a steady stream costs producers no syscall); once everything is flushed and the
 * ring is empty it sleeps until its next deadline (flush, retry, midnight) and the first producer
 * that finds it asleep signals it once. A producer also signals when the ring passes a quarter full,
 * so a burst never waits for the poll.
 */
#include "feed/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util/clk.h"
#include "util/err.h"
#include "util/frameq.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define OUT_CAP        ((size_t)256 << 10)
#define POLL_NS        (20 * CLK_NS_PER_MS)
#define RETRY_NS       CLK_NS_PER_S
#define IDLE_MAX_NS    CLK_NS_PER_S
#define DAY_NS         (86400LL * CLK_NS_PER_S)
#define DRAIN_BATCH    256
#define MIN_RING       ((size_t)4096)
#define MAX_SEQ_TRIES  10000
#define MARKER_CAP     2048
#define DEFAULT_HEADER "{\"bfmon\":\"header\",\"format\":1}"

/* Ring record prefix. */
typedef struct rec_hdr {
    uint32_t lines;   /* data lines in the record */
    uint32_t markers; /* dropped markers in front of them (0 or 1) */
    uint64_t bytes;   /* bytes of the data lines (timestamp, space, newline included) */
    int64_t first_ns, last_ns;
} rec_hdr;

/* Lines lost (or pending) with their span in receive time. */
typedef struct loss {
    uint64_t lines, bytes, markers;
    int64_t first_ns, last_ns;
} loss;

typedef enum writer_state { W_ACTIVE, W_POLLING, W_IDLE } writer_state;

/* One open output file and its compressor. */
typedef struct sink {
    int fd;
    z_stream z;
    bool z_live;
    ZSTD_CCtx *zc;
    unsigned char *out;
    size_t out_len;
    uint64_t file_bytes; /* written to this file so far */
    char path[512];
} sink;

struct recorder {
    /* Read-only after create. */
    char *dir, *prefix;
    recorder_compress compress;
    int level;
    uint64_t rotate_bytes;
    bool daily;
    int64_t flush_ns;
    int64_t (*now_real)(void);
    frameq *q;
    size_t ring_bytes;
    size_t wake_fill; /* ring bytes above which a producer wakes a polling writer */

    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits here */
    pthread_cond_t done; /* recorder_flush waits here */
    pthread_t thread;

    /* Under mu. */
    bool closed, stopping;
    writer_state wstate;
    uint64_t seq_in;     /* records committed */
    uint64_t seq_synced; /* records written and flushed (or lost) */
    bool flush_req, rotate_req;
    uint64_t rotate_seq; /* rotate once this many records are done */
    loss ring_drop;      /* dropped for a full ring since the last marker */
    uint64_t lines_in, dropped_ring;
    size_t high_water;
    char *header;
    char err[640];
    char (*files)[512];
    size_t nfiles, files_cap;
    recorder_stats pub; /* the writer's counters as last published */

    /* Writer thread only. */
    sink s;
    bool have_file;
    uint64_t seq_done;
    unsigned file_seq;
    int64_t day_end;
    int64_t last_flush; /* mono */
    int64_t next_retry; /* mono */
    bool dirty;
    loss pending; /* in the compressor, not yet flushed */
    loss io_lost; /* lost to write errors, not yet reported in a file */
    char io_reason[640];
    recorder_stats w;
};

/* ---- small helpers ---- */

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static void put_u64(char *p, uint64_t v, size_t ndigits)
{
    for (size_t i = ndigits; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void loss_add(loss *l, uint64_t lines, uint64_t bytes, int64_t first, int64_t last)
{
    if (lines == 0)
        return;
    if (l->lines == 0 || first < l->first_ns)
        l->first_ns = first;
    if (l->lines == 0 || last > l->last_ns)
        l->last_ns = last;
    l->lines += lines;
    l->bytes += bytes;
}

/* JSON string body of s (quotes and controls escaped), truncated to fit cap. */
static void json_escape(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

/* "<first_ns> {"bfmon":"dropped",...}\n" into buf; its length. */
static size_t format_marker(char *buf, size_t cap, const loss *l, const char *reason)
{
    char esc[1024];
    json_escape(esc, sizeof esc, reason);
    int n =
        snprintf(buf, cap,
                 "%lld {\"bfmon\":\"dropped\",\"lines\":%llu,\"bytes\":%llu,\"reason\":\"%s\","
                 "\"first_ns\":%lld,\"last_ns\":%lld}\n",
                 (long long)l->first_ns, (unsigned long long)l->lines, (unsigned long long)l->bytes,
                 esc, (long long)l->first_ns, (long long)l->last_ns);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void set_err_locked(recorder *r, const char *text)
{
    snprintf(r->err, sizeof r->err, "%s", text);
}

/* ---- the sink: one file, one compressor ---- */

static int sink_write_all(recorder *r)
{
    sink *s = &r->s;
    size_t off = 0;
    while (off < s->out_len) {
        ssize_t n = write(s->fd, s->out + off, s->out_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            memmove(s->out, s->out + off, s->out_len - off);
            s->out_len -= off;
            return -e;
        }
        off += (size_t)n;
        s->file_bytes += (uint64_t)n;
        r->w.bytes_out += (uint64_t)n;
    }
    s->out_len = 0;
    return 0;
}

static int gz_run(recorder *r, const void *data, size_t len, int mode)
{
    z_stream *z = &r->s.z;
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)len;
    for (;;) {
        if (r->s.out_len == OUT_CAP) {
            int rc = sink_write_all(r);
            if (rc < 0)
                return rc;
        }
        z->next_out = r->s.out + r->s.out_len;
        z->avail_out = (uInt)(OUT_CAP - r->s.out_len);
        int zr = deflate(z, mode);
        r->s.out_len = OUT_CAP - z->avail_out;
        if (zr == Z_STREAM_ERROR)
            return -EIO;
        if (mode == Z_FINISH ? zr == Z_STREAM_END : z->avail_in == 0 && z->avail_out != 0)
            return 0;
    }
}

static int zstd_run(recorder *r, const void *data, size_t len, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = { data, len, 0 };
    for (;;) {
        if (r->s.out_len == OUT_CAP) {
            int rc = sink_write_all(r);
            if (rc < 0)
                return rc;
        }
        ZSTD_outBuffer out = { r->s.out, OUT_CAP, r->s.out_len };
        size_t left = ZSTD_compressStream2(r->s.zc, &out, &in, mode);
        r->s.out_len = out.pos;
        if (ZSTD_isError(left))
            return -EIO;
        if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
            return 0;
    }
}

/* Feed bytes; write out whenever the buffer fills. 0 or -errno. */
static int sink_put(recorder *r, const void *data, size_t len)
{
    if (r->compress == REC_GZIP)
        return len ? gz_run(r, data, len, Z_NO_FLUSH) : 0;
    if (r->compress == REC_ZSTD)
        return len ? zstd_run(r, data, len, ZSTD_e_continue) : 0;
    const unsigned char *p = data;
    while (len) {
        if (r->s.out_len == OUT_CAP) {
            int rc = sink_write_all(r);
            if (rc < 0)
                return rc;
        }
        size_t n = OUT_CAP - r->s.out_len < len ? OUT_CAP - r->s.out_len : len;
        memcpy(r->s.out + r->s.out_len, p, n);
        r->s.out_len += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* Everything fed so far decodable from the file (sync flush), or the stream finished. */
static int sink_sync(recorder *r, bool finish)
{
    int rc = 0;
    if (r->compress == REC_GZIP)
        rc = gz_run(r, NULL, 0, finish ? Z_FINISH : Z_SYNC_FLUSH);
    else if (r->compress == REC_ZSTD)
        rc = zstd_run(r, NULL, 0, finish ? ZSTD_e_end : ZSTD_e_flush);
    return rc < 0 ? rc : sink_write_all(r);
}

static void sink_close(recorder *r)
{
    sink *s = &r->s;
    if (s->z_live)
        deflateEnd(&s->z);
    s->z_live = false;
    if (s->zc)
        ZSTD_freeCCtx(s->zc);
    s->zc = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->out_len = 0;
}

/* Start the compressor on an open fd. 0 or -errno. */
static int sink_start(recorder *r, int fd)
{
    sink *s = &r->s;
    s->fd = fd;
    s->out_len = 0;
    s->file_bytes = 0;
    if (r->compress == REC_GZIP) {
        memset(&s->z, 0, sizeof s->z);
        int level = r->level ? r->level : RECORDER_DEFAULT_GZIP_LEVEL;
        if (deflateInit2(&s->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -EINVAL;
        s->z_live = true;
    } else if (r->compress == REC_ZSTD) {
        s->zc = ZSTD_createCCtx();
        if (!s->zc)
            return -ENOMEM;
        int level = r->level ? r->level : RECORDER_DEFAULT_ZSTD_LEVEL;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, level)))
            return -EINVAL;
        ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1);
    }
    return 0;
}

/* ---- files ---- */

static const char *file_ext(recorder_compress c)
{
    return c == REC_GZIP ? ".rec.gz" : c == REC_ZSTD ? ".rec.zst" : ".rec";
}

static void utc_stamp(int64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / CLK_NS_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y%m%dT%H%M%SZ", &tm);
}

static int64_t next_midnight(int64_t now_ns)
{
    int64_t day = now_ns / DAY_NS;
    if (now_ns < 0 && now_ns % DAY_NS)
        day--;
    return (day + 1) * DAY_NS;
}

static void remember_file(recorder *r, const char *path)
{
    pthread_mutex_lock(&r->mu);
    if (r->nfiles == r->files_cap) {
        r->files_cap = r->files_cap ? r->files_cap * 2 : 8;
        r->files = xrealloc(r->files, r->files_cap * sizeof *r->files);
    }
    snprintf(r->files[r->nfiles++], sizeof r->files[0], "%s", path);
    pthread_mutex_unlock(&r->mu);
}

/* Create the next free name (O_EXCL: never over a file, never through a symlink). fd or -errno,
 * with the path tried in path. */
static int create_next(recorder *r, int64_t now, char *path, size_t cap)
{
    char stamp[32];
    utc_stamp(now, stamp, sizeof stamp);
    for (int tries = 0; tries < MAX_SEQ_TRIES; tries++) {
        int n = snprintf(path, cap, "%s/%s-%s-%04u%s", r->dir, r->prefix, stamp, r->file_seq++,
                         file_ext(r->compress));
        if (n < 0 || (size_t)n >= cap)
            return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* The header line, stamped now, fed to the new file. */
static int put_header(recorder *r, int64_t now)
{
    pthread_mutex_lock(&r->mu);
    char *h = xstrdup(r->header ? r->header : DEFAULT_HEADER);
    pthread_mutex_unlock(&r->mu);
    char ts[24];
    size_t nd = u64_digits((uint64_t)now);
    put_u64(ts, (uint64_t)now, nd);
    ts[nd++] = ' ';
    int rc = sink_put(r, ts, nd);
    if (rc == 0)
        rc = sink_put(r, h, strlen(h));
    if (rc == 0)
        rc = sink_put(r, "\n", 1);
    free(h);
    return rc;
}

/* Open the next file and feed its header. 0, or -errno with a sentence in why. */
static int open_next(recorder *r, char *why, size_t cap)
{
    int64_t now = r->now_real();
    char path[512];
    int fd = create_next(r, now, path, sizeof path);
    if (fd < 0) {
        snprintf(why, cap, "cannot create %s: %s", path, strerror(-fd));
        return fd;
    }
    snprintf(r->s.path, sizeof r->s.path, "%s", path);
    int rc = sink_start(r, fd);
    if (rc < 0) {
        snprintf(why, cap, "cannot start %s: %s", path, strerror(-rc));
    } else {
        /* The header goes to disk at once: a disk that is still full is found out here. */
        rc = put_header(r, now);
        if (rc == 0)
            rc = sink_sync(r, false);
        if (rc < 0)
            snprintf(why, cap, "write %s: %s", path, strerror(-rc));
    }
    if (rc < 0) {
        /* A file this recorder just created and nothing reached: remove it, so retries on a full
         * disk leave no litter. One that holds bytes stays. */
        if (r->s.file_bytes == 0)
            unlink(path);
        sink_close(r);
        return rc;
    }
    r->have_file = true;
    r->day_end = next_midnight(now);
    r->w.files++;
    r->w.failing = false;
    snprintf(r->w.path, sizeof r->w.path, "%s", path);
    remember_file(r, path);
    return 0;
}

/* ---- writer: failure, flush, rotation ---- */

static void record_error(recorder *r, const char *sentence)
{
    snprintf(r->io_reason, sizeof r->io_reason, "%s", sentence);
    r->w.io_errors++;
    pthread_mutex_lock(&r->mu);
    set_err_locked(r, sentence);
    pthread_mutex_unlock(&r->mu);
}

/* A write failed: close the file as it is (never truncated), lose what it did not take. */
static void fail_file(recorder *r, const char *op, int neg_errno)
{
    char sentence[640];
    snprintf(sentence, sizeof sentence, "%s %s: %s", op, r->s.path, strerror(-neg_errno));
    record_error(r, sentence);
    sink_close(r);
    r->have_file = false;
    r->w.failing = true;
    r->w.path[0] = '\0';
    loss_add(&r->io_lost, r->pending.lines, r->pending.bytes, r->pending.first_ns,
             r->pending.last_ns);
    r->w.dropped_io += r->pending.lines;
    memset(&r->pending, 0, sizeof r->pending);
    r->dirty = false;
    r->next_retry = clk_mono_ns() + RETRY_NS;
}

static void commit_pending(recorder *r)
{
    r->w.lines_written += r->pending.lines;
    r->w.bytes_in += r->pending.bytes;
    r->w.markers += r->pending.markers;
    memset(&r->pending, 0, sizeof r->pending);
    r->dirty = false;
}

static void flush_file(recorder *r)
{
    if (!r->have_file)
        return;
    int rc = sink_sync(r, false);
    if (rc < 0) {
        fail_file(r, "write", rc);
        return;
    }
    commit_pending(r);
    r->last_flush = clk_mono_ns();
    r->w.flushes++;
}

/* Trailer, fsync, close. */
static void finish_file(recorder *r)
{
    if (!r->have_file)
        return;
    int rc = sink_sync(r, true);
    if (rc < 0) {
        fail_file(r, "write", rc);
        return;
    }
    if (fsync(r->s.fd) < 0 && errno != EINVAL) {
        fail_file(r, "fsync", -errno);
        return;
    }
    commit_pending(r);
    sink_close(r);
    r->have_file = false;
    r->w.path[0] = '\0';
}

/* After a new file opened: the marker for lines lost to write errors, flushed at once. */
static void report_io_loss(recorder *r)
{
    if (r->io_lost.lines == 0 || !r->have_file)
        return;
    char buf[MARKER_CAP];
    size_t n = format_marker(buf, sizeof buf, &r->io_lost, r->io_reason);
    int rc = sink_put(r, buf, n);
    if (rc < 0) {
        fail_file(r, "write", rc);
        return;
    }
    r->pending.markers++;
    loss saved = r->io_lost;
    memset(&r->io_lost, 0, sizeof r->io_lost);
    flush_file(r);
    if (!r->have_file) /* the marker did not make it: the loss is still unreported */
        loss_add(&r->io_lost, saved.lines, saved.bytes, saved.first_ns, saved.last_ns);
}

static void open_or_fail(recorder *r)
{
    char why[640];
    if (open_next(r, why, sizeof why) < 0) {
        record_error(r, why);
        r->w.failing = true;
        r->next_retry = clk_mono_ns() + RETRY_NS;
        return;
    }
    report_io_loss(r);
}

static void rotate_file(recorder *r)
{
    finish_file(r);
    r->w.rotations++;
    open_or_fail(r);
}

/* Failing: a new file at most once per RETRY_NS (force: now, at shutdown). */
static void maybe_retry(recorder *r, bool force)
{
    if (r->have_file || (!force && clk_mono_ns() < r->next_retry))
        return;
    open_or_fail(r);
}

/* ---- writer: draining the ring ---- */

static void take_record(recorder *r, const unsigned char *p, size_t len)
{
    rec_hdr h;
    memcpy(&h, p, sizeof h);
    if (!r->have_file) {
        loss_add(&r->io_lost, h.lines, h.bytes, h.first_ns, h.last_ns);
        r->w.dropped_io += h.lines;
        return;
    }
    loss_add(&r->pending, h.lines, h.bytes, h.first_ns, h.last_ns);
    r->pending.markers += h.markers;
    r->dirty = true;
    int rc = sink_put(r, p + sizeof h, len - sizeof h);
    if (rc < 0) {
        fail_file(r, "write", rc);
        return;
    }
    if (r->rotate_bytes && r->s.file_bytes + r->s.out_len >= r->rotate_bytes)
        rotate_file(r);
}

/* Up to max records. */
static void drain(recorder *r, uint64_t max)
{
    for (uint64_t i = 0; i < max; i++) {
        size_t len;
        const unsigned char *p = frameq_peek(r->q, &len);
        if (!p)
            return;
        /* The clock is read after the record is seen, so a line queued after midnight (as the
         * clock says) never lands in the day before. vDSO: a few ns per record. */
        if (r->daily && r->have_file && r->now_real() >= r->day_end)
            rotate_file(r);
        take_record(r, p, len);
        frameq_release(r->q);
        r->seq_done++;
    }
}

/* ---- writer loop ---- */

typedef struct wake_reason {
    bool stop, flush, rotate;
    uint64_t seq_in;     /* records committed when the writer woke */
    uint64_t rotate_seq; /* rotate after this many records */
} wake_reason;

static int64_t idle_deadline(recorder *r, int64_t now_mono)
{
    int64_t d = now_mono + (r->dirty ? POLL_NS : IDLE_MAX_NS);
    if (r->w.failing && r->next_retry < d)
        d = r->next_retry;
    return d;
}

static void wait_for_work(recorder *r)
{
    /* Called with mu held: seq_in is exact here, so a record committed while the writer was
     * active (and so not signalled) is never slept over. */
    if (r->stopping || r->flush_req || r->rotate_req || r->seq_in != r->seq_done)
        return;
    int64_t now = clk_mono_ns();
    int64_t d = idle_deadline(r, now);
    r->wstate = r->dirty ? W_POLLING : W_IDLE;
    struct timespec ts = { (time_t)(d / CLK_NS_PER_S), (long)(d % CLK_NS_PER_S) };
    pthread_cond_timedwait(&r->work, &r->mu, &ts);
    r->wstate = W_ACTIVE;
}

static void publish(recorder *r, bool synced)
{
    if (synced && r->seq_done > r->seq_synced)
        r->seq_synced = r->seq_done;
    r->pub = r->w;
    pthread_cond_broadcast(&r->done);
}

/* How many records to take this step: a batch (so clocks are checked under a steady stream),
 * everything queued before a flush or stop, never past a requested rotation point, and never past
 * what was committed when the writer woke: a rotation asked for after that point is seen on the
 * next step, before any record that followed it is written into the old file. */
static uint64_t step_budget(const recorder *r, const wake_reason *wr)
{
    uint64_t max = DRAIN_BATCH;
    if ((wr->flush || wr->stop) && wr->seq_in - r->seq_done > max)
        max = wr->seq_in - r->seq_done;
    if (wr->seq_in - r->seq_done < max)
        max = wr->seq_in - r->seq_done;
    if (wr->rotate) {
        uint64_t left = wr->rotate_seq > r->seq_done ? wr->rotate_seq - r->seq_done : 0;
        if (left < max)
            max = left;
    }
    return max;
}

static void writer_step(recorder *r, const wake_reason *wr)
{
    int64_t now_real = r->now_real();
    if (r->have_file && r->daily && now_real >= r->day_end)
        rotate_file(r);
    maybe_retry(r, false);
    drain(r, step_budget(r, wr));
    if (wr->rotate && r->seq_done >= wr->rotate_seq) {
        if (r->have_file)
            rotate_file(r);
        else
            r->w.rotations++;
    }
    if (r->dirty && (wr->flush || wr->stop || clk_mono_ns() - r->last_flush >= r->flush_ns))
        flush_file(r);
}

static void *writer_main(void *arg)
{
    recorder *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        wait_for_work(r);
        wake_reason wr = { r->stopping, r->flush_req, r->rotate_req, r->seq_in, r->rotate_seq };
        r->flush_req = false;
        pthread_mutex_unlock(&r->mu);

        writer_step(r, &wr);

        pthread_mutex_lock(&r->mu);
        if (wr.rotate && r->seq_done >= wr.rotate_seq && r->rotate_seq == wr.rotate_seq)
            r->rotate_req = false;
        bool all_done = r->seq_done == r->seq_in;
        publish(r, !r->dirty);
        if (wr.stop && all_done)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- producers ---- */

static void wake_writer_locked(recorder *r, bool urgent)
{
    if (r->wstate == W_IDLE || (r->wstate == W_POLLING && urgent)) {
        r->wstate = W_ACTIVE;
        pthread_cond_signal(&r->work);
    }
}

/* Push the pending ring-full marker as its own record. true when there is none left. */
static bool push_drop_marker_locked(recorder *r)
{
    if (r->ring_drop.lines == 0)
        return true;
    char buf[MARKER_CAP];
    size_t n = format_marker(buf, sizeof buf, &r->ring_drop, "ring full");
    unsigned char *p = frameq_reserve(r->q, sizeof(rec_hdr) + n);
    if (!p)
        return false;
    rec_hdr h = { 0, 1, 0, 0, 0 };
    memcpy(p, &h, sizeof h);
    memcpy(p + sizeof h, buf, n);
    frameq_commit(r->q, sizeof h + n);
    r->seq_in++;
    memset(&r->ring_drop, 0, sizeof r->ring_drop);
    return true;
}

static size_t line_bytes(const recorder_rec *rec)
{
    return u64_digits((uint64_t)rec->recv_ns) + 1 + rec->len + 1;
}

static char *put_line(char *p, const recorder_rec *rec)
{
    size_t nd = u64_digits((uint64_t)rec->recv_ns);
    put_u64(p, (uint64_t)rec->recv_ns, nd);
    p[nd] = ' ';
    memcpy(p + nd + 1, rec->json, rec->len);
    p[nd + 1 + rec->len] = '\n';
    return p + nd + 1 + rec->len + 1;
}

static void count_drop_locked(recorder *r, const recorder_rec *recs, size_t n, uint64_t bytes)
{
    for (size_t i = 0; i < n; i++)
        loss_add(&r->ring_drop, 1, 0, recs[i].recv_ns, recs[i].recv_ns);
    r->ring_drop.bytes += bytes;
    r->dropped_ring += n;
}

static int push_locked(recorder *r, const recorder_rec *recs, size_t n, uint64_t text)
{
    unsigned char *p = NULL;
    if (push_drop_marker_locked(r))
        p = frameq_reserve(r->q, sizeof(rec_hdr) + text);
    if (!p) {
        count_drop_locked(r, recs, n, text);
        wake_writer_locked(r, true);
        return BF_EAGAIN;
    }
    rec_hdr h = { (uint32_t)n, 0, text, recs[0].recv_ns, recs[0].recv_ns };
    char *t = (char *)p + sizeof h;
    for (size_t i = 0; i < n; i++) {
        t = put_line(t, &recs[i]);
        if (recs[i].recv_ns < h.first_ns)
            h.first_ns = recs[i].recv_ns;
        if (recs[i].recv_ns > h.last_ns)
            h.last_ns = recs[i].recv_ns;
    }
    memcpy(p, &h, sizeof h);
    frameq_commit(r->q, sizeof h + text);
    r->seq_in++;
    r->lines_in += n;
    size_t used = frameq_used(r->q);
    if (used > r->high_water)
        r->high_water = used;
    wake_writer_locked(r, used >= r->wake_fill);
    return 0;
}

static int check_recs(const recorder_rec *recs, size_t n, uint64_t *text)
{
    *text = 0;
    if (n == 0 || n > UINT32_MAX)
        return BF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].recv_ns < 0 || !recs[i].json || recs[i].len == 0 ||
            memchr(recs[i].json, '\n', recs[i].len))
            return BF_EINVAL;
        *text += line_bytes(&recs[i]);
    }
    return 0;
}

int recorder_writev(recorder *r, const recorder_rec *recs, size_t n)
{
    uint64_t text;
    int rc = check_recs(recs, n, &text);
    if (rc < 0)
        return rc;
    if (sizeof(rec_hdr) + text > frameq_max_record(r->q))
        return BF_ETOOBIG;
    pthread_mutex_lock(&r->mu);
    rc = r->closed ? BF_ECLOSED : push_locked(r, recs, n, text);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int recorder_write(recorder *r, int64_t recv_ns, const char *json, size_t len)
{
    recorder_rec rec = { recv_ns, json, len };
    return recorder_writev(r, &rec, 1);
}

int recorder_write_rest(recorder *r, int64_t recv_ns, const char *symbol, const char *path,
                        int status, const char *body, size_t len)
{
    char sym[128], pth[1024], marker[1280];
    json_escape(sym, sizeof sym, symbol ? symbol : "");
    json_escape(pth, sizeof pth, path ? path : "");
    int n = status > 0
                ? snprintf(marker, sizeof marker,
                           "{\"bfmon\":\"rest\",\"symbol\":\"%s\",\"path\":\"%s\",\"status\":%d}",
                           sym, pth, status)
                : snprintf(marker, sizeof marker,
                           "{\"bfmon\":\"rest\",\"symbol\":\"%s\",\"path\":\"%s\"}", sym, pth);
    if (n < 0 || (size_t)n >= sizeof marker)
        return BF_EINVAL;
    recorder_rec recs[2] = { { recv_ns, marker, (size_t)n }, { recv_ns, body, len } };
    return recorder_writev(r, recs, 2);
}

/* ---- control ---- */

void recorder_set_header(recorder *r, const char *header_json)
{
    char *copy = header_json ? xstrdup(header_json) : NULL;
    pthread_mutex_lock(&r->mu);
    char *old = r->header;
    r->header = copy;
    pthread_mutex_unlock(&r->mu);
    free(old);
}

void recorder_rotate(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    r->rotate_req = true;
    r->rotate_seq = r->seq_in;
    wake_writer_locked(r, true);
    pthread_mutex_unlock(&r->mu);
}

int recorder_flush(recorder *r, int64_t deadline_ns)
{
    pthread_mutex_lock(&r->mu);
    push_drop_marker_locked(r); /* a pending loss is written too, if it fits now */
    uint64_t target = r->seq_in;
    int rc = 0;
    while (r->seq_synced < target) {
        r->flush_req = true;
        pthread_cond_signal(&r->work);
        if (clk_mono_ns() >= deadline_ns) {
            rc = BF_ETIMEDOUT;
            break;
        }
        struct timespec ts = { (time_t)(deadline_ns / CLK_NS_PER_S),
                               (long)(deadline_ns % CLK_NS_PER_S) };
        pthread_cond_timedwait(&r->done, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void recorder_get_stats(recorder *r, recorder_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->pub;
    out->lines_in = r->lines_in;
    out->dropped_ring = r->dropped_ring;
    out->ring_used = frameq_used(r->q);
    out->ring_high_water = r->high_water;
    out->ring_bytes = r->ring_bytes;
    pthread_mutex_unlock(&r->mu);
}

void recorder_error(recorder *r, char *buf, size_t cap)
{
    if (!cap)
        return;
    pthread_mutex_lock(&r->mu);
    snprintf(buf, cap, "%s", r->err);
    pthread_mutex_unlock(&r->mu);
}

size_t recorder_files(recorder *r, char (*out)[512], size_t cap)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->nfiles;
    for (size_t i = 0; i < n && i < cap; i++)
        memcpy(out[i], r->files[i], sizeof out[i]);
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- create / destroy ---- */

/* mkdir -p with mode 0755. 0 or -errno. */
static int make_dirs(const char *dir)
{
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (rc == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
        rc = errno ? -errno : -ENOTDIR;
    free(p);
    return rc;
}

static int check_config(const recorder_config *c, char *why, size_t cap)
{
    if (!c || !c->dir || !c->dir[0])
        return bf_why(why, cap, BF_EINVAL, "no output directory");
    if (c->prefix && (!c->prefix[0] || strchr(c->prefix, '/')))
        return bf_why(why, cap, BF_EINVAL, "file prefix '%s' is empty or holds a '/'", c->prefix);
    if (c->compress != REC_GZIP && c->compress != REC_ZSTD && c->compress != REC_PLAIN)
        return bf_why(why, cap, BF_EINVAL, "unknown compression %d", (int)c->compress);
    if (c->compress == REC_GZIP && (c->level < 0 || c->level > 9))
        return bf_why(why, cap, BF_EINVAL, "gzip level %d is outside 1..9", c->level);
    if (c->compress == REC_ZSTD && (c->level < ZSTD_minCLevel() || c->level > ZSTD_maxCLevel()))
        return bf_why(why, cap, BF_EINVAL, "zstd level %d is outside %d..%d", c->level,
                      ZSTD_minCLevel(), ZSTD_maxCLevel());
    if (c->header_json && strchr(c->header_json, '\n'))
        return bf_why(why, cap, BF_EINVAL, "the header line holds a newline");
    return 0;
}

static recorder *alloc_recorder(const recorder_config *c)
{
    recorder *r = xcalloc(1, sizeof *r);
    r->dir = xstrdup(c->dir);
    r->prefix = xstrdup(c->prefix ? c->prefix : "bfmon");
    r->compress = c->compress;
    r->level = c->level;
    r->rotate_bytes = c->rotate_bytes;
    r->daily = !c->no_rotate_daily;
    r->flush_ns = c->flush_interval_ns > 0 ? c->flush_interval_ns : RECORDER_DEFAULT_FLUSH_NS;
    r->now_real = c->now_real_ns ? c->now_real_ns : clk_real_ns;
    size_t ring = c->ring_bytes ? c->ring_bytes : RECORDER_DEFAULT_RING_BYTES;
    r->q = frameq_create(ring < MIN_RING ? MIN_RING : ring);
    /* frameq reports itself as MEM_RING; the recorder's ring is recorder memory. */
    r->ring_bytes = frameq_mem_bytes(r->q);
    memacct_add(MEM_RING, -(int64_t)r->ring_bytes);
    memacct_add(MEM_RECORDER, (int64_t)(r->ring_bytes + OUT_CAP));
    r->wake_fill = r->ring_bytes / 4;
    r->header = c->header_json ? xstrdup(c->header_json) : NULL;
    r->s.fd = -1;
    r->s.out = xmalloc(OUT_CAP);
    r->wstate = W_ACTIVE;
    r->file_seq = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->work, &ca);
    pthread_cond_init(&r->done, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

static void free_recorder(recorder *r)
{
    sink_close(r);
    memacct_add(MEM_RECORDER, -(int64_t)(r->ring_bytes + OUT_CAP));
    memacct_add(MEM_RING, (int64_t)r->ring_bytes); /* frameq_destroy subtracts it */
    frameq_destroy(r->q);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->done);
    pthread_mutex_destroy(&r->mu);
    free(r->s.out);
    free(r->files);
    free(r->header);
    free(r->dir);
    free(r->prefix);
    free(r);
}

int recorder_create(const recorder_config *cfg, recorder **out, char *why, size_t why_cap)
{
    *out = NULL;
    int rc = check_config(cfg, why, why_cap);
    if (rc < 0)
        return rc;
    rc = make_dirs(cfg->dir);
    if (rc < 0)
        return bf_why(why, why_cap, BF_EIO, "cannot create %s: %s", cfg->dir, strerror(-rc));
    recorder *r = alloc_recorder(cfg);
    char sentence[640] = "";
    if (open_next(r, sentence, sizeof sentence) < 0) {
        bf_why(why, why_cap, BF_EIO, "%s", sentence);
        free_recorder(r);
        return BF_EIO;
    }
    r->last_flush = clk_mono_ns();
    r->pub = r->w;
    if (pthread_create(&r->thread, NULL, writer_main, r) != 0) {
        bf_why(why, why_cap, BF_EIO, "cannot start the writer thread");
        free_recorder(r);
        return BF_EIO;
    }
    *out = r;
    return 0;
}

/* After the writer drained everything: a ring-full loss that never found room, then the file. */
static void final_close(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    loss ring = r->ring_drop;
    memset(&r->ring_drop, 0, sizeof r->ring_drop);
    pthread_mutex_unlock(&r->mu);
    if (r->io_lost.lines || ring.lines)
        maybe_retry(r, true); /* one last try so the loss is written down */
    if (ring.lines && r->have_file) {
        char buf[MARKER_CAP];
        size_t n = format_marker(buf, sizeof buf, &ring, "ring full");
        r->pending.markers++;
        int rc = sink_put(r, buf, n);
        if (rc < 0)
            fail_file(r, "write", rc);
    }
    finish_file(r);
    pthread_mutex_lock(&r->mu);
    publish(r, true);
    pthread_mutex_unlock(&r->mu);
}

void recorder_destroy(recorder *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    push_drop_marker_locked(r);
    r->closed = true;
    r->stopping = true;
    r->wstate = W_ACTIVE;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    final_close(r);
    free_recorder(r);
}
