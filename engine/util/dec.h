/*
 * dec: exact decimals. Binance writes prices and quantities as decimal strings ("61800.10",
 * "4.230", "0", "-0.00010000"); the engine keeps them as int64 counts of a unit and prints them back
 * exactly as the exchange writes them. No floating point anywhere.
 *
 * A scale maps a string to an integer:  value = n * unit * 10^-decimals.
 *   tickSize "0.10", 2 decimals written:  { .unit = 10, .decimals = 2 }   "61800.10" -> 618001
 *   the exchange's written precision:     { .unit = 1,  .decimals = 2 }   "61800.10" -> 6180010
 * Accepted syntax: -?[0-9]+(\.[0-9]+)? (no '+', exponent, spaces, or bare '.'). Extra trailing
 * zeros beyond `decimals` are accepted; any other extra digit is BF_EPRECISION; a value that is
 * not a multiple of unit is BF_EOFFTICK; overflow of int64 is BF_ERANGE; more than DEC_MAX_CHARS
 * characters is BF_EOVERLONG. Pure functions, any thread.
 *
 * Pre-parsed numbers. A decoder that meets a number before its scale is known reads it once into
 * parts, value = m * 10^-d ("61800.10" -> m 6180010, d 2; "-0.5" -> m -5, d 1), and the market
 * later turns the parts into counts of its scale with dec_from_parts(), which gives exactly what
 * dec_parse() gives for the string, error codes included. dec_preparse() reads any string (it
 * leaves to dec_parse() what is not -?[0-9]+(\.[0-9]+)? of at most DEC_PRE_DIGITS digits fitting
 * int64); the "digits word" functions below let a decoder that has already classified a string's
 * bytes convert a number of at most 8 digits without a loop, two at a time.
 */
#ifndef BF_DEC_H
#define BF_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#define DEC_HAVE_SSE2 1
#endif

#define DEC_MAX_DECIMALS 18
#define DEC_MAX_CHARS    40
/* Big enough for any formatted int64 with sign, point and NUL. */
#define DEC_FMT_MAX 48

typedef struct dec_scale {
    int64_t unit;     /* tick/step in units of 10^-decimals, >= 1 */
    uint8_t decimals; /* digits after the point that the exchange writes */
} dec_scale;

/* Scale from a tickSize/stepSize string; decimals = the digits the string itself carries ("0.10" ->
 * 2). BF_EINVAL for zero or negative sizes. */
int dec_scale_from_tick(const char *tick, size_t n, dec_scale *out);
/* Scale from a tick string but printing `decimals` digits (decimals must cover the tick's
 * precision). */
int dec_scale_make(const char *tick, size_t n, unsigned decimals, dec_scale *out);
/* unit 1: integers count steps of 10^-decimals. */
dec_scale dec_scale_plain(unsigned decimals);

/* Digits after the decimal point (0 for "42"), or a negative BF_E* code for malformed input. */
int dec_decimals(const char *s, size_t n);

/* Parse s[0..n) into *out, counted in units of the scale. 0 or BF_E*; *out untouched on error. */
int dec_parse(const char *s, size_t n, const dec_scale *sc, int64_t *out);

/* Write v in the scale's notation (exactly `decimals` digits after the point, "-" for negatives)
 * and a NUL into buf. Returns the length, or BF_ETOOBIG when cap is too small (DEC_FMT_MAX always
 * fits). */
int dec_format(int64_t v, const dec_scale *sc, char *buf, size_t cap);

/* ---- pre-parsed numbers ---------------------------------------------------------------------- */

/* Returned by dec_preparse() for a string it leaves to dec_parse(). */
#define DEC_PRE_NONE (-1)
/* At most this many digits (integer and fraction together, leading zeros included): their value
 * is below 10^19, so it cannot overflow uint64 while it is accumulated. */
#define DEC_PRE_DIGITS 19

/* Internal to dec_from_parts(): everything but a string written with exactly the scale's decimals
 * into a unit-1 scale. */
