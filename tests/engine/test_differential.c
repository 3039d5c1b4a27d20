/*
 * Differential test: the fast decoder (stream.h) against the jansson reference (jdec.h) on every
 * message in the fixtures, on deterministic mutants of each (byte flips, deletions, insertions of
 * JSON-significant characters, duplicated and reordered members, type swaps) and on truncations.
 * Both must accept with field-for-field equal events, or both reject. Every input is decoded from
 * an exact-size heap copy (no NUL after it), so ASan catches a read past len.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jdec.h"
#include "codec/stream.h"
#include "testutil.h"

/* ---- corpus ---- */

typedef struct blob {
    char *p;
    size_t n;
} blob;

typedef struct corpus {
    blob *v;
    size_t n, cap;
} corpus;

static void corpus_add(corpus *c, const char *p, size_t n)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        cr_assert_not_null(c->v);
    }
    char *q = malloc(n ? n : 1);
    cr_assert_not_null(q);
    memcpy(q, p, n);
    c->v[c->n++] = (blob){ q, n };
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* .json: the whole body. .jsonl: every line. Anything else (raw_head2000.txt, the cryptofeed
 * recordings, errors_observed.txt): every line from its first '{' or '[' (after "<ts>: " etc.). */
static void load_file(corpus *c, const char *path, const char *name)
{
    size_t len;
    char *buf = tu_read_file(path, &len);
    cr_assert_not_null(buf, "cannot read %s", path);
    if (ends_with(name, ".json")) {
        corpus_add(c, buf, len);
        free(buf);
        return;
    }
    bool whole_lines = ends_with(name, ".jsonl");
    size_t nl;
    char **lines = tu_lines(buf, &nl);
    for (size_t i = 0; i < nl; i++) {
        const char *s = lines[i];
        if (!whole_lines)
            s = strpbrk(s, "{[");
        if (s)
            corpus_add(c, s, strlen(s));
    }
    free(lines);
    free(buf);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(corpus *c, const char *rel)
{
    char *dir = tu_fixture(rel);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    char *names[64];
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d)) && nn < 64;)
        if (e->d_name[0] != '.' && !ends_with(e->d_name, ".index.txt"))
            names[nn++] = strdup(e->d_name);
    closedir(d);
    qsort(names, nn, sizeof names[0], cmp_names);
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        load_file(c, path, names[i]);
        free(names[i]);
    }
    free(dir);
}

/* ---- deterministic randomness ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rng_next(s) % n) : 0;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* ---- the comparison ---- */

typedef struct ctx {
    stream_decoder *sd;
    jdec *jd;
    stream_decoder *ref; /* decodes the original when a mutant must equal it */
    size_t inputs, accepted, rejected, same_code, failures;
} ctx;

static void printable(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

static void report(ctx *c, const char *what, const char *p, size_t n, const char *why)
{
    if (++c->failures > 20)
        return;
    char text[700];
    printable(p, n < 300 ? n : 300, text, sizeof text);
    cr_log_error("%s (len %zu): %s\n  input: %s%s", what, n, why, text, n > 300 ? "..." : "");
}

static void describe_mismatch(const stream_msg *a, const stream_msg *b, char *out, size_t cap)
{
    char x[900], y[900];
    size_t i = 0;
    while (i < a->nevents && i < b->nevents) {
        stream_msg a1 = *a, b1 = *b;
        a1.events += i, b1.events += i, a1.nevents = b1.nevents = 1;
        if (!stream_msg_eq(&a1, &b1))
            break;
        i++;
    }
    ev_describe(a, i, x, sizeof x);
    ev_describe(b, i, y, sizeof y);
    snprintf(out, cap, "events differ (%zu vs %zu) at %zu:\n  fast: %s\n  jdec: %s", a->nevents,
             b->nevents, i, x, y);
}

/* Decode p[0..n) with both from an exact-size copy; returns 1 if accepted, 0 if rejected. With
 * `expect`, an accepted input must also decode to exactly those events. */
static int check(ctx *c, const char *what, const char *p, size_t n, const stream_msg *expect)
{
    char *buf = malloc(n ? n : 1);
    cr_assert_not_null(buf);
    memcpy(buf, p, n);
    stream_msg a, b;
    int ra = stream_decode(c->sd, buf, n, &a);
    int rb = jdec_decode(c->jd, buf, n, &b);
    char why[2048];
    c->inputs++;
    if ((ra == 0) != (rb == 0)) {
        snprintf(why, sizeof why, "fast %d (%s) vs jdec %d (%s)", ra,
                 ra ? stream_decoder_error(c->sd) : "ok", rb, rb ? jdec_error(c->jd) : "ok");
        report(c, what, p, n, why);
    } else if (ra == 0 && !stream_msg_eq(&a, &b)) {
        describe_mismatch(&a, &b, why, sizeof why);
        report(c, what, p, n, why);
    }
    if (ra == 0)
        c->accepted++;
    else
        c->rejected++, c->same_code += ra == rb;
    if (ra == 0 && expect && !stream_msg_eq(&a, expect)) {
        describe_mismatch(&a, expect, why, sizeof why);
        report(c, "differs from the original", p, n, why);
    }
    free(buf);
    return ra == 0;
}

/* ---- mutations ---- */

static const char significant[] = "\",:[]{}\\0-.e tfn1\x01\x80\xff";

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const char *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* End of the JSON value starting at s[i] (strings and brackets matched; scalars to a delimiter). */
static size_t value_end(const char *s, size_t n, size_t i)
{
    int depth = 0;
    bool in_str = false;
    for (; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"' && (in_str = false, depth == 0))
                return i + 1;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            depth++;
        } else if (ch == ']' || ch == '}') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (ch == ',' && depth == 0) {
            return i;
        }
    }
    return n;
}

