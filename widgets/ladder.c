/* ladder: the depth ladder (see ladder.h). */
#include "widgets/ladder.h"

#include <stdio.h>
#include <string.h>

#include "util/dec.h"

#define MIN_BAR_COLS 2 /* a narrower bar is left out */

typedef struct lrow {
    int64_t px, qty, cum;
    role flash; /* ROLE_NORMAL: no recent change */
    char spx[DEC_FMT_MAX], sqty[DEC_FMT_MAX], scum[DEC_FMT_MAX];
} lrow;

typedef struct lside {
    lrow rows[VIEW_LEVELS];
    size_t n;
} lside;

/* Column positions (x offsets in the rectangle) and which columns fit. */
typedef struct layout {
    int pw, qw, cw;          /* widths of price, qty, cum */
    int qx, cx, bx, bw;      /* x of qty, cum, bar; bar width */
    bool show_qty, show_cum; /* bw > 0: bar shown */
} layout;

typedef struct rows_area {
    int header_y;     /* -1: no header */
    int ask_y0, nask; /* asks occupy [ask_y0, ask_y0 + nask), best at the bottom */
    int sep_y;        /* -1: no separator */
    int bid_y0, nbid; /* bids occupy [bid_y0, bid_y0 + nbid), best at the top */
} rows_area;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Bids round down, asks round up, so a grouped row never looks better than its levels. */
static int64_t group_px(int64_t px, int64_t g, book_side side)
{
    if (g <= 1)
        return px;
    int64_t lo = floor_div(px, g) * g;
    if (side == BOOK_ASK && lo != px && lo <= INT64_MAX - g)
        return lo + g;
    return lo;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t s;
    return __builtin_add_overflow(a, b, &s) ? INT64_MAX : s;
}

/* The first `shown` rows of a side (grouped by g), and as many more as it takes to know they are
 * complete: a row ends where the next one starts. */
static void group_side(const view_symbol *v, book_side side, int64_t g, size_t shown, lside *out)
{
    const book_level *lv = side == BOOK_BID ? v->bids : v->asks;
    size_t n = side == BOOK_BID ? v->nbids : v->nasks;
    size_t held = side == BOOK_BID ? v->bid_levels : v->ask_levels;
    out->n = 0;
    bool cut = false; /* stopped at a row past the shown ones: those are complete */
    for (size_t i = 0; i < n && i < VIEW_LEVELS; i++) {
        int64_t px = group_px(lv[i].px, g, side);
        if (out->n == 0 || out->rows[out->n - 1].px != px) {
            if (out->n > shown) {
                cut = true;
                break;
            }
            lrow *fresh = &out->rows[out->n++]; /* not (lrow){...}: that clears its text too */
            fresh->px = px;
            fresh->qty = 0;
            fresh->flash = ROLE_NORMAL;
        }
        lrow *r = &out->rows[out->n - 1];
        r->qty = sat_add(r->qty, lv[i].qty);
    }
    /* The view holds only the best VIEW_LEVELS: the outermost group may miss levels beyond them. */
    if (!cut && g > 1 && held > n && out->n > 1)
        out->n--;
    int64_t cum = 0;
    for (size_t i = 0; i < out->n; i++)
        out->rows[i].cum = cum = sat_add(cum, out->rows[i].qty);
}

