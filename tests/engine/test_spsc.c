/* Tests for spsc: FIFO semantics, full/empty behaviour, batch wrap, rounding, two-thread stress. */
#include <criterion/criterion.h>

#include "util/err.h"
#include "util/memacct.h"
#include "util/spsc.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

Test(spsc, fifo_single_thread)
{
    spsc *q = spsc_create(16, sizeof(uint64_t));
    for (uint64_t v = 100; v < 110; v++)
        cr_assert_eq(spsc_push(q, &v), 0);
    cr_assert_eq(spsc_count(q), 10);
    for (uint64_t want = 100; want < 110; want++) {
        uint64_t got = 0;
        cr_assert_eq(spsc_pop(q, &got), 0);
        cr_assert_eq(got, want);
    }
    uint64_t none = 7;
    cr_assert_eq(spsc_pop(q, &none), BF_EAGAIN);
    cr_assert_eq(none, 7, "a failed pop must not touch the output");
    cr_assert_eq(spsc_count(q), 0);
    spsc_destroy(q);
}

Test(spsc, full_ring_fails_fast)
{
    spsc *q = spsc_create(8, sizeof(uint32_t));
    for (uint32_t v = 0; v < 8; v++)
        cr_assert_eq(spsc_push(q, &v), 0);
    uint32_t extra = 99;
    cr_assert_eq(spsc_push(q, &extra), BF_EAGAIN);
    cr_assert_eq(spsc_push_n(q, &extra, 1), 0);
    cr_assert_eq(spsc_count(q), 8);
    uint32_t got;
    cr_assert_eq(spsc_pop(q, &got), 0);
    cr_assert_eq(got, 0, "the rejected push must not have overwritten the oldest item");
    cr_assert_eq(spsc_push(q, &extra), 0, "one slot freed, one push fits");
    cr_assert_eq(spsc_push(q, &extra), BF_EAGAIN);
    cr_assert_eq(spsc_count(q), 8);
    spsc_destroy(q);
}

Test(spsc, capacity_rounds_up_to_power_of_two)
{
    const size_t asked[] = { 1, 2, 5, 8, 9, 1000, 1024 };
    const size_t want[] = { 1, 2, 8, 8, 16, 1024, 1024 };
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        spsc *q = spsc_create(asked[i], 4);
        cr_assert_eq(spsc_capacity(q), want[i], "capacity(%zu)", asked[i]);
        uint32_t v = 1;
        size_t pushed = 0;
        while (spsc_push(q, &v) == 0)
            pushed++;
        cr_assert_eq(pushed, want[i], "a ring of %zu must hold exactly that many", want[i]);
        cr_assert_gt(spsc_mem_bytes(q), want[i] * 4);
        spsc_destroy(q);
    }
}

Test(spsc, batch_across_wrap_point)
{
    spsc *q = spsc_create(8, sizeof(uint32_t));
    uint32_t in[16], out[16];
    for (uint32_t i = 0; i < 16; i++)
        in[i] = 1000 + i;
    /* Move both indices to slot 5 so the next batch straddles the end of the slot array. */
    cr_assert_eq(spsc_push_n(q, in, 5), 5);
    cr_assert_eq(spsc_pop_n(q, out, 5), 5);
    cr_assert_eq(spsc_push_n(q, in, 7), 7);
    cr_assert_eq(spsc_count(q), 7);
    memset(out, 0, sizeof out);
    cr_assert_eq(spsc_pop_n(q, out, 7), 7);
    cr_assert_arr_eq(out, in, 7 * sizeof in[0]);

    /* Short counts: more than fits, more than is queued. */
    cr_assert_eq(spsc_push_n(q, in, 16), 8);
    cr_assert_eq(spsc_push_n(q, in, 3), 0);
    memset(out, 0, sizeof out);
    cr_assert_eq(spsc_pop_n(q, out, 16), 8);
    cr_assert_arr_eq(out, in, 8 * sizeof in[0]);
    cr_assert_eq(spsc_pop_n(q, out, 4), 0);
    spsc_destroy(q);
}

/* Every item size the single-item path copies specially (8, 16, 32, 64 bytes, word by word), and
 * sizes that take the generic copy, from and to unaligned buffers: bytes come out exactly as they
 * went in, and neither side writes past its item. */
