/*
 * wsd: a small scripted WebSocket server for the ws client tests (libwebsockets, test code only).
 *
 * Owns its own lws context and service thread, listening on 127.0.0.1 at an ephemeral port, plain
 * or TLS (tests/data/tls/server.pem/.key). Connections are numbered 0, 1, ... in accept order; for
 * each the server records the request path (with the query) and every frame it receives (text,
 * with a CLOCK_MONOTONIC arrival stamp), and counts pongs. By default it answers SUBSCRIBE and
 * UNSUBSCRIBE frames with {"result":null,"id":N} like Binance.
 *
 * The test thread scripts it: push text (whole, or fragmented with NO_FIN/CONTINUATION), send
 * pings, close cleanly, drop the TCP connection abruptly, freeze a connection (stop reading and
 * writing: no pongs), or mute one stream on a connection. All calls are thread-safe; waits take a
 * deadline in milliseconds and return false when it passes.
 */
#ifndef BF_WSD_H
#define BF_WSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsd wsd;

/* NULL when the server cannot start (the reason is printed). tls uses the test certificate. */
wsd *wsd_start(bool tls);
void wsd_stop(wsd *w);
int wsd_port(const wsd *w);
void wsd_set_auto_reply(wsd *w, bool on);

int wsd_conn_count(wsd *w);
bool wsd_wait_conns(wsd *w, int n, int timeout_ms);
bool wsd_conn_open(wsd *w, int id);
bool wsd_wait_closed(wsd *w, int id, int timeout_ms);
/* The request path with its query ("/public/stream?streams=a/b"), malloc'd; NULL if no such id. */
char *wsd_conn_path(wsd *w, int id);

size_t wsd_frame_count(wsd *w, int id);
bool wsd_wait_frames(wsd *w, int id, size_t n, int timeout_ms);
/* A copy of frame i (malloc'd, NUL-terminated) and its arrival stamp; NULL if absent. */
char *wsd_frame(wsd *w, int id, size_t i, size_t *len, int64_t *mono_ns);

/* Queue a text message; frag > 0 splits it into frames of that size. -1 if not open. */
int wsd_send(wsd *w, int id, const char *data, size_t len, size_t frag);
/* Queue a text message that never ends: `fragment` is sent again and again as frames without FIN
 * (a hostile peer) until the connection closes; nothing queued after it goes out. -1 if not open
 * or len is 0. */
int wsd_send_endless(wsd *w, int id, const char *fragment, size_t len);
/* One binary message (opcode 2), one frame: a peer that is not a market stream. */
int wsd_send_binary(wsd *w, int id, const void *data, size_t len);
/* Queue a text message to every open connection; returns how many got it. */
int wsd_broadcast(wsd *w, const char *data, size_t len);
int wsd_ping(wsd *w, int id, const void *payload, size_t len);
/* Pongs received on a connection; the last payload is copied into last (up to cap). */
size_t wsd_pongs(wsd *w, int id, void *last, size_t cap, size_t *last_len);
bool wsd_wait_pongs(wsd *w, int id, size_t n, int timeout_ms);

int wsd_close(wsd *w, int id);  /* close frame 1000 */
int wsd_drop(wsd *w, int id);   /* TCP shutdown, no close frame */
int wsd_freeze(wsd *w, int id); /* stop reading and writing (pings go unanswered) */
/* Drop queued messages of this stream ({"stream":"<name>",...}) on that connection (NULL: none). */
void wsd_mute(wsd *w, int id, const char *stream);

#endif
