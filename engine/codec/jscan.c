/*
 * jscan: the cold half of the strict JSON lexer (the hot readers are static inline in jscan.h).
 * Here: errors and their sentences, the scratch, escapes and UTF-8, numbers and literals, the
 * duplicate-key bookkeeping past the one-byte keys, and the iterative skipper that validates any
 * value of any depth without keeping it.
 */
#include "codec/jscan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/memacct.h"
#include "util/xalloc.h"

#define TRY JSCAN_TRY

/* ---- errors ---- */

int jscan_hard(jscan *s, int code, size_t at, const char *what)
{
    s->hard_code = code;
    s->hard_at = at;
    s->hard_what = what;
    return code;
}

int jscan_unexpected(jscan *s, const char *expected)
{
    if (s->i >= s->n)
        return jscan_hard(s, BF_ETRUNC, s->n, expected);
    return jscan_hard(s, BF_ESYNTAX, s->i, expected);
}

void jscan_soft(jscan *s, int code, size_t at, const char *what)
{
    if (s->soft_code)
        return;
    s->soft_code = code;
    s->soft_at = at;
    s->soft_what = what;
}

int jscan_soft_code(const jscan *s)
{
    return s->soft_code;
}

void jscan_soft_clear(jscan *s)
{
    s->soft_code = 0;
}

/* ---- memory ---- */

static void account(jscan *s, int64_t delta)
{
    s->mem = (size_t)((int64_t)s->mem + delta);
    memacct_add(MEM_DECODER, delta);
}

/* Keep the current block alive (slices may point into it) and start a bigger one. */
static void scratch_grow(jscan *s, size_t need)
{
    if (s->sc) {
        if (s->sc_nold == s->sc_cap_old) {
            s->sc_cap_old = s->sc_cap_old ? 2 * s->sc_cap_old : 8;
            s->sc_old = xreallocarray(s->sc_old, s->sc_cap_old, sizeof *s->sc_old);
        }
        s->sc_old[s->sc_nold++] = s->sc;
        s->sc_old_bytes += s->sc_cap;
    }
    size_t cap = s->sc_cap * 2 > 256 ? s->sc_cap * 2 : 256;
    if (cap < need)
        cap = need;
    s->sc = xmalloc(cap);
    s->sc_cap = cap;
    s->sc_used = 0;
    account(s, (int64_t)cap);
}

static char *scratch_alloc(jscan *s, size_t n)
{
    if (s->sc_cap - s->sc_used < n)
        scratch_grow(s, n);
    char *p = s->sc + s->sc_used;
    s->sc_used += n;
    return p;
}

void jscan_scratch_release(jscan *s)
{
    for (size_t k = 0; k < s->sc_nold; k++)
        free(s->sc_old[k]);
    account(s, -(int64_t)s->sc_old_bytes);
    s->sc_nold = 0;
    s->sc_old_bytes = 0;
}

