/*
 * Tests for replay and `bfmon replay`: the real captures end to end, in process and through the
 * binary, plus damaged and malformed input and the command line's exit statuses.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bfmon_config.h"
#include "feed/replay.h"
#include "testutil.h"
#include "util/err.h"

#define HB_RAW "hftbacktest_usdm_btcusdt_20240808/raw_head2000.txt"
#define CF_DIR "cryptofeed_usdm_20210722/"

static char *tmpdir;

static void setup(void)
{
    tmpdir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(tmpdir);
    free(tmpdir);
}

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 120);

static char *path_in(const char *name)
{
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_gz(const char *path, const char *data, size_t len)
{
    gzFile g = gzopen(path, "wb");
    cr_assert(g);
    cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(g), Z_OK);
}

/* ---- running ------------------------------------------------------------------------------ */

/* In process: replay files, return the report. */
static json_t *replay_inproc(const char *const *files, size_t n, const char *exinfo)
{
    replay_config cfg = { .exchange_info_path = exinfo };
    replay *r = NULL;
    char why[256];
    cr_assert_eq(replay_create(&cfg, &r, why, sizeof why), 0, "%s", why);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(replay_file(r, files[i]), 0, "%s", replay_error(r));
    replay_finish(r);
    json_t *rep = replay_report(r);
    replay_destroy(r);
    return rep;
}

/* Run `$BF_BFMON args`, stdout captured (stderr dropped, or merged when merge_stderr). */
static int run_bfmon(const char *args, bool merge_stderr, char **out)
{
    const char *bin = getenv("BF_BFMON");
    cr_assert(bin && *bin, "BF_BFMON is not set");
    size_t n = strlen(bin) + strlen(args) + 32;
    char *cmd = malloc(n);
    snprintf(cmd, n, "'%s' %s %s", bin, args, merge_stderr ? "2>&1" : "2>/dev/null");
    int st = tu_run(cmd, out);
    free(cmd);
    return st;
}

