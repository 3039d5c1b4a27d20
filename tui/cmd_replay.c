/*
 * cmd_replay: option parsing and output of `bfmon replay`. The report itself is built by the engine
 * (replay_report); this file only chooses how to print it. Main thread only.
 */
#include "tui/cmd_replay.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "feed/replay.h"
#include "util/probe.h"

typedef struct replay_opts {
    bool json, headless, probes;
    const char *exchange_info;
    char **files;
    int nfiles;
} replay_opts;

void cmd_replay_usage(FILE *to)
{
    fprintf(to,
            "usage: bfmon replay FILE... [--headless] [--json] [--exchange-info FILE] [--probes]\n"
            "\n"
            "Replay recordings (lines '<recv ns> <json>', plain or gzip) through the engine and\n"
            "report every symbol's book, sync and cross-check results.\n"
            "\n"
            "  --headless            no terminal UI (the only mode so far)\n"
            "  --json                print the report as one JSON object\n"
            "  --exchange-info FILE  take price/quantity scales from an exchangeInfo body\n"
            "  --probes              time decode and apply per line; print the table on stderr\n"
            "  -h, --help            this help\n"
            "\n"
            "Exit status: 0 sound, 1 integrity failure, 2 usage error, 3 cannot read input.\n");
}

/* 0 to run, or the exit status to return at once (help, usage error). */
static int parse_opts(int argc, char **argv, replay_opts *o)
{
    static const struct option opts[] = {
        { "headless", no_argument, NULL, 'H' },
        { "json", no_argument, NULL, 'j' },
        { "exchange-info", required_argument, NULL, 'x' },
        { "probes", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 0; /* full getopt reset: main already parsed its own options */
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            o->headless = true;
            break;
        case 'j':
            o->json = true;
            break;
        case 'x':
            o->exchange_info = optarg;
            break;
        case 'p':
            o->probes = true;
            break;
        case 'h':
            cmd_replay_usage(stdout);
            return -1;
        default:
            cmd_replay_usage(stderr);
            return EXIT_USAGE;
        }
    }
    o->files = argv + optind;
    o->nfiles = argc - optind;
    if (o->nfiles == 0) {
        fprintf(stderr, "bfmon replay: no recording given\n");
        cmd_replay_usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

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

static int print_report(const replay *r, bool as_json)
{
    json_t *rep = replay_report(r);
    if (as_json) {
        json_dumpf(rep, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
    } else {
        print_table(rep);
    }
    json_decref(rep);
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* Replay every file; a file that cannot be opened stops the run (runtime failure). */
static int run_files(replay *r, const replay_opts *o)
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

int cmd_replay(int argc, char **argv)
{
    replay_opts o = { 0 };
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
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
        rc = print_report(r, o.json);
        if (o.probes)
            probe_report(replay_probes(r), stderr);
        if (rc == 0 && !replay_integrity_ok(r))
            rc = EXIT_INTEGRITY;
    }
    replay_destroy(r);
    return rc;
}
