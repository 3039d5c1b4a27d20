/*
 * market: per-symbol state over book + sync. Events arrive already decoded; prices and quantities
 * are converted here with the symbol's scale into reusable scratch arrays, so the steady state
 * allocates nothing. Book levels come pre-parsed by the decoder (ev_level), so their conversion is
 * dec_from_parts (a compare in the usual case); other strings, and levels without parts, go
 * through dec_parse.
 *
 * The bookTicker cross-check keeps two rings: the recent bookTickers (ids strictly increasing, so the
 * latest one with id <= u is found by binary search) and the checks waiting for a bookTicker with
 * id > u (FIFO; applied u increase, so the oldest check is always the first one to resolve).
 */
#include "market/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/memacct.h"
#include "util/xalloc.h"

#define DEFAULT_BT_HISTORY 4096
#define DEFAULT_PENDING    4096
#define DEFAULT_TICKS      4096
#define NS_PER_MS          1000000LL

typedef struct bt_entry {
    int64_t id;
    market_top top;
} bt_entry;

typedef struct pending_check {
    int64_t u;
    market_top top;
} pending_check;

/* Fixed-capacity FIFO of T records (bt_entry or pending_check). */
typedef struct ring {
    void *slots;
    size_t size, cap, head, n;
} ring;

typedef struct lat_state {
    hist *pos, *neg;  /* magnitudes of non-negative and of negative samples */
    uint64_t samples; /* in both */
    int64_t min_ns, max_ns;
} lat_state;

struct market {
    char symbol[SYM_NAME_MAX];
    bool have_info, have_scale;
    sym_info info;
    dec_scale px, qty;
    book *book;
    book_sync *sync;
    book *partial;
    book_level *scratch[2]; /* converted bids / asks */
    size_t scratch_cap[2];
    ring bt;      /* bt_entry */
    ring pending; /* pending_check */
    bool bt_seen;
    market_counters c;
    bool have_mismatch;
    market_mismatch first_mismatch;
    market_last last;
    lat_state lat;
    tsring *ticks;
    int64_t cur_recv_ns; /* receive time of the event being applied (for the apply hook) */
    int64_t own_bytes;   /* reported to memacct as MEM_OTHER */
};

static void account(market *m, int64_t delta)
{
    m->own_bytes += delta;
    memacct_add(MEM_OTHER, delta);
}

static void ring_init(market *m, ring *r, size_t size, size_t cap)
{
    r->size = size;
    r->cap = cap ? cap : 1;
    r->slots = xcalloc(r->cap, size);
    r->head = r->n = 0;
    account(m, (int64_t)(r->cap * size));
}

/* Slot of the i-th record (i < cap): head + i < 2 cap, so one compare, not a division (every
 * bookTicker and every applied diff goes through here several times). */
static size_t ring_slot(const ring *r, size_t i)
{
    size_t k = r->head + i;
    return k >= r->cap ? k - r->cap : k;
}

static void *ring_at(const ring *r, size_t i)
{
    return (char *)r->slots + ring_slot(r, i) * r->size;
}

static void ring_pop(ring *r)
{
    r->head = ring_slot(r, 1);
    r->n--;
}

/* Append; the caller makes room first when the ring is full. Both record types are of one size,
 * which the compiler then copies inline. */
static void ring_push(ring *r, const void *rec)
{
    void *dst = (char *)r->slots + ring_slot(r, r->n) * r->size;
    if (r->size == sizeof(bt_entry))
        memcpy(dst, rec, sizeof(bt_entry));
    else
        memcpy(dst, rec, r->size);
    r->n++;
}

static void on_apply(void *ctx, const sync_diff *d);

