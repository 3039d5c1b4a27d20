/*
 * event: helpers over the decoded message structs (comparison and description). Pure functions of
 * their arguments, callable from any thread; nothing is allocated.
 */
#include "codec/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool bf_str_eq(bf_str a, bf_str b)
{
    if (!a.p || !b.p)
        return !a.p && !b.p;
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

bool bf_str_is(bf_str a, const char *s)
{
    if (!a.p || !s)
        return false;
    size_t n = strlen(s);
    return a.n == n && memcmp(a.p, s, n) == 0;
}

/* Two level runs, each read from its own message's level storage. */
static bool levels_eq(const stream_msg *a, ev_levels la, const stream_msg *b, ev_levels lb)
{
    if (la.count != lb.count)
        return false;
    for (uint32_t i = 0; i < la.count; i++) {
        const ev_level *x = &a->levels[la.first + i], *y = &b->levels[lb.first + i];
        if (!bf_str_eq(x->px, y->px) || !bf_str_eq(x->qty, y->qty) || x->pre != y->pre ||
            x->px_m != y->px_m || x->px_d != y->px_d || x->qty_m != y->qty_m ||
            x->qty_d != y->qty_d)
            return false;
    }
    return true;
}

static bool depth_eq(const stream_msg *ma, const ev_depth *a, const stream_msg *mb,
                     const ev_depth *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->pair, b->pair) && a->E == b->E &&
           a->T == b->T && a->U == b->U && a->u == b->u && a->pu == b->pu &&
           a->partial == b->partial && levels_eq(ma, a->bids, mb, b->bids) &&
           levels_eq(ma, a->asks, mb, b->asks);
}

static bool snapshot_eq(const stream_msg *ma, const ev_snapshot *a, const stream_msg *mb,
                        const ev_snapshot *b)
{
    return a->last_update_id == b->last_update_id && a->E == b->E && a->T == b->T &&
           levels_eq(ma, a->bids, mb, b->bids) && levels_eq(ma, a->asks, mb, b->asks);
}

/* A pre-parsed number that is set agrees with its string. */
static bool num_ok(const ev_num *x, bf_str s)
{
    if (!x->pre)
        return true;
    ev_num want;
    ev_num_set(&want, s);
    return want.pre && want.m == x->m && want.d == x->d;
}

static bool bt_nums_ok(const ev_book_ticker *t)
{
    return num_ok(&t->bid_px_n, t->bid_px) && num_ok(&t->bid_qty_n, t->bid_qty) &&
           num_ok(&t->ask_px_n, t->ask_px) && num_ok(&t->ask_qty_n, t->ask_qty);
}

static bool bt_eq(const ev_book_ticker *a, const ev_book_ticker *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->pair, b->pair) && a->u == b->u &&
           a->E == b->E && a->T == b->T && bf_str_eq(a->bid_px, b->bid_px) &&
           bf_str_eq(a->bid_qty, b->bid_qty) && bf_str_eq(a->ask_px, b->ask_px) &&
           bf_str_eq(a->ask_qty, b->ask_qty) && bt_nums_ok(a) && bt_nums_ok(b);
}

static bool agg_eq(const ev_agg_trade *a, const ev_agg_trade *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->px, b->px) &&
           bf_str_eq(a->qty, b->qty) && bf_str_eq(a->nq, b->nq) && a->E == b->E && a->T == b->T &&
           a->agg_id == b->agg_id && a->first_id == b->first_id && a->last_id == b->last_id &&
           a->buyer_maker == b->buyer_maker;
}

static bool trade_eq(const ev_trade *a, const ev_trade *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->px, b->px) &&
           bf_str_eq(a->qty, b->qty) && bf_str_eq(a->exec_type, b->exec_type) && a->E == b->E &&
           a->T == b->T && a->trade_id == b->trade_id && a->buyer_maker == b->buyer_maker;
}

static bool mark_eq(const ev_mark_price *a, const ev_mark_price *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->mark, b->mark) &&
           bf_str_eq(a->index, b->index) && bf_str_eq(a->settle, b->settle) &&
           bf_str_eq(a->funding, b->funding) && bf_str_eq(a->mark_avg, b->mark_avg) &&
           a->E == b->E && a->next_funding == b->next_funding;
}

static bool kline_eq(const ev_kline *a, const ev_kline *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->interval, b->interval) &&
           bf_str_eq(a->open, b->open) && bf_str_eq(a->close, b->close) &&
           bf_str_eq(a->high, b->high) && bf_str_eq(a->low, b->low) &&
           bf_str_eq(a->volume, b->volume) && bf_str_eq(a->quote_volume, b->quote_volume) &&
           bf_str_eq(a->taker_base, b->taker_base) && bf_str_eq(a->taker_quote, b->taker_quote) &&
           a->E == b->E && a->start == b->start && a->close_time == b->close_time &&
           a->first_id == b->first_id && a->last_id == b->last_id && a->trades == b->trades &&
           a->closed == b->closed;
}