/* The row at price px among rows sorted best first (bids high to low, asks low to high), or -1. */
static long find_row(const lside *s, size_t shown, book_side side, int64_t px)
{
    size_t lo = 0, hi = shown < s->n ? shown : s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t p = s->rows[mid].px;
        if (p == px)
            return (long)mid;
        if (side == BOOK_BID ? p > px : p < px)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Recent changes: the newest mark of a row wins (marks come oldest first). Marks beyond the last
 * row shown (most of them: the view holds far more levels than fit) go by without a search. */
static void apply_marks(lside *s, book_side side, int64_t g, const ladder_input *in, size_t shown)
{
    size_t last = (shown < s->n ? shown : s->n);
    if (last == 0)
        return;
    int64_t edge = s->rows[last - 1].px;
    for (size_t m = 0; in->marks && m < in->nmarks; m++) {
        const ladder_mark *mk = &in->marks[m];
        if (mk->side != side || (side == BOOK_BID ? mk->px < edge - g : mk->px > edge + g))
            continue;
        long i = find_row(s, shown, side, group_px(mk->px, g, side));
        if (i >= 0)
            s->rows[i].flash = mk->kind == LADDER_ADD ? ROLE_FLASH_ADD : ROLE_FLASH_PULL;
    }
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static void format_rows(const view_symbol *v, lside *s, size_t shown, layout *lay)
{
    for (size_t i = 0; i < shown && i < s->n; i++) {
        lrow *r = &s->rows[i];
        if (dec_format(r->px, &v->px_scale, r->spx, sizeof r->spx) < 0)
            snprintf(r->spx, sizeof r->spx, "?");
        if (dec_format(r->qty, &v->qty_scale, r->sqty, sizeof r->sqty) < 0)
            snprintf(r->sqty, sizeof r->sqty, "?");
        if (dec_format(r->cum, &v->qty_scale, r->scum, sizeof r->scum) < 0)
            snprintf(r->scum, sizeof r->scum, "?");
        lay->pw = imax(lay->pw, (int)strlen(r->spx));
        lay->qw = imax(lay->qw, (int)strlen(r->sqty));
        lay->cw = imax(lay->cw, (int)strlen(r->scum));
    }
}

/* Which columns fit in w: the price always, then qty, then cum, then the bar in what is left. */
static void fit_columns(layout *lay, int w)
{
    int used = lay->pw;
    lay->show_qty = used + 1 + lay->qw <= w;
    if (lay->show_qty) {
        lay->qx = used + 1;
        used = lay->qx + lay->qw;
    }
    lay->show_cum = lay->show_qty && used + 1 + lay->cw <= w;
    if (lay->show_cum) {
        lay->cx = used + 1;
        used = lay->cx + lay->cw;
    }
    lay->bx = used + 1;
    lay->bw = w - lay->bx >= MIN_BAR_COLS ? w - lay->bx : 0;
}

/* Header on the first row when there is room; asks and bids split the rest evenly, with a
 * separator between them when the count is odd. A single row shows the best bid. */
static rows_area split_rows(rect r)
{
    rows_area a = { .header_y = -1, .sep_y = -1 };
    int y = r.y, body = r.h;
    if (r.h >= 6) {
        a.header_y = y++;
        body--;
    }
    a.nask = body / 2;
    a.nbid = body - a.nask;
    a.ask_y0 = y;
    if (body >= 3 && body % 2 == 1) {
        a.sep_y = y + a.nask;
        a.nbid--;
    }
    a.bid_y0 = y + a.nask + (a.sep_y >= 0);
    return a;
}

/* Bar length in eighths of a cell, proportional to cum / max (at least one eighth when cum > 0). */
static int64_t bar_eighths(int64_t cum, int64_t max, int cells)
{
    if (cum <= 0 || max <= 0)
        return 0;
    unsigned __int128 e = (unsigned __int128)cum * (unsigned)cells * 8u / (uint64_t)max;
    return e == 0 ? 1 : (int64_t)e;
}

static void draw_bar(canvas *c, rect clip, int x, int y, const theme *t, int64_t eighths, role ro)
{
    int64_t full = eighths / 8;
    if (full > clip.w)
        full = clip.w;
    canvas_fill(c, x, y, clip, ro, t->hbar[8], (int)full);
    if (eighths % 8 && full < clip.w)
        canvas_put(c, x + (int)full, y, clip, ro, t->hbar[eighths % 8]);
}

typedef struct draw_ctx {
    canvas *c;
    rect r;
    const theme *t;
    const layout *lay;
    int64_t max_cum;
    bool dim;
} draw_ctx;

static void draw_row(const draw_ctx *d, const lrow *row, int y, book_side side)
{
    const layout *lay = d->lay;
    role text = d->dim ? ROLE_DIM : side == BOOK_BID ? ROLE_BID : ROLE_ASK;
    role qty = d->dim ? ROLE_DIM : ROLE_NORMAL;
    if (!d->dim && row->flash != ROLE_NORMAL)
        text = qty = row->flash;
    int x = d->r.x;
    canvas_put(d->c, x + lay->pw - (int)strlen(row->spx), y, d->r, text, row->spx);
    if (lay->show_qty)
        canvas_put(d->c, x + lay->qx + lay->qw - (int)strlen(row->sqty), y, d->r, qty, row->sqty);
    if (lay->show_cum)
        canvas_put(d->c, x + lay->cx + lay->cw - (int)strlen(row->scum), y, d->r, ROLE_DIM,
                   row->scum);
    if (lay->bw > 0) {
        role bar = d->dim ? ROLE_DIM : side == BOOK_BID ? ROLE_BID_BAR : ROLE_ASK_BAR;
        rect clip = { x + lay->bx, y, lay->bw, 1 };
        draw_bar(d->c, clip, clip.x, y, d->t, bar_eighths(row->cum, d->max_cum, lay->bw), bar);
    }
}

/* Text centred on row y of r, cut with an ellipsis when too long. */
static void put_centred(canvas *c, rect r, int y, const theme *t, role ro, const char *text)
{
    int w = canvas_width_of(text);
    int x = w >= r.w ? r.x : r.x + (r.w - w) / 2;
    canvas_put(c, x, y, r, ro, text);
    if (w > r.w && r.w > 1)
        canvas_put(c, r.x + r.w - 1, y, r, ro, t->ellipsis);
}

static void draw_header(const draw_ctx *d, const view_symbol *v, int64_t group, int y)
{
    const layout *lay = d->lay;
    int x = d->r.x;
    canvas_put(d->c, x + lay->pw - 5, y, d->r, ROLE_HEADER, "price");
    if (lay->show_qty)
        canvas_put(d->c, x + lay->qx + lay->qw - 3, y, d->r, ROLE_HEADER, "qty");
    if (lay->show_cum)
        canvas_put(d->c, x + lay->cx + lay->cw - 3, y, d->r, ROLE_HEADER, "cum");
    char g[DEC_FMT_MAX];
    if (lay->bw > 0 && group > 1 && dec_format(group, &v->px_scale, g, sizeof g) > 0) {
        rect clip = { x + lay->bx, y, lay->bw, 1 };
        int at = clip.x + canvas_put(d->c, clip.x, y, clip, ROLE_DIM, "group ");
        canvas_put(d->c, at, y, clip, ROLE_DIM, g);
    }
}

static void draw_sides(const draw_ctx *d, const rows_area *a, const lside *bids, const lside *asks)
{
    for (int i = 0; i < a->nask && (size_t)i < asks->n; i++)
        draw_row(d, &asks->rows[i], a->ask_y0 + a->nask - 1 - i, BOOK_ASK);
    for (int i = 0; i < a->nbid && (size_t)i < bids->n; i++)
        draw_row(d, &bids->rows[i], a->bid_y0 + i, BOOK_BID);
    if (a->sep_y >= 0)
        for (int x = 0; x < d->r.w && x < d->lay->bx + d->lay->bw; x++)
            canvas_put(d->c, d->r.x + x, a->sep_y, d->r, ROLE_DIM, d->t->hline);
    if (asks->n == 0 && a->nask > 0 && bids->n > 0)
        put_centred(d->c, d->r, a->ask_y0 + a->nask - 1, d->t, ROLE_DIM, "no asks");
    if (bids->n == 0 && a->nbid > 0 && asks->n > 0)
        put_centred(d->c, d->r, a->bid_y0, d->t, ROLE_DIM, "no bids");
}

/* Across the middle row: the state and its reason, so a book that is not LIVE never looks
 * trustworthy. */
static void draw_banner(canvas *c, rect r, const theme *t, const view_symbol *v)
{
    char text[VIEW_REASON_MAX + 32];
    const char *name = sync_state_name(v->state);
    if (v->reason[0])
        snprintf(text, sizeof text, " %s: %.*s ", name, VIEW_REASON_MAX, v->reason);
    else
        snprintf(text, sizeof text, " %s ", name);
    char *shown = text;
    if (canvas_width_of(text) > r.w) { /* no room for the padding */
        shown++;
        shown[strlen(shown) - 1] = '\0';
    }
    int y = r.y + r.h / 2;
    canvas_clear(c, (rect){ r.x, y, r.w, 1 }, ROLE_DIM);
    put_centred(c, r, y, t, v->state == SYNC_STALE ? ROLE_ERROR : ROLE_WARN, shown);
}

void ladder_draw(canvas *c, rect r, const theme *t, const ladder_input *in)
{
    canvas_clear(c, r, ROLE_NORMAL);
    if (rect_empty(r) || !in || !in->v)
        return;
    const view_symbol *v = in->v;
    bool live = v->state == SYNC_LIVE;
    int64_t g = in->group < 1 ? 1 : in->group;
    lside bids, asks;
    rows_area a = split_rows(r);
    layout lay = { .pw = 5, .qw = 3, .cw = 3 };
    if (v->has_scale) {
        group_side(v, BOOK_BID, g, (size_t)a.nbid, &bids);
        group_side(v, BOOK_ASK, g, (size_t)a.nask, &asks);
        apply_marks(&bids, BOOK_BID, g, in, (size_t)a.nbid);
        apply_marks(&asks, BOOK_ASK, g, in, (size_t)a.nask);
        format_rows(v, &bids, (size_t)a.nbid, &lay);
        format_rows(v, &asks, (size_t)a.nask, &lay);
    } else {
        bids.n = asks.n = 0;
    }
    fit_columns(&lay, r.w);
    size_t nb = bids.n < (size_t)a.nbid ? bids.n : (size_t)a.nbid;
    size_t na = asks.n < (size_t)a.nask ? asks.n : (size_t)a.nask;
    int64_t max_cum = 0;
    if (nb > 0)
        max_cum = bids.rows[nb - 1].cum;
    if (na > 0 && asks.rows[na - 1].cum > max_cum)
        max_cum = asks.rows[na - 1].cum;
    if (r.w < lay.pw) { /* a cut price would read as another number: show that it does not fit */
        if (live)
            put_centred(c, r, r.y + r.h / 2, t, ROLE_DIM, t->ellipsis);
        else
            draw_banner(c, r, t, v);
        return;
    }
    draw_ctx d = { c, r, t, &lay, max_cum, !live };
    if (a.header_y >= 0)
        draw_header(&d, v, g, a.header_y);
    draw_sides(&d, &a, &bids, &asks);
    if (!live)
        draw_banner(c, r, t, v);
    else if (bids.n == 0 && asks.n == 0)
        put_centred(c, r, r.y + r.h / 2, t, ROLE_DIM, v->has_scale ? "empty book" : "no scale yet");
}
