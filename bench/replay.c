/*
 * bfreplay: the recording paths of issue 5, measured against in-repo baselines in the same run.
 *
 *  1. Headless replay throughput: `bfmon replay`'s engine (recfmt + stream decoder + markets, with
 *     the sync rule and the bookTicker cross-check) against a jansson + red-black-tree replay of the
 *     same file (getline/gzgets, jdec_decode — the jansson decoder of the differential test —,
 *     dec_parse per level, the futures sync rule, one std::map-like book per symbol side). Target
 *     >= 20x on the plain file; the gzip file is reported too (inflate is shared work).
 *  2. Recording throughput with compression on one core: the recorder (gzip, default level) fed
 *     from one producer thread with the writer thread, both pinned to one CPU; lines per second until
 *     every line is compressed and written. Target >= 50k lines/s. The baseline row is the same lines
 *     written with zlib's gzwrite from one thread (what a simple recorder would do inline).
 *
 * The recording is generated once by the sim's market model (five symbols; diff depth @0ms,
 * bookTicker, aggTrade, markPrice in combined form; a REST snapshot with its bfmon "rest" marker after
 * each symbol's first diff), so both replays check out LIVE with no gap. Rounds alternate ours and
 * the baseline; figures are medians of per-round ratios. Not a test.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base_rbtree.h"
#include "codec/jdec.h"
#include "feed/recfmt.h"
#include "feed/recorder.h"
#include "feed/replay.h"
#include "sim/model.h"
#include "util/clk.h"
#include "util/dec.h"
#include "util/err.h"
#include "util/xalloc.h"

#define MAX_ROUNDS  32
#define NSYM        5
#define LINE_MAX_B  (1 << 20)
#define REPLAY_GOAL 20.0
#define RECORD_GOAL 50000.0

typedef struct opts {
    size_t lines;
    int rounds;
    bool quick, json_only, keep;
} opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bfreplay: %s\n", what);
    exit(1);
}

/* ---- the recording ---------------------------------------------------------------------------- */

typedef struct gen {
    source *src;
    FILE *out;
    char **lines; /* every line (with its newline), for the recorder benchmark */
    size_t *lens, n, cap, want;
    bool snapped[NSYM];
    int64_t now_ns;
    char *buf;
} gen;

static void keep_line(gen *g, const char *line, size_t len)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4096;
        g->lines = xrealloc(g->lines, g->cap * sizeof *g->lines);
        g->lens = xrealloc(g->lens, g->cap * sizeof *g->lens);
    }
    g->lines[g->n] = xmalloc(len + 1);
    memcpy(g->lines[g->n], line, len + 1);
    g->lens[g->n++] = len;
    fwrite(line, 1, len, g->out);
    fputc('\n', g->out);
}

static void put_line(gen *g, const char *json)
{
    int n = snprintf(g->buf, LINE_MAX_B, "%lld %s", (long long)g->now_ns, json);
    if (n < 0 || n >= LINE_MAX_B)
        die("a generated line is too long");
    keep_line(g, g->buf, (size_t)n);
}

static int symbol_index(gen *g, const char *stream)
{
    for (size_t i = 0; i < NSYM; i++) {
        const char *name = g->src->ops->symbol_at(g->src, i);
        size_t n = strlen(name);
        if (!strncasecmp(stream, name, n) && stream[n] == '@')
            return (int)i;
    }
    return -1;
}

static void snapshot_after(gen *g, int i, int64_t now_ms)
{
    const char *name = g->src->ops->symbol_at(g->src, (size_t)i);
    char marker[256], *body = xmalloc(g->src->ops->max_body(g->src));
    int len = g->src->ops->depth(g->src, name, 1000, now_ms, body, g->src->ops->max_body(g->src));
    if (len < 0)
        die("the model gave no snapshot");
    snprintf(
        marker, sizeof marker,
        "{\"bfmon\":\"rest\",\"symbol\":\"%s\",\"path\":\"/fapi/v1/depth?symbol=%s&limit=1000\","
        "\"status\":200}",
        name, name);
    put_line(g, marker);
    put_line(g, body);
    free(body);
    g->snapped[i] = true;
}

static void on_emit(void *ctx, const source_msg *m)
{
    gen *g = ctx;
    if (g->n >= g->want)
        return;
    size_t cap = m->len + strlen(m->stream) + 32;
    char *wrapped = xmalloc(cap);
    snprintf(wrapped, cap, "{\"stream\":\"%s\",\"data\":%.*s}", m->stream, (int)m->len, m->json);
    put_line(g, wrapped);
    free(wrapped);
    g->now_ns += 997; /* distinct, increasing receive stamps */
    int i = symbol_index(g, m->stream);
    if (m->is_depth_diff && i >= 0 && !g->snapped[i])
        snapshot_after(g, i, g->now_ns / 1000000);
}