/* ---- escapes and UTF-8 ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The 4 hex digits at b[i..i+4) as a code unit; -1 when invalid, -2 when the input ends first. */
static long hex4(const jscan *s, size_t i)
{
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        if (i + k >= s->n)
            return -2;
        int h = hexval(s->b[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static int bad_hex(jscan *s, long v, size_t at)
{
    if (v == -2)
        return jscan_hard(s, BF_ETRUNC, s->n, "input ends inside a \\u escape");
    return jscan_hard(s, BF_ESYNTAX, at, "invalid \\u escape");
}

/* The low half of a surrogate pair, due at b[*i] after the high one escaped at `at`. */
static int check_low_surrogate(jscan *s, size_t *i, size_t at)
{
    if (s->n - *i < 2)
        return *i == s->n || s->b[*i] == '\\'
                   ? jscan_hard(s, BF_ETRUNC, s->n, "input ends in a string")
                   : jscan_hard(s, BF_ESYNTAX, at, "lone high surrogate");
    if (s->b[*i] != '\\' || s->b[*i + 1] != 'u')
        return jscan_hard(s, BF_ESYNTAX, at, "lone high surrogate");
    long lo = hex4(s, *i + 2);
    if (lo < 0)
        return bad_hex(s, lo, *i);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return jscan_hard(s, BF_ESYNTAX, at, "high surrogate not followed by a low one");
    *i += 6;
    return 0;
}

/* A \u escape at b[*i] ('\\'): validate (pairs, no lone surrogates, no \u0000) and step over it. */
static int check_uescape(jscan *s, size_t *i)
{
    size_t at = *i;
    long v = hex4(s, at + 2);
    if (v < 0)
        return bad_hex(s, v, at);
    if (v == 0)
        return jscan_hard(s, BF_ESYNTAX, at, "\\u0000 is not allowed");
    if (v >= 0xDC00 && v <= 0xDFFF)
        return jscan_hard(s, BF_ESYNTAX, at, "lone low surrogate");
    *i = at + 6;
    if (v < 0xD800 || v > 0xDBFF)
        return 0;
    return check_low_surrogate(s, i, at);
}

/* An escape at b[*i] ('\\'): validate and step over it. */
static int check_escape(jscan *s, size_t *i)
{
    if (*i + 1 >= s->n)
        return jscan_hard(s, BF_ETRUNC, s->n, "input ends in a string escape");
    switch (s->b[*i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *i += 2;
        return 0;
    case 'u':
        return check_uescape(s, i);
    default:
        return jscan_hard(s, BF_ESYNTAX, *i, "invalid escape");
    }
}

/* A UTF-8 sequence at b[*i] (>= 0x80), with jansson's rules: shortest form, no surrogates, at most
 * U+10FFFF. */
static int check_utf8(jscan *s, size_t *i)
{
    const unsigned char *b = s->b;
    unsigned c = b[*i], len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return jscan_hard(s, BF_ESYNTAX, *i, "invalid UTF-8");
    for (unsigned k = 1; k < len; k++) {
        if (*i + k >= s->n)
            return jscan_hard(s, BF_ETRUNC, s->n, "input ends inside a UTF-8 sequence");
        if ((b[*i + k] & 0xC0) != 0x80)
            return jscan_hard(s, BF_ESYNTAX, *i, "invalid UTF-8");
        cp = cp << 6 | (b[*i + k] & 0x3F);
    }
    bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return jscan_hard(s, BF_ESYNTAX, *i, "invalid UTF-8");
    *i += len;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static char unescape_char(unsigned char c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return (char)c; /* '"', '\\', '/' */
    }
}

/* Decode the already validated string body b[i..e) into scratch (never longer than the source). */
static bf_str unescape(jscan *s, size_t i, size_t e)
{
    char *o = scratch_alloc(s, e - i), *start = o;
    const unsigned char *b = s->b;
    while (i < e) {
        if (b[i] != '\\') {
            *o++ = (char)b[i++];
            continue;
        }
        if (b[i + 1] != 'u') {
            *o++ = unescape_char(b[i + 1]);
            i += 2;
            continue;
        }
        uint32_t cp = (uint32_t)hex4(s, i + 2);
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(s, i + 2) - 0xDC00);
            i += 6;
        }
        o += put_utf8(o, cp);
    }
    return (bf_str){ start, (uint32_t)(o - start) };
}

/* Checked one by one from the special byte at b[i]; plain runs still go 8 bytes at a time. Kept out
 * of line so the inline fast path in jscan_str() stays small. */
__attribute__((noinline)) int jscan_str_slow(jscan *s, size_t start, size_t i, bf_str *out)
{
    const unsigned char *b = s->b;
    bool esc = false;
    for (;;) {
        if (i >= s->n)
            return jscan_hard(s, BF_ETRUNC, s->n, "input ends in a string");
        unsigned char c = b[i];
        if (c == '"')
            break;
        if (c == '\\') {
            TRY(check_escape(s, &i));
            esc = true;
        } else if (c >= 0x80) {
            TRY(check_utf8(s, &i));
        } else {
            return jscan_hard(s, BF_ESYNTAX, i, "control character in a string");
        }
        i = jscan_find_special(b, i, s->n);
    }
    s->i = i + 1;
    if (out)
        *out = esc ? unescape(s, start, i)
                   : (bf_str){ (const char *)b + start, (uint32_t)(i - start) };
    return 0;
}

/* ---- numbers and literals ---- */

/* Exactly jansson's test: strtod of the token overflows to +-HUGE_VAL (underflow is fine). */
static int check_real(jscan *s, size_t start, size_t e)
{
    char *tmp = scratch_alloc(s, e - start + 1);
    memcpy(tmp, s->b + start, e - start);
    tmp[e - start] = '\0';
    errno = 0;
    double v = strtod_l(tmp, NULL, s->c_locale);
    s->sc_used -= e - start + 1; /* the copy is dead now; give the room back */
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
        return jscan_hard(s, BF_ERANGE, start, "real number overflow");
    return 0;
}

static size_t skip_digits(const jscan *s, size_t i)
{
    while (i < s->n && s->b[i] >= '0' && s->b[i] <= '9')
        i++;
    return i;
}

/* Fraction and exponent of a real starting at `start` whose integer part ends at b[i]. */
static int real_tail(jscan *s, size_t start, size_t i)
{
    if (i < s->n && s->b[i] == '.') {
        size_t j = skip_digits(s, i + 1);
        if (j == i + 1)
            return s->i = i + 1, jscan_unexpected(s, "a digit after '.'");
        i = j;
    }
    if (i < s->n && (s->b[i] == 'e' || s->b[i] == 'E')) {
        i++;
        if (i < s->n && (s->b[i] == '+' || s->b[i] == '-'))
            i++;
        size_t j = skip_digits(s, i);
        if (j == i)
            return s->i = i, jscan_unexpected(s, "a digit in the exponent");
        i = j;
    }
    s->i = i;
    return check_real(s, start, i);
}

/* A number at the cursor; *is_int tells whether it was an integer (then in *v). Integers must fit
 * int64 and reals must not overflow a double, as in jansson. */
static int number(jscan *s, int64_t *v, bool *is_int)
{
    const unsigned char *b = s->b;
    size_t start = s->i, i = start;
    bool neg = i < s->n && b[i] == '-';
    i += neg;
    uint64_t acc = 0;
    size_t nd = 0;
    if (i < s->n && b[i] == '0') {
        i++, nd = 1;
    } else {
        for (; i < s->n && b[i] >= '0' && b[i] <= '9'; i++, nd++)
            acc = acc * 10 + (uint64_t)(b[i] - '0'); /* wraps past 19 digits: nd tells */
        if (nd == 0)
            return s->i = i, jscan_unexpected(s, "a digit");
    }
    if (i < s->n && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
        *is_int = false;
        return real_tail(s, start, i);
    }
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (nd > 19 || acc > lim)
        return jscan_hard(s, BF_ERANGE, start, "integer does not fit in 64 bits");
    s->i = i;
    *is_int = true;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

static int literal(jscan *s, const char *word, size_t wn)
{
    size_t left = s->n - s->i;
    if (left >= wn && memcmp(s->b + s->i, word, wn) == 0) {
        s->i += wn;
        return 0;
    }
    if (left < wn && memcmp(s->b + s->i, word, left) == 0)
        return jscan_hard(s, BF_ETRUNC, s->n, "input ends inside a literal");
    return jscan_hard(s, BF_ESYNTAX, s->i, "invalid literal");
}

/* ---- duplicate keys ---- */

static int key_cmp(const void *a, const void *b)
{
    const bf_str *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->n ? memcmp(x->p, y->p, x->n) : 0;
}

int jscan_sorted_dup_check(jscan *s, jscan_frame *f)
{
    size_t cnt = s->nkeys - f->base;
    bf_str *k = s->keys + f->base;
    qsort(k, cnt, sizeof *k, key_cmp);
    for (size_t j = 1; j < cnt; j++)
        if (key_cmp(&k[j - 1], &k[j]) == 0)
            return jscan_hard(s, BF_EDUP, s->i - 1, "duplicate key in an object");
    return 0;
}

static int long_key(jscan *s, jscan_frame *f, bf_str k, size_t at)
{
    size_t cnt = s->nkeys - f->base;
    if (cnt < JSCAN_LINEAR_KEYS)
        for (size_t j = f->base; j < s->nkeys; j++)
            if (key_cmp(&s->keys[j], &k) == 0)
                return jscan_hard(s, BF_EDUP, at, "duplicate key");
    if (s->nkeys == s->cap_keys) {
        account(s, (int64_t)(s->cap_keys * sizeof *s->keys));
        s->cap_keys *= 2;
        s->keys = xreallocarray(s->keys, s->cap_keys, sizeof *s->keys);
    }
    s->keys[s->nkeys++] = k;
    return 0;
}

/* Record key k of the object at `depth`; a repeat is a hard error (JSON_REJECT_DUPLICATES). */
static int note_key(jscan *s, int depth, bf_str k, size_t at)
{
    if (k.n == 1 && (unsigned char)k.p[0] < 128)
        return jscan_note_byte_key(s, depth, (unsigned char)k.p[0], at);
    return long_key(s, &s->frames[depth], k, at);
}

/* Skip whitespace and consume `c`, or fail naming it. */
static int expect(jscan *s, int c, const char *what)
{
    jscan_skip_ws(s);
    if (jscan_peek(s) != c)
        return jscan_unexpected(s, what);
    s->i++;
    return 0;
}

/* The general key: any length, escapes, whitespace before the ':'. Out of line so the one-byte
 * fast path of jscan_key() stays small. */
__attribute__((noinline)) int jscan_key_slow(jscan *s, int depth, bf_str *k)
{
    jscan_skip_ws(s);
    size_t at = s->i;
    if (jscan_peek(s) != '"')
        return jscan_unexpected(s, "a key string");
    TRY(jscan_str(s, k));
    TRY(note_key(s, depth, *k, at));
    TRY(expect(s, ':', "':'"));
    jscan_skip_ws(s);
    return 0;
}

/* ---- generic values ---- */

/* An object or array whose opening byte is consumed: an empty one is closed (0), a non-empty one is
 * opened at `depth` (1), an object up to its first value. */
static int open_container(jscan *s, int depth, bool is_obj)
{
    jscan_skip_ws(s);
    if (jscan_peek(s) == (is_obj ? '}' : ']'))
        return s->i++, 0;
    jscan_frame_push(s, depth, is_obj);
    if (is_obj) {
        bf_str k;
        TRY(jscan_key(s, depth, &k));
    }
    return 1;
}

/* Start the value at `depth`: a scalar or an empty container is consumed (0); a non-empty container
 * is opened (1). */
static int skip_item(jscan *s, int depth)
{
    if (depth > JSCAN_MAX_DEPTH)
        return jscan_hard(s, BF_EDEPTH, s->i, "nesting deeper than 2048");
    jscan_skip_ws(s);
    int c = jscan_peek(s);
    int64_t v;
    bool is_int;
    switch (c) {
    case '{':
    case '[':
        s->i++;
        return open_container(s, depth, c == '{');
    case '"':
        return jscan_str(s, NULL);
    case 't':
        return literal(s, "true", 4);
    case 'f':
        return literal(s, "false", 5);
    case 'n':
        return literal(s, "null", 4);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return number(s, &v, &is_int);
        return jscan_unexpected(s, "a value");
    }
}

/* After a complete value at depth cur+1 inside the container at `cur`: 1 when the next value begins
 * (the container stays open), 0 when the container closed. */
static int skip_next(jscan *s, int cur)
{
    jscan_frame *f = &s->frames[cur];
    bf_str k;
    jscan_skip_ws(s);
    int c = jscan_peek(s);
    if (c == ',') {
        s->i++;
        if (f->is_obj)
            TRY(jscan_key(s, cur, &k));
        return 1;
    }
    if (c != (f->is_obj ? '}' : ']'))
        return jscan_unexpected(s, f->is_obj ? "',' or '}'" : "',' or ']'");
    s->i++;
    if (f->is_obj)
        TRY(jscan_frame_pop(s, cur));
    return 0;
}

int jscan_skip(jscan *s, int depth)
{
    int cur = depth; /* depth of the value about to start */
    for (;;) {
        int r = skip_item(s, cur);
        if (r < 0)
            return r;
        if (r == 1) {
            cur++;
            continue;
        }
        for (;;) { /* the value at `cur` is complete */
            if (cur == depth)
                return 0;
            r = skip_next(s, cur - 1);
            if (r < 0)
                return r;
            if (r == 1)
                break;
            cur--;
        }
    }
}

int jscan_mistyped(jscan *s, int depth, const char *what)
{
    jscan_soft(s, BF_ETYPE, s->i, what);
    return jscan_skip(s, depth);
}

/* ---- typed values: the slow halves ---- */

int jscan_int_slow(jscan *s, int64_t *dst, int depth)
{
    int c = jscan_peek(s);
    if (c != '-' && (c < '0' || c > '9'))
        return jscan_mistyped(s, depth, "field must be an integer");
    size_t at = s->i;
    bool is_int;
    TRY(number(s, dst, &is_int));
    if (!is_int)
        jscan_soft(s, BF_ETYPE, at, "field must be an integer");
    return 0;
}

int jscan_bool_slow(jscan *s, bool *dst, int depth)
{
    if (jscan_peek(s) == 't') {
        *dst = true;
        return literal(s, "true", 4);
    }
    if (jscan_peek(s) == 'f') {
        *dst = false;
        return literal(s, "false", 5);
    }
    return jscan_mistyped(s, depth, "field must be true or false");
}

/* A plain string body starting at b[i] and its closing quote; 0 when it is not that simple. */
static inline size_t plain_str_end(const unsigned char *b, size_t i, size_t n)
{
    size_t e = jscan_find_special(b, i, n);
    return e < n && b[e] == '"' ? e : 0;
}

/* The two bytes at p as one little-endian number, to compare punctuation pairs in one go. */
static inline unsigned pair_at(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

#define PAIR(a, b) ((unsigned)(unsigned char)(a) | (unsigned)(unsigned char)(b) << 8)

/* level_exact() classifies this many bytes from the level's '[' (and reads one more): room for
 * ["px","qty"] with 9-byte numbers and the ",[" after it. */
#define LEVEL_WINDOW 32

/* The classes of the LEVEL_WINDOW bytes at w that level_exact() needs: bit i set when w[i] is '"'
 * (quotes) or '.' (points). */
typedef struct level_classes {
    unsigned quotes, points;
} level_classes;

static inline void classify_level(const char *w, level_classes *c)
{
#if defined(DEC_HAVE_SSE2)
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)w);
    __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(w + 16));
    __m128i quote = _mm_set1_epi8('"'), point = _mm_set1_epi8('.');
    c->quotes = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(lo, quote)) |
                (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(hi, quote)) << 16;
    c->points = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(lo, point)) |
                (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(hi, point)) << 16;
