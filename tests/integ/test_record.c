/*
 * Acceptance tests of `bfmon record` (issue 5, the record half) against `bfmon sim`:
 *   - the recording replays to the very books the live engine had at the same update ids
 *     (in-process engine + recorder; and the CLI's clean SIGINT path with its report);
 *   - kill -9: every file stays readable and everything flushed before the kill is there;
 *   - rotation by size and by SIGHUP: complete files, each with its header, replaying in order;
 *   - a file size limit (RLIMIT_FSIZE): dropped markers, a clear error, exit 3, and what was
 *     written before the limit still replays;
 *   - usage errors exit 2, an unusable --out exits 3.
 * Waits are on the recorder's stats lines and the engine's publications, with deadlines.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "feed/recfmt.h"
#include "feed/recorder.h"
#include "feed/replay.h"
#include "market/market.h"
#include "testutil.h"
#include "util/clk.h"
#include "util/err.h"

#define SEC       1000000000LL
#define MAX_FILES 256
#define LINE_WAIT 60000 /* ms: one stats line */
#define BOOK_MAX  1000

static const char *const three[] = { "BTCUSDT", "ETHUSDT", "SOLUSDT" };
static const char *const sim_args[] = { "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--rate", "3000",
                                        NULL };

/* ---- sim control plane ---------------------------------------------------------------------- */

typedef struct body {
    char *p;
    size_t n;
} body;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    body *b = ctx;
    b->p = realloc(b->p, b->n + size * nmemb + 1);
    memcpy(b->p + b->n, data, size * nmemb);
    b->n += size * nmemb;
    b->p[b->n] = '\0';
    return size * nmemb;
}

static json_t *sim_request(const tu_sim *sim, const char *path, bool post)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", sim->rest, path);
    body b = { 0 };
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "%s: %s", url, curl_easy_strerror(rc));
    json_t *j = json_loadb(b.p ? b.p : "", b.n, 0, NULL);
    cr_assert(j || post, "%s: not JSON: %.200s", url, b.p ? b.p : "");
    free(b.p);
    return j;
}