/* Members of the object at s[o] ('{'): spans [start, end) of "key":value, at most 64. */
static size_t members(const char *s, size_t n, size_t o, size_t *st, size_t *en)
{
    size_t k = 0, i = o + 1;
    while (i < n && s[i] != '}' && k < 64) {
        size_t colon = value_end(s, n, i); /* the key string */
        if (colon >= n || s[colon] != ':')
            return 0;
        size_t e = value_end(s, n, colon + 1);
        st[k] = i, en[k++] = e;
        if (e >= n || s[e] != ',')
            break;
        i = e + 1;
    }
    return k;
}

/* The object holding the message fields: the wrapper's "data" object, or the top object. */
static size_t message_object(const char *s, size_t n)
{
    const char *d = memmem(s, n, "\"data\":{", 8);
    return d ? (size_t)(d - s) + 7 : (n && s[0] == '{' ? 0 : n);
}

static void mut_flip(const blob *m, uint64_t *r, buf *o)
{
    b_put(o, m->p, m->n);
    size_t at = rng_below(r, m->n);
    o->p[at] = rng_below(r, 2) ? significant[rng_below(r, sizeof significant - 1)]
                               : (char)rng_below(r, 256);
}

static void mut_delete(const blob *m, uint64_t *r, buf *o)
{
    size_t at = rng_below(r, m->n), len = 1 + rng_below(r, 4);
    if (at + len > m->n)
        len = m->n - at;
    b_put(o, m->p, at);
    b_put(o, m->p + at + len, m->n - at - len);
}

static void mut_insert(const blob *m, uint64_t *r, buf *o)
{
    size_t at = rng_below(r, m->n + 1);
    char ch = significant[rng_below(r, sizeof significant - 1)];
    b_put(o, m->p, at);
    b_put(o, &ch, 1);
    b_put(o, m->p + at, m->n - at);
}

/* Copy one member (or array element) after itself: a duplicate key, or one more element. */
static void mut_duplicate(const blob *m, uint64_t *r, buf *o)
{
    size_t at = rng_below(r, m->n);
    const char *comma = memchr(m->p + at, ',', m->n - at);
    if (!comma)
        return b_put(o, m->p, m->n);
    size_t s = (size_t)(comma - m->p), e = value_end(m->p, m->n, s + 1);
    size_t colon = e < m->n && m->p[e] == ':' ? value_end(m->p, m->n, e + 1) : e;
    b_put(o, m->p, colon);
    b_put(o, m->p + s, colon - s);
    b_put(o, m->p + colon, m->n - colon);
}

static const char *const swaps[] = { "null",        "1",
                                     "-1",          "1.5",
                                     "\"x\"",       "[]",
                                     "{}",          "true",
                                     "1e999",       "99999999999999999999",
                                     "\"\\u0000\"", "\"\\ud800\"",
                                     "[[\"1\"]]",   "{\"a\":{\"a\":1,\"a\":2}}",
                                     "-0",          "\"\"" };

