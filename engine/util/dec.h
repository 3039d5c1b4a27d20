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
 */
#ifndef BF_DEC_H
#define BF_DEC_H

#include <stddef.h>
#include <stdint.h>

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

#endif