/* Run the binary with --headless --json and parse its single output line. */
static json_t *replay_cli(const char *files, int want_status)
{
    char args[4096];
    snprintf(args, sizeof args, "replay %s --headless --json", files);
    char *out = NULL;
    int st = run_bfmon(args, false, &out);
    cr_assert_eq(st, want_status, "exit status %d, output: %.300s", st, out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line of output");
    json_error_t jerr;
    json_t *rep = json_loads(out, 0, &jerr);
    cr_assert(rep, "output is not JSON: %s", jerr.text);
    free(out);
    return rep;
}

/* ---- report access ------------------------------------------------------------------------ */

static json_t *sym(json_t *rep, const char *name)
{
    json_t *s = json_object_get(json_object_get(rep, "symbols"), name);
    cr_assert(s, "no symbol %s in the report", name);
    return s;
}

static long long ival(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return (long long)json_integer_value(v);
}

static const char *sval(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static void expect_top(json_t *s, const char *bid, const char *bid_qty, const char *ask,
                       const char *ask_qty)
{
    json_t *b = json_object_get(s, "best_bid"), *a = json_object_get(s, "best_ask");
    cr_assert_str_eq(sval(b, "price"), bid);
    cr_assert_str_eq(sval(a, "price"), ask);
    if (bid_qty)
        cr_assert_str_eq(sval(b, "qty"), bid_qty);
    if (ask_qty)
        cr_assert_str_eq(sval(a, "qty"), ask_qty);
}

/* PROVENANCE.md section 1 and binance-protocol.md 5.3. */
static void expect_btcusdt_report(json_t *rep)
{
    cr_assert_str_eq(sval(rep, "bfmon"), "replay");
    cr_assert_str_eq(sval(rep, "integrity"), "ok");
    cr_assert_eq(ival(rep, "lines"), 2000);
    cr_assert_eq(ival(rep, "bad_lines"), 0);
    cr_assert_eq(ival(rep, "decode_errors"), 0);
    cr_assert_eq(json_object_size(json_object_get(rep, "symbols")), 1);
    json_t *s = sym(rep, "BTCUSDT");
    cr_assert_str_eq(sval(s, "state"), "LIVE");
    cr_assert_eq(ival(s, "gaps"), 0);
    cr_assert_eq(ival(s, "resyncs"), 0);
    cr_assert_eq(ival(s, "applied"), 165);
    cr_assert_eq(ival(s, "dropped"), 4);
    cr_assert_eq(ival(s, "snapshots"), 1);
    cr_assert_eq(ival(s, "snapshot_id"), 5123107852948LL);
    cr_assert_eq(ival(s, "last_update_id"), 5123108458915LL);
    json_t *first = json_object_get(s, "first_applied");
    cr_assert_eq(ival(first, "U"), 5123107850310LL);
    cr_assert_eq(ival(first, "u"), 5123107853551LL);
    expect_top(s, "61800.10", "4.230", "61800.20", "4.853");
    cr_assert_gt(ival(s, "bookticker_checks"), 0);
    cr_assert_eq(ival(s, "bookticker_mismatches"), 0);
    cr_assert_eq(ival(s, "crossed"), 0);
    cr_assert_eq(ival(s, "trades"), 347);
    cr_assert_eq(ival(s, "book_tickers"), 1483);
    cr_assert_str_eq(sval(s, "integrity"), "ok");
    /* Every applied event is either checked or (before the first bookTicker) unverifiable. */
    cr_assert_eq(ival(s, "bookticker_checks") + ival(s, "bookticker_unverified"), 165);
}

/* The report minus what legitimately differs between runs (paths, memory). */
static json_t *comparable(json_t *rep)
{
    json_t *c = json_deep_copy(rep);
    json_object_del(c, "files");
    json_object_del(c, "memory");
    json_object_del(c, "problems");
    return c;
}

/* ---- hftbacktest BTCUSDT ------------------------------------------------------------------- */

Test(replay, btcusdt_in_process)
{
    char *raw = tu_fixture(HB_RAW);
    const char *files[] = { raw };
    json_t *rep = replay_inproc(files, 1, NULL);
    expect_btcusdt_report(rep);
    json_t *s = sym(rep, "BTCUSDT");
    cr_log_info(
        "BTCUSDT: checks %lld, unverified %lld, latency p50 %.3f ms", ival(s, "bookticker_checks"),
        ival(s, "bookticker_unverified"),
        json_real_value(json_object_get(json_object_get(s, "latency_e_to_recv_ms"), "p50")));
    json_decref(rep);
    free(raw);
}

Test(replay, btcusdt_via_binary)
{
    char *raw = tu_fixture(HB_RAW);
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s'", raw);
    json_t *rep = replay_cli(arg, 0);
    expect_btcusdt_report(rep);
    cr_assert_str_eq(sval(rep, "version"), BFMON_VERSION);
    cr_assert_gt(ival(json_object_get(rep, "memory"), "rss_bytes"), 0);
    cr_assert_gt(ival(json_object_get(rep, "memory"), "book_bytes"), 0);
    json_decref(rep);
    free(raw);
}

Test(replay, gzip_copy_gives_identical_report)
{
    char *raw = tu_fixture(HB_RAW);
    size_t len;
    char *data = tu_read_file(raw, &len);
    cr_assert(data);
    char *gz = path_in("copy.txt.gz");
    write_gz(gz, data, len);
    const char *f1[] = { raw }, *f2[] = { gz };
    json_t *a = replay_inproc(f1, 1, NULL), *b = replay_inproc(f2, 1, NULL);
    expect_btcusdt_report(b);
    json_t *ca = comparable(a), *cb = comparable(b);
    cr_assert(json_equal(ca, cb), "reports differ between plain and gzip input");
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s'", gz);
    json_t *c = replay_cli(arg, 0);
    json_t *cc = comparable(c);
    cr_assert(json_equal(ca, cc), "binary report differs from the in-process one");
    json_decref(ca);
    json_decref(cb);
    json_decref(cc);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    free(gz);
    free(data);
    free(raw);
}

Test(replay, shipped_sample_gz)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    cr_assert(root, "BF_SOURCE_ROOT is not set");
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s/docs/sample/btcusdt_20240808_head2000.txt.gz'", root);
    json_t *rep = replay_cli(arg, 0);
    expect_btcusdt_report(rep);
    json_decref(rep);
}

/* The sample `bfmon record` made against `bfmon sim` (docs/sample/README.md): three symbols, a gap
 * injected into BTCUSDT's diff stream, then a disconnect of both connections. Replay finds the gap
 * (integrity fails, exit 1) and nothing else: the books end LIVE, the scales come from the header,
 * and the bookTickers lost in the disconnect do not turn into false mismatches. */
Test(replay, shipped_sim_sample_finds_the_injected_gap_and_nothing_else)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    cr_assert(root, "BF_SOURCE_ROOT is not set");
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s/docs/sample/sim_3symbols_gap_disconnect.rec.gz'", root);
    json_t *rep = replay_cli(arg, 1);
    cr_expect_eq(ival(rep, "bad_lines") + ival(rep, "decode_errors") + ival(rep, "read_errors"), 0);
    cr_expect_eq(ival(rep, "headers"), 1);
    static const char *const names[] = { "BTCUSDT", "ETHUSDT", "SOLUSDT" };
    for (size_t i = 0; i < 3; i++) {
        json_t *s = sym(rep, names[i]);
        cr_expect_str_eq(json_string_value(json_object_get(s, "state")), "LIVE", "%s", names[i]);
        cr_expect_eq(ival(s, "gaps"), i == 0 ? 1 : 0, "%s", names[i]);
        cr_expect_eq(ival(s, "bookticker_mismatches"), 0, "%s", names[i]);
        cr_expect_gt(ival(s, "bookticker_checks"), 100, "%s", names[i]);
        cr_expect_str_eq(json_string_value(json_object_get(json_object_get(s, "scale"), "source")),
                         "exchangeInfo", "%s", names[i]);
    }
    json_decref(rep);
}

