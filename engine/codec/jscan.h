/*
 * jscan: the strict JSON lexer under the stream decoder (stream.c). It validates with exactly
 * jansson 2.14's rules (docs/decoder.md): UTF-8, escapes and surrogates, integer range, real
 * overflow, the 2048 nesting limit, duplicate keys, nothing but whitespace after the document.
 *
 * Owns: the input cursor; the first hard error (malformed document: the caller stops at once) and
 * the first soft error (schema problem: remembered, the caller goes on), each with its byte offset
 * and, after jscan_result(), the sentence describing it; the duplicate-key frames of every open
 * object and the list of their longer keys; the scratch that holds unescaped strings; a "C" locale
 * for strtod. It never reads past the `len` given to jscan_begin().
 *
 * Threads: a jscan belongs to the one thread of its owner (one stream_decoder); nothing is shared.
 *
 * Memory: jscan_init() allocates the frames (one per depth) and the key list; jscan_fini() frees
 * everything. The key list doubles when an object holds more long keys than it has room for. The
 * scratch grows when an escaped string needs more room than the current block has left; outgrown
 * blocks stay alive until the next jscan_begin(), so every string slice returned stays valid until
 * then. All of it is reported to memacct as MEM_DECODER.
 *
 * The struct is public only so the per-field readers below can be static inline (they are the hot
 * path of every message). As with curl's dynbuf: code outside jscan.h and jscan.c MUST NOT access
 * its members; use the functions.
 *
 * Conventions of the readers: they return 0 or a negative BF_E* code (a hard error, already
 * recorded). `depth` is the nesting depth of the value being read (the top value is 1). A value of
 * the wrong JSON type is a soft BF_ETYPE: it is validated, skipped, and the reader returns 0.
 */
#ifndef BF_JSCAN_H
#define BF_JSCAN_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/event.h"
#include "util/dec.h"
#include "util/err.h"

/* jansson's JSON_PARSER_MAX_DEPTH: the top value is depth 1; a value deeper than this is rejected. */
#define JSCAN_MAX_DEPTH 2048
/* Per object, longer keys are compared one by one up to this count, then sorted at the close. */
#define JSCAN_LINEAR_KEYS 16

/* Return from the calling function when x is a (negative) error code. */
#define JSCAN_TRY(x)                                                                               \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

/* Duplicate-key state of one open object (or, for the skipper, of an array). */
typedef struct jscan_frame {
    /* One-byte ASCII keys seen. unsigned long long, not uint64_t (= unsigned long = size_t on LP64),
     * so stores here cannot alias the cursor for the optimiser. */
    unsigned long long lo, hi;
    uint32_t base; /* its longer keys are keys[base .. nkeys) */
    bool is_obj;   /* for the generic skipper: object or array */
} jscan_frame;

typedef struct jscan {
    const unsigned char *b;
    size_t n, i; /* input length and cursor */

    jscan_frame *frames; /* indexed by depth */
    bf_str *keys;
    size_t nkeys, cap_keys;

    char *sc; /* scratch for unescaped strings (bump allocated) */
    size_t sc_cap, sc_used;
    char **sc_old; /* blocks outgrown since jscan_begin(): freed at the next one */
    size_t sc_nold, sc_cap_old, sc_old_bytes;

    int soft_code; /* first schema error, 0 if none */
    size_t soft_at;
    const char *soft_what;
    int hard_code;
    size_t hard_at;
    const char *hard_what;

    locale_t c_locale; /* strtod in the "C" locale whatever the process locale is */
    size_t mem;
    char err[192];
} jscan;

/* Where jscan_read_levels() appends: v[0..cap), n used so far. Owned by the caller. */
typedef struct jscan_level_buf {
    ev_level *v;
    size_t n, cap;
} jscan_level_buf;

/* ---- life cycle ---- */

void jscan_init(jscan *s);
void jscan_fini(jscan *s);
size_t jscan_mem_bytes(const jscan *s);

/* ---- errors ---- */

