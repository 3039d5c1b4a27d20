/*
 * cmd_record: the header line, the main loop (signals, stats lines, header
 * refresh) and the end-of-run report of `bfmon record`. The engine and the recorder do the work.
 *
 * Start order: the engine fetches exchangeInfo and the server time (engine_prepare), which the
 * header needs; then the recorder opens the first file with that header; then the engine is given
 * the recorder and starts streaming, so the first frame already lands in the file. Stop order:
 * engine first (no more producers), then the recorder (flush, trailer, fsync), then the report.
 */
#include "tui/cmd_record.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bfmon_config.h"
#include "engine.h"
#include "feed/recorder.h"
#include "tui/cli.h"
#include "tui/opts.h"
#include "util/clk.h"
#include "util/err.h"

#define START_TIMEOUT_NS (15 * CLK_NS_PER_S)
#define STOP_FLUSH_NS    (10 * CLK_NS_PER_S)
#define TICK_NS          (200 * CLK_NS_PER_MS) /* signals, weight peak, header refresh */
#define MAX_FILES        4096

/* What the run accumulates for the report. */
typedef struct rec_run {
    engine *e;
    recorder *r;
    const cli_record *o;
    int64_t started_ns, started_mono, ended_ns;
    int64_t header_offset_ns;
    int used_weight_peak;
    char last_error[512];
    uint64_t rejected; /* engine-side: messages the recorder refused */
} rec_run;

/* ---- header ------------------------------------------------------------------------------- */

/* The stream kinds as subscribed ("depth" with its speed: "depth@100ms"). */
static json_t *streams_json(const cli_record *o)
{
    json_t *a = json_array();
    for (size_t i = 0; i < o->nkinds; i++) {
        char k[ENGINE_STREAM_KIND_MAX + 16];
        if (!strcmp(o->kinds[i], "depth"))
            snprintf(k, sizeof k, "depth%s",
                     o->feed.depth_suffix ? o->feed.depth_suffix : "@100ms");
        else
            snprintf(k, sizeof k, "%s", o->kinds[i]);
        json_array_append_new(a, json_string(k));
    }
    return a;
}

static json_t *symbols_json(engine *e)
{
    json_t *a = json_array();
    char name[SYM_NAME_MAX];
    for (size_t i = 0; engine_symbol_at(e, i, name, sizeof name); i++)
        json_array_append_new(a, json_string(name));
    return a;
}

/* The header line's JSON (docs/recording-format.md, "Header line"); malloc'd. */
static char *header_line(const rec_run *run)
{
    const cli_record *o = run->o;
    json_t *info = engine_exchange_info_json(run->e);
    json_t *h =
        json_pack("{s:s,s:i,s:s,s:o,s:o,s:s,s:s,s:f,s:I,s:o}", "bfmon", "header", "format",
                  RECORDER_FORMAT_VERSION, "version", BFMON_VERSION, "symbols",
                  symbols_json(run->e), "streams", streams_json(o), "rest_url",
                  o->feed.rest_url ? o->feed.rest_url : ENGINE_DEFAULT_REST_URL, "ws_url",
                  o->feed.ws_url ? o->feed.ws_url : ENGINE_DEFAULT_WS_URL, "clock_offset_ms",
                  (double)run->header_offset_ns / 1e6, "started_ns", (json_int_t)run->started_ns,
                  "exchange_info", info ? info : json_object());
    char *line = json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(12)); /* ms to the ns */
    json_decref(h);
    return line;
}

/* A new clock offset (the engine refreshes it every minute): files opened from now on say so. */
static void refresh_header(rec_run *run)
{
    int64_t off = engine_clock_offset_ns(run->e);
    if (off == run->header_offset_ns)
        return;
    run->header_offset_ns = off;
    char *line = header_line(run);
    if (line)
        recorder_set_header(run->r, line);
    free(line);
}

/* ---- stats line --------------------------------------------------------------------------- */

static json_t *symbols_status(engine *e)
{
    json_t *o = json_object();
    view_symbol *v = malloc(sizeof *v);
    char name[SYM_NAME_MAX];
    for (size_t i = 0; v && engine_symbol_at(e, i, name, sizeof name); i++)
        if (engine_view_symbol(e, name, v) == 0)
            json_object_set_new(
                o, name,
                json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "state", sync_state_name(v->state),
                          "last_update_id", (json_int_t)v->last_update_id, "msgs",
                          (json_int_t)v->messages, "gaps", (json_int_t)v->gaps, "resyncs",
                          (json_int_t)v->resyncs, "snapshots", (json_int_t)v->snapshots));
    free(v);
    return o;
}

