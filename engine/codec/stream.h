/*
 * stream: the fast, schema-specific, allocation-free decoder for Binance stream messages.
 *
 * Decodes depthUpdate (diff and partial), bookTicker, aggTrade, trade, markPriceUpdate (single and
 * the !markPrice@arr array), kline, forceOrder and REST depth snapshots, raw or inside the combined
 * {"stream":..,"data":..} wrapper, with keys in any order and unknown fields ignored. The input is
 * validated as strict JSON with exactly jansson's rules (UTF-8, escapes, surrogates, integer range,
 * real overflow, nesting limit, duplicate keys rejected, nothing but whitespace after the value),
 * so malformed or truncated input is rejected with a BF_E* code and never read past `len`. Valid
 * JSON that is not a known message type is BF_EUNSUPPORTED. All buffers are allocated at create
 * time (the scratch for unescaped strings grows only when an escaped string is bigger than any
 * before). A decoder belongs to one thread; its results stay valid until its next call. It also
 * remembers the key order of the last message of each kind, for its fast path (docs/decoder.md):
 * a hint for speed only, which never changes a result.
 */
#ifndef BF_STREAM_H
#define BF_STREAM_H

#include "codec/event.h"

typedef struct stream_decoder stream_decoder;

/* lim may be NULL for the defaults. */
stream_decoder *stream_decoder_create(const stream_limits *lim);
void stream_decoder_destroy(stream_decoder *d);

/* Decode buf[0..len). 0 and *out filled, or a negative BF_E* code. */
int stream_decode(stream_decoder *d, const char *buf, size_t len, stream_msg *out);

/* Why the last call failed: a sentence with the byte offset ("unexpected '}' at byte 312"). */
const char *stream_decoder_error(const stream_decoder *d);
size_t stream_decoder_mem_bytes(const stream_decoder *d);

#endif
