/*
 * corpus: deterministic Binance-shaped messages and book updates (see corpus.h).
 *
 * One generator state (splitmix64 + a drifting mid + update ids + a clock) writes every message, so
 * consecutive messages of a kind describe one plausible book. The formatting copies the exchange's
 * exactly (key order, string-quoted decimals, no spaces) because decoder speed depends on it.
 */
#include "corpus.h"

#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Messages per kind: enough distinct bytes that branch predictors cannot learn one message, few
 * enough that generation takes milliseconds. */
static const size_t kind_count[CORPUS_KIND_COUNT] = { 1024, 256, 64, 32, 4, 256 };
static const unsigned kind_levels[CORPUS_KIND_COUNT] = { 0, 20, 100, 200, 1000, 0 };

#define START_MID    1018000 /* 101800.0 in 0.10 ticks */
#define MEAN_DIST    40.0    /* ticks from the touch, Exp-distributed */
#define FAR_SHARE    0.03    /* levels far from the touch (up to ~5 %), as Binance sends them */
#define DELETE_SHARE 0.30

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

typedef struct num_ref {
    size_t off;
    uint32_t n;
    bool qty;
} num_ref;

typedef struct gen {
    uint64_t rng;
    int64_t mid; /* best bid in 0.10 ticks; the best ask is mid + 1 */
    int64_t last_u;
    int64_t time_ms;
    sbuf nums; /* every decimal string written, NUL-separated */
    num_ref *refs;
    size_t nrefs, refs_cap;
} gen;

typedef struct kind_set {
    corpus_msg *msgs;
    size_t count;
    size_t bytes;
} kind_set;

struct corpus {
    kind_set kinds[CORPUS_KIND_COUNT];
    corpus_msg mix_snapshot;
    char *nums_pool;
    corpus_num *nums;
    size_t nnums;
};

uint64_t corpus_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double rand_unit(uint64_t *state)
{
    return (double)((corpus_rand(state) >> 11) + 1) * 0x1.0p-53;
}

static int64_t rand_exp(uint64_t *state, double mean)
{
    return (int64_t)(-mean * log(rand_unit(state)));
}

static int64_t rand_range(uint64_t *state, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(corpus_rand(state) % (uint64_t)(hi - lo + 1));
}

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->n + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Non-negative integer v, padded with zeros to at least `width` digits. */
static void sb_uint(sbuf *b, uint64_t v, unsigned width)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v || sizeof tmp - i < width);
    sb_put(b, tmp + i, sizeof tmp - i);
}

static void sb_fixed(sbuf *b, int64_t v, unsigned decimals)
{
    int64_t pow10 = 1;
    for (unsigned i = 0; i < decimals; i++)
        pow10 *= 10;
    sb_uint(b, (uint64_t)(v / pow10), 1);
    sb_put(b, ".", 1);
    sb_uint(b, (uint64_t)(v % pow10), decimals);
}

/* Remember the decimal string just written at b[start..b->n) for the decimal benchmark. */
static void note_number(gen *g, const sbuf *b, size_t start, bool qty)
{
    if (g->nrefs == g->refs_cap) {
        g->refs_cap = g->refs_cap ? g->refs_cap * 2 : 4096;
        g->refs = xreallocarray(g->refs, g->refs_cap, sizeof *g->refs);
    }
    size_t n = b->n - start;
    g->refs[g->nrefs++] = (num_ref){ .off = g->nums.n, .n = (uint32_t)n, .qty = qty };
    sb_put(&g->nums, b->p + start, n);
    sb_put(&g->nums, "", 1);
}

/* A quoted decimal: prices are 0.10 ticks written with 2 decimals, quantities lots of 0.001. */
static void put_price(gen *g, sbuf *b, int64_t ticks)
{
    sb_put(b, "\"", 1);
    size_t start = b->n;
    sb_fixed(b, ticks * 10, 2);
    note_number(g, b, start, false);
    sb_put(b, "\"", 1);
}

