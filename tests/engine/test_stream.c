/*
 * Tests for stream: the fast decoder on real captures (concrete values checked against the literal
 * messages), key order, unknown fields, escapes, limits, and every class of rejection. Inputs are
 * decoded from exact-size heap copies without a NUL after them, so ASan flags any read past len.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/stream.h"
#include "testutil.h"
#include "util/err.h"

static stream_decoder *D;
static char *owned[256];
static size_t nowned;

static void setup(void)
{
    D = stream_decoder_create(NULL);
}

static void teardown(void)
{
    stream_decoder_destroy(D);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    nowned = 0;
}

TestSuite(stream, .init = setup, .fini = teardown);

/* An exact-size heap copy, alive until the end of the test (slices point into it). */
static const char *heap(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    memcpy(p, s, n);
    if (nowned == sizeof owned / sizeof owned[0]) {
        free(owned[0]);
        memmove(owned, owned + 1, (nowned - 1) * sizeof owned[0]);
        nowned--;
    }
    owned[nowned++] = p;
    return p;
}

static int decn_with(stream_decoder *d, const char *s, size_t n, stream_msg *m)
{
    return stream_decode(d, heap(s, n), n, m);
}

static int decn(const char *s, size_t n, stream_msg *m)
{
    return decn_with(D, s, n, m);
}

static int dec(const char *s, stream_msg *m)
{
    return decn(s, strlen(s), m);
}

/* Line `idx` (0-based, non-empty lines) of a fixture file, malloc'd. */
static char *fixture_line(const char *rel, size_t idx)
{
    char *path = tu_fixture(rel);
    size_t len, n;
    char *buf = tu_read_file(path, &len);
    cr_assert_not_null(buf, "cannot read %s", path);
    char **lines = tu_lines(buf, &n);
    cr_assert_lt(idx, n);
    char *line = strdup(lines[idx]);
    free(lines);
    free(buf);
    free(path);
    return line;
}

static const ev *decode_line(const char *rel, size_t idx, stream_msg *m)
{
    char *line = fixture_line(rel, idx);
    int rc = dec(line, m);
    cr_assert_eq(rc, 0, "%s line %zu: %d %s", rel, idx, rc, stream_decoder_error(D));
    free(line);
    cr_assert_geq(m->nevents, 1);
    return &m->events[0];
}

#define HFT             "hftbacktest_usdm_btcusdt_20240808/"
#define CF              "cryptofeed_usdm_20210722/"
#define MISC            "misc/"
#define STR(slice, lit) cr_expect(bf_str_is((slice), (lit)), "%s != %s", #slice, lit)

static void expect_level(const stream_msg *m, ev_levels run, uint32_t i, const char *px,
                         const char *qty)
{
    cr_assert_lt(i, run.count);
    STR(m->levels[run.first + i].px, px);
    STR(m->levels[run.first + i].qty, qty);
}

/* A level's pre-parsed parts are what ev_level_set() (dec_preparse(), the helper jdec uses) makes
 * of its strings. Returns whether both numbers were pre-parsed. */
static bool expect_parts_of_strings(const ev_level *lv, const char *where)
{
    ev_level want;
    ev_level_set(&want, lv->px, lv->qty);
    cr_assert(lv->pre == want.pre && lv->px_m == want.px_m && lv->px_d == want.px_d &&
                  lv->qty_m == want.qty_m && lv->qty_d == want.qty_d,
              "%s: [\"%.*s\",\"%.*s\"] pre %u %lld e-%u %lld e-%u, from the strings pre %u %lld "
              "e-%u %lld e-%u",
              where, (int)lv->px.n, lv->px.p, (int)lv->qty.n, lv->qty.p, lv->pre,
              (long long)lv->px_m, lv->px_d, (long long)lv->qty_m, lv->qty_d, want.pre,
              (long long)want.px_m, want.px_d, (long long)want.qty_m, want.qty_d);
    return lv->pre == (EV_PRE_PX | EV_PRE_QTY);
}

static void expect_parts(const stream_msg *m, ev_levels run, uint32_t i, int64_t px_m,
                         unsigned px_d, int64_t qty_m, unsigned qty_d)
{
    cr_assert_lt(i, run.count);
    const ev_level *lv = &m->levels[run.first + i];
    cr_expect_eq(lv->pre, EV_PRE_PX | EV_PRE_QTY);
    cr_expect(lv->px_m == px_m && lv->px_d == px_d && lv->qty_m == qty_m && lv->qty_d == qty_d,
              "level %u: %lld e-%u x %lld e-%u", i, (long long)lv->px_m, lv->px_d,
              (long long)lv->qty_m, lv->qty_d);
}

/* ---- real captures ---- */

Test(stream, hftbacktest_depth_first_message)
{
    stream_msg m;
    const ev *e = decode_line(HFT "depth_0ms.jsonl", 0, &m);
    const ev_depth *d = &e->u.depth;
    STR(m.stream, "btcusdt@depth@0ms");
    cr_expect_eq(e->kind, EV_DEPTH);
    cr_expect_eq(e->has, EV_HAS_PU | EV_HAS_T);
    cr_expect_eq(d->E, 1723161256299);
    cr_expect_eq(d->T, 1723161256298);
    cr_expect_eq(d->U, 5123107832006);
    cr_expect_eq(d->u, 5123107837557);
    cr_expect_eq(d->pu, 5123107831937);
    cr_expect_not(d->partial);
    STR(d->symbol, "BTCUSDT");
    cr_expect_null(d->pair.p);
    cr_expect_eq(d->bids.count, 53);
    cr_expect_eq(d->asks.count, 29);
    expect_level(&m, d->bids, 0, "58710.20", "0.014");
    expect_level(&m, d->bids, 1, "61496.50", "0.010");
    expect_level(&m, d->bids, 2, "61510.90", "0.000");
    expect_level(&m, d->bids, 52, "61800.20", "2.507");
    expect_level(&m, d->asks, 0, "61800.30", "3.330");
    expect_level(&m, d->asks, 28, "65880.70", "15.918");
    /* Each price and quantity comes pre-parsed as well (the last ask is within a level's reach of
     * the end of the message, so it is read by the other path). */
    expect_parts(&m, d->bids, 0, 5871020, 2, 14, 3);
    expect_parts(&m, d->bids, 2, 6151090, 2, 0, 3);
    expect_parts(&m, d->asks, 28, 6588070, 2, 15918, 3);
}

Test(stream, hftbacktest_book_ticker_and_trade)
{
    stream_msg m;
    const ev *e = decode_line(HFT "bookTicker.jsonl", 0, &m);
    cr_expect_eq(e->kind, EV_BOOK_TICKER);
    cr_expect_eq(e->has, EV_HAS_E | EV_HAS_T);
    cr_expect_eq(e->u.bt.u, 5123107839020);
    cr_expect_eq(e->u.bt.E, 1723161256313);
    cr_expect_eq(e->u.bt.T, 1723161256313);
    STR(e->u.bt.symbol, "BTCUSDT");
    STR(e->u.bt.bid_px, "61800.20");
    STR(e->u.bt.bid_qty, "2.507");
    STR(e->u.bt.ask_px, "61800.30");
    STR(e->u.bt.ask_qty, "2.510");

    e = decode_line(HFT "trade.jsonl", 0, &m);
    STR(m.stream, "btcusdt@trade");
    cr_expect_eq(e->kind, EV_TRADE);
    cr_expect_eq(e->u.trade.E, 1723161256322);
    cr_expect_eq(e->u.trade.T, 1723161256322);
    cr_expect_eq(e->u.trade.trade_id, 5266583935);
    STR(e->u.trade.px, "61800.30");
    STR(e->u.trade.qty, "0.006");
    STR(e->u.trade.exec_type, "MARKET");
    cr_expect_not(e->u.trade.buyer_maker);
}

Test(stream, rest_snapshot_limit1000)
{
    char *path = tu_fixture(HFT "rest_depth_snapshot_limit1000.json");
    size_t len;
    char *body = tu_read_file(path, &len);
    cr_assert_not_null(body);
    stream_msg m;
    cr_assert_eq(decn(body, len, &m), 0, "%s", stream_decoder_error(D));
    const ev *e = &m.events[0];
    cr_expect_null(m.stream.p);
    cr_expect_eq(e->kind, EV_SNAPSHOT);
    cr_expect_eq(e->has, EV_HAS_E | EV_HAS_T);
    cr_expect_eq(e->u.snapshot.last_update_id, 5123107852948);
    cr_expect_eq(e->u.snapshot.E, 1723161256501);
    cr_expect_eq(e->u.snapshot.T, 1723161256493);
    cr_expect_eq(e->u.snapshot.bids.count, 1000);
    cr_expect_eq(e->u.snapshot.asks.count, 1000);
    expect_level(&m, e->u.snapshot.bids, 0, "61800.20", "2.909");
    expect_level(&m, e->u.snapshot.bids, 999, "61653.40", "0.068");
    expect_level(&m, e->u.snapshot.asks, 0, "61800.30", "1.072");
    expect_parts(&m, e->u.snapshot.bids, 999, 6165340, 2, 68, 3);
    for (uint32_t i = 0; i < 2000; i++)
        cr_assert(expect_parts_of_strings(&m.levels[i], "snapshot"), "level %u", i);
    free(body);
    free(path);
}

