/* wsd: the scripted WebSocket test server (see wsd.h). Test code only. */
#include "wsd.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef enum tx_kind {
    TX_TEXT,
    TX_BINARY,
    TX_ENDLESS,
    TX_PING,
    TX_CLOSE,
    TX_DROP,
    TX_FREEZE
} tx_kind;

typedef struct txq {
    struct txq *next;
    tx_kind kind;
    unsigned char *buf; /* LWS_PRE bytes, then the payload */
    size_t len, off, frag;
} txq;

typedef struct rframe {
    char *data;
    size_t len;
    int64_t mono;
} rframe;

typedef struct sconn {
    struct lws *wsi;
    char *path;
    bool open, frozen;
    rframe *frames;
    size_t nframes, cap;
    char *rx;
    size_t rx_len, rx_cap;
    txq *head, *tail;
    size_t pongs;
    unsigned char last_pong[128];
    size_t last_pong_len;
    char mute[80];
} sconn;

struct wsd {
    struct lws_context *ctx;
    struct lws_protocols protos[2];
    pthread_t thread;
    atomic_bool stop;
    int port;
    bool auto_reply;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sconn **conns;
    int n, cap;
    char cert[1024], key[1024];
};

/* LeakSanitizer hook (weak in the runtime). When a client aborts the TLS handshake (the
 * certificate test), lws 4.1.6's server side keeps its vhost's SSL_CTX referenced past
 * lws_context_destroy. Only memory allocated under wsd_start (this server's context) is
 * excused; the ws client under test is still fully checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:wsd_start\n";
}

/* Full malloc stacks, so the suppression above can see wsd_start beneath libcrypto frames. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0:malloc_context_size=100";
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *xalloc0(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* ---- service thread side ---------------------------------------------------------------- */

static char *request_path(struct lws *wsi)
{
    char uri[4096] = "", args[8192] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0)
        lws_hdr_copy(wsi, args, sizeof args, WSI_TOKEN_HTTP_URI_ARGS);
    size_t n = strlen(uri) + strlen(args) + 2;
    char *p = xalloc0(n);
    snprintf(p, n, "%s%s%s", uri, args[0] ? "?" : "", args);
    return p;
}

static void on_established(wsd *w, struct lws *wsi)
{
    sconn *k = xalloc0(sizeof *k);
    k->wsi = wsi;
    k->path = request_path(wsi);
    k->open = true;
    lws_set_opaque_user_data(wsi, k);
    pthread_mutex_lock(&w->mu);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->conns = realloc(w->conns, (size_t)w->cap * sizeof *w->conns);
        if (!w->conns)
            abort();
    }
    w->conns[w->n++] = k;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void enqueue_locked(sconn *k, tx_kind kind, const void *data, size_t len, size_t frag)
{
    txq *t = xalloc0(sizeof *t);
    t->kind = kind;
    t->buf = xalloc0(LWS_PRE + len + 1);
    if (len)
        memcpy(t->buf + LWS_PRE, data, len);
    t->len = len;
    t->frag = frag;
    if (k->tail)
        k->tail->next = t;
    else
        k->head = t;
    k->tail = t;
}

/* Binance's answer to SUBSCRIBE / UNSUBSCRIBE. */
static void auto_reply(wsd *w, sconn *k, const char *d)
{
    if (!w->auto_reply || (!strstr(d, "\"SUBSCRIBE\"") && !strstr(d, "\"UNSUBSCRIBE\"")))
        return;
    const char *id = strstr(d, "\"id\":");
    if (!id)
        return;
    char reply[96];
    int n =
        snprintf(reply, sizeof reply, "{\"result\":null,\"id\":%lld}", strtoll(id + 5, NULL, 10));
    enqueue_locked(k, TX_TEXT, reply, (size_t)n, 0);
    lws_callback_on_writable(k->wsi);
}

static void on_receive(wsd *w, sconn *k, struct lws *wsi, const void *in, size_t len)
{
    if (k->rx_len + len + 1 > k->rx_cap) {
        k->rx_cap = (k->rx_len + len + 1) * 2;
        k->rx = realloc(k->rx, k->rx_cap);
        if (!k->rx)
            abort();
    }
    memcpy(k->rx + k->rx_len, in, len);
    k->rx_len += len;
    if (!lws_is_final_fragment(wsi))
        return;
    k->rx[k->rx_len] = '\0';
    pthread_mutex_lock(&w->mu);
    if (k->nframes == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->frames = realloc(k->frames, k->cap * sizeof *k->frames);
        if (!k->frames)
            abort();
    }
    rframe *f = &k->frames[k->nframes++];
    f->data = xalloc0(k->rx_len + 1);
    memcpy(f->data, k->rx, k->rx_len + 1);
    f->len = k->rx_len;
    f->mono = mono_ns();
    auto_reply(w, k, k->rx);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    k->rx_len = 0;
}

