/*
 * Tests for the player: recordings played into an offline engine. Books at the end equal the replay
 * module's; pause, step, jump and pacing with a fake clock (nothing here sleeps to synchronise:
 * every wait polls the player's status or the engine with a deadline).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "engine.h"
#include "feed/player.h"
#include "feed/replay.h"
#include "market/market.h"
#include "testutil.h"
#include "util/clk.h"
#include "util/err.h"

#define WAIT_NS  (30 * CLK_NS_PER_S)
#define LEVELS   200000
#define T0       1700000000000000000LL
#define SYM      "TESTUSDT"
#define N_DEPTH  40 /* depth events in the synthetic recording */
#define SNAP_LUI 5  /* its snapshot's lastUpdateId */

static _Atomic int64_t fake_ns;

static int64_t fake_now(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_ns);
}

/* ---- recordings ------------------------------------------------------------------------------ */

static char *write_text(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        t->cap = t->cap * 2 + (size_t)k + 64;
        t->p = realloc(t->p, t->cap);
    }
}

/* Depth event k (1-based): U = 10(k-1)+1, u = 10k, pu = 10(k-1); the bid at 100.k moves. */
static void put_depth(text *t, int64_t at, int k, int64_t pu)
{
    put(t,
        "%lld {\"stream\":\"testusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":%lld,"
        "\"T\":%lld,\"s\":\"" SYM
        "\",\"U\":%d,\"u\":%d,\"pu\":%lld,\"b\":[[\"100.%02d\",\"%d.0\"]],"
        "\"a\":[[\"110.%02d\",\"1.0\"]]}}\n",
        (long long)at, (long long)(at / CLK_NS_PER_MS), (long long)(at / CLK_NS_PER_MS),
        10 * (k - 1) + 1, 10 * k, (long long)pu, k % 100, k, k % 100);
}

static void put_ticker(text *t, int64_t at, int k)
{
    put(t,
        "%lld {\"stream\":\"testusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":%d,"
        "\"s\":\"" SYM "\",\"b\":\"100.%02d\",\"B\":\"%d.0\",\"a\":\"110.01\",\"A\":\"1.0\","
        "\"T\":%lld,\"E\":%lld}}\n",
        (long long)at, 10 * k, k % 100, k, (long long)(at / CLK_NS_PER_MS),
        (long long)(at / CLK_NS_PER_MS));
}

static void put_snapshot(text *t, int64_t at)
{
    put(t,
        "%lld {\"bfmon\":\"rest\",\"symbol\":\"" SYM "\",\"path\":\"/fapi/v1/depth\"}\n"
        "%lld {\"lastUpdateId\":%d,\"E\":%lld,\"T\":%lld,\"bids\":[[\"99.00\",\"3.0\"]],"
        "\"asks\":[[\"111.00\",\"4.0\"]]}\n",
        (long long)at, (long long)at, SNAP_LUI, (long long)(at / CLK_NS_PER_MS),
        (long long)(at / CLK_NS_PER_MS));
}

/* The synthetic recording: a marked snapshot, then N_DEPTH depth events one second apart, each
 * followed by a bookTicker; a bfmon gap line after event gap_after (0: none); from event break_at
 * on (0: none) the chain is broken once (pu off by one). Lines: 2 + 2 N_DEPTH (+1). */
static char *synthetic(int gap_after, int break_at)
{
    text t = { 0 };
    put_snapshot(&t, T0);
    for (int k = 1; k <= N_DEPTH; k++) {
        int64_t at = T0 + k * CLK_NS_PER_S;
        put_depth(&t, at, k, 10LL * (k - 1) - (k == break_at ? 1 : 0));
        put_ticker(&t, at + 1000, k);
        if (k == gap_after)
            put(&t, "%lld {\"bfmon\":\"gap\",\"symbol\":\"" SYM "\",\"pu\":1,\"prev_u\":2}\n",
                (long long)(at + 2000));
    }
    return t.p;
}

/* ---- harness ----------------------------------------------------------------------------------- */

typedef struct rig {
    char *dir;
    char *files[4];
    size_t nfiles;
    player *p;
    engine *e;
} rig;

static void rig_player(rig *r, const player_config *base)
{
    player_config cfg = *base;
    cfg.files = (const char *const *)r->files;
    cfg.nfiles = r->nfiles;
    char why[256] = "";
    int rc = player_create(&cfg, &r->p, why, sizeof why);
    cr_assert_eq(rc, 0, "player_create: %s", why);
}

