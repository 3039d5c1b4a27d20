/* Tests for market: scales, the bookTicker cross-check in both arrival orders, partial depth. */
#include <criterion/criterion.h>
#include <string.h>

#include "market/market.h"
#include "util/err.h"

/* Events are built by hand (not decoded) so each test states exactly what the market sees. */
typedef struct msg {
    ev e;
    ev_level lv[32];
    uint32_t n;
} msg;

static bf_str S(const char *s)
{
    return (bf_str){ s, (uint32_t)strlen(s) };
}

/* pairs: "px", "qty", ..., NULL */
static ev_levels add_levels(msg *m, const char *const *pairs)
{
    ev_levels run = { m->n, 0 };
    for (size_t i = 0; pairs && pairs[i]; i += 2) {
        m->lv[m->n++] = (ev_level){ S(pairs[i]), S(pairs[i + 1]) };
        run.count++;
    }
    return run;
}

static int snapshot(market *mk, int64_t L, const char *const *bids, const char *const *asks)
{
    msg m = { 0 };
    m.e.kind = EV_SNAPSHOT;
    m.e.u.snapshot.last_update_id = L;
    m.e.u.snapshot.bids = add_levels(&m, bids);
    m.e.u.snapshot.asks = add_levels(&m, asks);
    return market_on_event(mk, &m.e, m.lv, 1000);
}

static int depth(market *mk, int64_t U, int64_t u, int64_t pu, const char *const *bids,
                 const char *const *asks)
{
    msg m = { 0 };
    m.e.kind = EV_DEPTH;
    m.e.has = EV_HAS_PU;
    m.e.u.depth =
        (ev_depth){ .symbol = S("TESTUSDT"), .E = 1700000000000, .U = U, .u = u, .pu = pu };
    m.e.u.depth.bids = add_levels(&m, bids);
    m.e.u.depth.asks = add_levels(&m, asks);
    return market_on_event(mk, &m.e, m.lv, 1700000000000LL * 1000000 + 2000000);
}

static int ticker(market *mk, int64_t id, const char *b, const char *B, const char *a,
                  const char *A)
{
    ev e = { .kind = EV_BOOK_TICKER };
    e.u.bt = (ev_book_ticker){ .symbol = S("TESTUSDT"),
                               .u = id,
                               .bid_px = S(b),
                               .bid_qty = S(B),
                               .ask_px = S(a),
                               .ask_qty = S(A) };
    return market_on_event(mk, &e, NULL, 0);
}

static market_counters counters(const market *mk)
{
    market_counters c;
    market_counters_get(mk, &c);
    return c;
}

static const char *const snap_bids[] = { "10.00", "1.000", "9.90", "5.000", NULL };
static const char *const snap_asks[] = { "10.10", "1.000", "10.20", "3.000", NULL };

/* Snapshot L=100, then the first diff (U=95 <= 100 <= u=105) raises the best bid quantity. */
static market *synced_market(const market_config *cfg)
{
    market *mk = market_create("TESTUSDT", cfg);
    cr_assert_eq(snapshot(mk, 100, snap_bids, snap_asks), 0);
    static const char *const b[] = { "10.00", "2.000", NULL };
    cr_assert_eq(depth(mk, 95, 105, 90, b, NULL), 0);
    cr_assert_eq(market_state(mk), SYNC_LIVE);
    return mk;
}