static void print_stats(rec_run *run)
{
    recorder_stats rs;
    recorder_get_stats(run->r, &rs);
    view_global g;
    engine_view_global(run->e, &g);
    char err[512] = "";
    recorder_error(run->r, err, sizeof err);
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:o,s:{s:i,s:i,s:i},s:{s:b,s:b},"
        "s:I}",
        "t", (json_int_t)(clk_real_ns() / CLK_NS_PER_MS), "lines", (json_int_t)rs.lines_written,
        "lines_in", (json_int_t)rs.lines_in, "msgs_per_s", g.msgs_per_s, "bytes_in",
        (json_int_t)rs.bytes_in, "bytes_out", (json_int_t)rs.bytes_out, "dropped",
        (json_int_t)(rs.dropped_ring + rs.dropped_io), "io_errors", (json_int_t)rs.io_errors,
        "flushes", (json_int_t)rs.flushes, "files", (json_int_t)rs.files, "rotations",
        (json_int_t)rs.rotations, "file", rs.path, "ring_used", (json_int_t)rs.ring_used,
        "ring_bytes", (json_int_t)rs.ring_bytes, "symbols", symbols_status(run->e), "rest",
        "used_weight", g.used_weight, "used_weight_peak", run->used_weight_peak, "weight_limit",
        g.weight_limit, "ws", "public", g.ws[WS_ROUTE_PUBLIC].up, "market",
        g.ws[WS_ROUTE_MARKET].up, "ring_drops", (json_int_t)g.ring_drops);
    json_object_set_new(o, "error", err[0] ? json_string(err) : json_null());
    json_dumpf(o, stderr, JSON_COMPACT);
    json_decref(o);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Say once per new sentence that the recorder is failing (the stats lines repeat it). */
static void report_new_error(rec_run *run)
{
    char err[512] = "";
    recorder_error(run->r, err, sizeof err);
    if (!err[0] || !strcmp(err, run->last_error))
        return;
    snprintf(run->last_error, sizeof run->last_error, "%s", err);
    fprintf(stderr, "bfmon record: error: %s (lines are being dropped and counted)\n", err);
    fflush(stderr);
}

static void sample_weight(rec_run *run)
{
    view_global g;
    engine_view_global(run->e, &g);
    if (g.used_weight > run->used_weight_peak)
        run->used_weight_peak = g.used_weight;
}

/* ---- main loop ---------------------------------------------------------------------------- */

/* Until the duration ends or SIGINT/SIGTERM: stats lines, SIGHUP rotations, header refreshes. */
static void record_loop(rec_run *run, const sigset_t *sigs)
{
    const cli_record *o = run->o;
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
            recorder_rotate(run->r); /* here, not in a handler: it takes locks */
        sample_weight(run);
        refresh_header(run);
        report_new_error(run);
        now = clk_mono_ns();
        if (now >= next) {
            print_stats(run);
            next = next + o->feed.interval_ns > now ? next + o->feed.interval_ns
                                                    : now + o->feed.interval_ns;
        }
        if (now >= end)
            return;
    }
}

/* ---- report ------------------------------------------------------------------------------- */

static json_t *ms_json(uint64_t ns)
{
    return json_real((double)(ns / CLK_NS_PER_US) / 1e3);
}

static json_t *latency_json(engine *e, const char *sym, view_stage st)
{
    hist_summary hs;
    if (engine_latency_total(e, sym, st, &hs) < 0 || !hs.count)
        return json_null();
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "count", (json_int_t)hs.count, "min",
                     ms_json(hs.min), "p50", ms_json(hs.p50), "p99", ms_json(hs.p99), "p999",
                     ms_json(hs.p999), "max", ms_json(hs.max));
}