#else
    (void)w;
    *c = (level_classes){ 0, 0 }; /* nothing is taken: level_plain() reads every level */
#endif
}

/* One number of a level that level_exact() found but does not convert itself, its string s[0..n)
 * with `room` bytes readable at s: up to 16 digits with at most one point, neither first nor last,
 * through digits words; anything else byte by byte (dec_preparse()). False when it is not a number.
 */
static bool number_slow(const char *s, unsigned n, size_t room, int64_t *m, uint8_t *d)
{
    const char *pt = memchr(s, '.', n);
    unsigned k = pt ? (unsigned)(pt - s) : 16, digits = n - (pt != NULL);
    bool shape = !pt || (k > 0 && k + 1 < n && !memchr(pt + 1, '.', n - k - 1));
    if (shape && digits - 1 < 8u && room >= 9) {
        uint64_t v = dec_digits_word(s, digits, k < 8 ? k : 8);
        if (dec_digits_ok(v)) {
            *m = (int64_t)dec_digits_value(v);
            *d = (uint8_t)(pt ? n - 1 - k : 0);
            return true;
        }
    } else if (shape && digits - 9 < 8u && room >= 17) {
        uint64_t hi, lo;
        dec_digits_words16(s, digits, k, &hi, &lo);
        if (dec_digits_ok(hi) && dec_digits_ok(lo)) {
            *m = (int64_t)(dec_digits_value(hi) * 100000000 + dec_digits_value(lo));
            *d = (uint8_t)(pt ? n - 1 - k : 0);
            return true;
        }
    }
    int fd = dec_preparse(s, n, m);
    *d = (uint8_t)(fd < 0 ? 0 : fd);
    return fd >= 0;
}