/* Copy of raw_head2000.txt without line `skip` (1-based), or with `insert` before line `at`. */
static char *edited_copy(const char *name, size_t skip, size_t at, const char *insert)
{
    char *raw = tu_fixture(HB_RAW);
    size_t len;
    char *data = tu_read_file(raw, &len);
    cr_assert(data);
    char *out = malloc(len + (insert ? strlen(insert) : 0) + 1);
    size_t o = 0, line = 1;
    for (char *p = data; *p; line++) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (line == at && insert) {
            memcpy(out + o, insert, strlen(insert));
            o += strlen(insert);
        }
        if (line != skip) {
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    char *path = path_in(name);
    write_file(path, out, o);
    free(out);
    free(data);
    free(raw);
    return path;
}

/* The n-th @depth@0ms line after the snapshot (line 55). */
static size_t nth_depth_line_after_snapshot(size_t nth)
{
    char *raw = tu_fixture(HB_RAW);
    size_t len, count = 0, line = 0;
    char *data = tu_read_file(raw, &len);
    for (char *p = data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        line++;
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (line > 55 && memmem(p, n, "@depth@0ms", 10) && ++count == nth)
            break;
    }
    free(data);
    free(raw);
    cr_assert_eq(count, nth);
    return line;
}

Test(replay, removed_depth_line_is_a_gap)
{
    size_t victim = nth_depth_line_after_snapshot(20);
    char *path = edited_copy("gap.txt", victim, 0, NULL);
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s'", path);
    json_t *rep = replay_cli(arg, 1);
    cr_assert_str_eq(sval(rep, "integrity"), "failed");
    json_t *s = sym(rep, "BTCUSDT");
    cr_assert_geq(ival(s, "gaps"), 1);
    cr_assert_str_eq(sval(s, "state"), "RESYNCING");
    cr_assert_neq(sval(s, "reason")[0], '\0', "a gap must say why");
    cr_assert_str_eq(sval(s, "integrity"), "failed");
    cr_log_info("gap reason: %s", sval(s, "reason"));
    json_decref(rep);
    free(path);
}

Test(replay, malformed_lines_are_counted_and_skipped)
{
    char *path = edited_copy("bad.txt", 0, 100, "garbage line\n17231612x5 {\"a\":1}\n");
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s'", path);
    json_t *rep = replay_cli(arg, 1);
    cr_assert_eq(ival(rep, "bad_lines"), 2);
    cr_assert_eq(ival(rep, "lines"), 2000);
    cr_assert_str_eq(sval(rep, "integrity"), "failed");
    json_t *s = sym(rep, "BTCUSDT");
    cr_assert_str_eq(sval(s, "state"), "LIVE", "the good lines still replay");
    cr_assert_eq(ival(s, "applied"), 165);
    json_t *p = json_array_get(json_object_get(rep, "problems"), 0);
    cr_assert(strstr(json_string_value(p), "line 100"), "%s", json_string_value(p));
    json_decref(rep);
    free(path);
}

Test(replay, truncated_gzip_replays_lines_before_the_damage)
{
    char *raw = tu_fixture(HB_RAW);
    size_t len, glen;
    char *data = tu_read_file(raw, &len);
    char *gz = path_in("trunc.gz");
    write_gz(gz, data, len);
    char *g = tu_read_file(gz, &glen);
    write_file(gz, g, glen / 2);
    char arg[4200];
    snprintf(arg, sizeof arg, "'%s'", gz);
    json_t *rep = replay_cli(arg, 1);
    long long lines = ival(rep, "lines");
    cr_assert_gt(lines, 100);
    cr_assert_lt(lines, 2000);
    cr_assert_eq(ival(rep, "read_errors"), 1);
    cr_assert_str_eq(sval(rep, "integrity"), "failed");
    const char *p = json_string_value(json_array_get(json_object_get(rep, "problems"), 0));
    cr_assert(p && strstr(p, "truncated"), "%s", p);
    cr_assert_gt(ival(sym(rep, "BTCUSDT"), "applied"), 0);
    json_decref(rep);
    free(g);
    free(gz);
    free(data);
    free(raw);
}

/* ---- command line ------------------------------------------------------------------------- */

Test(replay, missing_file_exit_3_one_line)
{
    char *p = path_in("does-not-exist.txt");
    char args[4200];
    snprintf(args, sizeof args, "replay '%s' --headless --json", p);
    char *out = NULL;
    cr_assert_eq(run_bfmon(args, true, &out), 3);
    char want[4300];
    snprintf(want, sizeof want, "bfmon: cannot open %s: No such file or directory\n", p);
    cr_assert_str_eq(out, want);
    free(out);
    /* A directory is as unreadable as a missing file. */
    snprintf(args, sizeof args, "replay '%s' --json", tmpdir);
    cr_assert_eq(run_bfmon(args, true, &out), 3);
    snprintf(want, sizeof want, "bfmon: cannot open %s: Is a directory\n", tmpdir);
    cr_assert_str_eq(out, want);
    free(out);
    free(p);
}

Test(replay, split_files_replay_in_order)
{
    char *raw = tu_fixture(HB_RAW);
    size_t len;
    char *data = tu_read_file(raw, &len);
    char *cut = data;
    for (int i = 0; i < 1000; i++)
        cut = strchr(cut, '\n') + 1;
    char *a = path_in("part1.txt"), *b = path_in("part2.txt.gz");
    write_file(a, data, (size_t)(cut - data));
    write_gz(b, cut, len - (size_t)(cut - data));
    const char *whole[] = { raw }, *parts[] = { a, b };
    json_t *w = replay_inproc(whole, 1, NULL), *p = replay_inproc(parts, 2, NULL);
    expect_btcusdt_report(p);
    cr_assert_eq(json_array_size(json_object_get(p, "files")), 2);
    json_t *cw = comparable(w), *cp = comparable(p);
    cr_assert(json_equal(cw, cp), "two halves must replay like the whole file");
    json_decref(cw);
    json_decref(cp);
    json_decref(w);
    json_decref(p);
    free(a);
    free(b);
    free(data);
    free(raw);
}

Test(replay, usage_errors_exit_2)
{
    char *out = NULL;
    cr_assert_eq(run_bfmon("replay --no-such-flag x", false, &out), 2);
    cr_assert_str_eq(out, "", "usage goes to stderr");
    free(out);
    cr_assert_eq(run_bfmon("replay --json", true, &out), 2);
    cr_assert(strstr(out, "usage: bfmon replay"), "%s", out);
    free(out);
    cr_assert_eq(run_bfmon("frobnicate", false, NULL), 2);
    cr_assert_eq(run_bfmon("--bogus", false, NULL), 2);
}

Test(replay, help_and_version)
{
    char *out = NULL;
    cr_assert_eq(run_bfmon("--help", false, &out), 0);
    cr_assert(strstr(out, "replay"), "%s", out);
    free(out);
    cr_assert_eq(run_bfmon("replay --help", false, &out), 0);
    cr_assert(strstr(out, "--exchange-info"), "%s", out);
    free(out);
    cr_assert_eq(run_bfmon("--version", false, &out), 0);
    cr_assert_str_eq(out, "bfmon " BFMON_VERSION "\n");
    free(out);
}

/* --probes prints the decode/apply latency table on stderr, one count per line replayed. */
Test(replay, probes_report_on_stderr)
{
    char *path = tu_fixture("hftbacktest_usdm_btcusdt_20240808/raw_head2000.txt");
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "'%s' replay '%s' --json --probes 2>&1 >/dev/null",
             getenv("BF_BFMON"), path);
    char *out = NULL;
    cr_assert_eq(tu_run(cmd, &out), 0);
    cr_assert(strstr(out, "last 10 s") && strstr(out, "since start"), "%s", out);
    const char *decode = strstr(out, "decode");
    const char *apply = strstr(out, "apply");
    cr_assert(decode && apply, "%s", out);
    long n_decode = 0, n_apply = 0;
    cr_assert_eq(sscanf(decode, "decode %ld", &n_decode), 1);
    cr_assert_eq(sscanf(apply, "apply %ld", &n_apply), 1);
    cr_assert_eq(n_decode, 2000, "%s", out);
    cr_assert_eq(n_apply, 2000, "%s", out);
    free(out);
    free(path);
}

