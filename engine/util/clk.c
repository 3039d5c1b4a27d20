/* clk: thin wrappers over clock_gettime returning int64 nanoseconds. */
#include "util/clk.h"

#include <time.h>

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * CLK_NS_PER_S + ts.tv_nsec;
}

int64_t clk_mono_ns(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

int64_t clk_real_ns(void)
{
    return read_clock(CLOCK_REALTIME);
}