/* ---- files ---------------------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The recording files in dir (names containing ".rec"), sorted (names sort in time order). */
static size_t list_recordings(const char *dir, char **out, size_t cap)
{
    DIR *d = opendir(dir);
    cr_assert(d, "cannot list %s", dir);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < cap) {
        if (!strstr(de->d_name, ".rec") || strstr(de->d_name, ".report.json"))
            continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        out[n] = malloc(len);
        snprintf(out[n++], len, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(out, n, sizeof *out, name_cmp);
    return n;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* What recfmt makes of one file. */
typedef struct file_check {
    uint64_t lines, headers, dropped_markers;
    int end;              /* 0 clean end, or the error that ended it */
    bool header_first;    /* line 1 is {"bfmon":"header",...} */
    int64_t last_recv_ns; /* of the last complete line */
} file_check;

static file_check check_file(const char *path)
{
    file_check fc = { 0 };
    recfmt_reader *rd = NULL;
    char why[256] = "";
    cr_assert_eq(recfmt_open(path, NULL, &rd, why, sizeof why), 0, "%s: %s", path, why);
    recfmt_line l;
    int rc;
    while ((rc = recfmt_next(rd, &l)) != 0) {
        if (rc < 0) {
            cr_assert(rc == BF_ECORRUPT || rc == BF_EIO, "%s: %s", path, recfmt_error(rd));
            fc.end = rc;
            break;
        }
        bool header = strncmp(l.json, "{\"bfmon\":\"header\"", 17) == 0;
        if (fc.lines == 0)
            fc.header_first = header;
        fc.lines++;
        fc.headers += header;
        fc.dropped_markers += strncmp(l.json, "{\"bfmon\":\"dropped\"", 18) == 0;
        fc.last_recv_ns = l.recv_ns;
    }
    recfmt_close(rd);
    return fc;
}

static replay *replay_all(char **files, size_t n)
{
    replay *r = NULL;
    char why[256] = "";
    cr_assert_eq(replay_create(NULL, &r, why, sizeof why), 0, "%s", why);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(replay_file(r, files[i]), 0, "%s", replay_error(r));
    replay_finish(r);
    return r;
}

static void expect_integrity(replay *r)
{
    if (!replay_integrity_ok(r)) {
        json_t *rep = replay_report(r);
        char *text = json_dumps(rep, JSON_COMPACT);
        cr_assert_fail("replay integrity failed: %.3000s", text);
    }
}

static void expect_all_live(replay *r, size_t nsyms)
{
    cr_assert_eq(replay_market_count(r), nsyms);
    for (size_t i = 0; i < nsyms; i++) {
        market *m = replay_market_at(r, i);
        cr_expect_eq(market_state(m), SYNC_LIVE, "%s ends %s", market_symbol(m),
                     sync_state_name(market_state(m)));
    }
}

/* ---- the in-process engine with a recorder -------------------------------------------------- */

typedef struct tap {
    tu_sim sim;
    engine *e;
    recorder *r;
    char *dir;
} tap;

static char *header_json(engine *e)
{
    json_t *h = json_pack("{s:s,s:i,s:o,s:I}", "bfmon", "header", "format", RECORDER_FORMAT_VERSION,
                          "exchange_info", engine_exchange_info_json(e), "clock_offset_ms",
                          (json_int_t)(engine_clock_offset_ns(e) / 1000000));
    cr_assert(h, "exchangeInfo not loaded after engine_prepare");
    char *s = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    return s;
}

static void tap_start(tap *t, const char *suffix)
{
    memset(t, 0, sizeof *t);
    tu_sim_start(&t->sim, sim_args);
    t->dir = tu_mkdtemp();
    engine_config cfg = { .rest_url = t->sim.rest,
                          .ws_url = t->sim.ws,
                          .symbols = three,
                          .nsymbols = 3,
                          .depth_suffix = suffix };
    char why[256] = "";
    cr_assert_eq(engine_create(&cfg, &t->e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(engine_prepare(t->e, clk_mono_ns() + 30 * SEC, why, sizeof why), 0, "%s", why);
    char *header = header_json(t->e);
    recorder_config rc = { .dir = t->dir, .header_json = header };
    cr_assert_eq(recorder_create(&rc, &t->r, why, sizeof why), 0, "%s", why);
    free(header);
    cr_assert_eq(engine_set_recorder(t->e, t->r), 0);
    cr_assert_eq(engine_start(t->e, clk_mono_ns() + 30 * SEC, why, sizeof why), 0, "%s", why);
    cr_assert_eq(engine_set_recorder(t->e, t->r), BF_ESTATE, "the tap is fixed once started");
}

/* LIVE, at update id at_least or later, with at least min_msgs messages applied. */
static bool wait_live_at(engine *e, const char *sym, int64_t at_least, uint64_t min_msgs)
{
    int64_t deadline = clk_mono_ns() + 60 * SEC;
    uint64_t seen = 0;
    view_symbol *v = malloc(sizeof *v);
    bool ok = false;
    while (!ok && clk_mono_ns() < deadline) {
        cr_assert_eq(engine_view_symbol(e, sym, v), 0);
        ok = v->state == SYNC_LIVE && v->nbids > 0 && v->last_update_id >= at_least &&
             v->messages >= min_msgs;
        if (!ok)
            seen = engine_wait(e, seen, clk_mono_ns() + SEC / 2);
    }
    free(v);
    return ok;
}

/* The engine's book of one symbol, both sides, at the id it was copied at. */
typedef struct book_copy {
    book_level side[2][BOOK_MAX];
    int n[2];
    int64_t at;
} book_copy;

static void copy_engine_book(engine *e, const char *sym, book_copy *c)
{
    int64_t at[2];
    for (int s = 0; s < 2; s++) {
        c->n[s] = engine_book_copy(e, sym, s ? BOOK_ASK : BOOK_BID, c->side[s], BOOK_MAX, &at[s]);
        cr_assert_gt(c->n[s], 0, "%s: no book", sym);
    }
    cr_assert_eq(at[0], at[1], "%s moved between the two copies (the sim is quiet)", sym);
    c->at = at[0];
}

static void expect_same_book(const market *m, const book_copy *c)
{
    sync_stats ss;
    market_sync_stats(m, &ss);
    cr_assert_eq(ss.last_update_id, c->at, "%s: replay at u=%" PRId64 ", engine at %" PRId64,
                 market_symbol(m), ss.last_update_id, c->at);
    static book_level got[BOOK_MAX];
    for (int s = 0; s < 2; s++) {
        size_t n = book_top(market_book(m), s ? BOOK_ASK : BOOK_BID, got, BOOK_MAX);
        cr_assert_eq(n, (size_t)c->n[s], "%s side %d: %zu levels replayed, engine %d",
                     market_symbol(m), s, n, c->n[s]);
        for (size_t k = 0; k < n; k++)
            cr_assert(
                got[k].px == c->side[s][k].px && got[k].qty == c->side[s][k].qty,
                "%s side %d level %zu: replay %" PRId64 "x%" PRId64 ", engine %" PRId64 "x%" PRId64,
                market_symbol(m), s, k, got[k].px, got[k].qty, c->side[s][k].px, c->side[s][k].qty);
    }
}

Test(record, replayed_books_equal_the_live_engine_books)
{
    tap t;
    tap_start(&t, "@0ms");
    for (size_t i = 0; i < 3; i++)
        cr_assert(wait_live_at(t.e, three[i], 0, 3000), "%s: not LIVE with 3000 messages",
                  three[i]);
    json_decref(sim_request(&t.sim, "/sim/quiet", true));
    static book_copy copies[3];
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "/fapi/v1/depth?symbol=%s&limit=1000", three[i]);
        json_t *snap = sim_request(&t.sim, path, false);
        int64_t last = json_integer_value(json_object_get(snap, "lastUpdateId"));
        json_decref(snap);
        cr_assert(wait_live_at(t.e, three[i], last, 0), "%s did not reach %" PRId64, three[i],
                  last);
        copy_engine_book(t.e, three[i], &copies[i]);
    }
    engine_stop(t.e);
    cr_assert_eq(recorder_flush(t.r, clk_mono_ns() + 20 * SEC), 0);
    static char files[MAX_FILES][512];
    size_t nfiles = recorder_files(t.r, files, MAX_FILES);
    recorder_stats rs;
    recorder_get_stats(t.r, &rs);
    view_global g;
    engine_view_global(t.e, &g); /* the status bar's REC and size */
    cr_assert(g.recording);
    cr_assert_eq(g.recorded_bytes, rs.bytes_out);
    cr_assert_gt(g.recorded_bytes, 0);
    cr_assert_eq(engine_set_recorder(t.e, t.r), BF_ESTATE, "stopped: only a detach");
    cr_assert_eq(engine_set_recorder(t.e, NULL), 0, "stopped: the recorder may go");
    engine_view_global(t.e, &g);
    cr_assert(!g.recording, "the views no longer read a recorder that is about to go");
    recorder_destroy(t.r);
    cr_assert_eq(rs.dropped_ring + rs.dropped_io, 0);
    cr_assert_eq(engine_record_rejected(t.e), 0);

    char *paths[MAX_FILES];
    for (size_t i = 0; i < nfiles; i++)
        paths[i] = files[i];
    replay *r = replay_all(paths, nfiles);
    expect_integrity(r);
    expect_all_live(r, 3);
    replay_stats st;
    replay_get_stats(r, &st);
    cr_expect_eq(st.headers, nfiles, "every file opens with its header");
    cr_expect_eq(st.attribution_errors, 0);
    for (size_t i = 0; i < 3; i++) {
        market *m = replay_find_market(r, three[i]);
        cr_assert(m, "%s not in the recording", three[i]);
        cr_expect(market_scales_from_info(m), "%s: scales not from the header", three[i]);
        expect_same_book(m, &copies[i]);
        cr_log_info("%s: %d bid and %d ask levels equal at u=%" PRId64, three[i], copies[i].n[0],
                    copies[i].n[1], copies[i].at);
    }
    cr_log_info("%zu file(s), %" PRIu64 " lines replayed", nfiles, st.lines);
    replay_destroy(r);
    engine_destroy(t.e);
    tu_sim_stop(&t.sim);
    tu_rmtree(t.dir);
    free(t.dir);
}

/* ---- the CLI -------------------------------------------------------------------------------- */

typedef struct cli {
    tu_sim sim;
    tu_proc *p;
    char *dir;
    json_t *last; /* the last stats line seen */
} cli;

static void cli_start(cli *c, const char *const *extra, long long fsize_limit)
{
    memset(c, 0, sizeof *c);
    tu_sim_start(&c->sim, sim_args);
    c->dir = tu_mkdtemp();
    const char *argv[48] = {
        getenv("BF_BFMON"),  "record",   "--out",   c->dir,      "--rest-url",
        c->sim.rest,         "--ws-url", c->sim.ws, "--symbols", "BTCUSDT,ETHUSDT",
        "--status-interval", "100ms"
    };
    size_t n = 12;
    for (size_t i = 0; extra && extra[i] && n < 47; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert(argv[0], "BF_BFMON is not set");
    tu_spawn_opts so = { .stderr_to_stdout = 1, .fsize_limit = fsize_limit };
    c->p = tu_spawn_ex((char *const *)argv, NULL, &so);
}

static json_int_t stat_int(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

typedef bool (*stats_pred)(json_t *st, const void *ctx);

/* Read the child's output until a stats line satisfies pred; other lines go to the log. */
static json_t *wait_stats(cli *c, stats_pred pred, const void *ctx, const char *what)
{
    int64_t deadline = clk_mono_ns() + 90 * SEC;
    while (clk_mono_ns() < deadline) {
        char *line = tu_proc_line(c->p, LINE_WAIT);
        cr_assert(line, "bfmon record ended or went silent while waiting for %s", what);
        json_t *st = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
        if (!st)
            cr_log_info("bfmon record: %s", line);
        free(line);
        if (!st)
            continue;
        json_decref(c->last);
        c->last = st;
        if (pred(st, ctx))
            return st;
    }
    cr_assert_fail("timed out waiting for %s", what);
    return NULL;
}

static bool all_live(json_t *st, const void *ctx)
{
    json_int_t min_lines = *(const json_int_t *)ctx;
    const char *k;
    json_t *v;
    size_t live = 0;
    json_object_foreach(json_object_get(st, "symbols"), k, v) live +=
        !strcmp(json_string_value(json_object_get(v, "state")), "LIVE");
    return live == 2 && stat_int(st, "lines") >= min_lines;
}

static bool flushed_after(json_t *st, const void *ctx)
{
    return stat_int(st, "flushes") > *(const json_int_t *)ctx;
}

static bool files_at_least(json_t *st, const void *ctx)
{
    return stat_int(st, "files") >= *(const json_int_t *)ctx;
}

static bool has_error(json_t *st, const void *ctx)
{
    (void)ctx;
    return json_is_string(json_object_get(st, "error")) && stat_int(st, "dropped") > 0;
}

/* Stop with sig and collect everything the child still says. */
static int cli_stop(cli *c, int sig, char **rest)
{
    tu_proc_signal(c->p, sig);
    char *out = tu_proc_rest(c->p, 60000);
    int code = tu_proc_stop(c->p, 0, 10000);
    c->p = NULL;
    if (rest)
        *rest = out;
    else
        free(out);
    return code;
}

static void cli_free(cli *c)
{
    json_decref(c->last);
    tu_sim_stop(&c->sim);
    tu_rmtree(c->dir);
    free(c->dir);
}

static json_t *load_report(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    struct dirent *de;
    json_t *rep = NULL;
    while ((de = readdir(d)) && !rep)
        if (strstr(de->d_name, ".report.json")) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            rep = json_load_file(path, 0, NULL);
        }
    closedir(d);
    cr_assert(rep, "no readable report in %s", dir);
    return rep;
}

Test(record_cli, sigint_stops_cleanly_and_the_files_replay)
{
    cli c;
    cli_start(&c, NULL, 0);
    json_int_t want = 3000;
    wait_stats(&c, all_live, &want, "both symbols LIVE and 3000 lines");
    char *rest = NULL;
    int code = cli_stop(&c, SIGINT, &rest);
    cr_assert_eq(code, 0, "exit %d after SIGINT; said: %s", code, rest);
    cr_expect(strstr(rest, "report:"), "no summary on stderr: %s", rest);
    free(rest);
    json_t *rep = load_report(c.dir);
    cr_expect(json_is_true(json_object_get(rep, "ok")));
    cr_expect_gt(json_integer_value(json_object_get(json_object_get(rep, "recorder"), "lines")),
                 3000);
    json_t *btc = json_object_get(json_object_get(rep, "symbols"), "BTCUSDT");
    cr_expect(json_is_object(json_object_get(json_object_get(btc, "latency_ms"), "e_to_recv")));
    json_t *per_stream = json_object_get(rep, "messages_per_stream");
    cr_expect_gt(json_object_size(per_stream), 0);
    /* the default streams are the live screens': mark price every second, as live shows it */
    cr_expect(json_object_get(per_stream, "btcusdt@markPrice@1s"),
              "markPrice@1s is not recorded by default");
    cr_expect_null(json_object_get(per_stream, "btcusdt@markPrice"));
    json_decref(rep);
    char *files[MAX_FILES];
    size_t n = list_recordings(c.dir, files, MAX_FILES);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        file_check fc = check_file(files[i]);
        cr_expect_eq(fc.end, 0, "%s ends in damage after a clean stop", files[i]);
        cr_expect(fc.header_first, "%s does not open with its header", files[i]);
    }
    replay *r = replay_all(files, n);
    expect_integrity(r);
    expect_all_live(r, 2);
    replay_destroy(r);
    free_list(files, n);
    cli_free(&c);
}

Test(record_cli, kill_9_keeps_every_file_readable)
{
    cli c;
    cli_start(&c, NULL, 0);
    json_int_t want = 2000;
    json_t *st = wait_stats(&c, all_live, &want, "both symbols LIVE and 2000 lines");
    json_int_t written = stat_int(st, "lines"), flushes = stat_int(st, "flushes");
    cr_expect(json_is_integer(json_object_get(st, "ws_fragments")), "the stats line counts them");
    cr_expect_eq(stat_int(st, "ws_oversized"), 0);
    /* A flush after that stats line: everything counted in it has reached the kernel. */
    wait_stats(&c, flushed_after, &flushes, "a further flush");
    int code = tu_proc_stop(c.p, SIGKILL, 10000);
    c.p = NULL;
    cr_assert_eq(code, 128 + SIGKILL);
    char *files[MAX_FILES];
    size_t n = list_recordings(c.dir, files, MAX_FILES);
    cr_assert_gt(n, 0);
    uint64_t lines = 0;
    for (size_t i = 0; i < n; i++) {
        file_check fc = check_file(files[i]);
        cr_expect(fc.header_first, "%s does not open with its header", files[i]);
        cr_expect(fc.end == 0 || i == n - 1, "%s: only the last file may have a torn tail",
                  files[i]);
        lines += fc.lines;
    }
    cr_expect_geq(lines, (uint64_t)written,
                  "%" PRIu64 " lines readable, %lld were written and flushed before the kill",
                  lines, (long long)written);
    /* What is there replays: every complete line is delivered, the torn tail at most reported. */
    replay *r = NULL;
    cr_assert_eq(replay_create(NULL, &r, NULL, 0), 0);
    for (size_t i = 0; i < n; i++)
        replay_file(r, files[i]);
    replay_finish(r);
    replay_stats rst;
    replay_get_stats(r, &rst);
    cr_expect_eq(rst.bad_lines + rst.decode_errors + rst.attribution_errors, 0);
    cr_expect_leq(rst.read_errors, 1);
    expect_all_live(r, 2);
    replay_destroy(r);
    free_list(files, n);
    cli_free(&c);
}

Test(record_cli, rotation_by_size_and_sighup_replays_in_sequence)
{
    static const char *const extra[] = { "--rotate-size", "64K", NULL };
    cli c;
    cli_start(&c, extra, 0);
    json_int_t want = 1000;
    wait_stats(&c, all_live, &want, "both symbols LIVE");
    json_int_t files = stat_int(c.last, "files") + 2;
    wait_stats(&c, files_at_least, &files, "two rotations by size");
    files = stat_int(c.last, "files") + 1;
    cr_assert_eq(tu_proc_signal(c.p, SIGHUP), 0);
    wait_stats(&c, files_at_least, &files, "a rotation on SIGHUP");
    char *rest = NULL;
    int code = cli_stop(&c, SIGTERM, &rest);
    cr_assert_eq(code, 0, "exit %d after SIGTERM: %s", code, rest);
    free(rest);
    char *paths[MAX_FILES];
    size_t n = list_recordings(c.dir, paths, MAX_FILES);
    cr_assert_geq(n, 4, "%zu files", n);
    for (size_t i = 0; i < n; i++) {
        file_check fc = check_file(paths[i]);
        cr_expect_eq(fc.end, 0, "%s is not complete", paths[i]);
        cr_expect(fc.header_first && fc.headers == 1, "%s: header first and once", paths[i]);
        cr_expect_gt(fc.lines, 1, "%s holds no data", paths[i]);
    }
    replay *r = replay_all(paths, n);
    expect_integrity(r);
    expect_all_live(r, 2);
    replay_stats st;
    replay_get_stats(r, &st);
    cr_expect_eq(st.headers, n);
    replay_destroy(r);
    free_list(paths, n);
    cli_free(&c);
}

Test(record_cli, file_size_limit_drops_with_markers_and_exits_3)
{
    cli c;
    cli_start(&c, NULL, 128 * 1024);
    json_int_t want = 0;
    wait_stats(&c, has_error, &want, "the size limit to be hit");
    json_int_t files = stat_int(c.last, "files") + 1;
    wait_stats(&c, files_at_least, &files, "a new file after the failure");
    char *rest = NULL;
    int code = cli_stop(&c, SIGINT, &rest);
    cr_assert_eq(code, 3, "exit %d with a write limit: %s", code, rest);
    cr_expect(strstr(rest, "File too large") || strstr(rest, "lost"), "no clear error: %s", rest);
    free(rest);
    char *paths[MAX_FILES];
    size_t n = list_recordings(c.dir, paths, MAX_FILES);
    cr_assert_geq(n, 2);
    uint64_t markers = 0;
    for (size_t i = 0; i < n; i++)
        markers += check_file(paths[i]).dropped_markers;
    cr_expect_gt(markers, 0, "no dropped marker in %zu files", n);
    /* The first file, written up to the limit, replays: books LIVE, no gap, at most a torn end. */
    replay *r = NULL;
    cr_assert_eq(replay_create(NULL, &r, NULL, 0), 0);
    replay_file(r, paths[0]);
    replay_finish(r);
    replay_stats st;
    replay_get_stats(r, &st);
    cr_expect_gt(st.lines, 100);
    cr_expect_eq(st.attribution_errors, 0);
    cr_expect_leq(st.bad_lines + st.decode_errors + st.read_errors, 1, "more than a torn end");
    cr_expect_eq(replay_market_count(r), 2);
    for (size_t i = 0; i < replay_market_count(r); i++) {
        const market *m = replay_market_at(r, i);
        sync_stats ss;
        market_sync_stats(m, &ss);
        cr_expect_eq(ss.gaps, 0, "%s", market_symbol(m));
        cr_expect_eq(market_state(m), SYNC_LIVE, "%s", market_symbol(m));
    }
    replay_destroy(r);
    free_list(paths, n);
    cli_free(&c);
}

/* ---- usage ---------------------------------------------------------------------------------- */

static int run_record(const char *args, char **out)
{
    const char *bin = getenv("BF_BFMON");
    cr_assert(bin, "BF_BFMON is not set");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s record %s 2>&1", bin, args);
    return tu_run(cmd, out);
}

Test(record_cli, bad_usage_exits_2)
{
    static const char *const cases[][2] = {
        { "--symbols BTCUSDT", "--out" },
        { "--out /tmp/x --bogus", "unknown option" },
        { "--out /tmp/x --rotate-size 12Q", "--rotate-size" },
        { "--out /tmp/x --compress lz4", "--compress" },
        { "--out /tmp/x --depth-speed 7ms", "--depth-speed" },
        { "--out /tmp/x --streams depth,,trade", "--streams" },
        { "--out /tmp/x --compress gzip --level 12", "--level" },
        { "--out /tmp/x extra", "unexpected" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int code = run_record(cases[i][0], &out);
        cr_expect_eq(code, 2, "'%s' exited %d", cases[i][0], code);
        cr_expect(strstr(out, cases[i][1]), "'%s' said: %s", cases[i][0], out);
        free(out);
    }
    char *out = NULL;
    cr_expect_eq(run_record("--help", &out), 0);
    cr_expect(strstr(out, "--rotate-size"), "%s", out);
    free(out);
}

Test(record_cli, unusable_out_exits_3)
{
    char *out = NULL;
    int code = run_record("--out /dev/null/rec --rest-url http://127.0.0.1:1 --ws-url "
                          "ws://127.0.0.1:1",
                          &out);
    cr_expect_eq(code, 3, "exit %d: %s", code, out);
    cr_expect(strstr(out, "cannot create the output directory /dev/null/rec"), "%s", out);
    free(out);
    /* An exchange that is not there is a runtime failure too. */
    char *dir = tu_mkdtemp();
    char args[4200];
    snprintf(args, sizeof args,
             "--out %s --rest-url http://127.0.0.1:1 --ws-url ws://127.0.0.1:1 --symbols BTCUSDT",
             dir);
    code = run_record(args, &out);
    cr_expect_eq(code, 3, "exit %d: %s", code, out);
    cr_expect(strstr(out, "cannot start"), "%s", out);
    free(out);
    tu_rmtree(dir);
    free(dir);
}
