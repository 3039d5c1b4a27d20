/*
 * Tests for memacct: per-module counters, totals, exact sums under concurrent adds, the RSS
 * reading, and the book's figures moving as it grows and shrinks.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "market/book.h"
#include "util/memacct.h"

Test(memacct, add_and_get_per_module)
{
    int64_t ring0 = memacct_get(MEM_RING);
    int64_t rec0 = memacct_get(MEM_RECORDER);
    memacct_add(MEM_RING, 4096);
    memacct_add(MEM_RING, 1000);
    memacct_add(MEM_RECORDER, 77);
    cr_assert_eq(memacct_get(MEM_RING) - ring0, 5096);
    cr_assert_eq(memacct_get(MEM_RECORDER) - rec0, 77);
    memacct_add(MEM_RING, -5096);
    memacct_add(MEM_RECORDER, -77);
    cr_assert_eq(memacct_get(MEM_RING), ring0);
    cr_assert_eq(memacct_get(MEM_RECORDER), rec0);
}

Test(memacct, report_totals_match_modules)
{
    memacct_add(MEM_DECODER, 1234);
    memacct_add(MEM_OTHER, 8);
    memacct_report r;
    memacct_read(&r);
    int64_t sum = 0;
    for (int m = 0; m < MEM_MODULE_COUNT; m++) {
        cr_assert_eq(r.bytes[m], memacct_get((memacct_module)m));
        sum += r.bytes[m];
    }
    cr_assert_eq(r.tracked_total, sum);
    cr_assert_geq(r.bytes[MEM_DECODER], 1234);
    cr_assert_gt(r.rss_bytes, 0);
    memacct_add(MEM_DECODER, -1234);
    memacct_add(MEM_OTHER, -8);
}

Test(memacct, module_names_are_distinct)
{
    for (int a = 0; a < MEM_MODULE_COUNT; a++) {
        const char *na = memacct_module_name((memacct_module)a);
        cr_assert_not_null(na);
        cr_assert_gt(strlen(na), 0);
        for (int b = a + 1; b < MEM_MODULE_COUNT; b++)
            cr_assert_str_neq(na, memacct_module_name((memacct_module)b));
    }
    cr_assert_str_eq(memacct_module_name(MEM_BOOK), "book");
    cr_assert_str_eq(memacct_module_name(MEM_HIST), "hist");
}

enum { ADDERS = 4, ADDS_PER_THREAD = 1000000 };

static pthread_barrier_t start_gate;

static void *adder(void *arg)
{
    int64_t step = *(const int64_t *)arg;
    pthread_barrier_wait(&start_gate);
    for (int i = 0; i < ADDS_PER_THREAD; i++) {
        memacct_add(MEM_SYNC, step);
        memacct_add(MEM_OTHER, -1);
    }
    return NULL;
}

/* All four threads are released together so their adds really interleave; a lost update (a plain
 * read-modify-write) would leave the sums short. */
Test(threads, concurrent_adds_sum_exactly)
{
    int64_t sync0 = memacct_get(MEM_SYNC);
    int64_t other0 = memacct_get(MEM_OTHER);
    pthread_t tid[ADDERS];
    int64_t steps[ADDERS] = { 1, 2, 3, 5 };
    cr_assert_eq(pthread_barrier_init(&start_gate, NULL, ADDERS), 0);
    for (int i = 0; i < ADDERS; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, adder, &steps[i]), 0);
    for (int i = 0; i < ADDERS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&start_gate);
    cr_assert_eq(memacct_get(MEM_SYNC) - sync0, (int64_t)(1 + 2 + 3 + 5) * ADDS_PER_THREAD);
    cr_assert_eq(memacct_get(MEM_OTHER) - other0, -(int64_t)ADDERS * ADDS_PER_THREAD);
}

/* Keeps the allocation observable: without it clang may drop the malloc/memset/free triple. */
static char *volatile touched;

Test(memacct, rss_grows_after_touching_memory)
{
    const size_t big = 64u << 20;
    int64_t before = memacct_rss_bytes();
    cr_assert_gt(before, 0);
    touched = malloc(big);
    cr_assert_not_null(touched);
    memset(touched, 0x5a, big);
    int64_t after = memacct_rss_bytes();
    cr_assert_geq(after - before, (int64_t)big / 2, "rss grew by %lld only",
                  (long long)(after - before));
    free(touched);
    touched = NULL;
}

enum { FAR_LEVELS = 50000 };
static const int64_t far_base = 1000000, far_step = 1000;

static void fill_far_asks(book *b)
{
    for (int64_t i = 0; i < FAR_LEVELS; i++)
        cr_assert_eq(book_set(b, BOOK_ASK, far_base + i * far_step, 1 + i), 0);
    cr_assert_eq(book_count(b, BOOK_ASK), FAR_LEVELS);
}

/* The check: levels far from each other cannot fit the ladder, so the overflow storage
 * grows; the MEM_BOOK figure must follow it up, back down when the levels go, and to zero on
 * destroy. */
Test(memacct, book_figures_move_as_book_grows_and_shrinks)
{
    int64_t start = memacct_get(MEM_BOOK);
    book *b = book_create(NULL);
    int64_t created = memacct_get(MEM_BOOK);
    cr_assert_eq(created - start, (int64_t)book_mem_bytes(b), "book reports what it holds");

    fill_far_asks(b);
    int64_t grown = memacct_get(MEM_BOOK);
    cr_assert_geq(grown - created, (int64_t)(FAR_LEVELS * sizeof(book_level)),
                  "grew %lld bytes for %d levels", (long long)(grown - created), FAR_LEVELS);
    cr_assert_eq(grown - start, (int64_t)book_mem_bytes(b));

    for (int64_t i = 0; i < FAR_LEVELS; i++)
        cr_assert_eq(book_set(b, BOOK_ASK, far_base + i * far_step, 0), 0);
    cr_assert_eq(book_count(b, BOOK_ASK), 0);
    int64_t shrunk = memacct_get(MEM_BOOK);
    cr_assert_eq(shrunk - start, (int64_t)book_mem_bytes(b));
    cr_assert_lt(shrunk - created, (grown - created) / 4, "shrank to %lld from %lld",
                 (long long)(shrunk - created), (long long)(grown - created));

    book_destroy(b);
    cr_assert_eq(memacct_get(MEM_BOOK), start);
}

/* Same through book_clear: it may keep the memory, but the figure must still match the book's own
 * count and return to the start on destroy. */
Test(memacct, book_clear_then_destroy_balances)
{
    int64_t start = memacct_get(MEM_BOOK);
    book *b = book_create(NULL);
    fill_far_asks(b);
    int64_t grown = memacct_get(MEM_BOOK);
    book_clear(b);
    cr_assert_eq(book_count(b, BOOK_ASK), 0);
    cr_assert_eq(memacct_get(MEM_BOOK) - start, (int64_t)book_mem_bytes(b));
    cr_assert_leq(memacct_get(MEM_BOOK), grown);
    book_destroy(b);
    cr_assert_eq(memacct_get(MEM_BOOK), start);
}