/* Record a hard error and return its code. */
int jscan_hard(jscan *s, int code, size_t at, const char *what);
/* At the end of the input a truncation, elsewhere a syntax error naming what was expected. */
int jscan_unexpected(jscan *s, const char *expected);
/* Record a soft error unless one is recorded already (the first one wins). */
void jscan_soft(jscan *s, int code, size_t at, const char *what);
int jscan_soft_code(const jscan *s);
/* Forget the soft error (what was decoded so far no longer counts). */
void jscan_soft_clear(jscan *s);

/* ---- cursor ---- */

static inline size_t jscan_pos(const jscan *s)
{
    return s->i;
}

/* The whole input of jscan_begin() and its length, for a caller's own scan of a shape it knows
 * (stream.c's fast path); it moves the cursor only through jscan_seek(). */
static inline const unsigned char *jscan_input(const jscan *s, size_t *len)
{
    *len = s->n;
    return s->b;
}

/* Move to `at`, an offset already validated (re-reading a deferred value) or one byte back. */
static inline void jscan_seek(jscan *s, size_t at)
{
    s->i = at;
}

/* Consume the byte jscan_peek() returned. */
static inline void jscan_step(jscan *s)
{
    s->i++;
}

/* The current byte, or -1 at the end of the input. */
static inline int jscan_peek(const jscan *s)
{
    return s->i < s->n ? s->b[s->i] : -1;
}

static inline void jscan_skip_ws(jscan *s)
{
    /* The wire has no whitespace: one compare decides the common case. */
    while (s->i < s->n && s->b[s->i] <= ' ') {
        unsigned char c = s->b[s->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        s->i++;
    }
}

/* The next byte that is not whitespace (-1 at the end); one compare when there is none. */
static inline int jscan_next(jscan *s)
{
    size_t i = s->i;
    if (i < s->n && s->b[i] > ' ')
        return s->b[i];
    jscan_skip_ws(s);
    return jscan_peek(s);
}

/* ---- one document ---- */

/* Internal to jscan_begin() and jscan_result(). */
void jscan_scratch_release(jscan *s);
void jscan_format_error(jscan *s, int rc);

/* Start on buf[0..len): clears the errors and the key list, frees outgrown scratch. BF_ETOOBIG
 * (recorded) for inputs over 4 GiB, whose lengths would not fit a bf_str. */
static inline int jscan_begin(jscan *s, const char *buf, size_t len)
{
    s->b = (const unsigned char *)buf;
    s->n = len;
    s->i = 0;
    s->nkeys = 0;
    s->soft_code = s->hard_code = 0;
    if (s->sc_nold)
        jscan_scratch_release(s);
    s->sc_used = 0;
    if (len > UINT32_MAX)
        return jscan_hard(s, BF_ETOOBIG, 0, "message longer than 4 GiB");
    return 0;
}

/* The verdict of the whole pass: rc if it is an error, else the soft error, else 0. Formats the
 * error sentence that jscan_error() returns ("" after success). */
static inline int jscan_result(jscan *s, int rc)
{
    if (rc == 0)
        rc = s->soft_code;
    if (rc < 0)
        jscan_format_error(s, rc);
    else
        s->err[0] = '\0';
    return rc;
}

/* Why the pass failed: a sentence with the byte offset ("unexpected '}' at byte 312"). */
const char *jscan_error(const jscan *s);

/* After the document's value: only whitespace may follow. */
static inline int jscan_expect_end(jscan *s)
{
    jscan_skip_ws(s);
    if (s->i != s->n)
        return jscan_hard(s, BF_ESYNTAX, s->i, "trailing characters after the message");
    return 0;
}

/* ---- strings ---- */

#define JSCAN_ONES  0x0101010101010101ull
#define JSCAN_HIGHS 0x8080808080808080ull

/* High bit set in each byte that is '"', '\\', < 0x20 or >= 0x80. Above the lowest flagged byte the
 * borrow tricks may add false flags, so only the lowest one is exact, which is all we use. */
static inline uint64_t jscan_special_bytes(uint64_t v)
{
    uint64_t q = v ^ (JSCAN_ONES * '"'), s = v ^ (JSCAN_ONES * '\\');
    uint64_t zq = (q - JSCAN_ONES) & ~q, zs = (s - JSCAN_ONES) & ~s;
    uint64_t ctl = (v - JSCAN_ONES * 0x20) & ~v;
    return (zq | zs | ctl | v) & JSCAN_HIGHS;
}

static inline bool jscan_is_special(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/* Index of the next byte in [i, n) that ends the plain run of a string, or n. With SSE2, 16 bytes
 * a step: most strings of a message (symbols, prices, quantities) end within the first, so the
 * step count, and the branch on it, does not depend on their length. */
static inline size_t jscan_find_special(const unsigned char *b, size_t i, size_t n)
{
#if defined(DEC_HAVE_SSE2)
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        /* signed: bytes >= 0x80 are negative, so one compare finds them and those below 0x20 */
        __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return i + (unsigned)__builtin_ctz(bits);
        i += 16;
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n - i >= 8) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        uint64_t m = jscan_special_bytes(v);
        if (m)
            return i + ((unsigned)__builtin_ctzll(m) >> 3);
        i += 8;
    }
#endif
    while (i < n && !jscan_is_special(b[i]))
        i++;
    return i;
}

