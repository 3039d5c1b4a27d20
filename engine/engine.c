/*
 * engine: symbols, shard rings and workers, view publication, network glue, status.
 *
 * Data path. Every input (WebSocket message, REST snapshot, resync order, stale flag, book copy
 * request) becomes one record on the ring of the shard that owns its symbol:
 *
 *     rec_hdr {kind, symbol, stamps, aux} + payload bytes
 *
 * Producers (ws service thread, HTTP thread, feed callers, control calls) serialise on the shard's
 * producer lock (uncontended in practice: one ws thread); the ring itself is the SPSC frameq. The
 * worker drains up to BATCH_MAX records, then publishes each touched symbol's view once. A full ring
 * drops the record, counts it and owes the symbol a resync: the next record pushed to that shard is
 * preceded by a resync record, or, when nothing else comes, the worker settles the debt once it has
 * drained the ring (everything pushed before the drop has then been applied).
 *
 * Views. Each symbol's view lives in a seqlock slot written only by its worker; readers copy word by
 * word with atomic loads and retry when the sequence moved, so a copy is never torn and nobody
 * blocks the worker. The words are accessed atomically (relaxed) so the race detector sees no race.
 *
 * Lifetimes. Symbol slots are never freed before engine_destroy (removal only deactivates), so the
 * ws, HTTP and reader threads may hold slot pointers. Stop order: ws (no more messages), workers and
 * the housekeeping thread (no more requests), then the HTTP pool (its callbacks end with ECLOSED).
 */
#include "engine.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "codec/rest.h"
#include "codec/stream.h"
#include "feed/recorder.h"
#include "market/market.h"
#include "market/symtab.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/frameq.h"
#include "util/hist.h"
#include "util/memacct.h"
#include "util/tsring.h"
#include "util/xalloc.h"

#define HASH_SIZE        1024u /* > 4 x ENGINE_MAX_SYMBOLS: short probes */
#define RSS_REFRESH_NS   CLK_NS_PER_S
#define BATCH_MAX        256 /* records applied before the touched views are published */
#define IDLE_WAIT_NS     (100 * CLK_NS_PER_MS)
#define PERIOD_NS        CLK_NS_PER_S /* rates, latency windows, snapshot retries */
#define LAT_REFRESH_NS   (250 * CLK_NS_PER_MS)
#define LAT_SLOTS        5
#define NEG_SLOTS        (LAT_SLOTS + 1)
#define SKEW_WINDOW_NS   (10 * CLK_NS_PER_S)
#define SKEW_MARGIN_NS   (2 * CLK_NS_PER_MS)
#define SKEW_MIN_SAMPLES 20
#define CLOCK_SAMPLES    8
#define SNAP_BACKOFF_MIN CLK_NS_PER_S
#define SNAP_BACKOFF_MAX (30 * CLK_NS_PER_S)
#define COPY_WAIT_NS     (30 * CLK_NS_PER_S)
#define DEFAULT_RING     ((size_t)16 << 20)
#define MAX_WORKERS      64
#define OWED_WORDS       (ENGINE_MAX_SYMBOLS / 64)
#define STREAMS_PER_SYM  ENGINE_MAX_STREAM_KINDS
#define RESYNC_RING_FULL "frames dropped: shard ring full"
#define RESYNC_RECONNECT "websocket reconnected"
#define RESYNC_READDED   "symbol re-added"

enum rec_kind { REC_MSG = 1, REC_SNAPSHOT, REC_RESYNC, REC_STALE, REC_COPY };
enum shard_state { SH_IDLE, SH_RUNNING, SH_DONE };

typedef struct rec_hdr {
    uint16_t kind, sym;
    uint32_t len; /* payload bytes after the header */
    int64_t real_ns, mono_ns;
    int64_t aux; /* snapshot: RTT (0 unknown); stale: 1 stale, 0 live; copy: the request */
} rec_hdr;

/* ---- seqlock slot --------------------------------------------------------------------------- */

_Static_assert(sizeof(view_symbol) % sizeof(uint64_t) == 0, "views are copied in words");
#define VIEW_WORDS (sizeof(view_symbol) / sizeof(uint64_t))

typedef struct vslot {
    _Atomic uint64_t seq; /* odd while the worker writes */
    uint64_t w[VIEW_WORDS];
} vslot;

static void vslot_write(vslot *sl, const view_symbol *v)
{
    uint64_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    const unsigned char *src = (const unsigned char *)v;
    for (size_t i = 0; i < VIEW_WORDS; i++) {
        uint64_t x;
        memcpy(&x, src + i * sizeof x, sizeof x);
        __atomic_store_n(&sl->w[i], x, __ATOMIC_RELAXED);
    }
    atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
}

static void vslot_read(const vslot *sl, view_symbol *out)
{
    unsigned char *dst = (unsigned char *)out;
    for (unsigned tries = 0;; tries++) {
        if (tries > 64)
            sched_yield(); /* the worker is mid-write more often than not: let it finish */
        uint64_t s1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
        for (size_t i = 0; i < VIEW_WORDS; i++) {
            uint64_t x = __atomic_load_n(&sl->w[i], __ATOMIC_RELAXED);
            memcpy(dst + i * sizeof x, &x, sizeof x);
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) == s1)
            return;
    }
}

/* ---- rolling count of negative samples (the histograms hold only values >= 0) ---------------- */

typedef struct negwin {
    int64_t slot_no[NEG_SLOTS];
    uint64_t n[NEG_SLOTS];
} negwin;

static void negwin_add(negwin *w, int64_t slot_no)
{
    size_t i = (size_t)(slot_no % NEG_SLOTS);
    if (w->slot_no[i] != slot_no) {
        w->slot_no[i] = slot_no;
        w->n[i] = 0;
    }
    w->n[i]++;
}

static uint64_t negwin_sum(const negwin *w, int64_t cur_slot)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < NEG_SLOTS; i++)
        if (w->slot_no[i] > cur_slot - LAT_SLOTS && w->slot_no[i] <= cur_slot)
            sum += w->n[i];
    return sum;
}

/* ---- symbols, shards, engine ---------------------------------------------------------------- */

typedef struct copy_req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* requester + worker; under mu */
    bool done;
    book_side side;
    size_t cap;
    book_level *levels; /* owned: the requester may give up before the worker answers */
    int result;
    int64_t luid;
} copy_req;

typedef struct esym {
    engine *e;
    unsigned idx, shard;
    int64_t tick; /* worker only: tickSize in the price scale (0: unknown) */
    char name[SYM_NAME_MAX], lower[SYM_NAME_MAX];
    _Atomic bool active;
    _Atomic int stale_streams;
    /* Snapshot requests: started by the worker, ended by the worker or the HTTP thread. */
    _Atomic bool snap_inflight;
    _Atomic int64_t snap_retry_at;
    _Atomic uint64_t snap_req_id;
    _Atomic unsigned snap_failures; /* in a row; 0 after a snapshot arrived */
    pthread_mutex_t snap_mu;
    char snap_err[VIEW_REASON_MAX]; /* why the last request failed; under snap_mu */
    /* Worker-owned from here on. */
    market *m; /* created on first use (scales from exchangeInfo when loaded) */
    histwin *lat[STAGE_COUNT];
    negwin neg[STAGE_COUNT];
    view_trade trades[VIEW_TRADES];
    size_t trade_next, ntrades;
    uint64_t messages, decode_errors, pub_version;
    sync_state last_state;
    int64_t state_since, last_msg_mono;
    double rate;
    uint64_t rate_base;
    int64_t rate_t, lat_t;
    view_latency stages[STAGE_COUNT];
    uint64_t book_key, ticks_seen; /* what the staged view's book and ticks were built from */
    bool touched;
    int64_t first_applied; /* first record applied in this batch (0: none) */
    view_symbol stage;     /* the next publication, built here then copied into pub */
    vslot pub;
} esym;

typedef struct shard {
    engine *e;
    unsigned idx;
    frameq *q;
    pthread_mutex_t plock; /* producers; also guards state and owed */
    int state;
    uint64_t owed[OWED_WORDS]; /* symbols owed a resync after a drop */
    _Atomic bool owed_any;
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    _Atomic int sleeping;
    _Atomic bool stop;
    pthread_t th;
    bool thread_started;
    /* Worker-owned. */
    stream_decoder *dec;
    hist *scratch;
    esym *touched[ENGINE_MAX_SYMBOLS];
    size_t ntouched;
    int64_t next_period;
    uint64_t skew_n, skew_beyond;
    int64_t skew_t;
    _Atomic bool skewed;
} shard;

typedef struct clock_sample {
    int64_t offset_ns, rtt_ns;
} clock_sample;

struct engine {
    char *rest_url, *ws_url, *ca_file, *depth_suffix;
    bool offline;
    char kinds[ENGINE_MAX_STREAM_KINDS][ENGINE_STREAM_KIND_MAX]; /* per-symbol stream kinds */
    size_t nkinds;
    recorder *rec;                 /* the recording tap, or NULL; set before start */
    recorder *_Atomic rec_view;    /* the same, for engine_view_global on any thread */
    _Atomic uint64_t rec_rejected; /* messages the recorder refused (too big for its ring) */
    uint64_t ring_drops_logged;    /* shard 0's worker: ring drops already in a ring_drop event */
    char *info_body;               /* the exchangeInfo body loaded (under lock), or NULL */
    size_t info_len;
    bool prepared;                  /* engine_prepare fetched exchangeInfo and time */
    ws_stream_status *streams_last; /* the stream statuses at the stop */
    size_t nstreams_last;
    size_t ring_bytes;
    int snapshot_limit;
    int64_t time_refresh_ms, latency_window_ms;
    ws_config wscfg;
    http_config httpcfg;

    symtab *syms; /* filled before the workers start, then read-only */
    int weight_limit;

    pthread_mutex_t lock; /* watchlist, symbol slots creation, start/stop flags */
    esym *sym[ENGINE_MAX_SYMBOLS];
    _Atomic unsigned nsym;
    unsigned order[ENGINE_MAX_SYMBOLS]; /* watchlist: active symbols in order */
    size_t norder;
    _Atomic int32_t hash[HASH_SIZE]; /* slot index + 1, 0 empty */
    bool started, stopped;

    unsigned nshards;
    shard *shards;

    pthread_mutex_t net_lock; /* the ws / http pointers for any-thread callers */
    ws_client *ws;
    http_pool *http;
    ws_stats ws_last;
    http_stats http_last;
    bool have_http_last;
    _Atomic int focus; /* slot index, -1 none */

    _Atomic uint64_t version, ring_drops, unroutable, messages;
    /* RSS costs three syscalls: the housekeeping thread reads it every RSS_REFRESH_NS. */
    _Atomic int64_t rss_bytes, rss_at;
    _Atomic bool rss_by_hk; /* the housekeeping thread is running and refreshing it */
    _Atomic int waiters;
    pthread_mutex_t vlock;
    pthread_cond_t vcond;
    int wakefd;

    pthread_mutex_t conn_lock;
    view_conn conn[WS_ROUTE_COUNT];
    int conns_up[WS_ROUTE_COUNT];

    pthread_mutex_t clock_lock;
    clock_sample samples[CLOCK_SAMPLES];
    size_t nsamples, next_sample;
    _Atomic int64_t offset_ns, rtt_ns;

    pthread_mutex_t rate_lock;
    uint64_t rate_base;
    int64_t rate_t;
    double rate;

    pthread_t hk; /* housekeeping: clock refresh */
    bool hk_started, hk_stop;
    pthread_mutex_t hk_lock;
    pthread_cond_t hk_cond;
};

static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static struct timespec mono_ts(int64_t ns)
{
    return (struct timespec){ .tv_sec = ns / CLK_NS_PER_S, .tv_nsec = ns % CLK_NS_PER_S };
}

/* ---- names ---------------------------------------------------------------------------------- */

/* Uppercase copy of a symbol name; false unless 1..SYM_NAME_MAX-1 of [A-Z0-9_]. */
static bool normalize_symbol(const char *in, size_t n, char *out)
{
    if (n == 0 || n >= SYM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)toupper((unsigned char)in[i]);
        if (!isalnum((unsigned char)c) && c != '_')
            return false;
        out[i] = c;
    }
    out[n] = '\0';
    return true;
}

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Slot index of an uppercase name, or -1. Lock-free: slots are published before their entry. */
static int hash_find(engine *e, const char *name, size_t n)
{
    for (uint32_t h = name_hash(name, n), k = 0; k < HASH_SIZE; k++) {
        int32_t v = atomic_load_explicit(&e->hash[(h + k) & (HASH_SIZE - 1)], memory_order_acquire);
        if (v == 0)
            return -1;
        const esym *s = e->sym[v - 1];
        if (strncmp(s->name, name, n) == 0 && s->name[n] == '\0')
            return v - 1;
    }
    return -1;
}

