/*
 * server: the loopback Binance USD-M exchange on libwebsockets (contract in server.h).
 *
 * Layout of this file: shared payloads and per-connection queues; the stream table (who listens
 * to what, per-stream faults); fan-out of source messages; WebSocket connections and their control
 * frames; REST with the weight limiter; faults; the service thread, its tick and the command queue;
 * the public API.
 *
 * Every function below the public API runs on the service thread (or on the owner thread before
 * the service thread starts and after it has been joined), so nothing here needs a lock except the
 * command queue.
 */
#include "sim/server.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/faults.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/xalloc.h"

#define DEF_PING_MS      180000
#define DEF_PONG_MS      600000
#define DEF_LIFETIME_MS  86400000
#define DEF_MAX_STREAMS  200
#define DEF_MAX_IN       10
#define DEF_WEIGHT_LIMIT 2400
#define DEF_WINDOW_MS    60000
#define DEF_TICK_MS      5
#define DEF_SEND_QUEUE   ((size_t)64 << 20)
#define RX_MAX           65536 /* largest control frame accepted */
#define HTTP_CHUNK       32768 /* bytes of a REST body per write */
#define NAME_MAX_LEN     127   /* longest stream name kept */
#define URL_MAX          32768 /* longest request line lws keeps (200 streams in a URL) */

typedef struct conn conn;

/* ---- payloads: one buffer per message, shared by every connection it goes to ---- */

typedef struct payload {
    unsigned refs;
    size_t len;
    unsigned char data[]; /* LWS_PRE headroom, then len bytes */
} payload;

static payload *payload_new(size_t len)
{
    payload *p = xmalloc(sizeof *p + LWS_PRE + len + 1);
    p->refs = 1;
    p->len = len;
    return p;
}

static unsigned char *payload_body(payload *p)
{
    return p->data + LWS_PRE;
}

static payload *payload_copy(const char *s, size_t len)
{
    payload *p = payload_new(len);
    memcpy(payload_body(p), s, len);
    return p;
}

static void payload_unref(payload *p)
{
    if (p && --p->refs == 0)
        free(p);
}

/* ---- the stream table ---- */

typedef struct held_msg {
    struct held_msg *next;
    char *json;
    size_t len;
} held_msg;

typedef struct sstream {
    struct sstream *next_hash, *next_all;
    char *name;
    source_route route;
    conn **subs; /* live subscribers: connections on the stream's own route */
    size_t nsubs, cap;
    /* faults */
    unsigned gap_left, dup_left, reorder_left;
    unsigned frag_left; /* the stream's next messages go out in frames of frag_size */
    uint32_t frag_size;
    int64_t stall_until;
    held_msg *held, **held_tail; /* messages kept back by stall / reorder */
} sstream;

/* ---- connections ---- */

enum out_kind { OUT_TEXT, OUT_PING };

typedef struct out_item {
    payload *p;
    size_t off;    /* bytes sent so far (fragmented messages) */
    uint32_t frag; /* fragment size, 0 = one frame */
    uint8_t kind;
} out_item;

enum conn_end { END_NONE, END_CLOSE, END_DROP };

struct conn {
    struct lws *wsi;
    conn *prev, *next;
    source_route route;
    bool combined, tls;
    sstream **subs; /* every subscription in order, silent ones included */
    size_t nsubs, cap_subs;
    out_item *q; /* ring */
    size_t q_head, q_n, q_cap, q_bytes;
    int64_t opened_ms, last_ping_ms, last_pong_ms;
    int64_t *in_times; /* ring of the last max_incoming_per_s arrival times */
    unsigned in_head, in_n;
    unsigned frag_left;
    uint32_t frag_size;
    enum conn_end ending;
    int close_code;
    char close_reason[64];
    char *rx;
    size_t rx_len;
    bool rx_overflow;
    unsigned char *frag_buf; /* LWS_PRE + frag_size: one fragment copied out of a shared payload */
    size_t frag_buf_cap;
};

/* ---- REST per connection ---- */

typedef struct pss {
    conn *ws;
    /* the response being written */
    unsigned char *resp; /* LWS_PRE + body */
    size_t resp_len, resp_off;
    int status, weight_hdr, retry_after;
    bool hdr_sent, responding;
    /* a POST being received */
    char *body;
    size_t body_len;
    char path[128];
} pss;

/* ---- commands from other threads ---- */

enum cmd_kind { CMD_FAULT, CMD_QUIET, CMD_STATS };

typedef struct cmd {
    struct cmd *next;
    enum cmd_kind kind;
    fault_spec spec;
    bool quiet;
    sim_server_stats *stats;
    bool owned; /* heap-allocated: freed by the service thread; else the caller waits on done */
    bool done;
} cmd;

enum { PATH_PING, PATH_TIME, PATH_EXINFO, PATH_DEPTH, PATH_BOOKT, PATH_PREMIUM, PATH_OTHER, NPATH };
static const char *const path_names[NPATH] = {
    "/fapi/v1/ping",
    "/fapi/v1/time",
    "/fapi/v1/exchangeInfo",
    "/fapi/v1/depth",
    "/fapi/v1/ticker/bookTicker",
    "/fapi/v1/premiumIndex",
    "other",
};

struct sim_server {
    sim_server_config cfg; /* defaults applied; strings owned below */
    char *host, *cert, *key;
    source *src;
    struct lws_context *ctx;
    struct lws_vhost *vh_plain, *vh_tls;
    int port, tls_port;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cmd *cmd_head, **cmd_tail;
    bool running, stop; /* under mu */

    lws_sorted_usec_list_t tick_sul;
    int64_t start_ms;
    fault_sched *sched;
    fault_spec *init_faults; /* config.faults, scheduled at start */
    size_t ninit;
    bool quiet;

    sstream **buckets;
    size_t nbuckets, nstreams;
    sstream *streams;
    conn *conns;

    /* REST weight window and ban (one client: everything here is 127.0.0.1) */
    int64_t win_start, ban_until, ban_len;
    int used;
    bool in_429;
    unsigned f429_left, f418_left, slow_left;
    int f429_retry, f418_retry;
    int64_t slow_delay;

    sim_server_stats st;
    uint64_t route_msgs[2], route_bytes[2], path_count[NPATH];
    int64_t *last_u; /* per source symbol */
    size_t nsym;
};

static int64_t now_ms(void)
{
    return clk_real_ns() / CLK_NS_PER_MS;
}

static sim_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- connection queue ---- */

