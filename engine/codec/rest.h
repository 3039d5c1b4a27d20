/*
 * rest: jansson decoding of REST bodies other than depth snapshots (those go through jdec.h):
 * exchangeInfo (symbols, filters, rate limits) and Binance error bodies {"code":..,"msg":..}.
 * Pure functions; any thread.
 */
#ifndef BF_REST_H
#define BF_REST_H

#include <stddef.h>

#include "market/symtab.h"

typedef struct rest_rate_limits {
    int request_weight_per_minute; /* REQUEST_WEIGHT normalised to one minute; 0 when absent */
    int orders_per_minute;         /* 0 when absent */
} rest_rate_limits;

/* Parse an exchangeInfo body into t (every symbol with valid PRICE_FILTER and LOT_SIZE; others are
 * skipped and counted in *skipped) and lim (may be NULL). 0 or BF_E* with a sentence in why. */
int rest_parse_exchange_info(const char *body, size_t len, symtab *t, rest_rate_limits *lim,
                             size_t *skipped, char *why, size_t why_cap);

/* Parse {"code":-1003,"msg":"..."}; msg is copied (truncated) into msg_buf. 0 or BF_E*. */
int rest_parse_error(const char *body, size_t len, int *code, char *msg_buf, size_t msg_cap);

#endif