/* Replace the value after a random ':' with another type. */
static void mut_type(const blob *m, uint64_t *r, buf *o)
{
    size_t at = rng_below(r, m->n);
    const char *colon = memchr(m->p + at, ':', m->n - at);
    if (!colon)
        return b_put(o, m->p, m->n);
    size_t s = (size_t)(colon - m->p) + 1, e = value_end(m->p, m->n, s);
    const char *w = swaps[rng_below(r, sizeof swaps / sizeof swaps[0])];
    b_put(o, m->p, s);
    b_put(o, w, strlen(w));
    b_put(o, m->p + e, m->n - e);
}

/* Shuffle the members of the message object: must decode exactly like the original. */
static bool mut_reorder(const blob *m, uint64_t *r, buf *o)
{
    size_t obj = message_object(m->p, m->n), st[64], en[64], idx[64];
    size_t k = obj < m->n ? members(m->p, m->n, obj, st, en) : 0;
    if (k < 2)
        return false;
    for (size_t i = 0; i < k; i++)
        idx[i] = i;
    for (size_t i = k - 1; i > 0; i--) {
        size_t j = rng_below(r, i + 1), t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    b_put(o, m->p, st[0]);
    for (size_t i = 0; i < k; i++) {
        if (i)
            b_put(o, i % 2 ? " ,\n" : ",", i % 2 ? 3 : 1);
        b_put(o, m->p + st[idx[i]], en[idx[i]] - st[idx[i]]);
    }
    b_put(o, m->p + en[k - 1], m->n - en[k - 1]);
    return true;
}

typedef void (*mutator)(const blob *, uint64_t *, buf *);
static const mutator mutators[] = { mut_flip, mut_delete, mut_insert, mut_duplicate, mut_type };

static void mutate_all(ctx *c, const blob *m, size_t *nmut)
{
    uint64_t r = fnv1a(m->p, m->n);
    size_t rounds = m->n < 512 ? 6 : m->n < 8192 ? 4 : 3;
    buf o = { 0 };
    for (size_t i = 0; i < rounds * 5; i++) {
        o.n = 0;
        mutators[i % 5](m, &r, &o);
        check(c, "mutant", o.p, o.n, NULL);
        (*nmut)++;
    }
    stream_msg orig;
    for (size_t i = 0; i < 2; i++) {
        o.n = 0;
        if (!mut_reorder(m, &r, &o) || stream_decode(c->ref, m->p, m->n, &orig) != 0)
            break;
        check(c, "reordered", o.p, o.n, &orig);
        (*nmut)++;
    }
    free(o.p);
}

/* Truncation points. A message whose shape (digit runs collapsed) is new gets all of them when
 * short, else all in the first and last 64 bytes plus a sample; a repeat of a known shape gets its
 * first and last 16 bytes plus a few. */
static bool want_cut(size_t cut, size_t n, bool new_shape, uint64_t *r)
{
    size_t edge = new_shape ? 64 : 16;
    if (cut < edge || cut + edge >= n)
        return n <= 16384 || !new_shape || cut % 4 == 0;
    if (new_shape && n <= 512)
        return true;
    return rng_below(r, n) < (new_shape ? 24u : 4u);
}

static void truncate_all(ctx *c, const blob *m, bool new_shape, size_t *ntrunc)
{
    uint64_t r = fnv1a(m->p, m->n) ^ 0x5bd1e995;
    for (size_t cut = 0; cut < m->n; cut++) {
        if (!want_cut(cut, m->n, new_shape, &r))
            continue;
        check(c, "truncated", m->p, cut, NULL);
        (*ntrunc)++;
    }
}

/* The message with every run of digits replaced by one '0'. */
static uint64_t shape_hash(const blob *m)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < m->n; i++) {
        bool digit = m->p[i] >= '0' && m->p[i] <= '9';
        if (digit && i > 0 && m->p[i - 1] >= '0' && m->p[i - 1] <= '9')
            continue;
        h = (h ^ (unsigned char)(digit ? '0' : m->p[i])) * 1099511628211ull;
    }
    return h;
}

/* ---- dedup ---- */

typedef struct seen {
    uint64_t *h;
    size_t cap;
} seen;

static bool seen_add(seen *s, uint64_t h)
{
    h |= 1;
    for (size_t i = h % s->cap;; i = (i + 1) % s->cap) {
        if (s->h[i] == h)
            return false;
        if (!s->h[i]) {
            s->h[i] = h;
            return true;
        }
    }
}

