/* faults: parsing fault specs and keeping the ones that are due later. */
#include "sim/faults.h"

#include "util/dur.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/xalloc.h"

static const char *const kind_names[FAULT_KIND_COUNT] = {
    [FAULT_GAP] = "gap",
    [FAULT_DUP] = "dup",
    [FAULT_REORDER] = "reorder",
    [FAULT_STALL] = "stall",
    [FAULT_DISCONNECT] = "disconnect",
    [FAULT_CLOSE] = "close",
    [FAULT_MALFORMED] = "malformed",
    [FAULT_OVERSIZED] = "oversized",
    [FAULT_FRAGMENT] = "fragment",
    [FAULT_SLOW_SNAPSHOT] = "slow_snapshot",
    [FAULT_HTTP429] = "http429",
    [FAULT_HTTP418] = "http418",
};

const char *fault_kind_name(fault_kind k)
{
    return (unsigned)k < FAULT_KIND_COUNT ? kind_names[k] : "?";
}

/* A decimal integer with nothing after it, in [0, max]. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return BF_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return BF_EINVAL;
    *out = v;
    return 0;
}

int fault_parse_duration(const char *s, int64_t *ms)
{
    return dur_parse_ms(s, ms);
}

static void set_defaults(fault_spec *f)
{
    f->count = 1;
    f->for_ms = 1000;
    f->delay_ms = 1000;
    f->size = f->kind == FAULT_OVERSIZED ? (size_t)2 << 20 : 512;
    f->retry_after_s = f->kind == FAULT_HTTP418 ? 2 : 1;
}

static int parse_kind(const char *name, size_t len, fault_kind *out)
{
    for (int k = 0; k < FAULT_KIND_COUNT; k++) {
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], name, len) == 0) {
            *out = (fault_kind)k;
            return 0;
        }
    }
    return BF_EINVAL;
}

/* One "key=value" of a spec. */
static int parse_key(fault_spec *f, const char *key, const char *val)
{
    uint64_t u;
    if (strcmp(key, "stream") == 0) {
        size_t n = strlen(val);
        if (n == 0 || n >= sizeof f->stream)
            return BF_EINVAL;
        memcpy(f->stream, val, n + 1);
        return 0;
    }
    if (strcmp(key, "at") == 0)
        return fault_parse_duration(val, &f->at_ms);
    if (strcmp(key, "every") == 0) {
        int rc = fault_parse_duration(val, &f->every_ms);
        return rc < 0 || f->every_ms > 0 ? rc : BF_EINVAL;
    }
    if (strcmp(key, "for") == 0)
        return fault_parse_duration(val, &f->for_ms);
    if (strcmp(key, "delay") == 0)
        return fault_parse_duration(val, &f->delay_ms);
    if (strcmp(key, "count") == 0 || strcmp(key, "times") == 0) {
        if (parse_uint(val, 1000000, &u) < 0 || u == 0)
            return BF_EINVAL;
        *(key[0] == 'c' ? &f->count : &f->times) = (unsigned)u;
        return 0;
    }
    if (strcmp(key, "size") == 0) {
        if (parse_uint(val, (uint64_t)256 << 20, &u) < 0 || u == 0)
            return BF_EINVAL;
        f->size = (size_t)u;
        return 0;
    }
    if (strcmp(key, "retry_after") == 0) {
        if (parse_uint(val, 86400, &u) < 0)
            return BF_EINVAL;
        f->retry_after_s = (int)u;
        return 0;
    }
    return BF_ENOENT;
}

int fault_parse(const char *spec, fault_spec *out, char *why, size_t why_cap)
{
    memset(out, 0, sizeof *out);
    size_t klen = strcspn(spec, ",");
    if (parse_kind(spec, klen, &out->kind) < 0) {
        snprintf(why, why_cap,
                 "unknown fault kind '%.*s' (gap, dup, reorder, stall, disconnect, close, "
                 "malformed, oversized, fragment, slow_snapshot, http429, http418)",
                 (int)klen, spec);
        return BF_EINVAL;
    }
    set_defaults(out);
    const char *p = spec + klen;
    while (*p == ',') {
        p++;
        size_t n = strcspn(p, ",");
        char item[256];
        if (n >= sizeof item) {
            snprintf(why, why_cap, "fault option too long in '%s'", spec);
            return BF_EINVAL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(why, why_cap, "fault option '%s' is not key=value", item);
            return BF_EINVAL;
        }
        *eq = '\0';
        int rc = parse_key(out, item, eq + 1);
        if (rc == BF_ENOENT) {
            snprintf(why, why_cap, "unknown fault option '%s'", item);
            return BF_EINVAL;
        }
        if (rc < 0) {
            snprintf(why, why_cap, "bad value '%s' for fault option '%s'", eq + 1, item);
            return BF_EINVAL;
        }
    }
    return 0;
}

/* ---- schedule ---- */

typedef struct sched_entry {
    fault_spec spec;
    int64_t due_ms;
    unsigned fired;
} sched_entry;

struct fault_sched {
    sched_entry *v;
    size_t n, cap;
};

fault_sched *fault_sched_create(void)
{
    return xcalloc(1, sizeof(fault_sched));
}

void fault_sched_destroy(fault_sched *fs)
{
    if (!fs)
        return;
    free(fs->v);
    free(fs);
}

void fault_sched_add(fault_sched *fs, const fault_spec *spec, int64_t base_ms)
{
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 8;
        fs->v = xreallocarray(fs->v, fs->cap, sizeof *fs->v);
    }
    fs->v[fs->n++] = (sched_entry){ .spec = *spec, .due_ms = base_ms + spec->at_ms };
}

size_t fault_sched_pending(const fault_sched *fs)
{
    return fs->n;
}

bool fault_sched_pop_due(fault_sched *fs, int64_t now_ms, fault_spec *out)
{
    size_t best = fs->n;
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->v[i].due_ms <= now_ms && (best == fs->n || fs->v[i].due_ms < fs->v[best].due_ms))
            best = i;
    }
    if (best == fs->n)
        return false;
    sched_entry *e = &fs->v[best];
    *out = e->spec;
    e->fired++;
    bool again = e->spec.every_ms > 0 && (e->spec.times == 0 || e->fired < e->spec.times);
    if (again) {
        /* Catch up without a burst when the service thread was late. */
        e->due_ms += e->spec.every_ms;
        if (e->due_ms <= now_ms)
            e->due_ms = now_ms + e->spec.every_ms;
    } else {
        fs->v[best] = fs->v[--fs->n];
    }
    return true;
}