static gen *generate(const char *path, size_t want)
{
    gen *g = xcalloc(1, sizeof *g);
    g->buf = xmalloc(LINE_MAX_B);
    g->want = want;
    char why[256];
    model_config mc = { .seed = 7, .rate = 5000, .levels = 500 };
    if (model_create(&mc, &g->src, why, sizeof why) < 0)
        die(why);
    static const char *const kinds[] = { "@depth@100ms", "@bookTicker", "@aggTrade",
                                         "@markPrice@1s" };
    for (size_t i = 0; i < NSYM; i++)
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            char stream[64], lower[32];
            const char *name = g->src->ops->symbol_at(g->src, i);
            size_t j = 0;
            for (; name[j] && j < sizeof lower - 1; j++)
                lower[j] = (char)(name[j] | 0x20);
            lower[j] = '\0';
            snprintf(stream, sizeof stream, "%s%s", lower, kinds[k]);
            g->src->ops->want(g->src, stream, true);
        }
    g->out = fopen(path, "w");
    if (!g->out)
        die("cannot write the recording");
    int64_t t_ms = 1764000000000LL;
    g->now_ns = t_ms * 1000000;
    while (g->n < want) {
        g->src->ops->advance(g->src, t_ms, on_emit, g);
        t_ms++;
        if (g->now_ns < t_ms * 1000000)
            g->now_ns = t_ms * 1000000;
    }
    fclose(g->out);
    return g;
}

static void gen_free(gen *g, bool owns_lines)
{
    for (size_t i = 0; owns_lines && i < g->n; i++)
        free(g->lines[i]);
    free(g->lines);
    free(g->lens);
    free(g->buf);
    source_destroy(g->src);
    free(g);
}

static void gzip_copy(const gen *g, const char *path)
{
    gzFile z = gzopen(path, "wb6");
    if (!z)
        die("cannot write the gzip recording");
    for (size_t i = 0; i < g->n; i++) {
        gzwrite(z, g->lines[i], (unsigned)g->lens[i]);
        gzputc(z, '\n');
    }
    gzclose(z);
}

/* ---- ours: the replay module ------------------------------------------------------------------ */

static uint64_t ours_replay(const char *path)
{
    replay *r = NULL;
    char why[256];
    if (replay_create(NULL, &r, why, sizeof why) < 0)
        die(why);
    if (replay_file(r, path) < 0)
        die(replay_error(r));
    replay_finish(r);
    if (!replay_integrity_ok(r))
        die("our replay of the generated recording is not sound");
    replay_stats st;
    replay_get_stats(r, &st);
    replay_destroy(r);
    return st.lines;
}

/* ---- the baseline: jansson decoder + red-black trees ------------------------------------------ */

typedef struct base_sym {
    char name[32];
    rbbook *book;
    dec_scale px, qty;
    bool scaled, live, have_snap;
    int64_t last_id, prev_u;
} base_sym;

typedef struct base {
    jdec *jd;
    base_sym syms[16];
    size_t nsyms;
    char pending[32]; /* the symbol of a "rest" marker, for the next line */
    uint64_t lines, errors;
} base;

static base_sym *base_find(base *b, const char *name, size_t n)
{
    for (size_t i = 0; i < b->nsyms; i++)
        if (strlen(b->syms[i].name) == n && !memcmp(b->syms[i].name, name, n))
            return &b->syms[i];
    if (b->nsyms == 16 || n >= sizeof b->syms[0].name)
        return NULL;
    base_sym *s = &b->syms[b->nsyms++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, n);
    s->book = rbbook_create();
    return s;
}

static void scale_from(base_sym *s, const stream_msg *m, ev_levels run)
{
    if (s->scaled || !run.count)
        return;
    const ev_level *lv = &m->levels[run.first];
    s->px = dec_scale_plain((unsigned)dec_decimals(lv->px.p, lv->px.n));
    s->qty = dec_scale_plain((unsigned)dec_decimals(lv->qty.p, lv->qty.n));
    s->scaled = true;
}

static void base_levels(base *b, base_sym *s, const stream_msg *m, ev_levels run, book_side side)
{
    scale_from(s, m, run);
    for (uint32_t i = 0; i < run.count; i++) {
        const ev_level *lv = &m->levels[run.first + i];
        int64_t px, qty;
        if (dec_parse(lv->px.p, lv->px.n, &s->px, &px) < 0 ||
            dec_parse(lv->qty.p, lv->qty.n, &s->qty, &qty) < 0) {
            b->errors++;
            continue;
        }
        rbbook_set(s->book, side, px, qty);
    }
}