static void hash_insert(engine *e, const esym *s)
{
    uint32_t h = name_hash(s->name, strlen(s->name));
    for (uint32_t k = 0;; k++) {
        _Atomic int32_t *slot = &e->hash[(h + k) & (HASH_SIZE - 1)];
        if (atomic_load_explicit(slot, memory_order_relaxed) == 0) {
            atomic_store_explicit(slot, (int32_t)s->idx + 1, memory_order_release);
            return;
        }
    }
}

/* The watched symbol a stream name belongs to ("btcusdt@depth" -> BTCUSDT), or NULL. */
static esym *symbol_of_stream(engine *e, const char *stream)
{
    const char *at = strchr(stream, '@');
    size_t n = at ? (size_t)(at - stream) : strlen(stream);
    char name[SYM_NAME_MAX];
    if (!normalize_symbol(stream, n, name))
        return NULL;
    int i = hash_find(e, name, n);
    return i < 0 ? NULL : e->sym[i];
}

/* The stream name of a combined-stream message ({"stream":"<name>",...}); false if not wrapped. */
static bool wrapper_stream(const char *data, size_t len, char *out, size_t cap)
{
    static const char key[] = "\"stream\"";
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (i >= len || data[i++] != '{')
        return false;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (len - i < sizeof key - 1 || memcmp(data + i, key, sizeof key - 1) != 0)
        return false;
    i += sizeof key - 1;
    while (i < len && (isspace((unsigned char)data[i]) || data[i] == ':'))
        i++;
    if (i >= len || data[i++] != '"')
        return false;
    size_t n = 0;
    while (i < len && data[i] != '"' && n + 1 < cap)
        out[n++] = data[i++];
    out[n] = '\0';
    return i < len && data[i] == '"';
}

/* ---- symbol slots --------------------------------------------------------------------------- */

static void view_init(esym *s)
{
    view_symbol *v = &s->stage;
    snprintf(v->symbol, sizeof v->symbol, "%s", s->name);
    v->state = SYNC_SNAPSHOTTING;
    snprintf(v->reason, sizeof v->reason, "waiting for data");
    v->state_since_mono_ns = s->state_since;
    vslot_write(&s->pub, v);
}

static esym *sym_create(engine *e, const char *name, unsigned idx)
{
    esym *s = xcalloc(1, sizeof *s);
    s->e = e;
    s->idx = idx;
    s->shard = idx % e->nshards;
    snprintf(s->name, sizeof s->name, "%s", name);
    for (size_t i = 0; name[i]; i++)
        s->lower[i] = (char)tolower((unsigned char)name[i]);
    s->state_since = clk_mono_ns();
    s->last_state = SYNC_SNAPSHOTTING;
    atomic_store(&s->active, true);
    pthread_mutex_init(&s->snap_mu, NULL);
    view_init(s);
    memacct_add(MEM_OTHER, (int64_t)sizeof *s);
    return s;
}

static void sym_destroy(esym *s)
{
    if (!s)
        return;
    market_destroy(s->m);
    for (int i = 0; i < STAGE_COUNT; i++)
        histwin_destroy(s->lat[i]);
    pthread_mutex_destroy(&s->snap_mu);
    memacct_add(MEM_OTHER, -(int64_t)sizeof *s);
    free(s);
}

/* Worker only: the symbol's market, created on first use. */
static market *sym_market(esym *s)
{
    if (!s->m) {
        const symtab *t = s->e->syms;
        const sym_info *info = t ? symtab_find(t, s->name, strlen(s->name)) : NULL;
        market_config cfg = { .info = info };
        s->m = market_create(s->name, &cfg);
        dec_scale px, qty;
        if (info && market_scales(s->m, &px, &qty) &&
            dec_parse(info->tick_size, strlen(info->tick_size), &px, &s->tick) < 0)
            s->tick = 0;
        s->rate_t = clk_mono_ns(); /* the first rate covers the time since the first record */
    }
    return s->m;
}

/* ---- producers ------------------------------------------------------------------------------ */

static void wake_worker(shard *sh)
{
    atomic_thread_fence(memory_order_seq_cst); /* the commit before the sleeping flag's load */
    if (atomic_load(&sh->sleeping)) {
        pthread_mutex_lock(&sh->wlock);
        atomic_store(&sh->sleeping, 0);
        pthread_cond_signal(&sh->wcond);
        pthread_mutex_unlock(&sh->wlock);
    }
}

/* Under plock: one record, or false when the ring has no room. */
static bool put_locked(shard *sh, const rec_hdr *h, const void *payload)
{
    void *p = frameq_reserve(sh->q, sizeof *h + h->len);
    if (!p)
        return false;
    memcpy(p, h, sizeof *h);
    if (h->len && payload)
        memcpy((char *)p + sizeof *h, payload, h->len);
    frameq_commit(sh->q, sizeof *h + h->len);
    return true;
}

/* Under plock: the resyncs owed after drops go ahead of anything newer. False if some remain. */
static bool pay_owed_locked(shard *sh)
{
    if (!atomic_load_explicit(&sh->owed_any, memory_order_relaxed))
        return true;
    for (unsigned w = 0; w < OWED_WORDS; w++) {
        while (sh->owed[w]) {
            unsigned bit = (unsigned)__builtin_ctzll(sh->owed[w]);
            rec_hdr h = { .kind = REC_RESYNC,
                          .sym = (uint16_t)(w * 64 + bit),
                          .len = sizeof RESYNC_RING_FULL - 1 };
            if (!put_locked(sh, &h, RESYNC_RING_FULL))
                return false;
            sh->owed[w] &= sh->owed[w] - 1;
        }
    }
    atomic_store_explicit(&sh->owed_any, false, memory_order_relaxed);
    return true;
}

static void owe_locked(shard *sh, unsigned sym)
{
    sh->owed[sym / 64] |= UINT64_C(1) << (sym % 64);
    atomic_store_explicit(&sh->owed_any, true, memory_order_relaxed);
}

/* Queue one record for symbol s on its shard. 0, or BF_EAGAIN (counted as a drop; the symbol
 * resyncs) when the ring is full. Never blocks beyond the producer lock. */
static int push(engine *e, esym *s, rec_hdr *h, const void *payload)
{
    shard *sh = &e->shards[s->shard];
    h->sym = (uint16_t)s->idx;
    pthread_mutex_lock(&sh->plock);
    bool ok = pay_owed_locked(sh) && put_locked(sh, h, payload);
    if (!ok && h->kind != REC_STALE)
        owe_locked(sh, s->idx);
    pthread_mutex_unlock(&sh->plock);
    if (!ok) {
        atomic_fetch_add_explicit(&e->ring_drops, 1, memory_order_relaxed);
        return BF_EAGAIN;
    }
    wake_worker(sh);
    return 0;
}

static int push_resync(engine *e, esym *s, const char *reason)
{
    rec_hdr h = { .kind = REC_RESYNC, .len = (uint32_t)strlen(reason) };
    return push(e, s, &h, reason);
}

/* A message of some stream: route it to its symbol's shard. */
static int route_message(engine *e, const char *stream, const char *data, size_t len,
                         int64_t real_ns, int64_t mono_ns)
{
    atomic_fetch_add_explicit(&e->messages, 1, memory_order_relaxed);
    char name[WS_STREAM_MAX];
    if (!stream || !*stream)
        stream = wrapper_stream(data, len, name, sizeof name) ? name : "";
    esym *s = symbol_of_stream(e, stream);
    if (!s || !atomic_load_explicit(&s->active, memory_order_relaxed) || len > UINT32_MAX) {
        atomic_fetch_add_explicit(&e->unroutable, 1, memory_order_relaxed);
        return BF_ENOENT;
    }
    rec_hdr h = { .kind = REC_MSG, .len = (uint32_t)len, .real_ns = real_ns, .mono_ns = mono_ns };
    return push(e, s, &h, data);
}

/* ---- recording tap --------------------------------------------------------------------------- */

/* A bfmon event line {"bfmon":kind,...} (o is consumed). Events are rare, so jansson builds them;
 * the per-frame path (record_message) never builds JSON. */
static void record_event(engine *e, json_t *o)
{
    if (!e->rec || !o) {
        json_decref(o);
        return;
    }
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (line && recorder_write(e->rec, clk_real_ns(), line, strlen(line)) == BF_ETOOBIG)
        atomic_fetch_add_explicit(&e->rec_rejected, 1, memory_order_relaxed);
    free(line);
}

/* A message with raw newlines (only JSON whitespace can hold one): written with spaces instead,
 * the same JSON on one line. Never seen from Binance; rare by construction. */
static int record_flattened(engine *e, int64_t real_ns, const char *data, size_t len)
{
    char *copy = xmalloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        copy[i] = data[i] == '\n' ? ' ' : data[i];
    int rc = recorder_write(e->rec, real_ns, copy, len);
    free(copy);
    return rc;
}

/* ws thread, before the shard ring: one recorder_write per frame. A full recorder ring is counted
 * (and marked in the file) by the recorder itself. */
static void record_message(engine *e, int64_t real_ns, const char *data, size_t len)
{
    int rc = recorder_write(e->rec, real_ns, data, len);
    if (rc == BF_EINVAL)
        rc = record_flattened(e, real_ns, data, len);
    if (rc == BF_ETOOBIG || rc == BF_EINVAL)
        atomic_fetch_add_explicit(&e->rec_rejected, 1, memory_order_relaxed);
}

static void record_resync(engine *e, const esym *s, const char *reason)
{
    if (e->rec)
        record_event(
            e, json_pack("{s:s,s:s,s:s}", "bfmon", "resync", "symbol", s->name, "reason", reason));
}

/* Worker: a diff broke the pu chain (the book keeps the previous u as its last id). */
static void record_gap(engine *e, esym *s, const ev *evt)
{
    if (!e->rec || evt->kind != EV_DEPTH)
        return;
    sync_stats ss;
    market_sync_stats(s->m, &ss);
    record_event(e,
                 json_pack("{s:s,s:s,s:I,s:I}", "bfmon", "gap", "symbol", s->name, "pu",
                           (json_int_t)evt->u.depth.pu, "prev_u", (json_int_t)ss.last_update_id));
    record_resync(e, s, market_reason(s->m));
}

/* Shard 0's worker, once a second and at its end: engine ring drops since the last event. The
 * recording itself lost nothing (the tap runs before the rings); the books resynced. */
static void record_ring_drops(engine *e)
{
    uint64_t n = atomic_load_explicit(&e->ring_drops, memory_order_relaxed);
    if (!e->rec || n == e->ring_drops_logged)
        return;
    record_event(e, json_pack("{s:s,s:I,s:I}", "bfmon", "ring_drop", "count",
                              (json_int_t)(n - e->ring_drops_logged), "total", (json_int_t)n));
    e->ring_drops_logged = n;
}

static const char *ws_event_name(ws_event_kind k)
{
    switch (k) {
    case WS_EV_CONNECTED:
        return "connect";
    case WS_EV_DISCONNECTED:
        return "disconnect";
    case WS_EV_ROTATED:
        return "rotation";
    case WS_EV_STREAM_STALE:
        return "stream_stale";
    case WS_EV_STREAM_LIVE:
        return "stream_live";
    default:
        return NULL;
    }
}

/* ws thread: connection events (conn is the connection's serial; for a rotation the new one). */
static void record_ws_event(engine *e, const ws_event *we)
{
    const char *kind = ws_event_name(we->kind);
    if (!e->rec || !kind)
        return;
    char url[512];
    snprintf(url, sizeof url, "%s/%s", e->ws_url, ws_route_name(we->route));
    json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "bfmon", kind, "url", url, "route",
                          ws_route_name(we->route), "conn", (json_int_t)we->conn);
    if (we->kind == WS_EV_CONNECTED)
        json_object_set_new(o, "resumed", json_boolean(we->resumed));
    if (we->kind == WS_EV_ROTATED)
        json_object_set_new(o, "replaced", json_integer((json_int_t)we->replaced));
    if (we->stream)
        json_object_set_new(o, "stream", json_string(we->stream));
    if (we->kind == WS_EV_DISCONNECTED || we->detail)
        json_object_set_new(o, we->kind == WS_EV_DISCONNECTED ? "reason" : "detail",
                            json_string(we->detail ? we->detail : "disconnected"));
    record_event(e, o);
}