market *market_create(const char *symbol, const market_config *cfg)
{
    market_config def = { 0 };
    if (!cfg)
        cfg = &def;
    market *m = xcalloc(1, sizeof *m);
    snprintf(m->symbol, sizeof m->symbol, "%s", symbol);
    if (cfg->info) {
        /* Count in units of the last digit exchangeInfo's tick/step strings carry, not in ticks:
         * real books hold levels off the current tick (the 2021 CTKUSDT snapshot has 131 levels
         * such as "0.50579" under tickSize "0.00100", left from before a tick change). */
        m->info = *cfg->info;
        m->have_info = m->have_scale = true;
        m->px = dec_scale_plain(cfg->info->px.decimals);
        m->qty = dec_scale_plain(cfg->info->qty.decimals);
    }
    m->book = book_create(cfg->book);
    m->sync = sync_create(m->book, cfg->sync);
    sync_set_on_apply(m->sync, on_apply, m);
    ring_init(m, &m->bt, sizeof(bt_entry), cfg->bt_history ? cfg->bt_history : DEFAULT_BT_HISTORY);
    ring_init(m, &m->pending, sizeof(pending_check),
              cfg->max_pending_checks ? cfg->max_pending_checks : DEFAULT_PENDING);
    m->ticks = tsring_create(cfg->tick_capacity ? cfg->tick_capacity : DEFAULT_TICKS,
                             sizeof(market_tick), 0);
    m->lat.pos = hist_create();
    m->lat.neg = hist_create();
    return m;
}

void market_destroy(market *m)
{
    if (!m)
        return;
    sync_destroy(m->sync);
    book_destroy(m->book);
    book_destroy(m->partial);
    free(m->scratch[0]);
    free(m->scratch[1]);
    free(m->bt.slots);
    free(m->pending.slots);
    tsring_destroy(m->ticks);
    hist_destroy(m->lat.pos);
    hist_destroy(m->lat.neg);
    memacct_add(MEM_OTHER, -m->own_bytes);
    free(m);
}

/* ---- scales ------------------------------------------------------------------------------- */

static int widen(int *best, bf_str s)
{
    if (!s.p)
        return 0;
    int d = dec_decimals(s.p, s.n);
    if (d < 0)
        return d;
    if (d > *best)
        *best = d;
    return 0;
}