Test(stream, cryptofeed_agg_trade_kline_depth_book_ticker)
{
    stream_msg m;
    const ev *e = decode_line(CF "derived_ws_aggTrade.jsonl", 0, &m);
    cr_expect_eq(e->kind, EV_AGG_TRADE);
    cr_expect_eq(e->u.agg.E, 1626992741575);
    cr_expect_eq(e->u.agg.agg_id, 16599292);
    cr_expect_eq(e->u.agg.first_id, 23961322);
    cr_expect_eq(e->u.agg.last_id, 23961322);
    cr_expect_eq(e->u.agg.T, 1626992741421);
    STR(e->u.agg.symbol, "CTKUSDT");
    STR(e->u.agg.px, "1.01100");
    STR(e->u.agg.qty, "10");
    cr_expect_null(e->u.agg.nq.p);
    cr_expect_not(e->u.agg.buyer_maker);

    e = decode_line(CF "derived_ws_kline_1m.jsonl", 0, &m);
    const ev_kline *k = &e->u.kline;
    cr_expect_eq(e->kind, EV_KLINE);
    cr_expect_eq(k->E, 1626992741424);
    cr_expect_eq(k->start, 1626992700000);
    cr_expect_eq(k->close_time, 1626992759999);
    cr_expect_eq(k->first_id, 23961275);
    cr_expect_eq(k->last_id, 23961322);
    cr_expect_eq(k->trades, 48);
    cr_expect_not(k->closed);
    STR(k->symbol, "CTKUSDT");
    STR(k->interval, "1m");
    STR(k->open, "1.01000");
    STR(k->close, "1.01100");
    STR(k->high, "1.01100");
    STR(k->low, "1.01000");
    STR(k->volume, "3917");
    STR(k->quote_volume, "3957.89900");
    STR(k->taker_base, "1729");
    STR(k->taker_quote, "1748.01900");

    e = decode_line(CF "derived_ws_depth100ms_SUSHIUSDT.jsonl", 0, &m);
    cr_expect_eq(e->u.depth.U, 600859599090);
    cr_expect_eq(e->u.depth.pu, 600859598061);
    cr_expect_eq(e->u.depth.bids.count, 3);
    cr_expect_eq(e->u.depth.asks.count, 2);
    expect_level(&m, e->u.depth.bids, 1, "7.6090", "0");
    expect_level(&m, e->u.depth.asks, 1, "7.6220", "3284");

    e = decode_line(CF "derived_ws_bookTicker.jsonl", 0, &m);
    cr_expect_eq(e->u.bt.u, 600859600576);
    STR(e->u.bt.bid_qty, "2");
    STR(e->u.bt.ask_qty, "297");
}

Test(stream, mark_price_single_and_array)
{
    stream_msg m;
    const ev *e = decode_line(MISC "crypto_msg_parser_usdm_samples.jsonl", 1, &m);
    cr_expect_eq(e->kind, EV_MARK_PRICE);
    cr_expect_eq(e->u.mark.E, 1617308820003);
    cr_expect_eq(e->u.mark.next_funding, 1617321600000);
    STR(e->u.mark.mark, "58940.14924532");
    STR(e->u.mark.settle, "58905.14663658");
    STR(e->u.mark.index, "58857.26693664");
    STR(e->u.mark.funding, "0.00058455");
    cr_expect_null(e->u.mark.mark_avg.p);

    e = decode_line(MISC "crypto_msg_parser_usdm_samples.jsonl", 2, &m);
    STR(m.stream, "!markPrice@arr");
    cr_assert_eq(m.nevents, 2);
    STR(m.events[0].u.mark.symbol, "BTCUSDT");
    STR(m.events[1].u.mark.symbol, "ETHUSDT");
    STR(m.events[1].u.mark.mark, "1981.15704420");
    cr_expect_eq(m.events[1].kind, EV_MARK_PRICE);

    /* Aug 2020: no "P". 2026 COIN-M: "ap" and "st". */
    e = decode_line(MISC "tardis_node_test_binance_futures_converted.jsonl", 3, &m);
    cr_expect_null(e->u.mark.settle.p);
    STR(e->u.mark.mark, "11857.56000000");
    e = decode_line(MISC "tardis_node_test_binance_futures_converted.jsonl", 4, &m);
    cr_expect_eq(e->u.mark.next_funding, 0);
    e = decode_line(MISC "post_cm_migration_2026_unattributed.jsonl", 8, &m);
    STR(e->u.mark.mark_avg, "83732.50000000");
    cr_expect_eq(e->has, EV_HAS_ST);
    cr_expect_eq(e->st, 2);
}

Test(stream, partial_depth_and_coinm_pu_minus_one)
{
    stream_msg m;
    const ev *e = decode_line(MISC "crypto_msg_parser_usdm_samples.jsonl", 4, &m);
    STR(m.stream, "ethusdt@depth20");
    cr_expect(e->u.depth.partial);
    cr_expect_eq(e->u.depth.bids.count, 3);

    e = decode_line(MISC "crypto_msg_parser_coinm_depth5_pu_minus1.json", 0, &m);
    cr_expect(e->u.depth.partial);
    cr_expect_eq(e->u.depth.pu, -1);
    cr_expect_eq(e->has, EV_HAS_PU | EV_HAS_T);
    cr_expect_eq(e->u.depth.U, 395028983849);
    cr_expect_eq(e->u.depth.u, 395028983849);
    STR(e->u.depth.pair, "RUNEUSD");
    cr_expect_eq(e->u.depth.bids.count, 0);
    expect_level(&m, e->u.depth.asks, 0, "8.4400", "2");

    e = decode_line(MISC "crypto_msg_parser_usdm_samples.jsonl", 3, &m);
    cr_expect_not(e->u.depth.partial); /* btcusdt@depth@100ms */
}

Test(stream, force_order_2021_and_2026)
{
    stream_msg m;
    const ev *e = decode_line(MISC "forceOrder_arr_IOTXUSDT_20211019.jsonl", 0, &m);
    const ev_force_order *f = &e->u.force;
    cr_expect_eq(e->kind, EV_FORCE_ORDER);
    cr_expect_eq(e->has, 0);
    cr_expect_eq(f->E, 1634653599186);
    cr_expect_eq(f->T, 1634653599180);
    STR(f->symbol, "IOTXUSDT");
    STR(f->side, "SELL");
    STR(f->type, "LIMIT");
    STR(f->tif, "IOC");
    STR(f->qty, "3661");
    STR(f->px, "0.06606");
    STR(f->avg_px, "0.06669");
    STR(f->status, "FILLED");
    STR(f->last_qty, "962");
    STR(f->cum_qty, "3661");

    e = decode_line(MISC "post_cm_migration_2026_unattributed.jsonl", 0, &m);
    cr_expect_eq(e->has, EV_HAS_ST); /* "st" inside "o" */
    cr_expect_eq(e->st, 1);
    STR(e->u.force.avg_px, "82651.90");
    e = decode_line(MISC "post_cm_migration_2026_unattributed.jsonl", 2, &m);
    cr_expect_null(m.stream.p);
    STR(e->u.force.symbol, "MANTAUSDT");
}

Test(stream, tardis_trade_insurance_fund_and_2026_book_ticker)
{
    stream_msg m;
    const ev *e = decode_line(MISC "tardis_node_test_binance_futures_converted.jsonl", 0, &m);
    STR(e->u.trade.exec_type, "INSURANCE_FUND");
    cr_expect_eq(e->u.trade.trade_id, 73701056);
    cr_expect(e->u.trade.buyer_maker);

    e = decode_line(MISC "post_cm_migration_2026_unattributed.jsonl", 3, &m);
    cr_expect_eq(e->kind, EV_BOOK_TICKER);
    cr_expect_eq(e->has, EV_HAS_E | EV_HAS_T | EV_HAS_ST);
    cr_expect_eq(e->st, 1);
    STR(e->u.bt.pair, "BTCUSDT");
    cr_expect_eq(e->u.bt.u, 11730346419457);

    e = decode_line(MISC "post_cm_migration_2026_unattributed.jsonl", 6, &m); /* spaces */
    cr_expect_eq(e->u.kline.trades, 321);
    STR(e->u.kline.taker_quote, "403639.25130");
}

