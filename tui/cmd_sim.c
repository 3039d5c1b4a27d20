/*
 * cmd_sim: `bfmon sim`, the loopback Binance exchange on the command line. Parses the options,
 * builds the source (the synthetic model, or a recording with --replay), starts the server, prints
 * the URLs as one JSON line and serves until SIGINT or SIGTERM. Main thread only.
 */
#include "tui/cmd_sim.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/faults.h"
#include "sim/model.h"
#include "sim/recsrc.h"
#include "sim/server.h"
#include "tui/cmd_replay.h"
#include "util/err.h"

#define SIM_DEFAULT_PORT     9443
#define SIM_DEFAULT_TLS_PORT 9444
#define SIM_MAX_SYMBOLS      64
#define SIM_MAX_FAULTS       32

typedef struct sim_opts {
    sim_server_config cfg;
    model_config model;
    model_symbol symbols[SIM_MAX_SYMBOLS];
    char *symbols_buf;
    const char *faults[SIM_MAX_FAULTS];
    const char *replay, *exchange_info;
    double speed;
} sim_opts;

static void usage(FILE *to)
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
        SIM_DEFAULT_PORT, SIM_DEFAULT_PORT, SIM_DEFAULT_PORT, SIM_DEFAULT_TLS_PORT);
}

static int bad(const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "bfmon sim: %s '%s': %s\n", opt, val, what);
    fprintf(stderr, "Run 'bfmon sim --help' for the options.\n");
    return EXIT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return BF_EINVAL;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return BF_EINVAL;
    *out = v;
    return 0;
}

/* "BTCUSDT,ETHUSDT" -> o->symbols (names point into a copy of the list). */
static int parse_symbols(sim_opts *o, const char *list)
{
    free(o->symbols_buf);
    o->symbols_buf = strdup(list);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(o->symbols_buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(t);
        if (n == SIM_MAX_SYMBOLS || len == 0 || len > 20 ||
            strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != len)
            return BF_EINVAL;
        o->symbols[n++] = (model_symbol){ .name = t };
    }
    if (n == 0)
        return BF_EINVAL;
    o->model.symbols = o->symbols;
    o->model.nsymbols = n;
    return 0;
}

enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_TLS_PORT,
    OPT_CERT,
    OPT_KEY,
    OPT_SYMBOLS,
    OPT_SEED,
    OPT_RATE,
    OPT_LEVELS,
    OPT_PING,
    OPT_PONG,
    OPT_LIFETIME,
    OPT_MAX_STREAMS,
    OPT_WEIGHT_LIMIT,
    OPT_WEIGHT_WINDOW,
    OPT_FAULT,
    OPT_REPLAY,
    OPT_EXINFO,
    OPT_SPEED,
};

