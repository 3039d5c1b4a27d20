/* spread: the spread line under the ladder (see spread.h). */
#include "widgets/spread.h"

#include <stdio.h>
#include <string.h>

#include "widgets/spark.h"

#define MIN_TICK_SAMPLES 8 /* level gaps needed before the tick is trusted */
#define MAX_FIELDS       8
#define MAX_SEGS         2

/* Priorities: a narrow line drops the highest numbers first. */
enum {
    PRIO_STATE = 0,
    PRIO_SIDES = 1,
    PRIO_SPREAD = 2,
    PRIO_DETAIL = 3,
    PRIO_IMB = 4,
    PRIO_MID = 5
};

typedef struct seg {
    char text[DEC_FMT_MAX + 40];
    role ro;
    bool label; /* dropped in the compact form */
} seg;

typedef struct field {
    seg segs[MAX_SEGS];
    int nsegs;
    int prio;
    int join; /* blank columns before the field */
} field;

typedef struct line {
    field f[MAX_FIELDS];
    int n;
} line;

static field *add_field(line *l, int prio, int join)
{
    field *f = &l->f[l->n++];
    memset(f, 0, sizeof *f);
    f->prio = prio;
    f->join = join;
    return f;
}

static void add_seg(field *f, role ro, bool label, const char *text)
{
    seg *s = &f->segs[f->nsegs++];
    snprintf(s->text, sizeof s->text, "%s", text);
    s->ro = ro;
    s->label = label;
}