Test(differential, fixtures_mutants_truncations, .timeout = 300)
{
    corpus c = { 0 };
    load_dir(&c, "hftbacktest_usdm_btcusdt_20240808");
    load_dir(&c, "cryptofeed_usdm_20210722");
    load_dir(&c, "misc");
    cr_assert_gt(c.n, 7000, "expected the whole fixture set, got %zu messages", c.n);

    ctx x = { stream_decoder_create(NULL), jdec_create(NULL), stream_decoder_create(NULL) };
    seen s = { calloc(4 * c.n, sizeof(uint64_t)), 4 * c.n };
    seen shapes = { calloc(4 * c.n, sizeof(uint64_t)), 4 * c.n };
    size_t distinct = 0, nmut = 0, ntrunc = 0, orig_ok = 0;
    for (size_t i = 0; i < c.n; i++)
        orig_ok += (size_t)check(&x, "fixture message", c.v[i].p, c.v[i].n, NULL);
    for (size_t i = 0; i < c.n; i++) {
        if (!seen_add(&s, fnv1a(c.v[i].p, c.v[i].n)))
            continue;
        distinct++;
        mutate_all(&x, &c.v[i], &nmut);
        truncate_all(&x, &c.v[i], seen_add(&shapes, shape_hash(&c.v[i])), &ntrunc);
    }
    cr_log_info("differential: %zu fixture messages (%zu distinct, %zu accepted), %zu mutants, "
                "%zu truncations; %zu inputs: %zu accepted, %zu rejected (%zu with the same code)",
                c.n, distinct, orig_ok, nmut, ntrunc, x.inputs, x.accepted, x.rejected,
                x.same_code);
    cr_expect_eq(x.failures, 0, "%zu disagreements between the decoders (first 20 logged)",
                 x.failures);
    /* Every message of a known kind in the captures is accepted (the rest are tickers,
     * exchangeInfo, openInterest, error bodies and URL lines). */
    cr_expect_gt(orig_ok, 7000);
    cr_expect_gt(x.accepted, 10000);
    cr_expect_gt(x.rejected, 100000);

    for (size_t i = 0; i < c.n; i++)
        free(c.v[i].p);
    free(c.v);
    free(s.h);
    free(shapes.h);
    stream_decoder_destroy(x.sd);
    stream_decoder_destroy(x.ref);
    jdec_destroy(x.jd);
}

/* Depth messages whose levels hold numbers of every shape (what the fused scan converts, longer
 * ones, negatives, malformed ones, bytes that are not digits), in the exact form and in others:
 * the fast decoder's pre-parsed parts must equal jdec's, which come from dec_preparse(). */
Test(differential, generated_levels)
{
    static const char alphabet[] = "0123456789..-+e \x7f";
    ctx x = { stream_decoder_create(NULL), jdec_create(NULL), NULL };
    uint64_t r = 0x13198a2e03707344ull;
    for (int msg = 0; msg < 2000; msg++) {
        char msgbuf[8192];
        size_t o = (size_t)snprintf(msgbuf, sizeof msgbuf, "{\"lastUpdateId\":7,\"bids\":[");
        for (size_t i = 0, nlev = 1 + rng_below(&r, 40); i < nlev; i++) {
            o += (size_t)snprintf(msgbuf + o, sizeof msgbuf - o, "%s%s", i ? "," : "",
                                  rng_below(&r, 20) ? "[\"" : "[ \"");
            for (int side = 0; side < 2; side++) {
                size_t len = rng_below(&r, 4) ? 1 + rng_below(&r, 10) : rng_below(&r, 24);
                for (size_t k = 0; k < len; k++) {
                    size_t pick = rng_below(&r, 4000);
                    if (pick == 0) { /* a control byte: the whole message is rejected */
                        msgbuf[o++] = '\x01';
                    } else if (pick < 8) { /* UTF-8 */
                        msgbuf[o++] = '\xc3';
                        msgbuf[o++] = '\xa9';
                    } else {
                        msgbuf[o++] = pick % 8 ? (char)('0' + pick % 10)
                                               : alphabet[rng_below(&r, sizeof alphabet - 1)];
                    }
                }
                o += (size_t)snprintf(msgbuf + o, sizeof msgbuf - o, "%s", side ? "\"]" : "\",\"");
            }
        }
        o += (size_t)snprintf(msgbuf + o, sizeof msgbuf - o, "],\"asks\":[]}");
        check(&x, "generated levels", msgbuf, o, NULL);
    }
    cr_log_info("generated levels: %zu inputs, %zu accepted", x.inputs, x.accepted);
    cr_expect_eq(x.failures, 0, "%zu disagreements (logged above)", x.failures);
    cr_expect_gt(x.accepted, 1000); /* all but those with a control byte */
    stream_decoder_destroy(x.sd);
    jdec_destroy(x.jd);
}

