/*
 * bfnet: how many messages per second the live pipeline keeps up with, against the same
 * libwebsockets client discarding every message, in the same run and against the same in-process
 * loopback exchange (sim/server.h serving the synthetic model at a high rate).
 *
 *   bare      ws client (engine/net/ws.h), on_msg only counts
 *   pipeline  the engine (engine.h): ws client -> shard rings -> workers -> decode, sync, books,
 *             views; counts messages the workers decoded and applied (ring drops are reported)
 *
 * Arms alternate (bare, pipeline, bare, ...) for --rounds rounds of --seconds each; the figure is the
 * median of the per-round ratios pipeline/bare (target >= 0.80). Both arms subscribe the same
 * streams: <sym>@depth@100ms, @bookTicker, @aggTrade, @markPrice@1s for every symbol. On a 2-core
 * machine the exchange shares the CPUs with the client, so the pipeline's own CPU shows up as fewer
 * messages: that is the honest cost being measured. Prints a table and one JSON line.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "net/ws.h"
#include "sim/model.h"
#include "sim/server.h"
#include "util/clk.h"

#define SEC        1000000000LL
#define MAX_ROUNDS 32

static const char *const bench_symbols[] = { "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT",
                                             "XRPUSDT" };
#define NSYM (sizeof bench_symbols / sizeof bench_symbols[0])
static const char *const stream_kinds[] = { "@depth@100ms", "@bookTicker", "@aggTrade",
                                            "@markPrice@1s" };
#define NKIND (sizeof stream_kinds / sizeof stream_kinds[0])

typedef struct opts {
    double seconds;
    int rounds;
    double rate;
    bool json_only;
} opts;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bfnet: %s: %s\n", what, why);
    exit(1);
}

static sim_server *start_sim(double rate)
{
    model_config mc = { .seed = 7, .rate = rate };
    source *src;
    char why[256];
    if (model_create(&mc, &src, why, sizeof why) != 0)
        die("model", why);
    sim_server_config sc = {
        .src = src, .port = 0, .tls_port = -1, .max_send_queue = (size_t)256 << 20
    };
    sim_server *s;
    if (sim_server_create(&sc, &s, why, sizeof why) != 0)
        die("sim", why);
    if (sim_server_start(s) != 0)
        die("sim", "could not start");
    return s;
}

static void pause_for(double seconds)
{
    struct timespec ts = { .tv_sec = (time_t)seconds,
                           .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- bare: the ws client alone ---- */

static _Atomic uint64_t bare_count;

static void count_msg(void *ctx, const ws_msg_info *info, const char *data, size_t len)
{
    (void)ctx;
    (void)info;
    (void)data;
    (void)len;
    atomic_fetch_add_explicit(&bare_count, 1, memory_order_relaxed);
}

