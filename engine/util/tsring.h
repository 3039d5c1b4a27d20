/*
 * tsring: fixed-capacity time-series ring (ticks, mids, trades) with overwrite-oldest.
 *
 * O(1) append by one writer thread; any number of reader threads copy out the newest records with
 * tsring_latest() and never see a torn record: every slot carries a sequence number (a per-slot
 * seqlock), and a reader retries a slot the writer is overwriting. With TSRING_MULTI_WRITER,
 * appends from several threads are serialised by a spinlock (the seed's thread_safe option).
 * Records are opaque bytes of a fixed size chosen at creation.
 */
#ifndef BF_TSRING_H
#define BF_TSRING_H

#include <stddef.h>
#include <stdint.h>

typedef struct tsring tsring;

enum { TSRING_MULTI_WRITER = 1 };

tsring *tsring_create(size_t capacity, size_t record_size, unsigned flags);
void tsring_destroy(tsring *r);

/* Writer: append one record, overwriting the oldest when full. O(1), never blocks. */
void tsring_append(tsring *r, const void *record);

/* Reader: copy up to n newest records into out, oldest first; returns how many were copied. */
size_t tsring_latest(const tsring *r, void *out, size_t n);

/* Records appended since creation (monotonic; a cheap "has anything changed" version). */
uint64_t tsring_total(const tsring *r);
size_t tsring_capacity(const tsring *r);
size_t tsring_mem_bytes(const tsring *r);

#endif
