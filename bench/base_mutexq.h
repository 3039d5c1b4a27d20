/*
 * base_mutexq: the mutex + condition-variable baseline queue for bfbench: a bounded ring of
 * fixed-size items behind one pthread mutex, with one condvar for "not full" and one for "not
 * empty".
 *
 * Any number of threads may push and pop (the benchmark uses one of each). push blocks while the
 * queue is full and pop while it is empty, the way a typical hand-off queue is written. Signals are
 * sent only when a thread is actually waiting, the usual optimisation, so the baseline is not a
 * straw man. Only here to be measured against spsc.h.
 */
#ifndef BF_BENCH_BASE_MUTEXQ_H
#define BF_BENCH_BASE_MUTEXQ_H

#include <stddef.h>

typedef struct mutexq mutexq;

mutexq *mutexq_create(size_t capacity, size_t item_size);
void mutexq_destroy(mutexq *q);
/* Copy one item in, waiting while the queue is full. */
void mutexq_push(mutexq *q, const void *item);
/* Copy one item out, waiting while the queue is empty. */
void mutexq_pop(mutexq *q, void *item);

#endif
