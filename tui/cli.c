/*
 * cli: every command's options, parsed without side effects (see cli.h). The help texts live here
 * too, next to the tables they describe, so an option and its line in --help change together.
 */
#include "tui/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bfmon_config.h"
#include "engine.h"
#include "feed/player.h"
#include "sim/faults.h"
#include "util/clk.h"
#include "util/xalloc.h"

/* ---- shared ------------------------------------------------------------------------------- */

static bool is_word(const char *arg, const char *word)
{
    return strcmp(arg, word) == 0;
}

cli_command cli_command_of(int argc, char *const *argv)
{
    if (argc < 2)
        return CLI_LIVE;
    const char *a = argv[1];
    if (is_word(a, "sim"))
        return CLI_SIM;
    if (is_word(a, "replay"))
        return CLI_REPLAY;
    if (is_word(a, "record"))
        return CLI_RECORD;
    if (argc == 2 && (is_word(a, "--help") || is_word(a, "-h")))
        return CLI_HELP;
    if (argc == 2 && (is_word(a, "--version") || is_word(a, "-V")))
        return CLI_VERSION;
    if (a[0] != '-')
        return CLI_UNKNOWN;
    return CLI_LIVE; /* everything else is the live monitor's options */
}

void cli_usage(FILE *to)
{
    fprintf(to, "usage: bfmon [--help] [--version] [<live options>]\n"
                "       bfmon <command> [<args>]\n"
                "\n"
                "A terminal monitor for Binance USD-M Futures market data.\n"
                "Without a command it watches the live market (see 'bfmon --help-live').\n"
                "\n"
                "commands:\n"
                "  sim              run the built-in Binance-compatible loopback exchange\n"
                "  replay FILE...   replay recordings through the engine and report\n"
                "  record --out DIR record market data to files, without the terminal UI\n"
                "\n"
                "Run 'bfmon <command> --help' for a command's options.\n");
}

/* "bfmon[ cmd]: <sentence>" and where the options are; EXIT_USAGE. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bfmon%s%s: ", *cmd ? " " : "", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (*cmd)
        fprintf(stderr, "\nrun 'bfmon %s --help' for the options\n", cmd);
    else
        fputs("\nrun 'bfmon --help-live' for the options\n", stderr);
    return EXIT_USAGE;
}

/* getopt's verdict on an argument it could not take; EXIT_USAGE. optopt is the short option's
 * letter (optind may still point at its cluster), a long option's code, or 0 for an unknown long
 * option (optind is past it then). */
static int getopt_error(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return optopt > 0 && optopt < 256 ? usage_error(cmd, "option '-%c' needs a value", optopt)
                                          : usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt > 0 && optopt < 256)
        return usage_error(cmd, "unknown option '-%c'", optopt);
    if (optopt >= 256)
        return usage_error(cmd, "option '%s' takes no value", arg);
    return usage_error(cmd, "unknown option '%s'", arg);
}

/* One option of a command: 0, or the exit status to return at once. name is "--<long name>". */
typedef int (*take_fn)(void *o, int c, const char *name, const char *arg);

typedef struct command {
    const char *name; /* "" for the live monitor */
    const struct option *opts;
    void (*usage)(FILE *to);
    take_fn take;
    bool operands; /* arguments after the options are the command's (replay's files) */
} command;

/* getopt over argv with the command's table: CLI_RUN with optind at the first operand, CLI_DONE
 * after the help, or EXIT_USAGE. Every parse starts getopt afresh (optind 0: glibc's full reset)
 * and says its own errors. */
static int drive(const command *cmd, int argc, char **argv, void *o)
{
    optind = 0;
    opterr = 0;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, ":h", cmd->opts, &idx)) != -1) {
        if (c == 'h') {
            cmd->usage(stdout);
            return CLI_DONE;
        }
        if (c == '?' || c == ':')
            return getopt_error(cmd->name, c, argv);
        char name[40];
        snprintf(name, sizeof name, "--%s", cmd->opts[idx].name);
        int rc = cmd->take(o, c, name, optarg);
        if (rc)
            return rc;
    }
    if (!cmd->operands && optind < argc)
        return usage_error(cmd->name, "unexpected argument '%s'", argv[optind]);
    return CLI_RUN;
}