bool jscan_preparse(const char *s, size_t n, size_t room, int64_t *m, uint8_t *d)
{
#if defined(DEC_HAVE_SSE2)
    if (n > 0 && n <= DEC_MAX_CHARS)
        return number_slow(s, (unsigned)n, room, m, d);
#else
    (void)room;
#endif
    int fd = dec_preparse(s, n, m);
    *d = (uint8_t)(fd < 0 ? 0 : fd);
    return fd >= 0;
}

/* level_exact() for a level whose strings it found (in lv, within `room` bytes from the level's '['
 * at w) but whose numbers are not both of at most 8 digits, or hold other bytes: both through
 * number_slow(). `end` (the index after the level) when both are numbers, as then no byte in them
 * needs JSON's checks; else 0, and level_plain() or level_general() reads the level. */
static __attribute__((noinline)) size_t level_numbers_slow(const char *w, size_t room, ev_level *lv,
                                                           size_t end)
{
    size_t qoff = (size_t)(lv->qty.p - w);
    bool ok = number_slow(lv->px.p, lv->px.n, room - 2, &lv->px_m, &lv->px_d) &&
              number_slow(lv->qty.p, lv->qty.n, room - qoff, &lv->qty_m, &lv->qty_d);
    lv->pre = EV_PRE_PX | EV_PRE_QTY;
    return ok ? end : 0;
}

