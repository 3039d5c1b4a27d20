/*
 * recorder: writes a recording (docs/recording-format.md) to rotating, compressed files in a
 * directory, from a writer thread behind a byte ring, so the network never waits for the disk.
 *
 *   producers (ws thread, http thread, workers) --recorder_write*()--> frameq --> writer thread
 *        --> gzip (default) / zstd / plain --> DIR/<prefix>-<UTC start>-<seq>.rec[.gz|.zst]
 *
 * Producers: any thread. A push takes a short mutex (held only for the copy into the ring, never
 * for I/O), so lines keep the order of the calls; recorder_writev() puts several lines in at once
 * with nothing between them (a "rest" marker and the snapshot body it names). A full ring never
 * blocks: the line is dropped and counted, and a {"bfmon":"dropped",...} marker with the counts goes
 * into the recording before the next line that fits, so a loss is always visible in the file.
 *
 * Writer: compresses and writes in batches; flushes (gzip Z_SYNC_FLUSH / zstd flush + write(2)) at
 * least every flush_interval (1 s), so a crash (even kill -9) loses at most about that much and
 * every file stays readable up to its last flush. Rotation: when a file reaches rotate_bytes on disk,
 * at each UTC midnight (rotate_daily), and on recorder_rotate() (SIGHUP). A rotated file is finished
 * (compressor trailer, fsync) before the next one starts; every file opens with the header line, so
 * each replays on its own and a sequence replays in order. Files are created with O_EXCL|O_NOFOLLOW
 * (never through a symlink, never over an existing file: the sequence number moves on instead).
 * Names: DIR/<prefix>-<YYYYMMDDTHHMMSSZ when opened>-<seq from 0001>.rec.gz / .rec.zst / .rec.
 *
 * A write error (EFBIG under RLIMIT_FSIZE, ENOSPC, EIO) is reported (recorder_error(), stats.io_errors)
 * and never damages what was written before: the writer finishes the damaged file as far as it can,
 * counts every line it cannot write as dropped, retries at most once per second by rotating to a new
 * file, and writes the dropped marker there first when it succeeds. The process must ignore SIGXFSZ
 * (cmd_record does) for EFBIG to be seen.
 *
 * Threads: create/destroy/rotate/flush/stats from any thread (destroy from the owner, once).
 * Memory: the ring is reported to memacct as MEM_RECORDER.
 */
#ifndef BF_RECORDER_H
#define BF_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDER_FORMAT_VERSION     1
#define RECORDER_DEFAULT_RING_BYTES ((size_t)64 << 20)
#define RECORDER_DEFAULT_FLUSH_NS   1000000000LL
/* gzip 1: ~4x the speed of zlib's default 6 on depth lines (~100 k vs ~25 k lines/s of 1.3 KB on
 * one core) for files ~35 % larger; the recorder must keep up with the feed first. zstd 3 is both
 * fast and small. */
#define RECORDER_DEFAULT_GZIP_LEVEL 1
#define RECORDER_DEFAULT_ZSTD_LEVEL 3

typedef struct recorder recorder;

typedef enum recorder_compress { REC_GZIP = 0, REC_ZSTD, REC_PLAIN } recorder_compress;

typedef struct recorder_config {
    const char *dir;            /* output directory; created (0755) when missing */
    const char *prefix;         /* file name prefix; default "bfmon" */
    recorder_compress compress; /* default REC_GZIP */
    int level; /* compression level; 0 = RECORDER_DEFAULT_GZIP_LEVEL / RECORDER_DEFAULT_ZSTD_LEVEL */
    uint64_t rotate_bytes;     /* rotate when a file reaches this many bytes on disk; 0 = never */
    bool no_rotate_daily;      /* rotation at UTC midnight is on unless this is set */
    size_t ring_bytes;         /* default RECORDER_DEFAULT_RING_BYTES */
    int64_t flush_interval_ns; /* default RECORDER_DEFAULT_FLUSH_NS */
    const char *header_json;   /* the header line's JSON (one line, no newline), written at the
                                    top of every file; recorder_set_header() replaces it */
    int64_t (*now_real_ns)(void); /* wall clock for file names, daily rotation and marker stamps;
                                     NULL = clk_real_ns (tests set a fake day) */
} recorder_config;

