/*
 * cmd_live: option parsing, the terminal UI (tui/app) and the headless loop of the live monitor.
 * The engine does the work; this file builds its configuration and either hands it to the UI or
 * starts it and prints one status per interval (a JSON object or a short line per symbol) until
 * the end of --duration or SIGINT/SIGTERM. The signals are blocked before any thread exists and
 * taken with sigtimedwait (headless) or a signalfd (UI), so no handler runs. Main thread only.
 */
#include "tui/cmd_live.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "sim/model.h"
#include "sim/server.h"
#include "tui/app.h"
#include "tui/cmd_replay.h"
#include "tui/keymap.h"
#include "tui/opts.h"
#include "util/clk.h"
#include "util/err.h"

#define START_TIMEOUT_NS (15 * CLK_NS_PER_S)
#define UI_ATTEMPT_NS    (6 * CLK_NS_PER_S) /* the UI says what failed and retries sooner */

typedef struct live_opts {
    opts_feed feed;
    bool headless, json, demo, deflate, repaint_all, ascii;
    int fps;
    const char *config;
    char demo_rest[64], demo_ws[64];
} live_opts;

static void live_usage(FILE *to)
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
            "  --headless              no terminal UI: print a status per interval\n"
            "  --json                  headless status as one JSON object per line\n"
            "  --status-interval DUR   status period (default 1s)\n"
            "  --duration DUR          stop after DUR (default 0: until SIGINT/SIGTERM)\n"
            "  --help-live, --help     this help\n"
            "\n"
            "DUR is a number with an optional unit: ms, s (default), m, h.\n"
            "Exit status: 0 stopped normally, 1 the engine could not start (--headless; the\n"
            "terminal UI keeps retrying and says why), 2 usage error.\n",
            ENGINE_DEFAULT_REST_URL, ENGINE_DEFAULT_WS_URL, ENGINE_DEFAULT_SYMBOLS);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bfmon: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nrun 'bfmon --help-live' for the options\n", stderr);
    return EXIT_USAGE;
}

enum {
    OPT_HEADLESS = OPTS_FEED_END,
    OPT_JSON,
    OPT_HELP,
    OPT_DEMO,
    OPT_DEFLATE,
    OPT_FPS,
    OPT_CONFIG,
    OPT_REPAINT_ALL,
    OPT_ASCII,
};

static bool parse_fps(const char *s, int *out)
{
    long v;
    if (!opts_parse_int(s, 1, 240, &v))
        return false;
    *out = (int)v;
    return true;
}

/* The UI's options; 0, or the exit status to return at once. */
static int take_ui_option(int c, const char *arg, live_opts *o)
{
    switch (c) {
    case OPT_FPS:
        return parse_fps(arg, &o->fps) ? 0 : usage_error("--fps '%s': use 1 to 240", arg);
    case OPT_CONFIG:
        o->config = arg;
        return 0;
    case OPT_REPAINT_ALL: /* hidden: the benchmark's baseline */
        o->repaint_all = true;
        return 0;
    case OPT_ASCII:
        o->ascii = true;
        return 0;
    default:
        return EXIT_USAGE;
    }
}

/* One option; 0, or the exit status to return at once. */
static int take_option(int c, const char *arg, live_opts *o)
{
    char why[256];
    int rc = opts_take_feed(c, arg, &o->feed, why, sizeof why);
    if (rc <= 0)
        return rc ? usage_error("%s", why) : 0;
    switch (c) {
    case OPT_DEMO:
        o->demo = true;
        return 0;
    case OPT_DEFLATE:
        o->deflate = true;
        return 0;
    case OPT_HEADLESS:
        o->headless = true;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    default:
        return take_ui_option(c, arg, o);
    }
}

/* 0 to run, -1 after help (exit 0), or the exit status of a usage error. */
static int parse_opts(int argc, char **argv, live_opts *o)
{
    static const struct option opts[] = {
        OPTS_FEED_LONGOPTS,
        { "headless", no_argument, NULL, OPT_HEADLESS },
        { "json", no_argument, NULL, OPT_JSON },
        { "demo", no_argument, NULL, OPT_DEMO },
        { "deflate", no_argument, NULL, OPT_DEFLATE },
        { "fps", required_argument, NULL, OPT_FPS },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "repaint-all", no_argument, NULL, OPT_REPAINT_ALL },
        { "ascii", no_argument, NULL, OPT_ASCII },
        { "help-live", no_argument, NULL, OPT_HELP },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    opts_feed_init(&o->feed, CLK_NS_PER_S);
    optind = 0;
    opterr = 0; /* our own messages */
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_HELP || c == 'h') {
            live_usage(stdout);
            return -1;
        }
        if (c == '?')
            return usage_error("unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        int rc = take_option(c, optarg, o);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return 0;
}

