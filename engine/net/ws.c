/*
 * ws: the WebSocket client for Binance market streams (see ws.h).
 *
 * Layout: the owner thread creates the lws context and starts one service thread; everything
 * else (connections, timers, delivery) runs on that thread. Other threads only queue commands
 * (subscribe/unsubscribe) and wake it with lws_cancel_service(), or read stats and stream status
 * under `lock`. One lws_sul "tick" every TICK_MS drives all deadlines: reconnect backoff, connect
 * timeout, pings and pong timeout, paced control frames, staleness, rotation and overlap limits.
 */
#include "net/ws.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clk.h"
#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define MIB                   (1024u * 1024u)
#define URL_STREAMS_MAX       1500 /* bytes of stream names carried by the connect URL */
#define FRAME_STREAMS_MAX     100  /* streams per SUBSCRIBE/UNSUBSCRIBE frame */
#define TICK_MS               25
#define RATE_WINDOW_NS        (1100 * CLK_NS_PER_MS) /* 1 s plus margin for network jitter */
#define RING_N                64 /* recent hashes of the old connection, per stream */
#define HELD_MAX_MSGS         4096
#define HELD_MAX_BYTES        (16u * MIB)
#define EMPTY_CLOSE_NS        CLK_NS_PER_S /* an empty connection lingers this long (symbol switch) */
#define RX_CHUNK              65536
#define RX_KEEP_MAX           MIB /* larger reassembly buffers are released after use */
#define OVERSIZED_KILL_FACTOR 4 /* an unending message past 4 x max_message drops the connection */
#define REASON_MAX            192

/* ---------------------------------------------------------------------------------------------
 * Routes and intervals
 */

/* The part of a stream name after the symbol: "depth@100ms" for "btcusdt@depth@100ms",
 * "bookTicker" for "!bookTicker". */
static const char *stream_kind(const char *s)
{
    if (s[0] == '!')
        return s + 1;
    const char *at = strchr(s, '@');
    return at ? at + 1 : s;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

ws_route ws_route_of(const char *stream)
{
    if (!stream)
        return WS_ROUTE_MARKET;
    const char *k = stream_kind(stream);
    /* trade: /public per ccxt's maintainers and a live report (binance-protocol.md §1.2) */
    if (starts(k, "depth") || starts(k, "rpiDepth") || starts(k, "bookTicker") ||
        strcmp(k, "trade") == 0)
        return WS_ROUTE_PUBLIC;
    return WS_ROUTE_MARKET;
}

const char *ws_route_name(ws_route r)
{
    return r == WS_ROUTE_PUBLIC ? "public" : r == WS_ROUTE_MARKET ? "market" : "?";
}

static int64_t depth_interval_ms(const char *k)
{
    if (strstr(k, "@100ms"))
        return 100;
    if (strstr(k, "@500ms"))
        return 500;
    if (strstr(k, "@0ms"))
        return 50;
    return 250;
}

int64_t ws_expected_interval_ms(const char *stream)
{
    if (!stream)
        return 0;
    bool all = stream[0] == '!';
    const char *k = stream_kind(stream);
    if (starts(k, "depth"))
        return depth_interval_ms(k);
    if (starts(k, "rpiDepth"))
        return 500;
    if (starts(k, "bookTicker"))
        return all ? 5000 : 0;
    if (starts(k, "aggTrade"))
        return 100;
    if (starts(k, "markPrice"))
        return strstr(k, "@1s") ? 1000 : 3000;
    if (starts(k, "kline_") || starts(k, "continuousKline_"))
        return 250;
    if (starts(k, "miniTicker") || starts(k, "ticker"))
        return all ? 1000 : 2000;
    if (starts(k, "compositeIndex") || starts(k, "assetIndex"))
        return 1000;
    return 0; /* trade, forceOrder, contractInfo, unknown: irregular */
}

/* Streams that only speak when something happens (liquidations, listings): silence is normal. */
static bool event_only(const char *stream)
{
    const char *k = stream_kind(stream);
    return starts(k, "forceOrder") || starts(k, "contractInfo");
}

/* ---------------------------------------------------------------------------------------------
 * Types
 */

typedef struct sname {
    char s[WS_STREAM_MAX];
} sname;

typedef struct namevec {
    sname *v;
    size_t n, cap;
} namevec;

typedef struct held_msg {
    uint64_t hash;
    char *data;
    size_t len;
    int64_t real, mono;
} held_msg;

/* Per-stream state while a rotation overlaps two connections (see ws.h, Rotation). */
typedef struct overlap {
    uint64_t ring[RING_N]; /* hashes of the old connection's latest deliveries */
    unsigned ring_n, ring_head;
    held_msg *held; /* the new connection's messages, not yet delivered */
    size_t held_n, held_cap, held_bytes;
} overlap;

struct conn;

typedef struct wstream {
    char name[WS_STREAM_MAX];
    ws_route route;
    int64_t stale_ns;  /* 0: never stale */
    struct conn *conn; /* the connection whose messages are delivered */
    struct conn *next; /* during rotation: the replacement, until convergence */
    overlap *ov;       /* while converging, and just after the switch (dedup) */
    bool subscribed, stale;
    uint64_t messages;
    int64_t last_msg_mono, watch_since;
} wstream;

typedef enum cstate { CS_IDLE, CS_WAIT, CS_CONNECTING, CS_UP, CS_CLOSING } cstate;

typedef struct ctl_frame {
    uint64_t id;
    bool sub;
    namevec names;
} ctl_frame;

typedef struct conn {
    ws_client *c;
    unsigned serial;
    ws_route route;
    cstate state;
    bool dead; /* freed at the next sweep */
    struct lws *wsi;
    char path[URL_STREAMS_MAX + 256];
    bool resumed, announced, close_requested, ping_due, ever_up;
    char reason[REASON_MAX];
    unsigned attempt;
    int64_t retry_at, connect_deadline, up_since, announce_deadline, empty_since;
    int64_t next_ping, pong_deadline;
    uint64_t ping_seq;
    int64_t *ctl_sent; /* ring of the last control_per_s send times */
    unsigned ctl_head;
    namevec to_sub, to_unsub;
    ctl_frame *out;
    size_t out_n, out_cap;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_oversized;
    bool rx_refused;                /* a binary message arrived: the connection is being dropped */
    size_t rx_discarded;            /* bytes of the oversized message thrown away so far */
    struct conn *rot_new, *rot_old; /* rotation pair */
    int64_t rotate_at, overlap_deadline;
    size_t rot_pending; /* streams still converging onto this (new) connection */
} conn;

typedef struct cmd {
    struct cmd *next;
    bool sub;
    size_t n;
    sname names[];
} cmd;

struct ws_client {
    ws_config cfg;
    char *base_url, *ca_file, *host, *base_path, *host_hdr;
    int port;
    bool tls;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    struct lws_extension exts[2];
    pthread_t thread;
    atomic_bool stop;
    bool destroying;
    lws_sorted_usec_list_t tick;

    pthread_mutex_t lock; /* guards: cmds, closed, stats, stream table contents */
    cmd *cmd_head, *cmd_tail;
    bool closed;
    ws_stats st;

    wstream **streams; /* service thread writes (under lock), any thread reads under lock */
    size_t nstreams, streams_cap;
    int32_t *slots; /* open-addressing index name -> streams[] */
    size_t nslots;

    conn **conns; /* service thread only */
    size_t nconns, conns_cap;
    unsigned next_serial;
    uint64_t next_id, rng;
};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 */

static void namevec_push(namevec *v, const char *s)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->v = xreallocarray(v->v, v->cap, sizeof *v->v);
    }
    snprintf(v->v[v->n++].s, WS_STREAM_MAX, "%s", s);
}