Test(stream, unsupported_real_messages)
{
    stream_msg m;
    size_t idx[] = { 7, 8, 11 }; /* ticker, !ticker@arr, openInterest */
    for (size_t i = 0; i < 3; i++) {
        char *line = fixture_line(MISC "crypto_msg_parser_usdm_samples.jsonl", idx[i]);
        cr_expect_eq(dec(line, &m), BF_EUNSUPPORTED, "line %zu", idx[i]);
        free(line);
    }
    cr_expect_eq(dec("{\"result\":null,\"id\":1}", &m), BF_EUNSUPPORTED);
    cr_expect_eq(dec("{}", &m), BF_EUNSUPPORTED);
    cr_expect_eq(dec("{\"e\":\"24hrTicker\",\"E\":1}", &m), BF_EUNSUPPORTED);
}

/* ---- forms, order, unknown fields, escapes ---- */

#define BT_DATA                                                                                    \
    "{\"e\":\"bookTicker\",\"u\":5,\"s\":\"BTCUSDT\",\"b\":\"1.5\",\"B\":\"2\",\"a\":\"1.6\","     \
    "\"A\":\"3\",\"T\":7,\"E\":8}"

Test(stream, raw_and_combined_are_the_same_event)
{
    stream_decoder *d2 = stream_decoder_create(NULL);
    stream_msg raw, wrapped, late;
    cr_assert_eq(dec(BT_DATA, &raw), 0);
    cr_assert_eq(decn_with(d2, "{\"stream\":\"btcusdt@bookTicker\",\"data\":" BT_DATA "}",
                           strlen("{\"stream\":\"btcusdt@bookTicker\",\"data\":" BT_DATA "}"),
                           &wrapped),
                 0);
    cr_expect_null(raw.stream.p);
    STR(wrapped.stream, "btcusdt@bookTicker");
    wrapped.stream = raw.stream;
    cr_expect(stream_msg_eq(&raw, &wrapped));
    /* "data" before "stream", other wrapper keys ignored, even "e". */
    const char *rev = "{\"x\":[1,{\"y\":2}],\"data\":" BT_DATA ",\"e\":\"trade\",\"stream\":\"s\"}";
    cr_assert_eq(decn_with(d2, rev, strlen(rev), &late), 0, "%s", stream_decoder_error(d2));
    STR(late.stream, "s");
    late.stream = raw.stream;
    cr_expect(stream_msg_eq(&raw, &late));
    stream_decoder_destroy(d2);
}

Test(stream, key_order_does_not_matter)
{
    static const char *const pairs[][2] = {
        { "{\"e\":\"bookTicker\",\"u\":5,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":"
          "\"4\"}",
          "{\"A\":\"4\",\"a\":\"3\",\"B\":\"2\",\"b\":\"1\",\"s\":\"X\",\"u\":5,\"e\":"
          "\"bookTicker\"}" },
        { "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":2,\"u\":3,\"pu\":1,\"b\":[[\"1\",\"2\"]"
          "],"
          "\"a\":[[\"3\",\"4\"],[\"5\",\"6\"]]}",
          "{\"a\":[[\"3\",\"4\"],[\"5\",\"6\"]],\"b\":[[\"1\",\"2\"]],\"pu\":1,\"u\":3,\"U\":2,"
          "\"s\":\"X\",\"E\":1,\"e\":\"depthUpdate\"}" },
        { "{\"e\":\"kline\",\"E\":1,\"s\":\"X\",\"k\":{\"t\":1,\"T\":2,\"i\":\"1m\",\"f\":3,\"L\":"
          "4,"
          "\"o\":\"1\",\"c\":\"2\",\"h\":\"3\",\"l\":\"4\",\"v\":\"5\",\"n\":6,\"x\":true,\"q\":"
          "\"7\","
          "\"V\":\"8\",\"Q\":\"9\"}}",
          "{\"k\":{\"Q\":\"9\",\"V\":\"8\",\"q\":\"7\",\"x\":true,\"n\":6,\"v\":\"5\",\"l\":\"4\","
          "\"h\":\"3\",\"c\":\"2\",\"o\":\"1\",\"L\":4,\"f\":3,\"i\":\"1m\",\"T\":2,\"t\":1},\"s\":"
          "\"X\","
          "\"E\":1,\"e\":\"kline\"}" },
        { "{\"e\":\"forceOrder\",\"E\":1,\"st\":5,\"o\":{\"s\":\"X\",\"S\":\"BUY\",\"o\":\"LIMIT\","
          "\"f\":\"IOC\",\"q\":\"1\",\"p\":\"2\",\"ap\":\"3\",\"X\":\"FILLED\",\"l\":\"1\",\"z\":"
          "\"1\","
          "\"T\":9,\"st\":1}}",
          "{\"o\":{\"st\":1,\"T\":9,\"z\":\"1\",\"l\":\"1\",\"X\":\"FILLED\",\"ap\":\"3\",\"p\":"
          "\"2\","
          "\"q\":\"1\",\"f\":\"IOC\",\"o\":\"LIMIT\",\"S\":\"BUY\",\"s\":\"X\"},\"E\":1,\"st\":5,"
          "\"e\":\"forceOrder\"}" },
        { "{\"lastUpdateId\":9,\"E\":1,\"T\":2,\"bids\":[[\"1\",\"2\"]],\"asks\":[]}",
          "{\"asks\":[],\"bids\":[[\"1\",\"2\"]],\"T\":2,\"E\":1,\"lastUpdateId\":9}" },
    };
    stream_decoder *d2 = stream_decoder_create(NULL);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        stream_msg a, b;
        cr_assert_eq(dec(pairs[i][0], &a), 0, "%zu: %s", i, stream_decoder_error(D));
        cr_assert_eq(decn_with(d2, pairs[i][1], strlen(pairs[i][1]), &b), 0, "%zu: %s", i,
                     stream_decoder_error(d2));
        cr_expect(stream_msg_eq(&a, &b), "pair %zu", i);
    }
    stream_msg m;
    cr_assert_eq(dec(pairs[3][1], &m), 0);
    cr_expect_eq(m.events[0].st, 5, "top-level st wins over o.st");
    stream_decoder_destroy(d2);
}

Test(stream, old_book_ticker_without_e)
{
    stream_msg m;
    cr_assert_eq(dec("{\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}", &m),
                 0);
    cr_expect_eq(m.events[0].kind, EV_BOOK_TICKER);
    cr_expect_eq(m.events[0].has, 0);
    cr_expect_eq(dec("{\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\"}", &m),
                 BF_EUNSUPPORTED);
}

Test(stream, unknown_fields_of_every_type_are_ignored)
{
    const char *plain =
        "{\"e\":\"aggTrade\",\"E\":1,\"a\":2,\"s\":\"X\",\"p\":\"1\",\"q\":\"2\",\"f\":3,"
        "\"l\":4,\"T\":5,\"m\":true}";
    const char *noisy =
        "{\"zz\":{\"a\":[1,{\"b\":null,\"c\":[[],{}]}],\"e\":\"trade\"},\"e\":\"aggTrade\",\"E\":1,"
        "\"n1\":-1.5e-3,\"a\":2,\"t1\":true,\"f1\":false,\"s\":\"X\",\"nl\":null,\"p\":\"1\","
        "\"str\":\"\\u00e9\\\"\",\"q\":\"2\",\"f\":3,\"l\":4,\"deep\":[[[[{\"x\":[0]}]]]],\"T\":5,"
        "\"m\":true,\"big\":-9223372036854775808,\"tiny\":1e-999,\"\":0,\"ps\":\"ignored for "
        "agg\"}";
    stream_decoder *d2 = stream_decoder_create(NULL);
    stream_msg a, b;
    cr_assert_eq(dec(plain, &a), 0);
    cr_assert_eq(decn_with(d2, noisy, strlen(noisy), &b), 0, "%s", stream_decoder_error(d2));
    cr_expect(stream_msg_eq(&a, &b));
    stream_decoder_destroy(d2);
}

Test(stream, whitespace_everywhere)
{
    const char *ws =
        " \r\n\t{ \"stream\" :\t\"s\" , \"data\" : { \"e\" : \"depthUpdate\" , \"E\" : 1 ,"
        "\"s\":\"X\",\"U\":2,\"u\":3,\"b\" : [ [ \"1\" , \"2\" ] , [\"3\",\"4\"] ] ,"
        "\"a\":[ ] } } \n";
    stream_msg m;
    cr_assert_eq(dec(ws, &m), 0, "%s", stream_decoder_error(D));
    cr_expect_eq(m.events[0].u.depth.bids.count, 2);
    expect_level(&m, m.events[0].u.depth.bids, 1, "3", "4");
    cr_expect_eq(m.events[0].has, 0);
}

