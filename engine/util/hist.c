/*
 * hist: log-linear histograms and rolling windows of them.
 *
 * Layout: with SUB_BITS = 6 each power of two [2^e, 2^(e+1)) for e >= 6 is split into 64 equal
 * buckets of width 2^(e-6); below 128 every value has its own bucket. The index is
 * (s << SUB_BITS) + (v >> s) with s = max(0, floor(log2 v) - SUB_BITS), one clz and no table. A
 * bucket is reported by its midpoint, so the error is at most half a width over the bucket's low
 * edge: 2^(e-7) / 2^e = 1/128 = 0.78 % (< 1 %). The top octave is [2^36, 2^37) ns, about 69 s to
 * 137 s, so 60 s is represented; larger values are clamped into the last bucket (max stays exact).
 * 2048 uint64 buckets = 16 KiB per histogram. Owned by one thread; nothing here is atomic.
 */
#include "util/hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/memacct.h"
#include "util/xalloc.h"

enum {
    SUB_BITS = 6,
    SUB_COUNT = 1 << SUB_BITS,
    TOP_EXP = 36, /* highest octave: [2^36, 2^37) */
    BUCKETS = ((TOP_EXP - SUB_BITS) << SUB_BITS) + 2 * SUB_COUNT,
};

#define HIST_LIMIT (UINT64_C(1) << (TOP_EXP + 1)) /* first value that gets clamped */
#define MAX_SLOTS  4096u                          /* a window finer than this is not useful */

struct hist {
    uint64_t count;
    uint64_t min, max;
    uint64_t sum_lo, sum_hi; /* 128-bit sum of values, for an exact mean */
    uint64_t counts[BUCKETS];
};

_Static_assert(sizeof(struct hist) <= 64 * 1024, "a histogram must stay small");

static unsigned bucket_index(uint64_t v)
{
    /* Clamp with a select rather than a branch the predictor has to learn. */
    v = v < HIST_LIMIT ? v : HIST_LIMIT - 1;
    int e = 63 - __builtin_clzll(v | 1);
    int s = e > SUB_BITS ? e - SUB_BITS : 0; /* compiles to a select */
    return ((unsigned)s << SUB_BITS) + (unsigned)(v >> s);
}

static uint64_t bucket_low(unsigned i)
{
    if (i < 2 * SUB_COUNT)
        return i;
    unsigned s = (i >> SUB_BITS) - 1;
    return (uint64_t)((i & (SUB_COUNT - 1)) | SUB_COUNT) << s;
}

static uint64_t bucket_mid(unsigned i)
{
    uint64_t width = i < 2 * SUB_COUNT ? 1 : UINT64_C(1) << ((i >> SUB_BITS) - 1);
    return bucket_low(i) + width / 2;
}

static void sum_add(hist *h, uint64_t lo, uint64_t hi)
{
    h->sum_lo += lo;
    h->sum_hi += hi + (h->sum_lo < lo);
}

