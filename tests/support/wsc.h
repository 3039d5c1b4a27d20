/*
 * wsc: a small blocking WebSocket (RFC 6455) and HTTP/1.1 client for tests, over plain TCP or TLS
 * (OpenSSL, peer verified against a CA file). It shows the wire as it is: every frame with its
 * opcode and FIN bit (fragments and control frames included), close codes, raw HTTP responses on
 * a kept-alive connection. Every read takes a timeout in milliseconds and returns BF_ETIMEDOUT
 * when it passes, so tests wait on conditions, never on sleeps.
 *
 * One wsc belongs to one thread. Test code only; errors are BF_E* codes with a sentence in why.
 */
#ifndef BF_TEST_WSC_H
#define BF_TEST_WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wsc_opcode {
    WSC_CONT = 0x0,
    WSC_TEXT = 0x1,
    WSC_BINARY = 0x2,
    WSC_CLOSE = 0x8,
    WSC_PING = 0x9,
    WSC_PONG = 0xA,
};

typedef struct wsc wsc;

/* One frame as received. data is NUL-terminated (malloc'd, may be empty). */
typedef struct wsc_frame {
    int opcode;
    bool fin;
    char *data;
    size_t len;
} wsc_frame;

/* A whole message: the data frames reassembled (nframes > 1 when it came fragmented), or a close
 * frame (opcode WSC_CLOSE, close_code, data = reason). */
typedef struct wsc_msg {
    int opcode;
    char *data;
    size_t len;
    unsigned nframes;
    int close_code; /* -1 when the close frame had no code */
} wsc_msg;

typedef struct wsc_http {
    int status;
    char *headers; /* the raw header block, "Name: value\r\n" lines */
    char *body;    /* NUL-terminated */
    size_t body_len;
} wsc_http;

/* TCP (ws://, http://) or TLS (wss://, https://) connection to the URL's host and port. ca_file
 * NULL with TLS: the system's default trust store. */
int wsc_open(const char *url, const char *ca_file, int timeout_ms, wsc **out, char *why,
             size_t why_cap);
/* wsc_open plus the WebSocket upgrade on the URL's path and query. A refused upgrade is
 * BF_EHTTP (the status is in why and wsc_last_status). */
int wsc_connect(const char *url, const char *ca_file, int timeout_ms, wsc **out, char *why,
                size_t why_cap);
void wsc_close(wsc *c);
int wsc_last_status(const wsc *c);
int wsc_fd(const wsc *c);

/* Send one frame (masked, as a client must). */
int wsc_send(wsc *c, int opcode, const void *data, size_t len, bool fin);
int wsc_send_text(wsc *c, const char *text);
int wsc_send_close(wsc *c, int code, const char *reason);

/* The next frame: 0, BF_ETIMEDOUT, BF_ECLOSED (the peer closed the TCP/TLS connection) or BF_ENET. */
int wsc_read_frame(wsc *c, int timeout_ms, wsc_frame *f);
void wsc_frame_free(wsc_frame *f);
/* Answer pings with pongs inside wsc_read_message (default on). */
void wsc_set_auto_pong(wsc *c, bool on);
/* The next data message or close frame; pings and pongs are consumed. */
int wsc_read_message(wsc *c, int timeout_ms, wsc_msg *m);
void wsc_msg_free(wsc_msg *m);

/* One HTTP/1.1 request on an open (non-upgraded) connection, keep-alive; body may be NULL. */
int wsc_http_request(wsc *c, const char *method, const char *path, const char *body, int timeout_ms,
                     wsc_http *r);
/* A header's value (case-insensitive name) copied into buf; false when absent. */
bool wsc_http_header(const wsc_http *r, const char *name, char *buf, size_t cap);
void wsc_http_free(wsc_http *r);

#endif
