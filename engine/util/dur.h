/*
 * dur: durations as people type them on a command line or in a fault spec: a decimal number with
 * an optional unit, "250ms", "1.5s", "2m", "1h"; a bare number is seconds. Pure; any thread.
 */
#ifndef BF_DUR_H
#define BF_DUR_H

#include <stdint.h>

/* 0 and *ns, or BF_EINVAL (empty, negative, unknown unit, beyond about 290 years). */
int dur_parse_ns(const char *s, int64_t *ns);
/* The same in milliseconds (rounded to the nearest ms). */
int dur_parse_ms(const char *s, int64_t *ms);

#endif