Test(market, infers_scales_from_first_priced_message)
{
    market *mk = market_create("TESTUSDT", NULL);
    cr_assert_not(market_scales(mk, NULL, NULL));
    static const char *const bids[] = { "99.5", "2", "100.10", "1.500", NULL };
    static const char *const asks[] = { "100.2", "0.25", NULL };
    cr_assert_eq(snapshot(mk, 100, bids, asks), 0);
    dec_scale px, qty;
    cr_assert(market_scales(mk, &px, &qty));
    cr_assert_not(market_scales_from_info(mk));
    cr_assert_eq(px.decimals, 2);
    cr_assert_eq(qty.decimals, 3);
    cr_assert_eq(px.unit, 1);
    cr_assert_eq(qty.unit, 1);
    book_level best;
    cr_assert(book_best_bid(market_book(mk), &best));
    char buf[DEC_FMT_MAX];
    cr_assert_gt(market_format_px(mk, best.px, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "100.10");
    cr_assert_gt(market_format_qty(mk, best.qty, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "1.500");
    /* A later price with more digits than the inferred scale is an error, never silently rounded. */
    static const char *const finer[] = { "100.123", "1", NULL };
    cr_assert_eq(depth(mk, 95, 105, 90, finer, NULL), BF_EPRECISION);
    cr_assert_eq(counters(mk).convert_errors, 1);
    market_destroy(mk);
}

Test(market, scales_from_exchange_info)
{
    sym_info si = { .name = "TESTUSDT" };
    cr_assert_eq(dec_scale_from_tick("0.10", 4, &si.px), 0);
    cr_assert_eq(dec_scale_from_tick("0.001", 5, &si.qty), 0);
    market_config cfg = { .info = &si };
    market *mk = market_create("TESTUSDT", &cfg);
    cr_assert(market_scales_from_info(mk));
    /* A far level off the current tick (as in the real CTKUSDT snapshot) is kept, not refused. */
    static const char *const bids[] = { "61800.10", "4.230", "50000.05", "1.000", NULL };
    static const char *const asks[] = { "61800.20", "4.853", NULL };
    cr_assert_eq(snapshot(mk, 7, bids, asks), 0);
    cr_assert_eq(book_count(market_book(mk), BOOK_BID), 2);
    book_level a;
    cr_assert(book_best_ask(market_book(mk), &a));
    char buf[DEC_FMT_MAX];
    market_format_px(mk, a.px, buf, sizeof buf);
    cr_assert_str_eq(buf, "61800.20", "printed with the tick's decimals");
    market_format_qty(mk, a.qty, buf, sizeof buf);
    cr_assert_str_eq(buf, "4.853");
    /* More digits than exchangeInfo allows is still an error. */
    static const char *const finer[] = { "61800.123", "1.000", NULL };
    cr_assert_eq(depth(mk, 1, 8, 0, finer, NULL), BF_EPRECISION);
    market_destroy(mk);
}

Test(market, crosscheck_bookticker_before_depth)
{
    market *mk = market_create("TESTUSDT", NULL);
    cr_assert_eq(snapshot(mk, 100, snap_bids, snap_asks), 0);
    /* The top-changing update 103 is announced before the depth event that contains it. */
    cr_assert_eq(ticker(mk, 103, "10.00", "2.000", "10.10", "1.000"), 0);
    static const char *const b[] = { "10.00", "2.000", NULL };
    cr_assert_eq(depth(mk, 95, 105, 90, b, NULL), 0);
    cr_assert_eq(counters(mk).bt_pending, 1, "103 <= 105 might not be the last change yet");
    cr_assert_eq(counters(mk).bt_checks, 0);
    cr_assert_eq(ticker(mk, 107, "10.00", "7.000", "10.10", "1.000"), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_pending, 0);
    cr_assert_eq(c.bt_checks, 1);
    cr_assert_eq(c.bt_mismatches, 0, "compared with 103, not with the later 107");
    market_destroy(mk);
}

Test(market, crosscheck_depth_before_bookticker)
{
    market *mk = synced_market(NULL); /* u=105 applied, no bookTicker yet */
    cr_assert_eq(counters(mk).bt_pending, 1);
    cr_assert_eq(ticker(mk, 103, "10.00", "2.000", "10.10", "1.000"), 0);
    cr_assert_eq(counters(mk).bt_pending, 1);
    cr_assert_eq(ticker(mk, 106, "10.00", "9.000", "10.10", "1.000"), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_checks, 1);
    cr_assert_eq(c.bt_mismatches, 0);
    /* A bookTicker already past u resolves the next check at once. */
    static const char *const b[] = { "10.00", "9.000", NULL };
    cr_assert_eq(depth(mk, 106, 108, 105, b, NULL), 0);
    c = counters(mk);
    cr_assert_eq(c.bt_pending, 1, "106 <= 108: waits for a later one");
    cr_assert_eq(ticker(mk, 109, "10.00", "9.000", "10.10", "1.000"), 0);
    cr_assert_eq(counters(mk).bt_checks, 2);
    cr_assert_eq(counters(mk).bt_mismatches, 0);
    market_destroy(mk);
}

Test(market, crosscheck_resolves_immediately_when_ticker_is_ahead)
{
    market *mk = market_create("TESTUSDT", NULL);
    cr_assert_eq(snapshot(mk, 100, snap_bids, snap_asks), 0);
    cr_assert_eq(ticker(mk, 103, "10.00", "2.000", "10.10", "1.000"), 0);
    cr_assert_eq(ticker(mk, 110, "10.00", "4.000", "10.10", "1.000"), 0);
    static const char *const b[] = { "10.00", "2.000", NULL };
    cr_assert_eq(depth(mk, 95, 105, 90, b, NULL), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_pending, 0);
    cr_assert_eq(c.bt_checks, 1);
    cr_assert_eq(c.bt_mismatches, 0);
    market_destroy(mk);
}

Test(market, crosscheck_quantity_mismatch_is_reported)
{
    market *mk = synced_market(NULL);
    /* Same prices, different quantity at the bid: must be a mismatch. */
    cr_assert_eq(ticker(mk, 104, "10.00", "3.000", "10.10", "1.000"), 0);
    cr_assert_eq(ticker(mk, 106, "10.00", "3.000", "10.10", "1.000"), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_checks, 1);
    cr_assert_eq(c.bt_mismatches, 1);
    market_mismatch mm;
    cr_assert(market_first_mismatch(mk, &mm));
    cr_assert_eq(mm.u, 105);
    cr_assert_eq(mm.bt_id, 104);
    cr_assert_eq(mm.book.bid.qty, 2000);
    cr_assert_eq(mm.ticker.bid.qty, 3000);
    cr_assert_eq(mm.book.bid.px, mm.ticker.bid.px);
    market_destroy(mk);
}

Test(market, crosscheck_unverifiable_when_history_does_not_reach_back)
{
    market_config cfg = { .bt_history = 2 };
    market *mk = market_create("TESTUSDT", &cfg);
    cr_assert_eq(snapshot(mk, 100, snap_bids, snap_asks), 0);
    /* 101 would have been the one to compare with, but only the two newest are kept. */
    cr_assert_eq(ticker(mk, 101, "10.00", "2.000", "10.10", "1.000"), 0);
    cr_assert_eq(ticker(mk, 110, "10.00", "2.000", "10.10", "1.000"), 0);
    cr_assert_eq(ticker(mk, 111, "10.00", "2.000", "10.10", "1.000"), 0);
    static const char *const b[] = { "10.00", "2.000", NULL };
    cr_assert_eq(depth(mk, 95, 105, 90, b, NULL), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_unverified, 1);
    cr_assert_eq(c.bt_checks, 0);
    cr_assert_eq(c.bt_mismatches, 0);
    market_destroy(mk);
}

Test(market, crosscheck_unverifiable_when_first_ticker_is_later)
{
    market *mk = synced_market(NULL);
    cr_assert_eq(ticker(mk, 200, "10.00", "2.000", "10.10", "1.000"), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_unverified, 1);
    cr_assert_eq(c.bt_checks, 0);
    market_destroy(mk);
}

Test(market, no_bookticker_stream_means_no_checks)
{
    market *mk = synced_market(NULL);
    static const char *const b[] = { "10.00", "3.000", NULL };
    cr_assert_eq(depth(mk, 106, 108, 105, b, NULL), 0);
    market_flush(mk);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_checks, 0);
    cr_assert_eq(c.bt_unverified, 0);
    cr_assert_eq(c.bt_pending, 0);
    market_destroy(mk);
}

Test(market, pending_overflow_and_flush_resolve_with_what_is_known)
{
    market_config cfg = { .max_pending_checks = 2 };
    market *mk = market_create("TESTUSDT", &cfg);
    cr_assert_eq(snapshot(mk, 100, snap_bids, snap_asks), 0);
    cr_assert_eq(ticker(mk, 99, "10.00", "1.000", "10.10", "1.000"), 0);
    static const char *const same[] = { "9.00", "1.000", NULL }; /* below the touch */
    cr_assert_eq(depth(mk, 95, 105, 90, same, NULL), 0);
    cr_assert_eq(depth(mk, 106, 108, 105, same, NULL), 0);
    cr_assert_eq(counters(mk).bt_pending, 2);
    cr_assert_eq(depth(mk, 109, 112, 108, same, NULL), 0);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_pending, 2, "the oldest was resolved to make room");
    cr_assert_eq(c.bt_checks, 1);
    market_flush(mk);
    c = counters(mk);
    cr_assert_eq(c.bt_pending, 0);
    cr_assert_eq(c.bt_checks, 3);
    cr_assert_eq(c.bt_mismatches, 0);
    market_destroy(mk);
}

