/* httpd: the scripted HTTP/1.1 test server (see httpd.h). One thread per connection, blocking I/O. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/clk.h"
#include "util/xalloc.h"

#define REQ_BUF 16384

typedef struct rule {
    char *prefix, *headers, *body, *ctype;
    httpd_reply reply;
    unsigned used;
} rule;

typedef struct conn {
    httpd *s;
    int fd;
    SSL *ssl;
    unsigned serial;
    pthread_t thread;
} conn;

struct httpd {
    int lfd, port;
    int wake[2]; /* stops the accept thread's poll */
    char url[64];
    SSL_CTX *tls;
    pthread_t acceptor;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change: request, gate, stop */
    bool stopping;
    rule *rules;
    size_t n_rules;
    httpd_request *reqs;
    size_t n_reqs;
    conn **conns;
    size_t n_conns;
    bool gate_open[HTTPD_MAX_GATES];
    unsigned gated[HTTPD_MAX_GATES];
    unsigned active, peak;
};

/* ---- I/O ---- */

static ssize_t conn_read(conn *c, char *buf, size_t cap)
{
    if (c->ssl) {
        int n = SSL_read(c->ssl, buf, (int)cap);
        return n > 0 ? n : -1;
    }
    ssize_t n;
    do {
        n = recv(c->fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? n : -1;
}

static bool conn_write(conn *c, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int w = SSL_write(c->ssl, buf, (int)len);
            n = w > 0 ? w : -1;
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
        }
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* ---- script and records (all under mu) ---- */

static size_t record_arrival(httpd *s, const char *path, unsigned serial)
{
    s->reqs = xreallocarray(s->reqs, s->n_reqs + 1, sizeof *s->reqs);
    httpd_request *r = &s->reqs[s->n_reqs];
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->arrival_mono_ns = clk_mono_ns();
    r->arrival_real_ns = clk_real_ns();
    r->conn = serial;
    if (++s->active > s->peak)
        s->peak = s->active;
    pthread_cond_broadcast(&s->cv);
    return s->n_reqs++;
}

static httpd_reply match_rule(httpd *s, const char *path)
{
    for (size_t i = 0; i < s->n_rules; i++) {
        rule *r = &s->rules[i];
        bool live = r->reply.times == 0 || r->used < r->reply.times;
        if (live && strncmp(path, r->prefix, strlen(r->prefix)) == 0) {
            r->used++;
            return r->reply;
        }
    }
    return (httpd_reply){ .status = 200 };
}

static void timed_wait_until(httpd *s, int64_t deadline_mono)
{
    int64_t now = clk_mono_ns();
    if (now >= deadline_mono)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t abs = (int64_t)ts.tv_sec * CLK_NS_PER_S + ts.tv_nsec + (deadline_mono - now);
    ts.tv_sec = abs / CLK_NS_PER_S;
    ts.tv_nsec = abs % CLK_NS_PER_S;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* Holds the reply behind its gate and delay; false when the server stops meanwhile. */
static bool hold_reply(httpd *s, const httpd_reply *r)
{
    int gate = r->gate > 0 && r->gate < HTTPD_MAX_GATES ? r->gate : 0;
    if (gate) {
        s->gated[gate]++;
        pthread_cond_broadcast(&s->cv);
        while (!s->gate_open[gate] && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        s->gated[gate]--;
    }
    int64_t until = clk_mono_ns() + r->delay_ms * CLK_NS_PER_MS;
    while (!s->stopping && clk_mono_ns() < until)
        timed_wait_until(s, until);
    return !s->stopping;
}

/* ---- one connection ---- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 418:
        return "I'm a teapot";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Writes one byte per r->trickle_ms; false when the peer went away or the server stops. */
static bool trickle(conn *c, const char *out, size_t len, int64_t trickle_ms)
{
    httpd *s = c->s;
    for (size_t i = 0; i < len; i++) {
        pthread_mutex_lock(&s->mu);
        int64_t until = clk_mono_ns() + trickle_ms * CLK_NS_PER_MS;
        while (!s->stopping && clk_mono_ns() < until)
            timed_wait_until(s, until);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop || !conn_write(c, out + i, 1))
            return false;
    }
    return true;
}

/* The padding of a huge body, in 64 KiB pieces. */
static bool write_spaces(conn *c, size_t n)
{
    char chunk[65536];
    memset(chunk, ' ', sizeof chunk);
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        if (!conn_write(c, chunk, k))
            return false;
        n -= k;
    }
    return true;
}

static bool send_reply(conn *c, size_t idx, const httpd_reply *r)
{
    const char *body = r->body ? r->body : "{}";
    const char *ctype = r->content_type ? r->content_type : "application/json";
    int status = r->status ? r->status : 200;
    size_t blen = strlen(body), cap = 512 + blen + (r->headers ? strlen(r->headers) : 0);
    cap += strlen(ctype);
    char *out = xmalloc(cap);
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%s\r\n%s",
                     status, reason_of(status), ctype, blen + r->pad_spaces,
                     r->headers ? r->headers : "", body);
    httpd *s = c->s;
    pthread_mutex_lock(&s->mu);
    s->reqs[idx].status = status;
    s->reqs[idx].sent_mono_ns = clk_mono_ns();
    s->reqs[idx].sent_real_ns = clk_real_ns();
    pthread_mutex_unlock(&s->mu);
    bool ok = n > 0;
    if (ok && r->trickle_ms > 0)
        ok = trickle(c, out, (size_t)n, r->trickle_ms);
    else if (ok)
        ok = conn_write(c, out, (size_t)n) && write_spaces(c, r->pad_spaces);
    free(out);
    return ok;
}

/* Answers one complete request head; false when the connection must close. */
static bool serve_request(conn *c, char *head)
{
    char path[256] = "";
    if (sscanf(head, "GET %255s HTTP/1.1", path) != 1)
        return false;
    httpd *s = c->s;
    pthread_mutex_lock(&s->mu);
    size_t idx = record_arrival(s, path, c->serial);
    httpd_reply r = match_rule(s, path);
    bool go = hold_reply(s, &r) && !r.drop;
    pthread_mutex_unlock(&s->mu);
    bool ok = go && send_reply(c, idx, &r);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void serve_conn(conn *c)
{
    char *buf = xmalloc(REQ_BUF + 1);
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) {
            ssize_t n = len < REQ_BUF ? conn_read(c, buf + len, REQ_BUF - len) : -1;
            if (n <= 0)
                break;
            len += (size_t)n;
            continue;
        }
        size_t used = (size_t)(end + 4 - buf);
        *end = '\0';
        if (!serve_request(c, buf))
            break;
        memmove(buf, buf + used, len - used);
        len -= used;
    }
    free(buf);
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    if (!c->ssl || SSL_accept(c->ssl) == 1)
        serve_conn(c);
    /* The fd stays open (closed by httpd_stop after the join) so it cannot be reused meanwhile. */
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

/* ---- accepting ---- */

static void start_conn(httpd *s, int fd)
{
    conn *c = xcalloc(1, sizeof *c);
    c->s = s;
    c->fd = fd;
    if (s->tls) {
        c->ssl = SSL_new(s->tls);
        SSL_set_fd(c->ssl, fd);
    }
    pthread_mutex_lock(&s->mu);
    c->serial = (unsigned)s->n_conns;
    s->conns = xreallocarray(s->conns, s->n_conns + 1, sizeof *s->conns);
    s->conns[s->n_conns++] = c;
    pthread_create(&c->thread, NULL, conn_main, c);
    pthread_mutex_unlock(&s->mu);
}

static void *accept_main(void *arg)
{
    httpd *s = arg;
    for (;;) {
        struct pollfd pf[2] = { { s->lfd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd >= 0)
            start_conn(s, fd);
    }
    return NULL;
}

static SSL_CTX *make_tls(void)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    char cert[1024], key[1024];
    snprintf(cert, sizeof cert, "%s/tests/data/tls/server.pem", root ? root : ".");
    snprintf(key, sizeof key, "%s/tests/data/tls/server.key", root ? root : ".");
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx && SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1)
        return ctx;
    fprintf(stderr, "httpd: cannot load %s / %s\n", cert, key);
    SSL_CTX_free(ctx);
    return NULL;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("httpd: listen");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

httpd *httpd_start(bool tls)
{
    signal(SIGPIPE, SIG_IGN);
    httpd *s = xcalloc(1, sizeof *s);
    s->tls = tls ? make_tls() : NULL;
    s->lfd = listen_local(&s->port);
    if ((tls && !s->tls) || s->lfd < 0 || pipe(s->wake) != 0) {
        SSL_CTX_free(s->tls);
        if (s->lfd >= 0)
            close(s->lfd);
        free(s);
        return NULL;
    }
    snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_create(&s->acceptor, NULL, accept_main, s);
    return s;
}

void httpd_stop(httpd *s)
{
    if (!s)
        return;
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
    pthread_join(s->acceptor, NULL);
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    for (size_t i = 0; i < s->n_conns; i++)
        shutdown(s->conns[i]->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->n_conns; i++) {
        conn *c = s->conns[i];
        pthread_join(c->thread, NULL);
        SSL_free(c->ssl);
        close(c->fd);
        free(c);
    }
    for (size_t i = 0; i < s->n_rules; i++) {
        free(s->rules[i].prefix);
        free(s->rules[i].headers);
        free(s->rules[i].body);
        free(s->rules[i].ctype);
    }
    free(s->rules);
    free(s->reqs);
    free(s->conns);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    SSL_CTX_free(s->tls);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int httpd_port(const httpd *s)
{
    return s->port;
}

const char *httpd_url(const httpd *s)
{
    return s->url;
}

void httpd_on(httpd *s, const char *path_prefix, const httpd_reply *reply)
{
    pthread_mutex_lock(&s->mu);
    s->rules = xreallocarray(s->rules, s->n_rules + 1, sizeof *s->rules);
    rule *r = &s->rules[s->n_rules++];
    r->prefix = xstrdup(path_prefix);
    r->headers = reply->headers ? xstrdup(reply->headers) : NULL;
    r->body = reply->body ? xstrdup(reply->body) : NULL;
    r->ctype = reply->content_type ? xstrdup(reply->content_type) : NULL;
    r->reply = *reply;
    r->reply.headers = r->headers;
    r->reply.body = r->body;
    r->reply.content_type = r->ctype;
    r->used = 0;
    pthread_mutex_unlock(&s->mu);
}

void httpd_open_gate(httpd *s, int gate)
{
    if (gate <= 0 || gate >= HTTPD_MAX_GATES)
        return;
    pthread_mutex_lock(&s->mu);
    s->gate_open[gate] = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

size_t httpd_request_count(httpd *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_reqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool httpd_request_at(httpd *s, size_t i, httpd_request *out)
{
    pthread_mutex_lock(&s->mu);
    bool ok = i < s->n_reqs;
    if (ok)
        *out = s->reqs[i];
    pthread_mutex_unlock(&s->mu);
    return ok;
}

unsigned httpd_conns(httpd *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = (unsigned)s->n_conns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned httpd_peak_active(httpd *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->peak;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool httpd_wait_gated(httpd *s, int gate, unsigned n, int64_t timeout_ms)
{
    if (gate <= 0 || gate >= HTTPD_MAX_GATES)
        return false;
    int64_t deadline = clk_mono_ns() + timeout_ms * CLK_NS_PER_MS;
    pthread_mutex_lock(&s->mu);
    while (s->gated[gate] < n && clk_mono_ns() < deadline)
        timed_wait_until(s, deadline);
    bool ok = s->gated[gate] >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool httpd_wait_requests(httpd *s, size_t n, int64_t timeout_ms)
{
    int64_t deadline = clk_mono_ns() + timeout_ms * CLK_NS_PER_MS;
    pthread_mutex_lock(&s->mu);
    while (s->n_reqs < n && clk_mono_ns() < deadline)
        timed_wait_until(s, deadline);
    bool ok = s->n_reqs >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}
