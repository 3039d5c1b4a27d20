/*
 * replay: recording -> decoder -> markets, plus the report. Lines are handled one at a time in file
 * order; the only state carried between lines is the symbol of a bfmon "rest" marker, which applies
 * to the very next line.
 */
#include "feed/replay.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfmon_config.h"
#include "codec/rest.h"
#include "codec/stream.h"
#include "feed/recfmt.h"
#include "market/market.h"
#include "market/symtab.h"
#include "util/err.h"
#include "util/file.h"
#include "util/memacct.h"
#include "util/probe.h"
#include "util/xalloc.h"

/* What find_n() compares first: the name's length and its first 8 bytes in one word. */
typedef struct market_key {
    uint64_t head;
    size_t n;
} market_key;

#ifndef REPLAY_BOOK_WINDOW
#define REPLAY_BOOK_WINDOW 65536u
#endif

struct replay {
    symtab *syms;        /* NULL without exchangeInfo */
    bool syms_from_file; /* --exchange-info: header lines do not replace it */
    size_t max_line;
    stream_decoder *dec;
    probe_set *probes; /* NULL unless asked for */
    probe *p_decode, *p_apply;
    market **markets;
    market_key *keys; /* keys[i] finds markets[i] */
    size_t nmarkets, cap_markets;
    char **files;
    size_t nfiles;
    bool rest_pending; /* the previous line was a "rest" marker */
    char rest_symbol[SYM_NAME_MAX];
    const char *cur_file;
    uint64_t cur_line;
    replay_stats st;
    char *problems[REPLAY_MAX_PROBLEMS];
    size_t nproblems;
    uint64_t problems_total;
    char err[512];
};

