/*
 * cmd_live: the terminal UI (tui/app) and the headless loop of the live monitor.
 * The engine does the work; this file builds its configuration and either hands it to the UI or
 * starts it and prints one status per interval (a JSON object or a short line per symbol) until
 * the end of --duration or SIGINT/SIGTERM. The signals are blocked before any thread exists and
 * taken with sigtimedwait (headless) or a signalfd (UI), so no handler runs. Main thread only.
 */
#include "tui/cmd_live.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "sim/model.h"
#include "sim/server.h"
#include "tui/app.h"
#include "tui/cli.h"
#include "tui/keymap.h"
#include "tui/opts.h"
#include "tui/recsess.h"
#include "util/clk.h"
#include "util/err.h"

#define START_TIMEOUT_NS (15 * CLK_NS_PER_S)
#define UI_ATTEMPT_NS    (6 * CLK_NS_PER_S) /* the UI says what failed and retries sooner */

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
static sim_server *start_demo(cli_live *o)
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
    static char rest[64], ws[64]; /* one demo per process: main thread, once */
    int port = sim_server_port(s, false);
    snprintf(rest, sizeof rest, "http://127.0.0.1:%d", port);
    snprintf(ws, sizeof ws, "ws://127.0.0.1:%d", port);
    o->feed.rest_url = rest;
    o->feed.ws_url = ws;
    return s;
}

/* --record: bfmon record's default streams (o->kinds), named in the header. */
static recsess *create_recording(const cli_live *o)
{
    recsess_config c = { .who = "bfmon",
                         .out = o->record,
                         .prefix = "bfmon",
                         .compress = REC_GZIP,
                         .kinds = o->kind_ptrs,
                         .nkinds = o->nkinds,
                         .depth_suffix = o->feed.depth_suffix,
                         .rest_url = o->feed.rest_url,
                         .ws_url = o->feed.ws_url };
    return recsess_create(&c);
}

static engine *create_engine(const cli_live *o, char *why, size_t cap)
{
    ws_config ws = { .permessage_deflate = o->deflate };
    engine_config cfg = opts_feed_engine_config(&o->feed);
    cfg.ws = &ws;
    if (o->record) {
        cfg.streams = o->kind_ptrs;
        cfg.nstreams = o->nkinds;
    }
    engine *e = NULL;
    int rc = engine_create(&cfg, &e, why, cap);
    if (rc < 0 && !why[0])
        snprintf(why, cap, "%s", bf_strerror(rc));
    return rc < 0 ? NULL : e;
}

static engine *start_engine(const cli_live *o)
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
static void status_loop(engine *e, const cli_live *o, const sigset_t *sigs)
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

/* The keymap file (keymap_load_user): 0, or EXIT_USAGE after saying why; the reason for a bad line
 * lands in msg for the status bar. */
static int load_keys(const cli_live *o, keymap *km, char *msg, size_t cap)
{
    if (keymap_load_user(km, o->config, msg, cap) >= 0)
        return 0;
    fprintf(stderr, "bfmon: --config: %s\n", msg);
    msg[0] = '\0';
    return EXIT_USAGE;
}

static int run_ui(cli_live *o)
{
    keymap *km = keymap_create();
    char msg[600] = "", why[512] = "";
    int rc = load_keys(o, km, msg, sizeof msg);
    if (rc == 0 && o->record && !recsess_output_dir_ok(o->record, "bfmon"))
        rc = EXIT_RUNTIME;
    sim_server *demo = NULL;
    if (rc == 0 && o->demo && !(demo = start_demo(o)))
        rc = 1;
    engine *e = rc == 0 ? create_engine(o, why, sizeof why) : NULL;
    if (rc == 0 && !e) {
        fprintf(stderr, "bfmon: cannot start: %s\n", why);
        rc = 1;
    }
    recsess *rec = e && o->record ? create_recording(o) : NULL;
    if (e) {
        app_config ac = { .e = e,
                          .rest_url = o->feed.rest_url ? o->feed.rest_url : ENGINE_DEFAULT_REST_URL,
                          .start_timeout_ns = UI_ATTEMPT_NS,
                          .fps = o->fps,
                          .demo = o->demo,
                          .repaint_all = o->repaint_all,
                          .bench_floor = o->bench_floor,
                          .force_ascii = o->ascii,
                          .km = km,
                          .first_message = msg[0] ? msg : NULL,
                          .rec = rec };
        rc = app_run(&ac, why, sizeof why);
        if (rc)
            fprintf(stderr, "bfmon: %s\n", why);
        if (rec) { /* the engine is stopped: no more lines; the terminal is back for the report */
            int end = recsess_finish(rec);
            rc = rc ? rc : end;
        }
        engine_destroy(e);
    }
    sim_server_destroy(demo);
    keymap_destroy(km);
    return rc;
}

int cmd_live(int argc, char **argv)
{
    cli_live *o = calloc(1, sizeof *o);
    if (!o)
        return 1;
    int rc = cli_parse_live(argc, argv, o);
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
