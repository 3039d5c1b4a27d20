/*
 * probe: named latency probes (the seed's measure_latency / get_stats().print_report()).
 *
 *     probe *p = probe_get(set, "decode");
 *     int64_t t0 = probe_begin();  ...work...  probe_end(p, t0);
 *     probe_report(set, stdout);
 *
 * Each probe owns a histwin (last 10 s and since start). A probe_set and its probes belong to one
 * thread; probe_set_merge() folds another thread's set into a reader-owned one for reporting.
 */
#ifndef BF_PROBE_H
#define BF_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "util/hist.h"

typedef struct probe_set probe_set;
typedef struct probe probe;

probe_set *probe_set_create(void);
void probe_set_destroy(probe_set *s);

/* The probe called name, created on first use (name is copied). */
probe *probe_get(probe_set *s, const char *name);

/* Start stamp (monotonic ns). */
int64_t probe_begin(void);
/* Record now - begin_ns into p. */
void probe_end(probe *p, int64_t begin_ns);
/* Record a measured duration directly. */
void probe_record(probe *p, uint64_t ns);

/* Summary of the probe since start, or over the last window when `window` is nonzero. */
void probe_summary(const probe *p, int window, hist_summary *out);
const char *probe_name(const probe *p);

/* Fold every probe of src into dst (probes matched by name). */
void probe_set_merge(probe_set *dst, const probe_set *src);
/* A table: name, count, p50, p90, p99, p99.9, max, over the last window and since start. */
void probe_report(const probe_set *s, FILE *out);

#endif
