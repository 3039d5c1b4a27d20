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
#include <dirent.h>
#include <getopt.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
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

/* Threads inherit the affinity of the thread that creates them: the exchange gets CPU 0 and every
 * client thread (ws service, shard workers, HTTP) CPU 1, so neither arm can speed up or slow down
 * the exchange by what it leaves of a shared core. Returns false on a single-CPU machine. */
static bool pin_to(int cpu)
{
    static cpu_set_t allowed;
    static bool have_allowed;
    if (!have_allowed && sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        have_allowed = true;
    cpu_set_t set = allowed;
    if (!have_allowed || CPU_COUNT(&set) < 2)
        return false;
    int seen = 0;
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &set) && seen++ == cpu) {
            CPU_ZERO(&set);
            CPU_SET(i, &set);
            return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
        }
    }
    return false;
}

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

/* One arm's measurement: messages/s handled, offered by the exchange, and client CPU (cores). */
typedef struct arm_result {
    double rate, offered, cpu;
} arm_result;

static void count_msg(void *ctx, const ws_msg_info *info, const char *data, size_t len)
{
    (void)ctx;
    (void)info;
    (void)data;
    (void)len;
    atomic_fetch_add_explicit(&bare_count, 1, memory_order_relaxed);
}

static sim_server *g_sim;

/* CPU seconds used so far by this process's client threads: every thread named "bf-..." except the
 * exchange ("bf-sim"), read from /proc/self/task/<tid>/stat (utime + stime). */
static double client_cpu_s(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    long ticks = sysconf(_SC_CLK_TCK);
    double total = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        if (!open || !close || strncmp(open + 1, "bf-", 3) != 0 ||
            strncmp(open + 1, "bf-sim", 6) == 0)
            continue;
        /* After "(comm) ": state is field 3; utime and stime are fields 14 and 15. */
        unsigned long long ut = 0, st = 0;
        if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) ==
            2)
            total += (double)(ut + st) / (double)ticks;
    }
    closedir(d);
    return total;
}

static uint64_t sim_sent(void)
{
    sim_server_stats st;
    sim_server_get_stats(g_sim, &st);
    return st.ws_messages_sent;
}

static arm_result run_bare(const char *ws_url, double seconds)
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
    uint64_t c0 = atomic_load(&bare_count), s0 = sim_sent();
    double cpu0 = client_cpu_s();
    int64_t t0 = clk_mono_ns();
    pause_for(seconds);
    uint64_t c1 = atomic_load(&bare_count), s1 = sim_sent();
    double cpu1 = client_cpu_s();
    int64_t t1 = clk_mono_ns();
    ws_destroy(c);
    arm_result r = { .rate = (double)(c1 - c0) * 1e9 / (double)(t1 - t0),
                     .offered = (double)(s1 - s0) * 1e9 / (double)(t1 - t0),
                     .cpu = (cpu1 - cpu0) * 1e9 / (double)(t1 - t0) };
    return r;
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

static arm_result run_pipeline(const char *rest_url, const char *ws_url, double seconds,
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
    uint64_t s0 = sim_sent();
    double cpu0 = client_cpu_s();
    int64_t t0 = clk_mono_ns();
    pause_for(seconds);
    totals(e, &b);
    uint64_t s1 = sim_sent();
    double cpu1 = client_cpu_s();
    int64_t t1 = clk_mono_ns();
    engine_destroy(e);
    *drops += b.drops - a.drops;
    arm_result r = { .rate = (double)(b.processed - a.processed) * 1e9 / (double)(t1 - t0),
                     .offered = (double)(s1 - s0) * 1e9 / (double)(t1 - t0),
                     .cpu = (cpu1 - cpu0) * 1e9 / (double)(t1 - t0) };
    return r;
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
    bool pinned = pin_to(0);
    sim_server *sim = start_sim(o.rate);
    g_sim = sim;
    pinned = pinned && pin_to(1);
    char rest[64], ws[64];
    snprintf(rest, sizeof rest, "http://127.0.0.1:%d", sim_server_port(sim, false));
    snprintf(ws, sizeof ws, "ws://127.0.0.1:%d", sim_server_port(sim, false));
    double bare[MAX_ROUNDS], piped[MAX_ROUNDS], kept[MAX_ROUNDS], ratio[MAX_ROUNDS];
    double bare_cap[MAX_ROUNDS], pipe_cap[MAX_ROUNDS];
    uint64_t drops = 0;
    for (int r = 0; r < o.rounds; r++) {
        arm_result b = run_bare(ws, o.seconds);
        arm_result p = run_pipeline(rest, ws, o.seconds, &drops);
        bare[r] = b.rate;
        piped[r] = p.rate;
        kept[r] = p.offered > 0 ? p.rate / p.offered : 0;
        bare_cap[r] = b.cpu > 0 ? b.rate / b.cpu : 0;
        pipe_cap[r] = p.cpu > 0 ? p.rate / p.cpu : 0;
        ratio[r] = bare_cap[r] > 0 ? pipe_cap[r] / bare_cap[r] : 0;
        if (!o.json_only)
            printf("round %d: bare %.0f msg/s on %.2f cores (%.0f msg/s per core); pipeline %.0f "
                   "msg/s of %.0f offered on %.2f cores (%.0f per core); ratio %.3f\n",
                   r + 1, b.rate, b.cpu, bare_cap[r], p.rate, p.offered, p.cpu, pipe_cap[r],
                   ratio[r]);
    }
    sim_server_destroy(sim);
    double m = median(ratio, o.rounds);
    if (!o.json_only)
        printf(
            "pipeline / bare ws client, messages per client CPU-second: %.1f%% (target >= 80%%); "
            "pipeline kept up with %.1f%% of the offered stream; ring drops %" PRIu64 "%s\n",
            m * 100, median(kept, o.rounds) * 100, drops,
            pinned ? "" : " (not pinned: fewer than 2 CPUs)");
    printf("{\"bench\":\"bfnet\",\"rounds\":%d,\"seconds\":%.1f,\"rate\":%.0f,"
           "\"bare_msgs_per_s\":%.0f,\"pipeline_msgs_per_s\":%.0f,\"bare_msgs_per_cpu_s\":%.0f,"
           "\"pipeline_msgs_per_cpu_s\":%.0f,\"pipeline_kept_up\":%.3f,\"ratio\":%.3f,"
           "\"target\":0.8,\"met\":%s,\"ring_drops\":%" PRIu64 ",\"pinned\":%s}\n",
           o.rounds, o.seconds, o.rate, median(bare, o.rounds), median(piped, o.rounds),
           median(bare_cap, o.rounds), median(pipe_cap, o.rounds), median(kept, o.rounds), m,
           m >= 0.8 ? "true" : "false", drops, pinned ? "true" : "false");
    return 0;
}