static bool force_eq(const ev_force_order *a, const ev_force_order *b)
{
    return bf_str_eq(a->symbol, b->symbol) && bf_str_eq(a->side, b->side) &&
           bf_str_eq(a->type, b->type) && bf_str_eq(a->tif, b->tif) && bf_str_eq(a->qty, b->qty) &&
           bf_str_eq(a->px, b->px) && bf_str_eq(a->avg_px, b->avg_px) &&
           bf_str_eq(a->status, b->status) && bf_str_eq(a->last_qty, b->last_qty) &&
           bf_str_eq(a->cum_qty, b->cum_qty) && a->E == b->E && a->T == b->T;
}

static bool ev_eq(const stream_msg *ma, const ev *a, const stream_msg *mb, const ev *b)
{
    if (a->kind != b->kind || a->has != b->has)
        return false;
    if ((a->has & EV_HAS_ST) && a->st != b->st)
        return false;
    switch (a->kind) {
    case EV_DEPTH:
        return depth_eq(ma, &a->u.depth, mb, &b->u.depth);
    case EV_SNAPSHOT:
        return snapshot_eq(ma, &a->u.snapshot, mb, &b->u.snapshot);
    case EV_BOOK_TICKER:
        return bt_eq(&a->u.bt, &b->u.bt);
    case EV_AGG_TRADE:
        return agg_eq(&a->u.agg, &b->u.agg);
    case EV_TRADE:
        return trade_eq(&a->u.trade, &b->u.trade);
    case EV_MARK_PRICE:
        return mark_eq(&a->u.mark, &b->u.mark);
    case EV_KLINE:
        return kline_eq(&a->u.kline, &b->u.kline);
    case EV_FORCE_ORDER:
        return force_eq(&a->u.force, &b->u.force);
    default:
        return true;
    }
}

bool stream_msg_eq(const stream_msg *a, const stream_msg *b)
{
    if (!bf_str_eq(a->stream, b->stream) || a->nevents != b->nevents)
        return false;
    for (size_t i = 0; i < a->nevents; i++)
        if (!ev_eq(a, &a->events[i], b, &b->events[i]))
            return false;
    return true;
}

const char *ev_kind_name(ev_kind k)
{
    switch (k) {
    case EV_NONE:
        return "none";
    case EV_DEPTH:
        return "depthUpdate";
    case EV_SNAPSHOT:
        return "snapshot";
    case EV_BOOK_TICKER:
        return "bookTicker";
    case EV_AGG_TRADE:
        return "aggTrade";
    case EV_TRADE:
        return "trade";
    case EV_MARK_PRICE:
        return "markPriceUpdate";
    case EV_KLINE:
        return "kline";
    case EV_FORCE_ORDER:
        return "forceOrder";
    case EV_KIND_COUNT:
        break;
    }
    return "?";
}

/* "%.*s" arguments for a slice; an absent slice prints as "-". */
#define S(x) (int)((x).p ? (x).n : 1u), ((x).p ? (x).p : "-")

/* A pre-parsed number as "6180010e-2", or "?" when it was left to dec_parse. */
static void parts(bool pre, int64_t m, unsigned d, char *buf, size_t cap)
{
    if (pre)
        snprintf(buf, cap, "%" PRId64 "e-%u", m, d);
    else
        snprintf(buf, cap, "?");
}

/* First level of a run with its pre-parsed parts ("61800.10x4.230 (6180010e-2 x 4230e-3)"), or "-"
 * when the run is empty. */
static void first_level(const stream_msg *m, ev_levels l, char *buf, size_t cap)
{
    if (l.count == 0) {
        snprintf(buf, cap, "-");
        return;
    }
    const ev_level *lv = &m->levels[l.first];
    char pp[32], qp[32];
    parts(lv->pre & EV_PRE_PX, lv->px_m, lv->px_d, pp, sizeof pp);
    parts(lv->pre & EV_PRE_QTY, lv->qty_m, lv->qty_d, qp, sizeof qp);
    snprintf(buf, cap, "%.*sx%.*s (%s x %s)", S(lv->px), S(lv->qty), pp, qp);
}

static void describe_book(const stream_msg *m, const ev *e, char *buf, size_t cap)
{
    char b0[128], a0[128];
    if (e->kind == EV_SNAPSHOT) {
        const ev_snapshot *s = &e->u.snapshot;
        first_level(m, s->bids, b0, sizeof b0);
        first_level(m, s->asks, a0, sizeof a0);
        snprintf(buf, cap,
                 "snapshot L=%" PRId64 " E=%" PRId64 " T=%" PRId64 " bids=%u(%s) asks=%u(%s)",
                 s->last_update_id, s->E, s->T, s->bids.count, b0, s->asks.count, a0);
        return;
    }
    const ev_depth *d = &e->u.depth;
    first_level(m, d->bids, b0, sizeof b0);
    first_level(m, d->asks, a0, sizeof a0);
    snprintf(buf, cap,
             "depthUpdate%s s=%.*s ps=%.*s E=%" PRId64 " T=%" PRId64 " U=%" PRId64 " u=%" PRId64
             " pu=%" PRId64 " bids=%u(%s) asks=%u(%s)",
             d->partial ? "(partial)" : "", S(d->symbol), S(d->pair), d->E, d->T, d->U, d->u, d->pu,
             d->bids.count, b0, d->asks.count, a0);
}