Test(replay, human_table)
{
    char *raw = tu_fixture(HB_RAW);
    char args[4200];
    snprintf(args, sizeof args, "replay '%s' --headless", raw);
    char *out = NULL;
    cr_assert_eq(run_bfmon(args, false, &out), 0);
    cr_assert(strstr(out, "BTCUSDT"), "%s", out);
    cr_assert(strstr(out, "61800.10 x 4.230"), "%s", out);
    cr_assert(strstr(out, "integrity ok"), "%s", out);
    free(out);
    free(raw);
}

/* ---- cryptofeed, four symbols -------------------------------------------------------------- */

typedef struct cf_rec {
    int64_t ns;
    size_t seq;
    char *text; /* one or more complete lines */
} cf_rec;

/* "1626992741.06217" -> 1626992741062170000, by digits (no floating point). */
static int64_t seconds_to_ns(const char *s, size_t n)
{
    int64_t sec = 0, frac = 0;
    size_t i = 0, digits = 0;
    for (; i < n && s[i] != '.'; i++)
        sec = sec * 10 + (s[i] - '0');
    for (i++; i < n && digits < 9; i++, digits++)
        frac = frac * 10 + (s[i] - '0');
    for (; digits < 9; digits++)
        frac *= 10;
    return sec * 1000000000LL + frac;
}

