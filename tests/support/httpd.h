/*
 * httpd: a small scripted HTTP/1.1 server for the REST client's tests. Test code only.
 *
 * Listens on 127.0.0.1 at an ephemeral port, plain or TLS (tests/data/tls/server.pem + server.key
 * under $BF_SOURCE_ROOT), keeps connections alive, and runs one thread per accepted connection.
 * Every request is recorded (path, arrival and reply stamps, the connection it came on). Replies
 * come from a script: rules matched by path prefix in the order they were added; a rule with
 * `times` expires after that many matches. Unmatched requests get 200 "{}".
 *
 * A rule can hold its reply behind a gate until the test opens it, delay it, or drop the connection
 * instead of answering. Hostile rules: a wrong content type, a body padded with spaces to any size
 * (written in pieces, never held in memory whole), or a reply trickled one byte at a time (until
 * the peer closes or the server stops). All functions may be called from any thread; httpd_stop joins every server
 * thread (gated replies are released unanswered).
 */
#ifndef BF_TEST_HTTPD_H
#define BF_TEST_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct httpd httpd;

#define HTTPD_MAX_GATES 8

typedef struct httpd_reply {
    int status;          /* 0: 200 */
    const char *headers; /* extra header lines, each ending in "\r\n"; NULL for none */
    const char *body;    /* NULL: "{}" */
    int64_t delay_ms;    /* answer this much later (server behaviour, not synchronisation) */
    int gate;            /* 1..HTTPD_MAX_GATES-1: answer only once the gate is open; 0: no gate */
    bool drop;           /* close the connection instead of answering */
    unsigned times;      /* the rule matches this many requests, then expires; 0: forever */
    /* Hostile peers: */
    const char *content_type; /* NULL: "application/json" */
    size_t pad_spaces;        /* this many spaces follow the body (counted in Content-Length) */
    int64_t trickle_ms;       /* write the reply one byte per trickle_ms (a slow-loris peer) */
} httpd_reply;

typedef struct httpd_request {
    char path[256];
    int64_t arrival_mono_ns, arrival_real_ns; /* the request's header block was complete */
    int64_t sent_mono_ns, sent_real_ns;       /* the reply was about to be written; 0 if none */
    unsigned conn;                            /* 0-based serial of the accepted connection */
    int status;                               /* the status answered, 0 for a drop */
} httpd_request;

/* A running server, or NULL (with a reason on stderr). */
httpd *httpd_start(bool tls);
void httpd_stop(httpd *s);

int httpd_port(const httpd *s);
/* "http://127.0.0.1:<port>" or "https://..." (owned by the server). */
const char *httpd_url(const httpd *s);

/* Add a rule; strings are copied. */
void httpd_on(httpd *s, const char *path_prefix, const httpd_reply *reply);
void httpd_open_gate(httpd *s, int gate);

size_t httpd_request_count(httpd *s);
/* Copy of the i-th request (arrival order); false when there is no such request. */
bool httpd_request_at(httpd *s, size_t i, httpd_request *out);
unsigned httpd_conns(httpd *s);       /* connections accepted so far */
unsigned httpd_peak_active(httpd *s); /* most requests being answered at the same time */

/* Wait (up to timeout_ms) until at least n requests wait at `gate` / have arrived in total. */
bool httpd_wait_gated(httpd *s, int gate, unsigned n, int64_t timeout_ms);
bool httpd_wait_requests(httpd *s, size_t n, int64_t timeout_ms);

#endif
