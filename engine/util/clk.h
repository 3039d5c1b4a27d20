/*
 * clk: the engine's clocks, in int64 nanoseconds.
 *
 * clk_mono_ns() orders events and measures intervals inside the process (CLOCK_MONOTONIC, vDSO,
 * about 20 ns). clk_real_ns() is wall time, used only where it is compared with the exchange's E/T
 * stamps or written to recordings. Any thread.
 */
#ifndef BF_CLK_H
#define BF_CLK_H

#include <stdint.h>

#define CLK_NS_PER_US 1000LL
#define CLK_NS_PER_MS 1000000LL
#define CLK_NS_PER_S  1000000000LL

int64_t clk_mono_ns(void);
int64_t clk_real_ns(void);

#endif