static void conn_kill(sim_server *s, conn *c)
{
    (void)s;
    if (c->ending == END_DROP)
        return;
    c->ending = END_DROP;
    /* Kill from the event loop: no close frame, the peer sees the TCP connection go. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static void conn_close(conn *c, int code, const char *reason)
{
    if (c->ending != END_NONE)
        return;
    c->ending = END_CLOSE;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

static void conn_push(sim_server *s, conn *c, payload *p, uint8_t kind, uint32_t frag)
{
    if (c->ending != END_NONE)
        return;
    if (c->q_bytes + p->len > s->cfg.max_send_queue) {
        s->st.ws_slow_drops++;
        conn_kill(s, c);
        return;
    }
    if (c->q_n == c->q_cap) {
        size_t ncap = c->q_cap ? c->q_cap * 2 : 16;
        out_item *nq = xcalloc(ncap, sizeof *nq);
        for (size_t i = 0; i < c->q_n; i++)
            nq[i] = c->q[(c->q_head + i) % c->q_cap];
        free(c->q);
        c->q = nq;
        c->q_head = 0;
        c->q_cap = ncap;
    }
    p->refs++;
    c->q[(c->q_head + c->q_n) % c->q_cap] = (out_item){ .p = p, .kind = kind, .frag = frag };
    c->q_n++;
    c->q_bytes += p->len;
    lws_callback_on_writable(c->wsi);
}

static void conn_push_text(sim_server *s, conn *c, const char *txt, size_t len)
{
    payload *p = payload_copy(txt, len);
    conn_push(s, c, p, OUT_TEXT, 0);
    payload_unref(p);
}

static void conn_pop(conn *c)
{
    out_item *it = &c->q[c->q_head];
    c->q_bytes -= it->p->len;
    payload_unref(it->p);
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_n--;
}

/* ---- stream table ---- */

static size_t hash_name(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static sstream *stream_find(sim_server *s, const char *name)
{
    for (sstream *st = s->buckets[hash_name(name) % s->nbuckets]; st; st = st->next_hash)
        if (strcmp(st->name, name) == 0)
            return st;
    return NULL;
}

static void stream_rehash(sim_server *s)
{
    size_t n = s->nbuckets * 4;
    sstream **b = xcalloc(n, sizeof *b);
    for (sstream *st = s->streams; st; st = st->next_all) {
        size_t i = hash_name(st->name) % n;
        st->next_hash = b[i];
        b[i] = st;
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static sstream *stream_get(sim_server *s, const char *name, source_route route)
{
    sstream *st = stream_find(s, name);
    if (st)
        return st;
    if (s->nstreams >= s->nbuckets)
        stream_rehash(s);
    st = xcalloc(1, sizeof *st);
    st->name = xstrdup(name);
    st->route = route;
    st->held_tail = &st->held;
    size_t i = hash_name(name) % s->nbuckets;
    st->next_hash = s->buckets[i];
    s->buckets[i] = st;
    st->next_all = s->streams;
    s->streams = st;
    s->nstreams++;
    return st;
}

static void stream_free_all(sim_server *s)
{
    sstream *st = s->streams;
    while (st) {
        sstream *next = st->next_all;
        for (held_msg *h = st->held, *hn; h; h = hn) {
            hn = h->next;
            free(h->json);
            free(h);
        }
        free(st->subs);
        free(st->name);
        free(st);
        st = next;
    }
    s->streams = NULL;
    free(s->buckets);
    s->buckets = NULL;
}

static void stream_add_sub(sim_server *s, sstream *st, conn *c)
{
    if (st->nsubs == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 4;
        st->subs = xreallocarray(st->subs, st->cap, sizeof *st->subs);
    }
    st->subs[st->nsubs++] = c;
    if (st->nsubs == 1)
        s->src->ops->want(s->src, st->name, true);
}

static void stream_del_sub(sim_server *s, sstream *st, conn *c)
{
    for (size_t i = 0; i < st->nsubs; i++) {
        if (st->subs[i] == c) {
            memmove(&st->subs[i], &st->subs[i + 1], (st->nsubs - i - 1) * sizeof *st->subs);
            st->nsubs--;
            if (st->nsubs == 0)
                s->src->ops->want(s->src, st->name, false);
            return;
        }
    }
}

/* ---- fan-out ---- */

static payload *make_wrapped(const sstream *st, const char *json, size_t len)
{
    size_t nl = strlen(st->name);
    payload *p = payload_new(len + nl + 22);
    int n = snprintf((char *)payload_body(p), nl + 22, "{\"stream\":\"%s\",\"data\":", st->name);
    memcpy(payload_body(p) + n, json, len);
    payload_body(p)[n + len] = '}';
    p->len = (size_t)n + len + 1;
    return p;
}

/* Send one message of st to every live subscriber, wrapped for combined connections. */
static void deliver(sim_server *s, sstream *st, const char *json, size_t len)
{
    payload *raw = NULL, *wrapped = NULL;
    for (size_t i = 0; i < st->nsubs; i++) {
        conn *c = st->subs[i];
        payload *p;
        if (c->combined)
            p = wrapped ? wrapped : (wrapped = make_wrapped(st, json, len));
        else
            p = raw ? raw : (raw = payload_copy(json, len));
        uint32_t frag = st->frag_left ? st->frag_size : 0;
        if (!frag && c->frag_left) {
            c->frag_left--;
            frag = c->frag_size;
        }
        conn_push(s, c, p, OUT_TEXT, frag);
    }
    if (st->frag_left && st->nsubs)
        st->frag_left--;
    payload_unref(raw);
    payload_unref(wrapped);
}

static void hold(sstream *st, const char *json, size_t len)
{
    held_msg *h = xmalloc(sizeof *h);
    h->next = NULL;
    h->json = xstrndup(json, len);
    h->len = len;
    *st->held_tail = h;
    st->held_tail = &h->next;
}

static void release_held(sim_server *s, sstream *st)
{
    held_msg *h = st->held;
    st->held = NULL;
    st->held_tail = &st->held;
    while (h) {
        held_msg *next = h->next;
        deliver(s, st, h->json, h->len);
        free(h->json);
        free(h);
        h = next;
    }
}

/* Remember the last diff-depth update id per symbol for /sim/stats. */
static void note_update_id(sim_server *s, const source_msg *m)
{
    const char *at = strchr(m->stream, '@');
    const char *u = strstr(m->json, "\"u\":");
    if (!at || !u)
        return;
    size_t n = (size_t)(at - m->stream);
    for (size_t i = 0; i < s->nsym; i++) {
        const char *sym = s->src->ops->symbol_at(s->src, i);
        if (strlen(sym) == n && strncasecmp(sym, m->stream, n) == 0) {
            s->last_u[i] = strtoll(u + 4, NULL, 10);
            return;
        }
    }
}

static void on_emit(void *ctx, const source_msg *m)
{
    sim_server *s = ctx;
    if (m->is_depth_diff)
        note_update_id(s, m);
    sstream *st = stream_find(s, m->stream);
    if (!st || st->nsubs == 0)
        return;
    if (st->stall_until) {
        hold(st, m->json, m->len);
        return;
    }
    if (st->gap_left && m->is_depth_diff) {
        st->gap_left--;
        return;
    }
    if (st->reorder_left) {
        if (!st->held) {
            hold(st, m->json, m->len);
            return;
        }
        st->reorder_left--;
        deliver(s, st, m->json, m->len);
        release_held(s, st);
        return;
    }
    deliver(s, st, m->json, m->len);
    if (st->dup_left) {
        st->dup_left--;
        deliver(s, st, m->json, m->len);
    }
}

/* ---- subscriptions ---- */

static bool conn_has(const conn *c, const sstream *st)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i] == st)
            return true;
    return false;
}

/* Valid stream name for this source: 0 and *route; lowercase names only, as on Binance. */
static int check_stream(sim_server *s, const char *name, source_route *route)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN)
        return BF_EINVAL;
    return s->src->ops->check_stream(s->src, name, route);
}

static void conn_subscribe(sim_server *s, conn *c, const char *name, source_route route)
{
    sstream *st = stream_get(s, name, route);
    if (conn_has(c, st))
        return;
    if (c->nsubs == c->cap_subs) {
        c->cap_subs = c->cap_subs ? c->cap_subs * 2 : 8;
        c->subs = xreallocarray(c->subs, c->cap_subs, sizeof *c->subs);
    }
    c->subs[c->nsubs++] = st;
    if (st->route == c->route)
        stream_add_sub(s, st, c);
}

static void conn_unsubscribe(sim_server *s, conn *c, const char *name)
{
    sstream *st = stream_find(s, name);
    for (size_t i = 0; st && i < c->nsubs; i++) {
        if (c->subs[i] == st) {
            memmove(&c->subs[i], &c->subs[i + 1], (c->nsubs - i - 1) * sizeof *c->subs);
            c->nsubs--;
            if (st->route == c->route)
                stream_del_sub(s, st, c);
            return;
        }
    }
}

static void limit_close(sim_server *s, conn *c, const char *why)
{
    s->st.ws_limit_closes++;
    conn_close(c, 1008, why);
}

/* Subscribe to every valid stream in a '/'-separated list (URL forms); invalid names are ignored
 * (ccxt's "/ws/0"). */
