/*
 * `bfmon replay` in the terminal UI, end to end: bfmon in a detached tmux session (its own server
 * socket per test) playing the shipped sample or a small synthetic recording. Keys go in with
 * send-keys, the screen comes back with capture-pane; every wait polls the captured text until
 * what is expected appears or a deadline passes. Also `--verify`, headless.
 *
 * Screen geometry at 120x40 (tui/layout): the ladder fills columns 0..53, the status bar is the
 * last row.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tpane.h"

#define LADDER_W  54
#define WAIT_MS   20000
#define BTC_PRICE "6[01][0-9]{3}\\.[0-9]0" /* the sample's BTCUSDT, around 61800.00 */
#define T0        1700000000000000000LL
#define SYM       "TESTUSDT"

typedef struct tui {
    tpane pane;
    char *dir; /* the wrapper script and recordings */
} tui;

static tui T; /* one per test process; .fini cleans up after a failed assertion */

static const char *dir_of(tui *t)
{
    if (!t->dir)
        t->dir = tu_mkdtemp();
    return t->dir;
}

/* The pane runs a script: bfmon replay, then the exit status and the terminal's line discipline. */
static char *write_wrapper(tui *t, const char *args)
{
    const char *bfmon = getenv("BF_BFMON");
    cr_assert(bfmon, "BF_BFMON is not set (run the tests through meson)");
    char body[4096];
    snprintf(body, sizeof body, "export XDG_CONFIG_HOME=%s\n%s replay %s", dir_of(t), bfmon,
             args); /* XDG: no user keymap file */
    return tpane_script(t->dir, body);
}

static void start_replay(tui *t, int w, int h, const char *args)
{
    char *script = write_wrapper(t, args);
    tpane_start(&t->pane, w, h, script);
    free(script);
}

static void cleanup(void)
{
    tui *t = &T;
    tpane_stop(&t->pane);
    if (t->dir) {
        tu_rmtree(t->dir);
        free(t->dir);
        t->dir = NULL;
    }
}

/* ---- the captured screen ---------------------------------------------------------------------- */

static char *capture(const tui *t)
{
    return tpane_capture(&t->pane);
}

static char *wait_screen(const tui *t, tpane_pred pred, const void *ctx, int timeout_ms,
                         const char *what)
{
    return tpane_wait(&t->pane, pred, ctx, timeout_ms, what);
}

static bool matches_re(const char *cap, const void *ctx)
{
    return tpane_matches(cap, ctx);
}

static bool ladder_shows(const char *cap, const void *ctx)
{
    char *ladder = tpane_region(cap, 0, LADDER_W, 0, 36);
    bool ok = tpane_matches(ladder, ctx);
    free(ladder);
    return ok;
}

static void wait_text(const tui *t, const char *text)
{
    free(wait_screen(t, tpane_has_text, text, WAIT_MS, text));
}

/* The status bar's recording time ("2024-08-08 23:54:15.123"), copied into out. */
static void status_time(const char *cap, char *out, size_t n)
{
    regex_t re;
    regmatch_t m;
    cr_assert_eq(regcomp(&re, "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\\.[0-9]{3}", REG_EXTENDED), 0);
    int rc = regexec(&re, cap, 1, &m, 0);
    regfree(&re);
    cr_assert_eq(rc, 0, "no recording time on screen:\n%s", cap);
    snprintf(out, n, "%.*s", (int)(m.rm_eo - m.rm_so), cap + m.rm_so);
}

typedef struct time_check {
    const char *text; /* must be on screen */
    const char *when; /* the recording time must (not) be this */
    bool same;
} time_check;

static bool time_is(const char *cap, const void *ctx)
{
    const time_check *c = ctx;
    if (!strstr(cap, c->text))
        return false;
    char now[40];
    status_time(cap, now, sizeof now);
    return (strcmp(now, c->when) == 0) == c->same;
}

static void expect_restored(const tui *t)
{
    tpane_expect_restored(&t->pane, WAIT_MS);
}

/* ---- recordings ------------------------------------------------------------------------------ */

/* A marked snapshot, then n depth events and bookTickers one second apart; a bfmon gap event line
 * after event gap_after. */
static char *write_synthetic(tui *t, int n, int gap_after)
{
    size_t len = strlen(dir_of(t)) + 16;
    char *path = malloc(len);
    snprintf(path, len, "%s/syn.txt", t->dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f,
            "%lld {\"bfmon\":\"rest\",\"symbol\":\"" SYM "\",\"path\":\"/fapi/v1/depth\"}\n"
            "%lld {\"lastUpdateId\":5,\"E\":1,\"T\":1,\"bids\":[[\"99.00\",\"3.0\"]],"
            "\"asks\":[[\"111.00\",\"4.0\"]]}\n",
            T0, T0);
    for (int k = 1; k <= n; k++) {
        long long at = T0 + k * 1000000000LL, ms = at / 1000000;
        fprintf(f,
                "%lld {\"stream\":\"testusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\","
                "\"E\":%lld,\"T\":%lld,\"s\":\"" SYM "\",\"U\":%d,\"u\":%d,\"pu\":%d,"
                "\"b\":[[\"100.%02d\",\"%d.0\"]],\"a\":[[\"110.%02d\",\"1.0\"]]}}\n",
                at, ms, ms, 10 * (k - 1) + 1, 10 * k, 10 * (k - 1), k, k, k);
        if (k == gap_after)
            fprintf(f, "%lld {\"bfmon\":\"gap\",\"symbol\":\"" SYM "\",\"pu\":1,\"prev_u\":2}\n",
                    at + 1000);
    }
    fclose(f);
    return path;
}

/* ---- tests ------------------------------------------------------------------------------------ */