/* The offline engine the way `bfmon replay` makes it: the player's symbols and exchangeInfo. */
static void rig_engine(rig *r)
{
    size_t n = player_symbol_count(r->p);
    cr_assert_gt(n, 0, "the player found no symbol");
    const char *names[ENGINE_MAX_SYMBOLS];
    for (size_t i = 0; i < n; i++)
        names[i] = player_symbol_at(r->p, i);
    engine_config ec = { .symbols = names, .nsymbols = n, .workers = 1, .offline = true };
    char why[256] = "";
    cr_assert_eq(engine_create(&ec, &r->e, why, sizeof why), 0, "%s", why);
    size_t len = 0;
    const char *info = player_exchange_info(r->p, &len);
    if (info)
        cr_assert_eq(engine_load_exchange_info(r->e, info, len, why, sizeof why), 0, "%s", why);
    cr_assert_eq(engine_start(r->e, clk_mono_ns() + WAIT_NS, why, sizeof why), 0, "%s", why);
}

static void rig_start(rig *r, const player_config *cfg)
{
    rig_player(r, cfg);
    rig_engine(r);
    cr_assert_eq(player_start(r->p, r->e), 0);
}

static void rig_free(rig *r)
{
    player_destroy(r->p);
    if (r->e) {
        engine_stop(r->e);
        engine_destroy(r->e);
    }
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    if (r->dir) {
        tu_rmtree(r->dir);
        free(r->dir);
    }
    memset(r, 0, sizeof *r);
}

static void rig_text(rig *r, const char *name, char *content)
{
    if (!r->dir)
        r->dir = tu_mkdtemp();
    r->files[r->nfiles++] = write_text(r->dir, name, content);
    free(content);
}

typedef bool (*status_pred)(const player_status *s, const void *arg);

/* Poll the status until pred holds (a deadline, not a sleep, decides failure). */
static player_status wait_status(player *p, status_pred pred, const void *arg, const char *what)
{
    int64_t end = clk_mono_ns() + WAIT_NS;
    player_status s;
    for (;;) {
        player_get_status(p, &s);
        if (pred(&s, arg))
            return s;
        cr_assert_lt(clk_mono_ns(), end, "timed out waiting for %s (mode %d, fed %llu, lines %llu)",
                     what, (int)s.mode, (unsigned long long)s.fed, (unsigned long long)s.lines);
        struct timespec ts = { 0, 200000 }; /* polling interval, not a synchronisation */
        nanosleep(&ts, NULL);
    }
}

static bool ended(const player_status *s, const void *arg)
{
    (void)arg;
    return s->mode == PLAYER_ENDED;
}

static bool steps_at_least(const player_status *s, const void *arg)
{
    return s->steps_done >= *(const uint64_t *)arg && s->mode == PLAYER_PAUSED;
}

static bool jumps_at_least(const player_status *s, const void *arg)
{
    return s->jumps_done >= *(const uint64_t *)arg && s->mode != PLAYER_JUMPING;
}

static bool woke_after(const player_status *s, const void *arg)
{
    return s->wakeups > *(const uint64_t *)arg;
}

static bool fed_at_least(const player_status *s, const void *arg)
{
    return s->fed >= *(const uint64_t *)arg;
}

/* ---- books ------------------------------------------------------------------------------------ */

static book_level *side_of_engine(engine *e, const char *sym, book_side side, int *n)
{
    book_level *lv = malloc(LEVELS * sizeof *lv);
    *n = engine_book_copy(e, sym, side, lv, LEVELS, NULL);
    cr_assert_geq(*n, 0, "engine_book_copy: %s", bf_strerror(*n));
    return lv;
}

/* The engine's book of sym equals replay's for the same files, both sides, every level. */
static void assert_books_match_replay(rig *r, const char *sym)
{
    replay *rp = NULL;
    cr_assert_eq(replay_create(NULL, &rp, NULL, 0), 0);
    for (size_t i = 0; i < r->nfiles; i++)
        replay_file(rp, r->files[i]);
    replay_finish(rp);
    market *m = replay_find_market(rp, sym);
    cr_assert(m, "replay has no %s", sym);
    book_level *want = malloc(LEVELS * sizeof *want);
    for (int side = 0; side < 2; side++) {
        int n = 0;
        book_level *got = side_of_engine(r->e, sym, (book_side)side, &n);
        size_t wn = book_top(market_book(m), (book_side)side, want, LEVELS);
        cr_assert_eq((size_t)n, wn, "%s side %d: %d levels, replay %zu", sym, side, n, wn);
        cr_assert_gt(wn, 0, "an empty book proves nothing");
        for (size_t i = 0; i < wn; i++)
            cr_assert(got[i].px == want[i].px && got[i].qty == want[i].qty,
                      "%s side %d level %zu differs", sym, side, i);
        free(got);
    }
    free(want);
    replay_destroy(rp);
}