int dec_from_parts_slow(int64_t m, unsigned d, const dec_scale *sc, int64_t *out);

/* dec_parse() of the string that dec_preparse() read into (m, d), without the string: the same
 * value and the same error code (BF_EPRECISION, BF_ERANGE, BF_EOFFTICK, BF_EINVAL) for every
 * string and scale. Extra fraction digits are accepted when they are zeros, as in dec_parse(). The
 * case of every Binance book level, a string with exactly the scale's decimals into a unit-1 scale,
 * costs a compare. */
static inline int dec_from_parts(int64_t m, unsigned d, const dec_scale *sc, int64_t *out)
{
    if (sc->unit == 1 && d == sc->decimals && d <= DEC_MAX_DECIMALS) {
        *out = m;
        return 0;
    }
    return dec_from_parts_slow(m, d, sc, out);
}

/* Pre-parse s[0..n), one byte at a time, reading exactly n bytes: its fraction digits d
 * (0..DEC_MAX_DECIMALS) with *m the digits as a signed integer, or DEC_PRE_NONE with *m = 0 for
 * anything that is not -?[0-9]+(\.[0-9]+)? with at most DEC_PRE_DIGITS digits and a value that
 * fits int64. Every string it accepts is one that dec_parse() accepts, or rejects for its value
 * (never for its syntax or its length). */