static bool muted(const sconn *k, const txq *t)
{
    char head[128];
    if (!k->mute[0] || t->kind != TX_TEXT)
        return false;
    int n = snprintf(head, sizeof head, "{\"stream\":\"%s\"", k->mute);
    return t->len >= (size_t)n && memcmp(t->buf + LWS_PRE, head, (size_t)n) == 0;
}

static void txq_free(txq *t)
{
    free(t->buf);
    free(t);
}

/* Writes the next piece of the head item; returns -1 to close the connection. */
static int write_text(struct lws *wsi, txq *t, bool *done)
{
    size_t chunk = t->frag ? t->frag : t->len;
    if (chunk > t->len - t->off)
        chunk = t->len - t->off;
    int first = t->kind == TX_BINARY ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
    int flags = t->off == 0 ? first : LWS_WRITE_CONTINUATION;
    if (t->off + chunk < t->len)
        flags |= LWS_WRITE_NO_FIN;
    /* lws puts the frame header in the LWS_PRE bytes before the pointer: for later fragments
     * those bytes were already sent, so overwriting them is harmless */
    if (lws_write(wsi, t->buf + LWS_PRE + t->off, chunk, (enum lws_write_protocol)flags) <
        (int)chunk)
        return -1;
    t->off += chunk;
    *done = t->off >= t->len;
    return 0;
}

/* One more fragment of a message that never ends: the item stays at the head of the queue. */
static int write_endless(struct lws *wsi, txq *t, bool *done)
{
    int flags = (t->off == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION) | LWS_WRITE_NO_FIN;
    if (lws_write(wsi, t->buf + LWS_PRE, t->len, (enum lws_write_protocol)flags) < (int)t->len)
        return -1;
    t->off += t->len;
    *done = false;
    return 0;
}

static int on_writeable(wsd *w, sconn *k, struct lws *wsi)
{
    pthread_mutex_lock(&w->mu);
    txq *t = k->frozen ? NULL : k->head;
    bool silenced = t && muted(k, t);
    pthread_mutex_unlock(&w->mu);
    if (!t)
        return 0;
    bool done = true;
    int rc = 0;
    if ((t->kind == TX_TEXT || t->kind == TX_BINARY) && !silenced) {
        rc = write_text(wsi, t, &done);
    } else if (t->kind == TX_ENDLESS) {
        rc = write_endless(wsi, t, &done);
    } else if (t->kind == TX_PING) {
        rc = lws_write(wsi, t->buf + LWS_PRE, t->len, LWS_WRITE_PING) < (int)t->len ? -1 : 0;
    } else if (t->kind == TX_CLOSE) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
        rc = -1;
    } else if (t->kind == TX_DROP) {
        shutdown(lws_get_socket_fd(wsi), SHUT_RDWR); /* no close frame can follow */
        rc = -1;
    } else if (t->kind == TX_FREEZE) {
        pthread_mutex_lock(&w->mu);
        k->frozen = true;
        pthread_mutex_unlock(&w->mu);
        lws_rx_flow_control(wsi, 0);
    }
    pthread_mutex_lock(&w->mu);
    if (done) {
        k->head = t->next;
        if (!k->head)
            k->tail = NULL;
        txq_free(t);
    }
    bool more = k->head && !k->frozen;
    pthread_mutex_unlock(&w->mu);
    if (rc == 0 && more)
        lws_callback_on_writable(wsi);
    return rc;
}

static void wake_writers(wsd *w)
{
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n; i++)
        if (w->conns[i]->open && w->conns[i]->head && !w->conns[i]->frozen)
            lws_callback_on_writable(w->conns[i]->wsi);
    pthread_mutex_unlock(&w->mu);
}

