/*
 * probe: named latency probes over histwin, and the report table.
 *
 * A set is a small growable array searched linearly by name: a program has a handful of probes and
 * hot paths keep the probe pointer, so lookups are rare. Each probe's window is 10 s in 10 slots,
 * fed with the monotonic time of the record. A set belongs to one thread.
 */
#include "util/probe.h"

#include <stdlib.h>
#include <string.h>

#include "util/clk.h"
#include "util/xalloc.h"

#define PROBE_WINDOW_NS (10 * CLK_NS_PER_S)
#define PROBE_SLOTS     10u

struct probe {
    char *name;
    histwin *win;
};

struct probe_set {
    probe **items;
    size_t len, cap;
};

probe_set *probe_set_create(void)
{
    return xcalloc(1, sizeof(probe_set));
}

static void probe_free(probe *p)
{
    histwin_destroy(p->win);
    free(p->name);
    free(p);
}

void probe_set_destroy(probe_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->len; i++)
        probe_free(s->items[i]);
    free(s->items);
    free(s);
}

static probe *probe_find(const probe_set *s, const char *name)
{
    for (size_t i = 0; i < s->len; i++) {
        if (strcmp(s->items[i]->name, name) == 0)
            return s->items[i];
    }
    return NULL;
}

probe *probe_get(probe_set *s, const char *name)
{
    probe *p = probe_find(s, name);
    if (p)
        return p;
    if (s->len == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->items = xreallocarray(s->items, s->cap, sizeof *s->items);
    }
    p = xmalloc(sizeof *p);
    p->name = xstrdup(name);
    p->win = histwin_create(PROBE_WINDOW_NS, PROBE_SLOTS);
    s->items[s->len++] = p;
    return p;
}

int64_t probe_begin(void)
{
    return clk_mono_ns();
}

void probe_end(probe *p, int64_t begin_ns)
{
    int64_t now = clk_mono_ns();
    /* A stamp from another thread's clock read may land a hair after ours: count it as 0, not 2^64.
     */
    int64_t d = now - begin_ns;
    histwin_record(p->win, now, d > 0 ? (uint64_t)d : 0);
}

void probe_record(probe *p, uint64_t ns)
{
    histwin_record(p->win, clk_mono_ns(), ns);
}

void probe_summary(const probe *p, int window, hist_summary *out)
{
    if (!window) {
        hist_summarize(histwin_total(p->win), out);
        return;
    }
    hist *h = hist_create();
    histwin_window(p->win, clk_mono_ns(), h);
    hist_summarize(h, out);
    hist_destroy(h);
}

const char *probe_name(const probe *p)
{
    return p->name;
}

void probe_set_merge(probe_set *dst, const probe_set *src)
{
    if (dst == src)
        return;
    for (size_t i = 0; i < src->len; i++) {
        const probe *from = src->items[i];
        histwin_merge(probe_get(dst, from->name)->win, from->win);
    }
}

/* ---- report ------------------------------------------------------------------------------------
 */

/* A duration with three significant figures in the unit that keeps it below 1000 (after rounding,
 * so 999.9 µs prints as 1.00 ms rather than 1000 µs). */
static void format_duration(uint64_t ns, char *buf, size_t len)
{
    static const char *const units[] = { "µs", "ms", "s" };
    if (ns < 1000) {
        snprintf(buf, len, "%llu ns", (unsigned long long)ns);
        return;
    }
    double v = (double)ns / 1e3;
    size_t u = 0;
    while (v >= 999.5 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1e3;
        u++;
    }
    int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
    snprintf(buf, len, "%.*f %s", decimals, v, units[u]);
}

/* Terminal columns of a UTF-8 string: count every byte that does not continue a sequence. */
static int display_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void print_right(FILE *out, const char *text, int width)
{
    for (int pad = width - display_width(text); pad > 0; pad--)
        fputc(' ', out);
    fputs(text, out);
}

enum { VALUE_COL = 10, COUNT_COL = 12 };

static int name_width(const probe_set *s)
{
    int w = 5; /* "probe" */
    for (size_t i = 0; i < s->len; i++) {
        int n = display_width(s->items[i]->name);
        w = n > w ? n : w;
    }
    return w;
}

static void print_header(FILE *out, int name_w)
{
    static const char *const cols[] = { "p50", "p90", "p99", "p99.9", "max" };
    fprintf(out, "  %-*s", name_w, "probe");
    print_right(out, "count", COUNT_COL);
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        print_right(out, cols[i], VALUE_COL);
    fputc('\n', out);
}

static void print_row(FILE *out, int name_w, const char *name, const hist_summary *sm)
{
    const uint64_t values[] = { sm->p50, sm->p90, sm->p99, sm->p999, sm->max };
    char buf[32];
    fputs("  ", out);
    fputs(name, out);
    for (int pad = name_w - display_width(name); pad > 0; pad--)
        fputc(' ', out);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)sm->count);
    print_right(out, buf, COUNT_COL);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (sm->count)
            format_duration(values[i], buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "-");
        print_right(out, buf, VALUE_COL);
    }
    fputc('\n', out);
}

static void print_section(const probe_set *s, FILE *out, int window, int name_w)
{
    fprintf(out, "%s\n", window ? "last 10 s" : "since start");
    print_header(out, name_w);
    for (size_t i = 0; i < s->len; i++) {
        hist_summary sm;
        probe_summary(s->items[i], window, &sm);
        print_row(out, name_w, s->items[i]->name, &sm);
    }
}

void probe_report(const probe_set *s, FILE *out)
{
    int name_w = name_width(s);
    print_section(s, out, 1, name_w);
    print_section(s, out, 0, name_w);
    fflush(out);
}