static void subscribe_list(sim_server *s, conn *c, const char *list)
{
    char name[NAME_MAX_LEN + 1];
    while (*list) {
        size_t n = strcspn(list, "/");
        if (n > 0 && n <= NAME_MAX_LEN) {
            memcpy(name, list, n);
            name[n] = '\0';
            source_route r;
            if (check_stream(s, name, &r) == 0) {
                if (c->nsubs >= s->cfg.max_streams && !conn_has(c, stream_find(s, name))) {
                    limit_close(s, c, "too many streams");
                    return;
                }
                conn_subscribe(s, c, name, r);
            }
        }
        list += n;
        if (*list == '/')
            list++;
    }
}

/* ---- control frames ---- */

/* msg as a JSON string literal (quotes included), malloc'd. */
static char *json_quote(const char *msg)
{
    json_t *j = json_string(msg);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return t ? t : xstrdup("\"\"");
}

static void reply_error(sim_server *s, conn *c, const char *id, int code, const char *msg)
{
    char buf[640], *q = json_quote(msg);
    int n =
        snprintf(buf, sizeof buf, "{\"error\":{\"code\":%d,\"msg\":%s},\"id\":%s}", code, q, id);
    free(q);
    conn_push_text(s, c, buf, (size_t)n);
}

static void reply_result(sim_server *s, conn *c, const char *id, const char *result)
{
    size_t cap = strlen(result) + strlen(id) + 32;
    char *buf = xmalloc(cap);
    int n = snprintf(buf, cap, "{\"result\":%s,\"id\":%s}", result, id);
    conn_push_text(s, c, buf, (size_t)n);
    free(buf);
}

/* The params array must hold stream names this source serves; all or nothing. */
static bool params_valid(sim_server *s, json_t *params)
{
    if (!json_is_array(params))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v)
    {
        source_route r;
        if (!json_is_string(v) || check_stream(s, json_string_value(v), &r) < 0)
            return false;
    }
    return true;
}

static void do_subscribe(sim_server *s, conn *c, const char *id, json_t *params, bool sub)
{
    if (!params_valid(s, params)) {
        reply_error(s, c, id, 2, "Invalid request: invalid stream");
        return;
    }
    size_t i, added = 0;
    json_t *v;
    json_array_foreach(params, i, v)
    {
        sstream *st = stream_find(s, json_string_value(v));
        added += !(st && conn_has(c, st));
    }
    if (sub && c->nsubs + added > s->cfg.max_streams) {
        limit_close(s, c, "too many streams");
        return;
    }
    json_array_foreach(params, i, v)
    {
        const char *name = json_string_value(v);
        source_route r = SOURCE_ROUTE_PUBLIC;
        check_stream(s, name, &r);
        if (sub)
            conn_subscribe(s, c, name, r);
        else
            conn_unsubscribe(s, c, name);
    }
    reply_result(s, c, id, "null");
}

static void do_list(sim_server *s, conn *c, const char *id)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < c->nsubs; i++)
        json_array_append_new(arr, json_string(c->subs[i]->name));
    char *txt = json_dumps(arr, JSON_COMPACT);
    reply_result(s, c, id, txt);
    free(txt);
    json_decref(arr);
}

static void do_property(sim_server *s, conn *c, const char *id, json_t *params, bool set)
{
    json_t *name = json_array_get(params, 0);
    if (!json_is_array(params) || json_array_size(params) != (set ? 2u : 1u)) {
        reply_error(s, c, id, 2,
                    json_is_array(params) && json_array_size(params) > (set ? 2u : 1u)
                        ? "Invalid request: too many parameters"
                        : "Invalid request: missing parameters");
        return;
    }
    if (!json_is_string(name)) {
        reply_error(s, c, id, 2, "Invalid request: property name must be a string");
        return;
    }
    if (strcmp(json_string_value(name), "combined") != 0) {
        reply_error(s, c, id, 0, "Unknown property");
        return;
    }
    if (!set) {
        reply_result(s, c, id, c->combined ? "true" : "false");
        return;
    }
    json_t *val = json_array_get(params, 1);
    if (!json_is_boolean(val)) {
        reply_error(s, c, id, 1, "Invalid value type: expected Boolean");
        return;
    }
    c->combined = json_is_true(val);
    reply_result(s, c, id, "null");
}

/* The reply's "id": an unsigned integer or a string, echoed; anything else is an error. */
static bool format_id(json_t *jid, char *buf, size_t cap)
{
    if (!jid || json_is_null(jid)) {
        snprintf(buf, cap, "null");
        return true;
    }
    if ((json_is_integer(jid) && json_integer_value(jid) >= 0) ||
        (json_is_string(jid) && json_string_length(jid) < cap / 2)) {
        char *t = json_dumps(jid, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(buf, cap, "%s", t);
        free(t);
        return true;
    }
    return false;
}

static void handle_control(sim_server *s, conn *c, const char *txt, size_t len)
{
    s->st.ws_control_frames++;
    json_error_t jerr;
    json_t *root = json_loadb(txt, len, 0, &jerr);
    char msg[256], id[160];
    if (!root) {
        snprintf(msg, sizeof msg, "Invalid JSON: expected value at line %d column %d", jerr.line,
                 jerr.column);
        reply_error(s, c, "null", 3, msg);
        return;
    }
    json_t *method = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");
    if (!json_is_object(root) || !format_id(json_object_get(root, "id"), id, sizeof id)) {
        reply_error(s, c, "null", 2, "Invalid request: request ID must be an unsigned integer");
    } else if (!json_is_string(method)) {
        reply_error(s, c, id, 2, "Invalid request: missing field `method`");
    } else {
        const char *m = json_string_value(method);
        if (strcmp(m, "SUBSCRIBE") == 0 || strcmp(m, "UNSUBSCRIBE") == 0) {
            do_subscribe(s, c, id, params, m[0] == 'S');
        } else if (strcmp(m, "LIST_SUBSCRIPTIONS") == 0) {
            do_list(s, c, id);
        } else if (strcmp(m, "SET_PROPERTY") == 0 || strcmp(m, "GET_PROPERTY") == 0) {
            do_property(s, c, id, params, m[0] == 'S');
        } else {
            snprintf(msg, sizeof msg,
                     "Invalid request: unknown variant `%.40s`, expected one of `SUBSCRIBE`, "
                     "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
                     m);
            reply_error(s, c, id, 2, msg);
        }
    }
    json_decref(root);
}

/* ---- WebSocket connections ---- */

/* More than max_incoming_per_s messages within any second closes the connection. */
static bool incoming_ok(sim_server *s, conn *c, int64_t now)
{
    unsigned cap = s->cfg.max_incoming_per_s;
    if (c->in_n == cap) {
        if (now - c->in_times[c->in_head] < 1000) {
            limit_close(s, c, "too many messages");
            return false;
        }
        c->in_head = (c->in_head + 1) % cap;
        c->in_n--;
    }
    c->in_times[(c->in_head + c->in_n) % cap] = now;
    c->in_n++;
    return true;
}

/* "/public/ws/a/b" -> route, raw, streams "a/b". false for a path that is no stream endpoint. */
static bool parse_ws_path(const char *path, source_route *route, bool *combined, const char **rest)
{
    *route = SOURCE_ROUTE_PUBLIC;
    if (strncmp(path, "/public/", 8) == 0) {
        path += 7;
    } else if (strncmp(path, "/market/", 8) == 0) {
        *route = SOURCE_ROUTE_MARKET;
        path += 7;
    }
    if (strcmp(path, "/ws") == 0 || strncmp(path, "/ws/", 4) == 0) {
        *combined = false;
        *rest = path[3] ? path + 4 : path + 3;
        return true;
    }
    if (strcmp(path, "/stream") == 0 || strcmp(path, "/stream/") == 0) {
        *combined = true;
        *rest = "";
        return true;
    }
    return false;
}

static void conn_url_streams(sim_server *s, conn *c, struct lws *wsi, const char *rest)
{
    subscribe_list(s, c, rest);
    char arg[URL_MAX];
    for (int i = 0; c->ending == END_NONE &&
                    lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++) {
        if (strncmp(arg, "streams=", 8) == 0)
            subscribe_list(s, c, arg + 8);
    }
}

static void ws_established(sim_server *s, struct lws *wsi, pss *ps)
{
    char path[URL_MAX];
    source_route route = SOURCE_ROUTE_PUBLIC;
    bool combined = false;
    const char *rest = "";
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0)
        path[0] = '\0';
    parse_ws_path(path, &route, &combined, &rest);
    conn *c = xcalloc(1, sizeof *c);
    c->wsi = wsi;
    c->route = route;
    c->combined = combined;
    c->tls = lws_get_vhost(wsi) == s->vh_tls;
    c->opened_ms = c->last_ping_ms = c->last_pong_ms = now_ms();
    c->in_times = xcalloc(s->cfg.max_incoming_per_s, sizeof *c->in_times);
    char ext[256];
    if (lws_hdr_copy(wsi, ext, sizeof ext, WSI_TOKEN_EXTENSIONS) > 0 &&
        strstr(ext, "permessage-deflate"))
        s->st.ws_deflate++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    ps->ws = c;
    s->st.ws_connections++;
    s->st.ws_open++;
    conn_url_streams(s, c, wsi, rest);
}