static bool namevec_has(const namevec *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].s, s) == 0)
            return true;
    return false;
}

static bool namevec_remove(namevec *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->v[i].s, s) == 0) {
            memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof *v->v);
            v->n--;
            return true;
        }
    }
    return false;
}

static void namevec_free(namevec *v)
{
    free(v->v);
    *v = (namevec){ 0 };
}

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t rng_next(ws_client *c)
{
    uint64_t x = c->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->rng = x;
    return x;
}

static int64_t ms_ns(int64_t ms)
{
    return ms * CLK_NS_PER_MS;
}

static void send_event(ws_client *c, const ws_event *ev)
{
    if (c->cfg.on_event && !c->destroying)
        c->cfg.on_event(c->cfg.ctx, ev);
}

static void emit(ws_client *c, ws_event_kind kind, const conn *k, bool resumed, const char *stream,
                 const char *detail)
{
    send_event(c, &(ws_event){ .kind = kind,
                               .route = k ? k->route : WS_ROUTE_PUBLIC,
                               .conn = k ? k->serial : 0,
                               .resumed = resumed,
                               .stream = stream,
                               .detail = detail });
}

static void emit_rotated(ws_client *c, const conn *now, const conn *old, const char *detail)
{
    send_event(c, &(ws_event){ .kind = WS_EV_ROTATED,
                               .route = now->route,
                               .conn = now->serial,
                               .replaced = old->serial,
                               .detail = detail });
}

#define STAT_ADD(c, field, v)                                                                      \
    do {                                                                                           \
        pthread_mutex_lock(&(c)->lock);                                                            \
        (c)->st.field += (v);                                                                      \
        pthread_mutex_unlock(&(c)->lock);                                                          \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Stream table (mutated by the service thread under lock)
 */

static void index_rebuild(ws_client *c)
{
    size_t want = 16;
    while (want < c->nstreams * 2 + 1)
        want *= 2;
    if (want != c->nslots) {
        free(c->slots);
        c->slots = xmalloc(want * sizeof *c->slots);
        c->nslots = want;
    }
    for (size_t i = 0; i < c->nslots; i++)
        c->slots[i] = -1;
    for (size_t i = 0; i < c->nstreams; i++) {
        const char *nm = c->streams[i]->name;
        size_t j = fnv1a(nm, strlen(nm)) & (c->nslots - 1);
        while (c->slots[j] >= 0)
            j = (j + 1) & (c->nslots - 1);
        c->slots[j] = (int32_t)i;
    }
}

static wstream *stream_find(ws_client *c, const char *nm, size_t len)
{
    if (!c->nslots)
        return NULL;
    size_t j = fnv1a(nm, len) & (c->nslots - 1);
    for (; c->slots[j] >= 0; j = (j + 1) & (c->nslots - 1)) {
        wstream *s = c->streams[c->slots[j]];
        if (strncmp(s->name, nm, len) == 0 && s->name[len] == '\0')
            return s;
    }
    return NULL;
}

static void overlap_free(overlap *ov)
{
    if (!ov)
        return;
    for (size_t i = 0; i < ov->held_n; i++)
        free(ov->held[i].data);
    memacct_add(MEM_OTHER, -(int64_t)ov->held_bytes);
    free(ov->held);
    free(ov);
}

static size_t conn_stream_count(ws_client *c, const conn *k)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nstreams; i++)
        n += c->streams[i]->conn == k || c->streams[i]->next == k;
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Connections: creation, freeing, backoff
 */

static conn *conn_new(ws_client *c, ws_route route)
{
    conn *k = xcalloc(1, sizeof *k);
    k->c = c;
    k->serial = ++c->next_serial;
    k->route = route;
    k->state = CS_IDLE;
    k->ctl_sent = xcalloc(c->cfg.control_per_s, sizeof *k->ctl_sent);
    if (c->nconns == c->conns_cap) {
        c->conns_cap = c->conns_cap ? c->conns_cap * 2 : 8;
        c->conns = xreallocarray(c->conns, c->conns_cap, sizeof *c->conns);
    }
    c->conns[c->nconns++] = k;
    return k;
}

static void conn_clear_control(conn *k)
{
    k->to_sub.n = k->to_unsub.n = 0;
    for (size_t i = 0; i < k->out_n; i++)
        namevec_free(&k->out[i].names);
    k->out_n = 0;
}

static void conn_rx_reset(conn *k, bool release)
{
    k->rx_len = 0;
    k->rx_oversized = false;
    k->rx_refused = false;
    k->rx_discarded = 0;
    if (release && k->rx) {
        memacct_add(MEM_OTHER, -(int64_t)k->rx_cap);
        free(k->rx);
        k->rx = NULL;
        k->rx_cap = 0;
    }
}

static void set_state(conn *k, cstate s);

static void conn_release(conn *k)
{
    conn_clear_control(k);
    namevec_free(&k->to_sub);
    namevec_free(&k->to_unsub);
    free(k->out);
    conn_rx_reset(k, true);
    free(k->ctl_sent);
    free(k);
}

/* Marks a connection dead; the memory goes at the next sweep so callers up the stack that still
 * hold the pointer stay safe. */
static void conn_bury(conn *k)
{
    ws_client *c = k->c;
    if (k->wsi) { /* still connecting or up: end it without telling anyone */
        lws_set_opaque_user_data(k->wsi, NULL);
        lws_set_timeout(k->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    k->wsi = NULL;
    if (k->state == CS_UP)
        set_state(k, CS_IDLE);
    k->dead = true;
    if (k->rot_old)
        k->rot_old->rot_new = NULL;
    if (k->rot_new)
        k->rot_new->rot_old = NULL;
    k->rot_old = k->rot_new = NULL;
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->next == k) {
            s->next = NULL;
            overlap_free(s->ov);
            s->ov = NULL;
        }
        if (s->conn == k)
            s->conn = NULL;
    }
}

static void conns_sweep(ws_client *c)
{
    size_t w = 0;
    for (size_t i = 0; i < c->nconns; i++) {
        if (c->conns[i]->dead)
            conn_release(c->conns[i]);
        else
            c->conns[w++] = c->conns[i];
    }
    c->nconns = w;
}

/* Exponential backoff with full jitter: uniform in [min, min(max, min * 2^attempt)]. */
static int64_t backoff_ns(ws_client *c, conn *k)
{
    int64_t lo = c->cfg.backoff_min_ms, hi = lo;
    for (unsigned i = 0; i < k->attempt && hi < c->cfg.backoff_max_ms; i++)
        hi *= 2;
    if (hi > c->cfg.backoff_max_ms)
        hi = c->cfg.backoff_max_ms;
    if (k->attempt < 64)
        k->attempt++;
    return ms_ns(lo + (int64_t)(rng_next(c) % (uint64_t)(hi - lo + 1)));
}

static void set_state(conn *k, cstate s)
{
    ws_client *c = k->c;
    if ((k->state == CS_UP) != (s == CS_UP)) {
        pthread_mutex_lock(&c->lock);
        if (s == CS_UP)
            c->st.connections_up++;
        else
            c->st.connections_up--;
        pthread_mutex_unlock(&c->lock);
    }
    k->state = s;
}