/* ---- publication ---------------------------------------------------------------------------- */

static void notify_readers(engine *e, uint64_t publications)
{
    atomic_fetch_add(&e->version, publications);
    if (atomic_load(&e->waiters) > 0) {
        pthread_mutex_lock(&e->vlock);
        pthread_cond_broadcast(&e->vcond);
        pthread_mutex_unlock(&e->vlock);
    }
    uint64_t one = 1;
    if (e->wakefd >= 0 && write(e->wakefd, &one, sizeof one) < 0 && errno != EAGAIN) {
        /* Nothing to do: the fd only hints; readers also poll versions. */
    }
}

static void stage_record(esym *s, view_stage st, int64_t now, int64_t v, int64_t window_ns)
{
    if (v < 0) {
        negwin_add(&s->neg[st], now / (window_ns / LAT_SLOTS));
        return;
    }
    if (!s->lat[st])
        s->lat[st] = histwin_create(window_ns, LAT_SLOTS);
    histwin_record(s->lat[st], now, (uint64_t)v);
}

static void refresh_latency(shard *sh, esym *s, int64_t now)
{
    int64_t window_ns = sh->e->latency_window_ms * CLK_NS_PER_MS;
    for (int i = 0; i < STAGE_COUNT; i++) {
        view_latency *l = &s->stages[i];
        memset(l, 0, sizeof *l);
        l->negative = negwin_sum(&s->neg[i], now / (window_ns / LAT_SLOTS));
        if (!s->lat[i])
            continue;
        histwin_window(s->lat[i], now, sh->scratch);
        hist_summary hs;
        hist_summarize(sh->scratch, &hs);
        l->count = hs.count;
        l->p50_ns = (int64_t)hs.p50;
        l->p99_ns = (int64_t)hs.p99;
        l->p999_ns = (int64_t)hs.p999;
        l->max_ns = (int64_t)hs.max;
    }
    s->lat_t = now;
}

static void view_book(esym *s, view_symbol *v)
{
    const market *m = s->m;
    const book *b = market_book(m);
    sync_stats ss;
    market_sync_stats(m, &ss);
    v->has_scale = market_scales(m, &v->px_scale, &v->qty_scale);
    v->last_update_id = ss.last_update_id;
    /* The book changes only by applied diffs and snapshot loads: most messages (bookTicker,
     * trades, buffered diffs) leave the staged levels valid. */
    uint64_t key = (ss.applied << 20) ^ ss.snapshots;
    if (key != s->book_key || !ss.applied) {
        s->book_key = key;
        v->nbids = book_top(b, BOOK_BID, v->bids, VIEW_LEVELS);
        v->nasks = book_top(b, BOOK_ASK, v->asks, VIEW_LEVELS);
        v->bid_levels = book_count(b, BOOK_BID);
        v->ask_levels = book_count(b, BOOK_ASK);
    }
    v->gaps = ss.gaps;
    v->dropped = ss.dropped;
    v->resyncs = ss.resyncs;
    v->snapshots = ss.snapshots;
}

static void view_state(esym *s, view_symbol *v, int64_t now)
{
    sync_state st = market_state(s->m);
    if (st != s->last_state) {
        s->last_state = st;
        s->state_since = now;
    }
    v->state = st;
    v->state_since_mono_ns = s->state_since;
    const char *why = market_reason(s->m);
    if (st == SYNC_LIVE)
        why = "";
    else if (!*why)
        why = atomic_load(&s->snap_inflight) ? "waiting for the snapshot" : "waiting for data";
    snprintf(v->reason, sizeof v->reason, "%s", why);
    if (st != SYNC_LIVE && atomic_load(&s->snap_failures) > 0) { /* the more useful sentence */
        pthread_mutex_lock(&s->snap_mu);
        snprintf(v->reason, sizeof v->reason, "%s", s->snap_err);
        pthread_mutex_unlock(&s->snap_mu);
    }
}

static void view_series(esym *s, view_symbol *v)
{
    const tsring *ticks = market_ticks(s->m);
    if (tsring_total(ticks) != s->ticks_seen) {
        s->ticks_seen = tsring_total(ticks);
        v->nticks = tsring_latest(ticks, v->ticks, VIEW_TICKS);
    }
    size_t first = (s->trade_next + VIEW_TRADES - s->ntrades) % VIEW_TRADES;
    for (size_t i = 0; i < s->ntrades; i++)
        v->trades[i] = s->trades[(first + i) % VIEW_TRADES];
    v->ntrades = s->ntrades;
    v->last = *market_last_values(s->m);
}

static void build_view(shard *sh, esym *s, int64_t now)
{
    view_symbol *v = &s->stage;
    v->version = ++s->pub_version;
    v->published_mono_ns = now;
    v->tick = s->tick;
    v->last_msg_mono_ns = s->last_msg_mono;
    v->stream_stale = atomic_load_explicit(&s->stale_streams, memory_order_relaxed) > 0;
    if (now - s->lat_t >= LAT_REFRESH_NS)
        refresh_latency(sh, s, now);
    memcpy(v->stages, s->stages, sizeof v->stages);
    v->messages = s->messages;
    v->msgs_per_s = s->rate;
    v->decode_errors = s->decode_errors;
    if (!s->m)
        return;
    view_state(s, v, now);
    view_book(s, v);
    view_series(s, v);
    market_counters c;
    market_counters_get(s->m, &c);
    v->decode_errors += c.convert_errors;
    v->bt_checks = c.bt_checks;
    v->bt_mismatches = c.bt_mismatches;
}

static void touch(shard *sh, esym *s, int64_t applied_mono)
{
    if (!s->touched) {
        s->touched = true;
        sh->touched[sh->ntouched++] = s;
    }
    if (applied_mono && !s->first_applied)
        s->first_applied = applied_mono;
}

static void publish_touched(shard *sh)
{
    if (!sh->ntouched)
        return;
    engine *e = sh->e;
    int64_t now = clk_mono_ns();
    for (size_t i = 0; i < sh->ntouched; i++) {
        esym *s = sh->touched[i];
        build_view(sh, s, now);
        vslot_write(&s->pub, &s->stage);
    }
    int64_t pub = clk_mono_ns();
    for (size_t i = 0; i < sh->ntouched; i++) {
        esym *s = sh->touched[i];
        /* One sample per symbol and batch: the longest wait of the batch. */
        if (s->first_applied)
            stage_record(s, STAGE_APPLIED_TO_PUB, pub, pub - s->first_applied,
                         e->latency_window_ms * CLK_NS_PER_MS);
        s->first_applied = 0;
        s->touched = false;
    }
    uint64_t n = sh->ntouched;
    sh->ntouched = 0;
    notify_readers(e, n);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static int depth_weight(int limit)
{
    return limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
}

static void snapshot_failed(esym *s, const char *why)
{
    pthread_mutex_lock(&s->snap_mu);
    /* The reason is cut to what the view can show. */
    snprintf(s->snap_err, sizeof s->snap_err, "snapshot failed: %.*s",
             (int)(sizeof s->snap_err - sizeof "snapshot failed: "), why);
    pthread_mutex_unlock(&s->snap_mu);
    unsigned f = atomic_fetch_add(&s->snap_failures, 1);
    int64_t backoff = SNAP_BACKOFF_MIN << (f < 5 ? f : 5);
    if (backoff > SNAP_BACKOFF_MAX)
        backoff = SNAP_BACKOFF_MAX;
    atomic_store(&s->snap_retry_at, clk_mono_ns() + backoff);
    atomic_store(&s->snap_inflight, false);
}

static void snapshot_path(const engine *e, const esym *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "/fapi/v1/depth?symbol=%s&limit=%d", s->name, e->snapshot_limit);
}

/* HTTP thread: the body (with its "rest" marker) or a rest_error event, into the recording before
 * the body enters the ring. */
static void record_snapshot(engine *e, const esym *s, const http_response *r)
{
    char path[128];
    snapshot_path(e, s, path, sizeof path);
    if (!r->err && r->body) {
        int rc =
            recorder_write_rest(e->rec, r->done_real_ns, s->name, path, r->status, r->body, r->len);
        if (rc == BF_ETOOBIG || rc == BF_EINVAL)
            atomic_fetch_add_explicit(&e->rec_rejected, 1, memory_order_relaxed);
        return;
    }
    record_event(e, json_pack("{s:s,s:s,s:s,s:i,s:s}", "bfmon", "rest_error", "symbol", s->name,
                              "path", path, "status", r->status, "error",
                              r->err ? r->why : "empty response"));
}

/* HTTP thread: the body goes through the shard ring so it is applied in order with the diffs. */
static void on_snapshot_done(void *ctx, const http_response *r)
{
    esym *s = ctx;
    if (r->err == BF_ECLOSED) {
        atomic_store(&s->snap_inflight, false);
        return;
    }
    if (s->e->rec)
        record_snapshot(s->e, s, r);
    if (r->err || !r->body || r->len > UINT32_MAX) {
        snapshot_failed(s, r->err ? r->why : "empty response");
        return;
    }
    rec_hdr h = { .kind = REC_SNAPSHOT,
                  .len = (uint32_t)r->len,
                  .real_ns = r->done_real_ns,
                  .mono_ns = r->done_mono_ns,
                  .aux = r->done_mono_ns - r->sent_mono_ns };
    if (push(s->e, s, &h, r->body) < 0)
        atomic_store(&s->snap_inflight, false); /* the drop made the symbol resync: ask again */
}

/* Worker: ask for a snapshot when the book wants one, its diff stream has delivered, none is in
 * flight and the retry delay after a failure has passed. */
static void maybe_request_snapshot(engine *e, esym *s, int64_t now)
{
    if (e->offline || !e->http || !s->m || !market_wants_snapshot(s->m))
        return;
    if (atomic_load(&s->snap_inflight) || now < atomic_load(&s->snap_retry_at))
        return;
    market_counters c;
    market_counters_get(s->m, &c);
    if (c.depth_events == 0)
        return;
    char path[128];
    snapshot_path(e, s, path, sizeof path);
    int prio = atomic_load(&e->focus) == (int)s->idx ? HTTP_PRIO_HIGH : HTTP_PRIO_NORMAL;
    atomic_store(&s->snap_inflight, true);
    uint64_t id = 0;
    int rc =
        http_get(e->http, path, depth_weight(e->snapshot_limit), prio, on_snapshot_done, s, &id);
    if (rc < 0) {
        snapshot_failed(s, rc == BF_EAGAIN ? "the REST request queue is full"
                                           : "the HTTP pool is closed");
        return;
    }
    atomic_store(&s->snap_req_id, id);
}

/* ---- applying records (worker) -------------------------------------------------------------- */

/* Exchange event time E and transaction time T (ms) of an event; 0 when absent. */
static void event_times(const ev *e, int64_t *E, int64_t *T)
{
    *E = *T = 0;
    switch (e->kind) {
    case EV_DEPTH:
        *E = e->u.depth.E;
        *T = e->has & EV_HAS_T ? e->u.depth.T : 0;
        break;
    case EV_BOOK_TICKER:
        *E = e->has & EV_HAS_E ? e->u.bt.E : 0;
        *T = e->has & EV_HAS_T ? e->u.bt.T : 0;
        break;
    case EV_AGG_TRADE:
        *E = e->u.agg.E;
        *T = e->u.agg.T;
        break;
    case EV_TRADE:
        *E = e->u.trade.E;
        *T = e->u.trade.T;
        break;
    case EV_MARK_PRICE:
        *E = e->u.mark.E;
        break;
    case EV_KLINE:
        *E = e->u.kline.E;
        break;
    case EV_FORCE_ORDER:
        *E = e->u.force.E;
        break;
    default:
        break;
    }
}

/* The market an event of a message for record symbol s belongs to (usually s itself). */
static esym *event_target(shard *sh, esym *s, const ev *evt)
{
    bf_str name = ev_symbol(evt);
    if (!name.p || (strncmp(s->name, name.p, name.n) == 0 && s->name[name.n] == '\0'))
        return s;
    char up[SYM_NAME_MAX];
    int i = normalize_symbol(name.p, name.n, up) ? hash_find(sh->e, up, name.n) : -1;
    if (i < 0 || sh->e->sym[i]->shard != sh->idx) {
        atomic_fetch_add_explicit(&sh->e->unroutable, 1, memory_order_relaxed);
        return NULL;
    }
    return sh->e->sym[i];
}