static void ws_closed(sim_server *s, pss *ps)
{
    conn *c = ps->ws;
    if (!c)
        return;
    ps->ws = NULL;
    while (c->nsubs)
        conn_unsubscribe(s, c, c->subs[c->nsubs - 1]->name);
    while (c->q_n)
        conn_pop(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->st.ws_open--;
    free(c->q);
    free(c->subs);
    free(c->in_times);
    free(c->rx);
    free(c->frag_buf);
    free(c);
}

static void ws_receive(sim_server *s, struct lws *wsi, conn *c, const void *in, size_t len)
{
    if (c->rx_len + len > RX_MAX) {
        c->rx_overflow = true;
    } else {
        c->rx = xrealloc(c->rx, c->rx_len + len + 1);
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return;
    bool overflow = c->rx_overflow;
    size_t n = c->rx_len;
    c->rx_len = 0;
    c->rx_overflow = false;
    if (c->ending != END_NONE || !incoming_ok(s, c, now_ms()))
        return;
    if (overflow)
        limit_close(s, c, "message too big");
    else
        handle_control(s, c, c->rx ? c->rx : "", n);
}

/* The next fragment of a long message, copied out of the shared payload: lws writes the frame
 * header into the LWS_PRE bytes in front of what it sends, which must not be another message's
 * bytes. */
static int write_fragment(conn *c, out_item *it)
{
    size_t n = it->p->len - it->off;
    if (n > it->frag)
        n = it->frag;
    if (c->frag_buf_cap < LWS_PRE + n) {
        free(c->frag_buf);
        c->frag_buf_cap = LWS_PRE + n;
        c->frag_buf = xmalloc(c->frag_buf_cap);
    }
    memcpy(c->frag_buf + LWS_PRE, payload_body(it->p) + it->off, n);
    int flags = lws_write_ws_flags(LWS_WRITE_TEXT, it->off == 0, it->off + n == it->p->len);
    if (lws_write(c->wsi, c->frag_buf + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n)
        return -1;
    it->off += n;
    return it->off == it->p->len;
}

/* Write the head of the queue (one frame; a fragmented message takes one frame per call). */
static int write_head(sim_server *s, conn *c)
{
    out_item *it = &c->q[c->q_head];
    int done = 1;
    if (it->kind == OUT_PING) {
        if (lws_write(c->wsi, payload_body(it->p), it->p->len, LWS_WRITE_PING) < 0)
            return -1;
    } else if (it->frag && it->p->len > it->frag) {
        done = write_fragment(c, it);
        if (done < 0)
            return -1;
    } else {
        if (lws_write(c->wsi, payload_body(it->p), it->p->len, LWS_WRITE_TEXT) < (int)it->p->len)
            return -1;
    }
    if (done) {
        s->st.ws_messages_sent += it->kind == OUT_TEXT;
        s->st.ws_bytes_sent += it->p->len;
        s->route_msgs[c->route] += it->kind == OUT_TEXT;
        s->route_bytes[c->route] += it->p->len;
        conn_pop(c);
    }
    return 0;
}

/* Frames written per WRITEABLE callback at most, so that one busy connection cannot starve the
 * others of the service thread. */
#define WRITES_PER_CALLBACK 64

static int ws_writeable(sim_server *s, conn *c)
{
    if (c->ending == END_CLOSE) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (c->ending == END_DROP)
        return -1;
    /* Several frames per callback while the socket takes them whole: lws_send_pipe_choked() turns
     * true as soon as the kernel buffer is full or lws holds a partial write, and then we wait for
     * the next WRITEABLE as lws requires. One frame per callback costs a poll round per message. */
    for (int n = 0; c->q_n && n < WRITES_PER_CALLBACK; n++) {
        if (n > 0 && lws_send_pipe_choked(c->wsi))
            break;
        if (write_head(s, c) < 0)
            return -1;
    }
    if (c->q_n)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* Pings, pong deadline and lifetime, checked every tick. */
static void conn_timers(sim_server *s, conn *c, int64_t now)
{
    if (c->ending != END_NONE)
        return;
    if (now - c->opened_ms >= s->cfg.max_lifetime_ms) {
        s->st.ws_lifetime_closes++;
        conn_close(c, 1000, "max lifetime");
        return;
    }
    if (now - c->last_pong_ms >= s->cfg.pong_timeout_ms) {
        s->st.ws_pong_timeouts++;
        conn_kill(s, c);
        return;
    }
    if (now - c->last_ping_ms >= s->cfg.ping_interval_ms) {
        c->last_ping_ms = now;
        /* A payload, because lws never reports an empty pong to the protocol. */
        char stamp[24];
        payload *p =
            payload_copy(stamp, (size_t)snprintf(stamp, sizeof stamp, "%lld", (long long)now));
        conn_push(s, c, p, OUT_PING, 0);
        payload_unref(p);
    }
}

/* ---- REST ---- */

static void resp_set(pss *ps, int status, const char *body, size_t len)
{
    free(ps->resp);
    ps->resp = xmalloc(LWS_PRE + len + 1);
    memcpy(ps->resp + LWS_PRE, body, len);
    ps->resp_len = len;
    ps->status = status;
}

static void resp_error(pss *ps, int status, int code, const char *msg)
{
    char buf[640], *q = json_quote(msg);
    int n = snprintf(buf, sizeof buf, "{\"code\":%d,\"msg\":%s}", code, q);
    free(q);
    resp_set(ps, status, buf, (size_t)n);
}

static int64_t ceil_s(int64_t ms)
{
    return ms <= 0 ? 1 : (ms + 999) / 1000;
}

static void resp_banned(sim_server *s, pss *ps, int64_t until, int64_t now)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "Way too many requests; IP(127.0.0.1) banned until %lld. Please use the websocket "
             "for live updates to avoid bans.",
             (long long)until);
    resp_error(ps, 418, -1003, msg);
    ps->retry_after = (int)ceil_s(until - now);
    s->st.http_418++;
}

static void resp_limited(sim_server *s, pss *ps, int retry_after)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "Too many requests; current limit of IP(127.0.0.1) is %d requests per minute. "
             "Please use the websocket for live updates to avoid polling the API.",
             s->cfg.weight_limit);
    resp_error(ps, 429, -1003, msg);
    ps->retry_after = retry_after;
    s->st.http_429++;
}

