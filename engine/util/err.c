/* err: human-readable text for the engine's error codes. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *bf_strerror(int code)
{
    switch (code) {
    case BF_OK:
        return "success";
    case BF_EAGAIN:
        return "resource temporarily unavailable (queue full or empty)";
    case BF_ETIMEDOUT:
        return "deadline passed before the work finished";
    case BF_EINVAL:
        return "invalid argument";
    case BF_ESYNTAX:
        return "malformed input";
    case BF_ETRUNC:
        return "input truncated";
    case BF_ETYPE:
        return "field has the wrong type";
    case BF_EMISSING:
        return "required field missing";
    case BF_ERANGE:
        return "number out of range";
    case BF_EPRECISION:
        return "more decimals than the symbol's precision";
    case BF_EOFFTICK:
        return "value is not a multiple of the tick/step size";
    case BF_EOVERLONG:
        return "token too long";
    case BF_ETOOBIG:
        return "too large for the configured bound";
    case BF_EUNSUPPORTED:
        return "unsupported message type";
    case BF_EIO:
        return "input/output error";
    case BF_ENOENT:
        return "no such file or item";
    case BF_ESTATE:
        return "operation not valid in the current state";
    case BF_EGAP:
        return "update id chain broken";
    case BF_ECORRUPT:
        return "data corrupt";
    case BF_EDEPTH:
        return "nesting too deep";
    case BF_EDUP:
        return "duplicate key";
    case BF_ECLOSED:
        return "closed";
    case BF_ENET:
        return "network error";
    case BF_EHTTP:
        return "HTTP error status";
    case BF_EBANNED:
        return "rate limited by the server";
    }
    return "unknown error";
}

int bf_why(char *why, size_t cap, int rc, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}
