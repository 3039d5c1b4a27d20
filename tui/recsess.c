/* recsess: a recording session behind a live engine (see recsess.h). */
#include "tui/recsess.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bfmon_config.h"
#include "tui/cli.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/xalloc.h"

#define STOP_FLUSH_NS (10 * CLK_NS_PER_S)
#define MAX_FILES     4096

struct recsess {
    recsess_config cfg;
    engine *e;   /* NULL until attached */
    recorder *r; /* NULL until attached */
    int64_t started_ns, ended_ns;
    int64_t header_offset_ns;
    int used_weight_peak;
    char last_error[512];
    uint64_t rejected; /* engine-side: messages the recorder refused */
};

/* ---- header ------------------------------------------------------------------------------- */

/* The stream kinds as subscribed ("depth" with its speed: "depth@100ms"). */
static json_t *streams_json(const recsess *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->cfg.nkinds; i++) {
        char k[ENGINE_STREAM_KIND_MAX + 16];
        if (!strcmp(s->cfg.kinds[i], "depth"))
            snprintf(k, sizeof k, "depth%s", s->cfg.depth_suffix ? s->cfg.depth_suffix : "@100ms");
        else
            snprintf(k, sizeof k, "%s", s->cfg.kinds[i]);
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
static char *header_line(const recsess *s)
{
    json_t *info = engine_exchange_info_json(s->e);
    json_t *h = json_pack("{s:s,s:i,s:s,s:o,s:o,s:s,s:s,s:f,s:I,s:o}", "bfmon", "header", "format",
                          RECORDER_FORMAT_VERSION, "version", BFMON_VERSION, "symbols",
                          symbols_json(s->e), "streams", streams_json(s), "rest_url",
                          s->cfg.rest_url ? s->cfg.rest_url : ENGINE_DEFAULT_REST_URL, "ws_url",
                          s->cfg.ws_url ? s->cfg.ws_url : ENGINE_DEFAULT_WS_URL, "clock_offset_ms",
                          (double)s->header_offset_ns / 1e6, "started_ns",
                          (json_int_t)s->started_ns, "exchange_info", info ? info : json_object());
    char *line = json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(12)); /* ms to the ns */
    json_decref(h);
    return line;
}

/* A new clock offset (the engine refreshes it every minute): files opened from now on say so. */
static void refresh_header(recsess *s)
{
    int64_t off = engine_clock_offset_ns(s->e);
    if (off == s->header_offset_ns)
        return;
    s->header_offset_ns = off;
    char *line = header_line(s);
    if (line)
        recorder_set_header(s->r, line);
    free(line);
}

/* ---- set-up --------------------------------------------------------------------------------- */

bool recsess_output_dir_ok(const char *dir, const char *who)
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
        fprintf(stderr, "%s: cannot create the output directory %s: %s\n", who, dir, why);
    return why == NULL;
}

recsess *recsess_create(const recsess_config *cfg)
{
    recsess *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    return s;
}

int recsess_attach(recsess *s, engine *e, char *why, size_t why_cap)
{
    if (s->r)
        return 0;
    s->e = e;
    s->header_offset_ns = engine_clock_offset_ns(e);
    s->started_ns = clk_real_ns();
    char *header = header_line(s);
    recorder_config rc = { .dir = s->cfg.out,
                           .prefix = s->cfg.prefix,
                           .compress = s->cfg.compress,
                           .level = s->cfg.level,
                           .rotate_bytes = s->cfg.rotate_bytes,
                           .no_rotate_daily = s->cfg.no_rotate_daily,
                           .header_json = header };
    char reason[512] = "";
    int err = recorder_create(&rc, &s->r, reason, sizeof reason);
    free(header);
    if (err < 0) {
        s->r = NULL;
        return bf_why(why, why_cap, err, "cannot start recording in %s: %s", s->cfg.out,
                      reason[0] ? reason : bf_strerror(err));
    }
    if ((err = engine_set_recorder(e, s->r)) < 0) {
        recorder_destroy(s->r);
        s->r = NULL;
        return bf_why(why, why_cap, err, "the engine was already started: nothing to record");
    }
    return 0;
}

bool recsess_attached(const recsess *s)
{
    return s->r != NULL;
}

void recsess_path(recsess *s, char *out, size_t cap)
{
    recorder_stats rs = { 0 };
    if (s->r)
        recorder_get_stats(s->r, &rs);
    snprintf(out, cap, "%s", s->r ? rs.path : "");
}

/* ---- while it runs -------------------------------------------------------------------------- */

static void sample_weight(recsess *s)
{
    view_global g;
    engine_view_global(s->e, &g);
    int peak = g.used_weight > g.used_weight_peak ? g.used_weight : g.used_weight_peak;
    if (peak > s->used_weight_peak) /* every response's header, not only those sampled here */
        s->used_weight_peak = peak;
}

bool recsess_tick(recsess *s, char *err, size_t err_cap)
{
    if (!s->r)
        return false;
    sample_weight(s);
    refresh_header(s);
    char now[512] = "";
    recorder_error(s->r, now, sizeof now);
    if (!now[0] || !strcmp(now, s->last_error))
        return false;
    snprintf(s->last_error, sizeof s->last_error, "%s", now);
    snprintf(err, err_cap, "%s", now);
    return true;
}