static int64_t engine_luid(engine *e, const char *sym)
{
    book_level top;
    int64_t luid = -1;
    cr_assert_geq(engine_book_copy(e, sym, BOOK_BID, &top, 1, &luid), 0);
    return luid;
}

/* ---- tests ------------------------------------------------------------------------------------ */

Test(player, max_speed_sample_books_equal_replay, .timeout = 120)
{
    rig r = { 0 };
    r.files[r.nfiles++] = tu_source_path(TU_SAMPLE);
    player_config cfg = { .speed = PLAYER_SPEED_MAX };
    rig_start(&r, &cfg);
    cr_assert_str_eq(player_symbol_at(r.p, 0), "BTCUSDT", "the prescan finds the symbol");
    cr_assert_null(player_exchange_info(r.p, NULL), "hftbacktest captures have no header");
    player_status s = wait_status(r.p, ended, NULL, "the end of the sample");
    cr_assert_eq(s.lines, 2000);
    cr_assert_eq(s.fed, 2000, "every line of the sample is data");
    cr_assert_eq(s.bad_lines + s.undecodable + s.attribution_errors + s.unroutable, 0, "%s",
                 s.message);
    cr_assert_eq(s.position_ns, 1723161263855050829LL, "the position is the last line's time");
    assert_books_match_replay(&r, "BTCUSDT");
    view_symbol *v = malloc(sizeof *v);
    cr_assert_eq(engine_view_symbol(r.e, "BTCUSDT", v), 0);
    cr_expect_eq(v->state, SYNC_LIVE);
    free(v);
    rig_free(&r);
}

Test(player, max_speed_synthetic_books_equal_replay_across_files_and_gzip, .timeout = 120)
{
    rig r = { 0 };
    char *all = synthetic(0, 0);
    /* split after the 20th depth event's ticker: lines 1..42 plain, the rest gzip */
    char *cut = all;
    for (int i = 0; i < 42; i++)
        cut = strchr(cut, '\n') + 1;
    char *second = strdup(cut);
    *cut = '\0';
    rig_text(&r, "a.txt", all);
    r.dir = r.dir ? r.dir : tu_mkdtemp();
    size_t n = strlen(r.dir) + 16;
    char *gz = malloc(n);
    snprintf(gz, n, "%s/b.txt.gz", r.dir);
    gzFile g = gzopen(gz, "wb");
    cr_assert(g);
    gzputs(g, second);
    gzclose(g);
    free(second);
    r.files[r.nfiles++] = gz;
    player_config cfg = { .speed = PLAYER_SPEED_MAX };
    rig_start(&r, &cfg);
    player_status s = wait_status(r.p, ended, NULL, "the end");
    cr_assert_eq(s.lines, 2 + 2 * N_DEPTH);
    cr_assert_eq(s.depth_fed, N_DEPTH);
    cr_assert_eq(s.events, 1, "the rest marker");
    cr_assert_eq(s.file, 2);
    cr_assert_eq(engine_luid(r.e, SYM), 10 * N_DEPTH, "every event applied, in order");
    assert_books_match_replay(&r, SYM);
    rig_free(&r);
}

Test(player, pause_holds_while_the_clock_runs)
{
    rig r = { 0 };
    rig_text(&r, "a.txt", synthetic(0, 0));
    atomic_store(&fake_ns, 1000);
    player_config cfg = { .speed = 1, .start_paused = true, .now = fake_now };
    rig_start(&r, &cfg);
    for (int i = 0; i < 3; i++) {
        player_status s;
        player_get_status(r.p, &s);
        uint64_t seen = s.wakeups;
        atomic_fetch_add(&fake_ns, 3600 * CLK_NS_PER_S); /* an hour passes */
        player_poke(r.p);
        s = wait_status(r.p, woke_after, &seen, "the player to look again");
        cr_assert_eq(s.fed, 0, "nothing is fed while paused");
        cr_assert_eq(s.mode, PLAYER_PAUSED);
        cr_assert_eq(s.position_ns, T0, "the position stays at the first line");
    }
    player_set_speed(r.p, PLAYER_SPEED_MAX); /* the fake clock stands still from here on */
    player_pause(r.p, false);
    wait_status(r.p, ended, NULL, "the end after resuming");
    rig_free(&r);
}

