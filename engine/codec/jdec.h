/*
 * jdec: the jansson-based decoder of the same messages, into the same structs as stream.h.
 *
 * It is the reference the fast decoder is tested against (differential tests, benchmarks) and the
 * decoder for REST depth snapshot bodies on the live path. Rules are identical to stream.h: strict
 * JSON (json_loadb with JSON_REJECT_DUPLICATES), the same required/optional fields and types, the
 * same bounds. A decoder belongs to one thread; results stay valid until its next call.
 */
#ifndef BF_JDEC_H
#define BF_JDEC_H

#include "codec/event.h"

typedef struct jdec jdec;

jdec *jdec_create(const stream_limits *lim);
void jdec_destroy(jdec *d);
int jdec_decode(jdec *d, const char *buf, size_t len, stream_msg *out);
const char *jdec_error(const jdec *d);

#endif