/* Ends a connection asynchronously; the close callback then decides what follows. */
static void conn_kill(conn *k, const char *reason)
{
    snprintf(k->reason, sizeof k->reason, "%s", reason);
    if (k->wsi)
        lws_set_timeout(k->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* A clean close (rotation done, no streams left): close frame, then no reconnect. */
static void conn_close_clean(conn *k)
{
    if (k->state == CS_UP && k->wsi) {
        set_state(k, CS_CLOSING);
        k->close_requested = true;
        lws_set_timeout(k->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
        lws_callback_on_writable(k->wsi);
        return;
    }
    if (k->wsi) {
        set_state(k, CS_CLOSING);
        conn_kill(k, "closed");
        return;
    }
    set_state(k, CS_IDLE);
    conn_bury(k);
}

/* ---------------------------------------------------------------------------------------------
 * Delivery and rotation convergence
 */

static void deliver(conn *k, wstream *s, const char *d, size_t n, int64_t real, int64_t mono)
{
    ws_client *c = k->c;
    bool live = false;
    pthread_mutex_lock(&c->lock);
    c->st.messages++;
    c->st.bytes += n;
    if (s) {
        s->messages++;
        s->last_msg_mono = mono;
        if (s->stale) {
            s->stale = false;
            c->st.stale_streams--;
            live = true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (live)
        emit(c, WS_EV_STREAM_LIVE, k, false, s->name, "the stream delivers again");
    ws_msg_info info = { .stream = s ? s->name : "",
                         .recv_real_ns = real,
                         .recv_mono_ns = mono,
                         .conn = k->serial,
                         .route = k->route };
    c->cfg.on_msg(c->cfg.ctx, &info, d, n);
}

static bool ring_has(const overlap *ov, uint64_t h)
{
    for (unsigned i = 0; i < ov->ring_n; i++)
        if (ov->ring[i] == h)
            return true;
    return false;
}

static void ring_push(overlap *ov, uint64_t h)
{
    ov->ring[ov->ring_head] = h;
    ov->ring_head = (ov->ring_head + 1) % RING_N;
    if (ov->ring_n < RING_N)
        ov->ring_n++;
}

static void rotation_finish(conn *b, bool old_lost);

/* Moves a stream to its new connection: held messages [0, drop) are duplicates of what the old
 * connection delivered; the rest are released unless the old one already delivered them. The
 * ring stays to suppress the new connection's copies of messages the old one was ahead with. */
static void stream_switch(wstream *s, size_t drop)
{
    conn *b = s->next;
    ws_client *c = b->c;
    overlap *ov = s->ov;
    uint64_t dups = 0;
    for (size_t i = 0; i < ov->held_n; i++) {
        held_msg *m = &ov->held[i];
        if (i < drop || ring_has(ov, m->hash))
            dups++;
        else
            deliver(b, s, m->data, m->len, m->real, m->mono);
        free(m->data);
    }
    memacct_add(MEM_OTHER, -(int64_t)ov->held_bytes);
    ov->held_n = ov->held_bytes = 0;
    if (dups)
        STAT_ADD(c, duplicates_suppressed, dups);
    pthread_mutex_lock(&c->lock);
    s->conn = b;
    s->next = NULL;
    s->subscribed = b->state == CS_UP;
    pthread_mutex_unlock(&c->lock);
    if (ov->ring_n == 0) {
        overlap_free(ov);
        s->ov = NULL;
    }
    if (b->rot_pending)
        b->rot_pending--;
}

/* Every stream of a rotation has converged: finish it. */
static void rotation_check(conn *b)
{
    if (b && !b->dead && b->rot_old && b->rot_pending == 0 && b->state == CS_UP)
        rotation_finish(b, false);
}

static void from_old(conn *a, wstream *s, const char *d, size_t n, int64_t real, int64_t mono)
{
    overlap *ov = s->ov;
    uint64_t h = fnv1a(d, n);
    deliver(a, s, d, n, real, mono);
    for (size_t i = 0; i < ov->held_n; i++) {
        if (ov->held[i].hash == h) {
            stream_switch(s, i + 1);
            return;
        }
    }
    ring_push(ov, h);
}

static void held_push(wstream *s, uint64_t h, const char *d, size_t n, int64_t real, int64_t mono)
{
    overlap *ov = s->ov;
    if (ov->held_n == ov->held_cap) {
        ov->held_cap = ov->held_cap ? ov->held_cap * 2 : 16;
        ov->held = xreallocarray(ov->held, ov->held_cap, sizeof *ov->held);
    }
    char *copy = xmalloc(n ? n : 1);
    memcpy(copy, d, n);
    ov->held[ov->held_n++] = (held_msg){ h, copy, n, real, mono };
    ov->held_bytes += n;
    memacct_add(MEM_OTHER, (int64_t)n);
}

static void from_new(conn *b, wstream *s, const char *d, size_t n, int64_t real, int64_t mono)
{
    overlap *ov = s->ov;
    uint64_t h = fnv1a(d, n);
    if (ring_has(ov, h)) { /* the old connection is ahead: it delivered this one already */
        STAT_ADD(b->c, duplicates_suppressed, 1);
        stream_switch(s, ov->held_n);
        return;
    }
    held_push(s, h, d, n, real, mono);
    if (ov->held_n > HELD_MAX_MSGS || ov->held_bytes > HELD_MAX_BYTES) {
        STAT_ADD(b->c, rotation_forced, 1);
        stream_switch(s, 0);
    }
}

/* After a switch: the new connection's copies of what the old one already delivered. */
static bool dedup_after_switch(ws_client *c, wstream *s, const char *d, size_t n)
{
    if (ring_has(s->ov, fnv1a(d, n))) {
        STAT_ADD(c, duplicates_suppressed, 1);
        return true;
    }
    overlap_free(s->ov);
    s->ov = NULL;
    return false;
}

static void route_stream_msg(conn *k, wstream *s, const char *d, size_t n, int64_t real,
                             int64_t mono)
{
    ws_client *c = k->c;
    if (s->next == k) {
        from_new(k, s, d, n, real, mono);
        rotation_check(k);
        return;
    }
    if (s->conn != k) { /* the old connection after the switch */
        STAT_ADD(c, duplicates_suppressed, 1);
        return;
    }
    if (s->next) {
        conn *b = s->next;
        from_old(k, s, d, n, real, mono);
        rotation_check(b);
        return;
    }
    if (s->ov && dedup_after_switch(c, s, d, n))
        return;
    deliver(k, s, d, n, real, mono);
}

/* ---------------------------------------------------------------------------------------------
 * Control replies: {"result":null,"id":N}, {"error":{"code":..,"msg":..},"id":N}, {"code":..,"msg":..}
 */

static bool is_control_reply(const char *d, size_t n)
{
    static const char *const heads[] = { "{\"result\":", "{\"error\":", "{\"code\":", "{\"id\":" };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        size_t hl = strlen(heads[i]);
        if (n >= hl && memcmp(d, heads[i], hl) == 0)
            return true;
    }
    return false;
}

static const char *find_key(const char *d, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n; i++)
        if (memcmp(d + i, key, kl) == 0)
            return d + i + kl;
    return NULL;
}

/* The id of a reply, or -1 when absent or null. */
static int64_t reply_id(const char *d, size_t n)
{
    const char *p = find_key(d, n, "\"id\":"), *end = d + n;
    if (!p || p >= end || *p < '0' || *p > '9')
        return -1;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9' && v < INT64_MAX / 10)
        v = v * 10 + (*p++ - '0');
    return v;
}

static void reply_msg(const char *d, size_t n, char *out, size_t cap)
{
    const char *p = find_key(d, n, "\"msg\":\""), *end = d + n;
    size_t w = 0;
    while (p && p < end && *p != '"' && w + 1 < cap)
        out[w++] = *p++;
    out[w] = '\0';
    if (!w)
        snprintf(out, cap, "%.*s", (int)(n < 120 ? n : 120), d);
}

static ctl_frame *take_frame(conn *k, int64_t id, ctl_frame *out)
{
    for (size_t i = 0; i < k->out_n; i++) {
        if ((int64_t)k->out[i].id == id) {
            *out = k->out[i];
            memmove(&k->out[i], &k->out[i + 1], (k->out_n - i - 1) * sizeof *k->out);
            k->out_n--;
            return out;
        }
    }
    return NULL;
}

static void maybe_announce(conn *k, bool timed_out);

static void mark_subscribed(conn *k, const namevec *names)
{
    ws_client *c = k->c;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < names->n; i++) {
        wstream *s = stream_find(c, names->v[i].s, strlen(names->v[i].s));
        if (s && s->conn == k)
            s->subscribed = true;
    }
    pthread_mutex_unlock(&c->lock);
}

static void handle_reply(conn *k, const char *d, size_t n)
{
    ws_client *c = k->c;
    ctl_frame f, *fp = take_frame(k, reply_id(d, n), &f);
    bool error = find_key(d, n, "\"error\":") || find_key(d, n, "\"code\":");
    if (error) {
        char msg[160], detail[REASON_MAX + 64];
        reply_msg(d, n, msg, sizeof msg);
        snprintf(detail, sizeof detail, "%s (id %lld) refused: %s",
                 fp ? (fp->sub ? "SUBSCRIBE" : "UNSUBSCRIBE") : "control frame",
                 (long long)reply_id(d, n), msg);
        STAT_ADD(c, error_replies, 1);
        emit(c, WS_EV_ERROR_REPLY, k, false, NULL, detail);
    } else if (fp && fp->sub) {
        mark_subscribed(k, &fp->names);
    }
    if (fp)
        namevec_free(&fp->names);
    maybe_announce(k, false);
}

/* ---------------------------------------------------------------------------------------------
 * Receive path
 */

/* The stream name at the start of the combined wrapper {"stream":"<name>","data":...}. */
static bool wrapper_stream(const char *d, size_t n, const char **name, size_t *len)
{
    static const char pre[] = "{\"stream\":\"";
    size_t pl = sizeof pre - 1;
    if (n < pl || memcmp(d, pre, pl) != 0)
        return false;
    size_t room = n - pl < WS_STREAM_MAX ? n - pl : WS_STREAM_MAX;
    const char *q = memchr(d + pl, '"', room);
    if (!q)
        return false;
    *name = d + pl;
    *len = (size_t)(q - (d + pl));
    return true;
}

static void on_message(conn *k, const char *d, size_t n, int64_t real, int64_t mono)
{
    ws_client *c = k->c;
    const char *nm;
    size_t nl;
    if (is_control_reply(d, n)) {
        handle_reply(k, d, n);
        return;
    }
    if (!wrapper_stream(d, n, &nm, &nl)) {
        deliver(k, NULL, d, n, real, mono);
        return;
    }
    wstream *s = stream_find(c, nm, nl);
    if (!s) { /* unsubscribed meanwhile, or never asked for */
        STAT_ADD(c, unknown_stream, 1);
        return;
    }
    route_stream_msg(k, s, d, n, real, mono);
}

/* A message is counted and reported as oversized as soon as it passes max_message, not at its
 * final fragment: a peer that never sends one (fragments forever, or a frame that claims a huge
 * length) would otherwise go unnoticed while its connection delivers nothing. Once a message has
 * run OVERSIZED_KILL_FACTOR times past the bound, the connection is dropped and re-opened. */
static void rx_overflow(conn *k, size_t len)
{
    ws_client *c = k->c;
    if (!k->rx_oversized) {
        char detail[128];
        snprintf(detail, sizeof detail, "a message above %zu bytes was dropped",
                 c->cfg.max_message);
        k->rx_oversized = true;
        k->rx_discarded = k->rx_len;
        k->rx_len = 0;
        STAT_ADD(c, oversized, 1);
        emit(c, WS_EV_OVERSIZED, k, false, NULL, detail);
    }
    size_t before = k->rx_discarded;
    k->rx_discarded += len;
    size_t limit = c->cfg.max_message * OVERSIZED_KILL_FACTOR;
    if (before <= limit && k->rx_discarded > limit) {
        char why[96];
        snprintf(why, sizeof why, "a message did not end within %zu bytes", limit);
        conn_kill(k, why);
    }
}

static void rx_append(conn *k, const char *in, size_t len)
{
    ws_client *c = k->c;
    if (k->rx_oversized || k->rx_len + len > c->cfg.max_message) {
        rx_overflow(k, len);
        return;
    }
    if (k->rx_len + len > k->rx_cap) {
        size_t want = k->rx_cap ? k->rx_cap : RX_CHUNK;
        while (want < k->rx_len + len)
            want *= 2;
        if (want > c->cfg.max_message)
            want = c->cfg.max_message;
        k->rx = xrealloc(k->rx, want);
        memacct_add(MEM_OTHER, (int64_t)want - (int64_t)k->rx_cap);
        k->rx_cap = want;
    }
    memcpy(k->rx + k->rx_len, in, len);
    k->rx_len += len;
}

/* Market streams are text JSON. A binary message means the peer is not the exchange we think (a
 * proxy, a wrong URL, a protocol change): it is never decoded, and the connection is dropped with a
 * sentence and opened again, as for any other broken connection. */
static void refuse_binary(conn *k, size_t len)
{
    if (k->rx_refused)
        return;
    k->rx_refused = true;
    STAT_ADD(k->c, binary, 1);
    char why[128];
    snprintf(why, sizeof why,
             "the server sent a binary message (%zu bytes in its first frame): market streams are "
             "text JSON",
             len);
    conn_kill(k, why);
}

static void on_receive(conn *k, struct lws *wsi, const char *in, size_t len)
{
    ws_client *c = k->c;
    if (k->rx_refused || lws_frame_is_binary(wsi)) {
        refuse_binary(k, len);
        return;
    }
    bool final = lws_is_final_fragment(wsi);
    if (final && k->rx_len == 0 && !k->rx_oversized) { /* whole message in one piece */
        on_message(k, in, len, clk_real_ns(), clk_mono_ns());
        return;
    }
    rx_append(k, in, len);
    if (!final) {
        if (lws_remaining_packet_payload(wsi) == 0)
            STAT_ADD(c, fragments, 1);
        return;
    }
    int64_t real = clk_real_ns(), mono = clk_mono_ns();
    if (!k->rx_oversized) /* an oversized one was reported when it passed the bound */
        on_message(k, k->rx, k->rx_len, real, mono);
    conn_rx_reset(k, k->rx_cap > RX_KEEP_MAX);
}

/* ---------------------------------------------------------------------------------------------
 * Connect, establish, lose
 */

/* Puts the first streams (up to URL_STREAMS_MAX bytes) of a connection into its combined URL;
 * the rest are queued for SUBSCRIBE frames after the handshake. */
static void build_path(conn *k)
{
    ws_client *c = k->c;
    int w = snprintf(k->path, sizeof k->path, "%s/%s/stream?streams=", c->base_path,
                     ws_route_name(k->route));
    size_t used = 0, in_url = 0;
    k->to_sub.n = 0;
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->conn != k && s->next != k)
            continue;
        size_t l = strlen(s->name);
        if (used + l + 1 <= URL_STREAMS_MAX) {
            w += snprintf(k->path + w, sizeof k->path - (size_t)w, "%s%s", in_url ? "/" : "",
                          s->name);
            used += l + 1;
            in_url++;
        } else {
            namevec_push(&k->to_sub, s->name);
        }
    }
}