/* Charge `weight` to the window: true to serve the request, false when answered 429/418. */
static bool admit(sim_server *s, pss *ps, int weight, int64_t now)
{
    int64_t win = s->cfg.weight_window_ms;
    if (now - s->win_start >= win) {
        s->win_start = now - now % win;
        s->used = 0;
        s->in_429 = false;
    }
    ps->weight_hdr = s->used;
    if (now < s->ban_until) {
        s->st.http_during_ban++;
        resp_banned(s, ps, s->ban_until, now);
        return false;
    }
    if (s->f418_left) {
        s->f418_left--;
        resp_banned(s, ps, now + (int64_t)s->f418_retry * 1000, now);
        ps->retry_after = s->f418_retry;
        return false;
    }
    if (s->f429_left) {
        s->f429_left--;
        resp_limited(s, ps, s->f429_retry);
        return false;
    }
    if (s->used + weight > s->cfg.weight_limit) {
        if (s->in_429) {
            /* Kept going during a 429: banned, twice as long as last time (2 s per minute). */
            int64_t base = 2000 * win / 60000;
            s->ban_len = s->ban_len ? s->ban_len * 2 : (base < 100 ? 100 : base);
            s->ban_until = now + s->ban_len;
            s->in_429 = false;
            resp_banned(s, ps, s->ban_until, now);
        } else {
            s->in_429 = true;
            resp_limited(s, ps, (int)ceil_s(s->win_start + win - now));
        }
        return false;
    }
    s->used += weight;
    ps->weight_hdr = s->used;
    return true;
}

typedef struct query {
    char symbol[64], limit[32];
    bool has_symbol, has_limit;
} query;

static void read_query(struct lws *wsi, query *q)
{
    char arg[256];
    memset(q, 0, sizeof *q);
    for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++) {
        if (strncmp(arg, "symbol=", 7) == 0) {
            q->has_symbol = true;
            snprintf(q->symbol, sizeof q->symbol, "%.63s", arg + 7);
        } else if (strncmp(arg, "limit=", 6) == 0) {
            q->has_limit = true;
            snprintf(q->limit, sizeof q->limit, "%.31s", arg + 6);
        }
    }
}

/* Binance's checks on `symbol`: 0, or the error answer is set. */
static int check_symbol(pss *ps, const query *q, bool mandatory)
{
    char msg[200];
    if (!q->has_symbol || !q->symbol[0]) {
        if (!mandatory && !q->has_symbol)
            return 0;
        resp_error(ps, 400, -1102,
                   "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
        return -1;
    }
    size_t n = strlen(q->symbol);
    if (n > 20 || strspn(q->symbol, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n) {
        snprintf(msg, sizeof msg,
                 "Illegal characters found in parameter 'symbol'; legal range is "
                 "'^[A-Z0-9-_.]{1,20}$'.");
        resp_error(ps, 400, -1100, msg);
        return -1;
    }
    return 0;
}

static int depth_limit(const query *q, int *limit)
{
    static const int valid[] = { 5, 10, 20, 50, 100, 500, 1000 };
    *limit = 500;
    if (!q->has_limit)
        return 0;
    size_t n = strlen(q->limit);
    if (n == 0 || n > 9 || strspn(q->limit, "0123456789") != n)
        return BF_ESYNTAX;
    *limit = (int)strtol(q->limit, NULL, 10);
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (valid[i] == *limit)
            return 0;
    return BF_EINVAL;
}

static int depth_weight(int limit)
{
    return limit <= 50 ? 2 : limit == 100 ? 5 : limit == 500 ? 10 : 20;
}

/* Let the source write a REST body; a negative result becomes Binance's error answer. */
typedef int (*body_fn)(sim_server *s, const query *q, int limit, char *buf, size_t cap);

static void serve_body(sim_server *s, pss *ps, const query *q, int limit, body_fn fn)
{
    size_t cap = s->src->ops->max_body(s->src) + 1;
    free(ps->resp);
    ps->resp = xmalloc(LWS_PRE + cap);
    int n = fn(s, q, limit, (char *)ps->resp + LWS_PRE, cap);
    if (n == BF_ENOENT) {
        resp_error(ps, 400, -1121, "Invalid symbol.");
    } else if (n < 0) {
        resp_error(ps, 500, -1000, "An unknown error occured while processing the request.");
    } else {
        ps->resp_len = (size_t)n;
        ps->status = 200;
    }
}

static int body_depth(sim_server *s, const query *q, int limit, char *buf, size_t cap)
{
    return s->src->ops->depth(s->src, q->symbol, limit, now_ms(), buf, cap);
}

static int body_exinfo(sim_server *s, const query *q, int limit, char *buf, size_t cap)
{
    (void)q;
    (void)limit;
    return s->src->ops->exchange_info(s->src, now_ms(), buf, cap);
}

static int body_bookt(sim_server *s, const query *q, int limit, char *buf, size_t cap)
{
    (void)limit;
    return s->src->ops->book_ticker(s->src, q->has_symbol ? q->symbol : NULL, now_ms(), buf, cap);
}

static int body_premium(sim_server *s, const query *q, int limit, char *buf, size_t cap)
{
    (void)limit;
    return s->src->ops->premium_index(s->src, q->has_symbol ? q->symbol : NULL, now_ms(), buf, cap);
}

static int rest_path_id(const char *path)
{
    for (int i = 0; i < PATH_OTHER; i++)
        if (strcmp(path, path_names[i]) == 0)
            return i;
    return PATH_OTHER;
}

static int rest_weight(int id, const query *q)
{
    int limit;
    switch (id) {
    case PATH_DEPTH:
        return depth_limit(q, &limit) == 0 ? depth_weight(limit) : 2;
    case PATH_BOOKT:
        return q->has_symbol ? 2 : 5;
    case PATH_PREMIUM:
        return q->has_symbol ? 1 : 10;
    default:
        return 1;
    }
}

static void serve_depth(sim_server *s, pss *ps, const query *q)
{
    int limit;
    if (check_symbol(ps, q, true) < 0)
        return;
    int rc = depth_limit(q, &limit);
    if (rc == BF_ESYNTAX) {
        resp_error(
            ps, 400, -1100,
            "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
        return;
    }
    if (rc < 0) {
        resp_error(ps, 400, -1130, "Data sent for parameter 'limit' is not valid.");
        return;
    }
    serve_body(s, ps, q, limit, body_depth);
}

/* A /fapi request: weight, faults, then the endpoint. */
static void serve_rest(sim_server *s, struct lws *wsi, pss *ps, const char *path)
{
    query q;
    read_query(wsi, &q);
    int id = rest_path_id(path);
    s->path_count[id]++;
    int64_t now = now_ms();
    if (!admit(s, ps, rest_weight(id, &q), now))
        return;
    char body[64];
    switch (id) {
    case PATH_PING:
        resp_set(ps, 200, "{}", 2);
        break;
    case PATH_TIME:
        resp_set(ps, 200, body,
                 (size_t)snprintf(body, sizeof body, "{\"serverTime\":%lld}", (long long)now));
        break;
    case PATH_EXINFO:
        serve_body(s, ps, &q, 0, body_exinfo);
        break;
    case PATH_DEPTH:
        serve_depth(s, ps, &q);
        if (ps->status == 200 && s->slow_left) {
            s->slow_left--;
            lws_set_timer_usecs(wsi, (lws_usec_t)s->slow_delay * 1000);
            ps->responding = true; /* the timer asks for the writeable callback */
            return;
        }
        break;
    case PATH_BOOKT:
        if (check_symbol(ps, &q, false) == 0)
            serve_body(s, ps, &q, 0, body_bookt);
        break;
    case PATH_PREMIUM:
        if (check_symbol(ps, &q, false) == 0)
            serve_body(s, ps, &q, 0, body_premium);
        break;
    default:
        resp_error(ps, 404, -5, "Not found.");
    }
}

static void apply_fault(sim_server *s, const fault_spec *f);
static void set_quiet_now(sim_server *s, bool quiet);
static char *stats_json(sim_server *s);

/* The control plane: /sim/fault, /sim/quiet, /sim/resume, /sim/stats. */
static void serve_sim(sim_server *s, pss *ps, const char *path)
{
    char why[256];
    if (strcmp(path, "/sim/fault") == 0) {
        fault_spec f;
        char *spec = xstrndup(ps->body ? ps->body : "", ps->body_len);
        size_t n = strlen(spec);
        while (n && (spec[n - 1] == '\n' || spec[n - 1] == '\r' || spec[n - 1] == ' '))
            spec[--n] = '\0';
        if (fault_parse(spec, &f, why, sizeof why) < 0) {
            resp_error(ps, 400, -1, why);
        } else {
            apply_fault(s, &f);
            resp_set(ps, 200, "{\"result\":\"ok\"}", 15);
        }
        free(spec);
    } else if (strcmp(path, "/sim/quiet") == 0 || strcmp(path, "/sim/resume") == 0) {
        set_quiet_now(s, path[5] == 'q');
        resp_set(ps, 200, "{\"result\":\"ok\"}", 15);
    } else if (strcmp(path, "/sim/stats") == 0) {
        char *j = stats_json(s);
        resp_set(ps, 200, j, strlen(j));
        free(j);
    } else {
        resp_error(ps, 404, -5, "Not found.");
    }
}

static void http_begin(sim_server *s, struct lws *wsi, pss *ps, const char *path)
{
    s->st.http_requests++;
    if (strncmp(path, "/sim/", 5) == 0) {
        s->path_count[PATH_OTHER]++;
        serve_sim(s, ps, path);
    } else {
        serve_rest(s, wsi, ps, path);
    }
    if (!ps->responding) {
        ps->responding = true;
        lws_callback_on_writable(wsi);
    }
}

static void pss_reset(pss *ps)
{
    free(ps->resp);
    free(ps->body);
    conn *ws = ps->ws;
    memset(ps, 0, sizeof *ps);
    ps->ws = ws;
    ps->retry_after = -1;
}

static int http_headers(struct lws *wsi, pss *ps)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof buf - 1;
    char v[32];
    if (lws_add_http_common_headers(wsi, (unsigned)ps->status, "application/json", ps->resp_len, &p,
                                    end))
        return -1;
    int n = snprintf(v, sizeof v, "%d", ps->weight_hdr);
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"x-mbx-used-weight-1m:", (unsigned char *)v, n, &p, end))
        return -1;
    if (ps->retry_after >= 0) {
        n = snprintf(v, sizeof v, "%d", ps->retry_after);
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"retry-after:", (unsigned char *)v, n, &p, end))
            return -1;
    }
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