Test(market, buffered_events_are_checked_after_snapshot)
{
    market *mk = market_create("TESTUSDT", NULL);
    static const char *const b[] = { "10.00", "2.000", NULL };
    cr_assert_eq(depth(mk, 95, 105, 90, b, NULL), 0); /* buffered: no snapshot yet */
    cr_assert_eq(counters(mk).bt_pending, 0);
    cr_assert_eq(ticker(mk, 104, "10.00", "2.000", "10.10", "1.000"), 0);
    cr_assert_eq(ticker(mk, 120, "10.00", "2.000", "10.10", "1.000"), 0);
    cr_assert_eq(snapshot(mk, 100, snap_bids, snap_asks), 0);
    cr_assert_eq(market_state(mk), SYNC_LIVE);
    market_counters c = counters(mk);
    cr_assert_eq(c.bt_checks, 1, "the replayed buffered event went through the apply hook");
    cr_assert_eq(c.bt_mismatches, 0);
    market_destroy(mk);
}

Test(market, partial_depth_replaces_a_separate_book)
{
    market *mk = market_create("TESTUSDT", NULL);
    cr_assert_null(market_partial_book(mk));
    msg m = { 0 };
    m.e.kind = EV_DEPTH;
    m.e.u.depth = (ev_depth){ .symbol = S("TESTUSDT"), .U = 1, .u = 5, .pu = -1, .partial = true };
    static const char *const b1[] = { "10.00", "1.000", "9.90", "2.000", NULL };
    static const char *const a1[] = { "10.10", "1.000", "10.20", "2.000", NULL };
    m.e.u.depth.bids = add_levels(&m, b1);
    m.e.u.depth.asks = add_levels(&m, a1);
    cr_assert_eq(market_on_event(mk, &m.e, m.lv, 0), 0);
    const book *pb = market_partial_book(mk);
    cr_assert_not_null(pb);
    cr_assert_eq(book_count(pb, BOOK_BID), 2);
    msg m2 = { 0 };
    m2.e = m.e;
    static const char *const b2[] = { "9.80", "4.000", NULL };
    static const char *const a2[] = { "10.30", "5.000", NULL };
    m2.e.u.depth.bids = add_levels(&m2, b2);
    m2.e.u.depth.asks = add_levels(&m2, a2);
    cr_assert_eq(market_on_event(mk, &m2.e, m2.lv, 0), 0);
    cr_assert_eq(book_count(pb, BOOK_BID), 1, "replaced, not merged");
    cr_assert_eq(book_count(pb, BOOK_ASK), 1);
    book_level best;
    cr_assert(book_best_bid(pb, &best));
    cr_assert_eq(best.px, 980);
    cr_assert_eq(book_count(market_book(mk), BOOK_BID), 0, "the diff book is untouched");
    cr_assert_eq(market_state(mk), SYNC_SNAPSHOTTING);
    cr_assert_eq(counters(mk).partial_events, 2);
    market_destroy(mk);
}