static inline int dec_preparse(const char *s, size_t n, int64_t *m)
{
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg, digits = 0;
    int frac = -1; /* fraction digits so far; -1 before the point */
    uint64_t v = 0;
    *m = 0;
    if (n - i > DEC_PRE_DIGITS + 1)
        return DEC_PRE_NONE;
    for (; i < n; i++) {
        unsigned c = (unsigned)(unsigned char)s[i] - '0';
        if (c <= 9) {
            v = v * 10 + c;
            digits++;
            if (frac >= 0)
                frac++;
        } else if (s[i] == '.' && frac < 0 && digits > 0) {
            frac = 0;
        } else {
            return DEC_PRE_NONE;
        }
    }
    if (digits == 0 || digits > DEC_PRE_DIGITS || frac == 0)
        return DEC_PRE_NONE;
    if (v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return DEC_PRE_NONE;
    *m = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return frac < 0 ? 0 : frac;
}

/* True when all 8 bytes of v are ASCII digits. */
static inline bool dec_eight_digits(uint64_t v)
{
    return ((v & 0xF0F0F0F0F0F0F0F0ull) |
            (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) == 0x3333333333333333ull;
}

/* The value of 8 ASCII digits loaded little-endian (first digit in the low byte): pairs, then
 * quads, then the whole, each step one multiply. */
static inline uint64_t dec_eight_value(uint64_t v)
{
    v -= 0x3030303030303030ull;
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFull;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFull;
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFull;
}

/* ---- digits words: the conversion fused into a decoder's scan ----
 *
 * A digits word holds the digits of a number of at most 8 digits as values 0..9, one per byte in
 * string order from the low byte (the layout of a little-endian load), moved to the top of the
 * word (the last digit in the high byte) behind zero bytes. dec_digits_word() makes it straight
 * from the string, dec_digits_value() / dec_digits_value2() turn it into the number. For
 * little-endian machines; the decoder uses them only where it has SSE2 (x86-64). */

/* Internal: bytes from index k on (k >= 1; [8]: none), and times 256^(8 - d) moves d digits to the
 * top. Tables rather than shifts by a variable count, which x86 wants in one register (cl). */
static inline uint64_t dec_bytes_after_(unsigned k)
{
    static const uint64_t after[9] = { ~0ull,       ~0ull << 8,  ~0ull << 16,
                                       ~0ull << 24, ~0ull << 32, ~0ull << 40,
                                       ~0ull << 48, ~0ull << 56, 0 };
    return after[k];
}

static inline uint64_t dec_to_top_(unsigned d)
{
    static const uint64_t up[9] = { 0,          1ull << 56, 1ull << 48, 1ull << 40, 1ull << 32,
                                    1ull << 24, 1ull << 16, 1ull << 8,  1 };
    return up[d];
}

/* The digits word of the number at s with `digits` digits (1..8) and its point, if any, at s[k]
 * (1 <= k <= digits - 1; k == 8: no point). The point is squeezed out (the bytes after it move
 * down one) and the digits lose their '0' (no borrow leaves a digit byte, and what follows the
 * digits is shifted out). A byte that was not a digit comes out above 9 (dec_digits_ok()). Reads
 * s[0..9), which must be readable however short the number is. */
static inline uint64_t dec_digits_word(const char *s, unsigned digits, unsigned k)
{
    uint64_t lo, lo1;
    memcpy(&lo, s, 8);
    memcpy(&lo1, s + 1, 8);
    lo ^= (lo ^ lo1) & dec_bytes_after_(k);
    return (lo - 0x3030303030303030ull) * dec_to_top_(digits);
}

/* The same for a number of 9..16 digits, in two digits words: *hi the first digits - 8, *lo the
 * last 8; its value is value(*hi) * 10^8 + value(*lo). The point, if any, at s[k] (1 <= k <=
 * digits - 1; k == 16: none). Reads s[0..17). */
static inline void dec_digits_words16(const char *s, unsigned digits, unsigned k, uint64_t *hi,
                                      uint64_t *lo)
{
    uint64_t a, b, a1, b1;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&a1, s + 1, 8);
    memcpy(&b1, s + 9, 8);
    if (k < 8) { /* the point in the first word: all of the second moves down one */
        a ^= (a ^ a1) & dec_bytes_after_(k);
        b = b1;
    } else {
        b ^= (b ^ b1) & dec_bytes_after_(k - 8);
    }
    a -= 0x3030303030303030ull;
    b -= 0x3030303030303030ull;
    unsigned h = digits - 8; /* 1..8 digits in the high word */
    *hi = a * dec_to_top_(h);
    *lo = h == 8 ? b : a >> (8 * h) | b << (64 - 8 * h);
}

/* True when every byte of the word is 0..9 (a carry only ever adds a false alarm above a bad
 * byte). */
static inline bool dec_digits_ok(uint64_t v)
{
    return (((v + 0x7676767676767676ull) | v) & 0x8080808080808080ull) == 0;
}

/* The value of a digits word. */
static inline uint64_t dec_digits_value(uint64_t v)
{
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFull;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFull;
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFull;
}

/* The values of two digits words at once (a decoder converts a level's price and quantity
 * together), with SSE2 on x86-64; false when a byte of either is not 0..9 (then the values
 * mean nothing). */
static inline bool dec_digits_value2(uint64_t a, uint64_t b, uint64_t *va, uint64_t *vb)
{
#if defined(DEC_HAVE_SSE2)
    __m128i x = _mm_set_epi64x((long long)b, (long long)a);
    __m128i bad = _mm_or_si128(_mm_add_epi8(x, _mm_set1_epi8(0x76)), x); /* high bit: above 9 */
    __m128i pairs =
        _mm_add_epi16(_mm_mullo_epi16(_mm_and_si128(x, _mm_set1_epi16(0x00FF)), _mm_set1_epi16(10)),
                      _mm_srli_epi16(x, 8));
    __m128i quads = _mm_madd_epi16(pairs, _mm_set1_epi32(1 << 16 | 100));
    __m128i eights =
        _mm_add_epi64(_mm_mul_epu32(quads, _mm_set1_epi32(10000)), _mm_srli_epi64(quads, 32));
    *va = (uint64_t)_mm_cvtsi128_si64(eights);
    *vb = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(eights, eights));
    return _mm_movemask_epi8(bad) == 0;
#else
    *va = dec_digits_value(a);
    *vb = dec_digits_value(b);
    return dec_digits_ok(a) && dec_digits_ok(b);
#endif
}

#endif
