/*
 * Tests for probe: begin/end land in the right probe, get-or-create by name, merge by name, and the
 * report table's names and counts.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/probe.h"

Test(probe, get_or_create_returns_same_probe)
{
    probe_set *s = probe_set_create();
    char name[16];
    snprintf(name, sizeof name, "decode");
    probe *a = probe_get(s, name);
    /* The set keeps its own copy of the name. */
    memset(name, 'x', 6);
    cr_assert_str_eq(probe_name(a), "decode");
    cr_assert_eq(probe_get(s, "decode"), a);
    probe *b = probe_get(s, "apply");
    cr_assert_neq(a, b);
    cr_assert_str_eq(probe_name(b), "apply");
    /* Enough probes to force the set to grow; earlier pointers stay valid. */
    for (int i = 0; i < 40; i++) {
        char n[16];
        snprintf(n, sizeof n, "p%d", i);
        probe_get(s, n);
    }
    cr_assert_eq(probe_get(s, "decode"), a);
    cr_assert_eq(probe_get(s, "apply"), b);
    cr_assert_str_eq(probe_name(probe_get(s, "p39")), "p39");
    probe_set_destroy(s);
}

/* A begin stamp in the past makes the recorded duration at least that old, and only the probe
 * passed to probe_end sees it. */
Test(probe, begin_end_records_into_the_right_probe)
{
    probe_set *s = probe_set_create();
    probe *hit = probe_get(s, "hit"), *miss = probe_get(s, "miss");
    for (int i = 0; i < 5; i++) {
        int64_t t0 = probe_begin();
        probe_end(hit, t0 - 2000000); /* pretend the work started 2 ms earlier */
    }
    hist_summary sm;
    probe_summary(hit, 0, &sm);
    cr_assert_eq(sm.count, 5);
    cr_assert_geq(sm.min, 2000000);
    probe_summary(hit, 1, &sm);
    cr_assert_eq(sm.count, 5, "recorded just now, so inside the 10 s window");
    probe_summary(miss, 0, &sm);
    cr_assert_eq(sm.count, 0);
    probe_set_destroy(s);
}

Test(probe, negative_duration_clamps_to_zero)
{
    probe_set *s = probe_set_create();
    probe *p = probe_get(s, "skew");
    probe_end(p, probe_begin() + 1000000000);
    hist_summary sm;
    probe_summary(p, 0, &sm);
    cr_assert_eq(sm.count, 1);
    cr_assert_eq(sm.max, 0);
    probe_set_destroy(s);
}

Test(probe, record_feeds_window_and_total)
{
    probe_set *s = probe_set_create();
    probe *p = probe_get(s, "rec");
    probe_record(p, 1500);
    probe_record(p, 2500000);
    hist_summary total, win;
    probe_summary(p, 0, &total);
    probe_summary(p, 1, &win);
    cr_assert_eq(total.count, 2);
    cr_assert_eq(win.count, 2);
    cr_assert_eq(total.min, 1500);
    cr_assert_eq(total.max, 2500000);
    probe_set_destroy(s);
}

Test(probe, merge_by_name)
{
    probe_set *a = probe_set_create(), *b = probe_set_create();
    probe_record(probe_get(a, "decode"), 100);
    probe_record(probe_get(b, "apply"), 300);
    probe_record(probe_get(b, "decode"), 200);
    probe_record(probe_get(b, "decode"), 250);
    probe_set_merge(a, b);
    hist_summary sm;
    probe_summary(probe_get(a, "decode"), 0, &sm);
    cr_assert_eq(sm.count, 3);
    cr_assert_eq(sm.min, 100);
    cr_assert_eq(sm.max, 250);
    probe_summary(probe_get(a, "decode"), 1, &sm);
    cr_assert_eq(sm.count, 3);
    probe_summary(probe_get(a, "apply"), 0, &sm);
    cr_assert_eq(sm.count, 1);
    cr_assert_eq(sm.max, 300);
    /* The source is left as it was. */
    probe_summary(probe_get(b, "decode"), 0, &sm);
    cr_assert_eq(sm.count, 2);
    probe_set_destroy(a);
    probe_set_destroy(b);
}

static char *report_of(const probe_set *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    probe_report(s, f);
    fclose(f);
    return text;
}

/* The line for `name` after the section heading `section`; NULL if absent. */
static const char *row_after(const char *text, const char *section, const char *name)
{
    const char *sec = strstr(text, section);
    if (!sec)
        return NULL;
    for (const char *line = sec; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        const char *start = line + strspn(line, " ");
        size_t n = strlen(name);
        if (strncmp(start, name, n) == 0 && start[n] == ' ')
            return start;
    }
    return NULL;
}

/* The count column is the first number after the name. */
static unsigned long long row_count(const char *row, const char *name)
{
    const char *p = row + strlen(name);
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    cr_assert_neq(end, p, "no count after %s", name);
    return v;
}

Test(probe, report_lists_names_and_counts)
{
    probe_set *s = probe_set_create();
    probe *dec = probe_get(s, "decode"), *app = probe_get(s, "book_apply_long_name");
    for (int i = 0; i < 7; i++)
        probe_record(dec, 1500);
    for (int i = 0; i < 42; i++)
        probe_record(app, 2500000);
    probe_get(s, "idle");
    char *text = report_of(s);
    const char *sections[] = { "last 10 s", "since start" };
    for (int k = 0; k < 2; k++) {
        const char *r = row_after(text, sections[k], "decode");
        cr_assert_not_null(r, "%s: decode row missing in\n%s", sections[k], text);
        cr_assert_eq(row_count(r, "decode"), 7);
        cr_assert(strstr(r, "1.50 µs") && strstr(r, "1.50 µs") < strchr(r, '\n'));
        r = row_after(text, sections[k], "book_apply_long_name");
        cr_assert_not_null(r);
        cr_assert_eq(row_count(r, "book_apply_long_name"), 42);
        cr_assert(strstr(r, "2.50 ms") && strstr(r, "2.50 ms") < strchr(r, '\n'));
        r = row_after(text, sections[k], "idle");
        cr_assert_not_null(r);
        cr_assert_eq(row_count(r, "idle"), 0);
    }
    cr_assert_not_null(strstr(text, "p99.9"));
    free(text);
    probe_set_destroy(s);
}

/* Alignment: every row and header of a section has the same display width. */
Test(probe, report_columns_are_aligned)
{
    probe_set *s = probe_set_create();
    probe_record(probe_get(s, "a"), 5);
    probe_record(probe_get(s, "much_longer_probe"), 3000000000ULL);
    probe_record(probe_get(s, "mid"), 12345);
    char *text = report_of(s);
    int width = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != ' ')
            continue; /* section headings */
        int w = 0;
        for (const char *c = line; *c; c++)
            w += ((unsigned char)*c & 0xc0) != 0x80;
        if (width < 0)
            width = w;
        cr_assert_eq(w, width, "line '%s'", line);
    }
    cr_assert_gt(width, 0);
    free(text);
    probe_set_destroy(s);
}
