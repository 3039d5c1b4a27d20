/* base_mutexq: a bounded ring under one mutex, two condvars, waiter counts (see base_mutexq.h). */
#include "base_mutexq.h"

#include "util/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mutexq {
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
    unsigned char *slots;
    size_t cap, item_size;
    size_t head, count; /* guarded by lock */
    unsigned push_waiters, pop_waiters;
};

mutexq *mutexq_create(size_t capacity, size_t item_size)
{
    mutexq *q = xcalloc(1, sizeof *q);
    q->cap = capacity ? capacity : 1;
    q->item_size = item_size;
    q->slots = xcalloc(q->cap, item_size);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_full, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    return q;
}

void mutexq_destroy(mutexq *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->lock);
    free(q->slots);
    free(q);
}

void mutexq_push(mutexq *q, const void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == q->cap) {
        q->push_waiters++;
        pthread_cond_wait(&q->not_full, &q->lock);
        q->push_waiters--;
    }
    size_t tail = (q->head + q->count) % q->cap;
    memcpy(q->slots + tail * q->item_size, item, q->item_size);
    q->count++;
    if (q->pop_waiters)
        pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

void mutexq_pop(mutexq *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0) {
        q->pop_waiters++;
        pthread_cond_wait(&q->not_empty, &q->lock);
        q->pop_waiters--;
    }
    memcpy(item, q->slots + q->head * q->item_size, q->item_size);
    q->head = (q->head + 1) % q->cap;
    q->count--;
    if (q->push_waiters)
        pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}
