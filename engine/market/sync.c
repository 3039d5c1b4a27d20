/*
 * sync: the Binance USDⓈ-M local-book synchronisation state machine (see sync.h for the contract).
 *
 * Internally the machine is in one of three phases:
 *   BUFFERING    no usable snapshot: every diff is copied into the buffer;
 *   WAIT_BRIDGE  a snapshot (L) is loaded, the buffer is empty, and no event has reached L yet:
 * each diff is checked against L as it arrives (the bridging event goes LIVE); LIVE         every
 * diff must chain with pu == previous u. The public state (SNAPSHOTTING / LIVE / RESYNCING, and
 * STALE as an overlay) is derived from the phase and from whether the book was ever LIVE. The
 * buffer is a FIFO of event headers plus one level arena, both linear arrays compacted to the front
 * when the tail runs out of room. Owned by one thread.
 */
#include "market/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define SYNC_DEFAULT_EVENTS 65536u
#define SYNC_DEFAULT_LEVELS 4000000u
#define SYNC_FIRST_EVENTS   64u
#define SYNC_FIRST_LEVELS   4096u
#define SYNC_REASON_MAX     128

typedef enum phase { PH_BUFFERING, PH_WAIT_BRIDGE, PH_LIVE } phase;

/* A buffered diff: ids and times, with its levels at arena[off ..] (bids then asks). */
typedef struct buf_event {
    int64_t U, u, pu, E, T;
    size_t off, nbids, nasks;
} buf_event;

struct book_sync {
    book *b;
    size_t max_events, max_levels;
    phase ph;
    sync_state state; /* SNAPSHOTTING, LIVE or RESYNCING; STALE is the overlay below */
    bool stale;
    bool need_snapshot, requested;
    int64_t L;

    buf_event *ev;
    size_t ev_head, ev_end, ev_cap; /* live events are ev[ev_head .. ev_end) */
    book_level *arena;
    size_t lv_end, lv_cap; /* arena[0 .. lv_end) used; live levels start at ev[ev_head].off */
    size_t lv_live;        /* levels held by live events */
    size_t mem_bytes;

    sync_apply_fn on_apply;
    void *on_apply_ctx;
    sync_stats st;
    char reason[SYNC_REASON_MAX];
};

/* ---- memory ---- */

static void account(book_sync *s, int64_t delta)
{
    if (delta == 0)
        return;
    s->mem_bytes = (size_t)((int64_t)s->mem_bytes + delta);
    memacct_add(MEM_SYNC, delta);
}

static void set_ev_cap(book_sync *s, size_t cap)
{
    if (cap == s->ev_cap)
        return;
    if (cap == 0) {
        free(s->ev);
        s->ev = NULL;
    } else {
        s->ev = xreallocarray(s->ev, cap, sizeof(buf_event));
    }
    account(s, ((int64_t)cap - (int64_t)s->ev_cap) * (int64_t)sizeof(buf_event));
    s->ev_cap = cap;
}

static void set_lv_cap(book_sync *s, size_t cap)
{
    if (cap == s->lv_cap)
        return;
    if (cap == 0) {
        free(s->arena);
        s->arena = NULL;
    } else {
        s->arena = xreallocarray(s->arena, cap, sizeof(book_level));
    }
    account(s, ((int64_t)cap - (int64_t)s->lv_cap) * (int64_t)sizeof(book_level));
    s->lv_cap = cap;
}

/* ---- buffer ---- */

static size_t buf_len(const book_sync *s)
{
    return s->ev_end - s->ev_head;
}

static buf_event *buf_front(book_sync *s)
{
    return &s->ev[s->ev_head];
}

/* Empty the buffer and give its memory back: a synced book needs none, and a burst of buffering (a
 * long snapshot fetch) should not pin megabytes for the rest of the session. */
static void buf_reset(book_sync *s)
{
    s->ev_head = s->ev_end = 0;
    s->lv_end = s->lv_live = 0;
    set_ev_cap(s, 0);
    set_lv_cap(s, 0);
    s->st.buffered = 0;
}

static void buf_pop(book_sync *s)
{
    buf_event *e = buf_front(s);
    s->lv_live -= e->nbids + e->nasks;
    s->ev_head++;
    if (s->ev_head == s->ev_end) {
        s->ev_head = s->ev_end = 0;
        s->lv_end = 0;
    }
    s->st.buffered = buf_len(s);
}