static bool parse_fps(const char *s, int *out)
{
    long v;
    if (!opts_parse_int(s, 1, 240, &v))
        return false;
    *out = (int)v;
    return true;
}

/* A list of stream kinds into names and the pointers the engine takes. */
static bool parse_kinds(const char *list, char (*names)[ENGINE_STREAM_KIND_MAX], const char **ptrs,
                        size_t *n)
{
    if (!opts_parse_list(list, &names[0][0], ENGINE_STREAM_KIND_MAX, ENGINE_MAX_STREAM_KINDS, n))
        return false;
    for (size_t i = 0; i < *n; i++)
        ptrs[i] = names[i];
    return true;
}

/* ---- bfmon [live options] ----------------------------------------------------------------- */

void cli_usage_live(FILE *to)
{
    fprintf(to,
            "usage: bfmon [<live options>]\n"
            "\n"
            "Watch Binance USD-M Futures books live.\n"
            "\n"
            "  --rest-url URL          REST base (env BFMON_REST_URL; default %s)\n"
            "  --ws-url URL            WebSocket base (env BFMON_WS_URL; default %s)\n"
            "  --ca-file FILE          extra PEM trust anchor for both\n"
            "  --demo                  watch the built-in loopback exchange (bfmon sim) instead\n"
            "  --deflate               ask for permessage-deflate (off by default: it costs CPU)\n"
            "  --symbols A,B,...       symbols to watch (default %s)\n"
            "  --depth-speed SPEED     diff depth stream: 0ms, 100ms (default), 250ms, 500ms\n"
            "  --workers N             shard worker threads (default: CPUs - 1)\n"
            "  --fps N                 terminal UI frame cap (default 20)\n"
            "  --config FILE           keymap file (default $XDG_CONFIG_HOME/bfmon/keys or\n"
            "                          ~/.config/bfmon/keys)\n"
            "  --ascii                 ASCII glyphs even in a UTF-8 terminal\n"
            "  --record DIR            record while watching: the files and report of\n"
            "                          'bfmon record' (its default streams; REC in the status\n"
            "                          bar; 'p' freezes the screen, never the recording)\n"
            "  --headless              no terminal UI: print a status per interval\n"
            "  --json                  headless status as one JSON object per line\n"
            "  --status-interval DUR   status period (default 1s)\n"
            "  --duration DUR          stop after DUR (default 0: until SIGINT/SIGTERM)\n"
            "  --help-live, --help     this help\n"
            "\n"
            "DUR is a number with an optional unit: ms, s (default), m, h.\n"
            "Exit status: 0 stopped normally, 1 the engine could not start (--headless; the\n"
            "terminal UI keeps retrying and says why), 2 usage error, 3 --record lost data or\n"
            "could not create its directory.\n",
            ENGINE_DEFAULT_REST_URL, ENGINE_DEFAULT_WS_URL, ENGINE_DEFAULT_SYMBOLS);
}

enum {
    LIVE_HEADLESS = OPTS_FEED_END,
    LIVE_JSON,
    LIVE_DEMO,
    LIVE_DEFLATE,
    LIVE_FPS,
    LIVE_CONFIG,
    LIVE_REPAINT_ALL,
    LIVE_BENCH_FLOOR,
    LIVE_ASCII,
    LIVE_RECORD,
};

/* A flag of the live monitor: the bool it sets, or NULL. */
static bool *live_flag(int c, cli_live *o)
{
    switch (c) {
    case LIVE_HEADLESS:
        return &o->headless;
    case LIVE_JSON:
        return &o->json;
    case LIVE_DEMO:
        return &o->demo;
    case LIVE_DEFLATE:
        return &o->deflate;
    case LIVE_REPAINT_ALL: /* hidden: the benchmark's baseline */
        return &o->repaint_all;
    case LIVE_BENCH_FLOOR: /* hidden: the benchmark's floor */
        return &o->bench_floor;
    case LIVE_ASCII:
        return &o->ascii;
    default:
        return NULL;
    }
}