static void put_qty(gen *g, sbuf *b, int64_t lots)
{
    sb_put(b, "\"", 1);
    size_t start = b->n;
    sb_fixed(b, lots, 3);
    note_number(g, b, start, true);
    sb_put(b, "\"", 1);
}

/* Resting size: mostly a fraction of a coin, sometimes a wall. */
static int64_t rand_lots(uint64_t *rng)
{
    int64_t lots = 1 + rand_exp(rng, 250.0);
    if (rand_unit(rng) < 0.05)
        lots *= 40;
    return lots;
}

static void drift_mid(gen *g, int64_t max_step)
{
    g->mid += rand_range(&g->rng, -max_step, max_step);
    g->time_ms += rand_range(&g->rng, 1, 120);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* n distinct distances from the touch, ascending: mostly near, a few far away. */
static void diff_distances(gen *g, int64_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rand_unit(&g->rng) < FAR_SHARE)
            d[i] = rand_range(&g->rng, 1000, 30000);
        else
            d[i] = rand_exp(&g->rng, MEAN_DIST);
    }
    qsort(d, n, sizeof *d, cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (d[i] <= d[i - 1])
            d[i] = d[i - 1] + 1;
}

/* A snapshot is dense near the touch: consecutive levels 1 + Exp(0.5) ticks apart. */
static void snapshot_distances(gen *g, int64_t *d, size_t n)
{
    int64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = at;
        at += 1 + rand_exp(&g->rng, 0.5);
    }
}

static void put_level(gen *g, sbuf *b, int64_t px, int64_t lots, bool first)
{
    sb_str(b, first ? "[" : ",[");
    put_price(g, b, px);
    sb_put(b, ",", 1);
    put_qty(g, b, lots);
    sb_put(b, "]", 1);
}

/* Binance lists diff levels by ascending price on both sides. */
static void put_diff_side(gen *g, sbuf *b, const int64_t *d, size_t n, bool bids)
{
    sb_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        int64_t dist = bids ? d[n - 1 - i] : d[i];
        int64_t px = bids ? g->mid - dist : g->mid + 1 + dist;
        int64_t lots = rand_unit(&g->rng) < DELETE_SHARE ? 0 : rand_lots(&g->rng);
        put_level(g, b, px, lots, i == 0);
    }
    sb_put(b, "]", 1);
}

static void put_ids(sbuf *b, const char *key, int64_t v)
{
    sb_str(b, key);
    sb_uint(b, (uint64_t)v, 1);
}

static void gen_depth(gen *g, sbuf *b, size_t levels)
{
    int64_t *d = xmalloc(levels * sizeof *d);
    drift_mid(g, 3);
    int64_t first = g->last_u + 1, last = first + rand_range(&g->rng, levels, 40 * levels);
    sb_str(b, "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\"");
    put_ids(b, ",\"E\":", g->time_ms + 1);
    put_ids(b, ",\"T\":", g->time_ms);
    sb_str(b, ",\"s\":\"BTCUSDT\"");
    put_ids(b, ",\"U\":", first);
    put_ids(b, ",\"u\":", last);
    put_ids(b, ",\"pu\":", g->last_u);
    sb_str(b, ",\"b\":");
    diff_distances(g, d, levels);
    put_diff_side(g, b, d, levels, true);
    sb_str(b, ",\"a\":");
    diff_distances(g, d, levels);
    put_diff_side(g, b, d, levels, false);
    sb_str(b, "}}");
    g->last_u = last;
    free(d);
}

/* Snapshot sides are best first: bids by descending price, asks by ascending price. */
static void put_snapshot_side(gen *g, sbuf *b, size_t n, bool bids)
{
    int64_t *d = xmalloc(n * sizeof *d);
    snapshot_distances(g, d, n);
    sb_put(b, "[", 1);
    for (size_t i = 0; i < n; i++)
        put_level(g, b, bids ? g->mid - d[i] : g->mid + 1 + d[i], rand_lots(&g->rng), i == 0);
    sb_put(b, "]", 1);
    free(d);
}

