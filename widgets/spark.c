/* spark: sparklines (see spark.h). */
#include "widgets/spark.h"

#include <string.h>

#include "util/err.h"

#define MIN_CHART_COLS 4 /* labels are dropped rather than squeeze the chart below this */
#define MAX_EXTRA_DEC  6

static bool mul_fits(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

int spark_format_value(int64_t v, int divisor, const dec_scale *sc, char *buf, size_t cap)
{
    if (divisor <= 1)
        return dec_format(v, sc, buf, cap);
    int64_t p = 1, scaled;
    for (int k = 0; k <= MAX_EXTRA_DEC && sc->decimals + k <= DEC_MAX_DECIMALS; k++, p *= 10) {
        if (!mul_fits(v, p, &scaled))
            break;
        if (scaled % divisor == 0) {
            dec_scale finer = { .unit = sc->unit, .decimals = (uint8_t)(sc->decimals + k) };
            return dec_format(scaled / divisor, &finer, buf, cap);
        }
    }
    if (sc->decimals + 2 > DEC_MAX_DECIMALS || !mul_fits(v, 100, &scaled))
        return BF_ERANGE;
    int64_t q = scaled / divisor, rem = scaled % divisor;
    if (2 * (rem < 0 ? -rem : rem) >= divisor)
        q += scaled < 0 ? -1 : 1;
    dec_scale finer = { .unit = sc->unit, .decimals = (uint8_t)(sc->decimals + 2) };
    return dec_format(q, &finer, buf, cap);
}

typedef struct range {
    int64_t lo, hi;
} range;

static range series_range(const int64_t *v, size_t n)
{
    range g = { v[0], v[0] };
    for (size_t i = 1; i < n; i++) {
        if (v[i] < g.lo)
            g.lo = v[i];
        if (v[i] > g.hi)
            g.hi = v[i];
    }
    return g;
}

/* Eighths of the column's height to fill (1 .. levels) for value v. */
static int fill_eighths(int64_t v, range g, int levels)
{
    if (g.hi == g.lo)
        return levels / 2 > 0 ? levels / 2 : 1;
    unsigned __int128 off = (uint64_t)v - (uint64_t)g.lo;
    unsigned __int128 span = (uint64_t)g.hi - (uint64_t)g.lo;
    return 1 + (int)(off * (unsigned)(levels - 1) / span);
}

static void draw_column(canvas *c, rect chart, int x, int eighths, const theme *t, role ro)
{
    for (int k = 0; k < chart.h; k++) { /* k = 0 is the bottom row */
        int e = eighths - 8 * k;
        if (e <= 0)
            break;
        canvas_put(c, x, chart.y + chart.h - 1 - k, chart, ro, t->spark[(e > 8 ? 8 : e) - 1]);
    }
}

static role trend_role(const spark_input *in)
{
    if (in->dim)
        return ROLE_DIM;
    int64_t first = in->vals[0], last = in->vals[in->n - 1];
    return last > first ? ROLE_UP : last < first ? ROLE_DOWN : ROLE_NORMAL;
}

/* Draws the max / min labels at the left of r and returns the chart's rectangle. */
static rect draw_labels(canvas *c, rect r, const spark_input *in, range g)
{
    if (!in->labels || !in->scale || r.h < 2)
        return r;
    char hi[DEC_FMT_MAX], lo[DEC_FMT_MAX];
    if (spark_format_value(g.hi, in->divisor, in->scale, hi, sizeof hi) < 0 ||
        spark_format_value(g.lo, in->divisor, in->scale, lo, sizeof lo) < 0)
        return r;
    int lw = (int)(strlen(hi) > strlen(lo) ? strlen(hi) : strlen(lo));
    if (r.w - lw - 1 < MIN_CHART_COLS)
        return r;
    rect lab = { r.x, r.y, lw, r.h };
    canvas_put(c, r.x + lw - (int)strlen(hi), r.y, lab, ROLE_DIM, hi);
    canvas_put(c, r.x + lw - (int)strlen(lo), r.y + r.h - 1, lab, ROLE_DIM, lo);
    return (rect){ r.x + lw + 1, r.y, r.w - lw - 1, r.h };
}

void spark_draw(canvas *c, rect r, const theme *t, const spark_input *in)
{
    canvas_clear(c, r, ROLE_NORMAL);
    if (rect_empty(r) || !in || !in->vals || in->n == 0)
        return;
    range g = series_range(in->vals, in->n);
    rect chart = draw_labels(c, r, in, g);
    size_t cols = in->n < (size_t)chart.w ? in->n : (size_t)chart.w;
    int levels = chart.h > (1 << 20) ? 8 << 20 : chart.h * 8;
    role ro = trend_role(in);
    for (size_t i = 0; i < cols; i++) {
        size_t end = (i + 1) * in->n / cols; /* bucket [i*n/cols, end): its last value */
        int x = chart.x + chart.w - (int)cols + (int)i;
        draw_column(c, chart, x, fill_eighths(in->vals[end - 1], g, levels), t, ro);
    }
}