/* ---- status output ------------------------------------------------------------------------ */

static void print_level(const view_symbol *v, const book_level *l, size_t n)
{
    char px[DEC_FMT_MAX], qty[DEC_FMT_MAX];
    if (!n || !v->has_scale || dec_format(l->px, &v->px_scale, px, sizeof px) < 0 ||
        dec_format(l->qty, &v->qty_scale, qty, sizeof qty) < 0) {
        fputs("-", stdout);
        return;
    }
    printf("%s x %s", px, qty);
}

static void print_symbol_line(const view_symbol *v)
{
    printf("%-12s %-13s ", v->symbol, sync_state_name(v->state));
    print_level(v, &v->bids[0], v->nbids);
    fputs(" | ", stdout);
    print_level(v, &v->asks[0], v->nasks);
    const view_latency *l = &v->stages[STAGE_E_TO_RECV];
    printf("  msgs %llu (%.1f/s) gaps %llu resyncs %llu  E->recv p50 %.1fms p99 %.1fms",
           (unsigned long long)v->messages, v->msgs_per_s, (unsigned long long)v->gaps,
           (unsigned long long)v->resyncs, (double)l->p50_ns / 1e6, (double)l->p99_ns / 1e6);
    if (v->stream_stale)
        fputs("  STALE", stdout);
    if (v->reason[0])
        printf("  (%s)", v->reason);
    fputc('\n', stdout);
}

static void print_global_line(engine *e)
{
    view_global g;
    engine_view_global(e, &g);
    char used[16] = "?"; /* unknown until a response of this window carried the header */
    if (g.used_weight >= 0)
        snprintf(used, sizeof used, "%d", g.used_weight);
    printf("ws public %s market %s  %.0f msg/s  weight %s/%d  clock offset %.1fms rtt %.1fms%s  "
           "drops %llu\n",
           g.ws[WS_ROUTE_PUBLIC].up ? "up" : "down", g.ws[WS_ROUTE_MARKET].up ? "up" : "down",
           g.msgs_per_s, used, g.weight_limit, (double)g.clock_offset_ns / 1e6,
           (double)g.clock_rtt_ns / 1e6, g.clock_skewed ? " SKEWED" : "",
           (unsigned long long)g.ring_drops);
}

static void print_status(engine *e, bool json)
{
    if (json) {
        json_t *st = engine_status_json(e);
        json_dumpf(st, stdout, JSON_COMPACT);
        json_decref(st);
        fputc('\n', stdout);
    } else {
        view_symbol *v = malloc(sizeof *v);
        char name[SYM_NAME_MAX];
        for (size_t i = 0; v && engine_symbol_at(e, i, name, sizeof name); i++)
            if (engine_view_symbol(e, name, v) == 0)
                print_symbol_line(v);
        free(v);
        print_global_line(e);
    }
    fflush(stdout);
}

/* ---- run ---------------------------------------------------------------------------------- */

/* --demo: the synthetic exchange of `bfmon sim`, in this process on an ephemeral loopback port,
 * serving the symbols being watched. */
static sim_server *start_demo(live_opts *o)
{
    model_symbol syms[ENGINE_MAX_SYMBOLS];
    for (size_t i = 0; i < o->feed.nsymbols; i++)
        syms[i] = (model_symbol){ .name = o->feed.symbols[i] };
    model_config mc = { .symbols = o->feed.nsymbols ? syms : NULL, .nsymbols = o->feed.nsymbols };
    source *src = NULL;
    sim_server *s = NULL;
    char why[256] = "";
    int rc = model_create(&mc, &src, why, sizeof why);
    if (rc == 0) {
        sim_server_config sc = { .src = src, .port = 0, .tls_port = -1 };
        rc = sim_server_create(&sc, &s, why, sizeof why);
    }
    if (rc == 0)
        rc = sim_server_start(s);
    if (rc < 0) {
        fprintf(stderr, "bfmon: cannot start the demo exchange: %s\n", why);
        sim_server_destroy(s);
        return NULL;
    }
    int port = sim_server_port(s, false);
    snprintf(o->demo_rest, sizeof o->demo_rest, "http://127.0.0.1:%d", port);
    snprintf(o->demo_ws, sizeof o->demo_ws, "ws://127.0.0.1:%d", port);
    o->feed.rest_url = o->demo_rest;
    o->feed.ws_url = o->demo_ws;
    return s;
}

static engine *create_engine(const live_opts *o, char *why, size_t cap)
{
    ws_config ws = { .permessage_deflate = o->deflate };
    engine_config cfg = opts_feed_engine_config(&o->feed);
    cfg.ws = &ws;
    engine *e = NULL;
    int rc = engine_create(&cfg, &e, why, cap);
    if (rc < 0 && !why[0])
        snprintf(why, cap, "%s", bf_strerror(rc));
    return rc < 0 ? NULL : e;
}