Test(stream, escapes_are_unescaped_in_known_fields_and_keys)
{
    const char *s =
        "{\"stream\":\"btc\\u0075sdt@depth5\",\"data\":{\"\\u0065\":\"depth\\u0055pdate\","
        "\"E\":1,\"s\":\"BTC\\/\\u00e9\\ud83d\\ude00\\n\",\"U\":2,\"u\":3,\"\\u0070u\":4,"
        "\"b\":[[\"1\\u002e5\",\"2\"]],\"a\":[]}}";
    stream_msg m;
    cr_assert_eq(dec(s, &m), 0, "%s", stream_decoder_error(D));
    STR(m.stream, "btcusdt@depth5");
    cr_expect(m.events[0].u.depth.partial);
    STR(m.events[0].u.depth.symbol, "BTC/\xc3\xa9\xf0\x9f\x98\x80\n");
    cr_expect_eq(m.events[0].u.depth.pu, 4);
    expect_level(&m, m.events[0].u.depth.bids, 0, "1.5", "2");
    /* Raw UTF-8 stays a slice of the input. */
    cr_assert_eq(
        dec("{\"u\":1,\"s\":\"\xe2\x82\xac\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}", &m),
        0);
    STR(m.events[0].u.bt.symbol, "\xe2\x82\xac");
}

Test(stream, partial_flag_follows_the_stream_name)
{
    static const struct {
        const char *name;
        bool partial;
    } cases[] = { { "btcusdt@depth5", true },
                  { "ethusdt@depth20@100ms", true },
                  { "btcusdt@depth@0ms", false },
                  { "btcusdt@depth", false },
                  { "btcusdt@depth@100ms", false },
                  { "x@depthx5", false },
                  { "depth5", false },
                  { "a@depth@depth10", true } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"stream\":\"%s\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":2,"
                 "\"u\":3,\"b\":[],\"a\":[]}}",
                 cases[i].name);
        stream_msg m;
        cr_assert_eq(dec(buf, &m), 0);
        cr_expect_eq(m.events[0].u.depth.partial, cases[i].partial, "%s", cases[i].name);
    }
    stream_msg m;
    cr_assert_eq(
        dec("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":2,\"u\":3,\"b\":[],\"a\":[]}", &m),
        0);
    cr_expect_not(m.events[0].u.depth.partial, "raw messages are diffs");
}

Test(stream, arrays_of_mark_price)
{
    stream_msg m;
    const char *mp =
        "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1\",\"i\":\"2\",\"r\":\"3\","
        "\"T\":4}";
    char buf[512];
    snprintf(buf, sizeof buf, "[%s,%s,%s]", mp, mp, mp);
    cr_assert_eq(dec(buf, &m), 0);
    cr_expect_eq(m.nevents, 3);
    cr_expect_null(m.stream.p);
    cr_assert_eq(dec("[]", &m), 0);
    cr_expect_eq(m.nevents, 0);
    cr_assert_eq(dec("{\"stream\":\"!markPrice@arr\",\"data\":[ ]}", &m), 0);
    cr_expect_eq(m.nevents, 0);
    snprintf(buf, sizeof buf, "[%s,%s]", mp, BT_DATA);
    cr_expect_eq(dec(buf, &m), BF_EUNSUPPORTED);
    cr_expect_eq(dec("[1]", &m), BF_EUNSUPPORTED);
    cr_expect_eq(dec("[{\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}]", &m), BF_EUNSUPPORTED);
}

/* ---- limits ---- */

Test(stream, level_and_event_limits)
{
    stream_limits lim = { .max_levels = 4, .max_events = 2 };
    stream_decoder *d = stream_decoder_create(&lim);
    const char *four = "{\"lastUpdateId\":1,\"bids\":[[\"1\",\"1\"],[\"2\",\"2\"]],"
                       "\"asks\":[[\"3\",\"3\"],[\"4\",\"4\"]]}";
    const char *five = "{\"lastUpdateId\":1,\"bids\":[[\"1\",\"1\"],[\"2\",\"2\"]],"
                       "\"asks\":[[\"3\",\"3\"],[\"4\",\"4\"],[\"5\",\"5\"]]}";
    stream_msg m;
    cr_expect_eq(decn_with(d, four, strlen(four), &m), 0);
    cr_expect_eq(decn_with(d, five, strlen(five), &m), BF_ETOOBIG);
    const char *mp =
        "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1\",\"i\":\"2\",\"r\":\"3\","
        "\"T\":4}";
    char buf[512];
    snprintf(buf, sizeof buf, "[%s,%s]", mp, mp);
    cr_expect_eq(decn_with(d, buf, strlen(buf), &m), 0);
    snprintf(buf, sizeof buf, "[%s,%s,%s]", mp, mp, mp);
    cr_expect_eq(decn_with(d, buf, strlen(buf), &m), BF_ETOOBIG);
    cr_expect_gt(stream_decoder_mem_bytes(d), 0);
    stream_decoder_destroy(d);
}

/* ---- rejections ---- */

typedef struct bad {
    const char *in;
    int code;
} bad;

static void expect_rejections(const bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        stream_msg m;
        int rc = dec(cases[i].in, &m);
        cr_expect_eq(rc, cases[i].code, "case %zu %s: got %d (%s)", i, cases[i].in, rc,
                     stream_decoder_error(D));
        cr_expect(rc == 0 || strstr(stream_decoder_error(D), "byte ") != NULL,
                  "error names an offset: %s", stream_decoder_error(D));
    }
}

#define TR "{\"e\":\"trade\",\"E\":1,\"T\":2,\"s\":\"X\",\"t\":3,\"p\":\"1\",\"q\":\"2\""

Test(stream, wrong_types_nulls_and_missing_fields)
{
    static const bad cases[] = {
        { TR ",\"m\":true}", 0 },
        { TR ",\"m\":\"true\"}", BF_ETYPE },
        { TR ",\"m\":null}", BF_ETYPE },
        { TR "}", BF_EMISSING },
        { "{\"e\":\"trade\",\"E\":\"1\",\"T\":2,\"s\":\"X\",\"t\":3,\"p\":\"1\",\"q\":\"2\",\"m\":"
          "true}",
          BF_ETYPE },
        { "{\"e\":\"trade\",\"E\":1.0,\"T\":2,\"s\":\"X\",\"t\":3,\"p\":\"1\",\"q\":\"2\",\"m\":"
          "true}",
          BF_ETYPE },
        { "{\"e\":\"trade\",\"E\":1,\"T\":2,\"s\":null,\"t\":3,\"p\":\"1\",\"q\":\"2\",\"m\":true}",
          BF_ETYPE },
        { TR ",\"m\":true,\"X\":null}", BF_ETYPE },
        { TR ",\"m\":true,\"X\":1}", BF_ETYPE },
        { "{\"e\":5}", BF_ETYPE },
        { "{\"e\":null,\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
          BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":\"x\",\"asks\":[]}", BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":[[\"1\"]],\"asks\":[]}", BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":[[\"1\",\"2\",\"3\"]],\"asks\":[]}", BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":[[\"1\",2]],\"asks\":[]}", BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":[[]],\"asks\":[]}", BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":[\"1\"],\"asks\":[]}", BF_ETYPE },
        { "{\"lastUpdateId\":1,\"bids\":[]}", BF_EMISSING },
        { "{\"lastUpdateId\":null,\"bids\":[],\"asks\":[]}", BF_ETYPE },
        { "{\"e\":\"kline\",\"E\":1,\"s\":\"X\",\"k\":[]}", BF_ETYPE },
        { "{\"e\":\"kline\",\"E\":1,\"s\":\"X\",\"k\":{\"t\":1}}", BF_EMISSING },
        { "{\"e\":\"forceOrder\",\"E\":1,\"o\":{}}", BF_EMISSING },
        { "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":2,\"u\":3,\"b\":[],\"a\":[],\"pu\":"
          "null}",
          BF_ETYPE },
        { "{\"stream\":\"x\"}", BF_EMISSING },
        { "{\"stream\":1,\"data\":{}}", BF_ETYPE },
        { "{\"stream\":\"x\",\"data\":5}", BF_ETYPE },
        { "{\"data\":" BT_DATA "}", BF_EUNSUPPORTED },
        { "{\"stream\":\"x\",\"data\":{\"stream\":\"y\",\"data\":" BT_DATA "}}", BF_EUNSUPPORTED },
    };
    expect_rejections(cases, sizeof cases / sizeof cases[0]);
}