static void conn_connect(conn *k)
{
    ws_client *c = k->c;
    conn_clear_control(k);
    build_path(k);
    struct lws_client_connect_info i = { 0 };
    i.context = c->ctx;
    i.address = c->host;
    i.port = c->port;
    i.path = k->path;
    i.host = c->host_hdr;
    i.origin = c->host_hdr;
    i.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
    i.local_protocol_name = c->protocols[0].name;
    i.ietf_version_or_minus_one = -1;
    i.pwsi = &k->wsi;
    i.opaque_user_data = k;
    k->reason[0] = '\0';
    k->connect_deadline = clk_mono_ns() + ms_ns(c->cfg.connect_timeout_ms);
    set_state(k, CS_CONNECTING);
    if (!lws_client_connect_via_info(&i) && k->state == CS_CONNECTING && !k->dead) {
        /* failed before any callback could report it */
        k->wsi = NULL;
        set_state(k, CS_WAIT);
        k->retry_at = clk_mono_ns() + backoff_ns(c, k);
    }
}

static void on_established(conn *k)
{
    ws_client *c = k->c;
    int64_t now = clk_mono_ns();
    set_state(k, CS_UP);
    k->ever_up = true;
    k->up_since = now;
    k->next_ping = now + ms_ns(c->cfg.ping_interval_ms);
    k->pong_deadline = 0;
    k->rotate_at = now + ms_ns(c->cfg.max_lifetime_ms - c->cfg.rotate_before_ms);
    k->announced = false;
    k->announce_deadline = now + ms_ns(c->cfg.connect_timeout_ms);
    pthread_mutex_lock(&c->lock);
    c->st.connects++;
    if (k->resumed)
        c->st.reconnects++;
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->conn != k)
            continue;
        s->watch_since = now;
        if (!namevec_has(&k->to_sub, s->name)) /* in the URL: subscribed by the handshake */
            s->subscribed = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (k->rot_old) {
        k->overlap_deadline = now + ms_ns(c->cfg.rotate_overlap_max_ms);
        /* streams the old connection never had acknowledged have nothing to converge with */
        for (size_t i = 0; i < c->nstreams && k->rot_old; i++) {
            wstream *s = c->streams[i];
            if (s->next == k && !s->subscribed)
                stream_switch(s, 0);
        }
        rotation_check(k);
    }
    maybe_announce(k, false);
    if (k->to_sub.n || k->to_unsub.n)
        lws_callback_on_writable(k->wsi);
}

