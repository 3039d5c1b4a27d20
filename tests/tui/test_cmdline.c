/*
 * cli: every command's options (tui/cli.h) and the option values behind them (tui/opts.h). Each
 * case parses an argument vector as main() would hand it over and checks the verdict and what was
 * filled in; usage errors must name the offending option.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tui/cli.h"
#include "util/clk.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof *(v)) - 1)

/* The arguments before the NULL of a fixed-size row. */
static int count_args(char **v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

static void quiet(void)
{
    cr_redirect_stderr();
    cr_redirect_stdout();
}

TestSuite(cli, .init = quiet);

Test(cli, command_words)
{
    char *none[] = { "bfmon", NULL };
    char *sim[] = { "bfmon", "sim", "--port", "0", NULL };
    char *help[] = { "bfmon", "--help", NULL };
    char *help_more[] = { "bfmon", "--help", "--demo", NULL };
    char *version[] = { "bfmon", "-V", NULL };
    char *unknown[] = { "bfmon", "simulate", NULL };
    char *live[] = { "bfmon", "--demo", NULL };
    cr_assert_eq(cli_command_of(ARGC(none), none), CLI_LIVE);
    cr_assert_eq(cli_command_of(ARGC(sim), sim), CLI_SIM);
    cr_assert_eq(cli_command_of(ARGC(help), help), CLI_HELP);
    cr_assert_eq(cli_command_of(ARGC(help_more), help_more), CLI_LIVE, "cmd_live answers it");
    cr_assert_eq(cli_command_of(ARGC(version), version), CLI_VERSION);
    cr_assert_eq(cli_command_of(ARGC(unknown), unknown), CLI_UNKNOWN);
    cr_assert_eq(cli_command_of(ARGC(live), live), CLI_LIVE);
}

Test(cli, live_defaults)
{
    char *v[] = { "bfmon", NULL };
    cli_live o;
    cr_assert_eq(cli_parse_live(ARGC(v), v, &o), CLI_RUN);
    cr_assert_eq(o.feed.nsymbols, 0, "the engine's default symbols");
    cr_assert_eq(o.feed.interval_ns, CLK_NS_PER_S);
    cr_assert_eq(o.feed.duration_ns, 0);
    cr_assert_eq(o.fps, 0, "the UI's default frame cap");
    cr_assert(!o.headless && !o.json && !o.demo && !o.deflate && !o.repaint_all && !o.bench_floor);
    cr_assert(!o.ascii);
}

Test(cli, live_every_option)
{
    char *v[] = { "bfmon",
                  "--symbols",
                  "btcusdt, ethUSDT",
                  "--depth-speed",
                  "0ms",
                  "--workers",
                  "3",
                  "--fps",
                  "30",
                  "--headless",
                  "--json",
                  "--demo",
                  "--deflate",
                  "--ascii",
                  "--status-interval",
                  "250ms",
                  "--duration",
                  "2m",
                  "--config",
                  "keys.conf",
                  "--rest-url",
                  "http://127.0.0.1:1",
                  "--ws-url",
                  "ws://127.0.0.1:1",
                  "--ca-file",
                  "ca.pem",
                  NULL };
    cli_live o;
    cr_assert_eq(cli_parse_live(ARGC(v), v, &o), CLI_RUN);
    cr_assert_eq(o.feed.nsymbols, 2);
    cr_assert_str_eq(o.feed.symbols[0], "BTCUSDT");
    cr_assert_str_eq(o.feed.symbols[1], "ETHUSDT");
    cr_assert_str_eq(o.feed.depth_suffix, "@0ms");
    cr_assert_eq(o.feed.workers, 3);
    cr_assert_eq(o.fps, 30);
    cr_assert(o.headless && o.json && o.demo && o.deflate && o.ascii && !o.repaint_all);
    cr_assert(!o.bench_floor);
    cr_assert_eq(o.feed.interval_ns, 250 * CLK_NS_PER_MS);
    cr_assert_eq(o.feed.duration_ns, 120 * CLK_NS_PER_S);
    cr_assert_str_eq(o.config, "keys.conf");
    cr_assert_str_eq(o.feed.rest_url, "http://127.0.0.1:1");
    cr_assert_str_eq(o.feed.ws_url, "ws://127.0.0.1:1");
    cr_assert_str_eq(o.feed.ca_file, "ca.pem");
}

Test(cli, live_record_goes_with_the_terminal_ui)
{
    char *v[] = { "bfmon", "--demo", "--record", "rec/dir", NULL };
    char *headless[] = { "bfmon", "--record", "rec", "--headless", NULL };
    char *empty[] = { "bfmon", "--record", "", NULL };
    cli_live o;
    cr_assert_eq(cli_parse_live(ARGC(v), v, &o), CLI_RUN);
    cr_assert_str_eq(o.record, "rec/dir");
    cr_assert_eq(o.nkinds, 4, "bfmon record's default streams");
    cr_assert_str_eq(o.kind_ptrs[3], "markPrice@1s");
    cr_assert_eq(cli_parse_live(ARGC(headless), headless, &o), EXIT_USAGE, "bfmon record's job");
    cr_assert_eq(cli_parse_live(ARGC(empty), empty, &o), EXIT_USAGE);
    char *none[] = { "bfmon", NULL };
    cr_assert_eq(cli_parse_live(ARGC(none), none, &o), CLI_RUN);
    cr_assert_null(o.record);
}

Test(cli, the_benchmark_arms_are_flags_of_their_own)
{
    char *all[] = { "bfmon", "--repaint-all", NULL };
    char *floor[] = { "bfmon", "--bench-floor", NULL };
    cli_live o;
    cr_assert_eq(cli_parse_live(ARGC(all), all, &o), CLI_RUN);
    cr_assert(o.repaint_all && !o.bench_floor);
    cr_assert_eq(cli_parse_live(ARGC(floor), floor, &o), CLI_RUN);
    cr_assert(o.bench_floor && !o.repaint_all);
}

Test(cli, live_bad_values_are_usage_errors)
{
    char *bad[][4] = {
        { "bfmon", "--fps", "0", NULL },           { "bfmon", "--fps", "241", NULL },
        { "bfmon", "--workers", "65", NULL },      { "bfmon", "--symbols", "BTC-USDT", NULL },
        { "bfmon", "--symbols", "A,,B", NULL },    { "bfmon", "--depth-speed", "50ms", NULL },
        { "bfmon", "--duration", "-1s", NULL },    { "bfmon", "--status-interval", "0", NULL },
        { "bfmon", "--headless=yes", NULL, NULL }, { "bfmon", "--fps", NULL, NULL },
        { "bfmon", "--bogus", NULL, NULL },        { "bfmon", "-x", NULL, NULL },
        { "bfmon", "stray", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cli_live o;
        cr_assert_eq(cli_parse_live(count_args(bad[i]), bad[i], &o), EXIT_USAGE, "case %zu: %s %s",
                     i, bad[i][1], bad[i][2] ? bad[i][2] : "");
    }
}

Test(cli, help_is_done_not_run)
{
    char *live[] = { "bfmon", "--help-live", NULL };
    char *rec[] = { "record", "-h", NULL };
    char *rep[] = { "replay", "--help", NULL };
    char *sim[] = { "sim", "--help", NULL };
    cli_live l;
    cli_record r;
    cli_replay p;
    cli_sim s;
    cr_assert_eq(cli_parse_live(ARGC(live), live, &l), CLI_DONE);
    cr_assert_eq(cli_parse_record(ARGC(rec), rec, &r), CLI_DONE);
    cr_assert_eq(cli_parse_replay(ARGC(rep), rep, &p), CLI_DONE);
    cr_assert_eq(cli_parse_sim(ARGC(sim), sim, &s), CLI_DONE);
    cli_sim_free(&s);
}

Test(cli, record_defaults)
{
    char *v[] = { "record", "--out", "dir", NULL };
    cli_record o;
    cr_assert_eq(cli_parse_record(ARGC(v), v, &o), CLI_RUN);
    cr_assert_str_eq(o.out, "dir");
    cr_assert_str_eq(o.prefix, "bfmon");
    cr_assert_eq(o.compress, REC_GZIP);
    cr_assert_eq(o.level, 0);
    cr_assert_eq(o.rotate_bytes, 0);
    cr_assert_eq(o.feed.interval_ns, 10 * CLK_NS_PER_S, "stats every 10 s");
    cr_assert_eq(o.nkinds, 4);
    const char *want[] = { "depth", "bookTicker", "aggTrade", "markPrice@1s" };
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(o.kind_ptrs[i], want[i]);
}

Test(cli, record_options)
{
    char *v[] = { "record",
                  "--out",
                  "d",
                  "--streams",
                  "depth, trade",
                  "--compress",
                  "zstd",
                  "--level",
                  "19",
                  "--rotate-size",
                  "512M",
                  "--prefix",
                  "run",
                  "--no-rotate-daily",
                  NULL };
    cli_record o;
    cr_assert_eq(cli_parse_record(ARGC(v), v, &o), CLI_RUN);
    cr_assert_eq(o.nkinds, 2);
    cr_assert_str_eq(o.kind_ptrs[1], "trade");
    cr_assert_eq(o.compress, REC_ZSTD);
    cr_assert_eq(o.level, 19);
    cr_assert_eq(o.rotate_bytes, 512ull << 20);
    cr_assert_str_eq(o.prefix, "run");
    cr_assert(o.no_rotate_daily);
}

Test(cli, record_usage_errors)
{
    char *no_out[] = { "record", NULL };
    char *gzip_level[] = { "record", "--out", "d", "--level", "10", NULL };
    char *zstd_level[] = { "record", "--out", "d", "--compress", "zstd", "--level", "20", NULL };
    char *tiny[] = { "record", "--out", "d", "--rotate-size", "1K", NULL };
    char *slash[] = { "record", "--out", "d", "--prefix", "a/b", NULL };
    char *kind[] = { "record", "--out", "d", "--compress", "lz4", NULL };
    char *streams[] = { "record", "--out", "d", "--streams", ",", NULL };
    cli_record o;
    cr_assert_eq(cli_parse_record(ARGC(no_out), no_out, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_record(ARGC(gzip_level), gzip_level, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_record(ARGC(zstd_level), zstd_level, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_record(ARGC(tiny), tiny, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_record(ARGC(slash), slash, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_record(ARGC(kind), kind, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_record(ARGC(streams), streams, &o), EXIT_USAGE);
}

Test(cli, replay_files_and_options)
{
    char *v[] = { "replay",   "a.rec",    "--speed",         "max",    "--fps",
                  "5",        "b.rec.gz", "--verify",        "--json", "--headless",
                  "--probes", "--ascii",  "--exchange-info", "x.json", NULL };
    cli_replay o;
    cr_assert_eq(cli_parse_replay(ARGC(v), v, &o), CLI_RUN);
    cr_assert_eq(o.nfiles, 2, "options and files may mix");
    cr_assert_str_eq(o.files[0], "a.rec");
    cr_assert_str_eq(o.files[1], "b.rec.gz");
    cr_assert(isinf(o.speed));
    cr_assert_eq(o.fps, 5);
    cr_assert(o.verify && o.json && o.headless && o.probes && o.ascii);
    cr_assert_str_eq(o.exchange_info, "x.json");
}

Test(cli, replay_usage_errors)
{
    char *none[] = { "replay", "--json", NULL };
    char *slow[] = { "replay", "f", "--speed", "0.05", NULL };
    char *fast[] = { "replay", "f", "--speed", "101", NULL };
    char *word[] = { "replay", "f", "--speed", "fast", NULL };
    cli_replay o;
    cr_assert_eq(cli_parse_replay(ARGC(none), none, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_replay(ARGC(slow), slow, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_replay(ARGC(fast), fast, &o), EXIT_USAGE);
    cr_assert_eq(cli_parse_replay(ARGC(word), word, &o), EXIT_USAGE);
    char *one[] = { "replay", "f", NULL };
    cr_assert_eq(cli_parse_replay(ARGC(one), one, &o), CLI_RUN);
    cr_assert_eq(o.speed, 1.0, "default speed");
}

Test(cli, sim_options)
{
    char *v[] = { "sim",
                  "--port",
                  "0",
                  "--symbols",
                  "BTCUSDT,ETHUSDT",
                  "--seed",
                  "7",
                  "--rate",
                  "20000",
                  "--levels",
                  "1000",
                  "--fault",
                  "gap,stream=btcusdt@depth,every=10s",
                  "--fault",
                  "http429",
                  "--ping-interval",
                  "2m",
                  "--max-streams",
                  "10",
                  "--weight-limit",
                  "1200",
                  NULL };
    cli_sim o;
    cr_assert_eq(cli_parse_sim(ARGC(v), v, &o), CLI_RUN);
    cr_assert_eq(o.cfg.port, 0);
    cr_assert_eq(o.cfg.tls_port, CLI_SIM_DEFAULT_TLS_PORT);
    cr_assert_eq(o.model.nsymbols, 2);
    cr_assert_str_eq(o.model.symbols[1].name, "ETHUSDT");
    cr_assert_eq(o.model.seed, 7);
    cr_assert_eq(o.model.rate, 20000);
    cr_assert_eq(o.model.levels, 1000);
    cr_assert_eq(o.cfg.nfaults, 2);
    cr_assert_eq(o.cfg.faults, o.faults);
    cr_assert_str_eq(o.faults[1], "http429");
    cr_assert_eq(o.cfg.ping_interval_ms, 120000);
    cr_assert_eq(o.cfg.max_streams, 10);
    cr_assert_eq(o.cfg.weight_limit, 1200);
    cr_assert_eq(o.model.weight_limit, 1200, "announced in exchangeInfo too");
    cli_sim_free(&o);
}

Test(cli, sim_usage_errors)
{
    char *bad[][4] = {
        { "sim", "--port", "65536", NULL },      { "sim", "--symbols", "btcusdt", NULL },
        { "sim", "--levels", "10", NULL },       { "sim", "--fault", "meteor", NULL },
        { "sim", "--cert", "c.pem", NULL },      { "sim", "--exchange-info", "x", NULL },
        { "sim", "--ping-interval", "0", NULL }, { "sim", "--rate", "0.5", NULL },
        { "sim", "--speed", "-1", NULL },        { "sim", "extra", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cli_sim o;
        cr_assert_eq(cli_parse_sim(count_args(bad[i]), bad[i], &o), EXIT_USAGE, "case %zu: %s", i,
                     bad[i][1]);
        cli_sim_free(&o);
    }
}

Test(cli, sim_too_many_faults)
{
    char *v[2 + 2 * (CLI_SIM_MAX_FAULTS + 1)];
    int argc = 0;
    v[argc++] = "sim";
    for (int i = 0; i <= CLI_SIM_MAX_FAULTS; i++) {
        v[argc++] = "--fault";
        v[argc++] = "gap";
    }
    v[argc] = NULL;
    cli_sim o;
    cr_assert_eq(cli_parse_sim(argc, v, &o), EXIT_USAGE);
    cli_sim_free(&o);
}

/* getopt keeps global state and permutes argv: a second parse must see everything afresh. */
Test(cli, parses_repeat)
{
    char *v[] = { "replay", "f1", "--json", "f2", NULL };
    cli_replay a, b;
    cr_assert_eq(cli_parse_replay(ARGC(v), v, &a), CLI_RUN);
    cr_assert_eq(cli_parse_replay(ARGC(v), v, &b), CLI_RUN);
    cr_assert_eq(b.nfiles, 2);
    cr_assert(b.json);
    char *bad[] = { "bfmon", "--fps", "0", NULL };
    char *good[] = { "bfmon", "--fps", "9", NULL };
    cli_live l;
    cr_assert_eq(cli_parse_live(ARGC(bad), bad, &l), EXIT_USAGE);
    cr_assert_eq(cli_parse_live(ARGC(good), good, &l), CLI_RUN, "an error left no state behind");
    cr_assert_eq(l.fps, 9);
}

Test(cli, errors_name_the_option, .init = cr_redirect_stderr)
{
    char *v[] = { "record", "--out", "d", "--compress", "lz4", NULL };
    cli_record o;
    cr_assert_eq(cli_parse_record(ARGC(v), v, &o), EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("bfmon record: --compress 'lz4': use gzip, zstd or none\n"
                            "run 'bfmon record --help' for the options\n");
}

Test(cli, unknown_option_and_missing_value_messages, .init = cr_redirect_stderr)
{
    char *v1[] = { "bfmon", "--headless=1", NULL };
    char *v2[] = { "bfmon", "-qz", NULL };
    char *v3[] = { "sim", "--port", NULL };
    cli_live l;
    cli_sim s;
    cr_assert_eq(cli_parse_live(ARGC(v1), v1, &l), EXIT_USAGE);
    cr_assert_eq(cli_parse_live(ARGC(v2), v2, &l), EXIT_USAGE);
    cr_assert_eq(cli_parse_sim(ARGC(v3), v3, &s), EXIT_USAGE);
    cli_sim_free(&s);
    fflush(stderr);
    cr_assert_stderr_eq_str("bfmon: option '--headless=1' takes no value\n"
                            "run 'bfmon --help-live' for the options\n"
                            "bfmon: unknown option '-q'\n"
                            "run 'bfmon --help-live' for the options\n"
                            "bfmon sim: option '--port' needs a value\n"
                            "run 'bfmon sim --help' for the options\n");
}
