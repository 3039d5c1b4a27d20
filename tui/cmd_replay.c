/*
 * cmd_replay: `bfmon replay`. Headless, the report is built by the engine (replay_report) and
 * this file only chooses how to print it (table, JSON, or --verify's verdicts). In a terminal the recording plays into the live screens: an offline engine fed by the
 * player (feed/player.h), drawn by tui/app. Main thread only.
 */
#include "tui/cmd_replay.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "feed/player.h"
#include "feed/replay.h"
#include "tui/app.h"
#include "tui/keymap.h"
#include "tui/cli.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/file.h"
#include "util/probe.h"

#define START_NS (10 * CLK_NS_PER_S)

static const char *str_at(json_t *o, const char *key, const char *key2)
{
    json_t *v = json_object_get(o, key);
    if (key2)
        v = json_object_get(v, key2);
    return json_is_string(v) ? json_string_value(v) : "-";
}

static long long int_at(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void print_symbol(const char *name, json_t *s)
{
    char bid[96], ask[96];
    snprintf(bid, sizeof bid, "%s x %s", str_at(s, "best_bid", "price"),
             str_at(s, "best_bid", "qty"));
    snprintf(ask, sizeof ask, "%s x %s", str_at(s, "best_ask", "price"),
             str_at(s, "best_ask", "qty"));
    printf("%-12s %-11s %-22s %-22s %7lld %7lld %4lld %9lld/%lld\n", name, str_at(s, "state", NULL),
           bid, ask, int_at(s, "applied"), int_at(s, "dropped"), int_at(s, "gaps"),
           int_at(s, "bookticker_checks"), int_at(s, "bookticker_mismatches"));
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(s, "problems"), i, p)
        printf("    ! %s\n", json_string_value(p));
}

static void print_table(json_t *rep)
{
    printf(
        "bfmon replay: %lld lines (%lld bad, %lld undecodable, %lld unsupported); integrity %s\n",
        int_at(rep, "lines"), int_at(rep, "bad_lines"), int_at(rep, "decode_errors"),
        int_at(rep, "unsupported"), str_at(rep, "integrity", NULL));
    printf("%-12s %-11s %-22s %-22s %7s %7s %4s %s\n", "SYMBOL", "STATE", "BEST BID", "BEST ASK",
           "APPLIED", "DROPPED", "GAPS", "BT CHECKS/MISMATCHES");
    const char *name;
    json_t *s;
    json_object_foreach(json_object_get(rep, "symbols"), name, s) print_symbol(name, s);
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(rep, "problems"), i, p)
        printf("! %s\n", json_string_value(p));
}

/* --verify: one verdict per symbol (continuity and bookTicker agreement), then the input's
 * problems and the overall verdict. */
static void print_verdicts(json_t *rep)
{
    const char *name;
    json_t *s;
    json_object_foreach(json_object_get(rep, "symbols"), name, s)
    {
        bool ok = !strcmp(str_at(s, "integrity", NULL), "ok");
        printf("%-12s %-6s continuity: %lld depth events, %lld gaps, %lld resyncs, ends %s; "
               "bookTicker: %lld checks, %lld mismatches, %lld unverifiable",
               name, ok ? "ok" : "FAILED", int_at(s, "depth_events"), int_at(s, "gaps"),
               int_at(s, "resyncs"), str_at(s, "state", NULL), int_at(s, "bookticker_checks"),
               int_at(s, "bookticker_mismatches"), int_at(s, "bookticker_unverified"));
        json_t *p;
        size_t i;
        json_array_foreach(json_object_get(s, "problems"), i, p)
            printf("%s%s", i ? "; " : " -- ", json_string_value(p));
        fputc('\n', stdout);
    }
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(rep, "problems"), i, p)
        printf("! %s\n", json_string_value(p));
    printf("bfmon replay --verify: integrity %s (%zu files, %lld lines, %lld bad, %lld "
           "undecodable, %lld read errors)\n",
           str_at(rep, "integrity", NULL), json_array_size(json_object_get(rep, "files")),
           int_at(rep, "lines"), int_at(rep, "bad_lines"), int_at(rep, "decode_errors"),
           int_at(rep, "read_errors"));
}

