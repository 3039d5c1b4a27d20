/*
 * dec: exact decimal strings <-> int64 counts of a tick/step (see dec.h for the contract).
 *
 * Owns nothing: pure functions on caller buffers, callable from any thread.
 *
 * Representable values: a string is accepted only when its value counted in 10^-decimals units (the
 * "raw" count, before dividing by unit) fits int64: raw <= INT64_MAX, or <= 2^63 for negatives. The
 * same bound applies to dec_format (|v| * unit must fit), so every value dec_format accepts parses
 * back to itself, and every string dec_parse accepts formats back to its canonical spelling.
 *
 * When a string breaks several rules the first of these is reported: BF_EOVERLONG, BF_ESYNTAX,
 * BF_EPRECISION, BF_ERANGE, BF_EOFFTICK. Scales with decimals > DEC_MAX_DECIMALS or unit < 1 are
 * BF_EINVAL.
 */
#include "util/dec.h"

#include <stdbool.h>
#include <string.h>

#include "util/err.h"

/* 10^0 .. 10^19: every power that fits uint64. */
static const uint64_t pow10_u64[20] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

/* A number with at most this many digits is below 10^19 and so cannot overflow uint64. */
#define SAFE_DIGITS 19
#define MAG_MAX_POS ((uint64_t)INT64_MAX)
#define MAG_MAX_NEG ((uint64_t)INT64_MAX + 1u)

/* What one pass over the string found; the digits themselves stay in the string. */
typedef struct dec_scan {
    const char *int_digits;  /* first digit of the integer part */
    size_t n_int;            /* integer digits (>= 1) */
    const char *frac_digits; /* first fraction digit (valid when n_kept > 0) */
    size_t n_kept;           /* fraction digits that count (<= decimals) */
    bool neg;
    bool excess_nonzero; /* a nonzero digit beyond `decimals` */
    uint64_t raw;        /* accumulated digits; exact only while the digit count <= SAFE_DIGITS */
} dec_scan;

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') <= 9;
}

/* Fraction digits past `decimals` may only be zeros; anything else that is a digit is a precision
 * loss, anything that is not a digit is a syntax error. */
static int scan_excess(const char *p, const char *end, dec_scan *sc)
{
    for (; p < end; p++) {
        if (!is_digit(*p))
            return BF_ESYNTAX;
        if (*p != '0')
            sc->excess_nonzero = true;
    }
    return 0;
}

/* The single pass: validates -?[0-9]+(\.[0-9]+)? and accumulates the integer digits plus the first
 * `decimals` fraction digits. Reads exactly n bytes: the string need not be NUL-terminated. */
static int scan(const char *s, size_t n, unsigned decimals, dec_scan *sc)
{
    const char *p = s, *end = s + n;
    uint64_t raw = 0;
    sc->neg = p < end && *p == '-';
    p += sc->neg;
    sc->int_digits = p;
    for (; p < end && is_digit(*p); p++)
        raw = raw * 10 + (uint64_t)(*p - '0');
    sc->n_int = (size_t)(p - sc->int_digits);
    sc->frac_digits = end;
    sc->n_kept = 0;
    sc->excess_nonzero = false;
    if (sc->n_int == 0)
        return BF_ESYNTAX;
    if (p < end) {
        if (*p != '.' || end - p < 2)
            return BF_ESYNTAX;
        sc->frac_digits = ++p;
        size_t room = (size_t)(end - p);
        const char *keep_end = p + (room < decimals ? room : decimals);
        for (; p < keep_end && is_digit(*p); p++)
            raw = raw * 10 + (uint64_t)(*p - '0');
        if (p < keep_end)
            return BF_ESYNTAX;
        sc->n_kept = (size_t)(p - sc->frac_digits);
        int rc = scan_excess(p, end, sc);
        if (rc < 0)
            return rc;
    }
    sc->raw = raw;
    return 0;
}

/* Slow path for long digit strings (leading zeros, or values near the int64 limit): skip the
 * leading zeros of the integer part so that the uint64 accumulation provably cannot wrap. The
 * fraction needs no such care: it contributes exactly `decimals` <= 18 digits with its padding. */
