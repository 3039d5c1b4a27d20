/*
 * opts: small option-value parsers shared by the subcommands (symbol lists, depth speed, worker
 * count, byte sizes, comma lists). Pure functions: they only fill what they are given and return
 * false for a value the caller should report as a usage error. Any thread.
 */
#ifndef BF_TUI_OPTS_H
#define BF_TUI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* "btcusdt, ETHUSDT" -> uppercase names in names[] (pointers in ptrs[]), *n of them (at most
 * ENGINE_MAX_SYMBOLS); false for an empty item or one that is not [A-Za-z0-9_]. */
bool opts_parse_symbols(const char *list, char (*names)[SYM_NAME_MAX], const char **ptrs,
                        size_t *n);
/* "0ms" / "100ms" / "250ms" / "500ms" -> the engine's depth suffix ("@0ms", "@100ms", "", ...). */
bool opts_parse_speed(const char *s, const char **suffix);
/* 1..64 worker threads. */
bool opts_parse_workers(const char *s, unsigned *out);
/* A byte size: digits with an optional K, M, G or T (powers of 1024; "KB"/"KiB" forms too). */
bool opts_parse_size(const char *s, uint64_t *out);
/* An integer in [lo, hi]. */
bool opts_parse_int(const char *s, long lo, long hi, long *out);
/* Split a comma list into at most cap trimmed, non-empty items of fewer than item_cap bytes. */
bool opts_parse_list(const char *list, char *items, size_t item_cap, size_t cap, size_t *n);

#endif