typedef struct recorder_rec {
    int64_t recv_ns;  /* the line's timestamp (local receive time, ns since the epoch) */
    const char *json; /* the message as received: one line, no raw newline */
    size_t len;
} recorder_rec;

typedef struct recorder_stats {
    uint64_t lines_in;      /* lines accepted into the ring (markers not counted) */
    uint64_t lines_written; /* lines on disk: counted when a flush / finish succeeds, so after
                                  recorder_flush() lines_in == lines_written + dropped_io */
    uint64_t bytes_in;      /* uncompressed bytes of the lines written (timestamps included) */
    uint64_t bytes_out;     /* bytes written to files (after compression) */
    uint64_t dropped_ring;  /* lines dropped because the ring was full */
    uint64_t dropped_io;    /* lines lost because a file could not be written (those in the
                                  compressor since the last flush included) */
    uint64_t markers;       /* dropped markers written */
    uint64_t io_errors;     /* failed writes / opens */
    uint64_t files;         /* files opened so far */
    uint64_t rotations;     /* rotations done (size, day, request) */
    uint64_t flushes;
    size_t ring_used, ring_high_water, ring_bytes;
    bool failing;   /* the last write failed and no file is open for writing */
    char path[512]; /* the file being written ("" when none) */
} recorder_stats;

/* Creates the directory if needed, opens the first file, writes the header and starts the writer.
 * 0, or BF_EINVAL / BF_EIO with a sentence in why ("cannot create /x/y: Permission denied"). */
int recorder_create(const recorder_config *cfg, recorder **out, char *why, size_t why_cap);
/* Writes everything queued, finishes the file (trailer, fsync) and stops the writer. */
void recorder_destroy(recorder *r);

/* One line. 0, or BF_EAGAIN when the ring is full (dropped and counted; a marker follows),
 * BF_ETOOBIG when the line can never fit the ring (over half of ring_bytes; not counted: the caller
 * counts it), BF_EINVAL when json holds a newline, is empty, or recv_ns < 0, BF_ECLOSED after
 * destroy began. Never blocks on I/O; a retry after BF_EAGAIN is a new line (counted again). */
int recorder_write(recorder *r, int64_t recv_ns, const char *json, size_t len);
/* Several lines, all or none, adjacent in the file. Same returns. */
int recorder_writev(recorder *r, const recorder_rec *recs, size_t n);
/* A REST body with the {"bfmon":"rest","symbol":..,"path":..,"status":..} marker before it. */
int recorder_write_rest(recorder *r, int64_t recv_ns, const char *symbol, const char *path,
                        int status, const char *body, size_t len);

/* The header for files opened from now on (e.g. a new clock offset). */
void recorder_set_header(recorder *r, const char *header_json);
/* Ask the writer to start a new file after the lines queued so far (SIGHUP). Async; async-signal-
 * unsafe (call it from a normal thread after the handler set a flag). */
void recorder_rotate(recorder *r);
/* Block until every line queued before the call is written and flushed to the kernel (or counted
 * as lost to a write error), or until deadline_ns (clk_mono_ns). A pending ring-full marker is
 * queued first when it fits. 0 or BF_ETIMEDOUT. For tests and clean shutdown. */
int recorder_flush(recorder *r, int64_t deadline_ns);

void recorder_get_stats(recorder *r, recorder_stats *out);
/* The last error as a sentence ("write /d/bfmon-...rec.gz: File too large"), or "" when none. */
void recorder_error(recorder *r, char *buf, size_t cap);
/* Paths of every file opened so far, in order; returns how many there are (copies up to cap). */
size_t recorder_files(recorder *r, char (*out)[512], size_t cap);

#endif
