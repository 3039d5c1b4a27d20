/* latency: the latency panel (see latency.h). */
#include "widgets/latency.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "widgets/spark.h"

enum { COL_P50, COL_P99, COL_P999, COL_MAX, COL_COUNT, COL_NEG, NCOLS };
enum { ROW_T_E, ROW_E_RECV, ROW_RECV_APPLIED, ROW_APPLIED_DRAWN, ROW_REST, NROWS };

#define NAME_LONG  15 /* "applied->drawn" and a blank */
#define NAME_SHORT 9  /* "app>draw" and a blank */
#define SPARK_MIN  8  /* narrower sparklines say nothing */

static const int col_width[NCOLS] = { 7, 7, 7, 7, 7, 5 };
static const char *const col_title[NCOLS] = { "p50", "p99", "p99.9", "max", "count", "neg" };
/* Which columns survive as the width shrinks: the first k of this order. */
static const int col_priority[NCOLS] = { COL_P99, COL_MAX, COL_P50, COL_P999, COL_COUNT, COL_NEG };

typedef struct stage_row {
    const char *name;
    view_latency lat;
    int hist; /* row of p99_history */
    bool dim; /* numbers not to be trusted */
} stage_row;

/* Columns and widths chosen for the rect. */
typedef struct lat_layout {
    bool shown[NCOLS];
    int name_w;
    int tail_x, tail_w; /* what is left right of the columns (offset text, sparklines) */
} lat_layout;

int latency_format_ns(int64_t ns, bool utf8, char *buf, size_t cap)
{
    static const char *const units_utf8[4] = { "ns", "µs", "ms", "s" };
    static const char *const units_ascii[4] = { "ns", "us", "ms", "s" };
    const char *sign = ns < 0 ? "-" : "";
    uint64_t v = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (v < 1000)
        return snprintf(buf, cap, "%s%" PRIu64 "ns", sign, v);
    uint64_t p = 1; /* v / p has 3 digits */
    while (v / p >= 1000)
        p *= 10;
    v = (v + p / 2) / p * p; /* may carry into a fourth digit: 999.5us -> 1.00ms */
    int u = 0;
    uint64_t d = 1;
    while (u < 3 && v / d >= 1000) {
        d *= 1000;
        u++;
    }
    uint64_t whole = v / d;
    int decimals = whole >= 100 ? 0 : whole >= 10 ? 1 : 2;
    const char *unit = (utf8 ? units_utf8 : units_ascii)[u];
    if (decimals == 0)
        return snprintf(buf, cap, "%s%" PRIu64 "%s", sign, whole, unit);
    uint64_t step = d / (decimals == 1 ? 10 : 100);
    return snprintf(buf, cap, "%s%" PRIu64 ".%0*" PRIu64 "%s", sign, whole, decimals, v % d / step,
                    unit);
}

/* Counts up to 99999 as they are, larger ones with 3 significant digits and k / M / G ... */
static void format_count(uint64_t n, char *buf, size_t cap)
{
    static const char suffix[] = " kMGTPE";
    if (n < 100000) {
        snprintf(buf, cap, "%" PRIu64, n);
        return;
    }
    uint64_t p = 1;
    while (n / p >= 1000)
        p *= 10;
    n = n > UINT64_MAX - p / 2 ? n / p * p : (n + p / 2) / p * p; /* may carry: 999.5k -> 1.00M */
    int s = 0;
    uint64_t d = 1;
    while (n / d >= 1000) {
        d *= 1000;
        s++;
    }
    uint64_t whole = n / d;
    if (whole >= 100)
        snprintf(buf, cap, "%" PRIu64 "%c", whole, suffix[s]);
    else if (whole >= 10)
        snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "%c", whole, n % d / (d / 10), suffix[s]);
    else
        snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64 "%c", whole, n % d / (d / 100), suffix[s]);
}

static const char *stage_name(int row, bool utf8, bool shortname)
{
    static const char *const names[2][2][NROWS] = {
        { { "T->E", "E->recv", "recv->applied", "applied->drawn", "REST rtt" },
          { "T>E", "E>recv", "rx>apply", "app>draw", "REST" } },
        { { "T→E", "E→recv", "recv→applied", "applied→drawn", "REST rtt" },
          { "T→E", "E→recv", "rx→apply", "app→draw", "REST" } },
    };
    return names[utf8][shortname][row];
}

static bool offset_trusted(const view_global *g)
{
    return g && !g->clock_skewed && g->clock_rtt_ns > 0;
}