Test(market, diff_without_pu_is_an_error)
{
    market *mk = market_create("TESTUSDT", NULL);
    msg m = { 0 };
    m.e.kind = EV_DEPTH;
    m.e.u.depth = (ev_depth){ .symbol = S("TESTUSDT"), .U = 1, .u = 5 };
    cr_assert_eq(market_on_event(mk, &m.e, m.lv, 0), BF_EMISSING);
    cr_assert_eq(counters(mk).convert_errors, 1);
    market_destroy(mk);
}

Test(market, pu_break_resyncs)
{
    market *mk = synced_market(NULL);
    static const char *const b[] = { "10.00", "3.000", NULL };
    cr_assert_eq(depth(mk, 110, 115, 109, b, NULL), BF_EGAP);
    cr_assert_eq(market_state(mk), SYNC_RESYNCING);
    sync_stats ss;
    market_sync_stats(mk, &ss);
    cr_assert_eq(ss.gaps, 1);
    cr_assert_neq(market_reason(mk)[0], '\0');
    market_destroy(mk);
}

Test(market, mid_ticks_latency_and_last_values)
{
    market *mk = synced_market(NULL);
    market_tick t[4];
    cr_assert_eq(tsring_latest(market_ticks(mk), t, 4), 1);
    cr_assert_eq(t[0].u, 105);
    cr_assert_eq(t[0].mid_x2, 1000 + 1010);
    market_latency l;
    market_latency_get(mk, &l);
    cr_assert_eq(l.count, 1, "snapshots carry no stream latency");
    cr_assert_eq(l.max_ns, 2000000);
    /* A receive stamp behind the exchange clock is kept as a negative latency. */
    ev e = { .kind = EV_MARK_PRICE };
    e.u.mark = (ev_mark_price){ .symbol = S("TESTUSDT"),
                                .mark = S("10.05000000"),
                                .index = S("10.04000000"),
                                .funding = S("0.00010000"),
                                .E = 1700000000000,
                                .next_funding = 1700006400000 };
    cr_assert_eq(market_on_event(mk, &e, NULL, 1700000000000LL * 1000000 - 3000000), 0);
    market_latency_get(mk, &l);
    cr_assert_eq(l.negative, 1);
    cr_assert_eq(l.min_ns, -3000000);
    const market_last *lv = market_last_values(mk);
    cr_assert_str_eq(lv->mark_price, "10.05000000");
    cr_assert_str_eq(lv->funding_rate, "0.00010000");
    cr_assert_eq(lv->next_funding_ms, 1700006400000);
    cr_assert_eq(counters(mk).mark_prices, 1);
    market_destroy(mk);
}