static void skew_sample(shard *sh, int64_t corrected_ns, int64_t now)
{
    int64_t bound = atomic_load_explicit(&sh->e->rtt_ns, memory_order_relaxed) / 2 + SKEW_MARGIN_NS;
    sh->skew_n++;
    sh->skew_beyond += corrected_ns < -bound;
    if (now - sh->skew_t < SKEW_WINDOW_NS)
        return;
    /* A noticeable share (over 5 %) of samples from the future: the offset is off. */
    atomic_store(&sh->skewed, sh->skew_n >= SKEW_MIN_SAMPLES && sh->skew_beyond * 20 > sh->skew_n);
    sh->skew_n = sh->skew_beyond = 0;
    sh->skew_t = now;
}

static void keep_trade(esym *s, const ev_agg_trade *a)
{
    dec_scale px, qty;
    view_trade t = { .T_ms = a->T, .buyer_maker = a->buyer_maker };
    if (!market_scales(s->m, &px, &qty) || dec_parse(a->px.p, a->px.n, &px, &t.px) < 0 ||
        dec_parse(a->qty.p, a->qty.n, &qty, &t.qty) < 0)
        return;
    s->trades[s->trade_next] = t;
    s->trade_next = (s->trade_next + 1) % VIEW_TRADES;
    if (s->ntrades < VIEW_TRADES)
        s->ntrades++;
}

static void apply_event(shard *sh, esym *s, const ev *evt, const ev_level *levels, const rec_hdr *h,
                        int64_t now)
{
    engine *e = sh->e;
    int64_t window_ns = e->latency_window_ms * CLK_NS_PER_MS;
    int64_t E, T;
    event_times(evt, &E, &T);
    if (E && T)
        stage_record(s, STAGE_T_TO_E, now, (E - T) * CLK_NS_PER_MS, window_ns);
    if (E && h->kind == REC_MSG) {
        int64_t off = atomic_load_explicit(&e->offset_ns, memory_order_relaxed);
        /* E, like serverTime, is cut to whole ms: its instant is on average 0.5 ms later. */
        int64_t v = h->real_ns - off - (E * CLK_NS_PER_MS + CLK_NS_PER_MS / 2);
        stage_record(s, STAGE_E_TO_RECV, now, v, window_ns);
        skew_sample(sh, v, now);
    }
    market *m = sym_market(s);
    int rc = market_on_event(m, evt, levels, h->real_ns);
    if (rc == BF_EGAP) /* gaps and convert errors are counted by the market and its sync */
        record_gap(e, s, evt);
    int64_t applied = clk_mono_ns();
    if (h->kind == REC_MSG)
        stage_record(s, STAGE_RECV_TO_APPLIED, applied, applied - h->mono_ns, window_ns);
    if (evt->kind == EV_AGG_TRADE)
        keep_trade(s, &evt->u.agg);
    touch(sh, s, applied);
}

static void on_msg_record(shard *sh, esym *s, const rec_hdr *h, const char *data, int64_t now)
{
    s->messages++;
    s->last_msg_mono = h->mono_ns;
    stream_msg msg;
    int rc = stream_decode(sh->dec, data, h->len, &msg);
    if (rc < 0) {
        if (rc != BF_EUNSUPPORTED)
            s->decode_errors++;
        touch(sh, s, 0);
        return;
    }
    for (size_t i = 0; i < msg.nevents; i++) {
        esym *t = event_target(sh, s, &msg.events[i]);
        if (t && msg.events[i].kind != EV_SNAPSHOT)
            apply_event(sh, t, &msg.events[i], msg.levels, h, now);
    }
    sym_market(s);
    maybe_request_snapshot(sh->e, s, now);
}

static void on_snapshot_record(shard *sh, esym *s, const rec_hdr *h, const char *body, int64_t now)
{
    engine *e = sh->e;
    stream_msg msg;
    int rc = stream_decode(sh->dec, body, h->len, &msg);
    if (rc < 0 || msg.nevents != 1 || msg.events[0].kind != EV_SNAPSHOT) {
        s->decode_errors++;
        snapshot_failed(s, "not a depth snapshot body");
        touch(sh, s, 0);
        return;
    }
    if (h->aux > 0)
        stage_record(s, STAGE_REST_RTT, now, h->aux, e->latency_window_ms * CLK_NS_PER_MS);
    apply_event(sh, s, &msg.events[0], msg.levels, h, now);
    atomic_store(&s->snap_failures, 0);
    atomic_store(&s->snap_inflight, false);
    maybe_request_snapshot(e, s, now); /* a snapshot too old for the buffer asks again */
}

static void copy_req_put(copy_req *r)
{
    pthread_mutex_lock(&r->mu);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->levels);
    free(r);
}

/* The book copy itself; the market's owner thread, or any thread once the worker is done. */
static void copy_book(const esym *s, copy_req *r)
{
    r->result = 0;
    r->luid = 0;
    if (!s->m)
        return;
    sync_stats ss;
    market_sync_stats(s->m, &ss);
    r->luid = ss.last_update_id;
    r->result = (int)book_top(market_book(s->m), r->side, r->levels, r->cap);
}

static void on_copy_record(esym *s, const rec_hdr *h)
{
    copy_req *r = (copy_req *)(intptr_t)h->aux;
    copy_book(s, r);
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    copy_req_put(r);
}

static void handle_record(shard *sh, const rec_hdr *h, const char *payload, int64_t now)
{
    esym *s = sh->e->sym[h->sym];
    switch (h->kind) {
    case REC_MSG:
        on_msg_record(sh, s, h, payload, now);
        break;
    case REC_SNAPSHOT:
        on_snapshot_record(sh, s, h, payload, now);
        break;
    case REC_RESYNC: {
        char why[VIEW_REASON_MAX];
        snprintf(why, sizeof why, "%.*s", (int)h->len, payload);
        market_force_resync(sym_market(s), why);
        record_resync(sh->e, s, why);
        maybe_request_snapshot(sh->e, s, now);
        touch(sh, s, 0);
        break;
    }
    case REC_STALE:
        if (h->aux) {
            char why[VIEW_REASON_MAX];
            snprintf(why, sizeof why, "%.*s", (int)h->len, h->len ? payload : "stream silent");
            market_mark_stale(sym_market(s), why);
        }
        touch(sh, s, 0);
        break;
    case REC_COPY:
        on_copy_record(s, h);
        break;
    default:
        break;
    }
}

/* Up to BATCH_MAX records; returns how many. */
static size_t drain(shard *sh)
{
    size_t n = 0, len;
    const void *p;
    int64_t now = clk_mono_ns();
    while (n < BATCH_MAX && (p = frameq_peek(sh->q, &len)) != NULL) {
        rec_hdr h;
        memcpy(&h, p, sizeof h);
        handle_record(sh, &h, (const char *)p + sizeof h, now);
        frameq_release(sh->q);
        n++;
    }
    return n;
}

/* Ring drained: every record pushed before a drop has been applied, so a resync still owed
 * (nothing was pushed after the drop) is settled here, at the right place in the stream. */
static void settle_owed(shard *sh, int64_t now)
{
    if (!atomic_load_explicit(&sh->owed_any, memory_order_relaxed))
        return;
    uint64_t owed[OWED_WORDS];
    pthread_mutex_lock(&sh->plock);
    if (frameq_peek(sh->q, &(size_t){ 0 })) { /* something arrived meanwhile: it pays */
        pthread_mutex_unlock(&sh->plock);
        return;
    }
    memcpy(owed, sh->owed, sizeof owed);
    memset(sh->owed, 0, sizeof sh->owed);
    atomic_store_explicit(&sh->owed_any, false, memory_order_relaxed);
    pthread_mutex_unlock(&sh->plock);
    for (unsigned w = 0; w < OWED_WORDS; w++)
        for (uint64_t bits = owed[w]; bits; bits &= bits - 1) {
            esym *s = sh->e->sym[w * 64 + (unsigned)__builtin_ctzll(bits)];
            market_force_resync(sym_market(s), RESYNC_RING_FULL);
            record_resync(sh->e, s, RESYNC_RING_FULL);
            maybe_request_snapshot(sh->e, s, now);
            touch(sh, s, 0);
        }
}

/* Once a second: message rates, latency windows and snapshot retries of the shard's symbols;
 * a symbol is republished only when something shown changed. */
static void periodic(shard *sh, int64_t now)
{
    if (now < sh->next_period)
        return;
    sh->next_period = now + PERIOD_NS;
    engine *e = sh->e;
    if (sh->idx == 0)
        record_ring_drops(e);
    unsigned n = atomic_load_explicit(&e->nsym, memory_order_acquire);
    for (unsigned i = sh->idx; i < n; i += e->nshards) {
        esym *s = e->sym[i];
        if (!s->m)
            continue;
        double dt = (double)(now - s->rate_t) / 1e9;
        double rate = dt > 0 ? (double)(s->messages - s->rate_base) / dt : 0;
        s->rate_base = s->messages;
        s->rate_t = now;
        view_latency before[STAGE_COUNT];
        memcpy(before, s->stages, sizeof before);
        refresh_latency(sh, s, now);
        if (rate != s->rate || memcmp(before, s->stages, sizeof before) != 0)
            touch(sh, s, 0);
        s->rate = rate;
        maybe_request_snapshot(e, s, now);
    }
}

static void idle_wait(shard *sh, int64_t ns)
{
    atomic_store(&sh->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst); /* the flag before the ring's emptiness check */
    size_t len;
    if (frameq_peek(sh->q, &len) || atomic_load(&sh->stop)) {
        atomic_store(&sh->sleeping, 0);
        return;
    }
    struct timespec ts = mono_ts(clk_mono_ns() + ns);
    pthread_mutex_lock(&sh->wlock);
    while (atomic_load(&sh->sleeping) && !atomic_load(&sh->stop))
        if (pthread_cond_timedwait(&sh->wcond, &sh->wlock, &ts) == ETIMEDOUT)
            break;
    atomic_store(&sh->sleeping, 0);
    pthread_mutex_unlock(&sh->wlock);
}

/* After stop: no more producers are accepted for copies; answer those already queued. */
static void final_drain(shard *sh)
{
    pthread_mutex_lock(&sh->plock);
    sh->state = SH_DONE;
    pthread_mutex_unlock(&sh->plock);
    size_t len;
    const void *p;
    while ((p = frameq_peek(sh->q, &len)) != NULL) {
        rec_hdr h;
        memcpy(&h, p, sizeof h);
        if (h.kind == REC_COPY)
            on_copy_record(sh->e->sym[h.sym], &h);
        frameq_release(sh->q);
    }
}

static void *worker_main(void *arg)
{
    pthread_setname_np(pthread_self(), "bf-worker"); /* for top -H, perf and the benchmarks */
    shard *sh = arg;
    sh->skew_t = clk_mono_ns();
    while (!atomic_load(&sh->stop)) {
        size_t n = drain(sh);
        int64_t now = clk_mono_ns();
        if (n < BATCH_MAX) {
            settle_owed(sh, now);
            periodic(sh, now);
        }
        publish_touched(sh);
        if (n == 0)
            idle_wait(sh, IDLE_WAIT_NS);
    }
    publish_touched(sh);
    final_drain(sh);
    if (sh->idx == 0)
        record_ring_drops(sh->e);
    return NULL;
}

/* ---- clock offset --------------------------------------------------------------------------- */

static int parse_server_time(const char *body, size_t len, int64_t *ms)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    json_t *t = json_object_get(o, "serverTime");
    int rc = json_is_integer(t) ? 0 : BF_EMISSING;
    if (rc == 0)
        *ms = (int64_t)json_integer_value(t);
    json_decref(o);
    return rc;
}

/* offset = serverTime - midpoint of the request (realtime; the send instant is derived from the
 * monotonic stamps); of the last CLOCK_SAMPLES samples the one with the lowest RTT is used. */