static json_t *symbols_report(engine *e)
{
    json_t *o = json_object();
    view_symbol *v = malloc(sizeof *v);
    char name[SYM_NAME_MAX];
    for (size_t i = 0; v && engine_symbol_at(e, i, name, sizeof name); i++) {
        if (engine_view_symbol(e, name, v) < 0)
            continue;
        json_t *s = json_pack(
            "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "state", sync_state_name(v->state), "reason",
            v->reason, "last_update_id", (json_int_t)v->last_update_id, "messages",
            (json_int_t)v->messages, "gaps", (json_int_t)v->gaps, "resyncs", (json_int_t)v->resyncs,
            "snapshots", (json_int_t)v->snapshots, "decode_errors", (json_int_t)v->decode_errors);
        json_object_set_new(s, "latency_ms",
                            json_pack("{s:o,s:o}", "e_to_recv",
                                      latency_json(e, name, STAGE_E_TO_RECV), "recv_to_applied",
                                      latency_json(e, name, STAGE_RECV_TO_APPLIED)));
        json_object_set_new(o, name, s);
    }
    free(v);
    return o;
}

static json_t *streams_report(engine *e)
{
    size_t n = engine_stream_stats(e, NULL, 0);
    ws_stream_status *st = calloc(n ? n : 1, sizeof *st);
    json_t *o = json_object();
    if (st) {
        n = engine_stream_stats(e, st, n);
        for (size_t i = 0; i < n; i++)
            json_object_set_new(o, st[i].name, json_integer((json_int_t)st[i].messages));
    }
    free(st);
    return o;
}

static json_t *ws_report(const view_global *g)
{
    uint64_t c = 0, r = 0, d = 0, rot = 0;
    for (int i = 0; i < WS_ROUTE_COUNT; i++) {
        c += g->ws[i].connects;
        r += g->ws[i].reconnects;
        d += g->ws[i].disconnects;
        rot += g->ws[i].rotations;
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "messages", (json_int_t)g->ws_messages, "connects",
                     (json_int_t)c, "reconnects", (json_int_t)r, "disconnects", (json_int_t)d,
                     "rotations", (json_int_t)rot);
}

static json_t *recorder_report(const recorder_stats *rs, uint64_t rejected)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "lines", (json_int_t)rs->lines_written,
        "bytes_in", (json_int_t)rs->bytes_in, "bytes_out", (json_int_t)rs->bytes_out,
        "dropped_ring", (json_int_t)rs->dropped_ring, "dropped_io", (json_int_t)rs->dropped_io,
        "rejected", (json_int_t)rejected, "markers", (json_int_t)rs->markers, "io_errors",
        (json_int_t)rs->io_errors, "rotations", (json_int_t)rs->rotations, "flushes",
        (json_int_t)rs->flushes, "ring_high_water", (json_int_t)rs->ring_high_water);
}

static json_t *files_report(char (*files)[512], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        json_int_t size = stat(files[i], &st) == 0 ? (json_int_t)st.st_size : -1;
        json_array_append_new(a, json_pack("{s:s,s:I}", "path", files[i], "bytes", size));
    }
    return a;
}

static bool data_lost(const recorder_stats *rs, uint64_t rejected)
{
    return rs->dropped_ring || rs->dropped_io || rs->io_errors || rejected;
}

/* The report object; the recorder has been destroyed (its files are final). */
static json_t *build_report(const rec_run *run, const recorder_stats *rs, char (*files)[512],
                            size_t nfiles)
{
    view_global g;
    engine_view_global(run->e, &g);
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:I,s:f}", "bfmon", "record_report", "version", BFMON_VERSION,
                  "started_ns", (json_int_t)run->started_ns, "ended_ns", (json_int_t)run->ended_ns,
                  "duration_s", (double)(run->ended_ns - run->started_ns) / 1e9);
    json_object_set_new(o, "ok", json_boolean(!data_lost(rs, run->rejected)));
    json_object_set_new(o, "error",
                        run->last_error[0] ? json_string(run->last_error) : json_null());
    json_object_set_new(o, "streams", streams_json(run->o));
    json_object_set_new(o, "messages_per_stream", streams_report(run->e));
    json_object_set_new(o, "symbols", symbols_report(run->e));
    json_object_set_new(o, "ws", ws_report(&g));
    json_object_set_new(o, "rest",
                        json_pack("{s:i,s:i,s:I,s:I}", "used_weight_peak", run->used_weight_peak,
                                  "weight_limit", g.weight_limit, "requests",
                                  (json_int_t)g.http_requests, "retries",
                                  (json_int_t)g.http_retries));
    json_object_set_new(o, "ring_drops", json_integer((json_int_t)g.ring_drops));
    json_object_set_new(o, "recorder", recorder_report(rs, run->rejected));
    json_object_set_new(o, "files", files_report(files, nfiles));
    return o;
}