static int print_report(const replay *r, bool as_json, bool verify)
{
    json_t *rep = replay_report(r);
    if (verify && !as_json) {
        print_verdicts(rep);
    } else if (as_json) {
        json_dumpf(rep, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
    } else {
        print_table(rep);
    }
    json_decref(rep);
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* Replay every file; a file that cannot be opened stops the run (runtime failure). */
static int run_files(replay *r, const cli_replay *o)
{
    for (int i = 0; i < o->nfiles; i++) {
        replay_stats before, after;
        replay_get_stats(r, &before);
        int rc = replay_file(r, o->files[i]);
        replay_get_stats(r, &after);
        if (rc < 0 && after.files == before.files) {
            fprintf(stderr, "bfmon: %s\n", replay_error(r));
            return EXIT_RUNTIME;
        }
        if (rc < 0) /* damaged part-way: reported, the rest of the input still replays */
            fprintf(stderr, "bfmon: %s\n", replay_error(r));
    }
    return 0;
}

/* ---- the terminal UI ------------------------------------------------------------------------ */

/* The keymap file (keymap_load_user): 0, or EXIT_USAGE after saying why; the reason for a bad line
 * lands in msg for the status bar. */
static int load_keys(const cli_replay *o, keymap *km, char *msg, size_t cap)
{
    if (keymap_load_user(km, o->config, msg, cap) >= 0)
        return 0;
    fprintf(stderr, "bfmon replay: --config: %s\n", msg);
    msg[0] = '\0';
    return EXIT_USAGE;
}

/* The scales: --exchange-info FILE, else the recording's header. 0 or EXIT_RUNTIME after saying
 * why. */
static int load_scales(engine *e, const cli_replay *o, const player *pl)
{
    size_t len = 0;
    char *file = NULL;
    const char *body = player_exchange_info(pl, &len);
    char why[512] = "";
    int err = 0;
    if (o->exchange_info &&
        !(body = file = file_read_all(o->exchange_info, &len, &err, why, sizeof why))) {
        fprintf(stderr, "bfmon: %s\n", why);
        return EXIT_RUNTIME;
    }
    int rc = body ? engine_load_exchange_info(e, body, len, why, sizeof why) : 0;
    free(file);
    if (rc < 0) {
        fprintf(stderr, "bfmon: %s: not a usable exchangeInfo body: %s\n",
                o->exchange_info ? o->exchange_info : "the recording's header", why);
        return EXIT_RUNTIME;
    }
    return 0;
}

/* The offline engine for the player's symbols, started. NULL after saying why. */
static engine *replay_engine(const cli_replay *o, const player *pl, char *note, size_t cap)
{
    size_t n = player_symbol_count(pl);
    if (n == 0) {
        fprintf(stderr, "bfmon: no market data in the first %d lines of the recording\n",
                PLAYER_PRESCAN_LINES);
        return NULL;
    }
    const char *names[ENGINE_MAX_SYMBOLS];
    n = n < ENGINE_MAX_SYMBOLS ? n : ENGINE_MAX_SYMBOLS;
    for (size_t i = 0; i < n; i++)
        names[i] = player_symbol_at(pl, i);
    engine_config ec = { .symbols = names, .nsymbols = n, .offline = true };
    engine *e = NULL;
    char why[512] = "";
    int rc = engine_create(&ec, &e, why, sizeof why);
    if (rc == 0 && load_scales(e, o, pl) != 0)
        rc = BF_EINVAL;
    else if (rc == 0 && (rc = engine_start(e, clk_mono_ns() + START_NS, note, cap)) < 0)
        fprintf(stderr, "bfmon: cannot start the replay: %s\n", note);
    else if (rc < 0)
        fprintf(stderr, "bfmon: cannot start the replay: %s\n", why);
    if (rc < 0) {
        engine_destroy(e);
        return NULL;
    }
    return e;
}

static int run_tui(const cli_replay *o)
{
    app_block_signals(); /* before any thread: they all inherit the mask */
    keymap *km = keymap_create();
    char msg[600] = "", why[512] = "";
    int rc = load_keys(o, km, msg, sizeof msg);
    player_config pc = { .files = (const char *const *)o->files,
                         .nfiles = (size_t)o->nfiles,
                         .speed = o->speed };
    player *pl = NULL;
    if (rc == 0 && player_create(&pc, &pl, why, sizeof why) < 0) {
        fprintf(stderr, "bfmon: %s\n", why);
        rc = EXIT_RUNTIME;
    }
    char note[512] = "";
    engine *e = rc == 0 ? replay_engine(o, pl, note, sizeof note) : NULL;
    if (rc == 0 && !e)
        rc = EXIT_RUNTIME;
    if (e) {
        player_start(pl, e);
        app_config ac = { .e = e,
                          .rest_url = "",
                          .fps = o->fps,
                          .force_ascii = o->ascii,
                          .km = km,
                          .first_message = msg[0]    ? msg
                                           : note[0] ? note
                                                     : NULL,
                          .pl = pl };
        if (app_run(&ac, why, sizeof why) != 0) {
            fprintf(stderr, "bfmon: %s\n", why);
            rc = EXIT_RUNTIME;
        }
    }
    player_destroy(pl);
    if (e) {
        engine_stop(e);
        engine_destroy(e);
    }
    keymap_destroy(km);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    cli_replay o;
    int rc = cli_parse_replay(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (!o.headless && !o.json && !o.verify && isatty(STDOUT_FILENO))
        return run_tui(&o);
    replay_config cfg = { .exchange_info_path = o.exchange_info, .probes = o.probes };
    replay *r = NULL;
    char why[512];
    if (replay_create(&cfg, &r, why, sizeof why) < 0) {
        fprintf(stderr, "bfmon: %s\n", why);
        return EXIT_RUNTIME;
    }
    rc = run_files(r, &o);
    if (rc == 0) {
        replay_finish(r);
        rc = print_report(r, o.json, o.verify);
        if (o.probes)
            probe_report(replay_probes(r), stderr);
        if (rc == 0 && !replay_integrity_ok(r))
            rc = EXIT_INTEGRITY;
    }
    replay_destroy(r);
    return rc;
}