static void maybe_announce(conn *k, bool timed_out)
{
    if (k->announced || k->state != CS_UP)
        return;
    bool pending = k->to_sub.n > 0;
    for (size_t i = 0; i < k->out_n && !pending; i++)
        pending = k->out[i].sub;
    if (pending && !timed_out)
        return;
    k->announced = true;
    bool resumed = k->resumed;
    k->resumed = false;
    emit(k->c, WS_EV_CONNECTED, k, resumed, NULL,
         pending ? "connected; some subscriptions are not acknowledged yet" : "connected");
}

/* The replacement failed: the old connection carries on; try again after a backoff. */
static void rotation_abort(conn *b)
{
    ws_client *c = b->c;
    conn *a = b->rot_old;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->conn == b) { /* already switched: back to the old connection, still subscribed */
            s->conn = a;
            overlap_free(s->ov);
            s->ov = NULL;
        }
    }
    pthread_mutex_unlock(&c->lock);
    a->rotate_at = clk_mono_ns() + backoff_ns(c, a);
    conn_bury(b);
}

/* Rotation ends: the new connection carries every stream, the old one is closed (or gone). */
static void rotation_finish(conn *b, bool old_lost)
{
    ws_client *c = b->c;
    conn *a = b->rot_old;
    for (size_t i = 0; i < c->nstreams; i++)
        if (c->streams[i]->next == b)
            stream_switch(c->streams[i], 0);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nstreams; i++)
        if (c->streams[i]->conn == a) /* subscribed to the old one only: now the new one */
            c->streams[i]->conn = b;
    c->st.rotations++;
    pthread_mutex_unlock(&c->lock);
    b->rot_old = NULL;
    a->rot_new = NULL;
    b->overlap_deadline = 0;
    emit_rotated(c, b, a,
                 old_lost ? "the old connection was lost during the overlap; the replacement "
                            "took over"
                          : "the replacement took over");
    if (!old_lost)
        conn_close_clean(a);
}

static void conn_lost(conn *k, struct lws *wsi, const char *why)
{
    ws_client *c = k->c;
    if (wsi)
        lws_set_opaque_user_data(wsi, NULL);
    k->wsi = NULL;
    bool was_up = k->state == CS_UP;
    cstate prev = k->state;
    if (!k->reason[0])
        snprintf(k->reason, sizeof k->reason, "%s", why && *why ? why : "connection closed");
    conn_clear_control(k);
    conn_rx_reset(k, true);
    k->pong_deadline = 0;
    k->ping_due = k->close_requested = false;
    set_state(k, CS_WAIT);
    if (c->destroying)
        return;
    if (prev == CS_CLOSING) {
        conn_bury(k);
        return;
    }
    if (k->rot_old) { /* the replacement failed */
        rotation_abort(k);
        return;
    }
    if (k->rot_new && k->rot_new->state == CS_UP) { /* old lost mid-overlap: new takes over */
        conn *b = k->rot_new;
        rotation_finish(b, true);
        conn_bury(k);
        return;
    }
    if (k->rot_new)
        conn_bury(k->rot_new); /* not up yet: reconnect the plain way */
    char detail[REASON_MAX + 96];
    if (was_up)
        snprintf(detail, sizeof detail, "connection %u to /%s lost: %s", k->serial,
                 ws_route_name(k->route), k->reason);
    else
        snprintf(detail, sizeof detail, "connect to %s:%d (/%s) failed: %s", c->host, c->port,
                 ws_route_name(k->route), k->reason);
    int64_t now = clk_mono_ns();
    if (was_up && now - k->up_since >= ms_ns(c->cfg.backoff_max_ms))
        k->attempt = 0;
    pthread_mutex_lock(&c->lock);
    c->st.disconnects++;
    for (size_t i = 0; i < c->nstreams; i++)
        if (c->streams[i]->conn == k)
            c->streams[i]->subscribed = false;
    pthread_mutex_unlock(&c->lock);
    k->resumed = k->resumed || was_up || k->ever_up;
    k->retry_at = now + backoff_ns(c, k);
    emit(c, WS_EV_DISCONNECTED, k, false, NULL, detail);
}

/* ---------------------------------------------------------------------------------------------
 * Writing: close, ping, control frames
 */

