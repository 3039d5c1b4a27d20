/* Tests for frameq: byte-exact round trips of every size, full, wrap with padding, short commits,
 * and a two-thread stress with pseudo-random sizes. */
#include <criterion/criterion.h>

#include "util/frameq.h"
#include "util/memacct.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

/* Byte i of record `seq`: depends on both so a shifted, stale or swapped record shows. */
static unsigned char pattern(uint64_t seq, size_t i)
{
    return (unsigned char)((seq * 131u + i * 7u + (i >> 8)) ^ 0xa5u);
}

static void fill(void *p, uint64_t seq, size_t len)
{
    unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        b[i] = pattern(seq, i);
}

static size_t first_mismatch(const void *p, uint64_t seq, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++) {
        if (b[i] != pattern(seq, i))
            return i;
    }
    return len;
}

static void push_record(frameq *q, uint64_t seq, size_t len)
{
    void *p = frameq_reserve(q, len);
    cr_assert_not_null(p, "reserve(%zu) for record %llu", len, (unsigned long long)seq);
    fill(p, seq, len);
    frameq_commit(q, len);
}

static void pop_record(frameq *q, uint64_t seq, size_t want_len)
{
    size_t len = 0;
    const void *p = frameq_peek(q, &len);
    cr_assert_not_null(p, "record %llu missing", (unsigned long long)seq);
    cr_assert_eq(len, want_len, "record %llu length", (unsigned long long)seq);
    cr_assert_eq(first_mismatch(p, seq, len), len, "record %llu content", (unsigned long long)seq);
    frameq_release(q);
}

Test(frameq, every_size_round_trips)
{
    frameq *q = frameq_create(4096);
    size_t max = frameq_max_record(q);
    cr_assert_geq(max, 1000);
    /* One at a time: sizes 1..max walk the tail through every offset and many wraps. */
    for (size_t len = 1; len <= max; len++) {
        push_record(q, len, len);
        pop_record(q, len, len);
    }
    /* Several queued at once, sizes varying. */
    for (uint64_t round = 0; round < 50; round++) {
        size_t sizes[4] = { 1, 7 + round, 300 + 13 * round, 8 * round };
        for (int i = 0; i < 4; i++)
            push_record(q, round * 4 + i, sizes[i]);
        for (int i = 0; i < 4; i++)
            pop_record(q, round * 4 + i, sizes[i]);
    }
    cr_assert_null(frameq_peek(q, NULL));
    cr_assert_eq(frameq_used(q), 0);
    frameq_destroy(q);
}

Test(frameq, max_record_fits_from_any_offset)
{
    frameq *q = frameq_create(256);
    size_t max = frameq_max_record(q);
    cr_assert_null(frameq_reserve(q, max + 1), "larger than max_record can never fit");
    for (size_t start = 0; start < 256; start += 8) {
        /* Empty queue whose head/tail sit at every 8-byte offset in turn. */
        push_record(q, start, max);
        pop_record(q, start, max);
        push_record(q, 1000 + start, 0);
        pop_record(q, 1000 + start, 0);
    }
    frameq_destroy(q);
}

Test(frameq, full_returns_null)
{
    frameq *q = frameq_create(256);
    cr_assert_eq(frameq_mem_bytes(q) >= 256, 1);
    /* 24-byte payload + 8-byte header = 32 bytes: exactly 8 fit. */
    for (uint64_t i = 0; i < 8; i++)
        push_record(q, i, 24);
    cr_assert_eq(frameq_used(q), 256);
    cr_assert_null(frameq_reserve(q, 0), "a full arena has no room even for an empty record");
    cr_assert_null(frameq_reserve(q, 24));
    pop_record(q, 0, 24);
    push_record(q, 8, 16); /* 24 bytes into the 32 just freed, at the arena start */
    cr_assert_null(frameq_reserve(q, 1), "8 bytes left: not enough for header + payload");
    for (uint64_t i = 1; i < 9; i++)
        pop_record(q, i, i == 8 ? 16 : 24);
    cr_assert_null(frameq_peek(q, NULL));
    frameq_destroy(q);
}

Test(frameq, wrap_inserts_padding)
{
    frameq *q = frameq_create(256);
    push_record(q, 1, 100); /* span 112 */
    push_record(q, 2, 100); /* span 112, tail at 224 */
    pop_record(q, 1, 100);
    pop_record(q, 2, 100);
    cr_assert_eq(frameq_used(q), 0);
    /* 32 bytes left before the end; a 48-byte span must skip them and start at offset 0. */
    unsigned char *first = frameq_reserve(q, 40);
    cr_assert_not_null(first);
    fill(first, 3, 40);
    frameq_commit(q, 40);
    cr_assert_eq(frameq_used(q), 32 + 48, "padding counts as used until the record is released");
    size_t len;
    const unsigned char *p = frameq_peek(q, &len);
    cr_assert_eq(p, first);
    cr_assert_eq(len, 40);
    cr_assert_eq(first_mismatch(p, 3, 40), 40);
    frameq_release(q);
    cr_assert_eq(frameq_used(q), 0);

    /* The next record lands right behind it, contiguous. */
    unsigned char *second = frameq_reserve(q, 8);
    cr_assert_eq(second, first + 48);
    fill(second, 0, 8);
    frameq_commit(q, 8);
    pop_record(q, 0, 8);
    frameq_destroy(q);
}