Test(stream, malformed_json)
{
    static const bad cases[] = {
        { "", BF_ETRUNC },
        { "   ", BF_ETRUNC },
        { "1", BF_ESYNTAX },
        { "\"x\"", BF_ESYNTAX },
        { "null", BF_ESYNTAX },
        { "{\"e\":}", BF_ESYNTAX },
        { "{\"a\" 1}", BF_ESYNTAX },
        { "[1,]", BF_ESYNTAX },
        { "{\"a\":1,}", BF_ESYNTAX },
        { "{'a':1}", BF_ESYNTAX },
        { "{\"a\":01}", BF_ESYNTAX },
        { "{\"a\":1.}", BF_ESYNTAX },
        { "{\"a\":.5}", BF_ESYNTAX },
        { "{\"a\":+1}", BF_ESYNTAX },
        { "{\"a\":-}", BF_ESYNTAX },
        { "{\"a\":1e}", BF_ESYNTAX },
        { "{\"a\":tru}", BF_ESYNTAX },
        { "{\"a\":truex}", BF_ESYNTAX },
        { "{\"a\":1}x", BF_ESYNTAX },
        { "{\"a\":1}}", BF_ESYNTAX },
        { "{\"a\":1} {}", BF_ESYNTAX },
        { "{\"a\":1}\f", BF_ESYNTAX },
        { "\xef\xbb\xbf{}", BF_ESYNTAX },
        { "{\"a\":\"\x01\"}", BF_ESYNTAX },
        { "{\"a\":\"\t\"}", BF_ESYNTAX },
        { "{\"a\":\"\\x\"}", BF_ESYNTAX },
        { "{\"a\":\"\\u12G4\"}", BF_ESYNTAX },
        { "{\"a\":\"\\ud800\"}", BF_ESYNTAX },
        { "{\"a\":\"\\ud800\\u0041\"}", BF_ESYNTAX },
        { "{\"a\":\"\\udc00\"}", BF_ESYNTAX },
        { "{\"a\":\"\\u0000\"}", BF_ESYNTAX },
        { "{\"\\u0000\":1}", BF_ESYNTAX },
        { "{\"a\":\"\xff\"}", BF_ESYNTAX },
        { "{\"a\":\"\xc0\x80\"}", BF_ESYNTAX },         /* overlong */
        { "{\"a\":\"\xed\xa0\x80\"}", BF_ESYNTAX },     /* UTF-8 surrogate */
        { "{\"a\":\"\xf4\x90\x80\x80\"}", BF_ESYNTAX }, /* > U+10FFFF */
        { "{\"a\":\"\xe2\x82\"}", BF_ESYNTAX },
        { "{\"a\":9223372036854775808}", BF_ERANGE },
        { "{\"a\":-9223372036854775809}", BF_ERANGE },
        { "{\"a\":123456789012345678901234567890}", BF_ERANGE },
        { "{\"a\":1e999}", BF_ERANGE },
        { "{\"a\":-1.7976931348623159e308}", BF_ERANGE },
        { "{\"e\":\"trade\",\"e\":\"trade\"}", BF_EDUP },
        { "{\"a\":{\"x\":1,\"x\":2}}", BF_EDUP },
        { "{\"pu\":1,\"pu\":1}", BF_EDUP },
        { "{\"pu\":1,\"\\u0070u\":1}", BF_EDUP },
        { "{\"\":1,\"\":1}", BF_EDUP },
        { "[{\"x\":[{\"aa\":1,\"bb\":2,\"aa\":3}]}]", BF_EDUP },
    };
    expect_rejections(cases, sizeof cases / sizeof cases[0]);
}

Test(stream, nul_bytes_are_rejected)
{
    static const char *const cases[] = { "{\"a\":1\0}", "{\"a\":true\0}", "{\"a\":\"\0\"}",
                                         "{\"a\":1}\0", "\0{}" };
    static const size_t lens[] = { 8, 11, 9, 8, 3 };
    for (size_t i = 0; i < 5; i++) {
        stream_msg m;
        cr_expect_eq(decn(cases[i], lens[i], &m), BF_ESYNTAX, "case %zu", i);
    }
}

Test(stream, many_long_keys_and_duplicates_among_them)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof buf, "{\"x\":{");
    for (int k = 0; k < 100; k++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"key%d\":%d", k ? "," : "", k, k);
    snprintf(buf + o, sizeof buf - o, "}}");
    stream_msg m;
    cr_expect_eq(dec(buf, &m), BF_EUNSUPPORTED, "distinct keys: valid JSON");
    snprintf(buf + o, sizeof buf - o, ",\"key57\":1}}");
    cr_expect_eq(dec(buf, &m), BF_EDUP, "a repeat after the first 16 keys");
}

/* `n` arrays nested in the value of "x": the innermost is at depth n + 1. */
static char *nested(size_t n, const char *inner, size_t *len)
{
    size_t il = strlen(inner);
    *len = 6 + 2 * n + il + 1;
    char *b = malloc(*len);
    memcpy(b, "{\"x\":", 5);
    memset(b + 5, '[', n);
    memcpy(b + 5 + n, inner, il);
    memset(b + 5 + n + il, ']', n);
    memcpy(b + 5 + 2 * n + il, "}", 1);
    *len = 6 + 2 * n + il;
    return b;
}

Test(stream, nesting_limit_is_janssons)
{
    size_t len;
    stream_msg m;
    char *b = nested(2047, "", &len); /* deepest value at depth 2048 */
    cr_expect_eq(decn(b, len, &m), BF_EUNSUPPORTED);
    free(b);
    b = nested(2048, "", &len);
    cr_expect_eq(decn(b, len, &m), BF_EDEPTH);
    free(b);
    b = nested(2046, "1", &len); /* the 1 at depth 2048 */
    cr_expect_eq(decn(b, len, &m), BF_EUNSUPPORTED);
    free(b);
    b = nested(2047, "1", &len);
    cr_expect_eq(decn(b, len, &m), BF_EDEPTH);
    free(b);
    b = nested(100000, "", &len); /* no C recursion: must not blow the stack */
    cr_expect_eq(decn(b, len, &m), BF_EDEPTH);
    free(b);
}

/* Every proper prefix of a valid message is a truncation, at every byte. */
static void truncations_of(const char *msg)
{
    size_t n = strlen(msg);
    stream_msg m;
    cr_assert_eq(dec(msg, &m), 0, "%s: %s", msg, stream_decoder_error(D));
    for (size_t cut = 0; cut < n; cut++) {
        int rc = decn(msg, cut, &m);
        cr_assert_eq(rc, BF_ETRUNC, "cut at %zu of %s: %d %s", cut, msg, rc,
                     stream_decoder_error(D));
    }
}

Test(stream, truncation_at_every_byte)
{
    truncations_of("{\"stream\":\"btcusdt@bookTicker\",\"data\":" BT_DATA "}");
    truncations_of(TR ",\"m\":false,\"X\":\"\\u00e9\\ud83d\\ude00\xe2\x82\xac\"}");
    truncations_of("[{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1\",\"i\":\"2\","
                   "\"r\":\"-0.5\",\"T\":4,\"u\":[1.5e-3,null,true]}]");
    char *line = fixture_line(MISC "post_cm_migration_2026_unattributed.jsonl", 6);
    truncations_of(line);
    free(line);
    line = fixture_line(MISC "crypto_msg_parser_coinm_depth5_pu_minus1.json", 0);
    truncations_of(line);
    free(line);
}

Test(stream, error_message_names_the_offset)
{
    stream_msg m;
    cr_assert_eq(dec("{\"a\":1,}", &m), BF_ESYNTAX);
    cr_expect(strstr(stream_decoder_error(D), "byte 7") != NULL, "%s", stream_decoder_error(D));
    cr_assert_eq(dec("{\"e\":\"trade\",\"E\":\"x\"}", &m), BF_ETYPE);
    cr_expect(strstr(stream_decoder_error(D), "byte 17") != NULL, "%s", stream_decoder_error(D));
    cr_assert_eq(dec("{\"a\":[1,", &m), BF_ETRUNC);
    cr_expect(strstr(stream_decoder_error(D), "byte 8") != NULL, "%s", stream_decoder_error(D));
}

Test(stream, results_survive_escapes_that_outgrow_the_scratch)
{
    /* Many escaped strings in one message: earlier slices must stay valid as scratch grows. */
    char buf[65536];
    size_t o = (size_t)snprintf(buf, sizeof buf, "{\"lastUpdateId\":1,\"asks\":[],\"bids\":[");
    for (int k = 0; k < 1000; k++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s[\"\\u0031%d\",\"\\u0032\"]",
                              k ? "," : "", k);
    snprintf(buf + o, sizeof buf - o, "]}");
    stream_msg m;
    cr_assert_eq(dec(buf, &m), 0, "%s", stream_decoder_error(D));
    const ev_levels b = m.events[0].u.snapshot.bids;
    cr_assert_eq(b.count, 1000);
    expect_level(&m, b, 0, "10", "2");
    expect_level(&m, b, 999, "1999", "2");
}

/* ---- pre-parsed levels ---- */

static uint64_t rng = 0x243f6a8885a308d3ull;

static size_t below(size_t n)
{
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (size_t)((rng * 0x2545f4914f6cdd1dull) % n);
}

/* A number string of a random shape: mostly what the fast path takes (up to 8 digits, a point or
 * not), then longer numbers, negatives, leading zeros, and malformed ones; returns its length. */
static size_t gen_number(char *o)
{
    static const char *const odd[] = { "",    "-",    ".5",       "5.",    "1.2.3",
                                       "1e5", "+1",   "0x1",      "1 2",   "--1",
                                       "-.5", "1..2", "\xc3\xa9", "7\x7f", "NaN" };
    size_t n = 0, kind = below(10);
    if (kind == 9) {
        const char *w = odd[below(sizeof odd / sizeof odd[0])];
        memcpy(o, w, strlen(w));
        return strlen(w);
    }
    if (kind == 8)
        o[n++] = '-';
    size_t digits = 1 + (kind == 7 ? 8 + below(13) : below(8));
    size_t point = below(3) ? 1 + below(digits) : digits; /* == digits: none */
    for (size_t i = 0; i < digits; i++) {
        if (i == point)
            o[n++] = '.';
        o[n++] = (char)('0' + (below(4) ? below(10) : 0));
    }
    return n;
}

/* The string s[0..n) as a JSON string body, sometimes with an escape (which the decoder undoes). */
static size_t json_body(const char *s, size_t n, char *o, bool escape)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (escape && i == n / 2 && (unsigned char)s[i] < 0x80) /* \u00XX is that ASCII byte */
            k += (size_t)sprintf(o + k, "\\u%04x", (unsigned char)s[i]);
        else
            o[k++] = s[i];
    }
    return k;
}

