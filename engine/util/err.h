/*
 * err: the one error vocabulary of the engine.
 *
 * Every fallible engine function returns 0 on success or a negative BF_E* code; bf_strerror() turns
 * a code into a sentence a user can read. Allocation failure is not an error code: it aborts
 * through xmalloc (see xalloc.h). Pure data, callable from any thread.
 */
#ifndef BF_ERR_H
#define BF_ERR_H

#include <stddef.h>

enum bf_err {
    BF_OK = 0,
    BF_EAGAIN = -1,        /* queue full or empty: try again later */
    BF_ETIMEDOUT = -2,     /* a deadline passed before the work finished */
    BF_EINVAL = -3,        /* an argument is out of its documented range */
    BF_ESYNTAX = -4,       /* malformed input: not valid JSON / not a number */
    BF_ETRUNC = -5,        /* input ends in the middle of a value */
    BF_ETYPE = -6,         /* a known field has the wrong JSON type */
    BF_EMISSING = -7,      /* a required field is absent */
    BF_ERANGE = -8,        /* a number does not fit (int64 overflow, negative where unsigned) */
    BF_EPRECISION = -9,    /* more decimals than the scale can represent */
    BF_EOFFTICK = -10,     /* price/quantity is not a multiple of tickSize/stepSize */
    BF_EOVERLONG = -11,    /* a token is longer than any legitimate value */
    BF_ETOOBIG = -12,      /* more levels/events/bytes than the configured bound */
    BF_EUNSUPPORTED = -13, /* valid JSON, but not a message type this decoder knows */
    BF_EIO = -14,          /* read/write failed; see errno for details */
    BF_ENOENT = -15,       /* file or item does not exist */
    BF_ESTATE = -16,       /* call not valid in the object's current state */
    BF_EGAP = -17,         /* update-id chain broken (pu != previous u) */
    BF_ECORRUPT = -18,     /* compressed or framed data is damaged */
    BF_EDEPTH = -19,       /* nesting deeper than the parser allows */
    BF_EDUP = -20,         /* a key appears twice in one JSON object */
    BF_ECLOSED = -21,      /* the object was shut down */
    BF_ENET = -22,         /* connect / TLS / transfer failed (the reason says which) */
    BF_EHTTP = -23,        /* the server answered with an HTTP error status */
    BF_EBANNED = -24,      /* rate limited or banned (429 / 418): held until Retry-After */
};

/* A short human-readable sentence for a BF_E* code (never NULL). */
const char *bf_strerror(int code);

/* Write a reason into why (when why is not NULL and cap > 0) and return rc: the one-line way for a
 * function to fail with a sentence, `return bf_why(why, cap, BF_EINVAL, "bad tick '%s'", t);`. */
int bf_why(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
