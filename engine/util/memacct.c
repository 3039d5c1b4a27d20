/*
 * memacct: process-wide byte counters per module plus the RSS read from /proc/self/statm.
 *
 * The counters are relaxed atomics: each one is an independent tally, nothing is published through
 * them, so no ordering is needed and an add costs one locked instruction. Any thread may call any
 * function here. Nothing allocates.
 */
#include "util/memacct.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

static _Atomic int64_t module_bytes[MEM_MODULE_COUNT];

static const char *const module_names[MEM_MODULE_COUNT] = {
    [MEM_BOOK] = "book",       [MEM_SYNC] = "sync", [MEM_RING] = "ring",
    [MEM_DECODER] = "decoder", [MEM_HIST] = "hist", [MEM_RECORDER] = "recorder",
    [MEM_OTHER] = "other",
};

static int module_valid(memacct_module m)
{
    return (unsigned)m < MEM_MODULE_COUNT;
}

void memacct_add(memacct_module m, int64_t delta_bytes)
{
    /* An unknown module is a caller bug, but accounting must never crash the monitor: fold it into
     * "other" so the total still balances. */
    if (!module_valid(m))
        m = MEM_OTHER;
    atomic_fetch_add_explicit(&module_bytes[m], delta_bytes, memory_order_relaxed);
}

int64_t memacct_get(memacct_module m)
{
    if (!module_valid(m))
        return 0;
    return atomic_load_explicit(&module_bytes[m], memory_order_relaxed);
}

const char *memacct_module_name(memacct_module m)
{
    return module_valid(m) ? module_names[m] : "unknown";
}

/* Parse the unsigned decimal field number `index` (0-based) of a space-separated line; -1 if
 * absent. */
static int64_t statm_field(const char *buf, size_t len, int index)
{
    size_t i = 0;
    for (int field = 0; field < index; field++) {
        while (i < len && buf[i] != ' ')
            i++;
        if (i == len)
            return -1;
        i++;
    }
    int64_t value = 0;
    size_t start = i;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && value < INT64_MAX / 10 - 10)
        value = value * 10 + (buf[i++] - '0');
    return i > start ? value : -1;
}

int64_t memacct_rss_bytes(void)
{
    /* statm is "size resident shared text lib data dt" in pages; one short read gets all of it. */
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0)
        return -1;
    int64_t pages = statm_field(buf, (size_t)n, 1);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages < 0 || page_size <= 0)
        return -1;
    return pages * (int64_t)page_size;
}

void memacct_read(memacct_report *out)
{
    int64_t total = 0;
    for (int m = 0; m < MEM_MODULE_COUNT; m++) {
        out->bytes[m] = memacct_get((memacct_module)m);
        total += out->bytes[m];
    }
    out->tracked_total = total;
    out->rss_bytes = memacct_rss_bytes();
}
