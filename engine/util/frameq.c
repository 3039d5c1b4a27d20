/*
 * frameq: lock-free SPSC queue of variable-size byte records (see frameq.h for the contract).
 *
 * Layout: a power-of-two byte arena addressed by free-running byte indices (tail - head is the
 * number of bytes in use). Each record is an 8-byte header holding its length, then the payload,
 * padded so the next header stays 8-byte aligned. A record never wraps: when it does not fit
 * between the tail and the end of the arena, the producer writes a PAD header there and places the
 * record at offset 0; the consumer skips a PAD header to the start of the arena. The pad and the
 * record are published by one release store of tail, so the consumer never sees a pad without the
 * record behind it.
 *
 * Records are limited to half the arena (minus the header): then, whatever offset an empty queue
 * sits at, either the tail end or the head end of the arena has room, so every legal record fits
 * once the consumer has caught up.
 */
#include "util/frameq.h"

#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define FQ_LINE      64
#define FQ_HDR       ((size_t)8)
#define FQ_MIN_ARENA ((size_t)64)
#define FQ_PAD       UINT64_MAX

struct frameq {
    /* Read-only after create. */
    alignas(FQ_LINE) unsigned char *arena;
    size_t size;

    /* Producer's line: the published tail, its cached head, and the pending reservation. */
    alignas(FQ_LINE) _Atomic size_t tail;
    size_t head_cache;
    size_t res_start; /* free-running index of the record header (after any pad) */
    size_t res_len;   /* payload bytes reserved */
    size_t res_skip;  /* pad bytes in front of the record (0 when no wrap) */
    int res_pending;

    /* Consumer's line: the published head, its cached tail, and where the peeked record ends. */
    alignas(FQ_LINE) _Atomic size_t head;
    size_t tail_cache;
    size_t peek_next;
};

static size_t round_pow2(size_t n)
{
    size_t p = FQ_MIN_ARENA;
    while (p < n)
        p <<= 1;
    return p;
}

/* Bytes a record of len payload bytes takes in the arena, header and alignment included. */
static size_t record_span(size_t len)
{
    return (FQ_HDR + len + 7) & ~(size_t)7;
}

frameq *frameq_create(size_t bytes)
{
    frameq *q = xaligned_alloc(FQ_LINE, sizeof *q);
    memset(q, 0, sizeof *q);
    q->size = round_pow2(bytes);
    q->arena = xaligned_alloc(FQ_LINE, q->size);
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    memacct_add(MEM_RING, (int64_t)frameq_mem_bytes(q));
    return q;
}

void frameq_destroy(frameq *q)
{
    if (!q)
        return;
    memacct_add(MEM_RING, -(int64_t)frameq_mem_bytes(q));
    xfree_aligned(q->arena);
    xfree_aligned(q);
}

static void put_header(frameq *q, size_t idx, uint64_t value)
{
    memcpy(q->arena + (idx & (q->size - 1)), &value, sizeof value);
}

static uint64_t get_header(const frameq *q, size_t idx)
{
    uint64_t value;
    memcpy(&value, q->arena + (idx & (q->size - 1)), sizeof value);
    return value;
}

/* Free bytes as seen by the producer, refreshing the cached head only when the cache says no. */
static int producer_has_room(frameq *q, size_t tail, size_t need)
{
    if (q->size - (tail - q->head_cache) >= need)
        return 1;
    q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
    return q->size - (tail - q->head_cache) >= need;
}

void *frameq_reserve(frameq *q, size_t len)
{
    if (len > frameq_max_record(q))
        return NULL;
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t off = tail & (q->size - 1);
    size_t span = record_span(len);
    size_t skip = span > q->size - off ? q->size - off : 0;
    if (!producer_has_room(q, tail, skip + span))
        return NULL;
    q->res_start = tail + skip;
    q->res_len = len;
    q->res_skip = skip;
    q->res_pending = 1;
    return q->arena + ((q->res_start + FQ_HDR) & (q->size - 1));
}

void frameq_commit(frameq *q, size_t len)
{
    assert(q->res_pending && len <= q->res_len);
    if (!q->res_pending)
        return;
    if (len > q->res_len)
        len = q->res_len;
    if (q->res_skip)
        put_header(q, q->res_start - q->res_skip, FQ_PAD);
    put_header(q, q->res_start, len);
    q->res_pending = 0;
    /* Release: header, pad and payload are visible before the consumer can see the new tail. */
    atomic_store_explicit(&q->tail, q->res_start + record_span(len), memory_order_release);
}

/* Is there a record at head? Refreshes the cached tail only when the cache says empty. */
static int consumer_has_record(frameq *q, size_t head)
{
    if (head != q->tail_cache)
        return 1;
    q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
    return head != q->tail_cache;
}

const void *frameq_peek(frameq *q, size_t *len)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (!consumer_has_record(q, head))
        return NULL;
    uint64_t hdr = get_header(q, head);
    if (hdr == FQ_PAD) {
        head += q->size - (head & (q->size - 1));
        hdr = get_header(q, head);
    }
    if (len)
        *len = (size_t)hdr;
    q->peek_next = head + record_span((size_t)hdr);
    return q->arena + ((head + FQ_HDR) & (q->size - 1));
}

void frameq_release(frameq *q)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    assert(q->peek_next != head);
    if (q->peek_next == head)
        return; /* release without a peek: nothing to drop */
    /* Release: we are done reading the record before the producer may reuse its bytes. */
    atomic_store_explicit(&q->head, q->peek_next, memory_order_release);
}

size_t frameq_max_record(const frameq *q)
{
    return q->size / 2 - FQ_HDR;
}

size_t frameq_used(const frameq *q)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    size_t used = tail - head;
    return used > q->size ? q->size : used;
}

size_t frameq_mem_bytes(const frameq *q)
{
    return sizeof *q + q->size;
}
