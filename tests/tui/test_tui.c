/*
 * The terminal UI end to end: `bfmon` in a detached tmux session (its own server socket per test,
 * so tests run in parallel) against a `bfmon sim` on ephemeral ports. Keys go in with send-keys,
 * the screen comes back with capture-pane; every wait polls the captured text until what is
 * expected appears or a deadline passes.
 *
 * Screen geometry at 120x40 (tui/layout): the ladder fills columns 0..53 of rows 0..36, the right
 * column starts at 55 with the strip on row 0 and the watchlist from row 1; the spread line takes
 * row 37 across the width, the status bar rows 38 and 39.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tpane.h"

#define LADDER_W   54
#define RIGHT_X    55
#define FIRST_MS   30000 /* sim start, engine start, first snapshot */
#define WAIT_MS    15000
#define BTC_PRICE  "6[0-3][0-9]{3}\\.[0-9]0"   /* BTCUSDT around 61800.00, tick 0.10 */
#define ETH_PRICE  "2[5-7][0-9]{2}\\.[0-9]{2}" /* ETHUSDT around 2650.00 */
#define SOL_PRICE  "1[4-6][0-9]\\.[0-9]{4}"    /* SOLUSDT around 155.0000 */
#define DOGE_PRICE "0\\.(09|10)[0-9]{3}"       /* DOGEUSDT around 0.10000 */

typedef struct tui {
    tpane pane;
    tu_sim sim;
    bool have_sim;
    char *dir;       /* the wrapper script */
    const char *env; /* "NAME=value" exported before bfmon starts, or NULL */
    pid_t child;     /* bfmon on a pty of the test's own (not tmux), or 0 */
} tui;

/* One per test process (Criterion forks each test): each test's .fini stops whatever is still
 * running when an assertion ends the test early. */
static tui T;

static void start_sim(tui *t, const char *const *sim_args)
{
    tu_sim_start(&t->sim, sim_args);
    t->have_sim = true;
}

/* The pane runs a shell script: bfmon, then the shell reports its exit status and the terminal's
 * line discipline (icanon, echo) and stays, so the test reads the state bfmon left behind. */
static char *write_wrapper(tui *t, const char *extra)
{
    const char *bfmon = getenv("BF_BFMON");
    cr_assert(bfmon, "BF_BFMON is not set (run the tests through meson)");
    if (!t->dir) /* a test may have made it already, for files of its own */
        t->dir = tu_mkdtemp();
    char body[2048];
    int n = snprintf(body, sizeof body, "%s%s%s", t->env ? "export " : "", t->env ? t->env : "",
                     t->env ? "\n" : "");
    if (t->have_sim)
        snprintf(body + n, sizeof body - (size_t)n, "%s --rest-url %s --ws-url %s %s", bfmon,
                 t->sim.rest, t->sim.ws, extra ? extra : "");
    else
        snprintf(body + n, sizeof body - (size_t)n, "%s %s", bfmon, extra ? extra : "");
    return tpane_script(t->dir, body);
}

/* bfmon in a w x h tmux window against the sim; extra: further options. */
static void start_ui(tui *t, int w, int h, const char *extra)
{
    char *script = write_wrapper(t, extra);
    tpane_start(&t->pane, w, h, script);
    free(script);
}

static void stop_all(tui *t)
{
    if (t->child > 0) {
        kill(t->child, SIGKILL);
        waitpid(t->child, NULL, 0);
        t->child = 0;
    }
    tpane_stop(&t->pane);
    if (t->have_sim)
        tu_sim_stop(&t->sim);
    t->have_sim = false;
    if (t->dir) {
        tu_rmtree(t->dir);
        free(t->dir);
        t->dir = NULL;
    }
}

static void cleanup(void)
{
    stop_all(&T);
}

/* ---- the captured screen ---------------------------------------------------------------------- */

static char *capture(const tui *t)
{
    return tpane_capture(&t->pane);
}

static void wait_screen(const tui *t, tpane_pred pred, const void *ctx, int timeout_ms,
                        const char *what)
{
    free(tpane_wait(&t->pane, pred, ctx, timeout_ms, what));
}

/* The ladder column shows prices of pattern `want` and none of pattern `not` appears anywhere
 * on screen except in the watchlist rows (1..nwatch of the right column, which list every
 * symbol). */
typedef struct ladder_check {
    const char *want, *not ;
    int nwatch;
} ladder_check;

static bool ladder_shows(const char *cap, const void *ctx)
{
    const ladder_check *c = ctx;
    char *ladder = tpane_region(cap, 0, LADDER_W, 0, 37);
    bool ok = tpane_matches(ladder, c->want);
    free(ladder);
    if (ok && c->not ) {
        char *left = tpane_region(cap, 0, RIGHT_X, 0, 40);
        char *right_top = tpane_region(cap, RIGHT_X, 400, 0, 1);
        char *right_rest = tpane_region(cap, RIGHT_X, 400, 1 + c->nwatch, 40);
        ok = !tpane_matches(left, c->not ) && !tpane_matches(right_top, c->not ) &&
             !tpane_matches(right_rest, c->not );
        free(left);
        free(right_top);
        free(right_rest);
    }
    return ok;
}

