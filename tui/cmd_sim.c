/*
 * cmd_sim: `bfmon sim`, the loopback Binance exchange on the command line. Builds the source (the
 * synthetic model, or a recording with --replay), starts the server, prints the URLs as one JSON
 * line and serves until SIGINT or SIGTERM. Main thread only.
 */
#include "tui/cmd_sim.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/model.h"
#include "sim/recsrc.h"
#include "sim/server.h"
#include "tui/cli.h"
#include "util/err.h"

static int make_source(cli_sim *o, source **src)
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

/* Serve until SIGINT/SIGTERM: the signals are blocked in every thread and taken here. */
static int serve(cli_sim *o, source *src)
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
    cli_sim o;
    int rc = cli_parse_sim(argc, argv, &o);
    if (rc == CLI_RUN) {
        source *src;
        rc = make_source(&o, &src) < 0 ? 1 : serve(&o, src);
    }
    cli_sim_free(&o);
    return rc < 0 ? 0 : rc;
}