/* The futures rule: drop u < lastUpdateId; the first applied has U <= id <= u (or pu == id); then
 * pu == prev u. */
static void base_depth(base *b, const stream_msg *m, const ev_depth *d)
{
    base_sym *s = base_find(b, d->symbol.p, d->symbol.n);
    if (!s || !s->have_snap || d->u < s->last_id)
        return;
    if (!s->live && !(d->U <= s->last_id && s->last_id <= d->u) && d->pu != s->last_id) {
        b->errors++;
        return;
    }
    if (s->live && d->pu != s->prev_u) {
        b->errors++;
        s->live = s->have_snap = false;
        return;
    }
    s->live = true;
    s->prev_u = d->u;
    base_levels(b, s, m, d->bids, BOOK_BID);
    base_levels(b, s, m, d->asks, BOOK_ASK);
}

static void base_snapshot(base *b, const stream_msg *m, const ev_snapshot *sn)
{
    base_sym *s = b->pending[0] ? base_find(b, b->pending, strlen(b->pending)) : NULL;
    if (!s) {
        b->errors++;
        return;
    }
    rbbook_clear(s->book);
    s->last_id = sn->last_update_id;
    s->have_snap = true;
    s->live = false;
    base_levels(b, s, m, sn->bids, BOOK_BID);
    base_levels(b, s, m, sn->asks, BOOK_ASK);
}

static void base_marker(base *b, const char *json)
{
    json_error_t err;
    json_t *o = json_loads(json, 0, &err);
    const char *sym = json_string_value(json_object_get(o, "symbol"));
    snprintf(b->pending, sizeof b->pending, "%s", sym ? sym : "");
    json_decref(o);
}

static void base_line(base *b, char *line, size_t len)
{
    char *sp = memchr(line, ' ', len);
    if (!sp) {
        b->errors++;
        return;
    }
    (void)strtoll(line, NULL, 10);
    const char *json = sp + 1;
    size_t n = len - (size_t)(json - line);
    if (!strncmp(json, "{\"bfmon\"", 8)) {
        base_marker(b, json);
        return;
    }
    stream_msg m;
    if (jdec_decode(b->jd, json, n, &m) < 0) {
        b->errors++;
        b->pending[0] = '\0';
        return;
    }
    for (size_t i = 0; i < m.nevents; i++) {
        const ev *e = &m.events[i];
        if (e->kind == EV_DEPTH && !e->u.depth.partial)
            base_depth(b, &m, &e->u.depth);
        else if (e->kind == EV_SNAPSHOT)
            base_snapshot(b, &m, &e->u.snapshot);
    }
    b->pending[0] = '\0';
}

static uint64_t base_replay(const char *path)
{
    base b = { .jd = jdec_create(NULL) };
    gzFile z = gzopen(path, "rb"); /* reads plain files as they are */
    if (!z)
        die("the baseline cannot open the recording");
    gzbuffer(z, 128 * 1024);
    char *line = xmalloc(LINE_MAX_B);
    while (gzgets(z, line, LINE_MAX_B)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len)
            continue;
        b.lines++;
        base_line(&b, line, len);
    }
    gzclose(z);
    free(line);
    bool live = b.nsyms == NSYM;
    for (size_t i = 0; i < b.nsyms; i++) {
        live = live && b.syms[i].live;
        rbbook_destroy(b.syms[i].book);
    }
    jdec_destroy(b.jd);
    if (b.errors || !live)
        die("the baseline replay of the generated recording is not sound");
    return b.lines;
}

/* ---- recording throughput --------------------------------------------------------------------- */

static void pin_to_cpu0(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set); /* threads created later inherit it */
}

static double ours_record(const gen *g, const char *dir)
{
    size_t total = 0;
    for (size_t i = 0; i < g->n; i++)
        total += g->lens[i] + 64;
    /* A ring that holds the whole input: the producer never meets a full ring (which would count
     * drops), so the time measured is the writer's compressing and writing everything. */
    recorder_config cfg = { .dir = dir,
                            .compress = REC_GZIP,
                            .no_rotate_daily = true,
                            .ring_bytes = 2 * total + ((size_t)64 << 20) };
    recorder *r = NULL;
    char why[256];
    double t0 = now_s();
    if (recorder_create(&cfg, &r, why, sizeof why) < 0)
        die(why);
    for (size_t i = 0; i < g->n; i++) {
        const char *sp = strchr(g->lines[i], ' ');
        int64_t ns = strtoll(g->lines[i], NULL, 10);
        size_t jl = g->lens[i] - (size_t)(sp + 1 - g->lines[i]);
        if (recorder_write(r, ns, sp + 1, jl) < 0)
            die("the recorder refused a line");
    }
    if (recorder_flush(r, clk_mono_ns() + 600 * CLK_NS_PER_S) < 0)
        die("the recorder did not drain");
    recorder_stats st;
    recorder_get_stats(r, &st);
    recorder_destroy(r);
    double dt = now_s() - t0;
    if (st.lines_written < g->n || st.dropped_ring || st.dropped_io)
        die("the recorder lost lines");
    return (double)g->n / dt;
}

