/*
 * replay: the recording source. Reads recordings (recfmt.h) in order, decodes every line with the
 * fast decoder (stream.h) and routes each event to its symbol's market (market.h, created on first
 * sight), exactly as the live engine would; at the end it flushes the markets and builds the report.
 *
 * REST depth snapshots carry no symbol; one is attributed to (a) the symbol named by a bfmon "rest"
 * marker on the line directly before it, else (b) the only symbol seen so far in the recording, else
 * (c) it is an attribution error. Other bfmon event lines ({"bfmon":"connect"|"disconnect"|"gap"|
 * "resync",...}) are counted and otherwise informational (replay re-derives gaps from the data), but
 * a "dropped" marker (the recorder lost lines) is a problem and fails the integrity check. Scales
 * come from an optional exchangeInfo body, else from the "exchange_info" of a bfmon recording's
 * header line ({"bfmon":"header",...}, the first line of every file bfmon writes), else each market
 * infers them (see market.h). The format is described in docs/recording-format.md.
 *
 * A replay belongs to one thread. It owns its markets, decoder and symbol table; markets returned by
 * the accessors stay valid until replay_destroy(). Problems (bad lines, decode errors, attribution
 * errors, file damage) are counted and the first REPLAY_MAX_PROBLEMS sentences kept for the report.
 */
#ifndef BF_REPLAY_H
#define BF_REPLAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct market market;
typedef struct probe_set probe_set;

#define REPLAY_MAX_PROBLEMS 32

typedef struct replay replay;

typedef struct replay_config {
    const char *exchange_info_path; /* exchangeInfo JSON body, or NULL to infer scales */
    size_t max_line;                /* recfmt bound; 0 for the default (64 MiB) */
    bool probes;                    /* time decode and apply per line (replay_probes) */
} replay_config;

typedef struct replay_stats {
    uint64_t files;         /* files opened */
    uint64_t lines;         /* lines delivered by recfmt */
    uint64_t bad_lines;     /* malformed or over-long lines (skipped) */
    uint64_t decode_errors; /* lines the decoder rejected (not valid JSON / bad fields) */
    uint64_t unsupported;   /* valid JSON of a kind bfmon does not use (e.g. subscribe replies) */
    uint64_t bfmon_events;  /* bfmon's own event lines */
    uint64_t attribution_errors; /* snapshots that could not be given a symbol */
    uint64_t event_errors; /* events a market could not use (convert errors, stale snapshot) */
    uint64_t read_errors;  /* files that ended in damage (BF_ECORRUPT / BF_EIO) or torn */
    uint64_t
        torn_tails; /* compressed files cut short (recfmt's torn tail; lines before it replayed) */
    uint64_t headers;         /* header lines (also counted in bfmon_events) */
    uint64_t dropped_markers; /* "dropped" markers: the recorder lost lines there */
    uint64_t dropped_lines;   /* lines those markers say were lost */
} replay_stats;

/* cfg may be NULL. Fails only on the exchangeInfo file: BF_ENOENT / BF_EIO (unreadable) or the
 * parser's code, with a sentence in why. */
int replay_create(const replay_config *cfg, replay **out, char *why, size_t why_cap);
void replay_destroy(replay *r);

/* Replay one file. 0 when it was read to the end; BF_ENOENT / BF_EIO when it cannot be opened
 * (nothing was replayed); BF_ECORRUPT / BF_EIO when it is damaged part-way (the complete lines before
 * the damage were replayed). replay_error() has the sentence ("cannot open X: No such file ..."). */
int replay_file(replay *r, const char *path);
/* End of input: resolve pending cross-checks in every market. */
void replay_finish(replay *r);

const char *replay_error(const replay *r);
void replay_get_stats(const replay *r, replay_stats *out);
size_t replay_market_count(const replay *r);
/* Markets in order of first appearance. */
market *replay_market_at(const replay *r, size_t i);
market *replay_find_market(const replay *r, const char *symbol);

/* True when every symbol is sound and nothing was lost: no gap or resync, no bookTicker mismatch,
 * no crossed book, no symbol left unsynced with depth data, no decode, line, attribution, event or
 * read error, no "dropped" marker. */
bool replay_integrity_ok(const replay *r);

/* The report (docs/recording-format.md, "Replay report"): a new JSON object the caller decrefs. */
json_t *replay_report(const replay *r);

/* The "decode" and "apply" latency probes, or NULL unless replay_config.probes was set. */
const probe_set *replay_probes(const replay *r);

#endif