static bool rate_allows(conn *k, int64_t now)
{
    unsigned n = k->c->cfg.control_per_s;
    /* the oldest of the last n sends must have left the window */
    int64_t oldest = k->ctl_sent[k->ctl_head];
    return oldest == 0 || now - oldest >= RATE_WINDOW_NS || n == 0;
}

static bool control_pending(const conn *k)
{
    return k->to_sub.n || k->to_unsub.n;
}

static int write_control(conn *k, struct lws *wsi, int64_t now)
{
    ws_client *c = k->c;
    bool sub = k->to_unsub.n == 0;
    namevec *src = sub ? &k->to_sub : &k->to_unsub;
    size_t n = src->n < FRAME_STREAMS_MAX ? src->n : FRAME_STREAMS_MAX;
    size_t cap = LWS_PRE + 64 + n * (WS_STREAM_MAX + 3);
    unsigned char *buf = xmalloc(cap);
    char *p = (char *)buf + LWS_PRE;
    size_t room = cap - LWS_PRE, w = 0;
    uint64_t id = ++c->next_id;
    ctl_frame f = { .id = id, .sub = sub };
    w += (size_t)snprintf(p + w, room - w, "{\"method\":\"%s\",\"params\":[",
                          sub ? "SUBSCRIBE" : "UNSUBSCRIBE");
    for (size_t i = 0; i < n; i++) {
        w += (size_t)snprintf(p + w, room - w, "%s\"%s\"", i ? "," : "", src->v[i].s);
        namevec_push(&f.names, src->v[i].s);
    }
    w += (size_t)snprintf(p + w, room - w, "],\"id\":%llu}", (unsigned long long)id);
    memmove(src->v, src->v + n, (src->n - n) * sizeof *src->v);
    src->n -= n;
    /* Counted before the write: once lws_write returns, the server may already have it, and
     * a reader comparing our count with the server's must never see ours behind. */
    STAT_ADD(c, control_frames, 1);
    int r = lws_write(wsi, (unsigned char *)p, w, LWS_WRITE_TEXT);
    free(buf);
    if (r < (int)w) {
        namevec_free(&f.names);
        return -1; /* the connection is lost; its streams are subscribed again on reconnect */
    }
    if (k->out_n == k->out_cap) {
        k->out_cap = k->out_cap ? k->out_cap * 2 : 8;
        k->out = xreallocarray(k->out, k->out_cap, sizeof *k->out);
    }
    k->out[k->out_n++] = f;
    k->ctl_sent[k->ctl_head] = now;
    k->ctl_head = (k->ctl_head + 1) % c->cfg.control_per_s;
    return 0;
}

static int write_ping(conn *k, struct lws *wsi, int64_t now)
{
    unsigned char buf[LWS_PRE + 8];
    uint64_t seq = ++k->ping_seq;
    for (int i = 0; i < 8; i++)
        buf[LWS_PRE + i] = (unsigned char)(seq >> (56 - 8 * i));
    k->ping_due = false;
    k->pong_deadline = now + ms_ns(k->c->cfg.pong_timeout_ms);
    k->next_ping = now + ms_ns(k->c->cfg.ping_interval_ms);
    return lws_write(wsi, buf + LWS_PRE, 8, LWS_WRITE_PING) < 8 ? -1 : 0;
}

static int on_writeable(conn *k, struct lws *wsi)
{
    int64_t now = clk_mono_ns();
    if (k->close_requested) {
        static const char bye[] = "rotated";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)bye, sizeof bye - 1);
        return -1;
    }
    if (k->state != CS_UP)
        return 0;
    int r = 0;
    if (k->ping_due)
        r = write_ping(k, wsi, now);
    else if (control_pending(k) && rate_allows(k, now))
        r = write_control(k, wsi, now);
    if (r == 0 && (k->ping_due || (control_pending(k) && rate_allows(k, now))))
        lws_callback_on_writable(wsi);
    return r;
}

static void on_pong(conn *k, const unsigned char *in, size_t len)
{
    if (len != 8 || !k->pong_deadline)
        return;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | in[i];
    if (seq == k->ping_seq)
        k->pong_deadline = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Commands (queued by any thread, applied on the service thread)
 */

static conn *pick_conn(ws_client *c, ws_route route)
{
    for (size_t i = 0; i < c->nconns; i++) {
        conn *k = c->conns[i];
        if (k->dead || k->route != route || k->state == CS_CLOSING || k->rot_new)
            continue;
        if (conn_stream_count(c, k) < c->cfg.max_streams_per_conn)
            return k;
    }
    return conn_new(c, route);
}

static void stream_add(ws_client *c, const char *name)
{
    size_t len = strlen(name);
    if (stream_find(c, name, len))
        return;
    wstream *s = xcalloc(1, sizeof *s);
    memcpy(s->name, name, len + 1);
    s->route = ws_route_of(name);
    int64_t iv = ws_expected_interval_ms(name);
    int64_t after = c->cfg.stale_after_ms > 20 * iv ? c->cfg.stale_after_ms : 20 * iv;
    s->stale_ns = event_only(name) ? 0 : ms_ns(after);
    conn *k = pick_conn(c, s->route);
    s->conn = k;
    if (k->state == CS_UP || k->state == CS_CONNECTING)
        namevec_push(&k->to_sub, name);
    if (k->state == CS_UP)
        s->watch_since = clk_mono_ns();
    k->empty_since = 0;
    pthread_mutex_lock(&c->lock);
    if (c->nstreams == c->streams_cap) {
        c->streams_cap = c->streams_cap ? c->streams_cap * 2 : 32;
        c->streams = xreallocarray(c->streams, c->streams_cap, sizeof *c->streams);
    }
    c->streams[c->nstreams++] = s;
    c->st.streams = (unsigned)c->nstreams;
    index_rebuild(c);
    pthread_mutex_unlock(&c->lock);
}

static void unsub_on(conn *k, const char *name)
{
    if (!k || (k->state != CS_UP && k->state != CS_CONNECTING))
        return;
    if (!namevec_remove(&k->to_sub, name))
        namevec_push(&k->to_unsub, name);
}

static void stream_remove(ws_client *c, const char *name)
{
    wstream *s = stream_find(c, name, strlen(name));
    if (!s)
        return;
    unsub_on(s->conn, name);
    unsub_on(s->next, name);
    conn *b = s->next;
    pthread_mutex_lock(&c->lock);
    size_t i = 0;
    while (c->streams[i] != s)
        i++;
    c->streams[i] = c->streams[--c->nstreams];
    if (s->stale)
        c->st.stale_streams--;
    c->st.streams = (unsigned)c->nstreams;
    index_rebuild(c);
    pthread_mutex_unlock(&c->lock);
    overlap_free(s->ov);
    free(s);
    if (b && b->rot_pending)
        b->rot_pending--;
    rotation_check(b);
}

/* A stream whose connection went away without a successor (should not happen): re-home it. */
static void adopt_orphans(ws_client *c)
{
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->conn)
            continue;
        conn *k = pick_conn(c, s->route);
        pthread_mutex_lock(&c->lock);
        s->conn = k;
        s->subscribed = false;
        pthread_mutex_unlock(&c->lock);
        if (k->state == CS_UP || k->state == CS_CONNECTING)
            namevec_push(&k->to_sub, s->name);
    }
}