static int wsd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)user;
    wsd *w = lws_context_user(lws_get_context(wsi));
    sconn *k = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        on_established(w, wsi);
        break;
    case LWS_CALLBACK_RECEIVE:
        if (k)
            on_receive(w, k, wsi, in, len);
        break;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (k) {
            pthread_mutex_lock(&w->mu);
            k->pongs++;
            k->last_pong_len = len < sizeof k->last_pong ? len : sizeof k->last_pong;
            memcpy(k->last_pong, in, k->last_pong_len);
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (k)
            return on_writeable(w, k, wsi);
        break;
    case LWS_CALLBACK_CLOSED:
        if (k) {
            pthread_mutex_lock(&w->mu);
            k->open = false;
            k->wsi = NULL;
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
            lws_set_opaque_user_data(wsi, NULL);
        }
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (w)
            wake_writers(w);
        break;
    default:
        break;
    }
    return 0;
}

static void *service_main(void *arg)
{
    wsd *w = arg;
    while (!atomic_load(&w->stop))
        if (lws_service(w->ctx, 0) < 0)
            break;
    return NULL;
}

/* ---- test thread side ------------------------------------------------------------------- */

wsd *wsd_start(bool tls)
{
    wsd *w = xalloc0(sizeof *w);
    w->auto_reply = true;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->protos[0] =
        (struct lws_protocols){ .name = "wsd", .callback = wsd_cb, .rx_buffer_size = 65536 };
    struct lws_context_creation_info info = { 0 };
    info.port = 0; /* ephemeral */
    info.iface = "127.0.0.1";
    info.protocols = w->protos;
    info.user = w;
    info.max_http_header_data = 8192;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (tls) {
        const char *root = getenv("BF_SOURCE_ROOT");
        snprintf(w->cert, sizeof w->cert, "%s/tests/data/tls/server.pem", root ? root : ".");
        snprintf(w->key, sizeof w->key, "%s/tests/data/tls/server.key", root ? root : ".");
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = w->cert;
        info.ssl_private_key_filepath = w->key;
    }
    lws_set_log_level(LLL_ERR, NULL); /* before any lws thread runs in the test process */
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        fprintf(stderr, "wsd: cannot create the lws context\n");
        free(w);
        return NULL;
    }
    w->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(w->ctx, "default"));
    if (w->port <= 0 || pthread_create(&w->thread, NULL, service_main, w) != 0) {
        fprintf(stderr, "wsd: no listening port / thread\n");
        lws_context_destroy(w->ctx);
        free(w);
        return NULL;
    }
    return w;
}

static void sconn_free(sconn *k)
{
    for (size_t i = 0; i < k->nframes; i++)
        free(k->frames[i].data);
    free(k->frames);
    while (k->head) {
        txq *n = k->head->next;
        txq_free(k->head);
        k->head = n;
    }
    free(k->rx);
    free(k->path);
    free(k);
}

void wsd_stop(wsd *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    lws_cancel_service(w->ctx);
    pthread_join(w->thread, NULL);
    lws_context_destroy(w->ctx);
    for (int i = 0; i < w->n; i++)
        sconn_free(w->conns[i]);
    free(w->conns);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int wsd_port(const wsd *w)
{
    return w->port;
}

void wsd_set_auto_reply(wsd *w, bool on)
{
    pthread_mutex_lock(&w->mu);
    w->auto_reply = on;
    pthread_mutex_unlock(&w->mu);
}

typedef bool (*wsd_pred)(wsd *w, int id, size_t n);

static bool wait_for(wsd *w, wsd_pred pred, int id, size_t n, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    bool ok;
    while (!(ok = pred(w, id, n)))
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) != 0) {
            ok = pred(w, id, n);
            break;
        }
    pthread_mutex_unlock(&w->mu);
    return ok;
}

static sconn *conn_at(wsd *w, int id)
{
    return id >= 0 && id < w->n ? w->conns[id] : NULL;
}

static bool have_conns(wsd *w, int id, size_t n)
{
    (void)id;
    return (size_t)w->n >= n;
}

static bool is_closed(wsd *w, int id, size_t n)
{
    (void)n;
    return conn_at(w, id) && !conn_at(w, id)->open;
}

static bool have_frames(wsd *w, int id, size_t n)
{
    return conn_at(w, id) && conn_at(w, id)->nframes >= n;
}

static bool have_pongs(wsd *w, int id, size_t n)
{
    return conn_at(w, id) && conn_at(w, id)->pongs >= n;
}

