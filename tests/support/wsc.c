/* wsc: blocking WebSocket / HTTP test client over TCP or OpenSSL (see wsc.h). */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define WSC_MAX_FRAME ((size_t)256 << 20)

struct wsc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char host[256];
    int port;
    char path[2048];
    char *buf; /* received, not yet consumed */
    size_t len, cap;
    bool auto_pong;
    int last_status;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t l = deadline - mono_ms();
    return l < 0 ? 0 : (int)l;
}

/* ---- URL ---- */

static int parse_url(wsc *c, const char *url, bool *tls, char *why, size_t cap)
{
    const char *p;
    if (strncmp(url, "ws://", 5) == 0 || strncmp(url, "http://", 7) == 0) {
        *tls = false;
    } else if (strncmp(url, "wss://", 6) == 0 || strncmp(url, "https://", 8) == 0) {
        *tls = true;
    } else {
        snprintf(why, cap, "unsupported URL '%s'", url);
        return BF_EINVAL;
    }
    p = strstr(url, "://") + 3;
    size_t hl = strcspn(p, ":/?");
    if (hl == 0 || hl >= sizeof c->host) {
        snprintf(why, cap, "no host in '%s'", url);
        return BF_EINVAL;
    }
    memcpy(c->host, p, hl);
    c->host[hl] = '\0';
    p += hl;
    c->port = *tls ? 443 : 80;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (v <= 0 || v > 65535) {
            snprintf(why, cap, "bad port in '%s'", url);
            return BF_EINVAL;
        }
        c->port = (int)v;
        p = end;
    }
    snprintf(c->path, sizeof c->path, "%s%s", *p == '/' ? "" : "/", p);
    return 0;
}

/* ---- transport ---- */

static int tcp_connect(wsc *c, int timeout_ms, char *why, size_t cap)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    if (getaddrinfo(c->host, port, &hints, &res) != 0) {
        snprintf(why, cap, "cannot resolve %s", c->host);
        return BF_ENET;
    }
    c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = c->fd < 0 ? -1 : connect(c->fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
        int err = 0;
        socklen_t el = sizeof err;
        if (poll(&pfd, 1, timeout_ms) == 1 &&
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
            rc = 0;
        else
            errno = err ? err : ETIMEDOUT;
    }
    if (rc < 0) {
        snprintf(why, cap, "connect to %s:%d failed: %s", c->host, c->port, strerror(errno));
        return BF_ENET;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

/* Wait until the socket is ready for what SSL (or the plain socket) needs. */
static int wait_io(wsc *c, bool for_write, int64_t deadline)
{
    struct pollfd pfd = { .fd = c->fd, .events = for_write ? POLLOUT : POLLIN };
    int rc = poll(&pfd, 1, left_ms(deadline));
    if (rc == 0)
        return BF_ETIMEDOUT;
    return rc < 0 ? BF_ENET : 0;
}

/* An SSL call's outcome: 1 retry (after waiting), 0 closed, negative error. */
static int ssl_retry(wsc *c, int ret, int64_t deadline)
{
    int e = SSL_get_error(c->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        int rc = wait_io(c, e == SSL_ERROR_WANT_WRITE, deadline);
        return rc < 0 ? rc : 1;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ret == 0))
        return 0;
    return BF_ENET;
}

static int tls_handshake(wsc *c, const char *ca_file, int timeout_ms, char *why, size_t cap)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        snprintf(why, cap, "cannot load CA %s", ca_file ? ca_file : "(default)");
        return BF_ENET;
    }
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    unsigned char ip[16];
    if (inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, c->host);
        SSL_set1_host(c->ssl, c->host);
    }
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int ret = SSL_connect(c->ssl);
        if (ret == 1)
            return 0;
        int r = ssl_retry(c, ret, deadline);
        if (r <= 0) {
            long v = SSL_get_verify_result(c->ssl);
            snprintf(why, cap, "TLS handshake with %s failed: %s", c->host,
                     v != X509_V_OK ? X509_verify_cert_error_string(v) : "connection error");
            return BF_ENET;
        }
    }
}

