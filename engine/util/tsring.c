/*
 * tsring: fixed-capacity overwrite-oldest ring with per-slot seqlocks (see tsring.h for the
 * contract).
 *
 * Record i (0-based, counting every append since creation) lives in slot i % capacity. A slot's
 * sequence word is 2*i+1 while record i is being written and 2*(i+1) once it is complete, so a
 * reader that wants record i knows the exact value to expect: anything else means the slot has
 * moved on to a newer record. Payloads are stored as relaxed atomic 64-bit words, so a reader
 * racing the writer reads stale or mixed words (which the sequence check then rejects) without a
 * C11 data race; that is also what keeps ThreadSanitizer quiet without suppressions.
 *
 * Ordering (the classic C11 seqlock): the writer stores the odd sequence, issues a release fence,
 * stores the words, then stores the even sequence with release. The reader loads the sequence with
 * acquire, loads the words, issues an acquire fence, and reloads the sequence: if the words came
 * from a newer write, the fences make that write's odd sequence visible to the reload.
 */
#include "util/tsring.h"

#include "util/memacct.h"
#include "util/xalloc.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#define TS_LINE               64
#define TS_SPINS_BEFORE_YIELD 64

typedef _Atomic uint64_t aword;

struct tsring {
    /* Read-only after create. */
    alignas(TS_LINE) aword *slots; /* capacity * stride words: [seq, payload words...] per slot */
    size_t capacity;
    size_t record_size;
    size_t words;  /* payload words per record */
    size_t stride; /* words per slot: 1 + words */
    unsigned flags;

    /* Writer side: the number of completed appends, and the lock for TSRING_MULTI_WRITER. */
    alignas(TS_LINE) _Atomic uint64_t total;
    atomic_flag lock;
};

tsring *tsring_create(size_t capacity, size_t record_size, unsigned flags)
{
    tsring *r = xaligned_alloc(TS_LINE, sizeof *r);
    memset(r, 0, sizeof *r);
    r->capacity = capacity ? capacity : 1;
    r->record_size = record_size;
    r->words = (record_size + 7) / 8;
    r->stride = 1 + r->words;
    r->flags = flags;
    size_t nwords = r->capacity * r->stride;
    r->slots = xaligned_alloc(TS_LINE, nwords * sizeof(aword));
    for (size_t i = 0; i < nwords; i++)
        atomic_init(&r->slots[i], 0);
    atomic_init(&r->total, 0);
    atomic_flag_clear(&r->lock);
    memacct_add(MEM_RING, (int64_t)tsring_mem_bytes(r));
    return r;
}

void tsring_destroy(tsring *r)
{
    if (!r)
        return;
    memacct_add(MEM_RING, -(int64_t)tsring_mem_bytes(r));
    xfree_aligned(r->slots);
    xfree_aligned(r);
}

static void lock_writers(tsring *r)
{
    unsigned spins = 0;
    while (atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire)) {
        /* Two shared cores: a spinning writer must let the lock holder run. */
        if (++spins % TS_SPINS_BEFORE_YIELD == 0)
            sched_yield();
    }
}

static void store_words(aword *dst, const unsigned char *src, size_t size)
{
    for (size_t off = 0; off < size; off += 8, dst++) {
        uint64_t w = 0;
        memcpy(&w, src + off, size - off < 8 ? size - off : 8);
        atomic_store_explicit(dst, w, memory_order_relaxed);
    }
}

static void load_words(unsigned char *dst, const aword *src, size_t size)
{
    for (size_t off = 0; off < size; off += 8, src++) {
        uint64_t w = atomic_load_explicit(src, memory_order_relaxed);
        memcpy(dst + off, &w, size - off < 8 ? size - off : 8);
    }
}

void tsring_append(tsring *r, const void *record)
{
    int locked = r->flags & TSRING_MULTI_WRITER;
    if (locked)
        lock_writers(r);
    uint64_t i = atomic_load_explicit(&r->total, memory_order_relaxed);
    aword *slot = r->slots + (size_t)(i % r->capacity) * r->stride;
    atomic_store_explicit(&slot[0], 2 * i + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    store_words(slot + 1, record, r->record_size);
    atomic_store_explicit(&slot[0], 2 * (i + 1), memory_order_release);
    /* Release: readers that see the new total also see record i complete. */
    atomic_store_explicit(&r->total, i + 1, memory_order_release);
    if (locked)
        atomic_flag_clear_explicit(&r->lock, memory_order_release);
}

/* Copy record i into dst; 0 if the slot has already moved on to a newer record. */
static int read_record(const tsring *r, uint64_t i, unsigned char *dst)
{
    const aword *slot = r->slots + (size_t)(i % r->capacity) * r->stride;
    uint64_t want = 2 * (i + 1);
    if (atomic_load_explicit(&slot[0], memory_order_acquire) != want)
        return 0;
    load_words(dst, slot + 1, r->record_size);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&slot[0], memory_order_relaxed) == want;
}

size_t tsring_latest(const tsring *r, void *out, size_t n)
{
    uint64_t total = atomic_load_explicit(&r->total, memory_order_acquire);
    uint64_t k = n;
    if (k > r->capacity)
        k = r->capacity;
    if (k > total)
        k = total;
    /* Newest first: if the writer laps us, every record older than the first lost one is lost too,
     * so stopping there keeps the result a contiguous, untorn run. */
    unsigned char *dst = out;
    uint64_t first = total - k;
    uint64_t i = total;
    while (i > first && read_record(r, i - 1, dst + (size_t)(i - 1 - first) * r->record_size))
        i--;
    size_t got = (size_t)(total - i);
    if (got < k && got > 0)
        memmove(dst, dst + (size_t)(i - first) * r->record_size, got * r->record_size);
    return got;
}

uint64_t tsring_total(const tsring *r)
{
    return atomic_load_explicit(&r->total, memory_order_acquire);
}

size_t tsring_capacity(const tsring *r)
{
    return r->capacity;
}

size_t tsring_mem_bytes(const tsring *r)
{
    return sizeof *r + r->capacity * r->stride * sizeof(aword);
}
