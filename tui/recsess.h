/*
 * recsess: a recording session behind a live engine, for `bfmon record` and `bfmon --record`. It
 * owns the output directory check, the recorder (feed/recorder.h) with its header line (refreshed
 * when the engine's clock offset changes), the REST weight peak, and the end-of-run data-quality
 * report: <first file>.report.json beside the files and a summary on stderr
 * (docs/recording-format.md).
 *
 * Order: recsess_create, engine_prepare (the header needs exchangeInfo and the clock offset),
 * recsess_attach (first file open, the engine's recording tap set), engine_start; recsess_tick
 * regularly while it runs (bfmon record: 5 times a second; the terminal UI: every second);
 * engine_stop, then recsess_finish.
 *
 * Threads: recsess_attach on any one thread; recsess_tick and the getters on one thread at a time,
 * after recsess_attach returned (the caller orders them); recsess_finish after engine_stop.
 */
#ifndef BF_RECSESS_H
#define BF_RECSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "feed/recorder.h"

typedef struct recsess recsess;

typedef struct recsess_config {
    const char *who; /* prefix of what is said on stderr: "bfmon record" */
    const char *out, *prefix;
    recorder_compress compress;
    int level; /* 0: the compressor's default */
    uint64_t rotate_bytes;
    bool no_rotate_daily;
    const char *const *kinds; /* stream kinds as subscribed ("depth" at depth_suffix) */
    size_t nkinds;
    const char *depth_suffix;      /* NULL: "@100ms" */
    const char *rest_url, *ws_url; /* NULL: the engine's defaults */
} recsess_config;

/* The output directory exists (created with its parents) and is a directory; else says why on
 * stderr and returns false. */
bool recsess_output_dir_ok(const char *dir, const char *who);

/* Copies the configuration (its strings must outlive the session). */
recsess *recsess_create(const recsess_config *cfg);
/* After engine_prepare: opens the first file with the header and attaches the recorder to e. 0,
 * or BF_E* with why ("cannot start recording in DIR: ..."). Again after success: 0. */
int recsess_attach(recsess *s, engine *e, char *why, size_t why_cap);
bool recsess_attached(const recsess *s);
/* The file being written ("" before attach). */
void recsess_path(recsess *s, char *out, size_t cap);

/* While the engine runs: samples the weight peak and refreshes the header. A new recorder error
 * sentence (one not reported before) is copied to err (true), else err is left alone (false). */
bool recsess_tick(recsess *s, char *err, size_t err_cap);
/* A new file now (SIGHUP). */
void recsess_rotate(recsess *s);

/* The JSON stats line of `bfmon record` (docs/recording-format.md), without its newline. */
char *recsess_stats_line(recsess *s);

/* After engine_stop: flushes and closes the files, writes the report beside them and sums it up on
 * stderr. Frees s. 0, or 3 (the runtime failure exit status) when recorded data was lost. Without
 * an attached recorder it only frees s. */
int recsess_finish(recsess *s);

#endif