Test(frameq, exact_fit_at_end_needs_no_padding)
{
    frameq *q = frameq_create(256);
    unsigned char *base = frameq_reserve(q, 0);
    frameq_commit(q, 0);
    pop_record(q, 0, 0);
    push_record(q, 1, 112); /* span 120: tail at 128 */
    push_record(q, 2, 88);  /* span 96: tail at 224 */
    pop_record(q, 1, 112);
    unsigned char *tail_end = frameq_reserve(q, 24); /* span 32: ends exactly at 256 */
    cr_assert_eq(tail_end, base + 224, "fits without a pad when it ends exactly at the end");
    fill(tail_end, 3, 24);
    frameq_commit(q, 24);
    cr_assert_eq(frameq_used(q), 96 + 32);
    unsigned char *wrapped = frameq_reserve(q, 8);
    cr_assert_eq(wrapped, base, "the next record starts at offset 0 with no pad");
    fill(wrapped, 4, 8);
    frameq_commit(q, 8);
    pop_record(q, 2, 88);
    pop_record(q, 3, 24);
    pop_record(q, 4, 8);
    cr_assert_eq(frameq_used(q), 0);
    frameq_destroy(q);
}

Test(frameq, commit_shorter_than_reserved)
{
    frameq *q = frameq_create(1024);
    unsigned char *p = frameq_reserve(q, 200);
    cr_assert_not_null(p);
    fill(p, 5, 200);
    frameq_commit(q, 10);
    cr_assert_eq(frameq_used(q), 24, "only the committed length (8 + 10, aligned) is used");
    unsigned char *next = frameq_reserve(q, 30);
    cr_assert_eq(next, p + 24, "the unused reservation is handed out again");
    fill(next, 6, 30);
    frameq_commit(q, 30);
    pop_record(q, 5, 10);
    pop_record(q, 6, 30);
    frameq_destroy(q);
}

Test(frameq, peek_twice_returns_same_record)
{
    frameq *q = frameq_create(256);
    cr_assert_null(frameq_peek(q, NULL));
    push_record(q, 9, 17);
    size_t a, b;
    const void *p1 = frameq_peek(q, &a);
    const void *p2 = frameq_peek(q, &b);
    cr_assert_eq(p1, p2);
    cr_assert_eq(a, 17);
    cr_assert_eq(b, 17);
    frameq_release(q);
    cr_assert_null(frameq_peek(q, NULL));
    frameq_destroy(q);
}

/* ---- two-thread stress ---- */

enum { STRESS_N = 30000 };

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Record seq's reserved and committed sizes: mostly small, sometimes near the maximum. */
static void sizes_for(uint64_t *rng, size_t max, size_t *reserve, size_t *commit)
{
    uint64_t r = xorshift(rng);
    size_t len = (r & 7) == 0 ? max - (size_t)(r >> 8) % 64 : (size_t)(r >> 8) % 200;
    *reserve = len;
    *commit = (r & 0x30) == 0 ? len / 2 : len;
}

static void *stress_producer(void *arg)
{
    frameq *q = arg;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    size_t max = frameq_max_record(q);
    for (uint64_t seq = 0; seq < STRESS_N; seq++) {
        size_t res, com;
        sizes_for(&rng, max, &res, &com);
        void *p;
        while ((p = frameq_reserve(q, res)) == NULL)
            sched_yield(); /* full: let the consumer run */
        fill(p, seq, res);
        frameq_commit(q, com);
    }
    return NULL;
}

Test(frameq, two_thread_stress_random_sizes, .timeout = 120)
{
    frameq *q = frameq_create(4096);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stress_producer, q), 0);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    size_t max = frameq_max_record(q);
    uint64_t bad_len = 0, bad_data = 0;
    for (uint64_t seq = 0; seq < STRESS_N; seq++) {
        size_t res, com, len;
        sizes_for(&rng, max, &res, &com);
        const void *p;
        while ((p = frameq_peek(q, &len)) == NULL)
            sched_yield(); /* empty: let the producer run */
        bad_len += len != com;
        bad_data += first_mismatch(p, seq, len < com ? len : com) != (len < com ? len : com);
        frameq_release(q);
    }
    pthread_join(t, NULL);
    cr_assert_eq(bad_len, 0, "%llu records with a wrong length", (unsigned long long)bad_len);
    cr_assert_eq(bad_data, 0, "%llu records with wrong bytes", (unsigned long long)bad_data);
    cr_assert_null(frameq_peek(q, NULL));
    cr_assert_eq(frameq_used(q), 0);
    frameq_destroy(q);
}

Test(frameq, memory_is_accounted)
{
    int64_t before = memacct_get(MEM_RING);
    frameq *q = frameq_create(3000);
    cr_assert_eq(frameq_max_record(q), 4096 / 2 - 8, "3000 rounds up to a 4096-byte arena");
    cr_assert_geq(frameq_mem_bytes(q), 4096);
    cr_assert_eq(memacct_get(MEM_RING) - before, (int64_t)frameq_mem_bytes(q));
    frameq_destroy(q);
    cr_assert_eq(memacct_get(MEM_RING), before, "destroy gives the bytes back");
}