static int http_writeable(struct lws *wsi, pss *ps)
{
    if (!ps->responding || !ps->resp)
        return 0;
    if (!ps->hdr_sent) {
        if (http_headers(wsi, ps) < 0)
            return -1;
        ps->hdr_sent = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    size_t n = ps->resp_len - ps->resp_off;
    bool last = n <= HTTP_CHUNK;
    if (!last)
        n = HTTP_CHUNK;
    /* HTTP/1.1 only (ALPN offers nothing else), so lws adds no framing in front of the bytes. */
    if (lws_write(wsi, ps->resp + LWS_PRE + ps->resp_off, n,
                  last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    ps->resp_off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    pss_reset(ps);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_request(sim_server *s, struct lws *wsi, pss *ps, const char *uri)
{
    pss_reset(ps);
    snprintf(ps->path, sizeof ps->path, "%s", uri);
    bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    char cl[32];
    bool has_body = post && lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                    strtol(cl, NULL, 10) > 0;
    if (!has_body)
        http_begin(s, wsi, ps, ps->path);
    return 0;
}

static int http_body(pss *ps, const void *in, size_t len)
{
    if (!len)
        return 0;
    if (ps->body_len + len > 4096)
        return -1;
    ps->body = xrealloc(ps->body, ps->body_len + len + 1);
    memcpy(ps->body + ps->body_len, in, len);
    ps->body_len += len;
    ps->body[ps->body_len] = '\0';
    return 0;
}

static void drain_commands(sim_server *s);

static int sim_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    sim_server *s = wsi ? server_of(wsi) : NULL;
    pss *ps = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s)
            drain_commands(s);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char path[URL_MAX];
        source_route r;
        bool comb;
        const char *rest;
        if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 ||
            !parse_ws_path(path, &r, &comb, &rest))
            return 1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        ws_established(s, wsi, ps);
        return 0;
    case LWS_CALLBACK_CLOSED:
        ws_closed(s, ps);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (ps->ws)
            ws_receive(s, wsi, ps->ws, in, len);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (ps->ws && ps->ws->ending == END_NONE && incoming_ok(s, ps->ws, now_ms()))
            ps->ws->last_pong_ms = now_ms();
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ps->ws ? ws_writeable(s, ps->ws) : 0;
    case LWS_CALLBACK_HTTP:
        return http_request(s, wsi, ps, in);
    case LWS_CALLBACK_HTTP_BODY:
        return http_body(ps, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        http_begin(s, wsi, ps, ps->path);
        return 0;
    case LWS_CALLBACK_TIMER:
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_writeable(wsi, ps);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ps) {
            free(ps->resp);
            free(ps->body);
            ps->resp = NULL;
            ps->body = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size also sizes each WS socket's SO_SNDBUF in lws: keep it roomy. */
    { "sim", sim_callback, sizeof(pss), 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- faults ---- */

static bool conn_wants(const conn *c, const fault_spec *f)
{
    if (!f->stream[0])
        return true;
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i]->name, f->stream) == 0)
            return true;
    return false;
}

static void stream_fault(sim_server *s, sstream *st, const fault_spec *f)
{
    switch (f->kind) {
    case FAULT_GAP:
        st->gap_left += f->count;
        break;
    case FAULT_DUP:
        st->dup_left += f->count;
        break;
    case FAULT_FRAGMENT: /* only this stream's messages, not whatever the connection sends next */
        st->frag_left += f->count;
        st->frag_size = f->size ? (uint32_t)f->size : 512;
        break;
    case FAULT_REORDER:
        st->reorder_left += f->count;
        break;
    case FAULT_STALL:
        st->stall_until = now_ms() + (f->for_ms > 0 ? f->for_ms : 1);
        break;
    default:
        break;
    }
    (void)s;
}

static payload *fault_payload(const fault_spec *f)
{
    if (f->kind == FAULT_MALFORMED)
        return payload_copy("{\"e\":\"depthUpdate\",\"E\":17", 25);
    size_t n = f->size > 10 ? f->size - 10 : 0;
    payload *p = payload_new(n + 10);
    memcpy(payload_body(p), "{\"pad\":\"", 8);
    memset(payload_body(p) + 8, 'x', n);
    memcpy(payload_body(p) + 8 + n, "\"}", 2);
    return p;
}

static void conn_fault(sim_server *s, conn *c, const fault_spec *f)
{
    switch (f->kind) {
    case FAULT_DISCONNECT:
        conn_kill(s, c);
        break;
    case FAULT_CLOSE:
        conn_close(c, 1000, "server closing");
        break;
    case FAULT_MALFORMED:
    case FAULT_OVERSIZED:
        for (unsigned i = 0; i < f->count; i++) {
            payload *p = fault_payload(f);
            conn_push(s, c, p, OUT_TEXT, 0);
            payload_unref(p);
        }
        break;
    case FAULT_FRAGMENT:
        c->frag_left += f->count;
        c->frag_size = f->size ? (uint32_t)f->size : 512;
        break;
    default:
        break;
    }
}

/* Faults that act on a stream's messages: gap, dup, reorder, stall, and a fragment fault that
 * names a stream (without one it fragments whatever each connection sends next). */
static bool stream_kind(const fault_spec *f)
{
    return f->kind == FAULT_GAP || f->kind == FAULT_DUP || f->kind == FAULT_REORDER ||
           f->kind == FAULT_STALL || (f->kind == FAULT_FRAGMENT && f->stream[0]);
}

static void apply_stream_fault(sim_server *s, const fault_spec *f)
{
    if (f->stream[0]) {
        source_route r;
        if (check_stream(s, f->stream, &r) == 0)
            stream_fault(s, stream_get(s, f->stream, r), f);
        return;
    }
    for (sstream *st = s->streams; st; st = st->next_all)
        if (st->nsubs)
            stream_fault(s, st, f);
}

static void apply_fault(sim_server *s, const fault_spec *f)
{
    s->st.faults_applied++;
    if (stream_kind(f)) {
        apply_stream_fault(s, f);
        return;
    }
    switch (f->kind) {
    case FAULT_SLOW_SNAPSHOT:
        s->slow_left = f->count;
        s->slow_delay = f->delay_ms;
        break;
    case FAULT_HTTP429:
        s->f429_left = f->count;
        s->f429_retry = f->retry_after_s;
        break;
    case FAULT_HTTP418:
        s->f418_left = f->count;
        s->f418_retry = f->retry_after_s;
        break;
    default:
        for (conn *c = s->conns, *next; c; c = next) {
            next = c->next;
            if (conn_wants(c, f))
                conn_fault(s, c, f);
        }
    }
}

/* ---- quiet, stats ---- */

static void set_quiet_now(sim_server *s, bool quiet)
{
    s->quiet = quiet;
    s->src->ops->set_quiet(s->src, quiet);
    if (quiet) {
        /* The depth windows open at this instant close now, so that once quiet is acknowledged
         * nothing further is produced and the stream ends at the snapshot's lastUpdateId. */
        s->src->ops->advance(s->src, now_ms(), on_emit, s);
        /* Whatever a fault holds back goes out now: quiet means "converge". */
        for (sstream *st = s->streams; st; st = st->next_all) {
            st->stall_until = 0;
            release_held(s, st);
        }
    }
}

static void stats_now(sim_server *s, sim_server_stats *out)
{
    *out = s->st;
    out->weight_used = now_ms() - s->win_start < s->cfg.weight_window_ms ? s->used : 0;
}

static char *stats_json(sim_server *s)
{
    sim_server_stats st;
    stats_now(s, &st);
    json_t *req = json_object(), *lu = json_object();
    for (int i = 0; i < NPATH; i++)
        json_object_set_new(req, path_names[i], json_integer((json_int_t)s->path_count[i]));
    for (size_t i = 0; i < s->nsym; i++)
        json_object_set_new(lu, s->src->ops->symbol_at(s->src, i), json_integer(s->last_u[i]));
    json_t *j = json_pack(
        "{s:{s:I,s:I},s:{s:I,s:I},s:{s:I,s:I},s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I,"
        "s:i,s:o,s:b}",
        "connections", "accepted", (json_int_t)st.ws_connections, "open", (json_int_t)st.ws_open,
        "messages", "public", (json_int_t)s->route_msgs[0], "market", (json_int_t)s->route_msgs[1],
        "bytes", "public", (json_int_t)s->route_bytes[0], "market", (json_int_t)s->route_bytes[1],
        "control_frames", (json_int_t)st.ws_control_frames, "limit_closes",
        (json_int_t)st.ws_limit_closes, "pong_timeouts", (json_int_t)st.ws_pong_timeouts,
        "lifetime_closes", (json_int_t)st.ws_lifetime_closes, "slow_drops",
        (json_int_t)st.ws_slow_drops, "deflate", (json_int_t)st.ws_deflate, "requests", req,
        "http_requests", (json_int_t)st.http_requests, "http_429", (json_int_t)st.http_429,
        "http_418", (json_int_t)st.http_418, "http_during_ban", (json_int_t)st.http_during_ban,
        "faults_applied", (json_int_t)st.faults_applied, "weight_used", st.weight_used,
        "last_update_id", lu, "quiet", s->quiet);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return txt;
}

/* ---- service thread ---- */

static void run_command(sim_server *s, cmd *c)
{
    switch (c->kind) {
    case CMD_FAULT:
        if (c->spec.every_ms > 0) {
            fault_spec once = c->spec;
            once.at_ms = 0;
            fault_sched_add(s->sched, &once, now_ms());
        } else {
            apply_fault(s, &c->spec);
        }
        break;
    case CMD_QUIET:
        set_quiet_now(s, c->quiet);
        break;
    case CMD_STATS:
        stats_now(s, c->stats);
        break;
    }
}

static void drain_commands(sim_server *s)
{
    pthread_mutex_lock(&s->mu);
    cmd *list = s->cmd_head;
    s->cmd_head = NULL;
    s->cmd_tail = &s->cmd_head;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        cmd *next = list->next;
        run_command(s, list);
        if (list->owned) {
            free(list);
        } else {
            pthread_mutex_lock(&s->mu);
            list->done = true;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
        list = next;
    }
}

static void tick(lws_sorted_usec_list_t *sul)
{
    sim_server *s = lws_container_of(sul, sim_server, tick_sul);
    drain_commands(s);
    int64_t now = now_ms();
    fault_spec f;
    while (fault_sched_pop_due(s->sched, now, &f))
        apply_fault(s, &f);
    s->src->ops->advance(s->src, now, on_emit, s);
    for (sstream *st = s->streams; st; st = st->next_all) {
        if (st->stall_until && now >= st->stall_until) {
            st->stall_until = 0;
            release_held(s, st);
        }
    }
    for (conn *c = s->conns; c; c = c->next)
        conn_timers(s, c, now);
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, tick, s->cfg.tick_ms * LWS_US_PER_MS);
}