static int raw_checked(const dec_scan *sc, unsigned pad, uint64_t *raw)
{
    const char *d = sc->int_digits;
    size_t n_int = sc->n_int;
    while (n_int > 0 && *d == '0') {
        d++;
        n_int--;
    }
    if (n_int + sc->n_kept + pad > SAFE_DIGITS)
        return BF_ERANGE; /* at least 10^19 > 2^63 */
    uint64_t v = 0;
    for (size_t i = 0; i < n_int; i++)
        v = v * 10 + (uint64_t)(d[i] - '0');
    for (size_t i = 0; i < sc->n_kept; i++)
        v = v * 10 + (uint64_t)(sc->frac_digits[i] - '0');
    *raw = v * pow10_u64[pad];
    return 0;
}

/* The value in 10^-decimals units, range-checked against the sign's limit. */
static int raw_value(const dec_scan *sc, unsigned decimals, uint64_t *raw)
{
    unsigned pad = decimals - (unsigned)sc->n_kept;
    uint64_t v;
    if (sc->n_int + sc->n_kept + pad <= SAFE_DIGITS) {
        v = sc->raw * pow10_u64[pad];
    } else {
        int rc = raw_checked(sc, pad, &v);
        if (rc < 0)
            return rc;
    }
    if (v > (sc->neg ? MAG_MAX_NEG : MAG_MAX_POS))
        return BF_ERANGE;
    *raw = v;
    return 0;
}

/* Exact division by the unit. The usual ticks are small powers of ten, where a constant divisor
 * lets the compiler use a multiply instead of a hardware divide. */
static int div_unit(uint64_t raw, int64_t unit, uint64_t *q)
{
    uint64_t u = (uint64_t)unit;
    uint64_t quo;
    switch (u) {
    case 1:
        *q = raw;
        return 0;
    case 10:
        quo = raw / 10;
        break;
    case 100:
        quo = raw / 100;
        break;
    case 1000:
        quo = raw / 1000;
        break;
    case 10000:
        quo = raw / 10000;
        break;
    default:
        quo = raw / u;
        break;
    }
    if (quo * u != raw)
        return BF_EOFFTICK;
    *q = quo;
    return 0;
}

static bool scale_ok(const dec_scale *sc)
{
    return sc->unit >= 1 && sc->decimals <= DEC_MAX_DECIMALS;
}

static int64_t apply_sign(uint64_t mag, bool neg)
{
    if (!neg)
        return (int64_t)mag;
    if (mag == MAG_MAX_NEG)
        return INT64_MIN;
    return -(int64_t)mag;
}

int dec_parse(const char *s, size_t n, const dec_scale *sc, int64_t *out)
{
    if (n > DEC_MAX_CHARS)
        return BF_EOVERLONG;
    if (!scale_ok(sc))
        return BF_EINVAL;
    dec_scan st;
    int rc = scan(s, n, sc->decimals, &st);
    if (rc < 0)
        return rc;
    if (st.excess_nonzero)
        return BF_EPRECISION;
    uint64_t raw, q;
    rc = raw_value(&st, sc->decimals, &raw);
    if (rc < 0)
        return rc;
    rc = div_unit(raw, sc->unit, &q);
    if (rc < 0)
        return rc;
    *out = apply_sign(q, st.neg);
    return 0;
}

/* The parts stand for the string's digits with the point d places from the right; dec_parse() keeps
 * the first `decimals` fraction digits and requires the rest to be zeros, then pads to `decimals`.
 * Dividing by 10^(d - decimals) with no remainder, or multiplying by 10^(decimals - d), is the
 * same operation on the integer, so every outcome matches, in dec_parse()'s order of precedence. */