/* Internal to jscan_str(): the rest of a string whose plain run b[start..i) stopped on an escape, a
 * UTF-8 lead byte, a control character or the end of the input. */
int jscan_str_slow(jscan *s, size_t start, size_t i, bf_str *out);

/* The string at the cursor ('"'). With `out`, its value: a slice of the input, or of scratch when
 * it held escapes. The common case (no escape, ASCII) stays inline. */
static inline int jscan_str(jscan *s, bf_str *out)
{
    const unsigned char *b = s->b;
    size_t start = s->i + 1, i = jscan_find_special(b, start, s->n);
    if (__builtin_expect(i < s->n && b[i] == '"', 1)) {
        s->i = i + 1;
        if (out)
            *out = (bf_str){ (const char *)b + start, (uint32_t)(i - start) };
        return 0;
    }
    return jscan_str_slow(s, start, i, out);
}

/* ---- keys and objects ---- */

/* Open the container at `depth` (its '{' or '[' is consumed already). */
static inline void jscan_frame_push(jscan *s, int depth, bool is_obj)
{
    jscan_frame *f = &s->frames[depth];
    f->lo = f->hi = 0;
    f->base = (uint32_t)s->nkeys;
    f->is_obj = is_obj;
}

/* Internal: the duplicate check of an object with many long keys, at its close. */
int jscan_sorted_dup_check(jscan *s, jscan_frame *f);

/* Close the object at `depth` (its '}' is consumed already). */
static inline int jscan_frame_pop(jscan *s, int depth)
{
    jscan_frame *f = &s->frames[depth];
    if (s->nkeys - f->base > JSCAN_LINEAR_KEYS)
        JSCAN_TRY(jscan_sorted_dup_check(s, f));
    s->nkeys = f->base;
    return 0;
}

/* Internal to jscan_key(): the general key reader (any length, escapes, whitespace). */
int jscan_key_slow(jscan *s, int depth, bf_str *k);

/* Record the one-byte ASCII key c of the object at `depth`; a repeat is a hard error
 * (JSON_REJECT_DUPLICATES). Longer keys are checked in jscan.c. */
static inline int jscan_note_byte_key(jscan *s, int depth, unsigned c, size_t at)
{
    jscan_frame *f = &s->frames[depth];
    unsigned long long *w = c < 64 ? &f->lo : &f->hi, bit = 1ull << (c & 63);
    if (*w & bit)
        return jscan_hard(s, BF_EDUP, at, "duplicate key");
    *w |= bit;
    return 0;
}

/* A key of the object at `depth`, its ':' and the whitespace before the value. Nearly every Binance
 * key is one plain character right before its ':', which is checked here without a general scan. */