/* Inputs aimed at the classification rules and jansson's corners; both decoders must agree. */
static const char *const edge_cases[] = {
    "{\"stream\":\"s\",\"data\":{\"e\":\"trade\",\"E\":1,\"T\":2,\"s\":\"X\",\"t\":3,\"p\":\"1\","
    "\"q\":\"2\",\"m\":true}}",
    "{\"data\":{\"e\":\"trade\",\"E\":1,\"T\":2,\"s\":\"X\",\"t\":3,\"p\":\"1\",\"q\":\"2\","
    "\"m\":true},\"stream\":\"s\"}",
    "{\"e\":\"trade\",\"E\":\"bad\",\"stream\":\"s\",\"data\":[]}",
    "{\"e\":\"nope\",\"data\":[],\"stream\":\"s\"}",
    "{\"b\":[[\"1\",\"2\",\"3\"]],\"stream\":\"s\",\"data\":[]}",
    "{\"stream\":\"s\",\"data\":[],\"b\":[[\"1\"]],\"e\":5}",
    "{\"stream\":null,\"data\":[]}",
    "{\"stream\":\"s\"}",
    "{\"stream\":\"s\",\"data\":null}",
    "{\"stream\":\"s\",\"data\":\"x\"}",
    "{\"data\":{}}",
    "{\"stream\":\"s\",\"data\":{\"stream\":\"t\",\"data\":{}}}",
    "{\"b\":\"1\",\"u\":1,\"s\":\"X\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
    "{\"b\":[[\"1\",\"2\"]],\"u\":1,\"s\":\"X\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
    "{\"b\":[[\"1\",\"2\"]],\"a\":[],\"U\":1,\"u\":2,\"s\":\"X\",\"E\":3,\"e\":\"depthUpdate\"}",
    "{\"lastUpdateId\":1,\"e\":\"depthUpdate\",\"b\":[],\"a\":[],\"U\":1,\"u\":2,\"s\":\"X\",\"E\":"
    "3}",
    "{\"lastUpdateId\":1,\"bids\":[],\"asks\":[],\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\","
    "\"a\":\"3\",\"A\":\"4\"}",
    "{\"lastUpdateId\":\"1\",\"bids\":[],\"asks\":[]}",
    /* The snapshot shortcut starts on a leading lastUpdateId; a later "e" must undo it. */
    "{\"lastUpdateId\":5,\"E\":1,\"T\":2,\"bids\":[[\"1.0\",\"2\"]],\"asks\":[],\"e\":"
    "\"bookTicker\",\"u\":3,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
    "{\"lastUpdateId\":5,\"bids\":[[\"1\",\"2\"]],\"asks\":[[\"3\",\"4\"]],\"e\":\"foo\"}",
    "{\"lastUpdateId\":5,\"bids\":[[1,2]],\"asks\":{},\"e\":\"depthUpdate\",\"E\":1,\"s\":"
    "\"X\",\"U\":1,\"u\":2,\"b\":[[\"1\",\"1\"]],\"a\":[]}",
    "{\"lastUpdateId\":5,\"bids\":[[\"1\",\"2\"]],\"asks\":[],\"bids\":[]}",
    "{\"stream\":\"btcusdt@depth\",\"data\":{\"lastUpdateId\":5,\"bids\":[[\"1\",\"2\"]],"
    "\"asks\":[[\"3\",\"4\"]]}}",
    "{\"lastUpdateId\":5,\"bids\":[[\"1\",\"2\"]],\"asks\":[[\"3\",\"4\"]],\"stream\":"
    "\"s\",\"data\":[]}",
    "{\"k\":{\"t\":1},\"e\":\"kline\",\"E\":1,\"s\":\"X\"}",
    "{\"o\":{\"st\":3,\"s\":\"X\",\"S\":\"B\",\"o\":\"L\",\"f\":\"I\",\"q\":\"1\",\"p\":\"1\","
    "\"ap\":\"1\",\"X\":\"F\",\"l\":\"1\",\"z\":\"1\",\"T\":1},\"E\":1,\"e\":\"forceOrder\"}",
    "{\"o\":{\"st\":3,\"s\":\"X\",\"S\":\"B\",\"o\":\"L\",\"f\":\"I\",\"q\":\"1\",\"p\":\"1\","
    "\"ap\":\"1\",\"X\":\"F\",\"l\":\"1\",\"z\":\"1\",\"T\":1},\"st\":4,\"E\":1,\"e\":"
    "\"forceOrder\"}",
    "{\"o\":{\"st\":\"x\",\"s\":\"X\",\"S\":\"B\",\"o\":\"L\",\"f\":\"I\",\"q\":\"1\",\"p\":\"1\","
    "\"ap\":\"1\",\"X\":\"F\",\"l\":\"1\",\"z\":\"1\",\"T\":1},\"st\":4,\"E\":1,\"e\":"
    "\"forceOrder\"}",
    "[{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1\",\"i\":\"2\",\"r\":\"3\",\"T\":4},"
    "1]",
    "[{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1\",\"i\":\"2\",\"r\":\"3\",\"T\":4,"
    "\"st\":2,\"ap\":\"5\",\"P\":\"6\"},{\"p\":\"1\",\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\","
    "\"i\":\"2\",\"r\":\"3\",\"T\":4}]",
    "[{\"e\":\"trade\"}]",
    "[{}]",
    "[[]]",
    "[]",
    " [ ] ",
    "{\"e\":\"bookTicker\",\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\","
    "\"E\":1e-999,\"T\":-0}",
    "{\"e\":\"bookTicker\",\"u\":-9223372036854775808,\"s\":\"X\",\"b\":\"1\",\"B\":\"2\","
    "\"a\":\"3\",\"A\":\"4\",\"T\":-0}",
    "{\"e\":\"book\\u0054icker\",\"u\":1,\"\\u0073\":\"\\ud83d\\ude00\",\"b\":\"\\\"\",\"B\":"
    "\"\\\\\","
    "\"a\":\"\\/\",\"A\":\"\\b\\f\\n\\r\\t\"}",
    "{\"x\":1.7976931348623157e308,\"y\":1.7976931348623159e308}",
    "{\"x\":0e99999999999,\"y\":1e-99999999999}",
    "{\"x\":\"\xf4\x8f\xbf\xbf\",\"y\":\"\x7f\"}",
    "{\"x\":\"\xf0\x8f\xbf\xbf\"}",
    "{\"x\":\"\xe0\x9f\xbf\"}",
    "{\"\xc3\xa9\":1,\"\\u00e9\":2}",
};

