/*
 * frameq: lock-free SPSC queue of variable-size byte records (raw WebSocket frames, REST bodies).
 *
 * One producer thread, one consumer thread. Records are stored contiguously in one pre-allocated
 * byte arena (a record never wraps: the producer skips to the start with a padding marker), so a
 * frame of any size up to the arena's limit travels with zero mallocs. Usage:
 *
 *     producer: void *p = frameq_reserve(q, len);
 *               if (!p) { count a drop; } else { fill; frameq_commit(q, len); }
 *     consumer: size_t len; const void *p = frameq_peek(q, &len);
 *               if (p) { use; frameq_release(q); }
 *
 * reserve returns NULL at once when there is no room (never blocks); a record larger than
 * frameq_max_record() can never fit. The pointer from peek stays valid until release.
 */
#ifndef BF_FRAMEQ_H
#define BF_FRAMEQ_H

#include <stddef.h>

typedef struct frameq frameq;

/* An arena of at least `bytes` bytes (rounded up to a power of two). */
frameq *frameq_create(size_t bytes);
void frameq_destroy(frameq *q);

/* Producer: room for a record of len bytes, or NULL if it does not fit right now. */
void *frameq_reserve(frameq *q, size_t len);
/* Producer: publish the record from the last reserve; len may be <= the reserved length. */
void frameq_commit(frameq *q, size_t len);

/* Consumer: the oldest record and its length, or NULL if empty. */
const void *frameq_peek(frameq *q, size_t *len);
/* Consumer: drop the record returned by the last peek. */
void frameq_release(frameq *q);

/* Largest record that can ever be reserved. */
size_t frameq_max_record(const frameq *q);
/* Bytes currently used by queued records (snapshot). */
size_t frameq_used(const frameq *q);
size_t frameq_mem_bytes(const frameq *q);

#endif
