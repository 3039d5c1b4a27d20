/*
 * recfmt: the reader of bfmon / hftbacktest recordings, one message per line:
 *
 *     <local receive time, integer ns> <space> <raw JSON message as received> \n
 *
 * plain, gzip- (one or more members) or zstd-compressed (one or more frames); the kind is decided by
 * the file's magic bytes (1f 8b, 28 b5 2f fd), never by its name. The
 * reader owns one line buffer that grows up to recfmt_config.max_line (default 64 MiB); a longer line
 * is skipped to its newline and reported as BF_ETOOBIG. A malformed line (no timestamp, a non-digit
 * timestamp, no space, nothing after it) is reported as BF_ESYNTAX with its line number and reason,
 * and the reader moves on. CRLF endings and a missing final newline are accepted; blank lines are
 * skipped silently. Damaged compressed data (a bad block, a CRC / checksum error, bytes after a
 * member that are not one) is BF_ECORRUPT after every complete line before the damage was
 * delivered; an incomplete line at the damage is not delivered.
 *
 * Torn tail: a compressed stream that just stops (no gzip trailer, an unfinished zstd frame, no
 * error in the bytes that are there) is a recording cut while being written (kill -9, a full disk).
 * That is not fatal: every complete line is delivered, the incomplete last line (if any) is
 * skipped, recfmt_stats.torn_tail is set, recfmt_error() says so once ("after line 12: file ends
 * inside a line (torn tail, compressed stream truncated): the last 37 bytes were skipped") and
 * recfmt_next() returns 0. A plain file cannot tell a cut from a last line without its newline, so
 * its last line is delivered as before (hftbacktest files end that way).
 * Lines whose JSON is an object with a "bfmon" key are bfmon's own events: returned like any other
 * line (replay.h interprets them).
 *
 * A reader belongs to one thread. The line returned by recfmt_next() points into the reader's buffer
 * and stays valid until the next call. The buffer is reported to memacct as MEM_OTHER.
 */
#ifndef BF_RECFMT_H
#define BF_RECFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECFMT_DEFAULT_MAX_LINE ((size_t)64 << 20)

typedef struct recfmt_reader recfmt_reader;

typedef struct recfmt_config {
    size_t max_line; /* longest accepted line in bytes, newline excluded; 0 = default */
    /* Lines may be handed out where they lie, without a NUL after them: recfmt_line.json[len] is
     * then the line's CR or newline, or past the end of the file. This lets a plain regular file
     * be mapped instead of read (no copy of its bytes; the same lines, numbers and errors). A
     * mapped file cut shorter while it is being read raises SIGBUS, as with any mapping: use it
     * for recordings that are only appended to (bfmon's) or finished. */
    bool in_place;
} recfmt_config;

typedef struct recfmt_line {
    int64_t recv_ns;  /* the line's timestamp */
    const char *json; /* the message, NUL-terminated (CR and newline stripped) unless in_place */
    size_t len;       /* bytes of json */
    uint64_t line_no; /* 1-based line number in the (decompressed) file */
} recfmt_line;

typedef struct recfmt_stats {
    uint64_t lines;      /* lines delivered */
    uint64_t bad_lines;  /* malformed lines skipped (BF_ESYNTAX) */
    uint64_t too_long;   /* lines skipped past max_line (BF_ETOOBIG) */
    uint64_t bytes_read; /* decompressed bytes consumed */
    bool torn_tail;      /* the compressed stream was cut short (see the top comment) */
    uint64_t torn_bytes; /* bytes of the incomplete last line skipped at the torn tail */
} recfmt_stats;

/* Open path (cfg may be NULL). BF_ENOENT when it does not exist, BF_EIO for any other failure; why
 * (may be NULL) gets the system's sentence ("No such file or directory"). */
int recfmt_open(const char *path, const recfmt_config *cfg, recfmt_reader **out, char *why,
                size_t why_cap);
void recfmt_close(recfmt_reader *r);

/* Next line: 1 and *out filled, 0 at the end of input, or a negative code:
 *   BF_ESYNTAX, BF_ETOOBIG  one line was skipped; recfmt_error() says which and why; keep calling.
 *   BF_ECORRUPT, BF_EIO     the file cannot be read further; every later call returns the same code. */
int recfmt_next(recfmt_reader *r, recfmt_line *out);

/* The last problem as one sentence with its line number ("line 12: timestamp has a non-digit"). */
const char *recfmt_error(const recfmt_reader *r);
/* True when the file is gzip- or zstd-compressed (decided from its magic bytes). */
bool recfmt_compressed(const recfmt_reader *r);
void recfmt_get_stats(const recfmt_reader *r, recfmt_stats *out);

#endif