Test(differential, edge_cases)
{
    ctx x = { stream_decoder_create(NULL), jdec_create(NULL), NULL };
    for (size_t i = 0; i < sizeof edge_cases / sizeof edge_cases[0]; i++)
        check(&x, "edge case", edge_cases[i], strlen(edge_cases[i]), NULL);
    /* NUL bytes: jansson alone would accept the first two. */
    check(&x, "nul after number", "{\"a\":1\0}", 8, NULL);
    check(&x, "nul after literal", "{\"a\":null\0}", 11, NULL);
    check(&x, "nul at the end", "{\"a\":1}\0", 8, NULL);
    /* Nesting around jansson's limit, alternating objects and arrays, empty or holding a 1. */
    for (size_t depth = 2045; depth <= 2050; depth++) {
        for (int inner = 0; inner < 2; inner++) {
            char *b = malloc(6 * depth + 2);
            size_t o = 0;
            for (size_t k = 0; k < depth; k++) {
                if (k % 2 == 0) {
                    memcpy(b + o, "{\"k\":", 5);
                    o += 5;
                } else {
                    b[o++] = '[';
                }
            }
            /* an object that is never closed by a value is invalid: end on an array */
            if (depth % 2)
                b[o++] = inner ? '1' : '0';
            else if (inner)
                b[o++] = '1';
            for (size_t k = depth; k-- > 0;)
                b[o++] = k % 2 ? ']' : '}';
            check(&x, "deep nesting", b, o, NULL);
            free(b);
        }
    }
    cr_log_info("edge cases: %zu inputs, %zu accepted, %zu rejected", x.inputs, x.accepted,
                x.rejected);
    cr_expect_eq(x.failures, 0, "%zu disagreements (logged above)", x.failures);
    cr_expect_gt(x.accepted, 10);
    stream_decoder_destroy(x.sd);
    jdec_destroy(x.jd);
}