static void wait_live_btc(const tui *t)
{
    ladder_check c = { BTC_PRICE, NULL, 0 };
    wait_screen(t, ladder_shows, &c, FIRST_MS, "a BTCUSDT ladder");
    wait_screen(t, tpane_has_text, "BTCUSDT LIVE", FIRST_MS, "BTCUSDT LIVE");
}

/* ---- the sim's control plane ------------------------------------------------------------------ */

static size_t discard(char *d, size_t s, size_t n, void *ctx)
{
    (void)d;
    (void)ctx;
    return s * n;
}

static void sim_fault(const tui *t, const char *spec)
{
    char url[256];
    snprintf(url, sizeof url, "%s/sim/fault", t->sim.rest);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, spec);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cr_assert(rc == CURLE_OK && status == 200, "fault %s: %s %ld", spec, curl_easy_strerror(rc),
              status);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static const char *const five[] = { NULL };

/* The common opening: the sim's five symbols, bfmon at 120x40, BTCUSDT's ladder LIVE. */
static void start_live_btc(tui *t)
{
    start_sim(t, five);
    start_ui(t, 120, 40, NULL);
    wait_live_btc(t);
}

Test(tui, shows_a_live_ladder_for_the_default_symbol, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    char *cap = capture(t);
    char *ladder = tpane_region(cap, 0, LADDER_W, 1, 36);
    /* every ladder row: price, quantity, cumulative quantity */
    cr_assert(tpane_matches(ladder, "^ *" BTC_PRICE " +[0-9]+\\.[0-9]+ +[0-9]+\\.[0-9]+"), "%s",
              cap);
    cr_assert(strstr(cap, "1 BTCUSDT"), "the watchlist lists the default symbols:\n%s", cap);
    cr_assert(strstr(cap, "5 XRPUSDT"), "%s", cap);
    free(ladder);
    free(cap);
}

/* The benchmark's floor arm: frames go on (the status bar's book states change), data panels and
 * the watchlist are never drawn. */
Test(tui, the_bench_floor_draws_only_the_status_bar, .fini = cleanup)
{
    tui *t = &T;
    start_sim(t, five);
    start_ui(t, 120, 40, "--bench-floor");
    wait_screen(t, tpane_has_text, "BTCUSDT LIVE", FIRST_MS, "BTCUSDT LIVE in the status bar");
    char *cap = capture(t);
    const char *status = strstr(cap, "public up");
    cr_assert(status, "%s", cap);
    for (const char *c = cap; c < status; c++)
        cr_assert(*c == ' ' || *c == '\n', "nothing above the status bar:\n%s", cap);
    cr_assert(!tpane_matches(cap, BTC_PRICE), "no price anywhere:\n%s", cap);
    free(cap);
}

Test(tui, keys_switch_the_symbol_and_nothing_of_the_old_remains, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    ladder_check eth = { ETH_PRICE, BTC_PRICE, 5 }, btc = { BTC_PRICE, ETH_PRICE, 5 },
                 sol = { SOL_PRICE, ETH_PRICE, 5 };
    tpane_keys(&t->pane, "Tab");
    wait_screen(t, ladder_shows, &eth, WAIT_MS, "ETHUSDT after Tab");
    tpane_keys(&t->pane, "BTab");
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "BTCUSDT after Shift-Tab");
    tpane_keys(&t->pane, "Right");
    wait_screen(t, ladder_shows, &eth, WAIT_MS, "ETHUSDT after Right");
    tpane_keys(&t->pane, "Left");
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "BTCUSDT after Left");
    tpane_keys(&t->pane, "l");
    wait_screen(t, ladder_shows, &eth, WAIT_MS, "ETHUSDT after l");
    tpane_keys(&t->pane, "3");
    wait_screen(t, ladder_shows, &sol, WAIT_MS, "SOLUSDT after 3");
    tpane_keys(&t->pane, "h");
    wait_screen(t, ladder_shows, &eth, WAIT_MS, "ETHUSDT after h");
    tpane_keys(&t->pane, "1");
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "BTCUSDT after 1");
    tpane_keys(&t->pane, "h"); /* wraps to the last symbol */
    ladder_check xrp = { "0\\.5[0-9]{3}", BTC_PRICE, 5 };
    wait_screen(t, ladder_shows, &xrp, WAIT_MS, "XRPUSDT after h from the first");
}

Test(tui, search_adds_a_symbol_and_switches_to_it, .fini = cleanup)
{
    tui *t = &T;
    static const char *const args[] = { "--symbols", "BTCUSDT,ETHUSDT,DOGEUSDT,ADAUSDT", NULL };
    start_sim(t, args);
    start_ui(t, 120, 40, "--symbols BTCUSDT,ETHUSDT");
    wait_live_btc(t);
    wait_screen(t, tpane_lacks_text, "DOGEUSDT", WAIT_MS, "DOGEUSDT not watched yet");
    tpane_keys(&t->pane, "/");
    wait_screen(t, tpane_has_text, "ADAUSDT", WAIT_MS, "the search list of every perpetual");
    tpane_keys(&t->pane, "D O");
    wait_screen(t, tpane_lacks_text, "ADAUSDT", WAIT_MS, "the list narrowed to DO...");
    wait_screen(t, tpane_has_text, "DOGEUSDT", WAIT_MS, "DOGEUSDT in the search list");
    tpane_keys(&t->pane, "Enter");
    ladder_check doge = { DOGE_PRICE, BTC_PRICE, 3 };
    wait_screen(t, ladder_shows, &doge, WAIT_MS, "the DOGEUSDT ladder");
    wait_screen(t, tpane_has_text, "3 DOGEUSDT", WAIT_MS, "DOGEUSDT third in the watchlist");
    wait_screen(t, tpane_has_text, "DOGEUSDT LIVE", FIRST_MS, "DOGEUSDT LIVE");
    tpane_keys(&t->pane, "1");
    ladder_check btc = { BTC_PRICE, DOGE_PRICE, 3 };
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "BTCUSDT again");
}