int dec_from_parts_slow(int64_t m, unsigned d, const dec_scale *sc, int64_t *out)
{
    if (!scale_ok(sc) || d > DEC_MAX_DECIMALS)
        return BF_EINVAL;
    bool neg = m < 0;
    uint64_t mag = neg ? 0u - (uint64_t)m : (uint64_t)m;
    if (d > sc->decimals) {
        uint64_t p = pow10_u64[d - sc->decimals];
        if (mag % p != 0)
            return BF_EPRECISION;
        mag /= p;
    } else if (d < sc->decimals && __builtin_mul_overflow(mag, pow10_u64[sc->decimals - d], &mag)) {
        return BF_ERANGE;
    }
    if (mag > (neg ? MAG_MAX_NEG : MAG_MAX_POS))
        return BF_ERANGE;
    uint64_t q;
    int rc = div_unit(mag, sc->unit, &q);
    if (rc < 0)
        return rc;
    *out = apply_sign(q, neg);
    return 0;
}

int dec_decimals(const char *s, size_t n)
{
    if (n > DEC_MAX_CHARS)
        return BF_EOVERLONG;
    /* Keep no fraction digits: the scan then only validates and flags nothing we need. */
    dec_scan st;
    int rc = scan(s, n, 0, &st);
    if (rc < 0)
        return rc;
    size_t used = (size_t)st.neg + st.n_int;
    int decimals = used == n ? 0 : (int)(n - used - 1);
    /* More digits than any scale can carry: dec_scale_plain() could not represent it. */
    if (decimals > DEC_MAX_DECIMALS)
        return BF_EPRECISION;
    return decimals;
}

int dec_scale_make(const char *tick, size_t n, unsigned decimals, dec_scale *out)
{
    if (decimals > DEC_MAX_DECIMALS)
        return BF_EINVAL;
    dec_scale plain = dec_scale_plain(decimals);
    int64_t unit;
    int rc = dec_parse(tick, n, &plain, &unit);
    if (rc < 0)
        return rc; /* BF_EPRECISION when `decimals` does not cover the tick */
    if (unit <= 0)
        return BF_EINVAL;
    out->unit = unit;
    out->decimals = (uint8_t)decimals;
    return 0;
}

int dec_scale_from_tick(const char *tick, size_t n, dec_scale *out)
{
    int decimals = dec_decimals(tick, n);
    if (decimals < 0)
        return decimals;
    return dec_scale_make(tick, n, (unsigned)decimals, out);
}

dec_scale dec_scale_plain(unsigned decimals)
{
    /* No error channel here: clamp, so that a too-fine string later fails with BF_EPRECISION
     * instead of being misread. */
    if (decimals > DEC_MAX_DECIMALS)
        decimals = DEC_MAX_DECIMALS;
    return (dec_scale){ .unit = 1, .decimals = (uint8_t)decimals };
}

/* |v| * unit as a magnitude, or BF_ERANGE past the bound dec_parse accepts (see the top comment).
 */
static int format_magnitude(int64_t v, int64_t unit, uint64_t *mag)
{
    bool neg = v < 0;
    uint64_t m = neg ? 0u - (uint64_t)v : (uint64_t)v;
    uint64_t limit = neg ? MAG_MAX_NEG : MAG_MAX_POS;
    if (unit != 1) {
        if (m > limit / (uint64_t)unit)
            return BF_ERANGE;
        m *= (uint64_t)unit;
    }
    if (m > limit)
        return BF_ERANGE;
    *mag = m;
    return 0;
}

int dec_format(int64_t v, const dec_scale *sc, char *buf, size_t cap)
{
    if (!scale_ok(sc))
        return BF_EINVAL;
    uint64_t mag;
    int rc = format_magnitude(v, sc->unit, &mag);
    if (rc < 0)
        return rc;
    /* Digits right to left, at least decimals + 1 of them so there is always a leading "0". */
    char tmp[DEC_FMT_MAX];
    char *p = tmp + sizeof tmp;
    unsigned decimals = sc->decimals;
    for (unsigned i = 0; mag != 0 || i <= decimals; i++) {
        if (i == decimals && decimals > 0)
            *--p = '.';
        *--p = (char)('0' + mag % 10);
        mag /= 10;
    }
    if (v < 0)
        *--p = '-';
    size_t len = (size_t)(tmp + sizeof tmp - p);
    if (len + 1 > cap)
        return BF_ETOOBIG;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return (int)len;
}