static void clock_add_sample(engine *e, const http_response *r)
{
    int64_t server_ms;
    if (r->err || !r->body || parse_server_time(r->body, r->len, &server_ms) < 0)
        return;
    int64_t rtt = r->done_mono_ns - r->sent_mono_ns;
    int64_t sent_real = r->done_real_ns - rtt;
    /* serverTime is the exchange clock cut down to whole milliseconds: the instant it stands for
     * is on average half a millisecond later, so without the correction every offset (and every
     * E -> receive figure) is biased by -0.5 ms. */
    int64_t server_ns = server_ms * CLK_NS_PER_MS + CLK_NS_PER_MS / 2;
    clock_sample cs = { .offset_ns = server_ns - (sent_real + r->done_real_ns) / 2,
                        .rtt_ns = rtt > 0 ? rtt : 1 };
    pthread_mutex_lock(&e->clock_lock);
    e->samples[e->next_sample] = cs;
    e->next_sample = (e->next_sample + 1) % CLOCK_SAMPLES;
    if (e->nsamples < CLOCK_SAMPLES)
        e->nsamples++;
    clock_sample best = e->samples[0];
    for (size_t i = 1; i < e->nsamples; i++)
        if (e->samples[i].rtt_ns < best.rtt_ns)
            best = e->samples[i];
    atomic_store(&e->offset_ns, best.offset_ns);
    atomic_store(&e->rtt_ns, best.rtt_ns);
    pthread_mutex_unlock(&e->clock_lock);
}

static void on_time_done(void *ctx, const http_response *r)
{
    clock_add_sample(ctx, r);
}

static void refresh_rss(engine *e, int64_t now)
{
    atomic_store(&e->rss_at, now);
    atomic_store(&e->rss_bytes, memacct_rss_bytes());
}

/* Housekeeping thread: refresh the clock offset every time_refresh_ms, and the RSS every
 * RSS_REFRESH_NS (three syscalls on procfs, ~0.1 ms here: not on the UI thread's frames). */
static void *housekeeping_main(void *arg)
{
    pthread_setname_np(pthread_self(), "bf-house"); /* for top -H, perf and the benchmarks */
    engine *e = arg;
    int64_t next_time = clk_mono_ns() + e->time_refresh_ms * CLK_NS_PER_MS;
    atomic_store(&e->rss_by_hk, true);
    pthread_mutex_lock(&e->hk_lock);
    while (!e->hk_stop) {
        int64_t next_rss = atomic_load(&e->rss_at) + RSS_REFRESH_NS;
        struct timespec ts = mono_ts(next_rss < next_time ? next_rss : next_time);
        while (!e->hk_stop && pthread_cond_timedwait(&e->hk_cond, &e->hk_lock, &ts) != ETIMEDOUT)
            ;
        if (e->hk_stop)
            break;
        pthread_mutex_unlock(&e->hk_lock);
        int64_t now = clk_mono_ns();
        if (now >= next_rss)
            refresh_rss(e, now);
        if (now >= next_time) {
            next_time = now + e->time_refresh_ms * CLK_NS_PER_MS;
            http_get(e->http, "/fapi/v1/time", 1, HTTP_PRIO_LOW, on_time_done, e, NULL);
        }
        pthread_mutex_lock(&e->hk_lock);
    }
    pthread_mutex_unlock(&e->hk_lock);
    atomic_store(&e->rss_by_hk, false);
    return NULL;
}

/* ---- WebSocket glue ------------------------------------------------------------------------- */

static void on_ws_msg(void *ctx, const ws_msg_info *info, const char *data, size_t len)
{
    engine *e = ctx;
    if (e->rec) /* before the ring: a ring drop never loses recorded data */
        record_message(e, info->recv_real_ns, data, len);
    route_message(e, info->stream, data, len, info->recv_real_ns, info->recv_mono_ns);
}

static bool is_depth_stream(const char *stream)
{
    const char *at = strchr(stream, '@');
    return at && strncmp(at, "@depth", 6) == 0 && !isdigit((unsigned char)at[6]);
}

/* Every symbol whose diff stream rides this route resyncs (its connection was lost). */
static void resync_route(engine *e, ws_route route)
{
    unsigned n = atomic_load_explicit(&e->nsym, memory_order_acquire);
    char stream[WS_STREAM_MAX];
    for (unsigned i = 0; i < n; i++) {
        esym *s = e->sym[i];
        snprintf(stream, sizeof stream, "%s@depth%s", s->lower, e->depth_suffix);
        if (atomic_load(&s->active) && ws_route_of(stream) == route)
            push_resync(e, s, RESYNC_RECONNECT);
    }
}

/* Every symbol whose diff stream rode this route is STALE from now on: its book stops being
 * updated, and a screen must not show it as live. The reconnect resyncs it (resync_route). */
static void stale_route(engine *e, ws_route route, const char *detail)
{
    char why[VIEW_REASON_MAX];
    snprintf(why, sizeof why, "connection lost: %s", detail ? detail : "disconnected");
    unsigned n = atomic_load_explicit(&e->nsym, memory_order_acquire);
    char stream[WS_STREAM_MAX];
    for (unsigned i = 0; i < n; i++) {
        esym *s = e->sym[i];
        snprintf(stream, sizeof stream, "%s@depth%s", s->lower, e->depth_suffix);
        if (!atomic_load(&s->active) || ws_route_of(stream) != route)
            continue;
        rec_hdr h = { .kind = REC_STALE, .aux = 1, .len = (uint32_t)strlen(why) };
        push(e, s, &h, why);
    }
}

static void on_stream_flag(engine *e, const char *stream, bool stale)
{
    esym *s = stream ? symbol_of_stream(e, stream) : NULL;
    if (!s)
        return;
    atomic_fetch_add(&s->stale_streams, stale ? 1 : -1);
    rec_hdr h = { .kind = REC_STALE, .aux = stale && is_depth_stream(stream) };
    push(e, s, &h, NULL);
}

static void conn_event(engine *e, const ws_event *we)
{
    pthread_mutex_lock(&e->conn_lock);
    view_conn *c = &e->conn[we->route];
    int *up = &e->conns_up[we->route];
    switch (we->kind) {
    case WS_EV_CONNECTED:
        c->connects++;
        c->reconnects += we->resumed;
        ++*up;
        break;
    case WS_EV_DISCONNECTED:
        c->disconnects++;
        *up -= *up > 0;
        snprintf(c->detail, sizeof c->detail, "%s", we->detail ? we->detail : "disconnected");
        break;
    case WS_EV_ROTATED:
        c->rotations++;
        break;
    default:
        break;
    }
    c->up = *up > 0;
    pthread_mutex_unlock(&e->conn_lock);
}

static void on_ws_event(void *ctx, const ws_event *we)
{
    engine *e = ctx;
    if (we->route >= WS_ROUTE_COUNT)
        return;
    conn_event(e, we);
    record_ws_event(e, we);
    if (we->kind == WS_EV_CONNECTED && we->resumed)
        resync_route(e, we->route);
    else if (we->kind == WS_EV_DISCONNECTED)
        stale_route(e, we->route, we->detail);
    else if (we->kind == WS_EV_STREAM_STALE || we->kind == WS_EV_STREAM_LIVE)
        on_stream_flag(e, we->stream, we->kind == WS_EV_STREAM_STALE);
}

/* The streams of one symbol: "<symbol>@<kind>" per configured kind ("depth" at the speed). */
static size_t symbol_streams(const engine *e, const esym *s, char out[][WS_STREAM_MAX])
{
    for (size_t i = 0; i < e->nkinds; i++) {
        if (!strcmp(e->kinds[i], "depth"))
            snprintf(out[i], WS_STREAM_MAX, "%s@depth%s", s->lower, e->depth_suffix);
        else
            snprintf(out[i], WS_STREAM_MAX, "%s@%s", s->lower, e->kinds[i]);
    }
    return e->nkinds;
}

/* Under net_lock. */
static int subscribe_symbol(engine *e, const esym *s, bool on)
{
    if (!e->ws)
        return 0;
    char names[STREAMS_PER_SYM][WS_STREAM_MAX];
    const char *ptrs[STREAMS_PER_SYM];
    size_t n = symbol_streams(e, s, names);
    for (size_t i = 0; i < n; i++)
        ptrs[i] = names[i];
    return on ? ws_subscribe(e->ws, ptrs, n) : ws_unsubscribe(e->ws, ptrs, n);
}

/* ---- create / destroy ----------------------------------------------------------------------- */

static bool url_has_scheme(const char *url, const char *a, const char *b)
{
    return url && (strncmp(url, a, strlen(a)) == 0 || strncmp(url, b, strlen(b)) == 0) &&
           strlen(url) > strlen(a) + 1;
}

/* A copy without trailing slashes ("no trailing slash" for both clients). */
static char *url_copy(const char *url)
{
    char *c = xstrdup(url);
    for (size_t n = strlen(c); n > 0 && c[n - 1] == '/'; n--)
        c[n - 1] = '\0';
    return c;
}

static bool valid_suffix(const char *s)
{
    return !strcmp(s, "") || !strcmp(s, "@0ms") || !strcmp(s, "@100ms") || !strcmp(s, "@500ms");
}

/* A stream kind: 1..ENGINE_STREAM_KIND_MAX-1 of [A-Za-z0-9_@]. */
static bool valid_kind(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n >= ENGINE_STREAM_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)k[i]) && k[i] != '_' && k[i] != '@')
            return false;
    return true;
}

static int check_kinds(const engine_config *cfg, char *why, size_t cap)
{
    if (cfg->streams && (cfg->nstreams == 0 || cfg->nstreams > ENGINE_MAX_STREAM_KINDS)) {
        bf_why(why, cap, 0, "%zu stream kinds: use 1 to %d", cfg->nstreams,
               ENGINE_MAX_STREAM_KINDS);
        return BF_EINVAL;
    }
    for (size_t i = 0; cfg->streams && i < cfg->nstreams; i++)
        if (!valid_kind(cfg->streams[i])) {
            bf_why(why, cap, 0, "'%s' is not a stream kind (e.g. depth, bookTicker, aggTrade)",
                   cfg->streams[i] ? cfg->streams[i] : "(null)");
            return BF_EINVAL;
        }
    return 0;
}

static int check_config(const engine_config *cfg, char *why, size_t cap)
{
    const char *rest = cfg->rest_url ? cfg->rest_url : ENGINE_DEFAULT_REST_URL;
    const char *ws = cfg->ws_url ? cfg->ws_url : ENGINE_DEFAULT_WS_URL;
    if (!url_has_scheme(rest, "http://", "https://")) {
        bf_why(why, cap, 0, "REST URL '%s' must start with http:// or https://", rest);
        return BF_EINVAL;
    }
    if (!url_has_scheme(ws, "ws://", "wss://")) {
        bf_why(why, cap, 0, "WebSocket URL '%s' must start with ws:// or wss://", ws);
        return BF_EINVAL;
    }
    if (cfg->depth_suffix && !valid_suffix(cfg->depth_suffix)) {
        bf_why(why, cap, 0, "depth speed '%s' is not one of \"\", @0ms, @100ms, @500ms",
               cfg->depth_suffix);
        return BF_EINVAL;
    }
    if (cfg->nsymbols > ENGINE_MAX_SYMBOLS) {
        bf_why(why, cap, 0, "%zu symbols: at most %d can be watched", cfg->nsymbols,
               ENGINE_MAX_SYMBOLS);
        return BF_EINVAL;
    }
    int lim = cfg->snapshot_limit;
    if (lim && lim != 5 && lim != 10 && lim != 20 && lim != 50 && lim != 100 && lim != 500 &&
        lim != 1000) {
        bf_why(why, cap, 0, "snapshot limit %d is not one of 5, 10, 20, 50, 100, 500, 1000", lim);
        return BF_EINVAL;
    }
    return check_kinds(cfg, why, cap);
}

/* The stream kinds: as configured, else the defaults minus the no_* flags. Duplicates dropped. */
static void copy_kinds(engine *e, const engine_config *cfg)
{
    const char *def[4] = { "depth" };
    size_t n = 1;
    if (!cfg->no_book_ticker)
        def[n++] = "bookTicker";
    if (!cfg->no_trades)
        def[n++] = "aggTrade";
    if (!cfg->no_mark)
        def[n++] = "markPrice@1s";
    const char *const *list = cfg->streams ? cfg->streams : def;
    if (cfg->streams)
        n = cfg->nstreams;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < e->nkinds; j++)
            dup |= !strcmp(e->kinds[j], list[i]);
        if (!dup)
            snprintf(e->kinds[e->nkinds++], ENGINE_STREAM_KIND_MAX, "%s", list[i]);
    }
}