static char *fmt_line(int64_t ns, const char *body, size_t n)
{
    char *t = malloc(n + 32);
    int h = snprintf(t, 32, "%lld ", (long long)ns);
    memcpy(t + h, body, n);
    t[h + n] = '\n';
    t[h + n + 1] = '\0';
    return t;
}

/* ws file: "<sec.frac>: <message>" per line (the first line is the URL: skipped). */
static size_t read_ws(cf_rec *out, size_t cap)
{
    char *path = tu_fixture(CF_DIR "BINANCE_FUTURES.ws.1.0");
    char *data = tu_read_file(path, NULL);
    size_t n = 0, count;
    char **lines = tu_lines(data, &count);
    for (size_t i = 0; i < count; i++) {
        char *colon = strstr(lines[i], ": ");
        if (!colon || lines[i][0] < '0' || lines[i][0] > '9')
            continue;
        cr_assert_lt(n, cap);
        int64_t ns = seconds_to_ns(lines[i], (size_t)(colon - lines[i]));
        out[n] = (cf_rec){ ns, n, fmt_line(ns, colon + 2, strlen(colon + 2)) };
        n++;
    }
    free(lines);
    free(data);
    free(path);
    return n;
}

/* http file: "<url> -> <sec.frac>: <body>"; each snapshot gets a bfmon "rest" marker first. */
static size_t read_http(cf_rec *out, size_t n, size_t cap, bool markers)
{
    char *path = tu_fixture(CF_DIR "BINANCE_FUTURES.http.0.0");
    char *data = tu_read_file(path, NULL);
    size_t count;
    char **lines = tu_lines(data, &count);
    for (size_t i = 0; i < count; i++) {
        char *arrow = strstr(lines[i], " -> "), *colon = arrow ? strstr(arrow, ": ") : NULL;
        char *sym = strstr(lines[i], "symbol="), *amp = sym ? strchr(sym, '&') : NULL;
        if (!colon || !amp)
            continue;
        cr_assert_lt(n, cap);
        int64_t ns = seconds_to_ns(arrow + 4, (size_t)(colon - arrow - 4));
        char marker[256];
        int mlen =
            snprintf(marker, sizeof marker,
                     "{\"bfmon\":\"rest\",\"symbol\":\"%.*s\",\"path\":\"/fapi/v1/depth?%.*s\"}",
                     (int)(amp - sym - 7), sym + 7, (int)(arrow - strchr(lines[i], '?') - 1),
                     strchr(lines[i], '?') + 1);
        char *m = fmt_line(ns, marker, (size_t)mlen),
             *b = fmt_line(ns, colon + 2, strlen(colon + 2));
        out[n].ns = ns;
        out[n].seq = n;
        out[n].text = malloc(strlen(m) + strlen(b) + 1);
        snprintf(out[n].text, strlen(m) + strlen(b) + 1, "%s%s", markers ? m : "", b);
        free(m);
        free(b);
        n++;
    }
    free(lines);
    free(data);
    free(path);
    return n;
}

