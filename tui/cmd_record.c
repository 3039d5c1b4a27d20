/*
 * cmd_record: `bfmon record`: the engine, a recording session (tui/recsess) behind it, and the main
 * loop (signals, stats lines). The engine, the recorder and the session do the work.
 *
 * Start order: the engine fetches exchangeInfo and the server time (engine_prepare), which the
 * header needs; then the session opens the first file with that header; then the engine is given
 * the recorder and starts streaming, so the first frame already lands in the file. Stop order:
 * engine first (no more producers), then the session (flush, trailer, fsync, report).
 */
#include "tui/cmd_record.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"
#include "tui/cli.h"
#include "tui/opts.h"
#include "tui/recsess.h"
#include "util/clk.h"
#include "util/err.h"

#define START_TIMEOUT_NS (15 * CLK_NS_PER_S)
#define TICK_NS          (200 * CLK_NS_PER_MS) /* signals, weight peak, header refresh */

static void print_stats(recsess *s)
{
    char *line = recsess_stats_line(s);
    if (line)
        fprintf(stderr, "%s\n", line);
    free(line);
    fflush(stderr);
}

/* Say once per new sentence that the recorder is failing (the stats lines repeat it). */
static void tick(recsess *s)
{
    char err[512];
    if (!recsess_tick(s, err, sizeof err))
        return;
    fprintf(stderr, "bfmon record: error: %s (lines are being dropped and counted)\n", err);
    fflush(stderr);
}

/* Until the duration ends or SIGINT/SIGTERM: stats lines, SIGHUP rotations, header refreshes. */
static void record_loop(const cli_record *o, recsess *s, const sigset_t *sigs)
{
    int64_t now = clk_mono_ns();
    int64_t end = o->feed.duration_ns ? now + o->feed.duration_ns : INT64_MAX;
    int64_t next = now + o->feed.interval_ns;
    for (;;) {
        int64_t until = next < end ? next : end;
        int64_t wait = until - now < TICK_NS ? until - now : TICK_NS;
        struct timespec ts = { .tv_sec = wait / CLK_NS_PER_S, .tv_nsec = wait % CLK_NS_PER_S };
        int sig = wait > 0 ? sigtimedwait(sigs, NULL, &ts) : -1;
        if (sig == SIGINT || sig == SIGTERM)
            return;
        if (sig == SIGHUP)
            recsess_rotate(s); /* here, not in a handler: it takes locks */
        tick(s);
        now = clk_mono_ns();
        if (now >= next) {
            print_stats(s);
            next = next + o->feed.interval_ns > now ? next + o->feed.interval_ns
                                                    : now + o->feed.interval_ns;
        }
        if (now >= end)
            return;
    }
}

static engine *create_engine(const cli_record *o)
{
    engine_config cfg = opts_feed_engine_config(&o->feed);
    cfg.streams = o->kind_ptrs;
    cfg.nstreams = o->nkinds;
    engine *e = NULL;
    char why[512] = "";
    int rc = engine_create(&cfg, &e, why, sizeof why);
    if (rc < 0)
        fprintf(stderr, "bfmon record: %s\n", why[0] ? why : bf_strerror(rc));
    return e;
}

static recsess *create_session(const cli_record *o)
{
    recsess_config c = { .who = "bfmon record",
                         .out = o->out,
                         .prefix = o->prefix,
                         .compress = o->compress,
                         .level = (int)o->level,
                         .rotate_bytes = o->rotate_bytes,
                         .no_rotate_daily = o->no_rotate_daily,
                         .kinds = o->kind_ptrs,
                         .nkinds = o->nkinds,
                         .depth_suffix = o->feed.depth_suffix,
                         .rest_url = o->feed.rest_url,
                         .ws_url = o->feed.ws_url };
    return recsess_create(&c);
}

/* Engine prepared (exchangeInfo, clock), recorder open, engine streaming. 0 or EXIT_RUNTIME. */
static int start_recording(engine *e, recsess *s)
{
    char why[512] = "";
    int rc = engine_prepare(e, clk_mono_ns() + START_TIMEOUT_NS, why, sizeof why);
    if (rc == 0 && why[0])
        fprintf(stderr, "bfmon record: %s\n", why);
    if (rc == 0)
        rc = recsess_attach(s, e, why, sizeof why);
    if (rc == 0)
        rc = engine_start(e, clk_mono_ns() + START_TIMEOUT_NS, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "bfmon record: cannot start: %s\n", why[0] ? why : bf_strerror(rc));
        return EXIT_RUNTIME;
    }
    char path[512];
    recsess_path(s, path, sizeof path);
    fprintf(stderr, "bfmon record: recording to %s\n", path);
    fflush(stderr);
    return 0;
}

static int run_record(const cli_record *o, const sigset_t *sigs)
{
    if (!recsess_output_dir_ok(o->out, "bfmon record"))
        return EXIT_RUNTIME;
    engine *e = create_engine(o);
    if (!e)
        return EXIT_RUNTIME;
    recsess *s = create_session(o);
    int rc = start_recording(e, s);
    if (rc == 0)
        record_loop(o, s, sigs);
    engine_stop(e); /* no more producers */
    int end = recsess_finish(s);
    engine_destroy(e);
    return rc ? rc : end;
}

int cmd_record(int argc, char **argv)
{
    cli_record *o = calloc(1, sizeof *o);
    if (!o)
        return EXIT_RUNTIME;
    int rc = cli_parse_record(argc, argv, o);
    if (rc) {
        free(o);
        return rc < 0 ? 0 : rc;
    }
    /* A file size limit must be a write error (EFBIG) the recorder reports, not the end. */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread: they all inherit the mask */
    rc = run_record(o, &sigs);
    free(o);
    return rc;
}