static const struct option long_opts[] = {
    { "host", required_argument, NULL, OPT_HOST },
    { "port", required_argument, NULL, OPT_PORT },
    { "tls-port", required_argument, NULL, OPT_TLS_PORT },
    { "cert", required_argument, NULL, OPT_CERT },
    { "key", required_argument, NULL, OPT_KEY },
    { "symbols", required_argument, NULL, OPT_SYMBOLS },
    { "seed", required_argument, NULL, OPT_SEED },
    { "rate", required_argument, NULL, OPT_RATE },
    { "levels", required_argument, NULL, OPT_LEVELS },
    { "ping-interval", required_argument, NULL, OPT_PING },
    { "pong-timeout", required_argument, NULL, OPT_PONG },
    { "max-lifetime", required_argument, NULL, OPT_LIFETIME },
    { "max-streams", required_argument, NULL, OPT_MAX_STREAMS },
    { "weight-limit", required_argument, NULL, OPT_WEIGHT_LIMIT },
    { "weight-window", required_argument, NULL, OPT_WEIGHT_WINDOW },
    { "fault", required_argument, NULL, OPT_FAULT },
    { "replay", required_argument, NULL, OPT_REPLAY },
    { "exchange-info", required_argument, NULL, OPT_EXINFO },
    { "speed", required_argument, NULL, OPT_SPEED },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static int duration_opt(const char *name, const char *val, int64_t *ms)
{
    if (fault_parse_duration(val, ms) < 0 || *ms <= 0)
        return bad(name, val, "not a duration (e.g. 500ms, 30s, 3m)");
    return 0;
}

/* One option; 0, or the exit status to return. */
static int apply_opt(sim_opts *o, int c, const char *name, const char *v)
{
    long n;
    double d;
    char why[256];
    fault_spec f;
    switch (c) {
    case OPT_HOST:
        o->cfg.host = v;
        return 0;
    case OPT_PORT:
    case OPT_TLS_PORT:
        if (parse_long(v, -1, 65535, &n) < 0)
            return bad(name, v, "not a port number (0..65535, 0 = any, -1 = off)");
        *(c == OPT_PORT ? &o->cfg.port : &o->cfg.tls_port) = (int)n;
        return 0;
    case OPT_CERT:
        o->cfg.cert_file = v;
        return 0;
    case OPT_KEY:
        o->cfg.key_file = v;
        return 0;
    case OPT_SYMBOLS:
        return parse_symbols(o, v) < 0 ? bad(name, v, "expected SYMBOL,SYMBOL,... (uppercase)") : 0;
    case OPT_SEED:
        if (parse_long(v, 0, 0x7fffffffL, &n) < 0)
            return bad(name, v, "not a non-negative integer");
        o->model.seed = (uint64_t)n;
        return 0;
    case OPT_RATE:
        if (parse_double(v, 1, 1e6, &d) < 0)
            return bad(name, v, "expected 1..1000000 updates per second");
        o->model.rate = d;
        return 0;
    case OPT_LEVELS:
        if (parse_long(v, 20, 1000, &n) < 0)
            return bad(name, v, "expected 20..1000");
        o->model.levels = (unsigned)n;
        return 0;
    case OPT_PING:
        return duration_opt(name, v, &o->cfg.ping_interval_ms);
    case OPT_PONG:
        return duration_opt(name, v, &o->cfg.pong_timeout_ms);
    case OPT_LIFETIME:
        return duration_opt(name, v, &o->cfg.max_lifetime_ms);
    case OPT_WEIGHT_WINDOW:
        return duration_opt(name, v, &o->cfg.weight_window_ms);
    case OPT_MAX_STREAMS:
    case OPT_WEIGHT_LIMIT:
        if (parse_long(v, 1, 1000000, &n) < 0)
            return bad(name, v, "expected a positive integer");
        if (c == OPT_MAX_STREAMS)
            o->cfg.max_streams = (unsigned)n;
        else
            o->cfg.weight_limit = o->model.weight_limit = (int)n;
        return 0;
    case OPT_FAULT:
        if (fault_parse(v, &f, why, sizeof why) < 0)
            return bad(name, v, why);
        if (o->cfg.nfaults == SIM_MAX_FAULTS)
            return bad(name, v, "too many faults");
        o->faults[o->cfg.nfaults++] = v;
        return 0;
    case OPT_REPLAY:
        o->replay = v;
        return 0;
    case OPT_EXINFO:
        o->exchange_info = v;
        return 0;
    case OPT_SPEED:
        if (parse_double(v, 0, 1e6, &d) < 0)
            return bad(name, v, "expected a number >= 0");
        o->speed = d;
        return 0;
    }
    return EXIT_USAGE;
}

/* The whole command line; 0 to run, -1 after --help, else the exit status. */
static int parse_opts(int argc, char **argv, sim_opts *o)
{
    optind = 0;
    opterr = 1;
    int c, idx;
    while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        if (c == '?') {
            fprintf(stderr, "Run 'bfmon sim --help' for the options.\n");
            return EXIT_USAGE;
        }
        char name[40];
        snprintf(name, sizeof name, "--%s", long_opts[idx].name);
        int rc = apply_opt(o, c, name, optarg);
        if (rc)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "bfmon sim: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!o->cfg.cert_file != !o->cfg.key_file) {
        fprintf(stderr, "bfmon sim: TLS needs both --cert and --key\n");
        return EXIT_USAGE;
    }
    if (o->exchange_info && !o->replay) {
        fprintf(stderr, "bfmon sim: --exchange-info goes with --replay\n");
        return EXIT_USAGE;
    }
    return 0;
}

static int make_source(sim_opts *o, source **src)
{
    char why[512] = "";
    int rc;
    if (o->replay) {
        recsrc_config rc_cfg = { .path = o->replay,
                                 .exchange_info_path = o->exchange_info,
                                 .speed = o->speed };
        rc = recsrc_create(&rc_cfg, src, why, sizeof why);
    } else {
        rc = model_create(&o->model, src, why, sizeof why);
    }
    if (rc < 0)
        fprintf(stderr, "bfmon sim: %s\n", why[0] ? why : bf_strerror(rc));
    else if (o->replay && why[0] && strcmp(why, "ok") != 0)
        fprintf(stderr, "bfmon sim: warning: %s\n", why); /* a damaged tail, the rest is served */
    return rc;
}

static void defaults(sim_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg.port = SIM_DEFAULT_PORT;
    o->cfg.tls_port = SIM_DEFAULT_TLS_PORT;
    o->cfg.faults = o->faults;
    o->speed = 1.0;
}

/* Serve until SIGINT/SIGTERM: the signals are blocked in every thread and taken here. */
static int serve(sim_opts *o, source *src)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    o->cfg.src = src;
    if (!o->cfg.cert_file)
        o->cfg.tls_port = -1;
    sim_server *s;
    char why[512];
    if (sim_server_create(&o->cfg, &s, why, sizeof why) < 0) {
        fprintf(stderr, "bfmon sim: %s\n", why);
        return 1;
    }
    if (sim_server_start(s) < 0) {
        fprintf(stderr, "bfmon sim: cannot start the service thread\n");
        sim_server_destroy(s);
        return 1;
    }
    char urls[2048];
    if (sim_server_urls_json(s, urls, sizeof urls) >= 0)
        printf("%s\n", urls);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    sim_server_destroy(s);
    return 0;
}

int cmd_sim(int argc, char **argv)
{
    sim_opts o;
    defaults(&o);
    int rc = parse_opts(argc, argv, &o);
    if (rc) {
        free(o.symbols_buf);
        return rc < 0 ? 0 : rc;
    }
    source *src;
    if (make_source(&o, &src) < 0) {
        free(o.symbols_buf);
        return 1;
    }
    rc = serve(&o, src);
    free(o.symbols_buf);
    return rc;
}