static int infer_from_levels(const ev_level *lv, ev_levels run, int *pxd, int *qd)
{
    for (uint32_t i = 0; i < run.count; i++) {
        int rc = widen(pxd, lv[run.first + i].px);
        if (rc == 0)
            rc = widen(qd, lv[run.first + i].qty);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Fix the scales from the first message carrying prices (see the header). */
static int infer_scales(market *m, const ev *e, const ev_level *lv)
{
    int pxd = -1, qd = -1, rc = 0;
    if (e->kind == EV_DEPTH) {
        rc = infer_from_levels(lv, e->u.depth.bids, &pxd, &qd);
        if (rc == 0)
            rc = infer_from_levels(lv, e->u.depth.asks, &pxd, &qd);
    } else if (e->kind == EV_SNAPSHOT) {
        rc = infer_from_levels(lv, e->u.snapshot.bids, &pxd, &qd);
        if (rc == 0)
            rc = infer_from_levels(lv, e->u.snapshot.asks, &pxd, &qd);
    } else if (e->kind == EV_BOOK_TICKER) {
        const ev_book_ticker *bt = &e->u.bt;
        bf_str px[2] = { bt->bid_px, bt->ask_px }, qty[2] = { bt->bid_qty, bt->ask_qty };
        for (int i = 0; i < 2 && rc == 0; i++) {
            rc = widen(&pxd, px[i]);
            if (rc == 0)
                rc = widen(&qd, qty[i]);
        }
    }
    if (rc < 0 || pxd > DEC_MAX_DECIMALS || qd > DEC_MAX_DECIMALS)
        return rc < 0 ? rc : BF_EPRECISION;
    if (pxd < 0 || qd < 0)
        return 0; /* nothing to learn from (no levels): try the next message */
    m->px = dec_scale_plain((unsigned)pxd);
    m->qty = dec_scale_plain((unsigned)qd);
    m->have_scale = true;
    return 0;
}

/* ---- conversion --------------------------------------------------------------------------- */

static book_level *scratch_for(market *m, int side, size_t n)
{
    if (n > m->scratch_cap[side]) {
        size_t cap = m->scratch_cap[side] ? m->scratch_cap[side] : 64;
        while (cap < n)
            cap *= 2;
        m->scratch[side] = xreallocarray(m->scratch[side], cap, sizeof(book_level));
        account(m, (int64_t)((cap - m->scratch_cap[side]) * sizeof(book_level)));
        m->scratch_cap[side] = cap;
    }
    return m->scratch[side];
}

/* A bookTicker side, from the decoder's pre-parsed numbers when it left some (ev_num). */
static int parse_pair(const market *m, bf_str px, const ev_num *pxn, bf_str qty, const ev_num *qtyn,
                      book_level *out)
{
    if (!px.p || !qty.p)
        return BF_EMISSING;
    int rc = ev_num_value(pxn, px, &m->px, &out->px);
    if (rc == 0)
        rc = ev_num_value(qtyn, qty, &m->qty, &out->qty);
    return rc;
}

/* From the decoder's pre-parsed parts when it left some (no second pass over the strings), else
 * from the strings: the same values and errors either way. */
static inline int parse_level(const market *m, const ev_level *l, book_level *out)
{
    if (!l->px.p || !l->qty.p)
        return BF_EMISSING;
    int rc = ev_level_px(l, &m->px, &out->px);
    if (rc == 0)
        rc = ev_level_qty(l, &m->qty, &out->qty);
    return rc;
}

/* Convert one side of a message into scratch[side]. */
static int convert_side(market *m, int side, const ev_level *lv, ev_levels run, book_level **out)
{
    book_level *dst = scratch_for(m, side, run.count);
    for (uint32_t i = 0; i < run.count; i++) {
        int rc = parse_level(m, &lv[run.first + i], &dst[i]);
        if (rc < 0)
            return rc;
    }
    *out = dst;
    return 0;
}

/* Scales (inferred if needed) and both sides converted; counts a failure. */
static int convert_book(market *m, const ev *e, const ev_level *lv, ev_levels bids, ev_levels asks,
                        book_level **b, book_level **a)
{
    int rc = m->have_scale ? 0 : infer_scales(m, e, lv);
    if (rc == 0)
        rc = convert_side(m, 0, lv, bids, b);
    if (rc == 0)
        rc = convert_side(m, 1, lv, asks, a);
    if (rc < 0)
        m->c.convert_errors++;
    return rc;
}

/* ---- latency ------------------------------------------------------------------------------ */

static void record_latency(market *m, int64_t recv_ns, int64_t E_ms)
{
    if (recv_ns <= 0 || E_ms <= 0)
        return;
    int64_t d = recv_ns - E_ms * NS_PER_MS;
    if (d >= 0)
        hist_record(m->lat.pos, (uint64_t)d);
    else
        hist_record(m->lat.neg, (uint64_t)0 - (uint64_t)d);
    bool first = ++m->lat.samples == 1;
    if (first || d < m->lat.min_ns)
        m->lat.min_ns = d;
    if (first || d > m->lat.max_ns)
        m->lat.max_ns = d;
}

/* Percentile p of the signed distribution: negatives come first, largest magnitude first. */
static int64_t signed_percentile(const lat_state *l, double p)
{
    double nneg = (double)hist_count(l->neg), npos = (double)hist_count(l->pos);
    double rank = p / 100.0 * (nneg + npos);
    if (nneg > 0 && rank <= nneg) {
        double q = 100.0 * (1.0 - rank / nneg);
        return -(int64_t)hist_percentile(l->neg, q < 0 ? 0 : q);
    }
    if (npos == 0)
        return 0;
    double q = 100.0 * (rank - nneg) / npos;
    return (int64_t)hist_percentile(l->pos, q > 100 ? 100 : q);
}

void market_latency_get(const market *m, market_latency *out)
{
    memset(out, 0, sizeof *out);
    out->negative = hist_count(m->lat.neg);
    out->count = out->negative + hist_count(m->lat.pos);
    if (out->count == 0)
        return;
    out->min_ns = m->lat.min_ns;
    out->max_ns = m->lat.max_ns;
    out->p50_ns = signed_percentile(&m->lat, 50);
    out->p99_ns = signed_percentile(&m->lat, 99);
}

/* ---- bookTicker cross-check --------------------------------------------------------------- */

static bool top_eq(const market_top *a, const market_top *b)
{
    if (a->has_bid != b->has_bid || a->has_ask != b->has_ask)
        return false;
    if (a->has_bid && (a->bid.px != b->bid.px || a->bid.qty != b->bid.qty))
        return false;
    return !a->has_ask || (a->ask.px == b->ask.px && a->ask.qty == b->ask.qty);
}

/* Index of the latest bookTicker with id <= u, or -1 when the history does not reach back to u. */
static long bt_find(const market *m, int64_t u)
{
    size_t lo = 0, hi = m->bt.n; /* answer in [lo - 1, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (((const bt_entry *)ring_at(&m->bt, mid))->id <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

static void resolve_check(market *m, const pending_check *pc)
{
    if (!m->bt_seen)
        return; /* no bookTicker stream for this symbol: nothing to check against */
    long i = bt_find(m, pc->u);
    if (i < 0) {
        m->c.bt_unverified++;
        return;
    }
    const bt_entry *bt = ring_at(&m->bt, (size_t)i);
    m->c.bt_checks++;
    if (top_eq(&pc->top, &bt->top))
        return;
    m->c.bt_mismatches++;
    if (!m->have_mismatch) {
        m->have_mismatch = true;
        m->first_mismatch =
            (market_mismatch){ .u = pc->u, .bt_id = bt->id, .book = pc->top, .ticker = bt->top };
    }
}

static void resolve_oldest(market *m)
{
    pending_check pc = *(const pending_check *)ring_at(&m->pending, 0);
    ring_pop(&m->pending);
    resolve_check(m, &pc);
}

/* A check is final once a bookTicker with id > u has been seen. */
static void queue_check(market *m, int64_t u, const market_top *top)
{
    pending_check pc = { .u = u, .top = *top };
    if (m->bt.n > 0 && ((const bt_entry *)ring_at(&m->bt, m->bt.n - 1))->id > u) {
        resolve_check(m, &pc);
        return;
    }
    if (m->pending.n == m->pending.cap)
        resolve_oldest(m);
    ring_push(&m->pending, &pc);
}

static void resolve_ready(market *m, int64_t bt_id)
{
    while (m->pending.n > 0 && ((const pending_check *)ring_at(&m->pending, 0))->u < bt_id)
        resolve_oldest(m);
}

void market_flush(market *m)
{
    while (m->pending.n > 0)
        resolve_oldest(m);
}

/* ---- event handlers ----------------------------------------------------------------------- */

static market_top book_top_now(const book *b)
{
    market_top t;
    t.has_bid = book_best_bid(b, &t.bid);
    t.has_ask = book_best_ask(b, &t.ask);
    return t;
}

/* Runs after every applied diff, including buffered ones replayed after a snapshot. */
static void on_apply(void *ctx, const sync_diff *d)
{
    market *m = ctx;
    market_top top = book_top_now(m->book);
    if (top.has_bid && top.has_ask) {
        if (top.bid.px >= top.ask.px)
            m->c.crossed++;
        market_tick t = {
            .recv_ns = m->cur_recv_ns, .E = d->E, .u = d->u, .mid_x2 = top.bid.px + top.ask.px
        };
        tsring_append(m->ticks, &t);
    }
    queue_check(m, d->u, &top);
}

static int on_diff(market *m, const ev *e, const ev_level *lv)
{
    const ev_depth *dp = &e->u.depth;
    m->c.depth_events++;
    if (!(e->has & EV_HAS_PU)) {
        m->c.convert_errors++; /* a diff without pu cannot be chained */
        return BF_EMISSING;
    }
    book_level *b = NULL, *a = NULL;
    int rc = convert_book(m, e, lv, dp->bids, dp->asks, &b, &a);
    if (rc < 0)
        return rc;
    sync_diff d = { .U = dp->U,
                    .u = dp->u,
                    .pu = dp->pu,
                    .E = dp->E,
                    .T = dp->T,
                    .bids = b,
                    .nbids = dp->bids.count,
                    .asks = a,
                    .nasks = dp->asks.count };
    return sync_on_diff(m->sync, &d);
}

/* Partial depth (top N) is a whole picture each time: replace, never chain. */
static int on_partial(market *m, const ev *e, const ev_level *lv)
{
    const ev_depth *dp = &e->u.depth;
    m->c.partial_events++;
    book_level *b = NULL, *a = NULL;
    int rc = convert_book(m, e, lv, dp->bids, dp->asks, &b, &a);
    if (rc < 0)
        return rc;
    if (!m->partial)
        m->partial = book_create(NULL);
    book_clear(m->partial);
    for (uint32_t i = 0; i < dp->bids.count && rc == 0; i++)
        rc = book_set(m->partial, BOOK_BID, b[i].px, b[i].qty);
    for (uint32_t i = 0; i < dp->asks.count && rc == 0; i++)
        rc = book_set(m->partial, BOOK_ASK, a[i].px, a[i].qty);
    if (rc < 0)
        m->c.convert_errors++;
    return rc;
}

/* A snapshot may follow a gap in the bookTicker stream as well (a reconnect loses both streams):
 * a bookTicker older than the snapshot would then stand in for tops it never saw. Checks of the
 * events right after the snapshot are unverifiable until a newer bookTicker arrives, never false
 * mismatches. */
static void forget_tickers_before(market *m, int64_t id)
{
    while (m->bt.n > 0 && ((const bt_entry *)ring_at(&m->bt, 0))->id < id)
        ring_pop(&m->bt);
}

static int on_snapshot(market *m, const ev *e, const ev_level *lv, int64_t recv_ns)
{
    const ev_snapshot *s = &e->u.snapshot;
    m->c.snapshot_events++;
    book_level *b = NULL, *a = NULL;
    int rc = convert_book(m, e, lv, s->bids, s->asks, &b, &a);
    if (rc < 0)
        return rc;
    rc = sync_on_snapshot(m->sync, s->last_update_id, b, s->bids.count, a, s->asks.count, recv_ns);
    if (rc == 0)
        forget_tickers_before(m, s->last_update_id);
    return rc;
}

static int on_book_ticker(market *m, const ev *e, const ev_level *lv)
{
    const ev_book_ticker *t = &e->u.bt;
    m->c.book_tickers++;
    int rc = m->have_scale ? 0 : infer_scales(m, e, lv);
    bt_entry be = { .id = t->u };
    be.top.has_bid = be.top.has_ask = true;
    if (rc == 0)
        rc = parse_pair(m, t->bid_px, &t->bid_px_n, t->bid_qty, &t->bid_qty_n, &be.top.bid);
    if (rc == 0)
        rc = parse_pair(m, t->ask_px, &t->ask_px_n, t->ask_qty, &t->ask_qty_n, &be.top.ask);
    if (rc < 0) {
        m->c.convert_errors++;
        return rc;
    }
    /* Binance writes an empty side as price 0 / qty 0; the book has no level then. */
    be.top.has_bid = be.top.bid.qty > 0;
    be.top.has_ask = be.top.ask.qty > 0;
    if (m->bt_seen && t->u <= ((const bt_entry *)ring_at(&m->bt, m->bt.n - 1))->id) {
        m->c.bt_out_of_order++;
        return 0;
    }
    if (m->bt.n == m->bt.cap)
        ring_pop(&m->bt);
    ring_push(&m->bt, &be);
    m->bt_seen = true;
    resolve_ready(m, t->u);
    return 0;
}

static void copy_str(char *dst, size_t cap, bf_str s)
{
    size_t n = s.p ? s.n : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void on_mark(market *m, const ev_mark_price *mp)
{
    m->c.mark_prices++;
    copy_str(m->last.mark_price, sizeof m->last.mark_price, mp->mark);
    copy_str(m->last.index_price, sizeof m->last.index_price, mp->index);
    copy_str(m->last.funding_rate, sizeof m->last.funding_rate, mp->funding);
    m->last.next_funding_ms = mp->next_funding;
}

static void on_trade(market *m, bf_str px, bf_str qty)
{
    copy_str(m->last.trade_price, sizeof m->last.trade_price, px);
    copy_str(m->last.trade_qty, sizeof m->last.trade_qty, qty);
}

/* Exchange event time of an event, 0 when it carries none. */
static int64_t event_time(const ev *e)
{
    switch (e->kind) {
    case EV_DEPTH:
        return e->u.depth.E;
    case EV_BOOK_TICKER:
        return (e->has & EV_HAS_E) ? e->u.bt.E : 0;
    case EV_AGG_TRADE:
        return e->u.agg.E;
    case EV_TRADE:
        return e->u.trade.E;
    case EV_MARK_PRICE:
        return e->u.mark.E;
    case EV_KLINE:
        return e->u.kline.E;
    case EV_FORCE_ORDER:
        return e->u.force.E;
    default:
        return 0; /* a snapshot's E is the REST answer, another latency */
    }
}

static int dispatch(market *m, const ev *e, const ev_level *lv, int64_t recv_ns)
{
    switch (e->kind) {
    case EV_DEPTH:
        return e->u.depth.partial ? on_partial(m, e, lv) : on_diff(m, e, lv);
    case EV_SNAPSHOT:
        return on_snapshot(m, e, lv, recv_ns);
    case EV_BOOK_TICKER:
        return on_book_ticker(m, e, lv);
    case EV_TRADE:
        m->c.trades++;
        on_trade(m, e->u.trade.px, e->u.trade.qty);
        return 0;
    case EV_AGG_TRADE:
        m->c.agg_trades++;
        on_trade(m, e->u.agg.px, e->u.agg.qty);
        return 0;
    case EV_MARK_PRICE:
        on_mark(m, &e->u.mark);
        return 0;
    case EV_KLINE:
        m->c.klines++;
        return 0;
    case EV_FORCE_ORDER:
        m->c.force_orders++;
        return 0;
    default:
        return BF_EUNSUPPORTED;
    }
}

int market_on_event(market *m, const ev *e, const ev_level *levels, int64_t recv_ns)
{
    record_latency(m, recv_ns, event_time(e));
    m->cur_recv_ns = recv_ns;
    return dispatch(m, e, levels, recv_ns);
}

/* ---- accessors ---------------------------------------------------------------------------- */

const char *market_symbol(const market *m)
{
    return m->symbol;
}

bool market_scales_from_info(const market *m)
{
    return m->have_info;
}

bool market_scales(const market *m, dec_scale *px, dec_scale *qty)
{
    if (px)
        *px = m->px;
    if (qty)
        *qty = m->qty;
    return m->have_scale;
}

int market_format_px(const market *m, int64_t v, char *buf, size_t cap)
{
    return m->have_scale ? dec_format(v, &m->px, buf, cap) : BF_ESTATE;
}

int market_format_qty(const market *m, int64_t v, char *buf, size_t cap)
{
    return m->have_scale ? dec_format(v, &m->qty, buf, cap) : BF_ESTATE;
}

const book *market_book(const market *m)
{
    return m->book;
}

const book *market_partial_book(const market *m)
{
    return m->partial;
}

sync_state market_state(const market *m)
{
    return sync_get_state(m->sync);
}

const char *market_reason(const market *m)
{
    return sync_reason(m->sync);
}

void market_sync_stats(const market *m, sync_stats *out)
{
    sync_get_stats(m->sync, out);
}

bool market_wants_snapshot(const market *m)
{
    return sync_wants_snapshot(m->sync);
}

void market_force_resync(market *m, const char *reason)
{
    sync_force_resync(m->sync, reason);
}

void market_mark_stale(market *m, const char *reason)
{
    sync_mark_stale(m->sync, reason);
}

void market_counters_get(const market *m, market_counters *out)
{
    *out = m->c;
    out->bt_pending = m->pending.n;
}

bool market_first_mismatch(const market *m, market_mismatch *out)
{
    if (m->have_mismatch && out)
        *out = m->first_mismatch;
    return m->have_mismatch;
}

const market_last *market_last_values(const market *m)
{
    return &m->last;
}

const tsring *market_ticks(const market *m)
{
    return m->ticks;
}

size_t market_mem_bytes(const market *m)
{
    size_t n = sizeof *m + (size_t)m->own_bytes + book_mem_bytes(m->book) +
               sync_mem_bytes(m->sync) + tsring_mem_bytes(m->ticks) + 2 * hist_mem_bytes();
    return m->partial ? n + book_mem_bytes(m->partial) : n;
}