/* value * count as 128 bits, from 32-bit halves (no compiler extension needed). */
static void mul_64x64(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (mid << 32) | (p00 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

hist *hist_create(void)
{
    hist *h = xmalloc(sizeof *h);
    hist_reset(h);
    memacct_add(MEM_HIST, (int64_t)sizeof *h);
    return h;
}

void hist_destroy(hist *h)
{
    if (!h)
        return;
    memacct_add(MEM_HIST, -(int64_t)sizeof *h);
    free(h);
}

void hist_reset(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_record(hist *h, uint64_t value)
{
    h->counts[bucket_index(value)]++;
    h->count++;
    h->sum_lo += value;
    /* Conditional stores, not selects: carries and new extremes are rare once warm, so the branches
     * predict, and unconditional stores let the compiler merge the header fields into one vector
     * store that the next call's scalar loads cannot forward from (2x the cost with -march=native).
     */
    if (h->sum_lo < value)
        h->sum_hi++;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void hist_record_n(hist *h, uint64_t value, uint64_t count)
{
    if (count == 0)
        return;
    uint64_t lo, hi;
    mul_64x64(value, count, &lo, &hi);
    h->counts[bucket_index(value)] += count;
    h->count += count;
    h->min = value < h->min ? value : h->min;
    h->max = value > h->max ? value : h->max;
    sum_add(h, lo, hi);
}

void hist_merge(hist *dst, const hist *src)
{
    if (src->count == 0)
        return;
    /* Only the buckets between src's min and max can be nonzero. */
    unsigned last = bucket_index(src->max);
    for (unsigned i = bucket_index(src->min); i <= last; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->min = src->min < dst->min ? src->min : dst->min;
    dst->max = src->max > dst->max ? src->max : dst->max;
    sum_add(dst, src->sum_lo, src->sum_hi);
}

void hist_copy(hist *dst, const hist *src)
{
    if (dst != src)
        memcpy(dst, src, sizeof *dst);
}

uint64_t hist_count(const hist *h)
{
    return h->count;
}

/* The 1-based rank of percentile p among count values. The tiny shrink keeps p = 99.9 of 1000
 * values at rank 999 although 99.9 * 1000 / 100 comes out a hair above 999 in binary floating
 * point. */
static uint64_t percentile_rank(uint64_t count, double p)
{
    long double x = (long double)p * (long double)count / 100.0L;
    long double r = ceill(x * (1.0L - 1e-12L));
    if (r < 1.0L)
        return 1;
    if (r >= (long double)count)
        return count;
    return (uint64_t)r;
}

uint64_t hist_percentile(const hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (!(p > 0.0))
        return h->min; /* also for NaN */
    if (p >= 100.0)
        return h->max;
    uint64_t rank = percentile_rank(h->count, p);
    uint64_t seen = 0;
    unsigned last = bucket_index(h->max);
    unsigned i = bucket_index(h->min);
    for (; i < last; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            break;
    }
    /* The true value lies in bucket i and in [min, max]: clamping the midpoint into that range can
     * only bring it closer (and makes one-bucket histograms exact at their edges). */
    uint64_t v = bucket_mid(i);
    v = v < h->min ? h->min : v;
    return v > h->max ? h->max : v;
}

void hist_summarize(const hist *h, hist_summary *out)
{
    out->count = h->count;
    out->min = h->count ? h->min : 0;
    out->max = h->max;
    out->p50 = hist_percentile(h, 50.0);
    out->p90 = hist_percentile(h, 90.0);
    out->p99 = hist_percentile(h, 99.0);
    out->p999 = hist_percentile(h, 99.9);
    long double sum = ldexpl((long double)h->sum_hi, 64) + (long double)h->sum_lo;
    out->mean = h->count ? (double)(sum / (long double)h->count) : 0.0;
}

size_t hist_mem_bytes(void)
{
    return sizeof(hist);
}

/* ---- histwin ---------------------------------------------------------------------------------
 *
 * Slot k covers monotonic time [k * slot_ns, (k + 1) * slot_ns). The ring keeps slots + 1 entries:
 * the interval (now - window, now] always overlaps slots + 1 slots (the oldest only partly), so
 * this is what keeps "every slot that overlaps the window" answerable. Each entry remembers which
 * slot number it holds; an entry is recycled lazily when a newer slot number maps onto it, and
 * entries left behind by a jump in time are simply ignored by the window query because their number
 * is too old. Recording therefore stays O(1) whatever the jump.
 */
struct histwin {
    int64_t window_ns, slot_ns;
    unsigned ring_len;
    hist *total;
    hist **ring;
    int64_t *slot_no; /* slot number held by each ring entry; INT64_MIN when never used */
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static size_t histwin_own_bytes(unsigned ring_len)
{
    return sizeof(histwin) + ring_len * (sizeof(hist *) + sizeof(int64_t));
}

histwin *histwin_create(int64_t window_ns, unsigned slots)
{
    histwin *w = xmalloc(sizeof *w);
    slots = slots ? slots : 1;
    slots = slots < MAX_SLOTS ? slots : MAX_SLOTS;
    w->slot_ns = window_ns / (int64_t)slots > 0 ? window_ns / (int64_t)slots : 1;
    w->window_ns = w->slot_ns * (int64_t)slots;
    w->ring_len = slots + 1;
    w->total = hist_create();
    w->ring = xreallocarray(NULL, w->ring_len, sizeof *w->ring);
    w->slot_no = xreallocarray(NULL, w->ring_len, sizeof *w->slot_no);
    for (unsigned i = 0; i < w->ring_len; i++) {
        w->ring[i] = hist_create();
        w->slot_no[i] = INT64_MIN;
    }
    memacct_add(MEM_HIST, (int64_t)histwin_own_bytes(w->ring_len));
    return w;
}

void histwin_destroy(histwin *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->ring_len; i++)
        hist_destroy(w->ring[i]);
    hist_destroy(w->total);
    memacct_add(MEM_HIST, -(int64_t)histwin_own_bytes(w->ring_len));
    free(w->ring);
    free(w->slot_no);
    free(w);
}

static unsigned ring_pos(const histwin *w, int64_t slot)
{
    int64_t r = slot % (int64_t)w->ring_len;
    return (unsigned)(r < 0 ? r + (int64_t)w->ring_len : r);
}

void histwin_record(histwin *w, int64_t now_ns, uint64_t value)
{
    hist_record(w->total, value);
    int64_t slot = floor_div(now_ns, w->slot_ns);
    unsigned pos = ring_pos(w, slot);
    if (w->slot_no[pos] < slot) {
        hist_reset(w->ring[pos]);
        w->slot_no[pos] = slot;
    }
    /* A stamp older than what the entry now holds is outside any window that entry can answer;
     * it still counts in the total. */
    if (w->slot_no[pos] == slot)
        hist_record(w->ring[pos], value);
}

void histwin_window(const histwin *w, int64_t now_ns, hist *out)
{
    hist_reset(out);
    int64_t newest = floor_div(now_ns, w->slot_ns);
    /* Slot k overlaps (now - window, now] iff (k + 1) * slot_ns > now - window and k <= newest. */
    int64_t oldest = floor_div(now_ns - w->window_ns, w->slot_ns);
    for (unsigned i = 0; i < w->ring_len; i++) {
        if (w->slot_no[i] >= oldest && w->slot_no[i] <= newest)
            hist_merge(out, w->ring[i]);
    }
}

const hist *histwin_total(const histwin *w)
{
    return w->total;
}

size_t histwin_mem_bytes(const histwin *w)
{
    return histwin_own_bytes(w->ring_len) + (w->ring_len + 1) * sizeof(hist);
}

void histwin_merge(histwin *dst, const histwin *src)
{
    hist_merge(dst->total, src->total);
    for (unsigned i = 0; i < src->ring_len; i++) {
        if (src->slot_no[i] == INT64_MIN || hist_count(src->ring[i]) == 0)
            continue;
        /* Map by start time so windows of different geometry still land in the right place. */
        int64_t slot = floor_div(src->slot_no[i] * src->slot_ns, dst->slot_ns);
        unsigned pos = ring_pos(dst, slot);
        if (dst->slot_no[pos] < slot) {
            hist_reset(dst->ring[pos]);
            dst->slot_no[pos] = slot;
        }
        if (dst->slot_no[pos] == slot)
            hist_merge(dst->ring[pos], src->ring[i]);
    }
}
