/*
 * fuzz_rest: REST body decoding. Every input goes through all three REST decoders, as the live
 * path would meet it in any of the three places:
 *   - exchangeInfo (rest.h): every symbol kept has a name, NUL-terminated strings, usable scales,
 *     and its own tickSize / stepSize parse to exactly one unit of its scales; rate limits are not
 *     negative;
 *   - error bodies (rest.h): a code and a message that is NUL-terminated, fits the buffer and is
 *     never cut inside a UTF-8 character, for several buffer sizes;
 *   - depth snapshots (jdec.h, as the REST thread decodes them): every level converts through the
 *     scales of the symbols just read (and a plain scale) exactly as dec_parse() converts its
 *     strings, and what parses formats back to the same value.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/jdec.h"
#include "codec/rest.h"
#include "fuzz.h"
#include "market/symtab.h"
#include "util/dec.h"
#include "util/err.h"

static jdec *snapshots;

static void check_cstr(const char *s, size_t cap, const char *what)
{
    FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "%s is not NUL-terminated", what);
}

static void check_unit(const char *text, const dec_scale *sc, const char *what)
{
    int64_t v = 0;
    int rc = dec_parse(text, strlen(text), sc, &v);
    FUZZ_CHECK(sc->unit >= 1 && sc->decimals <= DEC_MAX_DECIMALS, "%s '%s': scale %lld/%u", what,
               text, (long long)sc->unit, sc->decimals);
    FUZZ_CHECK(rc == 0 && v == 1, "%s '%s' in its own scale: rc %d, value %lld (want 1)", what,
               text, rc, (long long)v);
}

static void check_symbols(const symtab *t)
{
    for (size_t i = 0; i < symtab_count(t); i++) {
        const sym_info *si = symtab_at(t, i);
        check_cstr(si->name, sizeof si->name, "symbol name");
        check_cstr(si->pair, sizeof si->pair, "pair");
        check_cstr(si->status, sizeof si->status, "status");
        check_cstr(si->contract_type, sizeof si->contract_type, "contractType");
        check_cstr(si->tick_size, sizeof si->tick_size, "tickSize");
        check_cstr(si->step_size, sizeof si->step_size, "stepSize");
        FUZZ_CHECK(si->name[0] != '\0', "a symbol without a name was kept");
        FUZZ_CHECK(symtab_find(t, si->name, strlen(si->name)) == si, "symbol '%s' not found",
                   si->name);
        check_unit(si->tick_size, &si->px, "tickSize");
        check_unit(si->step_size, &si->qty, "stepSize");
    }
}

static void exchange_info(const char *body, size_t n, symtab *t)
{
    rest_rate_limits lim = { -7, -7 };
    size_t skipped = (size_t)-1;
    char why[256];
    int rc = rest_parse_exchange_info(body, n, t, &lim, &skipped, why, sizeof why);
    check_cstr(why, sizeof why, "exchangeInfo reason");
    FUZZ_CHECK(rc <= 0, "exchangeInfo returned %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(lim.request_weight_per_minute >= 0 && lim.orders_per_minute >= 0,
                   "negative rate limits %d/%d", lim.request_weight_per_minute,
                   lim.orders_per_minute);
        FUZZ_CHECK(skipped != (size_t)-1, "skipped count not set");
    } else {
        FUZZ_CHECK(symtab_count(t) == 0, "a failed exchangeInfo filled the symtab");
    }
    check_symbols(t);
}

static void error_body(const char *body, size_t n)
{
    static const size_t caps[] = { 1, 2, 5, 64 };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        char msg[64 + 1];
        msg[caps[i]] = 'Z'; /* canary just past the buffer */
        int code = 0;
        int rc = rest_parse_error(body, n, &code, msg, caps[i]);
        FUZZ_CHECK(rc <= 0, "rest_parse_error returned %d", rc);
        FUZZ_CHECK(msg[caps[i]] == 'Z', "rest_parse_error wrote past msg_cap %zu", caps[i]);
        if (rc == 0) {
            check_cstr(msg, caps[i], "error message");
            FUZZ_CHECK(fuzz_utf8_ok(msg, strlen(msg)), "error message cut inside a character");
        }
    }
}

static void check_level_value(bf_str s, const dec_scale *sc, int rc, int64_t v)
{
    int64_t w = 0;
    int rw = dec_parse(s.p, s.n, sc, &w);
    FUZZ_CHECK(rc == rw && (rc < 0 || v == w),
               "'%.*s' with scale %lld/%u: %d/%lld vs dec_parse %d/%lld", (int)s.n, s.p,
               (long long)sc->unit, sc->decimals, rc, (long long)v, rw, (long long)w);
    if (rc < 0)
        return;
    char text[DEC_FMT_MAX];
    int len = dec_format(v, sc, text, sizeof text);
    FUZZ_CHECK(len > 0, "dec_format(%lld) failed: %d", (long long)v, len);
    FUZZ_CHECK(dec_parse(text, (size_t)len, sc, &w) == 0 && w == v,
               "'%s' (formatted %lld) does not parse back", text, (long long)v);
}

static void convert_levels(const stream_msg *m, ev_levels r, const dec_scale *px,
                           const dec_scale *qty)
{
    for (uint32_t i = r.first; i < r.first + r.count; i++) {
        const ev_level *lv = &m->levels[i];
        int64_t v = 0;
        int rc = ev_level_px(lv, px, &v);
        check_level_value(lv->px, px, rc, v);
        rc = ev_level_qty(lv, qty, &v);
        check_level_value(lv->qty, qty, rc, v);
    }
}

static void snapshot(const char *body, size_t n, const symtab *t)
{
    if (!snapshots)
        snapshots = jdec_create(NULL);
    stream_msg m;
    if (jdec_decode(snapshots, body, n, &m) != 0)
        return;
    dec_scale plain = dec_scale_plain(8);
    size_t nsym = symtab_count(t) < 4 ? symtab_count(t) : 4;
    for (size_t e = 0; e < m.nevents; e++) {
        if (m.events[e].kind != EV_SNAPSHOT)
            continue;
        const ev_snapshot *s = &m.events[e].u.snapshot;
        convert_levels(&m, s->bids, &plain, &plain);
        convert_levels(&m, s->asks, &plain, &plain);
        for (size_t i = 0; i < nsym; i++) {
            const sym_info *si = symtab_at(t, i);
            convert_levels(&m, s->bids, &si->px, &si->qty);
            convert_levels(&m, s->asks, &si->px, &si->qty);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_dup(data, size);
    symtab *t = symtab_create();
    exchange_info(body, size, t);
    error_body(body, size);
    snapshot(body, size, t);
    symtab_destroy(t);
    free(body);
    return 0;
}