/* ["px","qty"] at b[i] ('[') exactly as the exchange writes it, both numbers [0-9]+(\.[0-9]+)? of
 * at most 8 digits (every Binance level): the index after its ']', with the level and both numbers
 * pre-parsed in lv; 0 for anything else (lv may be partly written), which level_plain() then reads.
 * The level's quotes and points are found for the whole level at once; each number's digits word
 * (dec_digits_word(), its point squeezed out) is then checked for anything but digits, both words
 * together, and converted together (dec_digits_value2()). Needs LEVEL_WINDOW + 1 bytes at b[i]. */
static inline size_t level_exact(const unsigned char *b, size_t i, size_t avail, ev_level *lv)
{
    const char *w = (const char *)b + i;
    level_classes c;
    classify_level(w, &c);
    /* Quotes at 1, e1, o2 = e1 + 2 and e2, with ',' after e1 and ']' after e2. */
    unsigned q1 = c.quotes & (c.quotes - 1), q2 = q1 & (q1 - 1), q3 = q2 & (q2 - 1);
    unsigned e1 = (unsigned)__builtin_ctz(q1 | 1u << 31),
             o2 = (unsigned)__builtin_ctz(q2 | 1u << 31);
    unsigned e2 = (unsigned)__builtin_ctz(q3 | 1u << 31);
    /* q3 == 0: no fourth quote in the window, and e2 is only the sentinel bit (a byte that is not
     * a quote must never close the quantity). */
    if ((c.quotes & 3u) != 2u || !q3 || o2 != e1 + 2 || w[e1 + 1] != ',' || w[e2 + 1] != ']')
        return 0;
    unsigned np = e1 - 2, nq = e2 - o2 - 1;
    lv->px = (bf_str){ w + 2, np };
    lv->qty = (bf_str){ w + o2 + 1, nq };
    /* The points of each number: at most one, neither first nor last; 1..8 digits. What else the
     * numbers hold shows up in their digits words. */
    unsigned at_e1 = q1 & (0u - q1), at_o2 = q2 & (0u - q2), at_e2 = q3 & (0u - q3);
    unsigned pp = c.points & (at_e1 - 4u), pq = c.points & (at_e2 - (at_o2 << 1));
    unsigned dp = np - (pp != 0), dq = nq - (pq != 0); /* digits */
    if ((pp & ((pp - 1) | 4u | at_e1 >> 1)) | (pq & ((pq - 1) | at_o2 << 1 | at_e2 >> 1)) ||
        dp - 1 >= 8u || dq - 1 >= 8u)
        return level_numbers_slow(w, avail, lv, i + e2 + 2);
    unsigned kp = pp ? (unsigned)__builtin_ctz(pp) - 2 : 8; /* the points; 8: none */
    unsigned kq = pq ? (unsigned)__builtin_ctz(pq) - o2 - 1 : 8;
    lv->px_d = (uint8_t)(pp ? np - 1 - kp : 0); /* the digits after the point */
    lv->qty_d = (uint8_t)(pq ? nq - 1 - kq : 0);
    uint64_t pv, qv;
    if (!dec_digits_value2(dec_digits_word(w + 2, dp, kp), dec_digits_word(w + o2 + 1, dq, kq), &pv,
                           &qv))
        return level_numbers_slow(w, avail, lv, i + e2 + 2);
    lv->px_m = (int64_t)pv;
    lv->qty_m = (int64_t)qv;
    lv->pre = EV_PRE_PX | EV_PRE_QTY;
    return i + e2 + 2;
}