Test(spsc, item_sizes_round_trip_byte_exact)
{
    const size_t sizes[] = { 1, 4, 8, 12, 16, 24, 32, 40, 64, 72 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        spsc *q = spsc_create(4, size);
        unsigned char in[1 + 72], out[1 + 72 + 1];
        for (unsigned round = 0; round < 10; round++) { /* 10 > capacity: the slots are reused */
            for (size_t i = 0; i < size; i++)
                in[1 + i] = (unsigned char)(size * 7 + round * 13 + i * 3 + 1);
            memset(out, 0xEE, sizeof out);
            cr_assert_eq(spsc_push(q, in + 1), 0, "size %zu", size);
            cr_assert_eq(spsc_pop(q, out + 1), 0, "size %zu", size);
            cr_assert_arr_eq(out + 1, in + 1, size, "size %zu round %u", size, round);
            cr_assert_eq(out[0], 0xEE, "size %zu: pop wrote before the item", size);
            cr_assert_eq(out[1 + size], 0xEE, "size %zu: pop wrote past the item", size);
        }
        spsc_destroy(q);
    }
}

/* ---- two-thread stress ---- */

struct item {
    uint64_t seq;
    uint64_t a;
    uint64_t b;
    uint64_t check;
};

enum { STRESS_N = 200000, STRESS_CAP = 64, MAX_BATCH = 13 };

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    return x;
}

static struct item make_item(uint64_t seq)
{
    struct item it = { .seq = seq, .a = mix(seq), .b = ~seq };
    it.check = it.seq ^ it.a ^ it.b ^ 0x5a5a5a5a5a5a5a5aULL;
    return it;
}

/* Batch size for the call starting at seq: 1 means the single-item call. */
static size_t batch_for(uint64_t seq, unsigned salt)
{
    return (size_t)(mix(seq * 31 + salt) % MAX_BATCH) + 1;
}

static void *producer(void *arg)
{
    spsc *q = arg;
    struct item buf[MAX_BATCH];
    uint64_t seq = 0;
    while (seq < STRESS_N) {
        size_t n = batch_for(seq, 1);
        if (n > STRESS_N - seq)
            n = STRESS_N - seq;
        for (size_t i = 0; i < n; i++)
            buf[i] = make_item(seq + i);
        size_t done = n == 1 ? (spsc_push(q, buf) == 0) : spsc_push_n(q, buf, n);
        if (done == 0)
            sched_yield(); /* full: let the consumer run (2 shared cores) */
        seq += done;
    }
    return NULL;
}

struct consumer_result {
    uint64_t received;
    uint64_t bad_order;
    uint64_t bad_check;
};

static void check_item(const struct item *it, uint64_t want, struct consumer_result *r)
{
    if (it->seq != want)
        r->bad_order++;
    uint64_t check = it->seq ^ it->a ^ it->b ^ 0x5a5a5a5a5a5a5a5aULL;
    if (check != it->check || it->a != mix(it->seq) || it->b != ~it->seq)
        r->bad_check++;
}

static void consume_all(spsc *q, struct consumer_result *r)
{
    struct item buf[MAX_BATCH];
    while (r->received < STRESS_N) {
        size_t n = batch_for(r->received, 2);
        size_t got = n == 1 ? (spsc_pop(q, buf) == 0) : spsc_pop_n(q, buf, n);
        if (got == 0)
            sched_yield();
        for (size_t i = 0; i < got; i++)
            check_item(&buf[i], r->received + i, r);
        r->received += got;
    }
}

Test(spsc, two_thread_stress_order_and_checksum, .timeout = 120)
{
    spsc *q = spsc_create(STRESS_CAP, sizeof(struct item));
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, producer, q), 0);
    struct consumer_result r = { 0 };
    consume_all(q, &r);
    pthread_join(t, NULL);
    cr_assert_eq(r.received, STRESS_N);
    cr_assert_eq(r.bad_order, 0, "%llu items out of order", (unsigned long long)r.bad_order);
    cr_assert_eq(r.bad_check, 0, "%llu items corrupted", (unsigned long long)r.bad_check);
    cr_assert_eq(spsc_count(q), 0);
    struct item extra;
    cr_assert_eq(spsc_pop(q, &extra), BF_EAGAIN, "nothing beyond the N items");
    spsc_destroy(q);
}

Test(spsc, memory_is_accounted)
{
    int64_t before = memacct_get(MEM_RING);
    spsc *q = spsc_create(100, 32);
    cr_assert_geq(spsc_mem_bytes(q), 128 * 32);
    cr_assert_eq(memacct_get(MEM_RING) - before, (int64_t)spsc_mem_bytes(q));
    spsc_destroy(q);
    cr_assert_eq(memacct_get(MEM_RING), before, "destroy gives the bytes back");
}
