/*
 * faults: the loopback exchange's fault specs and their schedule (the grammar is in server.h).
 *
 * A spec is "kind[,key=value...]". fault_parse() turns it into a fault_spec (every key checked,
 * defaults filled in); fault_sched keeps the specs that are due later (at=, every=) and hands them
 * back, in time order, as they become due. Applying a fault is the server's business.
 *
 * Keys: stream=<name>, at=<dur>, every=<dur>, count=<n>, for=<dur>, delay=<dur>, size=<bytes>,
 * retry_after=<s>, and times=<n> (how many times an every= fault fires; default: until the server
 * stops). Durations as util/dur.h (250ms, 1.5s, 2m, 1h; none = seconds).
 *
 * Pure data: a fault_sched belongs to one thread (the server's service thread). fault_parse and
 * fault_parse_duration may be called from any thread.
 */
#ifndef BF_SIM_FAULTS_H
#define BF_SIM_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fault_kind {
    FAULT_GAP,
    FAULT_DUP,
    FAULT_REORDER,
    FAULT_STALL,
    FAULT_DISCONNECT,
    FAULT_CLOSE,
    FAULT_MALFORMED,
    FAULT_OVERSIZED,
    FAULT_FRAGMENT,
    FAULT_SLOW_SNAPSHOT,
    FAULT_HTTP429,
    FAULT_HTTP418,
    FAULT_KIND_COUNT
} fault_kind;

#define FAULT_STREAM_MAX 128

typedef struct fault_spec {
    fault_kind kind;
    char stream[FAULT_STREAM_MAX]; /* "" = every stream the kind applies to */
    int64_t at_ms;                 /* offset from the server's start; default 0 */
    int64_t every_ms;              /* 0 = once */
    unsigned times;                /* firings of an every= fault; 0 = unlimited */
    unsigned count;                /* default 1 */
    int64_t for_ms;                /* stall length, default 1000 */
    int64_t delay_ms;              /* slow_snapshot delay, default 1000 */
    size_t size;                   /* oversized: 2 MiB; fragment: 512 */
    int retry_after_s;             /* http429: 1, http418: 2 */
} fault_spec;

/* 0 and *out, or BF_EINVAL with a sentence naming the bad part in why. */
int fault_parse(const char *spec, fault_spec *out, char *why, size_t why_cap);
/* "gap", "slow_snapshot", ... */
const char *fault_kind_name(fault_kind k);
/* "250ms", "2s", "1m", "40" (ms) -> *ms. 0 or BF_EINVAL (negative, empty, bad suffix, overflow). */
int fault_parse_duration(const char *s, int64_t *ms);

typedef struct fault_sched fault_sched;

fault_sched *fault_sched_create(void);
void fault_sched_destroy(fault_sched *fs);
/* Schedule spec to fire first at base_ms + spec->at_ms (then every every_ms, if set). */
void fault_sched_add(fault_sched *fs, const fault_spec *spec, int64_t base_ms);
/* The next spec due at now_ms: true and *out (an every= spec is re-armed), false when none is. */
bool fault_sched_pop_due(fault_sched *fs, int64_t now_ms, fault_spec *out);
size_t fault_sched_pending(const fault_sched *fs);

#endif