Test(tui_replay, sample_plays_into_the_live_screens_and_the_keys_drive_it, .fini = cleanup,
     .timeout = 180)
{
    tui *t = &T;
    char *sample = tu_source_path(TU_SAMPLE), args[4200];
    snprintf(args, sizeof args, "'%s' --speed 0.5", sample);
    free(sample);
    start_replay(t, 120, 40, args);
    /* the REPLAY mark with the recording's date, and the file's prices in the ladder */
    free(wait_screen(t, matches_re, "REPLAY 0.5x playing 2024-08-08 23:54:[0-9]{2}", WAIT_MS,
                     "the REPLAY mark with the recording time"));
    free(wait_screen(t, ladder_shows, "^ *" BTC_PRICE " +[0-9]+\\.[0-9]+ +[0-9]+\\.[0-9]+", WAIT_MS,
                     "a BTCUSDT ladder from the file"));
    wait_text(t, "BTCUSDT LIVE");

    tpane_keys(&t->pane, "Space");
    char *cap = wait_screen(t, tpane_has_text, "0.5x PAUSED", WAIT_MS, "PAUSED after Space");
    char paused_at[40];
    status_time(cap, paused_at, sizeof paused_at);
    free(cap);
    /* the time stands still while paused: a later screen (after '>') shows the same time */
    tpane_keys(&t->pane, "'>'");
    time_check same = { "REPLAY 1x PAUSED", paused_at, true };
    free(wait_screen(t, time_is, &same, WAIT_MS, "1x, still PAUSED at the same time"));
    wait_text(t, "replay speed 1x");

    tpane_keys(&t->pane, ".");
    time_check moved = { "REPLAY 1x PAUSED", paused_at, false };
    free(wait_screen(t, time_is, &moved, WAIT_MS, "a step moves the time and stays PAUSED"));

    tpane_keys(&t->pane, "'>' '>' '>' '>' '>' '>' '>' '>'"); /* 2 5 10 25 50 100 max max */
    wait_text(t, "REPLAY max PAUSED");
    tpane_keys(&t->pane, "Space");
    free(wait_screen(t, matches_re, "REPLAY max END 2024-08-08 23:54:23\\.855", WAIT_MS,
                     "END at the last line's time"));
    wait_text(t, "BTCUSDT LIVE"); /* the screen stays */
    tpane_wait_format(&t->pane, "#{alternate_on} #{cursor_flag}", "1 0\n", WAIT_MS);
    tpane_keys(&t->pane, "q");
    expect_restored(t);
}

Test(tui_replay, next_event_stops_at_the_gap_and_help_lists_the_replay_keys, .fini = cleanup,
     .timeout = 120)
{
    tui *t = &T;
    char *rec = write_synthetic(t, 30, 12), args[512];
    snprintf(args, sizeof args, "'%s' --speed 0.1", rec);
    free(rec);
    start_replay(t, 120, 40, args);
    wait_text(t, "REPLAY 0.1x playing 2023-11-14");
    tpane_keys(&t->pane, "n");
    wait_text(t, "gap " SYM);
    char *cap = wait_screen(t, tpane_has_text, "PAUSED", WAIT_MS, "PAUSED at the gap");
    cr_assert(strstr(cap, "22:13:32.000"), "stopped at the 12th event's time:\n%s", cap);
    free(cap);
    tpane_keys(&t->pane, "?");
    wait_text(t, "next-event");
    cap = capture(t);
    cr_assert(strstr(cap, "play-pause"), "%s", cap);
    cr_assert(strstr(cap, "Space"), "%s", cap);
    free(cap);
    tpane_keys(&t->pane, "Escape");
    tpane_keys(&t->pane, "q");
    expect_restored(t);
}

Test(tui_replay, a_missing_file_exits_3_before_the_screen_opens, .fini = cleanup)
{
    tui *t = &T;
    start_replay(t, 100, 20, "/nonexistent/recording.txt");
    wait_text(t, "bfmon exited 3");
    char *cap = capture(t);
    cr_assert(strstr(cap, "cannot open /nonexistent/recording.txt"), "%s", cap);
    free(cap);
}

/* ---- --verify (headless) ----------------------------------------------------------------------- */

static int run_verify(const char *files, char **out)
{
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "'%s' replay --verify %s", getenv("BF_BFMON"), files);
    return tu_run(cmd, out);
}

Test(tui_replay, verify_gives_one_verdict_per_symbol_and_the_exit_status)
{
    char *sample = tu_source_path(TU_SAMPLE), files[4200];
    snprintf(files, sizeof files, "'%s'", sample);
    free(sample);
    char *out = NULL;
    cr_assert_eq(run_verify(files, &out), 0, "%s", out);
    cr_assert(tpane_matches(out,
                            "^BTCUSDT +ok +continuity: 169 depth events, 0 gaps, 0 resyncs, ends "
                            "LIVE; bookTicker: [0-9]+ checks, 0 mismatches"),
              "%s", out);
    cr_assert(strstr(out, "integrity ok (1 files, 2000 lines"), "%s", out);
    free(out);

    tui *t = &T;
    char *rec = write_synthetic(t, 8, 0);
    /* drop the 4th depth line: a gap */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sed -i '/\"u\":40,/d' '%s'", rec);
    cr_assert_eq(tu_run(cmd, NULL), 0);
    snprintf(files, sizeof files, "'%s'", rec);
    free(rec);
    cr_assert_eq(run_verify(files, &out), 1, "an integrity failure exits 1:\n%s", out);
    cr_assert(tpane_matches(out, "^" SYM " +FAILED +continuity: 7 depth events, 1 gaps"), "%s",
              out);
    cr_assert(strstr(out, "integrity failed"), "%s", out);
    free(out);
    cleanup();
}