/* The clock reaches a line before the thread has fed it; a pause then holds the clock on that
 * line's time, so the line must be applied: the screen shows that time, and a step from there must
 * move on to the next update instead of applying this one and showing the same time again. */
Test(player, a_pause_on_a_line_that_came_due_applies_it)
{
    rig r = { 0 };
    rig_text(&r, "a.txt", synthetic(0, 0));
    atomic_store(&fake_ns, 5 * CLK_NS_PER_S);
    player_config cfg = { .speed = 0.1, .now = fake_now };
    rig_start(&r, &cfg);
    uint64_t one = 1, two = 2;
    player_status s = wait_status(r.p, fed_at_least, &one, "the snapshot");
    s = wait_status(r.p, woke_after, &s.wakeups, "the wait for the first depth event");
    cr_assert_eq(s.fed, 1);
    /* at 0.1x the first depth event (1 s of recording) is due 10 s later; the player waits in
     * slices of at most half a second of real time, so it has not looked yet when the pause comes */
    atomic_store(&fake_ns, 15 * CLK_NS_PER_S);
    player_pause(r.p, true);
    s = wait_status(r.p, fed_at_least, &two, "the line the clock reached, fed while paused");
    cr_assert_eq(s.mode, PLAYER_PAUSED);
    cr_assert_eq(s.position_ns, T0 + CLK_NS_PER_S, "held on the depth event's time");
    cr_assert_eq(engine_luid(r.e, SYM), 10, "the depth event is applied");
    uint64_t steps = 1;
    player_step(r.p, SYM);
    s = wait_status(r.p, steps_at_least, &steps, "a step");
    cr_assert_eq(s.position_ns, T0 + 2 * CLK_NS_PER_S, "the step moved on to the next update");
    cr_assert_eq(engine_luid(r.e, SYM), 20);
    rig_free(&r);
}

Test(player, step_advances_exactly_one_depth_update_of_the_focus)
{
    rig r = { 0 };
    rig_text(&r, "a.txt", synthetic(0, 0));
    atomic_store(&fake_ns, 0);
    player_config cfg = { .speed = 1, .start_paused = true, .now = fake_now };
    rig_start(&r, &cfg);
    uint64_t want = 0;
    for (int k = 1; k <= 6; k++) {
        player_step(r.p, SYM);
        want++;
        player_status s = wait_status(r.p, steps_at_least, &want, "a step");
        cr_assert_eq(s.depth_fed, (uint64_t)k, "one depth update per step");
        /* marker + snapshot + (depth, ticker) pairs: the step ends on the depth line */
        cr_assert_eq(s.lines, 2 + 2 * (uint64_t)k - 1, "step %d read %llu lines", k,
                     (unsigned long long)s.lines);
        cr_assert_eq(engine_luid(r.e, SYM), 10 * k, "the step's update is applied");
        cr_assert_eq(s.position_ns, T0 + k * CLK_NS_PER_S, "the position is the update's time");
    }
    /* a symbol with no depth stream: one line per step */
    player_step(r.p, "NOSUCHUSDT");
    want++;
    player_status s = wait_status(r.p, steps_at_least, &want, "a one-line step");
    cr_assert_eq(s.lines, 2 + 2 * 6, "exactly one more line");
    rig_free(&r);
}

Test(player, jump_stops_at_the_next_gap_event_then_at_a_chain_break)
{
    rig r = { 0 };
    rig_text(&r, "a.txt", synthetic(7, 15));
    player_config cfg = { .speed = 1, .start_paused = true, .now = fake_now };
    rig_start(&r, &cfg);
    player_jump(r.p);
    uint64_t one = 1, two = 2;
    player_status s = wait_status(r.p, jumps_at_least, &one, "the first jump");
    cr_assert_eq(s.mode, PLAYER_PAUSED, "a jump ends paused");
    cr_assert_eq(s.lines, 2 + 2 * 7 + 1, "stopped on the gap line, got %llu: %s",
                 (unsigned long long)s.lines, s.message);
    cr_assert(strstr(s.message, "gap " SYM), "%s", s.message);
    cr_assert_eq(engine_luid(r.e, SYM), 70, "what came before the gap is applied");
    player_jump(r.p);
    s = wait_status(r.p, jumps_at_least, &two, "the second jump");
    cr_assert_eq(s.depth_fed, 15, "stopped on the broken event: %s", s.message);
    cr_assert(strstr(s.message, "gap in " SYM "'s depth stream"), "%s", s.message);
    /* nothing else to stop at: the next jump runs to the end */
    player_jump(r.p);
    wait_status(r.p, ended, NULL, "the end");
    rig_free(&r);
}