static void apply_commands(ws_client *c)
{
    pthread_mutex_lock(&c->lock);
    cmd *q = c->cmd_head;
    c->cmd_head = c->cmd_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    while (q) {
        cmd *next = q->next;
        for (size_t i = 0; i < q->n; i++) {
            if (q->sub)
                stream_add(c, q->names[i].s);
            else
                stream_remove(c, q->names[i].s);
        }
        free(q);
        q = next;
    }
    adopt_orphans(c);
    for (size_t i = 0; i < c->nconns; i++) {
        conn *k = c->conns[i];
        if (!k->dead && k->state == CS_IDLE && conn_stream_count(c, k))
            conn_connect(k);
        else if (!k->dead && k->wsi && k->state == CS_UP && control_pending(k))
            lws_callback_on_writable(k->wsi);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The tick: every deadline of every connection
 */

static void rotation_start(conn *a)
{
    ws_client *c = a->c;
    conn *b = conn_new(c, a->route);
    b->rot_old = a;
    a->rot_new = b;
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->conn != a)
            continue;
        s->next = b;
        overlap_free(s->ov);
        s->ov = xcalloc(1, sizeof *s->ov);
        b->rot_pending++;
    }
    conn_connect(b);
}

static void tick_up(conn *k, int64_t now)
{
    ws_client *c = k->c;
    char why[96];
    if (k->pong_deadline && now > k->pong_deadline) {
        STAT_ADD(c, pong_timeouts, 1);
        snprintf(why, sizeof why, "no pong within %lld ms", (long long)c->cfg.pong_timeout_ms);
        k->pong_deadline = 0;
        conn_kill(k, why);
        return;
    }
    if (now >= k->next_ping && !k->pong_deadline && !k->ping_due) {
        k->ping_due = true;
        lws_callback_on_writable(k->wsi);
    }
    if (control_pending(k) && rate_allows(k, now))
        lws_callback_on_writable(k->wsi);
    if (!k->announced && now > k->announce_deadline)
        maybe_announce(k, true);
    if (k->rot_old && k->overlap_deadline && now > k->overlap_deadline) {
        STAT_ADD(c, rotation_forced, 1);
        rotation_finish(k, false);
        return;
    }
    if (!k->rot_old && !k->rot_new && now >= k->rotate_at && conn_stream_count(c, k))
        rotation_start(k);
}

static void tick_conn(conn *k, int64_t now)
{
    ws_client *c = k->c;
    size_t n = conn_stream_count(c, k);
    if (n == 0 && !k->rot_new && !k->rot_old && k->state != CS_CLOSING) {
        if (!k->empty_since)
            k->empty_since = now;
        if (now - k->empty_since >= EMPTY_CLOSE_NS || k->state != CS_UP)
            conn_close_clean(k);
        return;
    }
    k->empty_since = 0;
    if (k->state == CS_WAIT && now >= k->retry_at)
        conn_connect(k);
    else if (k->state == CS_IDLE)
        conn_connect(k);
    else if (k->state == CS_CONNECTING && now > k->connect_deadline && k->wsi)
        conn_kill(k, "connect timed out");
    else if (k->state == CS_UP && k->wsi)
        tick_up(k, now);
}

static void tick_stale(ws_client *c, int64_t now)
{
    for (size_t i = 0; i < c->nstreams; i++) {
        wstream *s = c->streams[i];
        if (s->stale || !s->stale_ns || !s->conn || s->conn->state != CS_UP || !s->watch_since)
            continue;
        int64_t last = s->last_msg_mono > s->watch_since ? s->last_msg_mono : s->watch_since;
        if (now - last <= s->stale_ns)
            continue;
        pthread_mutex_lock(&c->lock);
        s->stale = true;
        c->st.stale_streams++;
        pthread_mutex_unlock(&c->lock);
        char detail[96];
        snprintf(detail, sizeof detail, "silent for more than %lld ms",
                 (long long)(s->stale_ns / CLK_NS_PER_MS));
        emit(c, WS_EV_STREAM_STALE, s->conn, false, s->name, detail);
    }
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    ws_client *c = lws_container_of(sul, ws_client, tick);
    if (c->destroying)
        return;
    apply_commands(c);
    int64_t now = clk_mono_ns();
    for (size_t i = 0; i < c->nconns; i++)
        if (!c->conns[i]->dead)
            tick_conn(c->conns[i], now);
    tick_stale(c, now);
    conns_sweep(c);
    lws_sul_schedule(c->ctx, 0, &c->tick, tick_cb, TICK_MS * LWS_US_PER_MS);
}

/* ---------------------------------------------------------------------------------------------
 * The lws callback
 */

static int on_conn_event(conn *k, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                         size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        k->wsi = wsi;
        on_established(k);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(k, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        on_pong(k, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(k, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *p = in;
        unsigned code = len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 0;
        int rl = len > 2 ? (int)(len - 2 < 100 ? len - 2 : 100) : 0;
        snprintf(k->reason, sizeof k->reason, "server closed (code %u%s%.*s)", code, rl ? ": " : "",
                 rl, rl ? (const char *)p + 2 : "");
        return 0;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* len is OpenSSL's preverify_ok; lws 4.1 reports a failure later only as an opaque
         * "SSL err", so the reason is kept here (the library's X509 error text would need
         * libcrypto linked directly) */
        if (len == 0 && !k->reason[0])
            snprintf(k->reason, sizeof k->reason,
                     "TLS: the server certificate failed verification (untrusted issuer, "
                     "wrong host or expired); a private CA needs ca_file");
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[REASON_MAX];
        snprintf(why, sizeof why, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
        if (!in || !len)
            snprintf(why, sizeof why, "connection error");
        conn_lost(k, wsi, why);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        conn_lost(k, wsi, "connection closed");
        return 0;
    default:
        return 0;
    }
}

static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)user;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        ws_client *c = lws_context_user(lws_get_context(wsi));
        if (c && !c->destroying)
            apply_commands(c);
        return 0;
    }
    conn *k = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    if (!k || k->dead)
        return 0;
    if (k->c->destroying) {
        if (reason == LWS_CALLBACK_WSI_DESTROY || reason == LWS_CALLBACK_CLIENT_CLOSED ||
            reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR) {
            lws_set_opaque_user_data(wsi, NULL);
            k->wsi = NULL;
        }
        return 0;
    }
    return on_conn_event(k, wsi, reason, in, len);
}

/* ---------------------------------------------------------------------------------------------
 * Public API
 */

static void apply_defaults(ws_config *g)
{
    if (!g->max_message)
        g->max_message = 4 * MIB;
    if (g->max_message < MIB)
        g->max_message = MIB;
#define DEF(f, v)                                                                                  \
    if (g->f <= 0)                                                                                 \
        g->f = (v);
    DEF(max_lifetime_ms, 24LL * 3600 * 1000)
    DEF(rotate_before_ms, 10LL * 60 * 1000)
    DEF(rotate_overlap_max_ms, 10000)
    DEF(backoff_min_ms, 250)
    DEF(backoff_max_ms, 30000)
    DEF(ping_interval_ms, 30000)
    DEF(pong_timeout_ms, 20000)
    DEF(stale_after_ms, 10000)
    DEF(connect_timeout_ms, 10000)
#undef DEF
    if (!g->max_streams_per_conn)
        g->max_streams_per_conn = 200;
    if (!g->control_per_s)
        g->control_per_s = 4;
}

static int fail(char *why, size_t cap, int code, const char *msg)
{
    if (why && cap)
        snprintf(why, cap, "%s", msg);
    return code;
}