/* level_exact() for a level too close to the end of the input to be classified in place (the last
 * of a message): on a copy of the input's last bytes, zero-padded to the window, with the level's
 * strings then pointed back into the input. Nothing past the input is read. */
static __attribute__((noinline)) size_t level_exact_tail(const unsigned char *b, size_t i, size_t n,
                                                         ev_level *lv)
{
    unsigned char w[LEVEL_WINDOW + 1] = { 0 }; /* zeros: no quote, point or bracket */
    memcpy(w, b + i, n - i);
    size_t e = level_exact(w, 0, sizeof w, lv);
    if (e == 0)
        return 0;
    lv->px.p = (const char *)b + i + (lv->px.p - (const char *)w);
    lv->qty.p = (const char *)b + i + (lv->qty.p - (const char *)w);
    return i + e;
}

/* The run of exact levels from b[i], one after the other with only ',' between them, appended to
 * lb while they fit. Returns where it stopped: right after a level (*after set) not followed by
 * ",[", or at a level it did not take (*after clear; maybe not a level at all). The cursor lives
 * in a register for the whole run. */
static __attribute__((noinline)) size_t levels_exact(const unsigned char *b, size_t i, size_t n,
                                                     jscan_level_buf *lb, bool *after)
{
    size_t k = lb->n, cap = lb->cap, e = 0;
    *after = false;
    if (i >= n || b[i] != '[') /* and then every level follows a ",[" */
        return i;
    for (;;) {
        /* In place while the window fits in the input (the hot loop), then on a copy. */
        while (k < cap && n - i > LEVEL_WINDOW && (e = level_exact(b, i, n - i, &lb->v[k])) != 0) {
            k++;
            /* A level can end within a byte of the input's end (a 32-byte level in the last 33). */
            if (n - e < 2 || pair_at(b + e) != PAIR(',', '['))
                break;
            i = e + 1;
            e = 0;
        }
        if (e == 0 && k < cap && n - i <= LEVEL_WINDOW &&
            (e = level_exact_tail(b, i, n, &lb->v[k])) != 0) {
            k++;
            if (n - e >= 2 && pair_at(b + e) == PAIR(',', '[')) {
                i = e + 1;
                e = 0;
                continue;
            }
        }
        break;
    }
    lb->n = k;
    if (e != 0) { /* stopped right after a level */
        *after = true;
        i = e;
    }
    return i;
}