static inline int jscan_key(jscan *s, int depth, bf_str *k)
{
    const unsigned char *b = s->b;
    size_t at = s->i, n = s->n;
    if (n - at > 4 && b[at] == '"' && b[at + 2] == '"' && b[at + 3] == ':' && b[at + 1] >= 0x20 &&
        b[at + 1] < 0x80 && b[at + 1] != '"' && b[at + 1] != '\\') {
        *k = (bf_str){ (const char *)b + at + 1, 1 };
        s->i = at + 4;
        JSCAN_TRY(jscan_note_byte_key(s, depth, b[at + 1], at));
        if (b[at + 4] <= ' ')
            jscan_skip_ws(s);
        return 0;
    }
    return jscan_key_slow(s, depth, k);
}

/* ---- values ---- */

/* Validate any value at `depth` without keeping it. Iterative: nesting costs no C stack. */
int jscan_skip(jscan *s, int depth);
/* A known field holds the wrong JSON type: note a soft BF_ETYPE and skip the value. */
int jscan_mistyped(jscan *s, int depth, const char *what);

static inline int jscan_read_str(jscan *s, bf_str *dst, int depth)
{
    if (jscan_peek(s) != '"')
        return jscan_mistyped(s, depth, "field must be a string");
    return jscan_str(s, dst);
}

/* Internal to jscan_read_int(): negative, long, real or mistyped values. */
int jscan_int_slow(jscan *s, int64_t *dst, int depth);

/* An integer (int64, as jansson). A real or another type is a soft BF_ETYPE. */
static inline int jscan_read_int(jscan *s, int64_t *dst, int depth)
{
    const unsigned char *b = s->b;
    size_t i = s->i, n = s->n;
    if (i < n && b[i] >= '1' && b[i] <= '9') {
        /* Up to 18 digits cannot overflow; anything longer or real goes the long way. */
        uint64_t acc = 0;
        size_t e = n - i > 18 ? i + 18 : n;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t w;
        if (e - i >= 8 && (memcpy(&w, b + i, 8), dec_eight_digits(w))) {
            acc = dec_eight_value(w);
            i += 8;
        }
#endif
        for (; i < e && b[i] >= '0' && b[i] <= '9'; i++)
            acc = acc * 10 + (uint64_t)(b[i] - '0');
        if (i < n && !(b[i] >= '0' && b[i] <= '9') && b[i] != '.' && (b[i] | 0x20) != 'e') {
            *dst = (int64_t)acc;
            s->i = i;
            return 0;
        }
    }
    return jscan_int_slow(s, dst, depth);
}

/* Internal to jscan_read_bool(): anything but a complete true or false. */
int jscan_bool_slow(jscan *s, bool *dst, int depth);

static inline int jscan_read_bool(jscan *s, bool *dst, int depth)
{
    size_t left = s->n - s->i;
    if (left >= 4 && memcmp(s->b + s->i, "true", 4) == 0) {
        *dst = true;
        s->i += 4;
        return 0;
    }
    if (left >= 5 && memcmp(s->b + s->i, "false", 5) == 0) {
        *dst = false;
        s->i += 5;
        return 0;
    }
    return jscan_bool_slow(s, dst, depth);
}

/* dec_preparse() of the number s[0..n), with `room` >= n bytes readable at s: true with *m and the
 * fraction digits *d, or false with both 0. Short numbers go through digits words (the level
 * reader's conversion), so it costs a few instructions where dec_preparse() loops per byte. */
bool jscan_preparse(const char *s, size_t n, size_t room, int64_t *m, uint8_t *d);

/* An array of ["px","qty"] levels, appended to lb; dst gets their run. Each level's price and
 * quantity are pre-parsed as they are scanned (ev_level: the exchange's form, numbers of up to 8
 * digits, 32 bytes classified per level with SSE2 and both numbers converted at once; anything
 * else through dec_preparse()). A level of another shape is a soft BF_ETYPE, one that does not fit
 * in lb a soft BF_ETOOBIG (validated but not kept). Out of line on purpose: one call per array, and
 * the callers' per-field dispatch stays small enough to be inlined itself. */
int jscan_read_levels(jscan *s, jscan_level_buf *lb, ev_levels *dst, int depth);

#endif
