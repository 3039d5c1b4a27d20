/*
 * corpus: the fixed-seed inputs of bfbench, generated in memory at start-up so that no generation
 * cost ever lands inside a timed batch.
 *
 * Messages are Binance USDⓈ-M shaped, byte for byte the way the exchange formats them: bookTicker
 * and depthUpdate inside the combined-stream wrapper, and a raw REST depth snapshot (limit=1000).
 * Prices are BTCUSDT-like (tick 0.10 written with 2 decimals, around a mid that drifts from message
 * to message), quantities have 3 decimals. The same seed always yields the same bytes. Also here:
 * every price/quantity string of the corpus (for the decimal benchmark) and the 2 M random book
 * updates. Single-threaded; corpus_destroy() frees everything the getters returned.
 */
#ifndef BF_BENCH_CORPUS_H
#define BF_BENCH_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum corpus_kind {
    CORPUS_BT,   /* bookTicker, ~182 B */
    CORPUS_D20,  /* depthUpdate, 20 + 20 levels, ~1 KB */
    CORPUS_D100, /* 100 + 100 levels, ~4.7 KB */
    CORPUS_D200, /* 200 + 200 levels, ~9.2 KB */
    CORPUS_SNAP, /* REST snapshot, 1000 + 1000 levels, ~45 KB */
    CORPUS_MIX,  /* d20 and d100 alternating, one drifting book: the end-to-end replay */
    CORPUS_KIND_COUNT
} corpus_kind;

typedef struct corpus_msg {
    const char *p;
    size_t n;
} corpus_msg;

/* One decimal string of the corpus, NUL-terminated (strtod needs it). */
typedef struct corpus_num {
    const char *p;
    uint32_t n;
    bool qty; /* 3 decimals; a price (2 decimals) otherwise */
} corpus_num;

/* One L2 update: qty == 0 deletes the level. */
typedef struct corpus_update {
    int64_t px;   /* ticks */
    int64_t qty;  /* lots */
    uint8_t side; /* 0 bid, 1 ask (book_side) */
} corpus_update;

typedef struct corpus corpus;

corpus *corpus_create(uint64_t seed);
void corpus_destroy(corpus *c);

const corpus_msg *corpus_msgs(const corpus *c, corpus_kind k, size_t *count);
/* Mean message size in bytes. */
double corpus_mean_bytes(const corpus *c, corpus_kind k);
/* The snapshot the CORPUS_MIX replay starts from (its levels sit around the mix's first mid). */
corpus_msg corpus_mix_snapshot(const corpus *c);
const corpus_num *corpus_numbers(const corpus *c, size_t *count);
const char *corpus_kind_name(corpus_kind k);

/* The book replay: `seed_levels` levels per side to start from (in *seed, bids then asks), then n
 * updates with the distance from the mid ~ Exp(mean 40 ticks), 30 % deletes and a drifting mid. The
 * caller frees both arrays with free(). */
void corpus_book_updates(uint64_t seed, size_t seed_levels, size_t n, corpus_update **seed_out,
                         corpus_update **updates_out);

/* splitmix64: the generator behind everything above, exposed for the other pre-generated inputs. */
uint64_t corpus_rand(uint64_t *state);

#endif