static void gen_snapshot(gen *g, sbuf *b, size_t levels)
{
    put_ids(b, "{\"lastUpdateId\":", g->last_u);
    put_ids(b, ",\"E\":", g->time_ms + 1);
    put_ids(b, ",\"T\":", g->time_ms);
    sb_str(b, ",\"bids\":");
    put_snapshot_side(g, b, levels, true);
    sb_str(b, ",\"asks\":");
    put_snapshot_side(g, b, levels, false);
    sb_str(b, "}");
}

static void gen_book_ticker(gen *g, sbuf *b)
{
    drift_mid(g, 1);
    g->last_u += rand_range(&g->rng, 1, 2000);
    sb_str(b, "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\"");
    put_ids(b, ",\"u\":", g->last_u);
    sb_str(b, ",\"s\":\"BTCUSDT\",\"b\":");
    put_price(g, b, g->mid);
    sb_str(b, ",\"B\":");
    put_qty(g, b, rand_lots(&g->rng));
    sb_str(b, ",\"a\":");
    put_price(g, b, g->mid + 1);
    sb_str(b, ",\"A\":");
    put_qty(g, b, rand_lots(&g->rng));
    put_ids(b, ",\"T\":", g->time_ms);
    put_ids(b, ",\"E\":", g->time_ms);
    sb_str(b, "}}");
}

static void gen_message(gen *g, sbuf *b, corpus_kind k, size_t i)
{
    switch (k) {
    case CORPUS_BT:
        gen_book_ticker(g, b);
        break;
    case CORPUS_SNAP:
        gen_snapshot(g, b, kind_levels[k]);
        break;
    case CORPUS_MIX:
        gen_depth(g, b, i % 2 ? 100 : 20);
        break;
    default:
        gen_depth(g, b, kind_levels[k]);
        break;
    }
}

static corpus_msg copy_msg(const sbuf *b)
{
    char *p = xmalloc(b->n + 1);
    memcpy(p, b->p, b->n);
    p[b->n] = '\0';
    return (corpus_msg){ .p = p, .n = b->n };
}

static void gen_kind(gen *g, sbuf *b, kind_set *set, corpus_kind k)
{
    set->count = kind_count[k];
    set->msgs = xcalloc(set->count, sizeof *set->msgs);
    for (size_t i = 0; i < set->count; i++) {
        b->n = 0;
        gen_message(g, b, k, i);
        set->msgs[i] = copy_msg(b);
        set->bytes += b->n;
    }
}

/* The number strings move into the corpus once generation is over (the pool stops moving). */
static void adopt_numbers(corpus *c, gen *g)
{
    c->nums_pool = g->nums.p;
    c->nnums = g->nrefs;
    c->nums = xcalloc(g->nrefs, sizeof *c->nums);
    for (size_t i = 0; i < g->nrefs; i++)
        c->nums[i] = (corpus_num){ .p = c->nums_pool + g->refs[i].off,
                                   .n = g->refs[i].n,
                                   .qty = g->refs[i].qty };
    free(g->refs);
}

corpus *corpus_create(uint64_t seed)
{
    corpus *c = xcalloc(1, sizeof *c);
    gen g = { .rng = seed, .mid = START_MID, .last_u = 5123107831937, .time_ms = 1723161256298 };
    sbuf b = { 0 };
    for (int k = 0; k < CORPUS_KIND_COUNT; k++) {
        if (k == CORPUS_MIX) {
            b.n = 0;
            gen_snapshot(&g, &b, kind_levels[CORPUS_SNAP]);
            c->mix_snapshot = copy_msg(&b);
        }
        gen_kind(&g, &b, &c->kinds[k], (corpus_kind)k);
    }
    free(b.p);
    adopt_numbers(c, &g);
    return c;
}