static bool stopping(sim_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *service_main(void *arg)
{
    pthread_setname_np(pthread_self(), "bf-sim"); /* for top -H, perf and the benchmarks */
    sim_server *s = arg;
    while (!stopping(s))
        if (lws_service(s->ctx, 0) < 0)
            break;
    return NULL;
}

/* Run c on the service thread and wait for it; before start (or after destroy began) it runs
 * here, as nothing else touches the server then. */
static void post_and_wait(sim_server *s, cmd *c)
{
    pthread_mutex_lock(&s->mu);
    if (!s->running || s->stop) {
        pthread_mutex_unlock(&s->mu);
        run_command(s, c);
        return;
    }
    c->next = NULL;
    *s->cmd_tail = c;
    s->cmd_tail = &c->next;
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->ctx);
    pthread_mutex_lock(&s->mu);
    while (!c->done)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* ---- creation ---- */

static void apply_defaults(sim_server_config *c)
{
    if (!c->host)
        c->host = "127.0.0.1";
    if (c->ping_interval_ms <= 0)
        c->ping_interval_ms = DEF_PING_MS;
    if (c->pong_timeout_ms <= 0)
        c->pong_timeout_ms = DEF_PONG_MS;
    if (c->max_lifetime_ms <= 0)
        c->max_lifetime_ms = DEF_LIFETIME_MS;
    if (!c->max_streams)
        c->max_streams = DEF_MAX_STREAMS;
    if (!c->max_incoming_per_s)
        c->max_incoming_per_s = DEF_MAX_IN;
    if (c->weight_limit <= 0)
        c->weight_limit = DEF_WEIGHT_LIMIT;
    if (c->weight_window_ms <= 0)
        c->weight_window_ms = DEF_WINDOW_MS;
    if (c->tick_ms <= 0)
        c->tick_ms = DEF_TICK_MS;
    if (!c->max_send_queue)
        c->max_send_queue = DEF_SEND_QUEUE;
}

/* Offered as on Binance: a client that asks for permessage-deflate gets compressed frames. */
static const struct lws_extension extensions[] = {
    { "permessage-deflate", lws_extension_callback_pm_deflate,
      "permessage-deflate; client_no_context_takeover; client_max_window_bits" },
    { NULL, NULL, NULL },
};

static struct lws_vhost *make_vhost(sim_server *s, bool tls, int port, char *why, size_t cap)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = s->host;
    info.protocols = protocols;
    info.extensions = extensions;
    info.vhost_name = tls ? "tls" : "plain";
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.keepalive_timeout = 60;
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = s->cert;
        info.ssl_private_key_filepath = s->key;
        info.alpn = "http/1.1";
    }
    struct lws_vhost *vh = lws_create_vhost(s->ctx, &info);
    if (!vh)
        snprintf(why, cap, "cannot listen on %s:%d (%s)%s", s->host, port, tls ? "TLS" : "plain",
                 tls ? ": port in use, or the certificate/key cannot be loaded" : ": port in use?");
    return vh;
}