/* ["px","qty"] at the cursor without whitespace or escapes, when level_exact() did not take it (a
 * number it leaves to dec_preparse(), or a string of another kind): true when taken, false (cursor
 * unmoved) for anything else. */
static bool level_plain(jscan *s, ev_level *lv)
{
    const unsigned char *b = s->b;
    size_t i = s->i, n = s->n;
    if (n - i < 8 || b[i + 1] != '"')
        return false;
    size_t e1 = plain_str_end(b, i + 2, n);
    if (!e1 || n - e1 < 4 || b[e1 + 1] != ',' || b[e1 + 2] != '"')
        return false;
    size_t e2 = plain_str_end(b, e1 + 3, n);
    if (!e2 || n - e2 < 2 || b[e2 + 1] != ']')
        return false;
    ev_level_set(lv, (bf_str){ (const char *)b + i + 2, (uint32_t)(e1 - i - 2) },
                 (bf_str){ (const char *)b + e1 + 3, (uint32_t)(e2 - e1 - 3) });
    s->i = e2 + 2;
    return true;
}

/* A level at b[i] ('[') in any valid JSON form ["px","qty"] (whitespace, escapes); any other shape
 * is a type error. */
static int level_general(jscan *s, ev_level *lv, int depth)
{
    size_t at = s->i;
    bf_str px, qty;
    s->i++;
    jscan_skip_ws(s);
    if (jscan_peek(s) == '"') {
        TRY(jscan_str(s, &px));
        jscan_skip_ws(s);
        if (jscan_peek(s) == ',') {
            s->i++;
            jscan_skip_ws(s);
            if (jscan_peek(s) == '"') {
                TRY(jscan_str(s, &qty));
                jscan_skip_ws(s);
                if (jscan_peek(s) == ']') {
                    ev_level_set(lv, px, qty);
                    return s->i++, 0;
                }
            }
        }
    }
    s->i = at;
    return jscan_mistyped(s, depth, "a level must be [\"price\",\"qty\"]");
}