static double base_record(const gen *g, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/base.gz", dir);
    double t0 = now_s();
    gzFile z = gzopen(path, "wb1"); /* the recorder's default level */
    if (!z)
        die("cannot write the baseline recording");
    for (size_t i = 0; i < g->n; i++) {
        gzwrite(z, g->lines[i], (unsigned)g->lens[i]);
        gzputc(z, '\n');
    }
    gzclose(z);
    return (double)g->n / (now_s() - t0);
}

/* The depth lines alone, repeated to at least min lines: the heaviest lines a recording holds (a
 * busy symbol's diff stream), for the worst case of the recorder. Shares the strings of g. */
static size_t avg_len(const gen *g)
{
    size_t sum = 0;
    for (size_t i = 0; i < g->n; i++)
        sum += g->lens[i];
    return g->n ? sum / g->n : 0;
}

static gen *depth_only(const gen *g, size_t min)
{
    gen *d = xcalloc(1, sizeof *d);
    size_t have = 0;
    for (size_t i = 0; i < g->n; i++)
        have += strstr(g->lines[i], "@depth") != NULL;
    if (!have)
        die("the generated recording has no depth lines");
    d->cap = have * (min / have + 1);
    d->lines = xmalloc(d->cap * sizeof *d->lines);
    d->lens = xmalloc(d->cap * sizeof *d->lens);
    while (d->n < min)
        for (size_t i = 0; i < g->n && d->n < d->cap; i++)
            if (strstr(g->lines[i], "@depth")) {
                d->lines[d->n] = g->lines[i];
                d->lens[d->n++] = g->lens[i];
            }
    return d;
}

/* ---- driver ------------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct row {
    double ours[MAX_ROUNDS], base[MAX_ROUNDS], ratio[MAX_ROUNDS];
    double ours_med, base_med, ratio_med, rmin, rmax;
} row;

static void finish_row(row *r, int n)
{
    double o[MAX_ROUNDS], b[MAX_ROUNDS], q[MAX_ROUNDS];
    memcpy(o, r->ours, sizeof o);
    memcpy(b, r->base, sizeof b);
    memcpy(q, r->ratio, sizeof q);
    r->ours_med = median(o, n);
    r->base_med = median(b, n);
    r->ratio_med = median(q, n);
    r->rmin = q[0];
    r->rmax = q[n - 1];
}

/* Lines per second of both replays of one file, one round. */
static void replay_round(row *r, int i, const char *path)
{
    double t0 = now_s();
    uint64_t n1 = ours_replay(path);
    double t1 = now_s();
    uint64_t n2 = base_replay(path);
    double t2 = now_s();
    r->ours[i] = (double)n1 / (t1 - t0);
    r->base[i] = (double)n2 / (t2 - t1);
    r->ratio[i] = r->ours[i] / r->base[i];
}

static void usage(FILE *to)
{
    fprintf(to, "usage: bfreplay [--lines N] [--rounds N] [--quick] [--json-only] [--keep]\n");
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = { { "lines", required_argument, NULL, 'n' },
                                        { "rounds", required_argument, NULL, 'r' },
                                        { "quick", no_argument, NULL, 'q' },
                                        { "json-only", no_argument, NULL, 'j' },
                                        { "keep", no_argument, NULL, 'k' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'n')
            o->lines = (size_t)strtoull(optarg, NULL, 10);
        else if (c == 'r')
            o->rounds = (int)strtol(optarg, NULL, 10);
        else if (c == 'q')
            o->quick = true;
        else if (c == 'j')
            o->json_only = true;
        else if (c == 'k')
            o->keep = true;
        else {
            usage(c == 'h' ? stdout : stderr);
            exit(c == 'h' ? 0 : 2);
        }
    }
    if (o->quick) {
        o->lines = 20000;
        o->rounds = 1;
    }
    if (o->rounds < 1 || o->rounds > MAX_ROUNDS || o->lines < 1000)
        die("--rounds must be 1..32 and --lines at least 1000");
}