int wsd_conn_count(wsd *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

bool wsd_wait_conns(wsd *w, int n, int timeout_ms)
{
    return wait_for(w, have_conns, 0, (size_t)n, timeout_ms);
}

bool wsd_conn_open(wsd *w, int id)
{
    pthread_mutex_lock(&w->mu);
    bool open = conn_at(w, id) && conn_at(w, id)->open;
    pthread_mutex_unlock(&w->mu);
    return open;
}

bool wsd_wait_closed(wsd *w, int id, int timeout_ms)
{
    return wait_for(w, is_closed, id, 0, timeout_ms);
}

char *wsd_conn_path(wsd *w, int id)
{
    pthread_mutex_lock(&w->mu);
    sconn *k = conn_at(w, id);
    char *p = k ? strdup(k->path) : NULL;
    pthread_mutex_unlock(&w->mu);
    return p;
}

size_t wsd_frame_count(wsd *w, int id)
{
    pthread_mutex_lock(&w->mu);
    size_t n = conn_at(w, id) ? conn_at(w, id)->nframes : 0;
    pthread_mutex_unlock(&w->mu);
    return n;
}

bool wsd_wait_frames(wsd *w, int id, size_t n, int timeout_ms)
{
    return wait_for(w, have_frames, id, n, timeout_ms);
}

char *wsd_frame(wsd *w, int id, size_t i, size_t *len, int64_t *mono)
{
    char *copy = NULL;
    pthread_mutex_lock(&w->mu);
    sconn *k = conn_at(w, id);
    if (k && i < k->nframes) {
        copy = xalloc0(k->frames[i].len + 1);
        memcpy(copy, k->frames[i].data, k->frames[i].len);
        if (len)
            *len = k->frames[i].len;
        if (mono)
            *mono = k->frames[i].mono;
    }
    pthread_mutex_unlock(&w->mu);
    return copy;
}

static int push(wsd *w, int id, tx_kind kind, const void *data, size_t len, size_t frag)
{
    pthread_mutex_lock(&w->mu);
    sconn *k = conn_at(w, id);
    int rc = -1;
    if (k && k->open) {
        enqueue_locked(k, kind, data, len, frag);
        rc = 0;
    }
    pthread_mutex_unlock(&w->mu);
    lws_cancel_service(w->ctx);
    return rc;
}

int wsd_send(wsd *w, int id, const char *data, size_t len, size_t frag)
{
    return push(w, id, TX_TEXT, data, len, frag);
}

int wsd_send_binary(wsd *w, int id, const void *data, size_t len)
{
    return push(w, id, TX_BINARY, data, len, 0);
}

int wsd_send_endless(wsd *w, int id, const char *fragment, size_t len)
{
    return len ? push(w, id, TX_ENDLESS, fragment, len, 0) : -1;
}

int wsd_broadcast(wsd *w, const char *data, size_t len)
{
    int sent = 0;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n; i++) {
        if (w->conns[i]->open && !w->conns[i]->frozen) {
            enqueue_locked(w->conns[i], TX_TEXT, data, len, 0);
            sent++;
        }
    }
    pthread_mutex_unlock(&w->mu);
    lws_cancel_service(w->ctx);
    return sent;
}

int wsd_ping(wsd *w, int id, const void *payload, size_t len)
{
    return push(w, id, TX_PING, payload, len > 125 ? 125 : len, 0);
}

size_t wsd_pongs(wsd *w, int id, void *last, size_t cap, size_t *last_len)
{
    pthread_mutex_lock(&w->mu);
    sconn *k = conn_at(w, id);
    size_t n = k ? k->pongs : 0;
    if (k && last) {
        size_t l = k->last_pong_len < cap ? k->last_pong_len : cap;
        memcpy(last, k->last_pong, l);
        if (last_len)
            *last_len = l;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

bool wsd_wait_pongs(wsd *w, int id, size_t n, int timeout_ms)
{
    return wait_for(w, have_pongs, id, n, timeout_ms);
}

int wsd_close(wsd *w, int id)
{
    return push(w, id, TX_CLOSE, NULL, 0, 0);
}

int wsd_drop(wsd *w, int id)
{
    return push(w, id, TX_DROP, NULL, 0, 0);
}

int wsd_freeze(wsd *w, int id)
{
    return push(w, id, TX_FREEZE, NULL, 0, 0);
}

void wsd_mute(wsd *w, int id, const char *stream)
{
    pthread_mutex_lock(&w->mu);
    sconn *k = conn_at(w, id);
    if (k)
        snprintf(k->mute, sizeof k->mute, "%s", stream ? stream : "");
    pthread_mutex_unlock(&w->mu);
}
