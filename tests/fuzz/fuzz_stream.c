/*
 * fuzz_stream: the fast stream decoder (stream.h) against the jansson reference (jdec.h). For every
 * input both decode an exact-size copy: both accept with equal events (stream_msg_eq) or both
 * reject, with an error sentence that names a byte offset. The same holds for a few truncations of
 * the input (cut points taken from its first bytes) and under tiny limits (BF_ETOOBIG paths).
 * Every accepted book level is checked against dec.h: its pre-parsed parts are what
 * dec_preparse() reads from its strings, and ev_level_px()/ev_level_qty() give dec_parse()'s value
 * and code for several scales.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jdec.h"
#include "codec/stream.h"
#include "fuzz.h"
#include "util/dec.h"

typedef struct pair {
    stream_decoder *fast;
    jdec *ref;
} pair;

static pair dflt, tiny;

static void init_once(void)
{
    if (dflt.fast)
        return;
    static const stream_limits small = { .max_levels = 3, .max_events = 2 };
    dflt = (pair){ stream_decoder_create(NULL), jdec_create(NULL) };
    tiny = (pair){ stream_decoder_create(&small), jdec_create(&small) };
}

static void check_number(bf_str s, bool pre, int64_t m, uint8_t d, const char *what)
{
    int64_t pm;
    int pd = dec_preparse(s.p, s.n, &pm);
    FUZZ_CHECK(pre == (pd >= 0), "%s '%.*s': pre-parsed bit %d, dec_preparse %d", what, (int)s.n,
               s.p, pre, pd);
    if (pre)
        FUZZ_CHECK(pm == m && pd == d, "%s '%.*s': parts %lld/%u, dec_preparse %lld/%d", what,
                   (int)s.n, s.p, (long long)m, d, (long long)pm, pd);
}

/* ev_level_px/qty against dec_parse of the string, for scales of every kind. */
static void check_scales(const ev_level *lv)
{
    dec_scale sc[6] = { dec_scale_plain(0), dec_scale_plain(2), dec_scale_plain(8),
                        dec_scale_plain(18) };
    dec_scale_from_tick("0.10", 4, &sc[4]);
    dec_scale_from_tick("5", 1, &sc[5]);
    for (size_t i = 0; i < 6; i++) {
        int64_t a = 0, b = 0, c = 0, e = 0;
        int ra = ev_level_px(lv, &sc[i], &a), rb = dec_parse(lv->px.p, lv->px.n, &sc[i], &b);
        FUZZ_CHECK(ra == rb && (ra < 0 || a == b),
                   "px '%.*s' scale %zu: %d/%lld vs dec_parse %d/%lld", (int)lv->px.n, lv->px.p, i,
                   ra, (long long)a, rb, (long long)b);
        int rc = ev_level_qty(lv, &sc[i], &c), re = dec_parse(lv->qty.p, lv->qty.n, &sc[i], &e);
        FUZZ_CHECK(rc == re && (rc < 0 || c == e),
                   "qty '%.*s' scale %zu: %d/%lld vs dec_parse %d/%lld", (int)lv->qty.n, lv->qty.p,
                   i, rc, (long long)c, re, (long long)e);
    }
}

static void check_levels(const stream_msg *m, ev_levels r)
{
    for (uint32_t i = r.first; i < r.first + r.count; i++) {
        const ev_level *lv = &m->levels[i];
        check_number(lv->px, lv->pre & EV_PRE_PX, lv->px_m, lv->px_d, "px");
        check_number(lv->qty, lv->pre & EV_PRE_QTY, lv->qty_m, lv->qty_d, "qty");
        check_scales(lv);
    }
}

static void check_events(const stream_msg *m)
{
    char text[512];
    for (size_t i = 0; i < m->nevents; i++) {
        const ev *e = &m->events[i];
        FUZZ_CHECK(e->kind > EV_NONE && e->kind < EV_KIND_COUNT, "event %zu has kind %d", i,
                   (int)e->kind);
        ev_describe(m, i, text, sizeof text); /* reads every field */
        if (e->kind == EV_DEPTH) {
            check_levels(m, e->u.depth.bids);
            check_levels(m, e->u.depth.asks);
        } else if (e->kind == EV_SNAPSHOT) {
            check_levels(m, e->u.snapshot.bids);
            check_levels(m, e->u.snapshot.asks);
        }
    }
}

/* The fast decoder's reasons name a byte offset; jdec's schema errors cannot (jansson's tree
 * keeps no positions), so for jdec only a sentence is required. */
static void check_error(int rc, const char *why, bool offset, const char *who)
{
    FUZZ_CHECK(rc < 0, "%s returned %d", who, rc);
    FUZZ_CHECK(why && why[0], "%s error without a reason", who);
    FUZZ_CHECK(!offset || strstr(why, "byte"), "%s error without a byte offset: '%s'", who, why);
}

static void compare(const pair *pr, const uint8_t *data, size_t n, const char *what)
{
    char *buf = fuzz_dup(data, n);
    stream_msg a, b;
    int ra = stream_decode(pr->fast, buf, n, &a);
    int rb = jdec_decode(pr->ref, buf, n, &b);
    FUZZ_CHECK((ra == 0) == (rb == 0), "%s (len %zu): fast %d (%s) vs jdec %d (%s)", what, n, ra,
               ra ? stream_decoder_error(pr->fast) : "ok", rb, rb ? jdec_error(pr->ref) : "ok");
    if (ra == 0) {
        char x[512], y[512];
        if (!stream_msg_eq(&a, &b)) {
            ev_describe(&a, 0, x, sizeof x);
            ev_describe(&b, 0, y, sizeof y);
            fuzz_fail("%s (len %zu): events differ (%zu vs %zu)\n  fast: %s\n  jdec: %s", what, n,
                      a.nevents, b.nevents, x, y);
        }
        check_events(&a);
        check_events(&b);
    } else {
        check_error(ra, stream_decoder_error(pr->fast), true, "fast decoder");
        check_error(rb, jdec_error(pr->ref), false, "jdec");
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    compare(&dflt, data, size, "input");
    compare(&tiny, data, size, "input under tiny limits");
    if (size < 2)
        return 0;
    size_t cuts[3] = { size - 1, size / 2, ((size_t)data[0] | (size_t)data[1] << 8) % size };
    for (size_t i = 0; i < 3; i++)
        compare(&dflt, data, cuts[i], "truncated input");
    return 0;
}