static engine *start_engine(const live_opts *o)
{
    char why[512] = "";
    engine *e = create_engine(o, why, sizeof why);
    int rc = e ? engine_start(e, clk_mono_ns() + START_TIMEOUT_NS, why, sizeof why) : BF_EINVAL;
    if (rc < 0) {
        fprintf(stderr, "bfmon: cannot start: %s\n", why[0] ? why : bf_strerror(rc));
        engine_destroy(e);
        return NULL;
    }
    if (why[0])
        fprintf(stderr, "bfmon: %s\n", why);
    return e;
}

/* Print a status every interval until the duration ends or a signal arrives. */
static void status_loop(engine *e, const live_opts *o, const sigset_t *sigs)
{
    int64_t now = clk_mono_ns();
    int64_t end = o->feed.duration_ns ? now + o->feed.duration_ns : INT64_MAX;
    int64_t next = now + o->feed.interval_ns;
    for (;;) {
        int64_t until = next < end ? next : end;
        int64_t wait = until - now;
        struct timespec ts = { .tv_sec = wait / CLK_NS_PER_S, .tv_nsec = wait % CLK_NS_PER_S };
        if (wait > 0 && sigtimedwait(sigs, NULL, &ts) > 0)
            return;
        now = clk_mono_ns();
        if (now >= next) {
            print_status(e, o->json);
            next = next + o->feed.interval_ns > now ? next + o->feed.interval_ns
                                                    : now + o->feed.interval_ns;
        }
        if (now >= end)
            return;
    }
}

/* The keymap file: --config (must exist) or the XDG path (may be absent). 0, or EXIT_USAGE after
 * saying why; a bad line is not fatal: its reason lands in msg for the status bar. */
static int load_keys(const live_opts *o, keymap *km, char *msg, size_t cap)
{
    char path[4096];
    const char *p = o->config;
    if (!p && keymap_default_path(path, sizeof path))
        p = path;
    if (!p)
        return 0;
    char why[512] = "";
    int rc = keymap_load(km, p, why, sizeof why);
    if (rc == BF_ENOENT && !o->config)
        return 0;
    if (rc == BF_ENOENT || rc == BF_EIO)
        return usage_error("--config: %s", why);
    if (rc < 0)
        snprintf(msg, cap, "keymap: %s (the other lines apply)", why);
    return 0;
}

static int run_ui(live_opts *o)
{
    keymap *km = keymap_create();
    char msg[600] = "", why[512] = "";
    int rc = load_keys(o, km, msg, sizeof msg);
    sim_server *demo = NULL;
    if (rc == 0 && o->demo && !(demo = start_demo(o)))
        rc = 1;
    engine *e = rc == 0 ? create_engine(o, why, sizeof why) : NULL;
    if (rc == 0 && !e) {
        fprintf(stderr, "bfmon: cannot start: %s\n", why);
        rc = 1;
    }
    if (e) {
        app_config ac = { .e = e,
                          .rest_url = o->feed.rest_url ? o->feed.rest_url : ENGINE_DEFAULT_REST_URL,
                          .start_timeout_ns = UI_ATTEMPT_NS,
                          .fps = o->fps,
                          .demo = o->demo,
                          .repaint_all = o->repaint_all,
                          .force_ascii = o->ascii,
                          .km = km,
                          .first_message = msg[0] ? msg : NULL };
        rc = app_run(&ac, why, sizeof why);
        if (rc)
            fprintf(stderr, "bfmon: %s\n", why);
        engine_destroy(e);
    }
    sim_server_destroy(demo);
    keymap_destroy(km);
    return rc;
}

int cmd_live(int argc, char **argv)
{
    live_opts *o = calloc(1, sizeof *o);
    if (!o)
        return 1;
    int rc = parse_opts(argc, argv, o);
    if (rc) {
        free(o);
        return rc < 0 ? 0 : rc;
    }
    if (!o->headless) {
        app_block_signals(); /* before any thread: they all inherit the mask */
        rc = run_ui(o);
        free(o);
        return rc;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any engine thread: they inherit it */
    sim_server *demo = NULL;
    if (o->demo && !(demo = start_demo(o))) {
        free(o);
        return 1;
    }
    engine *e = start_engine(o);
    if (!e) {
        sim_server_destroy(demo);
        free(o);
        return 1;
    }
    status_loop(e, o, &sigs);
    engine_stop(e);
    engine_destroy(e);
    sim_server_destroy(demo);
    free(o);
    return 0;
}