static void print_row(const char *name, const char *unit, const row *r, double goal)
{
    printf("%-34s %12.0f %12.0f %8.2fx %7.0fx  %-3s %.2f..%.2f\n", name, r->ours_med, r->base_med,
           r->ratio_med, goal,
           goal > 0 && r->ratio_med >= goal ? "yes"
           : goal > 0                       ? "no"
                                            : "-",
           r->rmin, r->rmax);
    (void)unit;
}

int main(int argc, char **argv)
{
    opts o = { .lines = 400000, .rounds = 5 };
    parse(argc, argv, &o);
    char dir[] = "/tmp/bfreplay-XXXXXX", plain[600], gz[600], recdir[600];
    if (!mkdtemp(dir))
        die("cannot create a temporary directory");
    snprintf(plain, sizeof plain, "%s/rec.txt", dir);
    snprintf(gz, sizeof gz, "%s/rec.txt.gz", dir);
    gen *g = generate(plain, o.lines);
    gzip_copy(g, gz);
    row rp = { 0 }, rg = { 0 }, rr = { 0 };
    for (int i = 0; i < o.rounds; i++) {
        replay_round(&rp, i, plain);
        replay_round(&rg, i, gz);
    }
    pin_to_cpu0();
    for (int i = 0; i < o.rounds; i++) {
        snprintf(recdir, sizeof recdir, "%s/rec%d", dir, i);
        rr.ours[i] = ours_record(g, recdir);
        rr.base[i] = base_record(g, dir);
        rr.ratio[i] = rr.ours[i] / rr.base[i];
    }
    gen *deep = depth_only(g, o.quick ? 2000 : 40000);
    row rd = { 0 };
    for (int i = 0; i < o.rounds; i++) {
        snprintf(recdir, sizeof recdir, "%s/deep%d", dir, i);
        rd.ours[i] = ours_record(deep, recdir);
        rd.base[i] = base_record(deep, dir);
        rd.ratio[i] = rd.ours[i] / rd.base[i];
    }
    finish_row(&rd, o.rounds);
    finish_row(&rp, o.rounds);
    finish_row(&rg, o.rounds);
    finish_row(&rr, o.rounds);
    if (!o.json_only) {
        printf("bfreplay: %zu lines (%d rounds); lines per second, medians; ratio = ours / base\n",
               g->n, o.rounds);
        printf("%-34s %12s %12s %9s %8s  %-3s %s\n", "name", "ours/s", "base/s", "ratio", "target",
               "met", "range");
        print_row("replay plain (ours / jansson+tree)", "lines", &rp, REPLAY_GOAL);
        print_row("replay gzip (ours / jansson+tree)", "lines", &rg, 0);
        print_row("record gzip, 1 core (ours / gzwrite)", "lines", &rr, 0);
        print_row("record gzip depth only (ours / gzw)", "lines", &rd, 0);
        printf("record gzip on one core: %.0f lines/s, depth lines only (avg %zu B) %.0f lines/s "
               "(target >= %.0f: %s)\n",
               rr.ours_med, avg_len(deep), rd.ours_med, RECORD_GOAL,
               rd.ours_med >= RECORD_GOAL && rr.ours_med >= RECORD_GOAL ? "met" : "NOT met");
    }
    printf("{\"bench\":\"bfreplay\",\"lines\":%zu,\"rounds\":%d,\"quick\":%s,"
           "\"replay_plain\":{\"ours_lps\":%.0f,\"base_lps\":%.0f,\"ratio\":%.2f,\"target\":%.0f},"
           "\"replay_gzip\":{\"ours_lps\":%.0f,\"base_lps\":%.0f,\"ratio\":%.2f},"
           "\"record_gzip_one_core\":{\"ours_lps\":%.0f,\"gzwrite_lps\":%.0f,\"target\":%.0f},"
           "\"record_gzip_depth_one_core\":{\"ours_lps\":%.0f,\"gzwrite_lps\":%.0f}}\n",
           g->n, o.rounds, o.quick ? "true" : "false", rp.ours_med, rp.base_med, rp.ratio_med,
           REPLAY_GOAL, rg.ours_med, rg.base_med, rg.ratio_med, rr.ours_med, rr.base_med,
           RECORD_GOAL, rd.ours_med, rd.base_med);
    gen_free(deep, false);
    gen_free(g, true);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (o.keep)
        fprintf(stderr, "bfreplay: the recordings are kept in %s\n", dir);
    else if (system(cmd) != 0)
        fprintf(stderr, "bfreplay: could not remove %s\n", dir);
    return 0;
}