/* Slide live events and their levels to the front of their arrays. */
static void buf_compact(book_sync *s)
{
    size_t n = buf_len(s);
    if (n == 0) {
        s->ev_head = s->ev_end = s->lv_end = 0;
        return;
    }
    size_t first = s->ev[s->ev_head].off;
    memmove(s->ev, &s->ev[s->ev_head], n * sizeof(buf_event));
    if (s->lv_end > first)
        memmove(s->arena, &s->arena[first], (s->lv_end - first) * sizeof(book_level));
    for (size_t i = 0; i < n; i++)
        s->ev[i].off -= first;
    s->ev_head = 0;
    s->ev_end = n;
    s->lv_end -= first;
}

static size_t grown(size_t cap, size_t first, size_t need, size_t max)
{
    size_t c = cap ? cap : first;
    while (c < need)
        c *= 2;
    return c < max ? c : max;
}

/* Make room for one event with k levels at the tail: compact first, grow (up to the bounds) only if
 * compacting was not enough. The caller has already dropped old events so that the bounds allow it.
 */
static void buf_make_room(book_sync *s, size_t k)
{
    if (s->ev_end < s->ev_cap && s->lv_end + k <= s->lv_cap)
        return;
    buf_compact(s);
    if (s->ev_end >= s->ev_cap)
        set_ev_cap(s, grown(s->ev_cap, SYNC_FIRST_EVENTS, s->ev_end + 1, s->max_events));
    if (s->lv_end + k > s->lv_cap)
        set_lv_cap(s, grown(s->lv_cap, SYNC_FIRST_LEVELS, s->lv_end + k, s->max_levels));
}

static void note_overflow(book_sync *s)
{
    s->st.buffer_overflows++;
    s->need_snapshot = true;
    s->requested = false;
}

/* Copy a diff into the buffer, dropping the oldest events while the bounds are exceeded. */
static void buf_push(book_sync *s, const sync_diff *d)
{
    size_t k = d->nbids + d->nasks;
    if (k > s->max_levels) {
        note_overflow(s); /* can never fit: lost, so only a new snapshot can repair the book */
        return;
    }
    while (buf_len(s) > 0 && (buf_len(s) >= s->max_events || s->lv_live + k > s->max_levels)) {
        buf_pop(s);
        note_overflow(s);
    }
    buf_make_room(s, k);
    buf_event *e = &s->ev[s->ev_end++];
    *e = (buf_event){ .U = d->U,
                      .u = d->u,
                      .pu = d->pu,
                      .E = d->E,
                      .T = d->T,
                      .off = s->lv_end,
                      .nbids = d->nbids,
                      .nasks = d->nasks };
    if (d->nbids)
        memcpy(&s->arena[s->lv_end], d->bids, d->nbids * sizeof(book_level));
    if (d->nasks)
        memcpy(&s->arena[s->lv_end + d->nbids], d->asks, d->nasks * sizeof(book_level));
    s->lv_end += k;
    s->lv_live += k;
    s->st.buffered = buf_len(s);
}

static sync_diff buf_view(const book_sync *s, const buf_event *e)
{
    /* An event without levels may sit in a buffer whose arena was never allocated. */
    const book_level *lv = s->arena ? &s->arena[e->off] : NULL;
    return (sync_diff){ .U = e->U,
                        .u = e->u,
                        .pu = e->pu,
                        .E = e->E,
                        .T = e->T,
                        .bids = lv,
                        .nbids = e->nbids,
                        .asks = lv ? lv + e->nbids : NULL,
                        .nasks = e->nasks };
}

/* ---- state changes ---- */

static void set_reason(book_sync *s, const char *why)
{
    snprintf(s->reason, sizeof(s->reason), "%s", why ? why : "");
}

/* Leave the synced path: the book cannot be trusted until a new snapshot bridges the stream. */
static void go_resync(book_sync *s, const char *why)
{
    if (s->state == SYNC_LIVE)
        s->st.resyncs++;
    s->ph = PH_BUFFERING;
    s->state = SYNC_RESYNCING;
    s->need_snapshot = true;
    s->requested = false;
    set_reason(s, why);
}

static void go_live(book_sync *s)
{
    s->ph = PH_LIVE;
    s->state = SYNC_LIVE;
}

/* ---- applying ---- */