/* DIR/<first file's name up to ".rec">.report.json */
static void report_path(const char *first, char *out, size_t cap)
{
    const char *ext = strstr(first, ".rec");
    int n = ext ? (int)(ext - first) : (int)strlen(first);
    snprintf(out, cap, "%.*s.report.json", n, first);
}

static int write_report_file(json_t *rep, const char *path)
{
    FILE *f = fopen(path, "w");
    int rc = f && json_dumpf(rep, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "bfmon record: cannot write the report %s: %s\n", path, strerror(errno));
    return rc;
}

static void print_symbol_summary(json_t *syms)
{
    const char *name;
    json_t *s;
    json_object_foreach(syms, name, s)
    {
        json_t *lat = json_object_get(json_object_get(s, "latency_ms"), "e_to_recv");
        json_t *app = json_object_get(json_object_get(s, "latency_ms"), "recv_to_applied");
        fprintf(stderr,
                "  %-12s %-11s msgs %" JSON_INTEGER_FORMAT " gaps %" JSON_INTEGER_FORMAT
                " resyncs %" JSON_INTEGER_FORMAT " snapshots %" JSON_INTEGER_FORMAT
                "  E->recv p50 %.1fms p99 %.1fms  recv->applied p50 %.3fms p99 %.3fms\n",
                name, json_string_value(json_object_get(s, "state")),
                json_integer_value(json_object_get(s, "messages")),
                json_integer_value(json_object_get(s, "gaps")),
                json_integer_value(json_object_get(s, "resyncs")),
                json_integer_value(json_object_get(s, "snapshots")),
                json_number_value(json_object_get(lat, "p50")),
                json_number_value(json_object_get(lat, "p99")),
                json_number_value(json_object_get(app, "p50")),
                json_number_value(json_object_get(app, "p99")));
    }
}

static void print_summary(json_t *rep, const char *path)
{
    json_t *rec = json_object_get(rep, "recorder"), *ws = json_object_get(rep, "ws");
    fprintf(stderr,
            "bfmon record: %.1fs, %" JSON_INTEGER_FORMAT " lines, %" JSON_INTEGER_FORMAT
            " bytes written in %zu file(s); dropped %" JSON_INTEGER_FORMAT
            " (ring) %" JSON_INTEGER_FORMAT " (io)\n",
            json_real_value(json_object_get(rep, "duration_s")),
            json_integer_value(json_object_get(rec, "lines")),
            json_integer_value(json_object_get(rec, "bytes_out")),
            json_array_size(json_object_get(rep, "files")),
            json_integer_value(json_object_get(rec, "dropped_ring")),
            json_integer_value(json_object_get(rec, "dropped_io")));
    fprintf(
        stderr,
        "  ws: %" JSON_INTEGER_FORMAT " messages, %" JSON_INTEGER_FORMAT
        " disconnects, %" JSON_INTEGER_FORMAT " reconnects; REST weight peak %d\n",
        json_integer_value(json_object_get(ws, "messages")),
        json_integer_value(json_object_get(ws, "disconnects")),
        json_integer_value(json_object_get(ws, "reconnects")),
        (int)json_integer_value(json_object_get(json_object_get(rep, "rest"), "used_weight_peak")));
    const char *stream;
    json_t *n;
    json_object_foreach(json_object_get(rep, "messages_per_stream"), stream, n) fprintf(
        stderr, "  %-32s %" JSON_INTEGER_FORMAT " messages\n", stream, json_integer_value(n));
    print_symbol_summary(json_object_get(rep, "symbols"));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(rep, "files"), i, f)
        fprintf(stderr, "  file %s  %" JSON_INTEGER_FORMAT " bytes\n",
                json_string_value(json_object_get(f, "path")),
                json_integer_value(json_object_get(f, "bytes")));
    if (path)
        fprintf(stderr, "  report: %s\n", path);
    fflush(stderr);
}

/* ---- run ---------------------------------------------------------------------------------- */

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

/* The output directory exists (created, parents included) and is writable; else say why. */
static bool output_dir_ok(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            break;
        *p = '/';
    }
    struct stat st;
    const char *why = NULL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        why = strerror(errno);
    else if (stat(dir, &st) < 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "it exists and is not a directory";
    if (why)
        fprintf(stderr, "bfmon record: cannot create the output directory %s: %s\n", dir, why);
    return why == NULL;
}