/* Types name into the open search and adds it; waits until the watchlist shows it. */
static void search_add(tui *t, const char *name)
{
    char spaced[64] = "", want[80];
    for (size_t i = 0; name[i] && strlen(spaced) + 3 < sizeof spaced; i++) {
        size_t n = strlen(spaced);
        spaced[n] = name[i];
        spaced[n + 1] = ' ';
        spaced[n + 2] = '\0';
    }
    tpane_keys(&t->pane, "/");
    wait_screen(t, tpane_has_text, "BTCUSDT", WAIT_MS, "the search list");
    tpane_keys(&t->pane, spaced);
    tpane_keys(&t->pane, "Enter");
    snprintf(want, sizeof want, "%s added", name);
    wait_screen(t, tpane_has_text, want, WAIT_MS, want);
}

/* At most APP_RECENT_MAX (8) symbols added by search stay subscribed; the ninth evicts the least
 * recently viewed one, not the oldest added, and never a configured one. */
Test(tui, search_keeps_at_most_eight_added_symbols_least_recently_viewed_goes, .fini = cleanup)
{
    static const char *const added[] = { "DOGEUSDT", "ADAUSDT", "LTCUSDT", "LINKUSDT", "DOTUSDT",
                                         "AVAXUSDT", "TRXUSDT", "BCHUSDT", "ATOMUSDT" };
    static const char *const args[] = {
        "--symbols",
        "BTCUSDT,DOGEUSDT,ADAUSDT,LTCUSDT,LINKUSDT,DOTUSDT,AVAXUSDT,TRXUSDT,BCHUSDT,ATOMUSDT", NULL
    };
    tui *t = &T;
    start_sim(t, args);
    start_ui(t, 140, 45, "--symbols BTCUSDT");
    wait_live_btc(t);
    for (int i = 0; i < 8; i++)
        search_add(t, added[i]);
    wait_screen(t, tpane_has_text, "9 BCHUSDT", WAIT_MS, "eight added symbols after BTCUSDT");
    tpane_keys(&t->pane, "2"); /* view DOGEUSDT again: ADAUSDT is now the least recently viewed */
    wait_screen(t, tpane_has_text, "DOGEUSDT", WAIT_MS, "DOGEUSDT selected");
    search_add(t, added[8]);
    wait_screen(t, tpane_has_text, "ATOMUSDT added; ADAUSDT unsubscribed (at most 8", WAIT_MS,
                "the eviction named in the status line");
    char *cap = capture(t);
    char *status = tpane_region(cap, 0, 140, 43, 44);
    cr_expect(strstr(status, "DOGE"), "the recently viewed DOGEUSDT stayed:\n%s", cap);
    cr_expect(strstr(status, "ATOM"), "%s", cap);
    cr_expect(!strstr(status, "ADA"), "ADAUSDT still in the status bar:\n%s", cap);
    cr_expect(strstr(status, "BTC"), "the configured symbol stays:\n%s", cap);
    free(status);
    free(cap);
    wait_screen(t, tpane_lacks_text, "ADAUSDT", WAIT_MS, /* the message stays 8 s */
                "ADAUSDT gone from the screen once the message ends");
}

Test(tui, help_opens_and_closes, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    wait_screen(t, tpane_lacks_text, "next-symbol", WAIT_MS, "no help at first");
    tpane_keys(&t->pane, "?");
    wait_screen(t, tpane_has_text, "next-symbol", WAIT_MS, "the help overlay");
    char *cap = capture(t);
    cr_assert(strstr(cap, "Tab, l, Right"), "help lists the keys from the table:\n%s", cap);
    cr_assert(strstr(cap, "quit"), "%s", cap);
    free(cap);
    tpane_keys(&t->pane, "?");
    wait_screen(t, tpane_lacks_text, "next-symbol", WAIT_MS, "the help overlay to close");
    ladder_check btc = { BTC_PRICE, NULL, 0 };
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "the ladder back");
    tpane_keys(&t->pane, "?");
    wait_screen(t, tpane_has_text, "next-symbol", WAIT_MS, "the help overlay again");
    tpane_keys(&t->pane, "Escape");
    wait_screen(t, tpane_lacks_text, "next-symbol", WAIT_MS, "Esc to close the help");
}

/* Every line of the capture fits w columns and the pane is still alive. */
static bool fits(const char *cap, const void *ctx)
{
    int w = *(const int *)ctx;
    char *wide = tpane_region(cap, w, 1000, 0, 1000);
    bool ok = strspn(wide, "\n ") == strlen(wide);
    free(wide);
    return ok;
}