void recsess_rotate(recsess *s)
{
    if (s->r)
        recorder_rotate(s->r);
}

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

char *recsess_stats_line(recsess *s)
{
    recorder_stats rs;
    recorder_get_stats(s->r, &rs);
    view_global g;
    engine_view_global(s->e, &g);
    char err[512] = "";
    recorder_error(s->r, err, sizeof err);
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:o,s:{s:i,s:i,s:i},s:{s:b,s:b},"
        "s:I}",
        "t", (json_int_t)(clk_real_ns() / CLK_NS_PER_MS), "lines", (json_int_t)rs.lines_written,
        "lines_in", (json_int_t)rs.lines_in, "msgs_per_s", g.msgs_per_s, "bytes_in",
        (json_int_t)rs.bytes_in, "bytes_out", (json_int_t)rs.bytes_out, "dropped",
        (json_int_t)(rs.dropped_ring + rs.dropped_io), "io_errors", (json_int_t)rs.io_errors,
        "flushes", (json_int_t)rs.flushes, "files", (json_int_t)rs.files, "rotations",
        (json_int_t)rs.rotations, "file", rs.path, "ring_used", (json_int_t)rs.ring_used,
        "ring_bytes", (json_int_t)rs.ring_bytes, "symbols", symbols_status(s->e), "rest",
        "used_weight", g.used_weight, "used_weight_peak", s->used_weight_peak, "weight_limit",
        g.weight_limit, "ws", "public", g.ws[WS_ROUTE_PUBLIC].up, "market",
        g.ws[WS_ROUTE_MARKET].up, "ring_drops", (json_int_t)g.ring_drops);
    /* large depth messages come in fragments; oversized ones are dropped (counted, resynced) */
    json_object_set_new(o, "ws_fragments", json_integer((json_int_t)g.ws_fragments));
    json_object_set_new(o, "ws_oversized", json_integer((json_int_t)g.ws_oversized));
    json_object_set_new(o, "error", err[0] ? json_string(err) : json_null());
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return line;
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
static json_t *build_report(const recsess *run, const recorder_stats *rs, char (*files)[512],
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
    json_object_set_new(o, "streams", streams_json(run));
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

static int write_report_file(const recsess *run, json_t *rep, const char *path)
{
    FILE *f = fopen(path, "w");
    int rc = f && json_dumpf(rep, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "%s: cannot write the report %s: %s\n", run->cfg.who, path,
                strerror(errno));
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

static void print_summary(const recsess *run, json_t *rep, const char *path)
{
    json_t *rec = json_object_get(rep, "recorder"), *ws = json_object_get(rep, "ws");
    fprintf(stderr,
            "%s: %.1fs, %" JSON_INTEGER_FORMAT " lines, %" JSON_INTEGER_FORMAT
            " bytes written in %zu file(s); dropped %" JSON_INTEGER_FORMAT
            " (ring) %" JSON_INTEGER_FORMAT " (io)\n",
            run->cfg.who, json_real_value(json_object_get(rep, "duration_s")),
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

/* ---- the end ------------------------------------------------------------------------------ */

int recsess_finish(recsess *s)
{
    if (!s->r) {
        free(s);
        return 0;
    }
    s->rejected = engine_record_rejected(s->e);
    if (recorder_flush(s->r, clk_mono_ns() + STOP_FLUSH_NS) < 0)
        fprintf(stderr, "%s: the last lines could not be flushed in time\n", s->cfg.who);
    char err[512];
    if (recsess_tick(s, err, sizeof err)) /* also the last weight sample */
        fprintf(stderr, "%s: error: %s\n", s->cfg.who, err);
    recorder_stats rs;
    recorder_get_stats(s->r, &rs);
    char(*files)[512] = calloc(MAX_FILES, sizeof *files);
    size_t nfiles = files ? recorder_files(s->r, files, MAX_FILES) : 0;
    nfiles = nfiles < MAX_FILES ? nfiles : MAX_FILES;
    engine_set_recorder(s->e, NULL); /* stopped: the views stop reading the recorder */
    recorder_destroy(s->r);          /* trailer, fsync */
    s->r = NULL;
    s->ended_ns = clk_real_ns();
    json_t *rep = build_report(s, &rs, files, nfiles);
    char path[600] = "";
    if (nfiles)
        report_path(files[0], path, sizeof path);
    if (nfiles && write_report_file(s, rep, path) < 0)
        path[0] = '\0';
    print_summary(s, rep, path[0] ? path : NULL);
    json_decref(rep);
    free(files);
    int rc = 0;
    if (data_lost(&rs, s->rejected)) {
        fprintf(stderr, "%s: data was lost: %llu line(s) dropped%s%s\n", s->cfg.who,
                (unsigned long long)(rs.dropped_ring + rs.dropped_io + s->rejected),
                s->last_error[0] ? "; last error: " : "", s->last_error);
        rc = EXIT_RUNTIME;
    }
    free(s);
    return rc;
}