static int rec_cmp(const void *a, const void *b)
{
    const cf_rec *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Merge both files by receive time into one recording in the line format. */
static char *convert_cryptofeed(const char *name, bool markers)
{
    size_t cap = 4096;
    cf_rec *recs = calloc(cap, sizeof *recs);
    size_t n = read_ws(recs, cap);
    cr_assert_eq(n, 1535);
    n = read_http(recs, n, cap, markers);
    cr_assert_eq(n, 1539);
    qsort(recs, n, sizeof *recs, rec_cmp);
    char *path = path_in(name);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++) {
        fputs(recs[i].text, f);
        free(recs[i].text);
    }
    fclose(f);
    free(recs);
    return path;
}

Test(replay, seconds_to_ns_is_exact)
{
    cr_assert_eq(seconds_to_ns("1626992741.06217", 16), 1626992741062170000LL);
    cr_assert_eq(seconds_to_ns("1626992741.3105128", 18), 1626992741310512800LL);
    cr_assert_eq(seconds_to_ns("1626992741", 10), 1626992741000000000LL);
}

typedef struct cf_expect {
    const char *symbol, *bid, *ask;
    bool first_U_is_L; /* SUSHIUSDT: U == lastUpdateId; the others: u == lastUpdateId */
} cf_expect;

static const cf_expect cf_symbols[] = {
    { "SUSHIUSDT", "7.6120", "7.6160", true },
    { "AKROUSDT", "0.01734", "0.01735", false },
    { "KEEPUSDT", "0.2463", "0.2467", false },
    { "CTKUSDT", "1.01100", "1.01200", false },
};

static void expect_cryptofeed(json_t *rep, const char *scale_source)
{
    cr_assert_eq(ival(rep, "decode_errors"), 0);
    cr_assert_eq(ival(rep, "attribution_errors"), 0);
    cr_assert_eq(ival(rep, "bfmon_events"), 4);
    cr_assert_eq(json_object_size(json_object_get(rep, "symbols")), 4);
    for (size_t i = 0; i < 4; i++) {
        const cf_expect *x = &cf_symbols[i];
        json_t *s = sym(rep, x->symbol);
        cr_assert_str_eq(sval(s, "state"), "LIVE", "%s", x->symbol);
        cr_assert_eq(ival(s, "gaps"), 0, "%s", x->symbol);
        cr_assert_eq(ival(s, "resyncs"), 0, "%s", x->symbol);
        cr_assert_eq(ival(s, "crossed"), 0, "%s", x->symbol);
        expect_top(s, x->bid, NULL, x->ask, NULL);
        long long L = ival(s, "snapshot_id");
        json_t *first = json_object_get(s, "first_applied");
        if (x->first_U_is_L)
            cr_assert_eq(ival(first, "U"), L, "%s: first applied U == lastUpdateId", x->symbol);
        else
            cr_assert_eq(ival(first, "u"), L, "%s: first applied u == lastUpdateId", x->symbol);
        cr_assert_str_eq(sval(json_object_get(s, "scale"), "source"), scale_source);
        cr_log_info("%s: applied %lld dropped %lld, bookTicker checks %lld mismatches %lld "
                    "unverified %lld",
                    x->symbol, ival(s, "applied"), ival(s, "dropped"), ival(s, "bookticker_checks"),
                    ival(s, "bookticker_mismatches"), ival(s, "bookticker_unverified"));
    }
}

/* binance-protocol.md 5.3: applied and dropped per symbol. */
static void expect_cryptofeed_counts(json_t *rep)
{
    static const struct {
        const char *s;
        long long applied, dropped;
    } want[] = { { "SUSHIUSDT", 252, 3 },
                 { "AKROUSDT", 188, 1 },
                 { "KEEPUSDT", 132, 3 },
                 { "CTKUSDT", 180, 5 } };
    for (size_t i = 0; i < 4; i++) {
        json_t *s = sym(rep, want[i].s);
        cr_assert_eq(ival(s, "applied"), want[i].applied, "%s", want[i].s);
        cr_assert_eq(ival(s, "dropped"), want[i].dropped, "%s", want[i].s);
    }
}