static bool full_layout_intact(const char *cap, const void *ctx)
{
    (void)ctx;
    /* the column rule on every row above the spread line, the spread line across the width with
     * mid and imbalance, the status bar at the bottom, ladder rows */
    char *rule = tpane_region(cap, LADDER_W, LADDER_W + 1, 0, 37);
    bool ok = true;
    for (const char *p = rule; *p; p = strchr(p, '\n') + 1)
        ok &= !strncmp(p, "│", strlen("│")) || *p == '|';
    free(rule);
    char *spread = tpane_region(cap, 0, 120, 37, 38);
    ok &= tpane_matches(spread, "^bid .* mid [0-9.]+ +imb [-+][0-9.]+%");
    free(spread);
    char *status = tpane_region(cap, 0, 120, 38, 39);
    ok &= strstr(status, "BTCUSDT LIVE") != NULL;
    free(status);
    char *ladder = tpane_region(cap, 0, LADDER_W, 1, 36);
    ok &= tpane_matches(ladder, "^ *" BTC_PRICE " +[0-9.]+ +[0-9.]+");
    free(ladder);
    return ok;
}

Test(tui, resizing_small_and_back_neither_crashes_nor_garbles, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    cr_assert_eq(tpane_cmd(&t->pane, NULL, "resize-window -t bf -x 40 -y 12"), 0);
    int w40 = 40;
    ladder_check btc = { BTC_PRICE, NULL, 0 };
    wait_screen(t, fits, &w40, WAIT_MS, "a screen 40 columns wide");
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "the compact ladder at 40x12");
    cr_assert_eq(tpane_cmd(&t->pane, NULL, "resize-window -t bf -x 20 -y 6"), 0);
    wait_screen(t, tpane_has_text, "too small", WAIT_MS, "the too-small message at 20x6");
    cr_assert_eq(tpane_cmd(&t->pane, NULL, "resize-window -t bf -x 120 -y 40"), 0);
    wait_screen(t, full_layout_intact, NULL, WAIT_MS, "the full layout back at 120x40");
    char *dead = NULL;
    tpane_cmd(&t->pane, &dead, "display-message -p -t bf '#{pane_dead}'");
    cr_assert_str_eq(dead, "0\n", "bfmon died");
    free(dead);
}

Test(tui, an_injected_gap_shows_resyncing_then_live, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    /* A slow snapshot keeps the resync on screen long enough to be seen at any frame rate. */
    sim_fault(t, "slow_snapshot,count=1,delay=3s");
    sim_fault(t, "gap,stream=btcusdt@depth@100ms");
    wait_screen(t, tpane_has_text, "RESYNCING", WAIT_MS, "RESYNCING after the gap");
    wait_screen(t, tpane_lacks_text, "RESYNCING", WAIT_MS, "the resync to finish");
    wait_screen(t, tpane_has_text, "BTCUSDT LIVE", WAIT_MS, "BTCUSDT LIVE again");
    ladder_check btc = { BTC_PRICE, NULL, 0 };
    wait_screen(t, ladder_shows, &btc, WAIT_MS, "the ladder after the resync");
}

static void wait_format(const tui *t, const char *format, const char *want)
{
    tpane_wait_format(&t->pane, format, want, WAIT_MS);
}

static void expect_restored(const tui *t)
{
    tpane_expect_restored(&t->pane, WAIT_MS);
}

Test(tui, q_exits_with_status_0_and_restores_the_terminal, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    wait_format(t, "#{alternate_on} #{cursor_flag}", "1 0\n"); /* running: alternate, no cursor */
    tpane_keys(&t->pane, "q");
    expect_restored(t);
}

/* Ctrl-S must not stop the terminal's output (XON/XOFF): the screen would freeze on data that
 * looks live and the UI would block writing to it. The next key still switches the symbol. */
Test(tui, ctrl_s_does_not_freeze_the_screen, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    tpane_keys(&t->pane, "C-s");
    tpane_keys(&t->pane, "2");
    ladder_check eth = { ETH_PRICE, BTC_PRICE, 5 };
    wait_screen(t, ladder_shows, &eth, WAIT_MS, "ETHUSDT after Ctrl-S and 2");
    tpane_keys(&t->pane, "q");
    expect_restored(t);
}

Test(tui, sigterm_also_restores_the_terminal, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    char *pid = NULL, cmd[128];
    tpane_cmd(&t->pane, &pid, "display-message -p -t bf '#{pane_pid}'");
    snprintf(cmd, sizeof cmd, "kill -TERM $(pgrep -P %d)", atoi(pid)); /* the shell's child */
    free(pid);
    cr_assert_eq(tu_run(cmd, NULL), 0);
    expect_restored(t);
}

Test(tui, unreachable_endpoints_are_named_with_the_demo_hint, .fini = cleanup)
{
    tui *t = &T;
    start_ui(t, 120, 40, "--rest-url http://127.0.0.1:1 --ws-url ws://127.0.0.1:1");
    wait_screen(t, tpane_has_text, "--demo", 2 * WAIT_MS, "the --demo hint");
    char *cap = capture(t);
    cr_assert(strstr(cap, "127.0.0.1:1"), "says what failed:\n%s", cap);
    cr_assert(strstr(cap, "retrying"), "and that it keeps trying:\n%s", cap);
    free(cap);
    tpane_keys(&t->pane, "q");
    wait_screen(t, tpane_has_text, "bfmon exited 0", WAIT_MS, "q while not connected");
}

