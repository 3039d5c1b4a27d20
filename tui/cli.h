/*
 * cli: bfmon's command line. Which command an argument vector names, and every command's options
 * parsed into a plain struct, with no side effect beyond messages (the help on stdout, a usage
 * error's sentence on stderr): nothing is opened, started or connected here. The commands
 * (tui/cmd_*.c) run what it gives; tests/fuzz/fuzz_cli.c drives it with arbitrary argument
 * vectors. Main thread only: getopt's state is global.
 *
 * Every cli_parse_* returns CLI_RUN (0) to run, CLI_DONE (-1) after printing the help (exit 0),
 * or EXIT_USAGE after saying what is wrong. argv[0] is the command's name ("bfmon", "sim", ...).
 */
#ifndef BF_TUI_CLI_H
#define BF_TUI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "feed/recorder.h"
#include "sim/model.h"
#include "sim/server.h"
#include "tui/opts.h"

/* Exit statuses shared by the commands. */
enum { EXIT_INTEGRITY = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

enum { CLI_RUN = 0, CLI_DONE = -1 };

typedef enum cli_command {
    CLI_LIVE,    /* no command word: the live monitor and its options */
    CLI_SIM,     /* bfmon sim ... */
    CLI_REPLAY,  /* bfmon replay ... */
    CLI_RECORD,  /* bfmon record ... */
    CLI_HELP,    /* bfmon --help | -h */
    CLI_VERSION, /* bfmon --version | -V */
    CLI_UNKNOWN, /* bfmon <word> that is no command */
} cli_command;

cli_command cli_command_of(int argc, char *const *argv);
void cli_usage(FILE *to);

/* ---- bfmon [live options] ---- */
typedef struct cli_live {
    opts_feed feed;
    bool headless, json, demo, deflate, repaint_all, bench_floor, ascii;
    int fps;            /* 1..240; default 20 */
    const char *config; /* keymap file, or NULL for the XDG path */
    const char *record; /* --record DIR: the terminal UI also records (NULL: it does not) */
    /* With --record: bfmon record's default stream kinds, subscribed and named in the header. */
    char kinds[ENGINE_MAX_STREAM_KINDS][ENGINE_STREAM_KIND_MAX];
    const char *kind_ptrs[ENGINE_MAX_STREAM_KINDS];
    size_t nkinds;
} cli_live;

int cli_parse_live(int argc, char **argv, cli_live *o);
void cli_usage_live(FILE *to);

/* ---- bfmon record ---- */
#define CLI_RECORD_DEFAULT_STREAMS "depth,bookTicker,aggTrade,markPrice@1s"

typedef struct cli_record {
    opts_feed feed;
    const char *out, *prefix; /* out: required, not empty; prefix: a file name without '/' */
    char kinds[ENGINE_MAX_STREAM_KINDS][ENGINE_STREAM_KIND_MAX];
    const char *kind_ptrs[ENGINE_MAX_STREAM_KINDS];
    size_t nkinds; /* at least 1 (the default streams when none given) */
    recorder_compress compress;
    long level;            /* 0 = the compressor's default; else within the compressor's range */
    uint64_t rotate_bytes; /* 0 = no size rotation; else at least 4096 */
    bool no_rotate_daily;
} cli_record;

int cli_parse_record(int argc, char **argv, cli_record *o);
void cli_usage_record(FILE *to);

/* ---- bfmon replay ---- */
typedef struct cli_replay {
    bool json, headless, probes, verify, ascii;
    const char *exchange_info, *config;
    double speed; /* 0.1..100, or 0 for as fast as possible; default 1 */
    int fps;      /* 0 (the UI's default) or 1..240 */
    char **files; /* into argv; at least one */
    int nfiles;
} cli_replay;

int cli_parse_replay(int argc, char **argv, cli_replay *o);
void cli_usage_replay(FILE *to);

/* ---- bfmon sim ---- */
#define CLI_SIM_DEFAULT_PORT     9443
#define CLI_SIM_DEFAULT_TLS_PORT 9444
#define CLI_SIM_MAX_SYMBOLS      64
#define CLI_SIM_MAX_FAULTS       32

typedef struct cli_sim {
    sim_server_config cfg; /* cfg.faults points at faults[]; cfg.src is the command's to set */
    model_config model;    /* model.symbols points at symbols[] after --symbols */
    model_symbol symbols[CLI_SIM_MAX_SYMBOLS];
    char *symbols_buf; /* the names of symbols[]; freed by cli_sim_free */
    const char *faults[CLI_SIM_MAX_FAULTS];
    const char *replay, *exchange_info;
    double speed;
} cli_sim;

int cli_parse_sim(int argc, char **argv, cli_sim *o);
void cli_sim_free(cli_sim *o);
void cli_usage_sim(FILE *to);

#endif
