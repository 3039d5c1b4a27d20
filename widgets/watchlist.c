/* watchlist: one row per watched symbol (see watchlist.h). */
#include "widgets/watchlist.h"

#include <stdio.h>
#include <string.h>

#include "widgets/spark.h"

#define MARK_W         5 /* "LIVE", "SNAP", "RESYN", "STALE" */
#define MIN_SPARK_COLS 4

typedef struct wrow {
    const view_symbol *v;
    char key[2];
    char mid[DEC_FMT_MAX + 2], chg[DEC_FMT_MAX + 2];
    role chg_role;
    const char *mark;
    role mark_role;
} wrow;

typedef struct wlayout {
    int sw, mw, cw;                             /* symbol, mid, change widths */
    int mark_x, mid_x, chg_x, spark_x, spark_w; /* offsets in the rectangle; -1: column left out */
} wlayout;

static void state_mark(const view_symbol *v, wrow *row)
{
    row->mark_role = ROLE_WARN;
    switch (v->state) {
    case SYNC_LIVE:
        row->mark = v->stream_stale ? "STALE" : "LIVE";
        row->mark_role = v->stream_stale ? ROLE_ERROR : ROLE_OK;
        break;
    case SYNC_SNAPSHOTTING:
        row->mark = "SNAP";
        break;
    case SYNC_RESYNCING:
        row->mark = "RESYN";
        break;
    case SYNC_STALE:
    default:
        row->mark = "STALE";
        row->mark_role = ROLE_ERROR;
        break;
    }
}

/* Twice the latest mid: the newest tick, else the book's top; false when there is none. */
static bool last_mid_x2(const view_symbol *v, int64_t *out)
{
    if (v->nticks > 0 && v->nticks <= VIEW_TICKS) {
        *out = v->ticks[v->nticks - 1].mid_x2;
        return true;
    }
    return v->nbids > 0 && v->nasks > 0 &&
           !__builtin_add_overflow(v->bids[0].px, v->asks[0].px, out);
}

static void format_change(const view_symbol *v, wrow *row)
{
    snprintf(row->chg, sizeof row->chg, "-");
    row->chg_role = ROLE_DIM;
    if (v->nticks < 1 || v->nticks > VIEW_TICKS)
        return;
    int64_t d;
    if (__builtin_sub_overflow(v->ticks[v->nticks - 1].mid_x2, v->ticks[0].mid_x2, &d) ||
        d == INT64_MIN)
        return;
    char mag[DEC_FMT_MAX];
    if (spark_format_value(d < 0 ? -d : d, 2, &v->px_scale, mag, sizeof mag) < 0)
        return;
    snprintf(row->chg, sizeof row->chg, "%s%s", d > 0 ? "+" : d < 0 ? "-" : "", mag);
    row->chg_role = d > 0 ? ROLE_UP : d < 0 ? ROLE_DOWN : ROLE_NORMAL;
}

static void build_row(const view_symbol *v, size_t i, wrow *row)
{
    memset(row, 0, sizeof *row);
    row->v = v;
    row->key[0] = i < 9 ? (char)('1' + i) : ' ';
    state_mark(v, row);
    int64_t mid2;
    snprintf(row->mid, sizeof row->mid, "-");
    if (v->has_scale && last_mid_x2(v, &mid2) &&
        spark_format_value(mid2, 2, &v->px_scale, row->mid, sizeof row->mid) < 0)
        snprintf(row->mid, sizeof row->mid, "?");
    if (v->has_scale)
        format_change(v, row);
    else
        snprintf(row->chg, sizeof row->chg, "-");
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Key, symbol and state always; then mid, change and the sparkline as the width allows. */
static wlayout fit_columns(const wrow *rows, size_t n, int w)
{
    wlayout lay = { .mid_x = -1, .chg_x = -1, .spark_x = -1 };
    for (size_t i = 0; i < n; i++) {
        lay.sw = imax(lay.sw, canvas_width_of(rows[i].v->symbol));
        lay.mw = imax(lay.mw, (int)strlen(rows[i].mid));
        lay.cw = imax(lay.cw, (int)strlen(rows[i].chg));
    }
    lay.mark_x = 2 + lay.sw + 1;
    int used = lay.mark_x + MARK_W;
    if (used + 1 + lay.mw <= w) {
        lay.mid_x = used + 1;
        used = lay.mid_x + lay.mw;
    }
    if (lay.mid_x >= 0 && used + 1 + lay.cw <= w) {
        lay.chg_x = used + 1;
        used = lay.chg_x + lay.cw;
    }
    if (lay.chg_x >= 0 && w - (used + 1) >= MIN_SPARK_COLS) {
        lay.spark_x = used + 1;
        lay.spark_w = w - lay.spark_x;
    }
    return lay;
}

static void draw_spark(canvas *c, rect row_r, const theme *t, const wrow *row, const wlayout *lay)
{
    const view_symbol *v = row->v;
    int64_t vals[VIEW_TICKS];
    size_t n = v->nticks <= VIEW_TICKS ? v->nticks : 0;
    for (size_t i = 0; i < n; i++)
        vals[i] = v->ticks[i].mid_x2;
    spark_input in = { .vals = vals, .n = n, .divisor = 2, .dim = v->state != SYNC_LIVE };
    rect sr = { row_r.x + lay->spark_x, row_r.y, lay->spark_w, 1 };
    spark_draw(c, sr, t, &in);
}

static void draw_row(canvas *c, rect r, int y, const theme *t, const wrow *row, const wlayout *lay,
                     bool selected)
{
    bool dim = row->v->state != SYNC_LIVE;
    role text = dim ? ROLE_DIM : ROLE_NORMAL;
    rect row_r = { r.x, y, r.w, 1 };
    canvas_put(c, r.x, y, row_r, dim ? ROLE_DIM : ROLE_HEADER, row->key);
    canvas_put(c, r.x + 2, y, row_r, text, row->v->symbol);
    if (lay->mid_x >= 0)
        canvas_put(c, r.x + lay->mid_x + lay->mw - (int)strlen(row->mid), y, row_r, text, row->mid);
    if (lay->chg_x >= 0)
        canvas_put(c, r.x + lay->chg_x + lay->cw - (int)strlen(row->chg), y, row_r,
                   dim ? ROLE_DIM : row->chg_role, row->chg);
    if (lay->spark_x >= 0)
        draw_spark(c, row_r, t, row, lay);
    if (selected)
        canvas_set_role(c, row_r, ROLE_SELECTED);
    /* The state keeps its colour even on the selected row. */
    canvas_put(c, r.x + lay->mark_x, y, row_r, row->mark_role, row->mark);
}

void watchlist_draw(canvas *c, rect r, const theme *t, const view_symbol *const *syms, size_t n,
                    size_t selected)
{
    canvas_clear(c, r, ROLE_NORMAL);
    if (rect_empty(r) || !syms || n == 0)
        return;
    /* Scroll so the selected row is visible. */
    size_t rows = (size_t)r.h;
    size_t first = selected < n && selected >= rows ? selected - rows + 1 : 0;
    size_t count = n - first < rows ? n - first : rows;
    wrow shown[64];
    if (count > sizeof shown / sizeof shown[0])
        count = sizeof shown / sizeof shown[0];
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (syms[first + i])
            build_row(syms[first + i], first + i, &shown[k++]);
    wlayout lay = fit_columns(shown, k, r.w);
    k = 0;
    for (size_t i = 0; i < count; i++)
        if (syms[first + i])
            draw_row(c, r, r.y + (int)i, t, &shown[k++], &lay, first + i == selected);
}