static void problem(replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keep the first problems for the report, prefixed with file and line. */
static void problem(replay *r, const char *fmt, ...)
{
    r->problems_total++;
    if (r->nproblems == REPLAY_MAX_PROBLEMS)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[512];
    if (r->cur_line)
        snprintf(line, sizeof line, "%s line %llu: %s", r->cur_file,
                 (unsigned long long)r->cur_line, msg);
    else
        snprintf(line, sizeof line, "%s: %s", r->cur_file ? r->cur_file : "replay", msg);
    r->problems[r->nproblems++] = xstrdup(line);
}

static int load_exchange_info(replay *r, const char *path, char *why, size_t why_cap)
{
    size_t len = 0;
    int e = 0;
    char *body = file_read_all(path, &len, &e, why, why_cap);
    if (!body)
        return e;
    r->syms = symtab_create();
    size_t skipped = 0;
    char reason[256] = "";
    int rc = rest_parse_exchange_info(body, len, r->syms, NULL, &skipped, reason, sizeof reason);
    free(body);
    if (rc < 0)
        snprintf(why, why_cap, "%s: not a usable exchangeInfo body: %s", path, reason);
    return rc;
}

int replay_create(const replay_config *cfg, replay **out, char *why, size_t why_cap)
{
    char dummy[8];
    if (!why || !why_cap) {
        why = dummy;
        why_cap = sizeof dummy;
    }
    *out = NULL;
    replay *r = xcalloc(1, sizeof *r);
    r->max_line = cfg ? cfg->max_line : 0;
    if (cfg && cfg->exchange_info_path) {
        int rc = load_exchange_info(r, cfg->exchange_info_path, why, why_cap);
        if (rc < 0) {
            replay_destroy(r);
            return rc;
        }
        r->syms_from_file = true;
    }
    r->dec = stream_decoder_create(NULL);
    if (cfg && cfg->probes) {
        r->probes = probe_set_create();
        r->p_decode = probe_get(r->probes, "decode");
        r->p_apply = probe_get(r->probes, "apply");
    }
    *out = r;
    return 0;
}

void replay_destroy(replay *r)
{
    if (!r)
        return;
    probe_set_destroy(r->probes);
    for (size_t i = 0; i < r->nmarkets; i++)
        market_destroy(r->markets[i]);
    free(r->markets);
    free(r->keys);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    for (size_t i = 0; i < r->nproblems; i++)
        free(r->problems[i]);
    if (r->dec)
        stream_decoder_destroy(r->dec);
    if (r->syms)
        symtab_destroy(r->syms);
    free(r);
}

/* ---- markets ------------------------------------------------------------------------------ */

/* Up to 8 bytes, exact for the name's length: two overlapping 4-byte loads from 4 to 8 bytes
 * (every symbol but a few), one whole word from 8 on, bytes below 4. */
static market_key key_of(const char *name, size_t n)
{
    market_key k = { 0, n };
    if (n >= 8) {
        memcpy(&k.head, name, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, name, 4);
        memcpy(&b, name + n - 4, 4);
        k.head = a | (uint64_t)b << 32;
    } else {
        for (size_t i = 0; i < n; i++)
            k.head |= (uint64_t)(unsigned char)name[i] << (8 * i);
    }
    return k;
}

/* Every event looks its market up: one word and a length decide nearly always. */
static market *find_n(const replay *r, const char *name, size_t n)
{
    market_key k = key_of(name, n);
    for (size_t i = 0; i < r->nmarkets; i++) {
        if (r->keys[i].head != k.head || r->keys[i].n != n)
            continue;
        if (n <= 8 || memcmp(market_symbol(r->markets[i]) + 8, name + 8, n - 8) == 0)
            return r->markets[i];
    }
    return NULL;
}

static market *market_for(replay *r, const char *name, size_t n)
{
    market *m = find_n(r, name, n);
    if (m)
        return m;
    /* A name cut at a NUL byte names the market of its first part, as its symbol is kept. */
    if (memchr(name, '\0', n) && (m = find_n(r, name, strlen(name))) != NULL)
        return m;
    char sym[SYM_NAME_MAX];
    snprintf(sym, sizeof sym, "%.*s", (int)n, name);
    /* Recordings hold whole snapshots (1000 levels a side), far wider than the live default
     * window: a wider ladder keeps their levels out of the book's sorted overflow array. */
    static const book_config wide = { .window_ticks = REPLAY_BOOK_WINDOW };
    market_config cfg = { .info = r->syms ? symtab_find(r->syms, sym, strlen(sym)) : NULL,
                          .book = &wide };
    m = market_create(sym, &cfg);
    if (r->nmarkets == r->cap_markets) {
        r->cap_markets = r->cap_markets ? r->cap_markets * 2 : 8;
        r->markets = xreallocarray(r->markets, r->cap_markets, sizeof *r->markets);
        r->keys = xreallocarray(r->keys, r->cap_markets, sizeof *r->keys);
    }
    r->keys[r->nmarkets] = key_of(market_symbol(m), strlen(market_symbol(m)));
    r->markets[r->nmarkets++] = m;
    return m;
}

/* ---- lines -------------------------------------------------------------------------------- */

/* A header's "exchange_info" gives the scales of markets created from now on (every file starts
 * with a header, so they are known before the first message), unless --exchange-info was given. */
static void on_header(replay *r, json_t *obj)
{
    r->st.headers++;
    json_t *info = json_object_get(obj, "exchange_info");
    if (r->syms_from_file || !json_is_object(info))
        return;
    char *body = json_dumps(info, JSON_COMPACT);
    symtab *t = symtab_create();
    size_t skipped = 0;
    char reason[256] = "";
    int rc = body ? rest_parse_exchange_info(body, strlen(body), t, NULL, &skipped, reason,
                                             sizeof reason)
                  : BF_EINVAL;
    free(body);
    if (rc < 0) {
        symtab_destroy(t);
        problem(r, "header exchange_info not usable (scales are inferred): %s", reason);
        return;
    }
    if (r->syms)
        symtab_destroy(r->syms); /* markets keep copies of their entries */
    r->syms = t;
}

static uint64_t int_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* The recorder lost lines before this point: the data is incomplete, whatever the books say. */
static void on_dropped(replay *r, json_t *obj)
{
    uint64_t n = int_field(obj, "lines");
    if (!json_object_get(obj, "lines"))
        n = int_field(obj, "ring") + int_field(obj, "io") + int_field(obj, "count");
    r->st.dropped_markers++;
    r->st.dropped_lines += n;
    problem(r, "the recorder dropped %llu line(s) here: data is missing from the recording",
            (unsigned long long)n);
}

static void on_marker(replay *r, json_t *obj, const char *kind)
{
    r->st.bfmon_events++;
    if (!strcmp(kind, "header"))
        on_header(r, obj);
    else if (!strcmp(kind, "dropped"))
        on_dropped(r, obj);
    if (strcmp(kind, "rest") != 0)
        return; /* connect / disconnect / gap / resync ...: informational in a replay */
    const char *sym = json_string_value(json_object_get(obj, "symbol"));
    if (!sym || !*sym || strlen(sym) >= SYM_NAME_MAX) {
        problem(r, "bfmon \"rest\" marker without a valid \"symbol\"");
        return;
    }
    snprintf(r->rest_symbol, sizeof r->rest_symbol, "%s", sym);
    r->rest_pending = true;
}

/* True (and handled) when the line is a bfmon event line: a JSON object with a "bfmon" key. */
static bool try_marker(replay *r, const recfmt_line *l)
{
    /* The "bfmon" key comes first (docs/recording-format.md), so a prefix test is enough; anything
     * else would cost a scan of every exchange message. */
    if (l->len < 8 || memcmp(l->json, "{\"bfmon\"", 8) != 0)
        return false;
    json_t *obj = json_loadb(l->json, l->len, JSON_REJECT_DUPLICATES, NULL);
    const char *kind = json_string_value(json_object_get(obj, "bfmon"));
    if (kind)
        on_marker(r, obj, kind);
    json_decref(obj);
    return kind != NULL;
}

static market *snapshot_market(replay *r, bool marked)
{
    if (marked)
        return market_for(r, r->rest_symbol, strlen(r->rest_symbol));
    if (r->nmarkets == 1)
        return r->markets[0];
    r->st.attribution_errors++;
    problem(r,
            "REST snapshot without a symbol: no bfmon \"rest\" marker before it and %zu symbols "
            "seen so far",
            r->nmarkets);
    return NULL;
}

static void route_event(replay *r, const ev *e, const ev_level *levels, int64_t recv_ns,
                        bool marked)
{
    market *m;
    if (e->kind == EV_SNAPSHOT) {
        m = snapshot_market(r, marked);
    } else {
        bf_str s = ev_symbol(e);
        m = s.p && s.n > 0 && s.n < SYM_NAME_MAX ? market_for(r, s.p, s.n) : NULL;
        if (!m) {
            r->st.event_errors++;
            problem(r, "%s event without a usable symbol", ev_kind_name(e->kind));
        }
    }
    if (!m)
        return;
    int rc = market_on_event(m, e, levels, recv_ns);
    if (rc < 0 && rc != BF_EGAP) {
        r->st.event_errors++;
        problem(r, "%s %s: %s", market_symbol(m), ev_kind_name(e->kind), bf_strerror(rc));
    }
}

static void on_line(replay *r, const recfmt_line *l)
{
    r->st.lines++;
    r->cur_line = l->line_no;
    bool marked = r->rest_pending;
    r->rest_pending = false;
    if (try_marker(r, l))
        return;
    stream_msg msg;
    int64_t t0 = r->probes ? probe_begin() : 0;
    int rc = stream_decode(r->dec, l->json, l->len, &msg);
    if (r->probes)
        probe_end(r->p_decode, t0);
    if (rc == BF_EUNSUPPORTED) {
        r->st.unsupported++;
        return;
    }
    if (rc < 0) {
        r->st.decode_errors++;
        problem(r, "cannot decode: %s", stream_decoder_error(r->dec));
        return;
    }
    t0 = r->probes ? probe_begin() : 0;
    for (size_t i = 0; i < msg.nevents; i++)
        route_event(r, &msg.events[i], msg.levels, l->recv_ns, marked);
    if (r->probes)
        probe_end(r->p_apply, t0);
}

const probe_set *replay_probes(const replay *r)
{
    return r->probes;
}

/* recfmt_next() failed: skip a bad line, or stop at damage. */
static int on_read_error(replay *r, recfmt_reader *rd, int rc)
{
    if (rc == BF_ESYNTAX || rc == BF_ETOOBIG) {
        r->st.bad_lines++;
        r->cur_line = 0;
        problem(r, "%s", recfmt_error(rd));
        return 0;
    }
    r->st.read_errors++;
    r->cur_line = 0;
    problem(r, "%s", recfmt_error(rd));
    snprintf(r->err, sizeof r->err, "%s: %s", r->cur_file, recfmt_error(rd));
    return rc;
}

/* A compressed file cut while being written (kill -9, a full disk): every complete line was
 * replayed; the end of the recording is missing, so it counts as a read error. */
static void note_torn_tail(replay *r, recfmt_reader *rd)
{
    recfmt_stats st;
    recfmt_get_stats(rd, &st);
    if (!st.torn_tail)
        return;
    r->st.read_errors++;
    r->st.torn_tails++;
    r->cur_line = 0;
    problem(r, "%s", recfmt_error(rd));
}

int replay_file(replay *r, const char *path)
{
    recfmt_config cfg = { .max_line = r->max_line, .in_place = true }; /* lengths suffice here */
    recfmt_reader *rd = NULL;
    char why[256];
    int rc = recfmt_open(path, &cfg, &rd, why, sizeof why);
    if (rc < 0) {
        snprintf(r->err, sizeof r->err, "cannot open %s: %s", path, why);
        return rc;
    }
    r->files = xreallocarray(r->files, r->nfiles + 1, sizeof *r->files);
    r->files[r->nfiles++] = xstrdup(path);
    r->st.files++;
    r->cur_file = r->files[r->nfiles - 1];
    r->rest_pending = false; /* a marker never reaches across files */
    recfmt_line l;
    while ((rc = recfmt_next(rd, &l)) != 0) {
        if (rc == 1)
            on_line(r, &l);
        else if ((rc = on_read_error(r, rd, rc)) < 0)
            break;
    }
    if (rc == 0)
        note_torn_tail(r, rd);
    recfmt_close(rd);
    r->cur_line = 0;
    return rc;
}

void replay_finish(replay *r)
{
    for (size_t i = 0; i < r->nmarkets; i++)
        market_flush(r->markets[i]);
}

const char *replay_error(const replay *r)
{
    return r->err;
}

void replay_get_stats(const replay *r, replay_stats *out)
{
    *out = r->st;
}

size_t replay_market_count(const replay *r)
{
    return r->nmarkets;
}

market *replay_market_at(const replay *r, size_t i)
{
    return i < r->nmarkets ? r->markets[i] : NULL;
}

market *replay_find_market(const replay *r, const char *symbol)
{
    return find_n(r, symbol, strlen(symbol));
}

/* ---- integrity and report ----------------------------------------------------------------- */

/* Why a symbol fails the integrity check, appended to `out` (a JSON array). */
static void symbol_problems(const market *m, json_t *out)
{
    sync_stats ss;
    market_counters c;
    market_sync_stats(m, &ss);
    market_counters_get(m, &c);
    char buf[256];
    if (ss.gaps || ss.resyncs) {
        snprintf(buf, sizeof buf, "%llu gap(s), %llu resync(s): %s", (unsigned long long)ss.gaps,
                 (unsigned long long)ss.resyncs, market_reason(m));
        json_array_append_new(out, json_string(buf));
    }
    if (c.bt_mismatches)
        json_array_append_new(out, json_string("book top differs from bookTicker"));
    if (c.crossed)
        json_array_append_new(out, json_string("book crossed after an applied event"));
    if (c.convert_errors)
        json_array_append_new(out, json_string("events that did not fit the symbol's scale"));
    if (c.depth_events && market_state(m) != SYNC_LIVE) {
        snprintf(buf, sizeof buf, "has depth data but ends %s", sync_state_name(market_state(m)));
        json_array_append_new(out, json_string(buf));
    }
}

static bool market_ok(const market *m)
{
    json_t *p = json_array();
    symbol_problems(m, p);
    bool ok = json_array_size(p) == 0;
    json_decref(p);
    return ok;
}

bool replay_integrity_ok(const replay *r)
{
    const replay_stats *s = &r->st;
    if (s->bad_lines || s->decode_errors || s->attribution_errors || s->event_errors ||
        s->read_errors || s->dropped_markers)
        return false;
    for (size_t i = 0; i < r->nmarkets; i++)
        if (!market_ok(r->markets[i]))
            return false;
    return true;
}

static json_t *price_json(const market *m, int64_t v, bool qty)
{
    char buf[DEC_FMT_MAX];
    int n =
        qty ? market_format_qty(m, v, buf, sizeof buf) : market_format_px(m, v, buf, sizeof buf);
    return n < 0 ? json_null() : json_stringn(buf, (size_t)n);
}

static json_t *level_json(const market *m, bool has, const book_level *l)
{
    if (!has)
        return json_null();
    return json_pack("{s:o,s:o}", "price", price_json(m, l->px, false), "qty",
                     price_json(m, l->qty, true));
}

static json_t *top_json(const market *m, const market_top *t)
{
    return json_pack("{s:o,s:o}", "bid", level_json(m, t->has_bid, &t->bid), "ask",
                     level_json(m, t->has_ask, &t->ask));
}

/* Milliseconds with microsecond resolution: at most ~12 significant digits, so the value prints
 * and parses back exactly with JSON_REAL_PRECISION(15). */
static json_t *ms_json(int64_t ns)
{
    return json_real((double)llround((double)ns / 1e3) / 1e3);
}

static json_t *latency_json(const market *m)
{
    market_latency l;
    market_latency_get(m, &l);
    return json_pack("{s:I,s:I,s:o,s:o,s:o,s:o}", "count", (json_int_t)l.count, "negative",
                     (json_int_t)l.negative, "min", ms_json(l.min_ns), "p50", ms_json(l.p50_ns),
                     "p99", ms_json(l.p99_ns), "max", ms_json(l.max_ns));
}

static json_t *str_or_null(const char *s)
{
    return *s ? json_string(s) : json_null();
}

static void add_book_fields(json_t *o, const market *m)
{
    sync_stats ss;
    market_sync_stats(m, &ss);
    const book *b = market_book(m);
    market_top t;
    t.has_bid = book_best_bid(b, &t.bid);
    t.has_ask = book_best_ask(b, &t.ask);
    dec_scale px, qty;
    bool known = market_scales(m, &px, &qty);
    json_object_set_new(o, "state", json_string(sync_state_name(market_state(m))));
    json_object_set_new(o, "reason", json_string(market_reason(m)));
    json_object_set_new(o, "last_update_id", json_integer(ss.last_update_id));
    json_object_set_new(o, "best_bid", level_json(m, t.has_bid, &t.bid));
    json_object_set_new(o, "best_ask", level_json(m, t.has_ask, &t.ask));
    json_object_set_new(o, "bid_levels", json_integer((json_int_t)book_count(b, BOOK_BID)));
    json_object_set_new(o, "ask_levels", json_integer((json_int_t)book_count(b, BOOK_ASK)));
    json_object_set_new(o, "scale",
                        json_pack("{s:s,s:i,s:i}", "source",
                                  !known                       ? "unknown"
                                  : market_scales_from_info(m) ? "exchangeInfo"
                                                               : "inferred",
                                  "price_decimals", px.decimals, "qty_decimals", qty.decimals));
}

static void add_sync_fields(json_t *o, const market *m)
{
    sync_stats ss;
    market_counters c;
    market_sync_stats(m, &ss);
    market_counters_get(m, &c);
    json_object_set_new(o, "depth_events", json_integer((json_int_t)c.depth_events));
    json_object_set_new(o, "applied", json_integer((json_int_t)ss.applied));
    json_object_set_new(o, "dropped", json_integer((json_int_t)ss.dropped));
    json_object_set_new(o, "buffered", json_integer((json_int_t)ss.buffered));
    json_object_set_new(o, "gaps", json_integer((json_int_t)ss.gaps));
    json_object_set_new(o, "resyncs", json_integer((json_int_t)ss.resyncs));
    json_object_set_new(o, "snapshots", json_integer((json_int_t)ss.snapshots));
    json_object_set_new(o, "snapshot_id", json_integer(ss.snapshot_id));
    json_object_set_new(o, "first_applied",
                        ss.first_u ? json_pack("{s:I,s:I}", "U", (json_int_t)ss.first_U, "u",
                                               (json_int_t)ss.first_u)
                                   : json_null());
    json_object_set_new(o, "crossed", json_integer((json_int_t)c.crossed));
    json_object_set_new(o, "convert_errors", json_integer((json_int_t)c.convert_errors));
}

static void add_check_fields(json_t *o, const market *m)
{
    market_counters c;
    market_counters_get(m, &c);
    json_object_set_new(o, "book_tickers", json_integer((json_int_t)c.book_tickers));
    json_object_set_new(o, "bookticker_checks", json_integer((json_int_t)c.bt_checks));
    json_object_set_new(o, "bookticker_mismatches", json_integer((json_int_t)c.bt_mismatches));
    json_object_set_new(o, "bookticker_unverified", json_integer((json_int_t)c.bt_unverified));
    market_mismatch mm;
    json_t *first = json_null();
    if (market_first_mismatch(m, &mm))
        first = json_pack("{s:I,s:I,s:o,s:o}", "u", (json_int_t)mm.u, "bookticker_id",
                          (json_int_t)mm.bt_id, "book", top_json(m, &mm.book), "bookticker",
                          top_json(m, &mm.ticker));
    json_object_set_new(o, "first_mismatch", first);
}

static void add_stream_fields(json_t *o, const market *m)
{
    market_counters c;
    market_counters_get(m, &c);
    const market_last *l = market_last_values(m);
    json_object_set_new(o, "partial_depth", json_integer((json_int_t)c.partial_events));
    json_object_set_new(o, "trades", json_integer((json_int_t)c.trades));
    json_object_set_new(o, "agg_trades", json_integer((json_int_t)c.agg_trades));
    json_object_set_new(o, "last_trade_price", str_or_null(l->trade_price));
    json_object_set_new(o, "mark_prices", json_integer((json_int_t)c.mark_prices));
    json_object_set_new(o, "mark_price", str_or_null(l->mark_price));
    json_object_set_new(o, "index_price", str_or_null(l->index_price));
    json_object_set_new(o, "funding_rate", str_or_null(l->funding_rate));
    json_object_set_new(o, "next_funding_time",
                        l->next_funding_ms ? json_integer(l->next_funding_ms) : json_null());
    json_object_set_new(o, "klines", json_integer((json_int_t)c.klines));
    json_object_set_new(o, "force_orders", json_integer((json_int_t)c.force_orders));
    json_object_set_new(o, "latency_e_to_recv_ms", latency_json(m));
}

static json_t *symbol_json(const market *m)
{
    json_t *o = json_object();
    add_book_fields(o, m);
    add_sync_fields(o, m);
    add_check_fields(o, m);
    add_stream_fields(o, m);
    json_t *p = json_array();
    symbol_problems(m, p);
    json_object_set_new(o, "integrity", json_string(json_array_size(p) ? "failed" : "ok"));
    json_object_set_new(o, "problems", p);
    return o;
}

static json_t *memory_json(void)
{
    memacct_report mr;
    memacct_read(&mr);
    json_t *o = json_object();
    json_object_set_new(o, "rss_bytes", json_integer(mr.rss_bytes));
    for (int i = 0; i < MEM_MODULE_COUNT; i++) {
        char key[48];
        snprintf(key, sizeof key, "%s_bytes", memacct_module_name((memacct_module)i));
        json_object_set_new(o, key, json_integer(mr.bytes[i]));
    }
    json_object_set_new(o, "tracked_bytes", json_integer(mr.tracked_total));
    return o;
}

static void add_counts(json_t *o, const replay_stats *s)
{
    json_object_set_new(o, "lines", json_integer((json_int_t)s->lines));
    json_object_set_new(o, "bad_lines", json_integer((json_int_t)s->bad_lines));
    json_object_set_new(o, "decode_errors", json_integer((json_int_t)s->decode_errors));
    json_object_set_new(o, "unsupported", json_integer((json_int_t)s->unsupported));
    json_object_set_new(o, "bfmon_events", json_integer((json_int_t)s->bfmon_events));
    json_object_set_new(o, "attribution_errors", json_integer((json_int_t)s->attribution_errors));
    json_object_set_new(o, "event_errors", json_integer((json_int_t)s->event_errors));
    json_object_set_new(o, "read_errors", json_integer((json_int_t)s->read_errors));
    json_object_set_new(o, "torn_tails", json_integer((json_int_t)s->torn_tails));
    json_object_set_new(o, "headers", json_integer((json_int_t)s->headers));
    json_object_set_new(o, "dropped_markers", json_integer((json_int_t)s->dropped_markers));
    json_object_set_new(o, "dropped_lines", json_integer((json_int_t)s->dropped_lines));
}

json_t *replay_report(const replay *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "bfmon", json_string("replay"));
    json_object_set_new(o, "version", json_string(BFMON_VERSION));
    json_t *files = json_array();
    for (size_t i = 0; i < r->nfiles; i++)
        json_array_append_new(files, json_string(r->files[i]));
    json_object_set_new(o, "files", files);
    add_counts(o, &r->st);
    json_object_set_new(o, "integrity", json_string(replay_integrity_ok(r) ? "ok" : "failed"));
    json_t *probs = json_array();
    for (size_t i = 0; i < r->nproblems; i++)
        json_array_append_new(probs, json_string(r->problems[i]));
    json_object_set_new(o, "problems", probs);
    json_object_set_new(o, "problems_total", json_integer((json_int_t)r->problems_total));
    json_t *syms = json_object();
    for (size_t i = 0; i < r->nmarkets; i++)
        json_object_set_new(syms, market_symbol(r->markets[i]), symbol_json(r->markets[i]));
    json_object_set_new(o, "symbols", syms);
    json_object_set_new(o, "memory", memory_json());
    return o;
}
