/*
 * spsc: lock-free single-producer single-consumer ring of fixed-size items.
 *
 * Exactly one producer thread calls the push functions and exactly one consumer thread calls the
 * pop functions; either may call spsc_count(). C11 acquire/release atomics; head and tail live on
 * their own cache lines and each side caches the other side's index, so the shared lines move only
 * when the cached view runs out. Capacity is rounded up to a power of two. A full ring makes push
 * fail at once (BF_EAGAIN / a short count): the caller decides whether to drop and count or to
 * wait. Nothing here ever blocks or allocates after spsc_create().
 */
#ifndef BF_SPSC_H
#define BF_SPSC_H

#include <stddef.h>

typedef struct spsc spsc;

/* A ring of at least `capacity` items of `item_size` bytes each. */
spsc *spsc_create(size_t capacity, size_t item_size);
void spsc_destroy(spsc *q);

/* Producer: copy one item in. 0, or BF_EAGAIN when full. */
int spsc_push(spsc *q, const void *item);
/* Producer: copy up to n items in; returns how many were pushed (0..n). */
size_t spsc_push_n(spsc *q, const void *items, size_t n);
/* Consumer: copy one item out. 0, or BF_EAGAIN when empty. */
int spsc_pop(spsc *q, void *item);
/* Consumer: copy up to n items out; returns how many were popped (0..n). */
size_t spsc_pop_n(spsc *q, void *items, size_t n);

/* Items currently queued (exact for the calling side, a snapshot for the other). */
size_t spsc_count(const spsc *q);
size_t spsc_capacity(const spsc *q);
/* Bytes held by the ring (for memory accounting). */
size_t spsc_mem_bytes(const spsc *q);

#endif