/* A level that levels_exact() did not take: another form, not an array, or past lb's room. */
static int level_slow(jscan *s, jscan_level_buf *lb, int depth)
{
    size_t at = s->i;
    if (jscan_peek(s) != '[')
        return jscan_mistyped(s, depth, "a level must be [\"price\",\"qty\"]");
    ev_level scrap, *lv = &scrap;
    if (lb->n < lb->cap)
        lv = &lb->v[lb->n++];
    else
        jscan_soft(s, BF_ETOOBIG, at, "more levels than max_levels");
    if (level_plain(s, lv))
        return 0;
    return level_general(s, lv, depth);
}

int jscan_read_levels(jscan *s, jscan_level_buf *lb, ev_levels *dst, int depth)
{
    if (jscan_peek(s) != '[')
        return jscan_mistyped(s, depth, "levels must be an array");
    s->i++;
    dst->first = (uint32_t)lb->n;
    dst->count = 0;
    jscan_skip_ws(s);
    if (jscan_peek(s) == ']')
        return s->i++, 0;
    for (;;) {
        bool after;
        s->i = levels_exact(s->b, s->i, s->n, lb, &after);
        if (!after)
            TRY(level_slow(s, lb, depth + 1));
        jscan_skip_ws(s);
        int c = jscan_peek(s);
        s->i++;
        if (c == ']')
            break;
        if (c != ',')
            return s->i--, jscan_unexpected(s, "',' or ']'");
        jscan_skip_ws(s);
    }
    dst->count = (uint32_t)(lb->n - dst->first);
    return 0;
}

/* ---- life cycle and results ---- */

void jscan_init(jscan *s)
{
    memset(s, 0, sizeof *s);
    s->frames = xcalloc(JSCAN_MAX_DEPTH + 2, sizeof *s->frames);
    s->cap_keys = 256;
    s->keys = xcalloc(s->cap_keys, sizeof *s->keys);
    s->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (s->c_locale == (locale_t)0) {
        fprintf(stderr, "jscan: cannot create the C locale\n");
        abort();
    }
    account(s,
            (int64_t)((JSCAN_MAX_DEPTH + 2) * sizeof *s->frames + s->cap_keys * sizeof *s->keys));
}

void jscan_fini(jscan *s)
{
    if (s->sc_nold)
        jscan_scratch_release(s);
    memacct_add(MEM_DECODER, -(int64_t)s->mem);
    s->mem = 0;
    free(s->sc_old);
    free(s->sc);
    free(s->keys);
    free(s->frames);
    freelocale(s->c_locale);
}

size_t jscan_mem_bytes(const jscan *s)
{
    return s->mem;
}

void jscan_format_error(jscan *s, int rc)
{
    size_t at = s->hard_code ? s->hard_at : s->soft_at;
    const char *what = s->hard_code ? s->hard_what : s->soft_what;
    if (rc == BF_ESYNTAX && at < s->n && s->b[at] >= 0x20 && s->b[at] < 0x7f)
        snprintf(s->err, sizeof s->err, "unexpected '%c' at byte %zu (%s)", s->b[at], at, what);
    else if (rc == BF_ETRUNC)
        snprintf(s->err, sizeof s->err, "input ends at byte %zu (expected %s)", at, what);
    else
        snprintf(s->err, sizeof s->err, "%s at byte %zu", what, at);
}

const char *jscan_error(const jscan *s)
{
    return s->err;
}
