/*
 * symtab: what the engine knows about each symbol from exchangeInfo: filters and precision.
 *
 * Prices are counted in tickSize and quantities in stepSize (dec.h scales built from PRICE_FILTER
 * and LOT_SIZE). pricePrecision is NOT the tick (29/122 symbols differ in the 2021 capture); it is
 * kept only for information. A symtab is filled once (REST thread or replay start) and then only
 * read; concurrent readers are safe once filling is done.
 */
#ifndef BF_SYMTAB_H
#define BF_SYMTAB_H

#include <stddef.h>

#include "util/dec.h"

#define SYM_NAME_MAX 32

typedef struct sym_info {
    char name[SYM_NAME_MAX];           /* "BTCUSDT" */
    char pair[SYM_NAME_MAX];           /* "BTCUSDT" */
    char status[24];                   /* "TRADING", "PENDING_TRADING", ... */
    char contract_type[24];            /* "PERPETUAL", "CURRENT_QUARTER", "" ... */
    char tick_size[DEC_MAX_CHARS + 1]; /* as written: "0.10" */
    char step_size[DEC_MAX_CHARS + 1]; /* as written: "0.001" */
    dec_scale px;                      /* from tickSize */
    dec_scale qty;                     /* from stepSize */
    int price_precision, quantity_precision;
} sym_info;

typedef struct symtab symtab;

symtab *symtab_create(void);
void symtab_destroy(symtab *t);
/* Insert or replace by name. */
void symtab_put(symtab *t, const sym_info *info);
/* Lookup by exact (case-sensitive) name; NULL if unknown. */
const sym_info *symtab_find(const symtab *t, const char *name, size_t n);
size_t symtab_count(const symtab *t);
const sym_info *symtab_at(const symtab *t, size_t i);

#endif