static recorder *create_recorder(rec_run *run)
{
    const cli_record *o = run->o;
    char *header = header_line(run);
    recorder_config rc = { .dir = o->out,
                           .prefix = o->prefix,
                           .compress = o->compress,
                           .level = (int)o->level,
                           .rotate_bytes = o->rotate_bytes,
                           .no_rotate_daily = o->no_rotate_daily,
                           .header_json = header };
    recorder *r = NULL;
    char why[512] = "";
    int err = recorder_create(&rc, &r, why, sizeof why);
    free(header);
    if (err < 0)
        fprintf(stderr, "bfmon record: cannot start recording in %s: %s\n", o->out,
                why[0] ? why : bf_strerror(err));
    return err < 0 ? NULL : r;
}

/* Engine prepared (exchangeInfo, clock), recorder open, engine streaming. 0 or EXIT_RUNTIME. */
static int start_recording(rec_run *run)
{
    char why[512] = "";
    int rc = engine_prepare(run->e, clk_mono_ns() + START_TIMEOUT_NS, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "bfmon record: cannot start: %s\n", why[0] ? why : bf_strerror(rc));
        return EXIT_RUNTIME;
    }
    if (why[0])
        fprintf(stderr, "bfmon record: %s\n", why);
    run->header_offset_ns = engine_clock_offset_ns(run->e);
    run->started_ns = clk_real_ns();
    run->started_mono = clk_mono_ns();
    if (!(run->r = create_recorder(run)))
        return EXIT_RUNTIME;
    engine_set_recorder(run->e, run->r);
    rc = engine_start(run->e, clk_mono_ns() + START_TIMEOUT_NS, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "bfmon record: cannot start: %s\n", why[0] ? why : bf_strerror(rc));
        return EXIT_RUNTIME;
    }
    recorder_stats rs;
    recorder_get_stats(run->r, &rs);
    fprintf(stderr, "bfmon record: recording to %s\n", rs.path);
    fflush(stderr);
    return 0;
}

/* Stop the engine, close the recorder, write the report. The exit status. */
static int finish_recording(rec_run *run)
{
    engine_stop(run->e); /* no more producers */
    run->rejected = engine_record_rejected(run->e);
    view_global g;
    engine_view_global(run->e, &g);
    if (g.used_weight > run->used_weight_peak)
        run->used_weight_peak = g.used_weight;
    if (recorder_flush(run->r, clk_mono_ns() + STOP_FLUSH_NS) < 0)
        fprintf(stderr, "bfmon record: the last lines could not be flushed in time\n");
    report_new_error(run);
    recorder_stats rs;
    recorder_get_stats(run->r, &rs);
    char(*files)[512] = calloc(MAX_FILES, sizeof *files);
    size_t nfiles = files ? recorder_files(run->r, files, MAX_FILES) : 0;
    nfiles = nfiles < MAX_FILES ? nfiles : MAX_FILES;
    recorder_destroy(run->r); /* trailer, fsync */
    run->r = NULL;
    run->ended_ns = clk_real_ns();
    json_t *rep = build_report(run, &rs, files, nfiles);
    char path[600] = "";
    if (nfiles)
        report_path(files[0], path, sizeof path);
    if (nfiles && write_report_file(rep, path) < 0)
        path[0] = '\0';
    print_summary(rep, path[0] ? path : NULL);
    json_decref(rep);
    free(files);
    if (data_lost(&rs, run->rejected)) {
        fprintf(stderr, "bfmon record: data was lost: %llu line(s) dropped%s%s\n",
                (unsigned long long)(rs.dropped_ring + rs.dropped_io + run->rejected),
                run->last_error[0] ? "; last error: " : "", run->last_error);
        return EXIT_RUNTIME;
    }
    return 0;
}

static int run_record(const cli_record *o, const sigset_t *sigs)
{
    if (!output_dir_ok(o->out))
        return EXIT_RUNTIME;
    rec_run run = { .o = o };
    if (!(run.e = create_engine(o)))
        return EXIT_RUNTIME;
    int rc = start_recording(&run);
    if (rc == 0) {
        record_loop(&run, sigs);
        rc = finish_recording(&run);
    } else if (run.r) {
        engine_stop(run.e);
        recorder_destroy(run.r);
    }
    engine_destroy(run.e);
    return rc;
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