Test(replay, cryptofeed_four_symbols_with_exchange_info)
{
    char *rec = convert_cryptofeed("cf.txt", true);
    char *ex = tu_fixture(CF_DIR "derived_rest_exchangeInfo.json");
    char args[8400];
    snprintf(args, sizeof args, "'%s' --exchange-info '%s'", rec, ex);
    json_t *rep = replay_cli(args, 0);
    json_t *cli = comparable(rep);
    expect_cryptofeed(rep, "exchangeInfo");
    json_decref(rep);
    const char *files[] = { rec };
    rep = replay_inproc(files, 1, ex);
    json_t *inproc = comparable(rep);
    cr_assert(json_equal(cli, inproc), "binary and in-process reports differ");
    json_decref(cli);
    json_decref(inproc);
    expect_cryptofeed(rep, "exchangeInfo");
    expect_cryptofeed_counts(rep);
    json_decref(rep);
    free(ex);
    free(rec);
}

Test(replay, cryptofeed_four_symbols_inferred_scales)
{
    char *rec = convert_cryptofeed("cf.txt", true);
    const char *files[] = { rec };
    json_t *rep = replay_inproc(files, 1, NULL);
    expect_cryptofeed(rep, "inferred");
    expect_cryptofeed_counts(rep);
    json_decref(rep);
    free(rec);
}

Test(replay, snapshot_without_marker_in_multi_symbol_file)
{
    char *rec = convert_cryptofeed("cf_nomarkers.txt", false);
    const char *files[] = { rec };
    json_t *rep = replay_inproc(files, 1, NULL);
    /* SUSHIUSDT's snapshot comes while it is the only symbol seen (rule b); the other three come
     * after several symbols appeared and cannot be attributed. */
    cr_assert_eq(ival(rep, "attribution_errors"), 3);
    cr_assert_str_eq(sval(rep, "integrity"), "failed");
    cr_assert_str_eq(sval(sym(rep, "SUSHIUSDT"), "state"), "LIVE");
    cr_assert_str_eq(sval(sym(rep, "AKROUSDT"), "state"), "SNAPSHOTTING");
    const char *p = json_string_value(json_array_get(json_object_get(rep, "problems"), 0));
    cr_assert(p && strstr(p, "REST snapshot without a symbol"), "%s", p);
    json_decref(rep);
    free(rec);
}