/* Depth messages with many levels of every shape, in the exchange's exact form, with whitespace, or
 * with escapes, some of them within a level's reach of the end of the message: each level keeps its
 * strings, and its parts are those of its strings (both the fused scan and the other paths). */
Test(stream, levels_are_pre_parsed_whatever_their_shape)
{
    size_t levels = 0, fast_shaped = 0, pre = 0;
    for (int msg = 0; msg < 300; msg++) {
        char buf[16384], px[32][40], qty[32][40];
        size_t pn[32], qn[32], nlev = 1 + below(32), o = 0;
        o += (size_t)sprintf(buf, "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,"
                                  "\"pu\":0,\"b\":[");
        for (size_t i = 0; i < nlev; i++) {
            pn[i] = gen_number(px[i]);
            qn[i] = gen_number(qty[i]);
            size_t form = below(10);
            o += (size_t)sprintf(buf + o, "%s%s\"", i ? "," : "", form == 0 ? "[ " : "[");
            o += json_body(px[i], pn[i], buf + o, form == 1 && pn[i] > 0);
            o += (size_t)sprintf(buf + o, "\"%s\"", form == 0 ? " , " : ",");
            o += json_body(qty[i], qn[i], buf + o, form == 1 && qn[i] > 0);
            o += (size_t)sprintf(buf + o, "\"%s", form == 0 ? " ]" : "]");
        }
        o += (size_t)sprintf(buf + o, "],\"a\":[]}");
        stream_msg m;
        cr_assert_eq(decn(buf, o, &m), 0, "%.*s: %s", (int)o, buf, stream_decoder_error(D));
        ev_levels b = m.events[0].u.depth.bids;
        cr_assert_eq(b.count, nlev);
        for (size_t i = 0; i < nlev; i++) {
            const ev_level *lv = &m.levels[b.first + i];
            cr_assert(lv->px.n == pn[i] && memcmp(lv->px.p, px[i], pn[i]) == 0);
            cr_assert(lv->qty.n == qn[i] && memcmp(lv->qty.p, qty[i], qn[i]) == 0);
            pre += expect_parts_of_strings(lv, "generated level");
            fast_shaped += pn[i] <= 9 && qn[i] <= 9;
            levels++;
        }
    }
    cr_expect_gt(levels, 4000);
    cr_expect_gt(pre, levels / 2);
    cr_expect_lt(pre, levels); /* and some are left to dec_parse */
    cr_expect_gt(fast_shaped, levels / 2);
}

/* Numbers the fused scan does not convert in one step: up to 16 digits, signs, leading zeros. */
Test(stream, long_signed_and_padded_numbers_are_pre_parsed_too)
{
    const char *s = "{\"lastUpdateId\":1,\"bids\":[[\"1234567890.123456\",\"123456789\"],"
                    "[\"-1.5\",\"2\"],[\"0001\",\"0.10\"],[\"12345678901234567\",\"1\"]],"
                    "\"asks\":[[\"9.99\",\"1.000\"]],\"padding\":\"to keep the levels away from "
                    "the end of the message\"}";
    stream_msg m;
    cr_assert_eq(dec(s, &m), 0, "%s", stream_decoder_error(D));
    ev_levels b = m.events[0].u.snapshot.bids, a = m.events[0].u.snapshot.asks;
    expect_parts(&m, b, 0, 1234567890123456, 6, 123456789, 0);
    expect_parts(&m, b, 1, -15, 1, 2, 0);
    expect_parts(&m, b, 2, 1, 0, 10, 2);
    expect_parts(&m, b, 3, 12345678901234567, 0, 1, 0);
    expect_parts(&m, a, 0, 999, 2, 1000, 3);
    for (uint32_t i = 0; i < b.count; i++)
        expect_parts_of_strings(&m.levels[b.first + i], "bid");
}

/* Levels whose strings end near the end of the window the level reader classifies (a long price
 * pushes the quantity to its end), at the end of the message and inside it: nothing is read past
 * the input or the window (ASan), and the parts are those of the strings. */
Test(stream, long_prices_push_the_quantity_to_the_end_of_the_window)
{
    const char *tails[] = { "\"1234567890.12345678901\",\"1\"", "\"123456789012345678901\",\"12\"",
                            "\"1234567890123456\",\"1.5\"", "\"12345678.123456789\",\"1\"" };
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (int inside = 0; inside < 2; inside++) {
            char buf[256];
            int n = snprintf(buf, sizeof buf, "{\"lastUpdateId\":1,\"bids\":[[%s]%s],\"asks\":[]}",
                             tails[t], inside ? ",[\"1\",\"2\"],[\"3\",\"4\"],[\"5\",\"6\"]" : "");
            stream_msg m;
            cr_assert_eq(decn(buf, (size_t)n, &m), 0, "%s: %s", buf, stream_decoder_error(D));
            ev_levels b = m.events[0].u.snapshot.bids;
            for (uint32_t i = 0; i < b.count; i++)
                expect_parts_of_strings(&m.levels[b.first + i],
                                        buf); /* 21 digits: not pre-parsed */
        }
    }
}

/* Found by fuzz_stream (tests/data/fuzz/fuzz_stream/crash-level_at_input_end.json): a level of
 * 31..34 bytes taken in place by the level reader that ends one byte or less before the end of the
 * input (a message cut after the level, or after the array's ']') made the reader look at the two
 * bytes after the level, past the input. Cut there, the message is truncated; whole, it decodes. */
Test(stream, a_long_level_at_the_very_end_of_the_input)
{
    const char *qtys[] = { "1", "0.1", "0.0001", "0.0000001", "123456.78", "0.000000001" };
    const char *tails[] = { "", "]", "]}" };
    for (size_t q = 0; q < sizeof qtys / sizeof qtys[0]; q++) {
        for (size_t t = 0; t < 3; t++) {
            char buf[256];
            int n = snprintf(buf, sizeof buf,
                             "{\"lastUpdateId\":1,\"bids\":[],\"asks\":[[\"1\",\"2\"],"
                             "[\"99999999.99999999\",\"%s\"]%s",
                             qtys[q], tails[t]);
            stream_msg m;
            int rc = decn(buf, (size_t)n, &m);
            if (t < 2) {
                cr_expect_eq(rc, BF_ETRUNC, "%s: %d (%s)", buf, rc, stream_decoder_error(D));
                continue;
            }
            cr_assert_eq(rc, 0, "%s: %s", buf, stream_decoder_error(D));
            ev_levels a = m.events[0].u.snapshot.asks;
            cr_assert_eq(a.count, 2);
            expect_parts_of_strings(&m.levels[a.first + 1], buf);
        }
    }
}

/* Found by fuzz_stream: a quantity without its closing quote, a ']' where the quote would fall
 * if the byte before it had been one. The level fast path took the missing quote for its
 * window's end and accepted the level; the message must be rejected (jansson rejects it too). */
Test(stream, a_level_whose_quantity_lacks_its_closing_quote_is_rejected)
{
    const char *bytes[] = { "\xb1", "x", "0", " " };
    for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++) {
        char buf[256];
        int n = snprintf(buf, sizeof buf,
                         "{\"lastUpdateId\":1,\"bids\":[],\"asks\":[[\"1\",\"2\"],"
                         "[\"99999999.99999999\",\"0.0000001%s]]}",
                         bytes[b]);
        stream_msg m;
        int rc = decn(buf, (size_t)n, &m);
        cr_expect_lt(rc, 0, "accepted: %s", buf);
    }
}

/* ---- the fast path: one straight pass for the usual shape, the general path for the rest ---- */

#define BT_SIM                                                                                     \
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":1700576482199,"       \
    "\"s\":\"BTCUSDT\",\"b\":\"61800.00\",\"B\":\"0.746\",\"a\":\"61800.10\",\"A\":\"0.814\","     \
    "\"T\":1764000000001,\"E\":1764000000002}}"
#define BT_2026                                                                                    \
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":11730346419457,"      \
    "\"s\":\"BTCUSDT\",\"ps\":\"BTCUSDT\",\"b\":\"84788.20\",\"B\":\"5.923\",\"a\":\"84788.30\","  \
    "\"A\":\"2.824\",\"T\":1791091007473,\"E\":1791091007474,\"st\":1}}"