Test(tui, demo_is_marked_at_every_size, .fini = cleanup)
{
    tui *t = &T;
    start_ui(t, 120, 40, "--demo");
    wait_live_btc(t);
    wait_screen(t, tpane_has_text, "DEMO", WAIT_MS, "DEMO at 120x40");
    cr_assert_eq(tpane_cmd(&t->pane, NULL, "resize-window -t bf -x 40 -y 12"), 0);
    int w40 = 40;
    wait_screen(t, fits, &w40, WAIT_MS, "40 columns");
    wait_screen(t, tpane_has_text, "DEMO", WAIT_MS, "DEMO at 40x12");
    cr_assert_eq(tpane_cmd(&t->pane, NULL, "resize-window -t bf -x 20 -y 6"), 0);
    wait_screen(t, tpane_has_text, "too small", WAIT_MS, "too small");
    wait_screen(t, tpane_has_text, "DEMO", WAIT_MS, "DEMO even when too small");
}

Test(tui, a_keymap_file_rebinds_keys_and_reports_bad_lines, .fini = cleanup)
{
    tui *t = &T;
    char *dir = tu_mkdtemp();
    char path[512], opt[600];
    snprintf(path, sizeof path, "%s/keys", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("bind n next-symbol\nbind k no-such-action\n", f);
    fclose(f);
    snprintf(opt, sizeof opt, "--config %s", path);
    start_sim(t, five);
    start_ui(t, 120, 40, opt);
    wait_live_btc(t);
    wait_screen(t, tpane_has_text, "unknown action 'no-such-action'", WAIT_MS,
                "the bad line reported");
    tpane_keys(&t->pane, "n");
    ladder_check eth = { ETH_PRICE, BTC_PRICE, 5 };
    wait_screen(t, ladder_shows, &eth, WAIT_MS, "ETHUSDT after the rebound n");
    tu_rmtree(dir);
    free(dir);
}

Test(tui, pause_freezes_the_display_and_says_so, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    tpane_keys(&t->pane, "p");
    wait_screen(t, tpane_has_text, "PAUSED", WAIT_MS, "the PAUSED mark");
    tpane_keys(&t->pane, "p");
    wait_screen(t, tpane_lacks_text, "PAUSED", WAIT_MS, "the PAUSED mark to go");
}

/* The size the status bar gives the recording ("REC 203K"), copied into out; "" when none. */
static void rec_size(const char *cap, char *out, size_t cap_out)
{
    const char *p = strstr(cap, "REC ");
    size_t n = p ? strspn(p + 4, "0123456789.KMGT") : 0;
    snprintf(out, cap_out, "%.*s", (int)n, p ? p + 4 : "");
}

static bool paused_and_rec_grew_from(const char *cap, const void *ctx)
{
    char now[32];
    rec_size(cap, now, sizeof now);
    return strstr(cap, "PAUSED") && now[0] && strcmp(now, ctx) != 0;
}

/* --record: the screen watches and records at once. REC shows in the status bar, and its size
 * keeps growing while `p` freezes the display; after q the files and their report are there and
 * replay as a sound recording. */
Test(tui, record_while_watching_keeps_recording_through_a_pause, .fini = cleanup, .timeout = 120)
{
    tui *t = &T;
    t->dir = tu_mkdtemp();
    char rec[600], args[700], cmd[2400];
    snprintf(rec, sizeof rec, "%s/rec/made", t->dir); /* created, parents included */
    snprintf(args, sizeof args, "--record %s", rec);
    start_sim(t, five);
    start_ui(t, 120, 40, args);
    wait_live_btc(t);
    wait_screen(t, tpane_has_text, "REC ", WAIT_MS, "REC in the status bar");
    tpane_keys(&t->pane, "p");
    char *cap = tpane_wait(&t->pane, tpane_has_text, "PAUSED", WAIT_MS, "the PAUSED mark");
    char size[32];
    rec_size(cap, size, sizeof size);
    free(cap);
    wait_screen(t, paused_and_rec_grew_from, size, WAIT_MS, "REC to grow while PAUSED");
    tpane_keys(&t->pane, "q");
    expect_restored(t);
    wait_screen(t, tpane_has_text, ".report.json", WAIT_MS, "the report's path in the summary");
    snprintf(cmd, sizeof cmd, "ls %s/*.rec.gz %s/*.report.json", rec, rec);
    cr_assert_eq(tu_run(cmd, NULL), 0, "no recording and report in %s", rec);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s replay --verify %s/*.rec.gz 2>&1", getenv("BF_BFMON"), rec);
    cr_assert_eq(tu_run(cmd, &out), 0, "the recording does not verify: %s", out ? out : "");
    cr_assert(out && strstr(out, "BTCUSDT") && strstr(out, "integrity ok"), "%s", out);
    free(out);
}

/* A --record directory that cannot be made is said before the screen opens: exit 3. */
Test(tui, record_into_a_file_exits_3_before_the_screen_opens, .fini = cleanup)
{
    tui *t = &T;
    t->dir = tu_mkdtemp();
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd, "touch %s/plain && %s --record %s/plain </dev/null 2>&1", t->dir,
             getenv("BF_BFMON"), t->dir);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 3, "exit %d: %s", rc, out ? out : "");
    cr_assert(out && strstr(out, "cannot create the output directory") &&
                  strstr(out, "not a directory"),
              "%s", out);
    free(out);
}

/* The pane with its escape sequences (colours and attributes) left in. */
static char *capture_escapes(const tui *t)
{
    return tpane_capture_escapes(&t->pane);
}