void corpus_destroy(corpus *c)
{
    if (!c)
        return;
    for (int k = 0; k < CORPUS_KIND_COUNT; k++) {
        for (size_t i = 0; i < c->kinds[k].count; i++)
            free((char *)c->kinds[k].msgs[i].p);
        free(c->kinds[k].msgs);
    }
    free((char *)c->mix_snapshot.p);
    free(c->nums_pool);
    free(c->nums);
    free(c);
}

const corpus_msg *corpus_msgs(const corpus *c, corpus_kind k, size_t *count)
{
    *count = c->kinds[k].count;
    return c->kinds[k].msgs;
}

double corpus_mean_bytes(const corpus *c, corpus_kind k)
{
    return (double)c->kinds[k].bytes / (double)c->kinds[k].count;
}

corpus_msg corpus_mix_snapshot(const corpus *c)
{
    return c->mix_snapshot;
}

const corpus_num *corpus_numbers(const corpus *c, size_t *count)
{
    *count = c->nnums;
    return c->nums;
}

const char *corpus_kind_name(corpus_kind k)
{
    static const char *const names[CORPUS_KIND_COUNT] = {
        "bt", "d20", "d100", "d200", "snap", "mix"
    };
    return (unsigned)k < CORPUS_KIND_COUNT ? names[k] : "?";
}

/* Book replay: a separate generator so its stream does not depend on the message corpus. */
typedef struct book_gen {
    uint64_t rng;
    int64_t mid; /* best bid; asks start at mid + 1 */
} book_gen;

static void seed_book(book_gen *bg, corpus_update *out, size_t per_side)
{
    for (int side = 0; side < 2; side++) {
        int64_t dist = 0;
        for (size_t i = 0; i < per_side; i++) {
            int64_t px = side == 0 ? bg->mid - dist : bg->mid + 1 + dist;
            out[side * per_side + i] =
                (corpus_update){ .px = px, .qty = rand_lots(&bg->rng), .side = (uint8_t)side };
            dist += 1 + rand_exp(&bg->rng, 0.3);
        }
    }
}

/* The mid moves one tick now and then; the level it crosses is deleted, as the exchange would, so
 * the book never crosses. Returns how many updates it wrote (0 or 1). */
static size_t maybe_move_mid(book_gen *bg, corpus_update *out)
{
    uint64_t r = corpus_rand(&bg->rng);
    if (r % 32 != 0)
        return 0;
    if (r & (1ull << 40)) {
        bg->mid++;
        *out = (corpus_update){ .px = bg->mid, .qty = 0, .side = 1 };
    } else {
        *out = (corpus_update){ .px = bg->mid, .qty = 0, .side = 0 };
        bg->mid--;
    }
    return 1;
}

static corpus_update random_update(book_gen *bg)
{
    uint8_t side = (uint8_t)(corpus_rand(&bg->rng) & 1);
    int64_t dist = rand_exp(&bg->rng, MEAN_DIST);
    int64_t px = side == 0 ? bg->mid - dist : bg->mid + 1 + dist;
    int64_t qty = rand_unit(&bg->rng) < DELETE_SHARE ? 0 : rand_lots(&bg->rng);
    return (corpus_update){ .px = px, .qty = qty, .side = side };
}

void corpus_book_updates(uint64_t seed, size_t seed_levels, size_t n, corpus_update **seed_out,
                         corpus_update **updates_out)
{
    book_gen bg = { .rng = seed, .mid = 1000000 };
    corpus_update *s = xcalloc(2 * seed_levels, sizeof *s);
    corpus_update *u = xcalloc(n, sizeof *u);
    seed_book(&bg, s, seed_levels);
    size_t i = 0;
    while (i < n) {
        i += maybe_move_mid(&bg, &u[i]);
        if (i < n)
            u[i++] = random_update(&bg);
    }
    *seed_out = s;
    *updates_out = u;
}