static double run_bare(const char *ws_url, double seconds)
{
    ws_config wc = { .base_url = ws_url, .on_msg = count_msg };
    ws_client *c;
    char why[256];
    if (ws_create(&wc, &c, why, sizeof why) != 0)
        die("ws", why);
    char names[NSYM * NKIND][WS_STREAM_MAX];
    const char *list[NSYM * NKIND];
    size_t n = 0;
    for (size_t i = 0; i < NSYM; i++)
        for (size_t k = 0; k < NKIND; k++) {
            char lower[32];
            size_t j = 0;
            for (; bench_symbols[i][j] && j < sizeof lower - 1; j++)
                lower[j] = (char)(bench_symbols[i][j] | 0x20);
            lower[j] = '\0';
            snprintf(names[n], WS_STREAM_MAX, "%s%s", lower, stream_kinds[k]);
            list[n] = names[n];
            n++;
        }
    ws_subscribe(c, list, n);
    pause_for(1.0); /* connect, subscribe, let the flow settle */
    uint64_t c0 = atomic_load(&bare_count);
    int64_t t0 = clk_mono_ns();
    pause_for(seconds);
    uint64_t c1 = atomic_load(&bare_count);
    int64_t t1 = clk_mono_ns();
    ws_destroy(c);
    return (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
}

/* ---- pipeline: the whole engine ---- */

typedef struct pipe_totals {
    uint64_t received, processed, drops;
} pipe_totals;

static void totals(engine *e, pipe_totals *t)
{
    view_global g;
    engine_view_global(e, &g);
    t->received = g.ws_messages;
    t->drops = g.ring_drops;
    t->processed = 0;
    view_symbol *v = malloc(sizeof *v);
    for (size_t i = 0; i < NSYM; i++)
        if (engine_view_symbol(e, bench_symbols[i], v) == 0)
            t->processed += v->messages;
    free(v);
}

static double run_pipeline(const char *rest_url, const char *ws_url, double seconds,
                           uint64_t *drops)
{
    engine_config ec = {
        .rest_url = rest_url, .ws_url = ws_url, .symbols = bench_symbols, .nsymbols = NSYM
    };
    engine *e;
    char why[256];
    if (engine_create(&ec, &e, why, sizeof why) != 0)
        die("engine", why);
    if (engine_start(e, clk_mono_ns() + 30 * SEC, why, sizeof why) != 0)
        die("engine", why);
    pause_for(1.0);
    pipe_totals a, b;
    totals(e, &a);
    int64_t t0 = clk_mono_ns();
    pause_for(seconds);
    totals(e, &b);
    int64_t t1 = clk_mono_ns();
    engine_destroy(e);
    *drops += b.drops - a.drops;
    return (double)(b.processed - a.processed) * 1e9 / (double)(t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    double tmp[MAX_ROUNDS];
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: bfnet [--seconds S] [--rounds N] [--rate UPDATES_PER_S] [--quick] "
                "[--json-only]\n");
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        { "seconds", required_argument, NULL, 's' },
        { "rounds", required_argument, NULL, 'r' },
        { "rate", required_argument, NULL, 'R' },
        { "quick", no_argument, NULL, 'q' },
        { "json-only", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (opts){ .seconds = 3, .rounds = 3, .rate = 100000 };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            o->seconds = strtod(optarg, NULL);
            break;
        case 'r':
            o->rounds = (int)strtol(optarg, NULL, 10);
            break;
        case 'R':
            o->rate = strtod(optarg, NULL);
            break;
        case 'q':
            o->seconds = 1;
            o->rounds = 1;
            break;
        case 'j':
            o->json_only = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (o->seconds <= 0 || o->rounds < 1 || o->rounds > MAX_ROUNDS || o->rate <= 0) {
        usage(stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    sim_server *sim = start_sim(o.rate);
    char rest[64], ws[64];
    snprintf(rest, sizeof rest, "http://127.0.0.1:%d", sim_server_port(sim, false));
    snprintf(ws, sizeof ws, "ws://127.0.0.1:%d", sim_server_port(sim, false));
    double bare[MAX_ROUNDS], piped[MAX_ROUNDS], ratio[MAX_ROUNDS];
    uint64_t drops = 0;
    for (int r = 0; r < o.rounds; r++) {
        bare[r] = run_bare(ws, o.seconds);
        piped[r] = run_pipeline(rest, ws, o.seconds, &drops);
        ratio[r] = bare[r] > 0 ? piped[r] / bare[r] : 0;
        if (!o.json_only)
            printf("round %d: bare %.0f msg/s, pipeline %.0f msg/s, ratio %.3f\n", r + 1, bare[r],
                   piped[r], ratio[r]);
    }
    sim_server_destroy(sim);
    double m = median(ratio, o.rounds);
    if (!o.json_only)
        printf("pipeline / bare ws client: %.1f%% (target >= 80%%), ring drops %" PRIu64 "\n",
               m * 100, drops);
    printf("{\"bench\":\"bfnet\",\"rounds\":%d,\"seconds\":%.1f,\"rate\":%.0f,\"bare_msgs_per_s\":%"
           ".0f,"
           "\"pipeline_msgs_per_s\":%.0f,\"ratio\":%.3f,\"target\":0.8,\"met\":%s,"
           "\"ring_drops\":%" PRIu64 "}\n",
           o.rounds, o.seconds, o.rate, median(bare, o.rounds), median(piped, o.rounds), m,
           m >= 0.8 ? "true" : "false", drops);
    return 0;
}