/* At 10x a line one recording second after the previous is released 100 ms of player clock
 * later, not before. */
Test(player, pacing_releases_lines_when_the_scaled_clock_passes_them)
{
    rig r = { 0 };
    rig_text(&r, "a.txt", synthetic(0, 0));
    atomic_store(&fake_ns, 5 * CLK_NS_PER_S);
    player_config cfg = { .speed = 10, .now = fake_now };
    rig_start(&r, &cfg);
    /* t=T0: marker and snapshot at once; the first depth event is 1 s later: 100 ms at 10x */
    uint64_t one = 1, two = 2, three = 3;
    player_status s = wait_status(r.p, fed_at_least, &one, "the snapshot");
    s = wait_status(r.p, woke_after, &s.wakeups, "the wait for the first depth event");
    cr_assert_eq(s.fed, 1);
    cr_assert_eq(s.wait_until_ns, 5 * CLK_NS_PER_S + 100 * CLK_NS_PER_MS);
    atomic_store(&fake_ns, 5 * CLK_NS_PER_S + 99 * CLK_NS_PER_MS);
    uint64_t seen = s.wakeups;
    player_poke(r.p);
    s = wait_status(r.p, woke_after, &seen, "a look at 99 ms");
    cr_assert_eq(s.fed, 1, "not released 1 ms early");
    cr_assert_geq(s.position_ns, T0 + 990 * CLK_NS_PER_MS, "the clock runs between lines");
    cr_assert_lt(s.position_ns, T0 + CLK_NS_PER_S);
    atomic_store(&fake_ns, 5 * CLK_NS_PER_S + 100 * CLK_NS_PER_MS);
    player_poke(r.p);
    s = wait_status(r.p, fed_at_least, &two, "the release at 100 ms");
    s = wait_status(r.p, woke_after, &s.wakeups, "the wait for the ticker");
    cr_assert_eq(s.fed, 2, "only the line that is due");
    /* a speed change re-anchors at the position: the ticker is 1 us later, due 0.5 us later */
    seen = s.wakeups;
    player_set_speed(r.p, 2);
    s = wait_status(r.p, woke_after, &seen, "the wait at the new speed");
    cr_assert_eq(s.fed, 2);
    cr_assert_eq(s.wait_until_ns, atomic_load(&fake_ns) + 500, "1 us of recording at 2x");
    atomic_fetch_add(&fake_ns, 1000);
    player_poke(r.p);
    wait_status(r.p, fed_at_least, &three, "the ticker");
    rig_free(&r);
}

Test(player, bad_lines_are_counted_not_fatal)
{
    rig r = { 0 };
    char *good = synthetic(0, 0);
    size_t n = strlen(good) + 256;
    char *bad = malloc(n);
    snprintf(bad, n,
             "not a line\n"
             "1700000000000000000 {\"truncated\":\n"
             "%s"
             "1700000099000000000 {\"stream\":\"testusdt@depth",
             good);
    free(good);
    rig_text(&r, "bad.txt", bad);
    player_config cfg = { .speed = PLAYER_SPEED_MAX };
    rig_start(&r, &cfg);
    player_status s = wait_status(r.p, ended, NULL, "the end");
    cr_assert_geq(s.bad_lines + s.read_errors, 1, "the line without a timestamp");
    cr_assert_geq(s.undecodable, 1, "the truncated JSON");
    cr_assert_neq(s.message[0], '\0', "the problem is described");
    cr_assert_eq(s.depth_fed, N_DEPTH);
    cr_assert_eq(engine_luid(r.e, SYM), 10 * N_DEPTH, "the good lines all played");
    rig_free(&r);
}

/* A gzip recording cut while being written: the complete lines play, the cut is reported, and the
 * next file still plays. */