/* A colour sequence of any depth: SGR 30-37/40-47 (8), 90-97/100-107 (16), 38;5/48;5 (256). */
static bool has_colour_sgr(const char *cap)
{
    return tpane_matches(cap,
                         "\x1b\\[([0-9;]*;)?(3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;5;[0-9]+|48;5;[0-9]+)"
                         "(;[0-9;]*)?m");
}

static bool colours_seen(const char *cap, const void *ctx)
{
    (void)cap;
    char *esc = capture_escapes(ctx);
    bool yes = has_colour_sgr(esc);
    free(esc);
    return yes;
}

Test(tui, colours_are_used_when_the_terminal_has_them, .fini = cleanup)
{
    tui *t = &T;
    start_live_btc(t);
    wait_screen(t, colours_seen, t, WAIT_MS, "colour escapes in the pane");
}

/* https://no-color.org: with NO_COLOR set (to anything non-empty) no colour is emitted; the screen
 * still works (attributes such as bold or reverse may remain). */
Test(tui, no_color_is_respected, .fini = cleanup)
{
    tui *t = &T;
    t->env = "NO_COLOR=1";
    start_live_btc(t);
    char *esc = capture_escapes(t);
    cr_expect(!has_colour_sgr(esc), "colour escapes with NO_COLOR set:\n%s", esc);
    free(esc);
}

/* ---- colour depths: the palette (tui/palette.h) reaches the terminal at each depth ------------ */

/* bfmon under TERM=term (plus more "NAME=value" words), LIVE; the pane's escapes. */
static char *escapes_under(tui *t, const char *env)
{
    t->env = env;
    start_live_btc(t);
    wait_screen(t, tpane_has_text, "LIVE", WAIT_MS, "a LIVE state in the status bar");
    return capture_escapes(t);
}

static bool has_sgr(const char *cap, const char *codes)
{
    char re[160];
    snprintf(re, sizeof re, "\x1b\\[([0-9;]*;)?(%s)(;[0-9;]*)?m", codes);
    return tpane_matches(cap, re);
}

#define SGR_8   "3[0-7]|4[0-7]"
#define SGR_16  "9[0-7]|10[0-7]"
#define SGR_256 "38;5;[0-9]+|48;5;[0-9]+"

Test(tui, two_hundred_fifty_six_colours_use_the_extended_palette, .fini = cleanup)
{
    char *esc = escapes_under(&T, "TERM=xterm-256color");
    cr_expect(has_sgr(esc, SGR_256), "no 256-colour escapes under xterm-256color:\n%s", esc);
    free(esc);
}

Test(tui, eight_colours_use_only_the_basic_eight, .fini = cleanup)
{
    char *esc = escapes_under(&T, "TERM=xterm");
    cr_expect(has_sgr(esc, SGR_8), "no colour escapes under xterm (8 colours):\n%s", esc);
    cr_expect(!has_sgr(esc, SGR_16 "|" SGR_256), "beyond 8 colours under xterm:\n%s", esc);
    free(esc);
}

/* Debian's ncurses-base has no 16-colour xterm entry, so the test compiles one: xterm with 16
 * colours, bright colours as SGR 90-97 / 100-107. */
Test(tui, sixteen_colours_add_the_bright_ones, .fini = cleanup)
{
    char *dir = tu_mkdtemp(), src[512], env[1100], *out = NULL;
    snprintf(src, sizeof src, "%s/bf16.ti", dir);
    FILE *f = fopen(src, "w");
    cr_assert(f);
    fputs("bf16|xterm with 16 colours,\n"
          "\tcolors#16, pairs#256,\n"
          "\tsetaf=\\E[%?%p1%{8}%<%t3%p1%d%e9%p1%{8}%-%d%;m,\n"
          "\tsetab=\\E[%?%p1%{8}%<%t4%p1%d%e10%p1%{8}%-%d%;m,\n"
          "\tuse=xterm,\n",
          f);
    fclose(f);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "tic -x -o %s/terminfo %s", dir, src);
    cr_assert_eq(tu_run(cmd, &out), 0, "tic failed: %s", out ? out : "");
    free(out);
    snprintf(env, sizeof env, "TERM=bf16 TERMINFO=%s/terminfo", dir);
    char *esc = escapes_under(&T, env);
    cr_expect(has_sgr(esc, SGR_16), "no bright colours with 16 colours:\n%s", esc);
    cr_expect(!has_sgr(esc, SGR_256), "256-colour escapes with 16 colours:\n%s", esc);
    free(esc);
    tu_rmtree(dir);
    free(dir);
}

/* A terminal without colours (vt100): no colour at all, the states still stand out (bold). */
Test(tui, monochrome_terminals_get_attributes_only, .fini = cleanup)
{
    char *esc = escapes_under(&T, "TERM=vt100");
    cr_expect(!has_colour_sgr(esc), "colour escapes under vt100:\n%s", esc);
    cr_expect(has_sgr(esc, "1|7"), "neither bold nor reverse under vt100:\n%s", esc);
    free(esc);
}