static int write_all(wsc *c, const void *data, size_t len)
{
    const char *p = data;
    int64_t deadline = mono_ms() + 10000;
    while (len) {
        ssize_t n;
        if (c->ssl) {
            int ret = SSL_write(c->ssl, p, (int)len);
            if (ret <= 0) {
                int r = ssl_retry(c, ret, deadline);
                if (r <= 0)
                    return r == 0 ? BF_ECLOSED : r;
                continue;
            }
            n = ret;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                int r = wait_io(c, true, deadline);
                if (r < 0)
                    return r;
                continue;
            }
            if (n < 0)
                return errno == EPIPE || errno == ECONNRESET ? BF_ECLOSED : BF_ENET;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read more bytes into the buffer: 0, BF_ETIMEDOUT, BF_ECLOSED or BF_ENET. */
static int read_more(wsc *c, int64_t deadline)
{
    if (c->cap - c->len < 16384) {
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->buf = realloc(c->buf, c->cap + 1);
    }
    for (;;) {
        if (c->ssl) {
            int ret = SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len));
            if (ret > 0) {
                c->len += (size_t)ret;
                return 0;
            }
            int r = ssl_retry(c, ret, deadline);
            if (r <= 0)
                return r == 0 ? BF_ECLOSED : r;
            continue;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return BF_ECLOSED;
        if (errno == ECONNRESET)
            return BF_ECLOSED;
        if (errno != EAGAIN && errno != EINTR)
            return BF_ENET;
        int r = wait_io(c, false, deadline);
        if (r < 0)
            return r;
    }
}

static int fill(wsc *c, size_t need, int64_t deadline)
{
    while (c->len < need) {
        int rc = read_more(c, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void consume(wsc *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

int wsc_open(const char *url, const char *ca_file, int timeout_ms, wsc **out, char *why,
             size_t why_cap)
{
    *out = NULL;
    wsc *c = calloc(1, sizeof *c);
    c->fd = -1;
    c->auto_pong = true;
    bool tls;
    int rc = parse_url(c, url, &tls, why, why_cap);
    if (rc == 0)
        rc = tcp_connect(c, timeout_ms, why, why_cap);
    if (rc == 0 && tls)
        rc = tls_handshake(c, ca_file, timeout_ms, why, why_cap);
    if (rc < 0) {
        wsc_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void wsc_close(wsc *c)
{
    if (!c)
        return;
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

int wsc_last_status(const wsc *c)
{
    return c->last_status;
}

int wsc_fd(const wsc *c)
{
    return c->fd;
}

/* ---- HTTP ---- */

/* Read a header block ending in CRLFCRLF; returns its length (terminator included). */
static int read_head(wsc *c, int64_t deadline, size_t *head_len)
{
    for (;;) {
        if (c->len) {
            c->buf[c->len] = '\0';
            char *e = strstr(c->buf, "\r\n\r\n");
            if (e) {
                *head_len = (size_t)(e - c->buf) + 4;
                return 0;
            }
        }
        int rc = read_more(c, deadline);
        if (rc < 0)
            return rc;
    }
}

static bool header_in(const char *headers, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = headers; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            snprintf(buf, cap, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

bool wsc_http_header(const wsc_http *r, const char *name, char *buf, size_t cap)
{
    return r->headers && header_in(r->headers, name, buf, cap);
}

void wsc_http_free(wsc_http *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

int wsc_http_request(wsc *c, const char *method, const char *path, const char *body, int timeout_ms,
                     wsc_http *r)
{
    memset(r, 0, sizeof *r);
    int64_t deadline = mono_ms() + timeout_ms;
    size_t bl = body ? strlen(body) : 0;
    char head[3072];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, c->host, c->port, bl);
    int rc = write_all(c, head, (size_t)n);
    if (rc == 0 && bl)
        rc = write_all(c, body, bl);
    size_t hl = 0;
    if (rc == 0)
        rc = read_head(c, deadline, &hl);
    if (rc < 0)
        return rc;
    r->headers = strndup(c->buf, hl);
    r->status = (int)strtol(strchr(r->headers, ' ') ? strchr(r->headers, ' ') + 1 : "0", NULL, 10);
    char cl[32];
    size_t len = header_in(r->headers, "content-length", cl, sizeof cl) ? strtoul(cl, NULL, 10) : 0;
    consume(c, hl);
    rc = fill(c, len, deadline);
    if (rc < 0)
        return rc;
    r->body = strndup(c->buf, len);
    r->body_len = len;
    consume(c, len);
    return 0;
}

/* ---- WebSocket ---- */

static void accept_key(const char *key, char *out)
{
    char cat[128];
    unsigned char sha[SHA_DIGEST_LENGTH];
    int n = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((unsigned char *)cat, (size_t)n, sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
}

static int upgrade(wsc *c, int timeout_ms, char *why, size_t cap)
{
    unsigned char raw[16];
    char key[32], want[64], got[64];
    RAND_bytes(raw, sizeof raw);
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    char req[3072];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     c->path, c->host, c->port, key);
    int64_t deadline = mono_ms() + timeout_ms;
    size_t hl = 0;
    int rc = write_all(c, req, (size_t)n);
    if (rc == 0)
        rc = read_head(c, deadline, &hl);
    if (rc < 0) {
        snprintf(why, cap, "no upgrade answer from %s:%d (%s)", c->host, c->port, bf_strerror(rc));
        return rc;
    }
    char *head = strndup(c->buf, hl);
    consume(c, hl);
    c->last_status = (int)strtol(strchr(head, ' ') ? strchr(head, ' ') + 1 : "0", NULL, 10);
    accept_key(key, want);
    bool ok = c->last_status == 101 && header_in(head, "sec-websocket-accept", got, sizeof got) &&
              strcmp(got, want) == 0;
    free(head);
    if (!ok) {
        snprintf(why, cap, "upgrade refused: HTTP %d", c->last_status);
        return BF_EHTTP;
    }
    return 0;
}

int wsc_connect(const char *url, const char *ca_file, int timeout_ms, wsc **out, char *why,
                size_t why_cap)
{
    int rc = wsc_open(url, ca_file, timeout_ms, out, why, why_cap);
    if (rc < 0)
        return rc;
    rc = upgrade(*out, timeout_ms, why, why_cap);
    if (rc < 0) {
        wsc_close(*out);
        *out = NULL;
    }
    return rc;
}

int wsc_send(wsc *c, int opcode, const void *data, size_t len, bool fin)
{
    unsigned char hdr[14], mask[4];
    size_t h = 0;
    hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    RAND_bytes(mask, 4);
    memcpy(hdr + h, mask, 4);
    h += 4;
    unsigned char *frame = malloc(h + len + 1);
    memcpy(frame, hdr, h);
    for (size_t i = 0; i < len; i++)
        frame[h + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    int rc = write_all(c, frame, h + len);
    free(frame);
    return rc;
}

int wsc_send_text(wsc *c, const char *text)
{
    return wsc_send(c, WSC_TEXT, text, strlen(text), true);
}

int wsc_send_close(wsc *c, int code, const char *reason)
{
    char buf[128];
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 120)
        rl = 120;
    buf[0] = (char)(code >> 8);
    buf[1] = (char)code;
    if (rl)
        memcpy(buf + 2, reason, rl);
    return wsc_send(c, WSC_CLOSE, buf, rl + 2, true);
}

int wsc_read_frame(wsc *c, int timeout_ms, wsc_frame *f)
{
    memset(f, 0, sizeof *f);
    int64_t deadline = mono_ms() + timeout_ms;
    int rc = fill(c, 2, deadline);
    if (rc < 0)
        return rc;
    unsigned char *b = (unsigned char *)c->buf;
    size_t h = 2;
    uint64_t len = b[1] & 0x7f;
    bool masked = b[1] & 0x80;
    size_t ext = len == 126 ? 2 : len == 127 ? 8 : 0;
    if ((rc = fill(c, h + ext, deadline)) < 0)
        return rc;
    b = (unsigned char *)c->buf;
    if (ext) {
        len = 0;
        for (size_t i = 0; i < ext; i++)
            len = len << 8 | b[h + i];
        h += ext;
    }
    if (len > WSC_MAX_FRAME)
        return BF_ETOOBIG;
    size_t mh = masked ? 4 : 0;
    if ((rc = fill(c, h + mh + len, deadline)) < 0)
        return rc;
    b = (unsigned char *)c->buf;
    f->opcode = b[0] & 0x0f;
    f->fin = b[0] & 0x80;
    f->len = len;
    f->data = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        f->data[i] = (char)(b[h + mh + i] ^ (masked ? b[h + (i & 3)] : 0));
    f->data[len] = '\0';
    consume(c, h + mh + len);
    return 0;
}

void wsc_frame_free(wsc_frame *f)
{
    free(f->data);
    f->data = NULL;
}

void wsc_set_auto_pong(wsc *c, bool on)
{
    c->auto_pong = on;
}

void wsc_msg_free(wsc_msg *m)
{
    free(m->data);
    m->data = NULL;
}

static void close_msg(wsc_msg *m, wsc_frame *f)
{
    m->opcode = WSC_CLOSE;
    m->nframes = 1;
    m->close_code = f->len >= 2 ? ((unsigned char)f->data[0] << 8 | (unsigned char)f->data[1]) : -1;
    size_t rl = f->len >= 2 ? f->len - 2 : 0;
    m->data = malloc(rl + 1);
    memcpy(m->data, f->len >= 2 ? f->data + 2 : "", rl);
    m->data[rl] = '\0';
    m->len = rl;
    wsc_frame_free(f);
}

int wsc_read_message(wsc *c, int timeout_ms, wsc_msg *m)
{
    memset(m, 0, sizeof *m);
    m->close_code = -1;
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        wsc_frame f;
        int rc = wsc_read_frame(c, left_ms(deadline), &f);
        if (rc < 0) {
            wsc_msg_free(m);
            return rc;
        }
        if (f.opcode == WSC_PING && c->auto_pong)
            wsc_send(c, WSC_PONG, f.data, f.len, true);
        if (f.opcode == WSC_CLOSE) {
            wsc_msg_free(m);
            close_msg(m, &f);
            return 0;
        }
        if (f.opcode >= 0x8) {
            wsc_frame_free(&f);
            continue;
        }
        if (m->nframes == 0)
            m->opcode = f.opcode;
        m->data = realloc(m->data, m->len + f.len + 1);
        memcpy(m->data + m->len, f.data, f.len);
        m->len += f.len;
        m->data[m->len] = '\0';
        m->nframes++;
        bool fin = f.fin;
        wsc_frame_free(&f);
        if (fin)
            return 0;
    }
}
