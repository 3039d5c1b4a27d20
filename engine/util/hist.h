/*
 * hist: log-linear latency histograms, plus rolling windows of them (histwin).
 *
 * Values are unsigned integers (nanoseconds by convention). Buckets are linear inside each power of
 * two, fine enough that any percentile is reported within 1 % of a recorded value from 1 ns to
 * 60 s; larger values are clamped into the top bucket while max stays exact. hist_record() is
 * O(1), branch-light and never allocates. A hist or histwin belongs to one thread; to aggregate
 * across threads, copy or merge (hist_merge) into a histogram owned by the reader.
 */
#ifndef BF_HIST_H
#define BF_HIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct hist hist;

typedef struct hist_summary {
    uint64_t count;
    uint64_t min, max; /* exact */
    uint64_t p50, p90, p99, p999;
    double mean;
} hist_summary;

hist *hist_create(void);
void hist_destroy(hist *h);
void hist_reset(hist *h);

void hist_record(hist *h, uint64_t value);
void hist_record_n(hist *h, uint64_t value, uint64_t count);
/* dst += src. */
void hist_merge(hist *dst, const hist *src);
/* dst = src (both created by hist_create). */
void hist_copy(hist *dst, const hist *src);

uint64_t hist_count(const hist *h);
/* Value at percentile p (0..100); 0 for an empty histogram. */
uint64_t hist_percentile(const hist *h, double p);
void hist_summarize(const hist *h, hist_summary *out);
size_t hist_mem_bytes(void);

/* A rolling window: `slots` sub-histograms of window_ns/slots each, plus a since-start total. */
typedef struct histwin histwin;

histwin *histwin_create(int64_t window_ns, unsigned slots);
void histwin_destroy(histwin *w);
/* Record at time now_ns (monotonic); slots older than the window are recycled as time moves. */
void histwin_record(histwin *w, int64_t now_ns, uint64_t value);
/* Merge the slots that overlap (now_ns - window_ns, now_ns] into out (out is reset first). */
void histwin_window(const histwin *w, int64_t now_ns, hist *out);
/* Everything recorded since creation. */
const hist *histwin_total(const histwin *w);
/* dst += src: totals add, and each of src's live slots folds into the dst slot holding its start
 * time (slots older than dst's ring are dropped from the window; they stay in the total). */
void histwin_merge(histwin *dst, const histwin *src);
size_t histwin_mem_bytes(const histwin *w);

#endif