static void describe_trades(const ev *e, char *buf, size_t cap)
{
    if (e->kind == EV_AGG_TRADE) {
        const ev_agg_trade *a = &e->u.agg;
        snprintf(buf, cap,
                 "aggTrade s=%.*s p=%.*s q=%.*s nq=%.*s a=%" PRId64 " f=%" PRId64 " l=%" PRId64
                 " E=%" PRId64 " T=%" PRId64 " m=%d",
                 S(a->symbol), S(a->px), S(a->qty), S(a->nq), a->agg_id, a->first_id, a->last_id,
                 a->E, a->T, a->buyer_maker);
        return;
    }
    const ev_trade *t = &e->u.trade;
    snprintf(buf, cap,
             "trade s=%.*s p=%.*s q=%.*s X=%.*s t=%" PRId64 " E=%" PRId64 " T=%" PRId64 " m=%d",
             S(t->symbol), S(t->px), S(t->qty), S(t->exec_type), t->trade_id, t->E, t->T,
             t->buyer_maker);
}

static void describe_other(const ev *e, char *buf, size_t cap)
{
    const ev_book_ticker *b = &e->u.bt;
    const ev_mark_price *mp = &e->u.mark;
    const ev_kline *k = &e->u.kline;
    const ev_force_order *f = &e->u.force;
    switch (e->kind) {
    case EV_BOOK_TICKER:
        snprintf(buf, cap,
                 "bookTicker s=%.*s ps=%.*s u=%" PRId64 " E=%" PRId64 " T=%" PRId64
                 " bid=%.*sx%.*s ask=%.*sx%.*s",
                 S(b->symbol), S(b->pair), b->u, b->E, b->T, S(b->bid_px), S(b->bid_qty),
                 S(b->ask_px), S(b->ask_qty));
        break;
    case EV_MARK_PRICE:
        snprintf(buf, cap,
                 "markPriceUpdate s=%.*s p=%.*s i=%.*s P=%.*s r=%.*s ap=%.*s E=%" PRId64
                 " T=%" PRId64,
                 S(mp->symbol), S(mp->mark), S(mp->index), S(mp->settle), S(mp->funding),
                 S(mp->mark_avg), mp->E, mp->next_funding);
        break;
    case EV_KLINE:
        snprintf(buf, cap,
                 "kline s=%.*s i=%.*s t=%" PRId64 " o=%.*s h=%.*s l=%.*s c=%.*s v=%.*s n=%" PRId64
                 " x=%d",
                 S(k->symbol), S(k->interval), k->start, S(k->open), S(k->high), S(k->low),
                 S(k->close), S(k->volume), k->trades, k->closed);
        break;
    case EV_FORCE_ORDER:
        snprintf(buf, cap,
                 "forceOrder s=%.*s S=%.*s q=%.*s p=%.*s ap=%.*s X=%.*s E=%" PRId64 " T=%" PRId64,
                 S(f->symbol), S(f->side), S(f->qty), S(f->px), S(f->avg_px), S(f->status), f->E,
                 f->T);
        break;
    default:
        snprintf(buf, cap, "%s", ev_kind_name(e->kind));
        break;
    }
}

void ev_describe(const stream_msg *m, size_t i, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    if (!m || i >= m->nevents) {
        snprintf(buf, cap, "(no event %zu)", i);
        return;
    }
    const ev *e = &m->events[i];
    char body[768];
    if (e->kind == EV_DEPTH || e->kind == EV_SNAPSHOT)
        describe_book(m, e, body, sizeof body);
    else if (e->kind == EV_AGG_TRADE || e->kind == EV_TRADE)
        describe_trades(e, body, sizeof body);
    else
        describe_other(e, body, sizeof body);
    if (e->has & EV_HAS_ST)
        snprintf(buf, cap, "[%.*s] %s st=%" PRId64 " has=0x%x", S(m->stream), body, e->st, e->has);
    else
        snprintf(buf, cap, "[%.*s] %s has=0x%x", S(m->stream), body, e->has);
}

bf_str ev_symbol(const ev *e)
{
    switch (e->kind) {
    case EV_DEPTH:
        return e->u.depth.symbol;
    case EV_BOOK_TICKER:
        return e->u.bt.symbol;
    case EV_AGG_TRADE:
        return e->u.agg.symbol;
    case EV_TRADE:
        return e->u.trade.symbol;
    case EV_MARK_PRICE:
        return e->u.mark.symbol;
    case EV_KLINE:
        return e->u.kline.symbol;
    case EV_FORCE_ORDER:
        return e->u.force.symbol;
    default:
        return (bf_str){ NULL, 0 };
    }
}
