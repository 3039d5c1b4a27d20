/*
 * symtab: the per-symbol facts from exchangeInfo, by name (see symtab.h for the contract).
 *
 * Owns one heap copy of every sym_info it was given, an insertion-ordered array of pointers to
 * them, and an open-addressing (linear probing) hash of indices into that array. Each entry is
 * allocated on its own, so a pointer returned by find/at stays valid until symtab_destroy, even
 * while the table grows; symtab_put on an existing name overwrites that entry in place. Threads:
 * one writer while filling; afterwards any number of concurrent readers (find/count/at never
 * write).
 */
#include "market/symtab.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define SLOT_EMPTY    UINT32_MAX
#define INITIAL_SLOTS 64u

struct symtab {
    sym_info **items; /* insertion order */
    size_t count, cap;
    uint32_t *slots; /* index into items, or SLOT_EMPTY; power-of-two size, at most half full */
    size_t n_slots;
};

/* FNV-1a: names are short ASCII, so a simple byte hash spreads them well enough. */
static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t name_len(const sym_info *info)
{
    return strnlen(info->name, SYM_NAME_MAX);
}

static bool name_equals(const sym_info *info, const char *name, size_t n)
{
    return name_len(info) == n && memcmp(info->name, name, n) == 0;
}

/* The slot holding `name`, or the empty slot where it would go. */
static size_t probe(const symtab *t, const char *name, size_t n)
{
    size_t mask = t->n_slots - 1;
    size_t i = (size_t)name_hash(name, n) & mask;
    while (t->slots[i] != SLOT_EMPTY && !name_equals(t->items[t->slots[i]], name, n))
        i = (i + 1) & mask;
    return i;
}

static void rehash(symtab *t, size_t n_slots)
{
    free(t->slots);
    t->slots = xreallocarray(NULL, n_slots, sizeof *t->slots);
    memset(t->slots, 0xff, n_slots * sizeof *t->slots); /* every slot SLOT_EMPTY */
    t->n_slots = n_slots;
    for (size_t k = 0; k < t->count; k++) {
        const sym_info *info = t->items[k];
        t->slots[probe(t, info->name, name_len(info))] = (uint32_t)k;
    }
}

symtab *symtab_create(void)
{
    symtab *t = xcalloc(1, sizeof *t);
    rehash(t, INITIAL_SLOTS);
    return t;
}

void symtab_destroy(symtab *t)
{
    if (!t)
        return;
    for (size_t k = 0; k < t->count; k++)
        free(t->items[k]);
    free(t->items);
    free(t->slots);
    free(t);
}

static void append(symtab *t, size_t slot, const sym_info *info)
{
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->items = xreallocarray(t->items, t->cap, sizeof *t->items);
    }
    sym_info *copy = xmalloc(sizeof *copy);
    *copy = *info;
    t->slots[slot] = (uint32_t)t->count;
    t->items[t->count++] = copy;
}

void symtab_put(symtab *t, const sym_info *info)
{
    size_t n = name_len(info);
    size_t slot = probe(t, info->name, n);
    if (t->slots[slot] != SLOT_EMPTY) {
        *t->items[t->slots[slot]] = *info; /* replace in place: pointers handed out stay valid */
        return;
    }
    append(t, slot, info);
    /* Keep the load at most 1/2 so probe chains stay short. */
    if (t->count * 2 > t->n_slots)
        rehash(t, t->n_slots * 2);
}

const sym_info *symtab_find(const symtab *t, const char *name, size_t n)
{
    if (n > SYM_NAME_MAX)
        return NULL;
    uint32_t k = t->slots[probe(t, name, n)];
    return k == SLOT_EMPTY ? NULL : t->items[k];
}

size_t symtab_count(const symtab *t)
{
    return t->count;
}

const sym_info *symtab_at(const symtab *t, size_t i)
{
    return i < t->count ? t->items[i] : NULL;
}