/* ---- a terminal that stops reading ------------------------------------------------------------ */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bfmon (repainting everything, so output piles up fast) on a pty of the test's own. */
static int start_on_pty(tui *t)
{
    const char *bfmon = getenv("BF_BFMON");
    cr_assert(bfmon, "BF_BFMON is not set (run the tests through meson)");
    int master;
    struct winsize ws = { .ws_row = 50, .ws_col = 200 };
    t->child = forkpty(&master, NULL, NULL, &ws);
    cr_assert(t->child >= 0, "forkpty");
    if (t->child == 0) {
        struct rlimit no_core = { 0, 0 }; /* a test that crashes bfmon on purpose leaves no core */
        setrlimit(RLIMIT_CORE, &no_core);
        setenv("TERM", "xterm-256color", 1);
        setenv("LANG", "C.UTF-8", 1);
        execl(bfmon, bfmon, "--rest-url", t->sim.rest, "--ws-url", t->sim.ws, "--repaint-all",
              (char *)NULL);
        _exit(127);
    }
    return master;
}

/* Reads from the terminal's side until bfmon has written want bytes, or until what it wrote
 * holds until (when not NULL). Returns what was read (NUL-terminated, to be freed). */
static char *read_output(int master, size_t want, const char *until)
{
    size_t cap = want + 65536 + 1, got = 0;
    char *out = malloc(cap);
    cr_assert(out);
    double end = mono_s() + FIRST_MS / 1000.0;
    bool done = false;
    while (!done && mono_s() < end) {
        struct pollfd p = { master, POLLIN, 0 };
        if (poll(&p, 1, 100) != 1)
            continue;
        if (got + 65536 + 1 > cap) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert(out);
        }
        ssize_t n = read(master, out + got, 65536);
        cr_assert(n > 0, "the pty closed after %zu bytes", got);
        got += (size_t)n;
        out[got] = '\0';
        done = until ? memmem(out, got, until, strlen(until)) != NULL : got >= want;
    }
    cr_assert(done, "bfmon wrote %zu bytes, expected %s", got, until ? until : "more");
    out[got] = '\0';
    return out;
}

/* Reads from the terminal's side until bfmon has drawn frames (want bytes). */
static void read_frames(int master, size_t want)
{
    free(read_output(master, want, NULL));
}

/* Polls, reading nothing, until the pty takes no more output: bfmon's writes are held up. */
static void wait_terminal_full(int master)
{
    int slave = open(ptsname(master), O_WRONLY | O_NOCTTY | O_NONBLOCK);
    cr_assert(slave >= 0, "open %s", ptsname(master));
    double end = mono_s() + WAIT_MS / 1000.0;
    bool full = false;
    while (!full && mono_s() < end) {
        struct pollfd p = { slave, POLLOUT, 0 };
        full = poll(&p, 1, 0) == 0;
        if (!full)
            poll(NULL, 0, 10); /* the condition has no event of its own to wait on */
    }
    cr_assert(full, "the pty still takes output after %d ms", WAIT_MS);
    /* A pty stops reporting POLLOUT with some room left; fill that too, so the terminal takes
     * nothing at all, as a dead link would (a write that blocked now would block for good). */
    while (write(slave, "x", 1) == 1)
        ;
    cr_assert(errno == EAGAIN, "filling the pty: %s", strerror(errno));
    close(slave);
}