/* "ws[s]://host[:port][/path]" -> host, port, base path (no trailing '/'). */
static int parse_base(ws_client *c, const char *url)
{
    const char *p;
    if (strncmp(url, "wss://", 6) == 0) {
        c->tls = true;
        p = url + 6;
    } else if (strncmp(url, "ws://", 5) == 0) {
        p = url + 5;
    } else {
        return BF_EINVAL;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0)
        return BF_EINVAL;
    c->host = xstrndup(p, hl);
    p += hl;
    c->port = c->tls ? 443 : 80;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v <= 0 || v > 65535 || (*end && *end != '/'))
            return BF_EINVAL;
        c->port = (int)v;
        p = end;
    }
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    c->base_path = xstrndup(p, pl);
    char hh[300];
    if (c->port == (c->tls ? 443 : 80))
        snprintf(hh, sizeof hh, "%s", c->host);
    else
        snprintf(hh, sizeof hh, "%s:%d", c->host, c->port);
    c->host_hdr = xstrdup(hh);
    return 0;
}

static void client_free(ws_client *c)
{
    for (size_t i = 0; i < c->nconns; i++)
        conn_release(c->conns[i]);
    free(c->conns);
    for (size_t i = 0; i < c->nstreams; i++) {
        overlap_free(c->streams[i]->ov);
        free(c->streams[i]);
    }
    free(c->streams);
    free(c->slots);
    while (c->cmd_head) {
        cmd *n = c->cmd_head->next;
        free(c->cmd_head);
        c->cmd_head = n;
    }
    free(c->base_url);
    free(c->ca_file);
    free(c->host);
    free(c->base_path);
    free(c->host_hdr);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void *service_main(void *arg)
{
    pthread_setname_np(pthread_self(), "bf-ws"); /* for top -H, perf and the benchmarks */
    ws_client *c = arg;
    while (!atomic_load(&c->stop))
        if (lws_service(c->ctx, 0) < 0)
            break;
    return NULL;
}

/* lws prints notices to stderr by default (a TUI cannot have that); keep its errors only. The
 * level is process-wide, so set it once, before the first context exists. */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void quiet_lws_logs(void)
{
    lws_set_log_level(LLL_ERR, NULL);
}

static int create_context(ws_client *c, char *why, size_t cap)
{
    c->protocols[0] =
        (struct lws_protocols){ .name = "bf-ws", .callback = lws_cb, .rx_buffer_size = RX_CHUNK };
    struct lws_context_creation_info info = { 0 };
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* lws 4.1 loads the OS trust store first (LWS_SSL_CLIENT_USE_OS_CA_CERTS) and then adds
     * this file to the same store: an extra anchor, not a replacement. */
    info.client_ssl_ca_filepath = c->ca_file;
    info.user = c;
    info.fd_limit_per_thread = 64;
    if (c->cfg.permessage_deflate) {
        c->exts[0] =
            (struct lws_extension){ "permessage-deflate", lws_extension_callback_pm_deflate,
                                    "permessage-deflate; client_max_window_bits" };
        info.extensions = c->exts;
    }
    pthread_once(&quiet_once, quiet_lws_logs);
    c->ctx = lws_create_context(&info);
    if (!c->ctx)
        return fail(why, cap, BF_ENET, "ws: could not create the libwebsockets context");
    return 0;
}

int ws_create(const ws_config *cfg, ws_client **out, char *why, size_t why_cap)
{
    if (!cfg || !out || !cfg->on_msg || !cfg->base_url)
        return fail(why, why_cap, BF_EINVAL, "ws: config, base_url and on_msg are required");
    ws_client *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    apply_defaults(&c->cfg);
    pthread_mutex_init(&c->lock, NULL);
    int rc = parse_base(c, cfg->base_url);
    if (rc) {
        client_free(c);
        return fail(why, why_cap, rc, "ws: base_url must look like wss://host[:port][/path]");
    }
    if (c->cfg.rotate_before_ms >= c->cfg.max_lifetime_ms) {
        client_free(c);
        return fail(why, why_cap, BF_EINVAL, "ws: rotate_before_ms must be below max_lifetime_ms");
    }
    if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
        c->cfg.backoff_max_ms = c->cfg.backoff_min_ms;
    if (cfg->ca_file) {
        FILE *f = fopen(cfg->ca_file, "r");
        if (!f) {
            client_free(c);
            return fail(why, why_cap, BF_ENOENT, "ws: the ca_file cannot be read");
        }
        fclose(f);
        c->ca_file = xstrdup(cfg->ca_file);
    }
    c->base_url = xstrdup(cfg->base_url);
    c->cfg.base_url = c->base_url;
    c->cfg.ca_file = c->ca_file;
    c->rng = cfg->seed ? cfg->seed : (uint64_t)clk_mono_ns() ^ (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 0x9e3779b97f4a7c15ULL;
    rc = create_context(c, why, why_cap);
    if (rc) {
        client_free(c);
        return rc;
    }
    lws_sul_schedule(c->ctx, 0, &c->tick, tick_cb, TICK_MS * LWS_US_PER_MS);
    if (pthread_create(&c->thread, NULL, service_main, c) != 0) {
        lws_context_destroy(c->ctx);
        client_free(c);
        return fail(why, why_cap, BF_EIO, "ws: could not start the service thread");
    }
    *out = c;
    return 0;
}

void ws_destroy(ws_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    pthread_mutex_unlock(&c->lock);
    atomic_store(&c->stop, true);
    lws_cancel_service(c->ctx);
    pthread_join(c->thread, NULL);
    c->destroying = true; /* callbacks from lws_context_destroy only detach */
    lws_sul_cancel(&c->tick);
    lws_context_destroy(c->ctx);
    client_free(c);
}

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= WS_STREAM_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("\"\\/?&#%", ch))
            return false;
    }
    return true;
}

static int enqueue(ws_client *c, bool sub, const char *const *streams, size_t n)
{
    if (!c)
        return BF_EINVAL;
    cmd *q = xcalloc(1, sizeof *q + (n ? n : 1) * sizeof(sname));
    q->sub = sub;
    for (size_t i = 0; i < n; i++)
        if (valid_name(streams[i]))
            snprintf(q->names[q->n++].s, WS_STREAM_MAX, "%s", streams[i]);
    pthread_mutex_lock(&c->lock);
    if (c->closed) {
        pthread_mutex_unlock(&c->lock);
        free(q);
        return BF_ECLOSED;
    }
    if (c->cmd_tail)
        c->cmd_tail->next = q;
    else
        c->cmd_head = q;
    c->cmd_tail = q;
    pthread_mutex_unlock(&c->lock);
    lws_cancel_service(c->ctx);
    return 0;
}

int ws_subscribe(ws_client *c, const char *const *streams, size_t n)
{
    return enqueue(c, true, streams, n);
}

int ws_unsubscribe(ws_client *c, const char *const *streams, size_t n)
{
    return enqueue(c, false, streams, n);
}

void ws_get_stats(ws_client *c, ws_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}

size_t ws_stream_statuses(ws_client *c, ws_stream_status *out, size_t cap)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->nstreams;
    for (size_t i = 0; i < n && i < cap; i++) {
        const wstream *s = c->streams[i];
        ws_stream_status *o = &out[i];
        memcpy(o->name, s->name, sizeof o->name);
        o->route = s->route;
        o->subscribed = s->subscribed;
        o->stale = s->stale;
        o->messages = s->messages;
        o->last_msg_mono_ns = s->last_msg_mono;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}