static int live_take(void *opts, int c, const char *name, const char *arg)
{
    (void)name;
    cli_live *o = opts;
    char why[256];
    int rc = opts_take_feed(c, arg, &o->feed, why, sizeof why);
    if (rc <= 0)
        return rc ? usage_error("", "%s", why) : 0;
    bool *flag = live_flag(c, o);
    if (flag) {
        *flag = true;
        return 0;
    }
    if (c == LIVE_FPS)
        return parse_fps(arg, &o->fps) ? 0 : usage_error("", "--fps '%s': use 1 to 240", arg);
    if (c == LIVE_CONFIG) {
        o->config = arg;
        return 0;
    }
    if (c == LIVE_RECORD) {
        o->record = arg;
        return arg[0] ? 0 : usage_error("", "--record needs a directory");
    }
    return EXIT_USAGE;
}

int cli_parse_live(int argc, char **argv, cli_live *o)
{
    static const struct option opts[] = {
        OPTS_FEED_LONGOPTS,
        { "headless", no_argument, NULL, LIVE_HEADLESS },
        { "json", no_argument, NULL, LIVE_JSON },
        { "demo", no_argument, NULL, LIVE_DEMO },
        { "deflate", no_argument, NULL, LIVE_DEFLATE },
        { "fps", required_argument, NULL, LIVE_FPS },
        { "config", required_argument, NULL, LIVE_CONFIG },
        { "repaint-all", no_argument, NULL, LIVE_REPAINT_ALL },
        { "bench-floor", no_argument, NULL, LIVE_BENCH_FLOOR },
        { "ascii", no_argument, NULL, LIVE_ASCII },
        { "record", required_argument, NULL, LIVE_RECORD },
        { "help-live", no_argument, NULL, 'h' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const command cmd = { "", opts, cli_usage_live, live_take, false };
    memset(o, 0, sizeof *o);
    opts_feed_init(&o->feed, CLK_NS_PER_S);
    int rc = drive(&cmd, argc, argv, o);
    if (rc == CLI_RUN && o->record && o->headless)
        return usage_error("", "--record goes with the terminal UI; headless, use 'bfmon record'");
    if (rc == CLI_RUN && o->record)
        parse_kinds(CLI_RECORD_DEFAULT_STREAMS, o->kinds, o->kind_ptrs, &o->nkinds);
    return rc;
}

/* ---- bfmon record ------------------------------------------------------------------------- */

void cli_usage_record(FILE *to)
{
    fprintf(
        to,
        "usage: bfmon record --out DIR [options]\n"
        "\n"
        "Record Binance USD-M Futures market data without the terminal UI: every WebSocket\n"
        "message as received, every REST depth snapshot and bfmon's own events, through the\n"
        "live engine (books synced, gaps detected), into rotating compressed files.\n"
        "\n"
        "  --out DIR               output directory (created when missing; required)\n"
        "  --symbols A,B,...       symbols to record (default %s)\n"
        "  --streams LIST          per-symbol stream kinds (default " CLI_RECORD_DEFAULT_STREAMS
        ");\n"
        "                          depth is the diff stream at --depth-speed; others as named\n"
        "                          by Binance: bookTicker, aggTrade, trade, markPrice,\n"
        "                          markPrice@1s, kline_1m, depth20@100ms, ...\n"
        "  --depth-speed SPEED     diff depth stream: 0ms, 100ms (default), 250ms, 500ms\n"
        "  --rest-url URL          REST base (env BFMON_REST_URL; default %s)\n"
        "  --ws-url URL            WebSocket base (env BFMON_WS_URL; default %s)\n"
        "  --ca-file FILE          extra PEM trust anchor for both\n"
        "  --compress KIND         gzip (default), zstd or none\n"
        "  --level N               compression level (gzip 1-9, zstd 1-19; default 1 / 3)\n"
        "  --rotate-size SIZE      start a new file at SIZE bytes on disk (e.g. 512M, 1G)\n"
        "  --no-rotate-daily       do not start a new file at UTC midnight\n"
        "  --prefix NAME           file name prefix (default bfmon)\n"
        "  --workers N             shard worker threads (default: CPUs - 1)\n"
        "  --status-interval DUR   JSON stats line on stderr every DUR (default 10s)\n"
        "  --duration DUR          stop after DUR (default 0: until SIGINT/SIGTERM)\n"
        "  -h, --help              this help\n"
        "\n"
        "Files: DIR/<prefix>-<UTC start>-<seq>.rec.gz (.rec.zst, .rec); each starts with a\n"
        "header line and replays on its own ('bfmon replay DIR/*.rec.gz'). SIGHUP starts a new\n"
        "file; SIGINT/SIGTERM flush, close and write DIR/<first file>.report.json.\n"
        "Exit status: 0 success, 2 usage error, 3 runtime failure (cannot create the output,\n"
        "the engine cannot start, or recorded data was lost).\n",
        ENGINE_DEFAULT_SYMBOLS, ENGINE_DEFAULT_REST_URL, ENGINE_DEFAULT_WS_URL);
}

enum {
    REC_OUT = OPTS_FEED_END,
    REC_STREAMS,
    REC_COMPRESS,
    REC_LEVEL,
    REC_ROTATE_SIZE,
    REC_NO_DAILY,
    REC_PREFIX,
};

static bool parse_compress(const char *s, recorder_compress *out)
{
    static const struct {
        const char *name;
        recorder_compress c;
    } kinds[] = { { "gzip", REC_GZIP }, { "zstd", REC_ZSTD }, { "none", REC_PLAIN } };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(s, kinds[i].name)) {
            *out = kinds[i].c;
            return true;
        }
    return false;
}

static int record_streams(const char *arg, cli_record *o)
{
    if (!parse_kinds(arg, o->kinds, o->kind_ptrs, &o->nkinds))
        return usage_error("record", "--streams '%s': not a list of at most %d stream kinds", arg,
                           ENGINE_MAX_STREAM_KINDS);
    return 0;
}

static int record_take_output(int c, const char *arg, cli_record *o)
{
    switch (c) {
    case REC_OUT:
        o->out = arg;
        return 0;
    case REC_COMPRESS:
        return parse_compress(arg, &o->compress)
                   ? 0
                   : usage_error("record", "--compress '%s': use gzip, zstd or none", arg);
    case REC_LEVEL:
        return opts_parse_int(arg, 1, 22, &o->level)
                   ? 0
                   : usage_error("record", "--level '%s': not a compression level", arg);
    case REC_ROTATE_SIZE:
        return opts_parse_size(arg, &o->rotate_bytes) && o->rotate_bytes >= 4096
                   ? 0
                   : usage_error("record", "--rotate-size '%s': use a size of at least 4K", arg);
    case REC_NO_DAILY:
        o->no_rotate_daily = true;
        return 0;
    case REC_PREFIX:
        return *arg && !strchr(arg, '/')
                   ? (o->prefix = arg, 0)
                   : usage_error("record", "--prefix '%s': not a file name", arg);
    default:
        return EXIT_USAGE;
    }
}

static int record_take(void *opts, int c, const char *name, const char *arg)
{
    (void)name;
    cli_record *o = opts;
    char why[256];
    int rc = opts_take_feed(c, arg, &o->feed, why, sizeof why);
    if (rc <= 0)
        return rc ? usage_error("record", "%s", why) : 0;
    if (c == REC_STREAMS)
        return record_streams(arg, o);
    return record_take_output(c, arg, o);
}

/* Checks that need every option. 0 or the usage error's exit status. */
static int record_check(cli_record *o)
{
    if (!o->out || !*o->out)
        return usage_error("record", "--out DIR is required");
    if (o->level && o->compress == REC_GZIP && o->level > 9)
        return usage_error("record", "--level %ld: gzip levels are 1 to 9", o->level);
    if (o->level && o->compress == REC_ZSTD && o->level > 19)
        return usage_error("record", "--level %ld: zstd levels are 1 to 19", o->level);
    if (o->nkinds == 0)
        record_streams(CLI_RECORD_DEFAULT_STREAMS, o);
    return 0;
}

int cli_parse_record(int argc, char **argv, cli_record *o)
{
    static const struct option opts[] = {
        OPTS_FEED_LONGOPTS,
        { "out", required_argument, NULL, REC_OUT },
        { "streams", required_argument, NULL, REC_STREAMS },
        { "compress", required_argument, NULL, REC_COMPRESS },
        { "level", required_argument, NULL, REC_LEVEL },
        { "rotate-size", required_argument, NULL, REC_ROTATE_SIZE },
        { "no-rotate-daily", no_argument, NULL, REC_NO_DAILY },
        { "prefix", required_argument, NULL, REC_PREFIX },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const command cmd = { "record", opts, cli_usage_record, record_take, false };
    memset(o, 0, sizeof *o);
    opts_feed_init(&o->feed, 10 * CLK_NS_PER_S);
    o->prefix = "bfmon";
    int rc = drive(&cmd, argc, argv, o);
    return rc == CLI_RUN ? record_check(o) : rc;
}

/* ---- bfmon replay ------------------------------------------------------------------------- */

void cli_usage_replay(FILE *to)
{
    fprintf(to,
            "usage: bfmon replay FILE... [--speed X|max] [--headless] [--json] [--verify]\n"
            "                            [--exchange-info FILE] [--probes]\n"
            "\n"
            "Replay recordings (lines '<recv ns> <json>', plain, gzip or zstd; several files play\n"
            "in order). In a terminal they play into the live screens; otherwise (or with\n"
            "--headless, --json or --verify) every symbol's book, sync and cross-check results\n"
            "are reported.\n"
            "\n"
            "  --speed X|max         playback speed, 0.1 to 100 times, or max (default 1)\n"
            "  --config FILE         keymap file (as for the live monitor)\n"
            "  --fps N               terminal UI frame cap (default 20)\n"
            "  --ascii               ASCII glyphs even in a UTF-8 terminal\n"
            "  --headless            no terminal UI: print the report\n"
            "  --json                print the report as one JSON object\n"
            "  --verify              continuity and bookTicker agreement: one verdict per symbol\n"
            "  --exchange-info FILE  take price/quantity scales from an exchangeInfo body\n"
            "  --probes              time decode and apply per line; print the table on stderr\n"
            "  -h, --help            this help\n"
            "\n"
            "Keys in the terminal UI: Space pause/resume, . step, n next gap/resync/disconnect,\n"
            "< > slower/faster, p freeze the display, ? help, q quit.\n"
            "Exit status: 0 sound, 1 integrity failure, 2 usage error, 3 cannot read input.\n");
}

enum {
    RP_HEADLESS = 256,
    RP_JSON,
    RP_EXINFO,
    RP_PROBES,
    RP_VERIFY,
    RP_SPEED,
    RP_CONFIG,
    RP_FPS,
    RP_ASCII
};

static bool *replay_flag(int c, cli_replay *o)
{
    switch (c) {
    case RP_HEADLESS:
        return &o->headless;
    case RP_JSON:
        return &o->json;
    case RP_PROBES:
        return &o->probes;
    case RP_VERIFY:
        return &o->verify;
    case RP_ASCII:
        return &o->ascii;
    default:
        return NULL;
    }
}

static int replay_take(void *opts, int c, const char *name, const char *arg)
{
    (void)name;
    cli_replay *o = opts;
    bool *flag = replay_flag(c, o);
    if (flag) {
        *flag = true;
        return 0;
    }
    switch (c) {
    case RP_EXINFO:
        o->exchange_info = arg;
        return 0;
    case RP_CONFIG:
        o->config = arg;
        return 0;
    case RP_SPEED:
        return player_parse_speed(arg, &o->speed)
                   ? 0
                   : usage_error("replay", "--speed '%s': use 0.1 to 100, or max", arg);
    case RP_FPS:
        return parse_fps(arg, &o->fps) ? 0 : usage_error("replay", "--fps '%s': use 1 to 240", arg);
    default:
        return EXIT_USAGE;
    }
}

int cli_parse_replay(int argc, char **argv, cli_replay *o)
{
    static const struct option opts[] = {
        { "headless", no_argument, NULL, RP_HEADLESS },
        { "json", no_argument, NULL, RP_JSON },
        { "exchange-info", required_argument, NULL, RP_EXINFO },
        { "probes", no_argument, NULL, RP_PROBES },
        { "verify", no_argument, NULL, RP_VERIFY },
        { "speed", required_argument, NULL, RP_SPEED },
        { "config", required_argument, NULL, RP_CONFIG },
        { "fps", required_argument, NULL, RP_FPS },
        { "ascii", no_argument, NULL, RP_ASCII },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const command cmd = { "replay", opts, cli_usage_replay, replay_take, true };
    memset(o, 0, sizeof *o);
    o->speed = 1;
    int rc = drive(&cmd, argc, argv, o);
    if (rc != CLI_RUN)
        return rc;
    o->files = argv + optind;
    o->nfiles = argc - optind;
    if (o->nfiles == 0) { /* most likely a bare `bfmon replay`: show what it takes */
        fputs("bfmon replay: no recording given\n\n", stderr);
        cli_usage_replay(stderr);
        return EXIT_USAGE;
    }
    return CLI_RUN;
}

/* ---- bfmon sim ---------------------------------------------------------------------------- */

void cli_usage_sim(FILE *to)
{
    fprintf(
        to,
        "usage: bfmon sim [options]\n"
        "\n"
        "Run a Binance USD-M Futures compatible exchange on this machine: REST (/fapi/v1/...)\n"
        "and WebSocket streams (/public, /market, /ws, /stream) over plain HTTP and, with a\n"
        "certificate, HTTPS/WSS. Prints its URLs as one JSON line, then serves until SIGINT or\n"
        "SIGTERM. Watch it with:\n"
        "  bfmon --rest-url http://127.0.0.1:%d --ws-url ws://127.0.0.1:%d\n"
        "\n"
        "  --host ADDR            listen address (default 127.0.0.1)\n"
        "  --port N               plain HTTP+WS port (default %d; 0 = any free port; -1 = off)\n"
        "  --tls-port N           HTTPS+WSS port (default %d, only with --cert and --key)\n"
        "  --cert FILE, --key FILE  PEM certificate chain and private key for TLS\n"
        "  --symbols A,B,...      symbols to serve (default " MODEL_DEFAULT_SYMBOLS ")\n"
        "  --seed N               market model seed (default 1)\n"
        "  --rate N               book updates per second over all symbols (default 2000)\n"
        "  --levels N             book levels per side, 20..1000 (default 500)\n"
        "  --ping-interval DUR    server ping period (default 3m)\n"
        "  --pong-timeout DUR     drop a connection without a pong for this long (default 10m)\n"
        "  --max-lifetime DUR     close every connection after this long (default 24h = 1440m)\n"
        "  --max-streams N        streams per connection (default 200)\n"
        "  --weight-limit N       REST request weight per window (default 2400)\n"
        "  --weight-window DUR    REST weight window (default 1m)\n"
        "  --fault SPEC           schedule a fault, e.g. 'gap,stream=btcusdt@depth,every=10s'\n"
        "                         (repeatable; kinds: gap dup reorder stall disconnect close\n"
        "                         malformed oversized fragment slow_snapshot http429 http418)\n"
        "  --replay FILE          serve a recording instead of the synthetic market\n"
        "  --exchange-info FILE   exchangeInfo body for --replay\n"
        "  --speed X              replay pace (1 = as recorded, 0 = as fast as possible)\n"
        "  -h, --help             this help\n"
        "\n"
        "Durations take ms, s, m or h units; a bare number is seconds (1.5s, 250ms, 2m).\n"
        "Control plane: POST /sim/fault (body: SPEC), POST /sim/quiet, POST /sim/resume,\n"
        "GET /sim/stats.\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM, 1 when the server cannot start, 2 usage error.\n",
        CLI_SIM_DEFAULT_PORT, CLI_SIM_DEFAULT_PORT, CLI_SIM_DEFAULT_PORT, CLI_SIM_DEFAULT_TLS_PORT);
}

enum {
    SIM_HOST = 256,
    SIM_PORT,
    SIM_TLS_PORT,
    SIM_CERT,
    SIM_KEY,
    SIM_SYMBOLS,
    SIM_SEED,
    SIM_RATE,
    SIM_LEVELS,
    SIM_PING,
    SIM_PONG,
    SIM_LIFETIME,
    SIM_MAX_STREAMS,
    SIM_WEIGHT_LIMIT,
    SIM_WEIGHT_WINDOW,
    SIM_FAULT,
    SIM_REPLAY,
    SIM_EXINFO,
    SIM_SPEED,
};

static int sim_bad(const char *opt, const char *val, const char *what)
{
    return usage_error("sim", "%s '%s': %s", opt, val, what);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* "BTCUSDT,ETHUSDT" -> o->symbols (names point into a copy of the list). */
static bool sim_symbols(cli_sim *o, const char *list)
{
    free(o->symbols_buf);
    o->symbols_buf = xstrdup(list);
    o->model.symbols = NULL;
    o->model.nsymbols = 0;
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(o->symbols_buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(t);
        if (n == CLI_SIM_MAX_SYMBOLS || len == 0 || len > 20 ||
            strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != len)
            return false;
        o->symbols[n++] = (model_symbol){ .name = t };
    }
    if (n == 0)
        return false;
    o->model.symbols = o->symbols;
    o->model.nsymbols = n;
    return true;
}

static int sim_duration(const char *name, const char *val, int64_t *ms)
{
    if (fault_parse_duration(val, ms) < 0 || *ms <= 0)
        return sim_bad(name, val, "not a duration (e.g. 500ms, 30s, 3m)");
    return 0;
}

static int sim_fault(cli_sim *o, const char *name, const char *v)
{
    char why[256];
    fault_spec f;
    if (fault_parse(v, &f, why, sizeof why) < 0)
        return sim_bad(name, v, why);
    if (o->cfg.nfaults == CLI_SIM_MAX_FAULTS)
        return sim_bad(name, v, "too many faults");
    o->faults[o->cfg.nfaults++] = v;
    return 0;
}

/* The options that take a count or a number; 0, or the exit status to return. */
static int sim_take_number(cli_sim *o, int c, const char *name, const char *v)
{
    long n;
    double d;
    switch (c) {
    case SIM_PORT:
    case SIM_TLS_PORT:
        if (!parse_long(v, -1, 65535, &n))
            return sim_bad(name, v, "not a port number (0..65535, 0 = any, -1 = off)");
        *(c == SIM_PORT ? &o->cfg.port : &o->cfg.tls_port) = (int)n;
        return 0;
    case SIM_SEED:
        if (!parse_long(v, 0, 0x7fffffffL, &n))
            return sim_bad(name, v, "not a non-negative integer");
        o->model.seed = (uint64_t)n;
        return 0;
    case SIM_RATE:
        if (!parse_double(v, 1, 1e6, &d))
            return sim_bad(name, v, "expected 1..1000000 updates per second");
        o->model.rate = d;
        return 0;
    case SIM_LEVELS:
        if (!parse_long(v, 20, 1000, &n))
            return sim_bad(name, v, "expected 20..1000");
        o->model.levels = (unsigned)n;
        return 0;
    case SIM_MAX_STREAMS:
    case SIM_WEIGHT_LIMIT:
        if (!parse_long(v, 1, 1000000, &n))
            return sim_bad(name, v, "expected a positive integer");
        if (c == SIM_MAX_STREAMS)
            o->cfg.max_streams = (unsigned)n;
        else
            o->cfg.weight_limit = o->model.weight_limit = (int)n;
        return 0;
    case SIM_SPEED:
        if (!parse_double(v, 0, 1e6, &d))
            return sim_bad(name, v, "expected a number >= 0");
        o->speed = d;
        return 0;
    default:
        return EXIT_USAGE;
    }
}

/* A string option: the field it sets, or NULL. */
static const char **sim_string(cli_sim *o, int c)
{
    switch (c) {
    case SIM_HOST:
        return &o->cfg.host;
    case SIM_CERT:
        return &o->cfg.cert_file;
    case SIM_KEY:
        return &o->cfg.key_file;
    case SIM_REPLAY:
        return &o->replay;
    case SIM_EXINFO:
        return &o->exchange_info;
    default:
        return NULL;
    }
}

static int sim_take(void *opts, int c, const char *name, const char *v)
{
    cli_sim *o = opts;
    const char **s = sim_string(o, c);
    if (s) {
        *s = v;
        return 0;
    }
    switch (c) {
    case SIM_SYMBOLS:
        return sim_symbols(o, v) ? 0 : sim_bad(name, v, "expected SYMBOL,SYMBOL,... (uppercase)");
    case SIM_PING:
        return sim_duration(name, v, &o->cfg.ping_interval_ms);
    case SIM_PONG:
        return sim_duration(name, v, &o->cfg.pong_timeout_ms);
    case SIM_LIFETIME:
        return sim_duration(name, v, &o->cfg.max_lifetime_ms);
    case SIM_WEIGHT_WINDOW:
        return sim_duration(name, v, &o->cfg.weight_window_ms);
    case SIM_FAULT:
        return sim_fault(o, name, v);
    default:
        return sim_take_number(o, c, name, v);
    }
}

static int sim_check(const cli_sim *o)
{
    if (!o->cfg.cert_file != !o->cfg.key_file)
        return usage_error("sim", "TLS needs both --cert and --key");
    if (o->exchange_info && !o->replay)
        return usage_error("sim", "--exchange-info goes with --replay");
    return CLI_RUN;
}

int cli_parse_sim(int argc, char **argv, cli_sim *o)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, SIM_HOST },
        { "port", required_argument, NULL, SIM_PORT },
        { "tls-port", required_argument, NULL, SIM_TLS_PORT },
        { "cert", required_argument, NULL, SIM_CERT },
        { "key", required_argument, NULL, SIM_KEY },
        { "symbols", required_argument, NULL, SIM_SYMBOLS },
        { "seed", required_argument, NULL, SIM_SEED },
        { "rate", required_argument, NULL, SIM_RATE },
        { "levels", required_argument, NULL, SIM_LEVELS },
        { "ping-interval", required_argument, NULL, SIM_PING },
        { "pong-timeout", required_argument, NULL, SIM_PONG },
        { "max-lifetime", required_argument, NULL, SIM_LIFETIME },
        { "max-streams", required_argument, NULL, SIM_MAX_STREAMS },
        { "weight-limit", required_argument, NULL, SIM_WEIGHT_LIMIT },
        { "weight-window", required_argument, NULL, SIM_WEIGHT_WINDOW },
        { "fault", required_argument, NULL, SIM_FAULT },
        { "replay", required_argument, NULL, SIM_REPLAY },
        { "exchange-info", required_argument, NULL, SIM_EXINFO },
        { "speed", required_argument, NULL, SIM_SPEED },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const command cmd = { "sim", opts, cli_usage_sim, sim_take, false };
    memset(o, 0, sizeof *o);
    o->cfg.port = CLI_SIM_DEFAULT_PORT;
    o->cfg.tls_port = CLI_SIM_DEFAULT_TLS_PORT;
    o->cfg.faults = o->faults;
    o->speed = 1.0;
    int rc = drive(&cmd, argc, argv, o);
    return rc == CLI_RUN ? sim_check(o) : rc;
}

void cli_sim_free(cli_sim *o)
{
    free(o->symbols_buf);
    o->symbols_buf = NULL;
    o->model.symbols = NULL;
    o->model.nsymbols = 0;
}