/* A file with `first` as its line 1, then every line of `src`. */
static char *prepend_line(const char *name, const char *src, const char *first)
{
    size_t len;
    char *data = tu_read_file(src, &len);
    cr_assert(data);
    char *path = path_in(name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fprintf(f, "%s\n", first);
    fwrite(data, 1, len, f);
    fclose(f);
    free(data);
    return path;
}

/* The header line bfmon record writes: {"bfmon":"header",...,"exchange_info":{...}}. */
static char *header_with_info(void)
{
    char *ex = tu_fixture(CF_DIR "derived_rest_exchangeInfo.json");
    json_t *info = json_load_file(ex, 0, NULL);
    cr_assert(info, "cannot load %s", ex);
    free(ex);
    json_t *h = json_pack("{s:s,s:i,s:s,s:o}", "bfmon", "header", "format", 1, "version",
                          BFMON_VERSION, "exchange_info", info);
    char *body = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    size_t n = strlen(body) + 32;
    char *line = malloc(n);
    snprintf(line, n, "1626992741000000000 %s", body);
    free(body);
    return line;
}

Test(replay, header_exchange_info_gives_the_scales)
{
    char *rec = convert_cryptofeed("cf.txt", true);
    char *header = header_with_info();
    char *with = prepend_line("cf_header.txt", rec, header);
    const char *files[] = { with };
    json_t *rep = replay_inproc(files, 1, NULL);
    cr_assert_str_eq(sval(rep, "integrity"), "ok");
    cr_assert_eq(ival(rep, "headers"), 1);
    for (size_t i = 0; i < 4; i++) {
        json_t *s = sym(rep, cf_symbols[i].symbol);
        cr_assert_str_eq(sval(json_object_get(s, "scale"), "source"), "exchangeInfo", "%s",
                         cf_symbols[i].symbol);
        expect_top(s, cf_symbols[i].bid, NULL, cf_symbols[i].ask, NULL);
    }
    cr_assert_eq(ival(rep, "bfmon_events"), 5, "the header counts as a bfmon event");
    json_decref(rep);
    free(with);
    free(header);
    free(rec);
}

Test(replay, header_without_usable_info_infers_scales)
{
    char *rec = convert_cryptofeed("cf.txt", true);
    char *with = prepend_line("cf_badheader.txt", rec,
                              "1626992741000000000 {\"bfmon\":\"header\",\"format\":1,"
                              "\"exchange_info\":{\"rateLimits\":[]}}");
    const char *files[] = { with };
    json_t *rep = replay_inproc(files, 1, NULL);
    cr_assert_eq(ival(rep, "headers"), 1);
    json_t *s = sym(rep, "SUSHIUSDT");
    cr_assert_str_eq(sval(json_object_get(s, "scale"), "source"), "inferred");
    cr_assert_str_eq(sval(s, "state"), "LIVE");
    json_decref(rep);
    free(with);
    free(rec);
}

Test(replay, dropped_marker_is_a_problem)
{
    char *path = edited_copy("dropped.txt", 0, 1000,
                             "1723161256000000000 {\"bfmon\":\"dropped\",\"lines\":7,\"ring\":7,"
                             "\"io\":0}\n1723161256000000001 {\"bfmon\":\"gap\",\"symbol\":"
                             "\"BTCUSDT\",\"pu\":1,\"prev_u\":2}\n");
    const char *files[] = { path };
    json_t *rep = replay_inproc(files, 1, NULL);
    cr_assert_str_eq(sval(rep, "integrity"), "failed", "data lost in the recording");
    cr_assert_eq(ival(rep, "dropped_markers"), 1);
    cr_assert_eq(ival(rep, "dropped_lines"), 7);
    cr_assert_eq(ival(rep, "bfmon_events"), 2, "dropped and gap");
    json_t *s = sym(rep, "BTCUSDT");
    cr_assert_str_eq(sval(s, "state"), "LIVE", "a gap event is informational");
    cr_assert_eq(ival(s, "gaps"), 0);
    const char *p = json_string_value(json_array_get(json_object_get(rep, "problems"), 0));
    cr_assert(p && strstr(p, "dropped 7 line") && strstr(p, "line 1000"), "%s", p);
    json_decref(rep);
    free(path);
}

/* Markets are found by the symbol's length and first bytes (then the rest): names that share
 * prefixes, end alike or differ only past the 8th byte each get their own market, and every
 * event lands in its own. */
Test(replay, similar_symbol_names_get_their_own_markets)
{
    static const char *const names[] = {
        "A",         "AB",           "ABC",
        "ABCD",      "ABCE",         "XBCD",
        "ABCDUSDT",  "ABCDUSDC",     "ABCDEUSDT",
        "ABCDFUSDT", "1000PEPEUSDT", "1000PEPEUSDC",
        "BCDUSDT",   "ABCDE",        "ABCDF",
        "ABCDXYZ",   "ABCDXYW",      "ABCDEFGHIJKLMNOPQRSTUVWXYZ12345"
    };
    size_t ns = sizeof names / sizeof names[0];
    char *data = NULL;
    size_t len = 0;
    for (size_t round = 0; round < ns; round++) /* symbol j gets j + 1 trades, interleaved */
        for (size_t j = round; j < ns; j++) {
            char line[512];
            int n = snprintf(line, sizeof line,
                             "%zu {\"e\":\"aggTrade\",\"E\":1,\"a\":1,\"s\":\"%s\",\"p\":\"1.5\","
                             "\"q\":\"2\",\"f\":1,\"l\":1,\"T\":1,\"m\":true}\n",
                             1000000 + len, names[j]);
            data = realloc(data, len + (size_t)n);
            memcpy(data + len, line, (size_t)n);
            len += (size_t)n;
        }
    char *p = path_in("names.txt");
    write_file(p, data, len);
    json_t *rep = replay_inproc((const char *const[]){ p }, 1, NULL);
    json_t *syms = json_object_get(rep, "symbols");
    cr_assert_eq(json_object_size(syms), ns, "%zu markets", json_object_size(syms));
    for (size_t j = 0; j < ns; j++)
        cr_expect_eq(ival(sym(rep, names[j]), "agg_trades"), (long long)j + 1, "%s", names[j]);
    json_decref(rep);
    free(p);
    free(data);
}