static void copy_settings(engine *e, const engine_config *cfg)
{
    e->rest_url = url_copy(cfg->rest_url ? cfg->rest_url : ENGINE_DEFAULT_REST_URL);
    e->ws_url = url_copy(cfg->ws_url ? cfg->ws_url : ENGINE_DEFAULT_WS_URL);
    e->ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
    e->depth_suffix = xstrdup(cfg->depth_suffix ? cfg->depth_suffix : "@100ms");
    e->offline = cfg->offline;
    copy_kinds(e, cfg);
    e->rec = cfg->recorder;
    atomic_store(&e->rec_view, cfg->recorder);
    e->ring_bytes = cfg->ring_bytes ? cfg->ring_bytes : DEFAULT_RING;
    e->snapshot_limit = cfg->snapshot_limit ? cfg->snapshot_limit : 1000;
    e->time_refresh_ms = cfg->time_refresh_ms > 0 ? cfg->time_refresh_ms : 60000;
    e->latency_window_ms = cfg->latency_window_ms > 0 ? cfg->latency_window_ms : 10000;
    if (cfg->ws)
        e->wscfg = *cfg->ws;
    if (cfg->http)
        e->httpcfg = *cfg->http;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned w = cfg->workers ? cfg->workers : (unsigned)(cpus > 1 ? cpus - 1 : 1);
    e->nshards = w < MAX_WORKERS ? w : MAX_WORKERS;
}

static void shard_init(engine *e, shard *sh, unsigned idx)
{
    sh->e = e;
    sh->idx = idx;
    sh->q = frameq_create(e->ring_bytes);
    pthread_mutex_init(&sh->plock, NULL);
    pthread_mutex_init(&sh->wlock, NULL);
    cond_init_mono(&sh->wcond);
    sh->dec = stream_decoder_create(NULL);
    sh->scratch = hist_create();
}

static void shard_fini(shard *sh)
{
    frameq_destroy(sh->q);
    pthread_mutex_destroy(&sh->plock);
    pthread_mutex_destroy(&sh->wlock);
    pthread_cond_destroy(&sh->wcond);
    stream_decoder_destroy(sh->dec);
    hist_destroy(sh->scratch);
}

/* Under e->lock (or before the engine is shared): a new slot, or BF_E*. Duplicates are ignored. */
static int add_slot(engine *e, const char *symbol, char *why, size_t cap)
{
    char name[SYM_NAME_MAX];
    if (!symbol || !normalize_symbol(symbol, strlen(symbol), name)) {
        bf_why(why, cap, 0, "'%s' is not a symbol name", symbol ? symbol : "(null)");
        return BF_EINVAL;
    }
    if (hash_find(e, name, strlen(name)) >= 0)
        return 0;
    unsigned idx = atomic_load(&e->nsym);
    if (idx == ENGINE_MAX_SYMBOLS) {
        bf_why(why, cap, 0, "at most %d symbols can be watched", ENGINE_MAX_SYMBOLS);
        return BF_ETOOBIG;
    }
    e->sym[idx] = sym_create(e, name, idx);
    atomic_store_explicit(&e->nsym, idx + 1, memory_order_release);
    hash_insert(e, e->sym[idx]);
    e->order[e->norder++] = idx;
    return 1;
}

static int add_config_symbols(engine *e, const engine_config *cfg, char *why, size_t cap)
{
    if (cfg->symbols) {
        for (size_t i = 0; i < cfg->nsymbols; i++) {
            int rc = add_slot(e, cfg->symbols[i], why, cap);
            if (rc < 0)
                return rc;
        }
    } else {
        char list[] = ENGINE_DEFAULT_SYMBOLS;
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
            add_slot(e, t, why, cap);
    }
    if (e->norder == 0) {
        bf_why(why, cap, 0, "no symbol to watch");
        return BF_EINVAL;
    }
    return 0;
}

int engine_create(const engine_config *cfg, engine **out, char *why, size_t why_cap)
{
    engine_config def = { 0 };
    *out = NULL;
    if (!cfg)
        cfg = &def;
    int rc = check_config(cfg, why, why_cap);
    if (rc < 0)
        return rc;
    engine *e = xcalloc(1, sizeof *e);
    copy_settings(e, cfg);
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->net_lock, NULL);
    pthread_mutex_init(&e->vlock, NULL);
    cond_init_mono(&e->vcond);
    pthread_mutex_init(&e->conn_lock, NULL);
    pthread_mutex_init(&e->clock_lock, NULL);
    pthread_mutex_init(&e->rate_lock, NULL);
    pthread_mutex_init(&e->hk_lock, NULL);
    cond_init_mono(&e->hk_cond);
    atomic_store(&e->focus, -1);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->shards = xcalloc(e->nshards, sizeof *e->shards);
    for (unsigned i = 0; i < e->nshards; i++)
        shard_init(e, &e->shards[i], i);
    rc = add_config_symbols(e, cfg, why, why_cap);
    if (rc < 0) {
        engine_destroy(e);
        return rc;
    }
    bf_why(why, why_cap, 0, "%s", "");
    *out = e;
    return 0;
}

void engine_destroy(engine *e)
{
    if (!e)
        return;
    engine_stop(e);
    unsigned n = atomic_load(&e->nsym);
    for (unsigned i = 0; i < n; i++)
        sym_destroy(e->sym[i]);
    for (unsigned i = 0; i < e->nshards; i++)
        shard_fini(&e->shards[i]);
    free(e->shards);
    if (e->syms)
        symtab_destroy(e->syms);
    if (e->wakefd >= 0)
        close(e->wakefd);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->net_lock);
    pthread_mutex_destroy(&e->vlock);
    pthread_cond_destroy(&e->vcond);
    pthread_mutex_destroy(&e->conn_lock);
    pthread_mutex_destroy(&e->clock_lock);
    pthread_mutex_destroy(&e->rate_lock);
    pthread_mutex_destroy(&e->hk_lock);
    pthread_cond_destroy(&e->hk_cond);
    free(e->rest_url);
    free(e->ws_url);
    free(e->ca_file);
    free(e->depth_suffix);
    free(e->info_body);
    free(e->streams_last);
    free(e);
}

/* ---- exchangeInfo --------------------------------------------------------------------------- */

static int load_info(engine *e, const char *body, size_t len, char *why, size_t cap)
{
    symtab *t = symtab_create();
    rest_rate_limits lim = { 0 };
    size_t skipped = 0;
    char reason[256] = "";
    int rc = rest_parse_exchange_info(body, len, t, &lim, &skipped, reason, sizeof reason);
    if (rc < 0) {
        symtab_destroy(t);
        bf_why(why, cap, 0, "not a usable exchangeInfo body: %s", reason);
        return rc;
    }
    if (e->syms)
        symtab_destroy(e->syms);
    e->syms = t;
    e->weight_limit = lim.request_weight_per_minute;
    free(e->info_body); /* kept for engine_exchange_info_json (a recording's header) */
    e->info_body = xmalloc(len + 1);
    memcpy(e->info_body, body, len);
    e->info_body[len] = '\0';
    e->info_len = len;
    return 0;
}

