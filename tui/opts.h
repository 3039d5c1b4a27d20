/*
 * opts: small option-value parsers shared by the subcommands (symbol lists, depth speed, worker
 * count, byte sizes, comma lists), and the options every command that runs the engine against an
 * exchange shares (opts_feed). Pure functions: they only fill what they are given and return
 * false (or a sentence) for a value the caller should report as a usage error. Any thread.
 */
#ifndef BF_TUI_OPTS_H
#define BF_TUI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* "btcusdt, ETHUSDT" -> uppercase names in names[] (pointers in ptrs[]), *n of them (at most
 * ENGINE_MAX_SYMBOLS); false for an empty item or one that is not [A-Za-z0-9_]. */
bool opts_parse_symbols(const char *list, char (*names)[SYM_NAME_MAX], const char **ptrs,
                        size_t *n);
/* "0ms" / "100ms" / "250ms" / "500ms" -> the engine's depth suffix ("@0ms", "@100ms", "", ...). */
bool opts_parse_speed(const char *s, const char **suffix);
/* 1..64 worker threads. */
bool opts_parse_workers(const char *s, unsigned *out);
/* A byte size: digits with an optional K, M, G or T (powers of 1024; "KB"/"KiB" forms too). */
bool opts_parse_size(const char *s, uint64_t *out);
/* An integer in [lo, hi]. */
bool opts_parse_int(const char *s, long lo, long hi, long *out);
/* Split a comma list into at most cap trimmed, non-empty items of fewer than item_cap bytes. */
bool opts_parse_list(const char *list, char *items, size_t item_cap, size_t cap, size_t *n);

/* The exchange and engine options of `bfmon` and `bfmon record`. */
typedef struct opts_feed {
    const char *rest_url, *ws_url, *ca_file, *depth_suffix;
    char names[ENGINE_MAX_SYMBOLS][SYM_NAME_MAX];
    const char *symbols[ENGINE_MAX_SYMBOLS];
    size_t nsymbols;
    unsigned workers;
    int64_t interval_ns, duration_ns;
} opts_feed;

/* getopt_long codes of the feed options; a command numbers its own from OPTS_FEED_END. */
enum {
    OPTS_REST = 256,
    OPTS_WS,
    OPTS_CA,
    OPTS_SYMBOLS,
    OPTS_SPEED,
    OPTS_WORKERS,
    OPTS_INTERVAL,
    OPTS_DURATION,
    OPTS_FEED_END
};

/* The feed options' entries of a getopt_long table. */
#define OPTS_FEED_LONGOPTS                                                                         \
    { "rest-url", required_argument, NULL, OPTS_REST },                                            \
        { "ws-url", required_argument, NULL, OPTS_WS },                                            \
        { "ca-file", required_argument, NULL, OPTS_CA },                                           \
        { "symbols", required_argument, NULL, OPTS_SYMBOLS },                                      \
        { "depth-speed", required_argument, NULL, OPTS_SPEED },                                    \
        { "workers", required_argument, NULL, OPTS_WORKERS },                                      \
        { "status-interval", required_argument, NULL, OPTS_INTERVAL },                             \
    {                                                                                              \
        "duration", required_argument, NULL, OPTS_DURATION                                         \
    }

/* Defaults: the URLs from BFMON_REST_URL / BFMON_WS_URL, the given status interval. */
void opts_feed_init(opts_feed *o, int64_t interval_ns);
/* Take option c: 0 when it is a feed option with a good value, 1 when it is not a feed option,
 * -1 with the sentence in why ("--workers '0': use 1 to 64") for a bad value. */
int opts_take_feed(int c, const char *arg, opts_feed *o, char *why, size_t why_cap);

/* The engine settings the feed options give (the rest of cfg stays zero: the caller adds its own). */
engine_config opts_feed_engine_config(const opts_feed *o);

#endif