static int check_config(const sim_server_config *cfg, char *why, size_t cap)
{
    if (!cfg->src) {
        snprintf(why, cap, "no source to serve");
        return BF_EINVAL;
    }
    if (cfg->port < -1 || cfg->port > 65535 || cfg->tls_port < -1 || cfg->tls_port > 65535) {
        snprintf(why, cap, "port out of range (0..65535, -1 = off)");
        return BF_EINVAL;
    }
    bool tls = cfg->cert_file || cfg->key_file;
    if (tls && !(cfg->cert_file && cfg->key_file)) {
        snprintf(why, cap, "TLS needs both a certificate and a key file");
        return BF_EINVAL;
    }
    if (cfg->port == -1 && !(tls && cfg->tls_port != -1)) {
        snprintf(why, cap, "nothing to listen on (plain port off and no TLS)");
        return BF_EINVAL;
    }
    fault_spec f;
    for (size_t i = 0; i < cfg->nfaults; i++)
        if (fault_parse(cfg->faults[i], &f, why, cap) < 0)
            return BF_EINVAL;
    return 0;
}

static int create_context(sim_server *s, char *why, size_t cap)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (s->cert)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = s;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.max_http_header_data = URL_MAX;
    lws_set_log_level(LLL_ERR, NULL);
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(why, cap, "cannot create the libwebsockets context");
        return BF_ENET;
    }
    if (s->cfg.port >= 0) {
        s->vh_plain = make_vhost(s, false, s->cfg.port, why, cap);
        if (!s->vh_plain)
            return BF_ENET;
        s->port = lws_get_vhost_listen_port(s->vh_plain);
    }
    if (s->cert && s->cfg.tls_port >= 0) {
        s->vh_tls = make_vhost(s, true, s->cfg.tls_port, why, cap);
        if (!s->vh_tls)
            return BF_ENET;
        s->tls_port = lws_get_vhost_listen_port(s->vh_tls);
    }
    return 0;
}

int sim_server_create(const sim_server_config *cfg, sim_server **out, char *why, size_t why_cap)
{
    *out = NULL;
    int rc = check_config(cfg, why, why_cap);
    if (rc < 0) {
        source_destroy(cfg->src);
        return rc;
    }
    sim_server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    apply_defaults(&s->cfg);
    s->src = cfg->src;
    s->host = xstrdup(s->cfg.host);
    s->cert = cfg->cert_file ? xstrdup(cfg->cert_file) : NULL;
    s->key = cfg->key_file ? xstrdup(cfg->key_file) : NULL;
    s->cfg.host = s->host;
    s->cfg.cert_file = s->cert;
    s->cfg.key_file = s->key;
    s->cfg.faults = NULL;
    s->port = s->tls_port = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->cmd_tail = &s->cmd_head;
    s->nbuckets = 64;
    s->buckets = xcalloc(s->nbuckets, sizeof *s->buckets);
    s->sched = fault_sched_create();
    s->nsym = s->src->ops->symbol_count(s->src);
    s->last_u = xcalloc(s->nsym + 1, sizeof *s->last_u);
    s->init_faults = xcalloc(cfg->nfaults + 1, sizeof *s->init_faults);
    for (size_t i = 0; i < cfg->nfaults; i++)
        fault_parse(cfg->faults[i], &s->init_faults[s->ninit++], why, why_cap);
    rc = create_context(s, why, why_cap);
    if (rc < 0) {
        sim_server_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sim_server_start(sim_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool running = s->running;
    pthread_mutex_unlock(&s->mu);
    if (running)
        return BF_ESTATE;
    s->start_ms = now_ms();
    /* Scheduled faults count from now. */
    for (size_t i = 0; i < s->ninit; i++)
        fault_sched_add(s->sched, &s->init_faults[i], s->start_ms);
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, tick, s->cfg.tick_ms * LWS_US_PER_MS);
    if (pthread_create(&s->thread, NULL, service_main, s) != 0)
        return BF_ESTATE;
    pthread_mutex_lock(&s->mu);
    s->running = true;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void sim_server_destroy(sim_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    bool running = s->running;
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    if (running) {
        lws_cancel_service(s->ctx);
        pthread_join(s->thread, NULL);
    }
    if (s->ctx) {
        lws_sul_cancel(&s->tick_sul);
        lws_context_destroy(s->ctx);
    }
    for (cmd *c = s->cmd_head, *n; c; c = n) {
        n = c->next;
        if (c->owned)
            free(c);
    }
    stream_free_all(s);
    fault_sched_destroy(s->sched);
    source_destroy(s->src);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->last_u);
    free(s->init_faults);
    free(s->host);
    free(s->cert);
    free(s->key);
    free(s);
}

int sim_server_port(const sim_server *s, bool tls)
{
    return tls ? s->tls_port : s->port;
}

int sim_server_urls_json(const sim_server *s, char *buf, size_t cap)
{
    json_t *j = json_object();
    char url[300];
    if (s->port >= 0) {
        snprintf(url, sizeof url, "http://%s:%d", s->host, s->port);
        json_object_set_new(j, "rest", json_string(url));
        snprintf(url, sizeof url, "ws://%s:%d", s->host, s->port);
        json_object_set_new(j, "ws", json_string(url));
    }
    if (s->tls_port >= 0) {
        snprintf(url, sizeof url, "https://%s:%d", s->host, s->tls_port);
        json_object_set_new(j, "rest_tls", json_string(url));
        snprintf(url, sizeof url, "wss://%s:%d", s->host, s->tls_port);
        json_object_set_new(j, "ws_tls", json_string(url));
    }
    json_t *syms = json_array();
    for (size_t i = 0; i < s->nsym; i++)
        json_array_append_new(syms, json_string(s->src->ops->symbol_at(s->src, i)));
    json_object_set_new(j, "symbols", syms);
    char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    size_t n = strlen(txt);
    int rc = n < cap ? (int)n : BF_ETOOBIG;
    if (rc >= 0)
        memcpy(buf, txt, n + 1);
    free(txt);
    return rc;
}

int sim_server_inject(sim_server *s, const char *spec, char *why, size_t why_cap)
{
    cmd *c = xcalloc(1, sizeof *c);
    if (fault_parse(spec, &c->spec, why, why_cap) < 0) {
        free(c);
        return BF_EINVAL;
    }
    c->kind = CMD_FAULT;
    c->owned = true;
    pthread_mutex_lock(&s->mu);
    *s->cmd_tail = c;
    s->cmd_tail = &c->next;
    bool running = s->running;
    pthread_mutex_unlock(&s->mu);
    if (running)
        lws_cancel_service(s->ctx);
    return 0;
}

void sim_server_set_quiet(sim_server *s, bool quiet)
{
    cmd c = { .kind = CMD_QUIET, .quiet = quiet };
    post_and_wait(s, &c);
}

void sim_server_get_stats(sim_server *s, sim_server_stats *out)
{
    cmd c = { .kind = CMD_STATS, .stats = out };
    post_and_wait(s, &c);
}