static void build_rows(stage_row *rows, const latency_input *in, const theme *t, bool shortname)
{
    static const int stage_of[NROWS] = { STAGE_T_TO_E, STAGE_E_TO_RECV, STAGE_RECV_TO_APPLIED,
                                         STAGE_APPLIED_TO_PUB, STAGE_REST_RTT };
    for (int i = 0; i < NROWS; i++) {
        rows[i].name = stage_name(i, t->utf8, shortname);
        rows[i].hist = stage_of[i];
        rows[i].dim = false;
        memset(&rows[i].lat, 0, sizeof rows[i].lat);
        if (in->v)
            rows[i].lat = in->v->stages[stage_of[i]];
    }
    rows[ROW_APPLIED_DRAWN].lat = in->drawn;
    rows[ROW_E_RECV].dim = !offset_trusted(in->g);
}

static int columns_width(int k)
{
    int w = 0;
    for (int i = 0; i < k; i++)
        w += col_width[col_priority[i]];
    return w;
}

/* The most columns that fit, long names before short ones at the same count. */
static lat_layout choose_layout(rect r)
{
    lat_layout l;
    memset(&l, 0, sizeof l);
    int k = NCOLS;
    l.name_w = NAME_LONG;
    for (; k > 1; k--) {
        if (NAME_LONG + columns_width(k) <= r.w)
            break;
        if (NAME_SHORT + columns_width(k) <= r.w) {
            l.name_w = NAME_SHORT;
            break;
        }
    }
    if (k == 1 && NAME_LONG + columns_width(1) > r.w)
        l.name_w = NAME_SHORT;
    for (int i = 0; i < k; i++)
        l.shown[col_priority[i]] = true;
    l.tail_x = r.x + l.name_w + columns_width(k) + 2;
    l.tail_w = r.x + r.w - l.tail_x;
    return l;
}

static void cell_text(const view_latency *lat, int col, bool utf8, char *buf, size_t cap)
{
    const int64_t pct[4] = { lat->p50_ns, lat->p99_ns, lat->p999_ns, lat->max_ns };
    if (col == COL_COUNT)
        format_count(lat->count, buf, cap);
    else if (col == COL_NEG)
        format_count(lat->negative, buf, cap);
    else if (lat->count == 0)
        snprintf(buf, cap, "-");
    else
        latency_format_ns(pct[col], utf8, buf, cap);
}

static role cell_role(const stage_row *row, int col)
{
    if (col == COL_NEG)
        return row->lat.negative > 0 ? ROLE_WARN : ROLE_DIM;
    if (row->lat.count == 0 || row->dim)
        return ROLE_DIM;
    return col == COL_COUNT ? ROLE_DIM : ROLE_NORMAL;
}

static void draw_header(canvas *c, rect r, const lat_layout *l, int y, int spark_x)
{
    canvas_put(c, r.x, y, r, ROLE_HEADER, "latency");
    int x = r.x + l->name_w;
    for (int col = 0; col < NCOLS; col++) {
        if (!l->shown[col])
            continue;
        x += col_width[col];
        canvas_put_right(c, x, y, r, ROLE_HEADER, col_title[col]);
    }
    if (spark_x >= 0)
        canvas_put(c, spark_x, y, r, ROLE_HEADER, "p99 trend");
}

static void draw_numbers(canvas *c, rect r, const theme *t, const lat_layout *l,
                         const stage_row *row, int y)
{
    char buf[32];
    canvas_put(c, r.x, y, rect_intersect((rect){ r.x, y, l->name_w - 1, 1 }, r), ROLE_NORMAL,
               row->name);
    int x = r.x + l->name_w;
    for (int col = 0; col < NCOLS; col++) {
        if (!l->shown[col])
            continue;
        x += col_width[col];
        cell_text(&row->lat, col, t->utf8, buf, sizeof buf);
        canvas_put_right(c, x, y, r, cell_role(row, col), buf);
    }
}

/* "off +1.23ms rtt 8.40ms" beside E->recv: what its numbers were corrected by. */
static int clock_text(const view_global *g, bool utf8, char *buf, size_t cap)
{
    char off[32], rtt[32];
    if (!g || g->clock_rtt_ns <= 0)
        return snprintf(buf, cap, "off - rtt -");
    latency_format_ns(g->clock_offset_ns, utf8, off, sizeof off);
    latency_format_ns(g->clock_rtt_ns, utf8, rtt, sizeof rtt);
    return snprintf(buf, cap, "off %s%s rtt %s", g->clock_offset_ns >= 0 ? "+" : "", off, rtt);
}

/* The clock text at (x, y) in w columns; on a line of its own it says what it is. */
static void draw_clock(canvas *c, rect r, const theme *t, int x, int w, const view_global *g, int y,
                       bool own_line)
{
    char text[80], buf[96];
    clock_text(g, t->utf8, text, sizeof text);
    snprintf(buf, sizeof buf, "%s%s", own_line ? "clock " : "", text);
    canvas_put_cut(c, x, y, w, r, offset_trusted(g) ? ROLE_NORMAL : ROLE_DIM, t, buf);
}