static int apply_levels(book *b, book_side side, const book_level *lv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = book_set(b, side, lv[i].px, lv[i].qty);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Apply one event to the book, run the hook, and check the result. */
static int apply_event(book_sync *s, const sync_diff *d)
{
    int rc = apply_levels(s->b, BOOK_BID, d->bids, d->nbids);
    if (rc == 0)
        rc = apply_levels(s->b, BOOK_ASK, d->asks, d->nasks);
    if (rc < 0) {
        /* The book is now missing part of an update: only a snapshot can repair it. */
        go_resync(s, rc == BF_ETOOBIG ? "book full" : "invalid level in diff");
        return rc;
    }
    if (s->st.first_u == 0 && s->st.first_U == 0) {
        s->st.first_U = d->U;
        s->st.first_u = d->u;
    }
    s->st.applied++;
    s->st.last_update_id = d->u;
    go_live(s);
    if (s->on_apply)
        s->on_apply(s->on_apply_ctx, d);
    if (book_crossed(s->b))
        go_resync(s, "crossed book");
    return 0;
}

/* What a synced (or bridging) machine does with one event. */
typedef enum verdict { V_DROP, V_APPLY, V_GAP, V_TOO_OLD } verdict;

static verdict judge(const book_sync *s, const sync_diff *d)
{
    if (s->ph == PH_WAIT_BRIDGE) {
        if (d->u < s->L)
            return V_DROP;
        /* u >= L here; pu == L is ccxt's accepted superset. Inclusive: U == L and u == L both
         * occur. */
        return d->U <= s->L || d->pu == s->L ? V_APPLY : V_TOO_OLD;
    }
    /* LIVE. u == last u is the last event again; ids only grow, so anything not newer is a replay.
     */
    if (d->u <= s->st.last_update_id)
        return V_DROP;
    return d->pu == s->st.last_update_id ? V_APPLY : V_GAP;
}

static int on_gap(book_sync *s, const sync_diff *d)
{
    char why[SYNC_REASON_MAX];
    snprintf(why, sizeof(why), "pu %" PRId64 " != previous u %" PRId64, d->pu,
             s->st.last_update_id);
    s->st.gaps++;
    go_resync(s, why);
    return BF_EGAP;
}

/* The snapshot cannot be bridged: the stream's oldest event starts after it. Keep buffering and ask
 * again; a book that was LIVE before this (refreshing) snapshot can no longer be trusted. */
static void on_too_old(book_sync *s)
{
    if (s->state == SYNC_LIVE)
        go_resync(s, "snapshot has no overlap with the stream");
    s->ph = PH_BUFFERING;
    s->need_snapshot = true;
    s->requested = false;
}

/* ---- replay after a snapshot ---- */

/* Drop buffered events that the snapshot already contains (u < L). */
static void drop_older_than(book_sync *s, int64_t L)
{
    while (buf_len(s) > 0 && buf_front(s)->u < L) {
        buf_pop(s);
        s->st.dropped++;
    }
}

/* Replay the buffer through judge(). Stops at a gap, keeping the breaking event and everything
 * after it buffered. */
static int replay(book_sync *s)
{
    while (buf_len(s) > 0 && (s->ph == PH_WAIT_BRIDGE || s->ph == PH_LIVE)) {
        sync_diff d = buf_view(s, buf_front(s));
        verdict v = judge(s, &d);
        if (v == V_GAP)
            return on_gap(s, &d);
        if (v == V_TOO_OLD) {
            on_too_old(s);
            return BF_ESTATE;
        }
        if (v == V_DROP) {
            s->st.dropped++;
        } else {
            int rc = apply_event(s, &d);
            if (rc < 0) {
                buf_pop(s);
                return rc;
            }
        }
        buf_pop(s);
    }
    if (buf_len(s) == 0)
        buf_reset(s);
    return 0;
}

static int load_snapshot(book_sync *s, const book_level *bids, size_t nbids, const book_level *asks,
                         size_t nasks)
{
    book_clear(s->b);
    int rc = apply_levels(s->b, BOOK_BID, bids, nbids);
    if (rc == 0)
        rc = apply_levels(s->b, BOOK_ASK, asks, nasks);
    if (rc < 0) {
        book_clear(s->b);
        go_resync(s,
                  rc == BF_ETOOBIG ? "snapshot refused: book full" : "invalid level in snapshot");
    }
    return rc;
}

/* ---- public API ---- */

book_sync *sync_create(book *b, const sync_config *cfg)
{
    if (!b)
        return NULL;
    book_sync *s = xcalloc(1, sizeof(*s));
    s->b = b;
    s->max_events =
        cfg && cfg->max_buffered_events ? cfg->max_buffered_events : SYNC_DEFAULT_EVENTS;
    s->max_levels =
        cfg && cfg->max_buffered_levels ? cfg->max_buffered_levels : SYNC_DEFAULT_LEVELS;
    s->ph = PH_BUFFERING;
    s->state = SYNC_SNAPSHOTTING;
    s->need_snapshot = true;
    return s;
}

void sync_destroy(book_sync *s)
{
    if (!s)
        return;
    buf_reset(s);
    free(s);
}

void sync_set_on_apply(book_sync *s, sync_apply_fn fn, void *ctx)
{
    s->on_apply = fn;
    s->on_apply_ctx = ctx;
}

int sync_on_diff(book_sync *s, const sync_diff *d)
{
    if (!s || !d || (d->nbids && !d->bids) || (d->nasks && !d->asks))
        return BF_EINVAL;
    s->stale = false; /* data is flowing again */
    if (s->ph == PH_BUFFERING) {
        buf_push(s, d);
        return 0;
    }
    switch (judge(s, d)) {
    case V_DROP:
        s->st.dropped++;
        return 0;
    case V_GAP:
        on_gap(s, d);
        buf_push(s, d);
        return BF_EGAP;
    case V_TOO_OLD:
        on_too_old(s);
        buf_push(s, d);
        return 0;
    case V_APPLY:
        break;
    }
    return apply_event(s, d);
}

/* While LIVE a snapshot older than the book would move it backwards: refuse it, keep the book. */
static bool snapshot_behind_live(const book_sync *s, int64_t L)
{
    return s->ph == PH_LIVE && L < s->st.last_update_id;
}

int sync_on_snapshot(book_sync *s, int64_t last_update_id, const book_level *bids, size_t nbids,
                     const book_level *asks, size_t nasks, int64_t now_ns)
{
    if (!s || (nbids && !bids) || (nasks && !asks))
        return BF_EINVAL;
    int64_t L = last_update_id;
    s->stale = false;
    s->requested = false;
    if (snapshot_behind_live(s, L))
        return BF_ESTATE;
    drop_older_than(s, L);
    if (buf_len(s) > 0 && buf_front(s)->U > L && buf_front(s)->pu != L) {
        on_too_old(s);
        return BF_ESTATE;
    }
    int rc = load_snapshot(s, bids, nbids, asks, nasks);
    if (rc < 0)
        return rc;
    s->L = L;
    s->ph = PH_WAIT_BRIDGE;
    s->need_snapshot = false;
    s->st.snapshots++;
    s->st.snapshot_id = L;
    s->st.last_update_id = L;
    s->st.first_U = s->st.first_u = 0;
    s->st.snapshot_mono_ns = now_ns;
    return replay(s);
}

bool sync_wants_snapshot(const book_sync *s)
{
    return s && s->need_snapshot && !s->requested;
}

void sync_snapshot_requested(book_sync *s)
{
    s->requested = true;
}

void sync_mark_stale(book_sync *s, const char *reason)
{
    if (!s->stale)
        s->st.stale++;
    s->stale = true;
    set_reason(s, reason);
}

void sync_force_resync(book_sync *s, const char *reason)
{
    s->stale = false;
    go_resync(s, reason);
}

sync_state sync_get_state(const book_sync *s)
{
    return s->stale ? SYNC_STALE : s->state;
}

const char *sync_reason(const book_sync *s)
{
    return s->reason;
}

void sync_get_stats(const book_sync *s, sync_stats *out)
{
    *out = s->st;
    out->buffered = buf_len(s);
}

const char *sync_state_name(sync_state st)
{
    switch (st) {
    case SYNC_SNAPSHOTTING:
        return "SNAPSHOTTING";
    case SYNC_LIVE:
        return "LIVE";
    case SYNC_RESYNCING:
        return "RESYNCING";
    case SYNC_STALE:
        return "STALE";
    }
    return "?";
}

size_t sync_mem_bytes(const book_sync *s)
{
    return s ? s->mem_bytes : 0;
}