#define BT_RAW                                                                                     \
    "{\"e\":\"bookTicker\",\"u\":400900217,\"E\":1568014460893,\"T\":1568014460891,"               \
    "\"s\":\"BNBUSDT\",\"b\":\"25.35190000\",\"B\":\"31.21000000\",\"a\":\"25.36520000\","         \
    "\"A\":\"40.66000000\"}"
#define AGG_NQ                                                                                     \
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1764000000002,"           \
    "\"a\":706668,\"s\":\"BTCUSDT\",\"p\":\"61800.10\",\"q\":\"0.097\",\"nq\":\"0.095\","          \
    "\"f\":1413336,\"l\":1413337,\"T\":1764000000001,\"m\":false}}"
#define AGG_RAW                                                                                    \
    "{\"e\":\"aggTrade\",\"E\":1626992741575,\"a\":16599292,\"s\":\"CTKUSDT\",\"p\":\"1.01100\","  \
    "\"q\":\"10\",\"f\":23961322,\"l\":23961322,\"T\":1626992741421,\"m\":true}"
#define DEPTH_W                                                                                    \
    "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1764000000100,"     \
    "\"T\":1764000000099,\"s\":\"BTCUSDT\",\"U\":1700576482199,\"u\":1700576483435,"               \
    "\"pu\":1700576482179,\"b\":[[\"61734.80\",\"0.000\"],[\"61735.70\",\"4.455\"]],"              \
    "\"a\":[[\"61801.00\",\"1.5\"]]}}"
#define MARK_W                                                                                     \
    "{\"stream\":\"btcusdt@markPrice@1s\",\"data\":{\"e\":\"markPriceUpdate\",\"E\":"              \
    "1764000001000,"                                                                               \
    "\"s\":\"BTCUSDT\",\"p\":\"61798.95331322\",\"ap\":\"61798.95331322\","                        \
    "\"P\":\"61800.51686081\",\"i\":\"61800.53540090\",\"r\":\"-0.00003050\","                     \
    "\"T\":1764028800000}}"
#define TRADE_W                                                                                    \
    "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161256322,"                 \
    "\"T\":1723161256322,\"s\":\"BTCUSDT\",\"t\":5266583935,\"p\":\"61800.30\",\"q\":\"0.006\","   \
    "\"X\":\"MARKET\",\"m\":false}}"

static const char *const fast_shapes[] = { BT_SIM,  BT_2026, BT_RAW, AGG_NQ,
                                           AGG_RAW, DEPTH_W, MARK_W, TRADE_W };

/* The general path's verdict on s[0..n): the same bytes after a leading space, which the fast
 * path never takes (it wants '{' first). Same code (the fast path falls back to the general path
 * from the start), and equal events when accepted. `fast` has just decoded `primer`, so that the
 * key order it learnt from that message is the one the mutant meets. */
static void expect_general_verdict(stream_decoder *fast, stream_decoder *gen, const char *primer,
                                   const char *s, size_t n, const char *what)
{
    stream_msg a, b;
    cr_assert_eq(decn_with(fast, primer, strlen(primer), &a), 0, "%s", primer);
    char *spaced = malloc(n + 1);
    cr_assert_not_null(spaced);
    spaced[0] = ' ';
    memcpy(spaced + 1, s, n);
    int ra = decn_with(fast, s, n, &a), rb = decn_with(gen, spaced, n + 1, &b);
    free(spaced);
    cr_assert_eq(ra, rb, "%s: fast %d (%s), general %d (%s): %.*s", what, ra,
                 stream_decoder_error(fast), rb, stream_decoder_error(gen), (int)n, s);
    cr_assert(ra < 0 || stream_msg_eq(&a, &b), "%s: different events: %.*s", what, (int)n, s);
}

Test(stream, fast_path_agrees_with_the_general_path_on_every_mutation)
{
    static const char repl[] = "\"\\ ,}{[]:09-.ex\x80\x01\x7f";
    stream_decoder *gen = stream_decoder_create(NULL);
    char buf[1024];
    for (size_t k = 0; k < sizeof fast_shapes / sizeof fast_shapes[0]; k++) {
        const char *msg = fast_shapes[k];
        size_t n = strlen(msg);
        cr_assert_lt(n + 1, sizeof buf);
        expect_general_verdict(D, gen, msg, msg, n, "intact");
        for (size_t i = 0; i < n; i++) {
            expect_general_verdict(D, gen, msg, msg, i, "truncated");
            memcpy(buf, msg, n);
            for (size_t r = 0; r < sizeof repl - 1; r++) {
                buf[i] = repl[r];
                expect_general_verdict(D, gen, msg, buf, n, "replaced");
            }
            memcpy(buf, msg, i); /* byte i deleted */
            memcpy(buf + i, msg + i + 1, n - i - 1);
            expect_general_verdict(D, gen, msg, buf, n - 1, "deleted");
            memcpy(buf + i + 1, msg + i, n - i); /* a byte inserted before byte i */
            for (size_t r = 0; r < sizeof repl - 1; r += 3) {
                buf[i] = repl[r];
                expect_general_verdict(D, gen, msg, buf, n + 1, "inserted");
            }
        }
    }
    stream_decoder_destroy(gen);
}

/* Every proper prefix is a truncation, with the decoder's key order learnt from the whole message
 * right before each cut. */
Test(stream, fast_path_truncation_at_every_byte)
{
    for (size_t k = 0; k < sizeof fast_shapes / sizeof fast_shapes[0]; k++) {
        const char *msg = fast_shapes[k];
        size_t n = strlen(msg);
        for (size_t cut = 0; cut < n; cut++) {
            stream_msg m;
            cr_assert_eq(dec(msg, &m), 0, "%s: %s", msg, stream_decoder_error(D));
            int rc = decn(msg, cut, &m);
            cr_assert_eq(rc, BF_ETRUNC, "cut at %zu of %s: %d %s", cut, msg, rc,
                         stream_decoder_error(D));
        }
    }
}

static void expect_sim_book_ticker(const stream_msg *m)
{
    cr_assert_eq(m->nevents, 1);
    const ev *e = &m->events[0];
    cr_assert_eq(e->kind, EV_BOOK_TICKER);
    cr_expect_eq(e->u.bt.u, 1700576482199);
    cr_expect_eq(e->u.bt.T, 1764000000001);
    cr_expect_eq(e->u.bt.E, 1764000000002);
    cr_expect_eq(e->has, EV_HAS_E | EV_HAS_T);
    STR(e->u.bt.symbol, "BTCUSDT");
    STR(e->u.bt.bid_px, "61800.00");
    STR(e->u.bt.bid_qty, "0.746");
    STR(e->u.bt.ask_px, "61800.10");
    STR(e->u.bt.ask_qty, "0.814");
    cr_expect_null(e->u.bt.pair.p);
    STR(m->stream, "btcusdt@bookTicker");
}

/* The decoder learns each kind's key order from its last message: a message in another order
 * is read all the same, and the old order still works after it. */
Test(stream, fast_path_follows_any_key_order_with_one_decoder)
{
    const char *swapped =
        "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"E\":1764000000002,"
        "\"A\":\"0.814\",\"a\":\"61800.10\",\"B\":\"0.746\",\"b\":\"61800.00\",\"s\":\"BTCUSDT\","
        "\"T\":1764000000001,\"u\":1700576482199}}";
    const char *order[] = { BT_SIM, swapped, BT_SIM, BT_SIM, swapped, swapped, BT_SIM };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        stream_msg m;
        cr_assert_eq(dec(order[i], &m), 0, "%s: %s", order[i], stream_decoder_error(D));
        expect_sim_book_ticker(&m);
    }
}

/* A message without the optional fields of the one before it leaves them cleared. */
Test(stream, fast_path_optional_fields_do_not_leak_between_messages)
{
    stream_msg m;
    cr_assert_eq(dec(BT_2026, &m), 0);
    STR(m.events[0].u.bt.pair, "BTCUSDT");
    cr_expect_eq(m.events[0].has, EV_HAS_E | EV_HAS_T | EV_HAS_ST);
    cr_expect_eq(m.events[0].st, 1);
    cr_assert_eq(dec("{\"stream\":\"x@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":7,"
                     "\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}}",
                     &m),
                 0);
    const ev *e = &m.events[0];
    cr_expect_null(e->u.bt.pair.p);
    cr_expect_eq(e->has, 0);
    cr_expect_eq(e->st, 0);
    cr_expect_eq(e->u.bt.E, 0);
    cr_expect_eq(e->u.bt.T, 0);
    cr_expect_eq(e->u.bt.u, 7);
    cr_assert_eq(dec(AGG_NQ, &m), 0);
    STR(m.events[0].u.agg.nq, "0.095");
    cr_assert_eq(dec(AGG_RAW, &m), 0);
    cr_expect_null(m.events[0].u.agg.nq.p);
    cr_expect_eq(m.events[0].u.agg.last_id, 23961322);
    cr_expect(m.events[0].u.agg.buyer_maker);
    cr_expect_null(m.stream.p);
}

