/*
 * memacct: where the memory goes, cheap enough to read every second (the seed's MemoryTracker).
 *
 * Modules that hold bulk memory (books, rings, decoders, sync buffers, recorder buffers) add and
 * subtract the bytes they hold with memacct_add(); the counters are process-wide relaxed atomics,
 * so any thread may add and any thread may read. memacct_read() adds the process RSS from
 * /proc/self/statm (one small read, no allocation).
 */
#ifndef BF_MEMACCT_H
#define BF_MEMACCT_H

#include <stddef.h>
#include <stdint.h>

typedef enum memacct_module {
    MEM_BOOK,
    MEM_SYNC,
    MEM_RING,
    MEM_DECODER,
    MEM_HIST,
    MEM_RECORDER,
    MEM_OTHER,
    MEM_MODULE_COUNT
} memacct_module;

typedef struct memacct_report {
    int64_t rss_bytes; /* -1 when /proc is unreadable */
    int64_t bytes[MEM_MODULE_COUNT];
    int64_t tracked_total;
} memacct_report;

void memacct_add(memacct_module m, int64_t delta_bytes);
int64_t memacct_get(memacct_module m);
void memacct_read(memacct_report *out);
const char *memacct_module_name(memacct_module m);
/* Process resident set size in bytes, or -1. */
int64_t memacct_rss_bytes(void);

#endif