/* ---- pre-parsed levels ---- */

/* The same messages twice: once with levels as the decoders make them (pre-parsed, ev_level_set),
 * once with the strings alone (zero-initialised parts). Every outcome must be the same: the
 * results, the books, the errors (more decimals than the scale, trailing zeros, no digits). */
static int depth_pre(market *mk, int64_t U, int64_t u, int64_t pu, const char *const *bids,
                     bool pre)
{
    msg m = { 0 };
    m.e.kind = EV_DEPTH;
    m.e.has = EV_HAS_PU;
    m.e.u.depth = (ev_depth){ .symbol = S("TESTUSDT"), .U = U, .u = u, .pu = pu };
    m.e.u.depth.bids = add_levels(&m, bids);
    for (uint32_t i = 0; pre && i < m.n; i++)
        ev_level_set(&m.lv[i], m.lv[i].px, m.lv[i].qty);
    return market_on_event(mk, &m.e, m.lv, 1700000000000LL * 1000000);
}

Test(market, pre_parsed_levels_convert_like_their_strings)
{
    static const char *const steps[][5] = {
        { "10.00", "2.000", "9.80", "1.5", NULL }, /* fewer decimals: padded */
        { "9.70", "0.10000", NULL },               /* trailing zeros beyond the scale */
        { "9.60", "0.0001", NULL },                /* a digit beyond it: BF_EPRECISION */
        { "9.50", "abc", NULL },                   /* not a number: BF_ESYNTAX via dec_parse */
        { "9.40", "1e3", NULL },
        { "9.30", "0.000", "10.00", "0", NULL }, /* deletes */
    };
    market *a = synced_market(NULL), *b = synced_market(NULL);
    int64_t u = 105;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++, u += 10) {
        int ra = depth_pre(a, u + 1, u + 10, u, steps[i], true);
        int rb = depth_pre(b, u + 1, u + 10, u, steps[i], false);
        cr_expect_eq(ra, rb, "step %zu: %d vs %d", i, ra, rb);
    }
    cr_expect_eq(counters(a).convert_errors, 3);
    cr_expect_eq(counters(a).convert_errors, counters(b).convert_errors);
    book_level la[16], lb[16];
    size_t na = book_top(market_book(a), BOOK_BID, la, 16);
    size_t nb = book_top(market_book(b), BOOK_BID, lb, 16);
    cr_assert_eq(na, nb);
    cr_expect_gt(na, 2);
    for (size_t i = 0; i < na; i++)
        cr_expect(la[i].px == lb[i].px && la[i].qty == lb[i].qty, "level %zu", i);
    market_destroy(a);
    market_destroy(b);
}

/* With parts present, the market converts from them and does not read the strings again. */
Test(market, pre_parsed_parts_are_used_without_the_strings)
{
    market *mk = synced_market(NULL);
    msg m = { 0 };
    m.e.kind = EV_DEPTH;
    m.e.has = EV_HAS_PU;
    m.e.u.depth = (ev_depth){ .symbol = S("TESTUSDT"), .U = 106, .u = 110, .pu = 105 };
    m.lv[0] = (ev_level){ .px = S("?"), /* 99.5 x 7 */
                          .qty = S("?"),
                          .px_m = 995,
                          .px_d = 1,
                          .qty_m = 7,
                          .pre = EV_PRE_PX | EV_PRE_QTY };
    m.e.u.depth.bids = (ev_levels){ 0, 1 };
    m.n = 1;
    cr_assert_eq(market_on_event(mk, &m.e, m.lv, 1), 0);
    book_level best;
    cr_assert(book_best_bid(market_book(mk), &best));
    cr_expect_eq(best.px, 9950);
    cr_expect_eq(best.qty, 7000);
    market_destroy(mk);
}