/* The comma before the k-th member after "e" (k >= 1) of the object that holds "e" in msg, with
 * *end where that member ends; NULL when there is no such member. Nesting-aware; the strings of
 * these messages hold no commas, brackets or escapes. */
static const char *member_at(const char *msg, size_t k, const char **end)
{
    const char *p = strstr(msg, "\"e\":");
    int nest = 0;
    size_t seen = 0;
    for (; *p; p++) {
        if (*p == '[' || *p == '{')
            nest++;
        else if ((*p == ']' || *p == '}') && nest > 0)
            nest--;
        else if (*p == '}')
            return NULL;
        else if (*p == ',' && nest == 0 && ++seen == k)
            break;
    }
    if (!*p)
        return NULL;
    const char *e = p + 1;
    for (nest = 0; *e && (nest > 0 || (*e != ',' && *e != '}')); e++)
        nest += *e == '[' ? 1 : *e == ']' ? -1 : 0;
    *end = e;
    return p;
}

/* msg with its k-th member after "e" dropped, or repeated at the end of its object: the length
 * written to out, 0 when there is no such member. */
static size_t edit_member(const char *msg, size_t k, bool repeat, char *out)
{
    const char *end, *p = member_at(msg, k, &end);
    if (!p)
        return 0;
    size_t n = strlen(msg), a = (size_t)(p - msg), b = (size_t)(end - msg);
    if (!repeat) {
        memcpy(out, msg, a);
        memcpy(out + a, msg + b, n - b);
        return n - (b - a);
    }
    const char *last = end, *next;
    for (size_t j = k + 1; member_at(msg, j, &next); j++)
        last = next; /* the end of the object's last member: its '}' */
    size_t c = (size_t)(last - msg), len = b - a;
    memcpy(out, msg, c);
    memcpy(out + c, p, len);
    memcpy(out + c + len, msg + c, n - c);
    return n + len;
}

/* The key of the k-th member after "e" of msg, in key[]. */
static void member_key(const char *msg, size_t k, char *key, size_t cap)
{
    const char *end, *p = member_at(msg, k, &end);
    const char *q = strchr(p + 2, '"');
    snprintf(key, cap, "%.*s", (int)(q - p - 2), p + 2);
}

/* Whether key is required in a message of msg's kind (docs/decoder.md, the field table). */
static bool required_key(const char *msg, const char *key)
{
    static const struct {
        const char *kind, *keys;
    } req[] = { { "\"bookTicker\"", " u s b B a A " },
                { "\"aggTrade\"", " E s a p q f l T m " },
                { "\"depthUpdate\"", " E s U u b a " },
                { "\"trade\"", " E T s t p q m " } };
    char word[24];
    snprintf(word, sizeof word, " %s ", key);
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (strstr(msg, req[i].kind))
            return strstr(req[i].keys, word) != NULL;
    cr_assert_fail("no kind in %s", msg);
    return false;
}

/* With the order learnt, every field repeated is a duplicate key (and so is a second "e"), every
 * required one dropped is missing, and every other edit gets the general path's verdict. */
Test(stream, fast_path_duplicates_and_missing_fields)
{
    static const char *const msgs[] = { BT_SIM, BT_2026, AGG_NQ, AGG_RAW, DEPTH_W, TRADE_W };
    stream_decoder *gen = stream_decoder_create(NULL);
    char buf[1024], key[16];
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        stream_msg m;
        size_t n;
        for (size_t k = 1; (n = edit_member(msgs[i], k, true, buf)) != 0; k++) {
            member_key(msgs[i], k, key, sizeof key);
            cr_assert_eq(dec(msgs[i], &m), 0);
            cr_expect_eq(decn(buf, n, &m), BF_EDUP, "%.*s", (int)n, buf);
            n = edit_member(msgs[i], k, false, buf);
            expect_general_verdict(D, gen, msgs[i], buf, n, "dropped");
            cr_assert_eq(dec(msgs[i], &m), 0);
            int rc = decn(buf, n, &m);
            if (required_key(msgs[i], key))
                cr_expect_eq(rc, BF_EMISSING, "without %s: %d", key, rc);
            else
                cr_expect_eq(rc, 0, "without %s: %s", key, stream_decoder_error(D));
        }
        const char *e = strstr(msgs[i], "\"e\":"), *comma = strchr(e, ',');
        size_t at = (size_t)(comma - msgs[i]) + 1, elen = (size_t)(comma - e) + 1,
               len = strlen(msgs[i]);
        memcpy(buf, msgs[i], at);
        memcpy(buf + at, e, elen); /* "e":"<kind>", once more */
        memcpy(buf + at + elen, msgs[i] + at, len - at);
        cr_assert_eq(dec(msgs[i], &m), 0);
        cr_expect_eq(decn(buf, len + elen, &m), BF_EDUP, "%.*s", (int)(len + elen), buf);
    }
    stream_decoder_destroy(gen);
}

/* A message that leaves the learnt key order half-way and then fails must not leave a mixture of
 * the two orders behind: here the mixture u s T E b A T E (its keys up to the bad value over the
 * old order) would let a message with repeated keys and without "B" and "a" through as one that
 * follows it. */
Test(stream, fast_path_a_failed_message_leaves_no_mixed_order)
{
    stream_msg m;
    cr_assert_eq(dec(BT_SIM, &m), 0); /* learns u s b B a A T E */
    const char *fails = "{\"stream\":\"x@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":1,"
                        "\"s\":\"X\",\"T\":1,\"E\":2,\"b\":-}}";
    cr_assert_eq(dec(fails, &m), BF_ESYNTAX);
    const char *mixed = "{\"stream\":\"x@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":1,"
                        "\"s\":\"X\",\"T\":1,\"E\":2,\"b\":\"3\",\"A\":\"4\",\"T\":1,\"E\":2}}";
    cr_expect_eq(dec(mixed, &m), BF_EDUP, "%s", stream_decoder_error(D));
}

/* A bookTicker's numbers come pre-parsed when the fast path takes it, exactly as dec_preparse()
 * reads their strings (also at the very end of the input, and in shapes it leaves to the slow
 * conversion), so that ev_num_value() gives dec_parse()'s value and code (dec_from_parts()). */
Test(stream, fast_path_book_ticker_numbers_are_pre_parsed)
{
    char body[64], msg[512];
    size_t filled = 0, usual = 0;
    for (int round = 0; round < 3000; round++) {
        char num[4][40];
        size_t len[4];
        for (int k = 0; k < 4; k++) {
            len[k] = gen_number(body);
            len[k] = json_body(body, len[k], num[k], false);
        }
        bool raw_last = round % 2; /* the ask quantity last, right before the end of the input */
        int n = raw_last ? snprintf(msg, sizeof msg,
                                    "{\"e\":\"bookTicker\",\"u\":1,\"s\":\"X\",\"b\":\"%.*s\","
                                    "\"B\":\"%.*s\",\"a\":\"%.*s\",\"A\":\"%.*s\"}",
                                    (int)len[0], num[0], (int)len[1], num[1], (int)len[2], num[2],
                                    (int)len[3], num[3])
                         : snprintf(msg, sizeof msg,
                                    "{\"stream\":\"x@bookTicker\",\"data\":{\"e\":\"bookTicker\","
                                    "\"u\":1,\"s\":\"X\",\"b\":\"%.*s\",\"B\":\"%.*s\","
                                    "\"a\":\"%.*s\",\"A\":\"%.*s\",\"T\":2,\"E\":3}}",
                                    (int)len[0], num[0], (int)len[1], num[1], (int)len[2], num[2],
                                    (int)len[3], num[3]);
        stream_msg m;
        cr_assert_eq(decn(msg, (size_t)n, &m), 0, "%s: %s", msg, stream_decoder_error(D));
        const ev_book_ticker *t = &m.events[0].u.bt;
        const ev_num *x[4] = { &t->bid_px_n, &t->bid_qty_n, &t->ask_px_n, &t->ask_qty_n };
        bf_str s[4] = { t->bid_px, t->bid_qty, t->ask_px, t->ask_qty };
        for (int k = 0; k < 4; k++) {
            ev_num want;
            ev_num_set(&want, s[k]);
            /* clear is always allowed (read from the string); set must be right */
            cr_assert(!x[k]->pre || (want.pre && x[k]->m == want.m && x[k]->d == want.d),
                      "%s: number %d", msg, k);
            filled += x[k]->pre;
            usual += want.pre;
        }
        bool ascii = true; /* then the fast path takes the message and fills every number */
        for (int i = 0; i < n; i++)
            ascii = ascii && (unsigned char)msg[i] < 0x80;
        cr_assert(!ascii || filled == usual, "%s: a number left to its string", msg);
        filled = usual = 0;
    }
}
