/*
 * sync: the Binance USDⓈ-M local-book synchronisation state machine for one symbol's diff stream.
 *
 * The rule (binance-protocol.md §5): buffer diffs while a REST snapshot is in flight; on the
 * snapshot (lastUpdateId L) drop buffered events with u < L; the first event applied must satisfy
 * U <= L <= u (or pu == L); every later event must have pu == the previous event's u, otherwise the
 * book goes RESYNCING with a recorded reason and asks for a new snapshot while buffering continues.
 * Update ids are NOT contiguous on futures: U == prev_u + 1 is never checked.
 *
 *   SNAPSHOTTING --snapshot bridged--> LIVE --pu break / crossed / book full--> RESYNCING --> LIVE
 *   any state --sync_mark_stale (no data for too long)--> STALE --next good event--> previous state
 *
 * Levels arrive already converted to ticks/lots. Buffered diffs are copied into a bounded internal
 * buffer (overflow drops the oldest, counts it, and forces a new snapshot). A sync belongs to the
 * symbol's worker thread.
 */
#ifndef BF_SYNC_H
#define BF_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "market/book.h"

typedef struct book_sync book_sync;

typedef enum sync_state {
    SYNC_SNAPSHOTTING = 0,
    SYNC_LIVE,
    SYNC_RESYNCING,
    SYNC_STALE,
} sync_state;

typedef struct sync_diff {
    int64_t U, u, pu;
    int64_t E, T; /* exchange times (ms), kept for the caller's stats */
    const book_level *bids;
    size_t nbids;
    const book_level *asks;
    size_t nasks;
} sync_diff;

typedef struct sync_stats {
    uint64_t applied;  /* events applied to the book */
    uint64_t dropped;  /* events discarded (u < L, or older than the book) */
    uint64_t buffered; /* events currently waiting for a snapshot */
    uint64_t buffer_overflows;
    uint64_t gaps;          /* pu chain breaks seen while LIVE */
    uint64_t resyncs;       /* times the book left LIVE for RESYNCING */
    uint64_t snapshots;     /* snapshots applied */
    uint64_t stale;         /* times marked STALE */
    int64_t last_update_id; /* u of the last applied event (or L right after a snapshot) */
    int64_t snapshot_id;    /* lastUpdateId L of the snapshot the book was last loaded from */
    int64_t first_U,
        first_u; /* U and u of the first event applied after that snapshot (0 if none) */
    int64_t snapshot_mono_ns; /* when the current snapshot was applied (caller's clock) */
} sync_stats;

typedef struct sync_config {
    size_t max_buffered_events; /* default 65536 */
    size_t max_buffered_levels; /* default 4,000,000 */
} sync_config;

/* The sync drives `b` (borrowed; it clears and fills it). cfg may be NULL. */
book_sync *sync_create(book *b, const sync_config *cfg);
void sync_destroy(book_sync *s);

/* Called right after each event is applied to the book, including buffered events replayed after a
 * snapshot, so the market layer can cross-check the top of book after every one. */
typedef void (*sync_apply_fn)(void *ctx, const sync_diff *applied);
void sync_set_on_apply(book_sync *s, sync_apply_fn fn, void *ctx);

/* One diff event. Returns 0 (applied, buffered, or dropped as old), BF_EGAP when this event broke
 * the chain (the book is now RESYNCING; the event was kept in the buffer), or the book's error
 * (BF_ETOOBIG / BF_EINVAL) when it refused a level (RESYNCING, reason "book full"). A crossed book
 * after a diff returns 0: the state (RESYNCING, reason "crossed book") tells. */
int sync_on_diff(book_sync *s, const sync_diff *d);

/* A REST snapshot with lastUpdateId L. Loads the book and replays the buffer. Returns 0 when the book
 * is LIVE (or waiting: no buffered event reaches L yet), BF_ESTATE when the snapshot is too old
 * (every buffered event starts after L, or while LIVE it is older than the last applied event: the
 * book is untouched; fetch again), BF_EGAP when replaying the buffer found a chain break, BF_ETOOBIG
 * if the book refused a level. now_ns is recorded as the snapshot time. */
int sync_on_snapshot(book_sync *s, int64_t last_update_id, const book_level *bids, size_t nbids,
                     const book_level *asks, size_t nasks, int64_t now_ns);

/* True when the caller should fetch a snapshot (start, after a gap, after a too-old snapshot). */
bool sync_wants_snapshot(const book_sync *s);
/* Called when the caller started fetching, so a second request is not issued. */
void sync_snapshot_requested(book_sync *s);

/* Mark the book STALE (e.g. no event for too long); the next accepted event restores the state. */
void sync_mark_stale(book_sync *s, const char *reason);
/* Force RESYNCING from outside (e.g. a bookTicker cross-check failed, a reconnect). */
void sync_force_resync(book_sync *s, const char *reason);

sync_state sync_get_state(const book_sync *s);
/* Why the book left LIVE last ("pu 123 != previous u 120"), "" if it never did. */
const char *sync_reason(const book_sync *s);
void sync_get_stats(const book_sync *s, sync_stats *out);
const char *sync_state_name(sync_state st);
size_t sync_mem_bytes(const book_sync *s);

#endif