static void draw_spark(canvas *c, rect r, const theme *t, const latency_input *in,
                       const stage_row *row, int x, int y)
{
    size_t n = in->nhistory < LATENCY_HISTORY ? in->nhistory : LATENCY_HISTORY;
    int w = r.x + r.w - x;
    if (!in->p99_history || n == 0 || w < SPARK_MIN)
        return;
    spark_input si = { .vals = in->p99_history[row->hist],
                       .n = n,
                       .scale = NULL,
                       .divisor = 1,
                       .labels = false,
                       .dim = row->dim };
    rect area = { x, y, w, 1 };
    spark_draw(c, area, t, &si);
    /* spark colours a rising series as a rising price; rising latency is not good news */
    canvas_set_role(c, area, row->dim ? ROLE_DIM : ROLE_NORMAL);
}

/* Whether the clock text fits beside E->recv (else it gets a line of its own). */
static bool clock_beside(const latency_input *in, const theme *t, const lat_layout *l)
{
    char buf[80];
    return clock_text(in->g, t->utf8, buf, sizeof buf) <= l->tail_w;
}

/* Where the sparklines start: right of the clock text when both fit, else at the tail (the
 * E->recv row then shows only the clock text); -1 for none. */
static int spark_start(const latency_input *in, const theme *t, const lat_layout *l, bool beside)
{
    char buf[80];
    if (!in->p99_history || in->nhistory == 0)
        return -1;
    int text_w = beside ? clock_text(in->g, t->utf8, buf, sizeof buf) : 0;
    if (beside && l->tail_w - text_w - 2 >= SPARK_MIN)
        return l->tail_x + text_w + 2;
    return l->tail_w >= SPARK_MIN ? l->tail_x : -1;
}

static void draw_skew(canvas *c, rect r, const theme *t, const latency_input *in, int y)
{
    const char *arrow = t->utf8 ? "→" : "->";
    uint64_t neg = in->v ? in->v->stages[STAGE_E_TO_RECV].negative : 0;
    char forms[4][160];
    snprintf(forms[0], sizeof forms[0],
             "! clock skew: E%srecv went negative (%" PRIu64
             " samples); network numbers unreliable",
             arrow, neg);
    snprintf(forms[1], sizeof forms[1], "! clock skew: %" PRIu64 " negative E%srecv", neg, arrow);
    snprintf(forms[2], sizeof forms[2], "! clock skew (%" PRIu64 ")", neg);
    snprintf(forms[3], sizeof forms[3], "! skew");
    int i = 0;
    while (i < 3 && canvas_width_of(forms[i]) > r.w)
        i++;
    canvas_clear(c, (rect){ r.x, y, r.w, 1 }, ROLE_WARN);
    canvas_put_cut(c, r.x, y, r.w, r, ROLE_WARN, t, forms[i]);
}

static void draw_rates(canvas *c, rect r, const theme *t, const latency_input *in, int y)
{
    char sym[32] = "-", all[32] = "-", buf[96];
    if (in->v && in->v->msgs_per_s >= 0)
        format_count((uint64_t)(in->v->msgs_per_s + 0.5), sym, sizeof sym);
    if (in->g && in->g->msgs_per_s >= 0)
        format_count((uint64_t)(in->g->msgs_per_s + 0.5), all, sizeof all);
    snprintf(buf, sizeof buf, "msgs/s %s  all %s", sym, all);
    canvas_put_cut(c, r.x, y, r.w, r, ROLE_DIM, t, buf);
}

void latency_draw(canvas *c, rect r, const theme *t, const latency_input *in)
{
    if (rect_empty(r))
        return;
    canvas_clear(c, r, ROLE_NORMAL);
    if (!in)
        return;
    lat_layout l = choose_layout(r);
    stage_row rows[NROWS];
    build_rows(rows, in, t, l.name_w == NAME_SHORT);
    bool skew = in->g && in->g->clock_skewed;
    int y = r.y, left = r.h;
    if (skew) {
        draw_skew(c, r, t, in, y++);
        left--;
    }
    bool header = left >= 3; /* the header and at least two stages */
    int nstages = left - header < NROWS ? left - header : NROWS;
    int extra = left - header - nstages;
    bool beside = clock_beside(in, t, &l);
    bool clock_line = !beside && extra >= 1; /* before the rates: it explains E->recv */
    bool rates = extra - clock_line >= 1;
    int spark_x = spark_start(in, t, &l, beside);
    if (header)
        draw_header(c, r, &l, y++, spark_x);
    for (int i = 0; i < nstages; i++, y++) {
        draw_numbers(c, r, t, &l, &rows[i], y);
        if (i == ROW_E_RECV && beside)
            draw_clock(c, r, t, l.tail_x, l.tail_w, in->g, y, false);
        if (spark_x >= 0 && (i != ROW_E_RECV || !beside || spark_x > l.tail_x))
            draw_spark(c, r, t, in, &rows[i], spark_x, y);
    }
    if (clock_line)
        draw_clock(c, r, t, r.x, r.w, in->g, y++, true);
    if (rates)
        draw_rates(c, r, t, in, y);
}