/* gcd(a, |x - y|), without overflow whatever the prices. */
static uint64_t gcd_gap(uint64_t a, int64_t x, int64_t y)
{
    uint64_t b = x >= y ? (uint64_t)x - (uint64_t)y : (uint64_t)y - (uint64_t)x;
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The exchangeInfo tickSize when the view has it; else a scale unit above 1 is the tick; otherwise
 * the gcd of the gaps between the levels in view, trusted only over enough gaps (0: unknown). */
int64_t spread_tick(const view_symbol *v)
{
    if (v->tick > 0)
        return v->tick;
    if (v->px_scale.unit > 1)
        return v->px_scale.unit;
    uint64_t g = 0;
    int samples = 0;
    for (size_t i = 1; i < v->nbids && i < VIEW_LEVELS; i++, samples++)
        g = gcd_gap(g, v->bids[i - 1].px, v->bids[i].px);
    for (size_t i = 1; i < v->nasks && i < VIEW_LEVELS; i++, samples++)
        g = gcd_gap(g, v->asks[i].px, v->asks[i - 1].px);
    if (v->nbids && v->nasks) {
        g = gcd_gap(g, v->asks[0].px, v->bids[0].px);
        samples++;
    }
    return samples >= MIN_TICK_SAMPLES && g <= INT64_MAX ? (int64_t)g : 0;
}

/* round(num / den) half away from zero; den > 0. */
static int64_t round_div(__int128 num, __int128 den)
{
    __int128 q = num / den, rem = num % den;
    if (2 * (rem < 0 ? -rem : rem) >= den)
        q += num < 0 ? -1 : 1;
    return (int64_t)q;
}

static void spread_detail(const view_symbol *v, int64_t bid, int64_t ask, char *buf, size_t cap)
{
    int64_t spread = ask - bid, tick = spread_tick(v); /* the caller checked for overflow */
    /* hundredths of a basis point: spread / mid * 1e4 * 100 = spread * 2e6 / (bid + ask) */
    __int128 sum = (__int128)bid + ask;
    int64_t bps100 = sum > 0 ? round_div((__int128)spread * 2000000, sum) : 0;
    const char *sign = bps100 < 0 ? "-" : "";
    int64_t mag = bps100 < 0 ? -bps100 : bps100;
    if (tick > 0 && spread % tick == 0)
        snprintf(buf, cap, "(%lld tick%s, %s%lld.%02lld bps)", (long long)(spread / tick),
                 spread / tick == 1 || spread / tick == -1 ? "" : "s", sign, (long long)(mag / 100),
                 (long long)(mag % 100));
    else
        snprintf(buf, cap, "(%s%lld.%02lld bps)", sign, (long long)(mag / 100),
                 (long long)(mag % 100));
}

static void add_price(line *l, const char *label, const book_level *lv, size_t n,
                      const dec_scale *sc, role ro)
{
    char px[DEC_FMT_MAX] = "-";
    if (n > 0 && dec_format(lv[0].px, sc, px, sizeof px) < 0)
        snprintf(px, sizeof px, "?");
    field *f = add_field(l, PRIO_SIDES, l->n ? 2 : 0);
    add_seg(f, ROLE_DIM, true, label);
    add_seg(f, n > 0 ? ro : ROLE_DIM, false, px);
}

static int64_t top_qty(const book_level *lv, size_t n, int levels)
{
    int64_t q = 0;
    for (size_t i = 0; i < n && i < VIEW_LEVELS && (levels <= 0 || i < (size_t)levels); i++)
        if (__builtin_add_overflow(q, lv[i].qty, &q))
            return INT64_MAX;
    return q;
}

static void add_imbalance(line *l, const view_symbol *v, int levels)
{
    int64_t bq = top_qty(v->bids, v->nbids, levels), aq = top_qty(v->asks, v->nasks, levels);
    __int128 tot = (__int128)bq + aq;
    if (tot <= 0)
        return;
    int64_t tenths = round_div(((__int128)bq - aq) * 1000, tot); /* tenths of a percent */
    int64_t mag = tenths < 0 ? -tenths : tenths;
    char text[32];
    snprintf(text, sizeof text, "%c%lld.%lld%%", tenths < 0 ? '-' : '+', (long long)(mag / 10),
             (long long)(mag % 10));
    field *f = add_field(l, PRIO_IMB, 2);
    add_seg(f, ROLE_DIM, true, "imb ");
    add_seg(f, tenths > 0 ? ROLE_BID : tenths < 0 ? ROLE_ASK : ROLE_NORMAL, false, text);
}

static void add_spread(line *l, const view_symbol *v)
{
    int64_t bid = v->bids[0].px, ask = v->asks[0].px, diff, sum;
    char buf[DEC_FMT_MAX + 32];
    if (__builtin_sub_overflow(ask, bid, &diff) || __builtin_add_overflow(bid, ask, &sum) ||
        dec_format(diff, &v->px_scale, buf, sizeof buf) < 0)
        return;
    field *f = add_field(l, PRIO_SPREAD, 2);
    add_seg(f, ROLE_DIM, true, "spread ");
    add_seg(f, ask <= bid ? ROLE_ERROR : ROLE_NORMAL, false, buf); /* crossed: an alarm */
    spread_detail(v, bid, ask, buf, sizeof buf);
    add_seg(add_field(l, PRIO_DETAIL, 1), ROLE_DIM, false, buf);
    if (spark_format_value(sum, 2, &v->px_scale, buf, sizeof buf) < 0)
        return;
    f = add_field(l, PRIO_MID, 2);
    add_seg(f, ROLE_DIM, true, "mid ");
    add_seg(f, ROLE_NORMAL, false, buf);
}

static void build_line(line *l, const view_symbol *v, int levels)
{
    l->n = 0;
    if (v->state != SYNC_LIVE) {
        field *f = add_field(l, PRIO_STATE, 0);
        add_seg(f, v->state == SYNC_STALE ? ROLE_ERROR : ROLE_WARN, false,
                sync_state_name(v->state));
    }
    if (!v->has_scale)
        return;
    add_price(l, "bid ", v->bids, v->nbids, &v->px_scale, ROLE_BID);
    add_price(l, "ask ", v->asks, v->nasks, &v->px_scale, ROLE_ASK);
    if (v->nbids > 0 && v->nasks > 0)
        add_spread(l, v);
    add_imbalance(l, v, levels);
}

static int field_width(const field *f, bool labels)
{
    int w = 0;
    for (int s = 0; s < f->nsegs; s++)
        if (labels || !f->segs[s].label)
            w += canvas_width_of(f->segs[s].text);
    return w;
}

static int line_width(const line *l, int max_prio, bool labels)
{
    int w = 0, shown = 0;
    for (int i = 0; i < l->n; i++) {
        const field *f = &l->f[i];
        if (f->prio > max_prio)
            continue;
        w += shown++ ? (labels ? f->join : 1) : 0;
        w += field_width(f, labels);
    }
    return w;
}

/* A number is never cut (a clipped "61800.10" would read as "618"): a field that does not fit
 * whole ends the line with an ellipsis. Only the state word may be clipped. */
static void draw_line(canvas *c, rect r, const theme *t, const line *l, int max_prio, bool labels,
                      bool dim)
{
    int x = r.x, shown = 0;
    long long end = (long long)r.x + r.w;
    for (int i = 0; i < l->n; i++) {
        const field *f = &l->f[i];
        if (f->prio > max_prio)
            continue;
        int gap = shown ? (labels ? f->join : 1) : 0;
        if (f->prio != PRIO_STATE && x + gap + field_width(f, labels) > end) {
            canvas_put(c, x + gap < end ? x + gap : (int)end - 1, r.y, r, ROLE_DIM, t->ellipsis);
            return;
        }
        x += gap;
        shown++;
        for (int s = 0; s < f->nsegs; s++) {
            const seg *sg = &f->segs[s];
            if (!labels && sg->label)
                continue;
            role ro = dim && f->prio != PRIO_STATE ? ROLE_DIM : sg->ro;
            x += canvas_put(c, x, r.y, r, ro, sg->text);
        }
    }
}

void spread_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int levels)
{
    canvas_clear(c, r, ROLE_NORMAL);
    if (rect_empty(r) || !v)
        return;
    line l;
    build_line(&l, v, levels);
    bool dim = v->state != SYNC_LIVE;
    for (int p = PRIO_MID; p >= PRIO_SIDES; p--) {
        if (line_width(&l, p, true) <= r.w) {
            draw_line(c, r, t, &l, p, true, dim);
            return;
        }
    }
    /* Narrower than "bid X  ask Y": the bare prices, clipped if even they do not fit. */
    draw_line(c, r, t, &l, PRIO_SIDES, false, dim);
}