int engine_load_exchange_info(engine *e, const char *body, size_t len, char *why, size_t why_cap)
{
    pthread_mutex_lock(&e->lock);
    int rc = BF_ESTATE;
    if (e->started)
        bf_why(why, why_cap, 0, "exchangeInfo can only be loaded before the engine starts");
    else
        rc = load_info(e, body, len, why, why_cap);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* Under e->lock: deactivate watched symbols exchangeInfo does not list; the note lists them. */
static void skip_unlisted(engine *e, char *note, size_t cap)
{
    size_t w = 0, used = 0;
    note[0] = '\0';
    for (size_t i = 0; i < e->norder; i++) {
        esym *s = e->sym[e->order[i]];
        if (symtab_find(e->syms, s->name, strlen(s->name))) {
            e->order[w++] = e->order[i];
            continue;
        }
        atomic_store(&s->active, false);
        int n = snprintf(note + used, cap - used, "%s%s", used ? ", " : "", s->name);
        if (n > 0 && (size_t)n < cap - used)
            used += (size_t)n;
    }
    e->norder = w;
}

/* ---- start / stop --------------------------------------------------------------------------- */

static int fetch_start_info(engine *e, int64_t deadline_ns, char *why, size_t cap)
{
    http_result res;
    int rc = 0;
    if (!e->syms) {
        rc = http_fetch(e->http, "/fapi/v1/exchangeInfo", 1, deadline_ns, &res);
        if (rc < 0) {
            bf_why(why, cap, 0, "cannot fetch exchangeInfo from %s: %s", e->rest_url, res.r.why);
            http_result_free(&res);
            return rc;
        }
        rc = load_info(e, res.r.body, res.r.len, why, cap);
        http_result_free(&res);
        if (rc < 0)
            return rc;
    }
    if (e->weight_limit > 0)
        http_set_limit(e->http, e->weight_limit);
    rc = http_fetch(e->http, "/fapi/v1/time", 1, deadline_ns, &res);
    if (rc < 0) {
        bf_why(why, cap, 0, "cannot fetch the server time from %s: %s", e->rest_url, res.r.why);
        http_result_free(&res);
        return rc;
    }
    clock_add_sample(e, &res.r);
    http_result_free(&res);
    return 0;
}

static int start_http(engine *e, char *why, size_t cap)
{
    http_config hc = e->httpcfg;
    hc.base_url = e->rest_url;
    hc.ca_file = e->ca_file;
    http_pool *p = NULL;
    char reason[256] = "";
    int rc = http_create(&hc, &p, reason, sizeof reason);
    if (rc < 0) {
        bf_why(why, cap, 0, "cannot create the HTTP pool: %s", reason);
        return rc;
    }
    pthread_mutex_lock(&e->net_lock);
    e->http = p;
    pthread_mutex_unlock(&e->net_lock);
    return 0;
}

static int start_ws(engine *e, char *why, size_t cap)
{
    ws_config wc = e->wscfg;
    wc.base_url = e->ws_url;
    wc.ca_file = e->ca_file;
    wc.on_msg = on_ws_msg;
    wc.on_event = on_ws_event;
    wc.ctx = e;
    ws_client *c = NULL;
    char reason[256] = "";
    int rc = ws_create(&wc, &c, reason, sizeof reason);
    if (rc < 0) {
        bf_why(why, cap, 0, "cannot create the WebSocket client: %s", reason);
        return rc;
    }
    pthread_mutex_lock(&e->lock);
    pthread_mutex_lock(&e->net_lock);
    e->ws = c;
    for (size_t i = 0; i < e->norder; i++)
        subscribe_symbol(e, e->sym[e->order[i]], true);
    pthread_mutex_unlock(&e->net_lock);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

static void start_workers(engine *e)
{
    for (unsigned i = 0; i < e->nshards; i++) {
        shard *sh = &e->shards[i];
        pthread_mutex_lock(&sh->plock);
        sh->state = SH_RUNNING;
        pthread_mutex_unlock(&sh->plock);
        if (pthread_create(&sh->th, NULL, worker_main, sh) != 0)
            abort(); /* like an allocation failure: nothing sensible is left to do */
        sh->thread_started = true;
    }
}

static void stop_http(engine *e)
{
    pthread_mutex_lock(&e->net_lock);
    if (e->http) {
        http_get_stats(e->http, &e->http_last);
        e->have_http_last = true;
        http_destroy(e->http);
        e->http = NULL;
    }
    pthread_mutex_unlock(&e->net_lock);
}

static int start_online(engine *e, int64_t deadline_ns, char *why, size_t cap)
{
    int rc = start_http(e, why, cap);
    if (rc == 0)
        rc = fetch_start_info(e, deadline_ns, why, cap);
    if (rc < 0)
        stop_http(e);
    return rc;
}

int engine_start(engine *e, int64_t deadline_ns, char *why, size_t why_cap)
{
    char note[512] = "";
    pthread_mutex_lock(&e->lock);
    int rc = e->started ? BF_ESTATE : 0;
    if (rc < 0)
        bf_why(why, why_cap, 0, "the engine was already started");
    if (rc == 0 && !e->offline && !e->prepared)
        rc = start_online(e, deadline_ns, why, why_cap);
    if (rc == 0 && e->syms)
        skip_unlisted(e, note, sizeof note);
    if (rc == 0 && e->norder == 0) {
        bf_why(why, why_cap, 0, "no watched symbol is listed in exchangeInfo (%s)", note);
        stop_http(e);
        rc = BF_ENOENT;
    }
    if (rc == 0) {
        start_workers(e);
        e->started = true;
    }
    pthread_mutex_unlock(&e->lock);
    if (rc < 0)
        return rc;
    if (!e->offline && (rc = start_ws(e, why, why_cap)) < 0) {
        engine_stop(e);
        return rc;
    }
    if (!e->offline)
        e->hk_started = pthread_create(&e->hk, NULL, housekeeping_main, e) == 0;
    if (*note)
        bf_why(why, why_cap, 0, "not listed in exchangeInfo, skipped: %s", note);
    else
        bf_why(why, why_cap, 0, "%s", "");
    return 0;
}

int engine_prepare(engine *e, int64_t deadline_ns, char *why, size_t why_cap)
{
    char note[512] = "";
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    if (e->started) {
        bf_why(why, why_cap, 0, "the engine was already started");
        rc = BF_ESTATE;
    } else if (!e->offline && !e->prepared) {
        rc = start_online(e, deadline_ns, why, why_cap);
        e->prepared = rc == 0;
    }
    if (rc == 0 && e->syms) /* the watchlist a header would list is final from here on */
        skip_unlisted(e, note, sizeof note);
    if (rc == 0 && e->norder == 0) {
        bf_why(why, why_cap, 0, "no watched symbol is listed in exchangeInfo (%s)", note);
        rc = BF_ENOENT;
    }
    pthread_mutex_unlock(&e->lock);
    if (rc == 0 && *note)
        bf_why(why, why_cap, 0, "not listed in exchangeInfo, skipped: %s", note);
    else if (rc == 0)
        bf_why(why, why_cap, 0, "%s", "");
    return rc;
}

int engine_set_recorder(engine *e, recorder *r)
{
    pthread_mutex_lock(&e->lock);
    bool settable = !e->started || (e->stopped && !r); /* before the start, or a detach after */
    int rc = settable ? 0 : BF_ESTATE;
    if (rc == 0) {
        e->rec = r; /* the threads that use it start later (or have stopped): they see it */
        atomic_store(&e->rec_view, r);
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

static void stop_workers(engine *e)
{
    for (unsigned i = 0; i < e->nshards; i++) {
        shard *sh = &e->shards[i];
        if (!sh->thread_started)
            continue;
        atomic_store(&sh->stop, true);
        pthread_mutex_lock(&sh->wlock);
        pthread_cond_signal(&sh->wcond);
        pthread_mutex_unlock(&sh->wlock);
        pthread_join(sh->th, NULL);
        sh->thread_started = false;
    }
}

void engine_stop(engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool run = e->started && !e->stopped;
    bool prepared_only = !e->started; /* engine_prepare may have opened the HTTP pool */
    e->stopped = true;
    pthread_mutex_unlock(&e->lock);
    if (prepared_only)
        stop_http(e);
    if (!run)
        return;
    pthread_mutex_lock(&e->net_lock);
    if (e->ws) {
        ws_get_stats(e->ws, &e->ws_last);
        size_t n = ws_stream_statuses(e->ws, NULL, 0);
        e->streams_last = xcalloc(n ? n : 1, sizeof *e->streams_last);
        e->nstreams_last = ws_stream_statuses(e->ws, e->streams_last, n);
        if (e->nstreams_last > n)
            e->nstreams_last = n;
        ws_destroy(e->ws);
        e->ws = NULL;
    }
    pthread_mutex_unlock(&e->net_lock);
    if (e->hk_started) {
        pthread_mutex_lock(&e->hk_lock);
        e->hk_stop = true;
        pthread_cond_signal(&e->hk_cond);
        pthread_mutex_unlock(&e->hk_lock);
        pthread_join(e->hk, NULL);
        e->hk_started = false;
    }
    stop_workers(e);
    stop_http(e);
}

/* ---- watchlist ------------------------------------------------------------------------------ */

/* The active slot of a symbol name (any case), or NULL. */
static esym *find_active(engine *e, const char *symbol)
{
    char name[SYM_NAME_MAX];
    if (!symbol || !normalize_symbol(symbol, strlen(symbol), name))
        return NULL;
    int i = hash_find(e, name, strlen(name));
    return i >= 0 && atomic_load(&e->sym[i]->active) ? e->sym[i] : NULL;
}

size_t engine_symbol_count(engine *e)
{
    pthread_mutex_lock(&e->lock);
    size_t n = e->norder;
    pthread_mutex_unlock(&e->lock);
    return n;
}

bool engine_symbol_at(engine *e, size_t i, char *buf, size_t cap)
{
    pthread_mutex_lock(&e->lock);
    bool ok = i < e->norder;
    if (ok && cap)
        snprintf(buf, cap, "%s", e->sym[e->order[i]]->name);
    pthread_mutex_unlock(&e->lock);
    return ok;
}

static void set_snapshot_priority(engine *e, int idx, int prio)
{
    if (idx < 0 || !e->http)
        return;
    esym *s = e->sym[idx];
    if (atomic_load(&s->snap_inflight))
        http_set_priority(e->http, atomic_load(&s->snap_req_id), prio);
}

void engine_focus(engine *e, const char *symbol)
{
    esym *s = find_active(e, symbol);
    int idx = s ? (int)s->idx : -1;
    int old = atomic_exchange(&e->focus, idx);
    if (old == idx)
        return;
    pthread_mutex_lock(&e->net_lock);
    set_snapshot_priority(e, old, HTTP_PRIO_NORMAL);
    set_snapshot_priority(e, idx, HTTP_PRIO_HIGH);
    pthread_mutex_unlock(&e->net_lock);
}

int engine_add_symbol(engine *e, const char *symbol, char *why, size_t why_cap)
{
    char name[SYM_NAME_MAX];
    if (!symbol || !normalize_symbol(symbol, strlen(symbol), name)) {
        bf_why(why, why_cap, 0, "'%s' is not a symbol name", symbol ? symbol : "(null)");
        return BF_EINVAL;
    }
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    if (e->syms && !symtab_find(e->syms, name, strlen(name))) {
        bf_why(why, why_cap, 0, "%s is not listed in exchangeInfo", name);
        rc = BF_ENOENT;
    }
    int i = rc == 0 ? hash_find(e, name, strlen(name)) : -1;
    esym *s = i >= 0 ? e->sym[i] : NULL;
    if (s && !atomic_load(&s->active)) { /* re-added: its book missed everything meanwhile */
        atomic_store(&s->active, true);
        e->order[e->norder++] = s->idx;
        push_resync(e, s, RESYNC_READDED);
    } else if (!s && rc == 0 && (rc = add_slot(e, name, why, why_cap)) > 0) {
        s = e->sym[atomic_load(&e->nsym) - 1];
        rc = 0;
    } else {
        s = NULL; /* already watched, or an error */
    }
    if (s) {
        pthread_mutex_lock(&e->net_lock);
        subscribe_symbol(e, s, true);
        pthread_mutex_unlock(&e->net_lock);
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int engine_remove_symbol(engine *e, const char *symbol)
{
    pthread_mutex_lock(&e->lock);
    esym *s = find_active(e, symbol);
    if (s) {
        atomic_store(&s->active, false);
        size_t w = 0;
        for (size_t i = 0; i < e->norder; i++)
            if (e->order[i] != s->idx)
                e->order[w++] = e->order[i];
        e->norder = w;
        pthread_mutex_lock(&e->net_lock);
        subscribe_symbol(e, s, false);
        pthread_mutex_unlock(&e->net_lock);
    }
    pthread_mutex_unlock(&e->lock);
    return s ? 0 : BF_ENOENT;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

size_t engine_perpetuals(engine *e, char (*out)[SYM_NAME_MAX], size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&e->lock);
    size_t count = e->syms ? symtab_count(e->syms) : 0;
    for (size_t i = 0; i < count; i++) {
        const sym_info *si = symtab_at(e->syms, i);
        if (strcmp(si->contract_type, "PERPETUAL") || strcmp(si->status, "TRADING"))
            continue;
        if (n < cap)
            snprintf(out[n], SYM_NAME_MAX, "%s", si->name);
        n++;
    }
    pthread_mutex_unlock(&e->lock);
    qsort(out, n < cap ? n : cap, SYM_NAME_MAX, name_cmp);
    return n;
}

/* ---- views ---------------------------------------------------------------------------------- */

int engine_view_symbol(engine *e, const char *symbol, view_symbol *out)
{
    esym *s = find_active(e, symbol);
    if (!s)
        return BF_ENOENT;
    vslot_read(&s->pub, out);
    return 0;
}

uint64_t engine_version(engine *e)
{
    return atomic_load(&e->version);
}

uint64_t engine_wait(engine *e, uint64_t seen, int64_t deadline_ns)
{
    uint64_t v = atomic_load(&e->version);
    if (v > seen)
        return v;
    struct timespec ts = mono_ts(deadline_ns);
    pthread_mutex_lock(&e->vlock);
    atomic_fetch_add(&e->waiters, 1);
    while ((v = atomic_load(&e->version)) <= seen && clk_mono_ns() < deadline_ns)
        pthread_cond_timedwait(&e->vcond, &e->vlock, &ts);
    atomic_fetch_sub(&e->waiters, 1);
    pthread_mutex_unlock(&e->vlock);
    return v > seen ? v : seen;
}

int engine_wakeup_fd(engine *e)
{
    return e->wakefd;
}

static double global_rate(engine *e, uint64_t messages)
{
    int64_t now = clk_mono_ns();
    pthread_mutex_lock(&e->rate_lock);
    if (!e->rate_t) {
        e->rate_t = now;
        e->rate_base = messages;
    } else if (now - e->rate_t >= CLK_NS_PER_S) {
        e->rate = (double)(messages - e->rate_base) * 1e9 / (double)(now - e->rate_t);
        e->rate_t = now;
        e->rate_base = messages;
    }
    double r = e->rate;
    pthread_mutex_unlock(&e->rate_lock);
    return r;
}

static void global_net(engine *e, view_global *out)
{
    ws_stats ws = { 0 };
    http_stats hs = { 0 };
    bool have_http;
    pthread_mutex_lock(&e->net_lock);
    if (e->ws)
        ws_get_stats(e->ws, &ws);
    else
        ws = e->ws_last;
    have_http = e->http || e->have_http_last;
    if (e->http)
        http_get_stats(e->http, &hs);
    else
        hs = e->http_last;
    pthread_mutex_unlock(&e->net_lock);
    out->ws_oversized = ws.oversized;
    out->ws_fragments = ws.fragments;
    out->ws_error_replies = ws.error_replies;
    out->used_weight = have_http ? hs.used_weight : -1;
    out->used_weight_peak = have_http ? hs.used_weight_peak : 0;
    out->weight_limit = have_http ? hs.weight_limit : e->weight_limit;
    out->ban_until_mono_ns = hs.hold_until_mono_ns;
    out->http_conns_opened = hs.conns_opened;
    out->http_requests = hs.requests;
    out->http_retries = hs.retries;
}

void engine_view_global(engine *e, view_global *out)
{
    memset(out, 0, sizeof *out);
    out->version = engine_version(e);
    pthread_mutex_lock(&e->conn_lock);
    memcpy(out->ws, e->conn, sizeof out->ws);
    pthread_mutex_unlock(&e->conn_lock);
    global_net(e, out);
    out->ws_messages = atomic_load(&e->messages);
    out->msgs_per_s = global_rate(e, out->ws_messages);
    out->ring_drops = atomic_load(&e->ring_drops);
    out->unroutable = atomic_load(&e->unroutable);
    out->clock_offset_ns = atomic_load(&e->offset_ns);
    out->clock_rtt_ns = atomic_load(&e->rtt_ns);
    for (unsigned i = 0; i < e->nshards; i++)
        out->clock_skewed |= atomic_load(&e->shards[i].skewed);
    for (int m = 0; m < MEM_MODULE_COUNT; m++)
        out->mem[m] = memacct_get((memacct_module)m);
    int64_t now = clk_mono_ns();
    if (!atomic_load(&e->rss_by_hk) && now - atomic_load(&e->rss_at) >= RSS_REFRESH_NS)
        refresh_rss(e, now); /* no housekeeping thread (replay): here, at most that often */
    out->rss_bytes = atomic_load(&e->rss_bytes);
    recorder *r = atomic_load(&e->rec_view);
    if (r) {
        recorder_stats rs;
        recorder_get_stats(r, &rs);
        out->recording = true;
        out->recorded_bytes = rs.bytes_out;
    }
}

/* ---- book copies ---------------------------------------------------------------------------- */

static copy_req *copy_req_new(book_side side, size_t cap)
{
    copy_req *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    cond_init_mono(&r->cv);
    r->refs = 1;
    r->side = side;
    r->cap = cap;
    r->levels = xmalloc((cap ? cap : 1) * sizeof *r->levels);
    return r;
}

/* 1 queued on the running worker, 0 the worker is not running (copy inline), BF_EAGAIN full. */
static int copy_enqueue(shard *sh, esym *s, copy_req *r)
{
    rec_hdr h = { .kind = REC_COPY, .sym = (uint16_t)s->idx, .aux = (int64_t)(intptr_t)r };
    pthread_mutex_lock(&sh->plock);
    int rc = 0;
    if (sh->state == SH_RUNNING) {
        r->refs = 2; /* not shared yet: the worker sees it only after the commit */
        rc = pay_owed_locked(sh) && put_locked(sh, &h, NULL) ? 1 : BF_EAGAIN;
        if (rc < 0)
            r->refs = 1;
    }
    pthread_mutex_unlock(&sh->plock);
    if (rc == 1)
        wake_worker(sh);
    return rc;
}

static int copy_wait(copy_req *r, int64_t deadline_ns)
{
    struct timespec ts = mono_ts(deadline_ns);
    pthread_mutex_lock(&r->mu);
    while (!r->done && clk_mono_ns() < deadline_ns)
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    bool done = r->done;
    pthread_mutex_unlock(&r->mu);
    return done ? 0 : BF_ETIMEDOUT;
}

int engine_book_copy(engine *e, const char *symbol, book_side side, book_level *out, size_t cap,
                     int64_t *last_update_id)
{
    esym *s = find_active(e, symbol);
    if (!s)
        return BF_ENOENT;
    if (side != BOOK_BID && side != BOOK_ASK)
        return BF_EINVAL;
    shard *sh = &e->shards[s->shard];
    copy_req *r = copy_req_new(side, cap);
    int64_t deadline = clk_mono_ns() + COPY_WAIT_NS;
    int rc;
    while ((rc = copy_enqueue(sh, s, r)) == BF_EAGAIN && clk_mono_ns() < deadline)
        nanosleep(&(struct timespec){ .tv_nsec = CLK_NS_PER_MS }, NULL); /* ring full: retry */
    if (rc == 0)
        copy_book(s, r); /* not running: nothing writes the market */
    else if (rc == 1)
        rc = copy_wait(r, deadline);
    if (rc >= 0) {
        rc = r->result;
        if (rc > 0)
            memcpy(out, r->levels, (size_t)rc * sizeof *out);
        if (last_update_id)
            *last_update_id = r->luid;
    }
    copy_req_put(r);
    return rc;
}

/* ---- feed ----------------------------------------------------------------------------------- */

int engine_feed_message(engine *e, const char *stream, const char *data, size_t len,
                        int64_t recv_real_ns, int64_t recv_mono_ns)
{
    return route_message(e, stream, data, len, recv_real_ns, recv_mono_ns);
}

int engine_feed_rest_depth(engine *e, const char *symbol, const char *body, size_t len,
                           int64_t recv_real_ns, int64_t recv_mono_ns)
{
    esym *s = find_active(e, symbol);
    if (!s || len > UINT32_MAX) {
        atomic_fetch_add_explicit(&e->unroutable, 1, memory_order_relaxed);
        return BF_ENOENT;
    }
    rec_hdr h = {
        .kind = REC_SNAPSHOT, .len = (uint32_t)len, .real_ns = recv_real_ns, .mono_ns = recv_mono_ns
    };
    return push(e, s, &h, body);
}

/* ---- recording header and end-of-run figures ------------------------------------------------ */

/* Under e->lock: the watched symbols' entries of the loaded body, as the exchange sent them. */
static json_t *watched_entries(engine *e, json_t *root)
{
    json_t *out = json_array(), *it;
    size_t i;
    json_array_foreach(json_object_get(root, "symbols"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "symbol"));
        if (name && find_active(e, name))
            json_array_append(out, it);
    }
    return out;
}

json_t *engine_exchange_info_json(engine *e)
{
    pthread_mutex_lock(&e->lock);
    json_t *root = e->info_body ? json_loadb(e->info_body, e->info_len, 0, NULL) : NULL;
    json_t *out = NULL;
    if (root) {
        json_t *limits = json_object_get(root, "rateLimits");
        out = json_object();
        json_object_set_new(out, "rateLimits", limits ? json_incref(limits) : json_array());
        json_object_set_new(out, "symbols", watched_entries(e, root));
    }
    pthread_mutex_unlock(&e->lock);
    json_decref(root);
    return out;
}

uint64_t engine_record_rejected(engine *e)
{
    return atomic_load(&e->rec_rejected);
}

int64_t engine_clock_offset_ns(engine *e)
{
    return atomic_load(&e->offset_ns);
}

size_t engine_stream_stats(engine *e, ws_stream_status *out, size_t cap)
{
    pthread_mutex_lock(&e->net_lock);
    size_t n;
    if (e->ws) {
        n = ws_stream_statuses(e->ws, out, cap);
    } else {
        n = e->nstreams_last;
        if (out && n && cap)
            memcpy(out, e->streams_last, (n < cap ? n : cap) * sizeof *out);
    }
    pthread_mutex_unlock(&e->net_lock);
    return n;
}

int engine_latency_total(engine *e, const char *symbol, view_stage stage, hist_summary *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&e->lock);
    bool running = e->started && !e->stopped;
    pthread_mutex_unlock(&e->lock);
    if (running)
        return BF_ESTATE;
    char name[SYM_NAME_MAX];
    int i = symbol && normalize_symbol(symbol, strlen(symbol), name)
                ? hash_find(e, name, strlen(name))
                : -1;
    if (i < 0 || stage < 0 || stage >= STAGE_COUNT)
        return BF_ENOENT;
    const histwin *w = e->sym[i]->lat[stage];
    if (w)
        hist_summarize(histwin_total(w), out);
    return 0;
}

/* ---- status JSON ---------------------------------------------------------------------------- */

static json_t *ms_json(int64_t ns)
{
    return json_real((double)ns / 1e6);
}

static json_t *num_json(const dec_scale *sc, bool has_scale, int64_t v)
{
    char buf[DEC_FMT_MAX];
    int n = has_scale ? dec_format(v, sc, buf, sizeof buf) : -1;
    return n < 0 ? json_null() : json_stringn(buf, (size_t)n);
}

static const char *const stage_keys[STAGE_COUNT] = { "t_e", "e_recv", "recv_applied", "applied_pub",
                                                     "rest_rtt" };

static json_t *latency_json(const view_symbol *v)
{
    json_t *o = json_object();
    for (int i = 0; i < STAGE_COUNT; i++) {
        const view_latency *l = &v->stages[i];
        json_object_set_new(o, stage_keys[i],
                            json_pack("{s:I,s:I,s:o,s:o,s:o,s:o}", "count", (json_int_t)l->count,
                                      "negative", (json_int_t)l->negative, "p50",
                                      ms_json(l->p50_ns), "p99", ms_json(l->p99_ns), "p999",
                                      ms_json(l->p999_ns), "max", ms_json(l->max_ns)));
    }
    return o;
}

static json_t *symbol_status(const view_symbol *v)
{
    bool hb = v->nbids > 0, ha = v->nasks > 0;
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(sync_state_name(v->state)));
    json_object_set_new(o, "reason", json_string(v->reason));
    json_object_set_new(o, "bid", num_json(&v->px_scale, hb && v->has_scale, v->bids[0].px));
    json_object_set_new(o, "bid_qty", num_json(&v->qty_scale, hb && v->has_scale, v->bids[0].qty));
    json_object_set_new(o, "ask", num_json(&v->px_scale, ha && v->has_scale, v->asks[0].px));
    json_object_set_new(o, "ask_qty", num_json(&v->qty_scale, ha && v->has_scale, v->asks[0].qty));
    json_object_set_new(o, "last_update_id", json_integer(v->last_update_id));
    json_object_set_new(o, "msgs", json_integer((json_int_t)v->messages));
    json_object_set_new(o, "msgs_per_s", json_real(v->msgs_per_s));
    json_object_set_new(o, "gaps", json_integer((json_int_t)v->gaps));
    json_object_set_new(o, "dropped", json_integer((json_int_t)v->dropped));
    json_object_set_new(o, "resyncs", json_integer((json_int_t)v->resyncs));
    json_object_set_new(o, "snapshots", json_integer((json_int_t)v->snapshots));
    json_object_set_new(o, "decode_errors", json_integer((json_int_t)v->decode_errors));
    json_object_set_new(o, "stale", json_boolean(v->stream_stale));
    json_object_set_new(o, "bid_levels", json_integer((json_int_t)v->bid_levels));
    json_object_set_new(o, "ask_levels", json_integer((json_int_t)v->ask_levels));
    json_object_set_new(o, "bt_checks", json_integer((json_int_t)v->bt_checks));
    json_object_set_new(o, "bt_mismatches", json_integer((json_int_t)v->bt_mismatches));
    json_object_set_new(o, "mark_price",
                        *v->last.mark_price ? json_string(v->last.mark_price) : json_null());
    json_object_set_new(o, "latency", latency_json(v));
    return o;
}

static json_t *conn_json(const view_conn *c)
{
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:s}", "up", c->up, "connects", (json_int_t)c->connects,
                     "reconnects", (json_int_t)c->reconnects, "rotations", (json_int_t)c->rotations,
                     "disconnects", (json_int_t)c->disconnects, "detail", c->detail);
}

static json_t *ws_json(const view_global *g)
{
    json_t *o = json_object();
    for (int r = 0; r < WS_ROUTE_COUNT; r++)
        json_object_set_new(o, ws_route_name((ws_route)r), conn_json(&g->ws[r]));
    json_object_set_new(o, "messages", json_integer((json_int_t)g->ws_messages));
    json_object_set_new(o, "msgs_per_s", json_real(g->msgs_per_s));
    json_object_set_new(o, "oversized", json_integer((json_int_t)g->ws_oversized));
    json_object_set_new(o, "fragments", json_integer((json_int_t)g->ws_fragments));
    json_object_set_new(o, "error_replies", json_integer((json_int_t)g->ws_error_replies));
    return o;
}

static json_t *rest_json(const view_global *g)
{
    int64_t ban = g->ban_until_mono_ns - clk_mono_ns();
    return json_pack("{s:i,s:i,s:I,s:I,s:I,s:I}", "used_weight", g->used_weight, "weight_limit",
                     g->weight_limit, "banned_for_ms",
                     (json_int_t)(ban > 0 ? ban / CLK_NS_PER_MS : 0), "conns_opened",
                     (json_int_t)g->http_conns_opened, "requests", (json_int_t)g->http_requests,
                     "retries", (json_int_t)g->http_retries);
}

static json_t *mem_json(const view_global *g)
{
    json_t *o = json_object();
    json_object_set_new(o, "rss_bytes", json_integer(g->rss_bytes));
    for (int i = 0; i < MEM_MODULE_COUNT; i++) {
        char key[48];
        snprintf(key, sizeof key, "%s_bytes", memacct_module_name((memacct_module)i));
        json_object_set_new(o, key, json_integer(g->mem[i]));
    }
    return o;
}

json_t *engine_status_json(engine *e)
{
    view_global g;
    engine_view_global(e, &g);
    json_t *o = json_object();
    json_object_set_new(o, "t", json_integer(clk_real_ns() / CLK_NS_PER_MS));
    json_t *syms = json_object();
    view_symbol *v = xmalloc(sizeof *v);
    char name[SYM_NAME_MAX];
    for (size_t i = 0; engine_symbol_at(e, i, name, sizeof name); i++)
        if (engine_view_symbol(e, name, v) == 0)
            json_object_set_new(syms, name, symbol_status(v));
    free(v);
    json_object_set_new(o, "symbols", syms);
    json_object_set_new(o, "ws", ws_json(&g));
    json_object_set_new(o, "rest", rest_json(&g));
    json_object_set_new(o, "clock",
                        json_pack("{s:o,s:o,s:b}", "offset_ms", ms_json(g.clock_offset_ns),
                                  "rtt_ms", ms_json(g.clock_rtt_ns), "skewed", g.clock_skewed));
    json_object_set_new(o, "ring_drops", json_integer((json_int_t)g.ring_drops));
    json_object_set_new(o, "unroutable", json_integer((json_int_t)g.unroutable));
    json_object_set_new(o, "mem", mem_json(&g));
    return o;
}