Test(player, torn_gzip_tail_is_reported_not_fatal)
{
    rig r = { 0 };
    r.dir = tu_mkdtemp();
    char *all = synthetic(0, 0);
    size_t n = strlen(r.dir) + 16;
    char *gz = malloc(n);
    snprintf(gz, n, "%s/a.txt.gz", r.dir);
    gzFile g = gzopen(gz, "wb");
    cr_assert(g);
    gzputs(g, all);
    gzclose(g);
    free(all);
    size_t len = 0;
    char *bytes = tu_read_file(gz, &len);
    cr_assert(bytes && len > 40);
    FILE *f = fopen(gz, "wb");
    cr_assert(f);
    fwrite(bytes, 1, len - 40, f); /* the trailer and some data gone */
    fclose(f);
    free(bytes);
    r.files[r.nfiles++] = gz;
    text t = { 0 };
    put_ticker(&t, T0 + 100 * CLK_NS_PER_S, 99);
    rig_text(&r, "b.txt", t.p);
    player_config cfg = { .speed = PLAYER_SPEED_MAX };
    rig_start(&r, &cfg);
    player_status s = wait_status(r.p, ended, NULL, "the end");
    cr_assert_eq(s.torn_tails + s.read_errors, 1, "the cut is counted once");
    cr_assert_neq(s.message[0], '\0', "and described");
    cr_assert_gt(s.depth_fed, N_DEPTH / 2, "the complete lines played");
    cr_assert_eq(s.position_ns, T0 + 100 * CLK_NS_PER_S, "the second file played too");
    rig_free(&r);
}

Test(player, header_line_names_symbols_and_exchange_info)
{
    rig r = { 0 };
    text t = { 0 };
    put(&t,
        "%lld {\"bfmon\":\"header\",\"version\":\"0.1.0\",\"symbols\":[\"ETHUSDT\",\"" SYM
        "\"],\"exchange_info\":{\"rateLimits\":[],\"symbols\":[{\"symbol\":\"" SYM
        "\",\"pair\":\"" SYM "\",\"contractType\":\"PERPETUAL\",\"status\":\"TRADING\","
        "\"pricePrecision\":2,\"quantityPrecision\":1,\"filters\":[{\"filterType\":"
        "\"PRICE_FILTER\",\"tickSize\":\"0.01\"},{\"filterType\":\"LOT_SIZE\",\"stepSize\":"
        "\"0.1\"}]}]}}\n",
        T0 - 1);
    char *rest = synthetic(0, 0);
    put(&t, "%s", rest);
    free(rest);
    rig_text(&r, "h.txt", t.p);
    player_config cfg = { .speed = PLAYER_SPEED_MAX };
    rig_player(&r, &cfg);
    cr_assert(player_has_header(r.p));
    cr_assert_eq(player_symbol_count(r.p), 2);
    cr_assert_str_eq(player_symbol_at(r.p, 0), "ETHUSDT");
    cr_assert_str_eq(player_symbol_at(r.p, 1), SYM);
    size_t len = 0;
    const char *info = player_exchange_info(r.p, &len);
    cr_assert(info && strstr(info, "\"tickSize\":\"0.01\"") && len == strlen(info), "%s", info);
    rig_free(&r);
}

Test(player, missing_file_fails_create_with_the_reason)
{
    const char *files[] = { "/nonexistent/rec.txt" };
    player_config cfg = { .files = files, .nfiles = 1 };
    player *p = NULL;
    char why[256] = "";
    cr_assert_eq(player_create(&cfg, &p, why, sizeof why), BF_ENOENT);
    cr_assert_null(p);
    cr_assert(strstr(why, "cannot open /nonexistent/rec.txt"), "%s", why);
}

Test(player, speed_ladder_and_names)
{
    double s = PLAYER_SPEED_MIN;
    static const char *const names[] = { "0.1x", "0.25x", "0.5x", "1x",   "2x", "5x",
                                         "10x",  "25x",   "50x",  "100x", "max" };
    char buf[16];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        player_speed_name(s, buf, sizeof buf);
        cr_assert_str_eq(buf, names[i]);
        s = player_speed_step(s, true);
    }
    cr_assert(isinf(s), "max stays max");
    cr_assert_eq(player_speed_step(PLAYER_SPEED_MAX, false), 100);
    cr_assert_eq(player_speed_step(0.1, false), 0.1);
    cr_assert_eq(player_speed_step(3, true), 5, "between steps: the next one up");
    cr_assert_eq(player_speed_step(3, false), 2);
    double v = 0;
    cr_assert(player_parse_speed("max", &v) && isinf(v));
    cr_assert(player_parse_speed("0.1", &v) && v == 0.1);
    cr_assert(player_parse_speed("100", &v) && v == 100);
    cr_assert_not(player_parse_speed("0.05", &v));
    cr_assert_not(player_parse_speed("101", &v));
    cr_assert_not(player_parse_speed("fast", &v));
}