/* CPU seconds the thread tid of pid has used (utime + stime from procfs). */
static double thread_cpu_s(pid_t pid, pid_t tid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces; fields count from after it */
    cr_assert(p);
    unsigned long long utime, stime;
    int got =
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime);
    cr_assert_eq(got, 2, "%s: %s", path, buf);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The child's exit status, or -1 when it is still running after timeout_ms. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    cr_assert(pidfd >= 0, "pidfd_open");
    struct pollfd p = { pidfd, POLLIN, 0 };
    int ready = poll(&p, 1, timeout_ms);
    close(pidfd);
    int st;
    if (ready != 1 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* What the user types, written on the terminal's side. */
static void reply(int master, const char *bytes)
{
    cr_assert_eq(write(master, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
}

/* Writes bytes that end in q and expects bfmon to exit with status 0. */
static void quit_with(tui *t, int master, const char *bytes)
{
    reply(master, bytes);
    int status = wait_exit(t->child, WAIT_MS);
    cr_assert_eq(status, 0, "bfmon %s", status < 0 ? "still runs after q" : "failed");
    t->child = 0;
    close(master);
}

static void quit_with_q(tui *t, int master)
{
    quit_with(t, master, "q");
}

/* bfmon on a pty that took its first frames and then stopped reading, to the last byte. */
static int start_stalled(tui *t)
{
    start_sim(t, five);
    int master = start_on_pty(t);
    read_frames(master, 256 * 1024);
    wait_terminal_full(master);
    return master;
}

/* A terminal that stops reading (a stalled ssh link) must not make the UI deaf: frames wait, keys
 * still work, and q quits with status 0 instead of hanging in write. Nor may the UI thread spin
 * meanwhile: over a 2 s stall (the second's tick and the flashes fall due in it) it must stay
 * nearly idle; a loop that polls with a deadline already gone burns the whole window. */
Test(tui, a_terminal_that_stops_reading_leaves_the_keys_working, .fini = cleanup)
{
    tui *t = &T;
    int master = start_stalled(t);
    double cpu0 = thread_cpu_s(t->child, t->child);
    cr_assert_eq(wait_exit(t->child, 2000), -1, "bfmon left while its terminal was stalled");
    double stalled_cpu = thread_cpu_s(t->child, t->child) - cpu0;
    cr_expect(stalled_cpu < 0.3, "the UI thread used %.2f s of CPU in a 2 s stall", stalled_cpu);
    quit_with_q(t, master);
}

/* A crash while the terminal is stalled must still end the process (the handler restores the
 * terminal with ncurses' blocking writes, which would wait for the terminal forever). SIGILL, as
 * sanitizers leave it to bfmon's handler. */
Test(tui, a_crash_on_a_stalled_terminal_still_ends_the_process, .fini = cleanup)
{
    tui *t = &T;
    int master = start_stalled(t);
    cr_assert_eq(kill(t->child, SIGILL), 0);
    int status = wait_exit(t->child, WAIT_MS);
    cr_assert_eq(status, 128 + SIGILL, "bfmon %s (status %d)",
                 status < 0 ? "hangs 15 s after a fatal signal" : "ended otherwise", status);
    t->child = 0;
    close(master);
}

/* ---- synchronized output (DEC mode 2026) -------------------------------------------------------- */

#define PROBE  "\x1b[?2026$p\x1b[c" /* DECRQM for mode 2026, then DA1 */
#define BSU    "\x1b[?2026h"
#define ESU    "\x1b[?2026l"
#define DA1_VT "\x1b[?1;2c" /* the answer of a terminal that does not know mode 2026 */

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* bfmon on a pty whose terminal (the test) answers the start-up question with answer. */
static int start_answering(tui *t, const char *answer)
{
    start_sim(t, five);
    int master = start_on_pty(t);
    free(read_output(master, 0, PROBE));
    if (answer[0])
        reply(master, answer);
    return master;
}

/* A terminal that reports mode 2026 gets every frame between its brackets, each opened once and
 * closed before the next, so it shows frames whole however its reads split them. */
Test(tui, a_terminal_that_keeps_mode_2026_gets_every_frame_bracketed, .fini = cleanup)
{
    tui *t = &T;
    int master = start_answering(t, "\x1b[?2026;2$y\x1b[?62;22c");
    char *out = read_output(master, 128 * 1024, NULL);
    size_t begins = count_of(out, BSU), ends = count_of(out, ESU);
    cr_expect(begins >= 3, "%zu frames bracketed in 128 KB", begins);
    bool open = false, nested = false;
    for (const char *p = out; (p = strstr(p, "\x1b[?2026")) != NULL; p += 7) {
        bool is_begin = p[7] == 'h';
        nested |= is_begin == open;
        open = is_begin;
    }
    cr_expect(!nested && (begins == ends || begins == ends + 1),
              "brackets out of order: %zu begins, %zu ends", begins, ends);
    free(out);
    quit_with_q(t, master);
}

/* One that answers the probe with its attributes only (tmux 3.3, xterm, the Linux console) gets
 * plain frames. */
Test(tui, a_terminal_without_mode_2026_gets_plain_frames, .fini = cleanup)
{
    tui *t = &T;
    int master = start_answering(t, DA1_VT);
    char *out = read_output(master, 128 * 1024, NULL);
    cr_expect_eq(count_of(out, "\x1b[?2026"), 0, "mode 2026 sent to a terminal without it");
    free(out);
    quit_with_q(t, master);
}

/* A key typed while the probe waits for its answer is not lost: q in the same read as the reply
 * still quits. */
Test(tui, a_key_typed_during_the_probe_counts, .fini = cleanup)
{
    tui *t = &T;
    int master = start_answering(t, "");
    quit_with(t, master, DA1_VT "q"); /* lost by the probe, the q would leave bfmon running */
}

/* A terminal that answers after bfmon stopped waiting (a slow link): the late reply is not read as
 * keys ("ESC [ ?" would open the help and its digits switch symbols), and its report of mode 2026
 * brackets the frames from then on (a slow link is where frames arrive torn). */
Test(tui, a_late_answer_to_the_probe_is_not_taken_for_keys, .fini = cleanup)
{
    tui *t = &T;
    start_sim(t, five);
    int master = start_on_pty(t);
    char *before = read_output(master, 64 * 1024, NULL); /* frames: bfmon has stopped waiting */
    cr_expect_eq(count_of(before, BSU), 0, "mode 2026 on before the terminal said so");
    free(before);
    reply(master, "\x1b[?2026;2$y\x1b[?62;22c");
    char *out = read_output(master, 256 * 1024, NULL);
    cr_expect(!strstr(out, "next-symbol"), "the late reply opened the help overlay");
    cr_expect_geq(count_of(out, BSU), 3, "the late report of mode 2026 did not switch it on");
    free(out);
    quit_with_q(t, master);
}

/* A late answer without mode 2026 leaves the frames plain. */
Test(tui, a_late_answer_without_mode_2026_leaves_frames_plain, .fini = cleanup)
{
    tui *t = &T;
    start_sim(t, five);
    int master = start_on_pty(t);
    free(read_output(master, 64 * 1024, NULL));
    reply(master, "\x1b[?2026;0$y" DA1_VT);
    char *out = read_output(master, 128 * 1024, NULL);
    cr_expect_eq(count_of(out, "\x1b[?2026"), 0, "mode 2026 on for a terminal that lacks it");
    cr_expect(!strstr(out, "next-symbol"), "the late reply opened the help overlay");
    free(out);
    quit_with_q(t, master);
}
