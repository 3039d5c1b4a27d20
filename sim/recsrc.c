/*
 * recsrc: a recording served as a source (see recsrc.h for the contract).
 *
 * Owns: every usable line of the file (its payload copied into one arena, with the stream it goes
 * out on and what it is), the stream table with a listener count per stream, and per symbol the
 * engine's book the recorded diffs are applied to as they go out, the scales used to read them,
 * and the last bookTicker / markPrice values seen (for the REST tickers).
 *
 * The book of a symbol is loaded at creation from the first snapshot of that symbol anywhere in
 * the file, so /depth answers from the first moment. Diffs are applied when they are emitted with
 * the Binance rule (drop u < L, bridge U <= L <= u or pu == L, then pu == previous u). A chain that
 * breaks in the recording marks the book broken; the next snapshot line of the symbol reached in
 * the stream reloads it. Snapshot lines are never emitted.
 *
 * One thread (the server's service thread).
 */
#include "sim/recsrc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rest.h"
#include "codec/stream.h"
#include "feed/recfmt.h"
#include "market/book.h"
#include "market/symtab.h"
#include "sim/model.h"
#include "util/dec.h"
#include "util/err.h"
#include "util/file.h"
#include "util/xalloc.h"

#define BATCH_UNPACED 10000 /* lines per advance() at speed 0 */
#define MARK_DEC      8
#define FUNDING_MS    (8LL * 3600 * 1000)

typedef enum line_kind { L_EMIT, L_SNAPSHOT } line_kind;

typedef struct rline {
    int64_t recv_ns;
    size_t off; /* payload in the arena */
    uint32_t len;
    int32_t stream; /* L_EMIT: index into streams */
    int32_t sym;    /* -1: none (all-market array, unattributed snapshot) */
    uint8_t kind;   /* line_kind */
    uint8_t ev;     /* ev_kind of the payload (EV_NONE for unsupported) */
    bool diff;
} rline;

typedef struct rstream {
    char *name;
    unsigned want;
} rstream;

typedef struct rsym {
    char name[SYM_NAME_MAX], lower[SYM_NAME_MAX];
    bool have_scale;
    dec_scale px, qty;
    book *b;
    bool seeded, bridged, broken;
    int64_t L, E, T; /* lastUpdateId served and the times of what it reflects */
    bool have_bt, have_mark;
    char bt[4][DEC_MAX_CHARS + 1]; /* b, B, a, A */
    int64_t bt_T, bt_u;
    char mark[4][DEC_MAX_CHARS + 1]; /* p, i, P, r */
    int64_t mark_next, mark_E;
} rsym;

typedef struct recsrc {
    source base;
    char *arena;
    size_t arena_n, arena_cap;
    rline *lines;
    size_t nlines, cap_lines;
    rstream *streams;
    size_t nstreams;
    rsym *syms;
    size_t nsyms;
    stream_decoder *d;
    double speed;
    size_t next;
    bool started, quiet, resume_pending;
    int64_t t0_ms, rec0_ns, last_now, quiet_since;
    char *exinfo;
    size_t exinfo_len;
    symtab *info;
    char *body; /* REST scratch */
    size_t body_n, body_cap;
    book_level *top;
    size_t cap_top;
    uint64_t apply_errors, gaps;
} recsrc;

static const source_ops recsrc_ops;

/* ---- wrapper scan --------------------------------------------------------------------------- */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] is '"': the index after the closing quote. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i + 1;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '"')
        return skip_string(s, n, i);
    int depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, n, i) - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            return i;
        }
    }
    return i;
}

/* In a valid JSON object, the value of the top-level key `key`: [*vs, *ve). */
static bool top_value(const char *s, size_t n, const char *key, size_t *vs, size_t *ve)
{
    size_t i = skip_ws(s, n, 0), klen = strlen(key);
    if (i >= n || s[i] != '{')
        return false;
    for (i = skip_ws(s, n, i + 1); i < n && s[i] == '"';) {
        size_t ks = i + 1, ke = skip_string(s, n, i) - 1;
        i = skip_ws(s, n, ke + 1);
        if (i >= n || s[i] != ':')
            return false;
        i = skip_ws(s, n, i + 1);
        size_t end = skip_value(s, n, i);
        if (ke - ks == klen && memcmp(s + ks, key, klen) == 0) {
            *vs = i;
            *ve = end;
            return true;
        }
        i = skip_ws(s, n, end);
        if (i < n && s[i] == ',')
            i = skip_ws(s, n, i + 1);
    }
    return false;
}

/* ---- tables --------------------------------------------------------------------------------- */

static int find_stream(const recsrc *r, const char *name)
{
    for (size_t i = 0; i < r->nstreams; i++)
        if (strcmp(r->streams[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int intern_stream(recsrc *r, const char *name)
{
    int i = find_stream(r, name);
    if (i >= 0)
        return i;
    r->streams = xreallocarray(r->streams, r->nstreams + 1, sizeof *r->streams);
    r->streams[r->nstreams] = (rstream){ xstrdup(name), 0 };
    return (int)r->nstreams++;
}

static int find_symbol(const recsrc *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->nsyms; i++)
        if (strlen(r->syms[i].name) == n && memcmp(r->syms[i].name, name, n) == 0)
            return (int)i;
    return -1;
}

static int find_lower(const recsrc *r, const char *lower, size_t n)
{
    for (size_t i = 0; i < r->nsyms; i++)
        if (strlen(r->syms[i].lower) == n && memcmp(r->syms[i].lower, lower, n) == 0)
            return (int)i;
    return -1;
}

static int intern_symbol(recsrc *r, bf_str name)
{
    if (!name.p || name.n == 0 || name.n >= SYM_NAME_MAX)
        return -1;
    int i = find_symbol(r, name.p, name.n);
    if (i >= 0)
        return i;
    r->syms = xreallocarray(r->syms, r->nsyms + 1, sizeof *r->syms);
    rsym *s = &r->syms[r->nsyms];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name.p, name.n);
    for (size_t k = 0; k < name.n; k++)
        s->lower[k] = (char)(name.p[k] >= 'A' && name.p[k] <= 'Z' ? name.p[k] + 32 : name.p[k]);
    const sym_info *si = r->info ? symtab_find(r->info, name.p, name.n) : NULL;
    if (si) {
        s->px = dec_scale_plain(si->px.decimals);
        s->qty = dec_scale_plain(si->qty.decimals);
        s->have_scale = true;
    }
    return (int)r->nsyms++;
}

/* ---- reading the file ----------------------------------------------------------------------- */

static size_t arena_add(recsrc *r, const char *p, size_t n)
{
    if (r->arena_n + n + 1 > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap : 1 << 16;
        while (cap < r->arena_n + n + 1)
            cap *= 2;
        r->arena = xrealloc(r->arena, cap);
        r->arena_cap = cap;
    }
    size_t off = r->arena_n;
    memcpy(r->arena + off, p, n);
    r->arena[off + n] = '\0';
    r->arena_n += n + 1;
    return off;
}

static void add_line(recsrc *r, const rline *l)
{
    if (r->nlines == r->cap_lines) {
        r->cap_lines = r->cap_lines ? r->cap_lines * 2 : 1024;
        r->lines = xreallocarray(r->lines, r->cap_lines, sizeof *r->lines);
    }
    r->lines[r->nlines++] = *l;
}

/* The stream a raw payload belongs to, as Binance names it. */
static void derive_stream(const rsym *s, const stream_msg *m, char *out, size_t cap)
{
    const ev *e = &m->events[0];
    if (e->kind == EV_MARK_PRICE && m->nevents > 1) {
        snprintf(out, cap, "!markPrice@arr");
        return;
    }
    const char *kind = e->kind == EV_DEPTH         ? "depth"
                       : e->kind == EV_BOOK_TICKER ? "bookTicker"
                       : e->kind == EV_AGG_TRADE   ? "aggTrade"
                       : e->kind == EV_TRADE       ? "trade"
                       : e->kind == EV_MARK_PRICE  ? "markPrice"
                       : e->kind == EV_FORCE_ORDER ? "forceOrder"
                                                   : "kline_";
    if (e->kind == EV_KLINE)
        snprintf(out, cap, "%s@kline_%.*s", s->lower, (int)e->u.kline.interval.n,
                 e->u.kline.interval.p);
    else
        snprintf(out, cap, "%s@%s", s->lower, kind);
}

/* Scales from the first message of the symbol that carries prices (as the market infers them). */
static void widen(int *best, bf_str v)
{
    int d = v.p ? dec_decimals(v.p, v.n) : -1;
    if (d > *best)
        *best = d;
}

static void infer_scale(rsym *s, const stream_msg *m)
{
    const ev *e = &m->events[0];
    int pd = -1, qd = -1;
    if (e->kind == EV_DEPTH || e->kind == EV_SNAPSHOT) {
        ev_levels runs[2] = { e->kind == EV_DEPTH ? e->u.depth.bids : e->u.snapshot.bids,
                              e->kind == EV_DEPTH ? e->u.depth.asks : e->u.snapshot.asks };
        for (int k = 0; k < 2; k++)
            for (uint32_t i = 0; i < runs[k].count; i++) {
                widen(&pd, m->levels[runs[k].first + i].px);
                widen(&qd, m->levels[runs[k].first + i].qty);
            }
    } else if (e->kind == EV_BOOK_TICKER) {
        widen(&pd, e->u.bt.bid_px);
        widen(&pd, e->u.bt.ask_px);
        widen(&qd, e->u.bt.bid_qty);
        widen(&qd, e->u.bt.ask_qty);
    }
    if (pd < 0 || qd < 0)
        return;
    s->px = dec_scale_plain((unsigned)pd);
    s->qty = dec_scale_plain((unsigned)qd);
    s->have_scale = true;
}

typedef struct load_state {
    int pending_rest; /* symbol named by a bfmon "rest" line just before, or -1 */
    uint64_t bad, decode_errors, unsupported, unattributed;
} load_state;

/* A bfmon event line: a "rest" marker names the symbol of the next line. */
static void bfmon_line(recsrc *r, const recfmt_line *ln, load_state *st)
{
    json_t *o = json_loadb(ln->json, ln->len, 0, NULL);
    const char *what = json_string_value(json_object_get(o, "bfmon"));
    const char *sym = json_string_value(json_object_get(o, "symbol"));
    if (what && sym && strcmp(what, "rest") == 0)
        st->pending_rest = intern_symbol(r, (bf_str){ sym, (uint32_t)strlen(sym) });
    json_decref(o);
}

static void snapshot_line(recsrc *r, const recfmt_line *ln, const stream_msg *m, load_state *st)
{
    rline l = {
        .recv_ns = ln->recv_ns, .kind = L_SNAPSHOT, .ev = EV_SNAPSHOT, .sym = st->pending_rest
    };
    if (l.sym >= 0 && !r->syms[l.sym].have_scale)
        infer_scale(&r->syms[l.sym], m);
    l.off = arena_add(r, ln->json, ln->len);
    l.len = (uint32_t)ln->len;
    add_line(r, &l);
}

/* A stream line: its payload (unwrapped), its stream, its symbol. */
static void stream_line(recsrc *r, const recfmt_line *ln, const stream_msg *m, int rc,
                        load_state *st)
{
    size_t vs = 0, ve = ln->len, ss, se;
    char name[128];
    bool wrapped = top_value(ln->json, ln->len, "data", &vs, &ve) &&
                   top_value(ln->json, ln->len, "stream", &ss, &se) && ln->json[ss] == '"' &&
                   se - ss - 2 < sizeof name;
    if (!wrapped)
        vs = 0, ve = ln->len;
    rline l = { .recv_ns = ln->recv_ns, .kind = L_EMIT, .sym = -1, .ev = EV_NONE };
    if (rc == 0) {
        l.ev = (uint8_t)m->events[0].kind;
        l.sym = m->nevents == 1 ? intern_symbol(r, ev_symbol(&m->events[0])) : -1;
        l.diff = l.ev == EV_DEPTH && !m->events[0].u.depth.partial;
        if (l.sym >= 0 && !r->syms[l.sym].have_scale)
            infer_scale(&r->syms[l.sym], m);
    }
    if (wrapped)
        snprintf(name, sizeof name, "%.*s", (int)(se - ss - 2), ln->json + ss + 1);
    else if (rc == 0 && (l.sym >= 0 || m->nevents > 1))
        derive_stream(l.sym >= 0 ? &r->syms[l.sym] : NULL, m, name, sizeof name);
    else {
        st->unsupported++;
        return;
    }
    l.stream = intern_stream(r, name);
    l.off = arena_add(r, ln->json + vs, ve - vs);
    l.len = (uint32_t)(ve - vs);
    add_line(r, &l);
}

static void one_line(recsrc *r, const recfmt_line *ln, load_state *st)
{
    if (strncmp(ln->json, "{\"bfmon\"", 8) == 0) {
        bfmon_line(r, ln, st);
        return;
    }
    stream_msg m;
    int rc = stream_decode(r->d, ln->json, ln->len, &m);
    if (rc < 0 && rc != BF_EUNSUPPORTED)
        st->decode_errors++;
    else if (rc == 0 && m.events[0].kind == EV_SNAPSHOT)
        snapshot_line(r, ln, &m, st);
    else
        stream_line(r, ln, &m, rc, st);
    st->pending_rest = -1;
}

/* Snapshots without a marker belong to the recording's only symbol, if it has just one. */
static void attribute_snapshots(recsrc *r, load_state *st)
{
    for (size_t i = 0; i < r->nlines; i++) {
        rline *l = &r->lines[i];
        if (l->kind != L_SNAPSHOT || l->sym >= 0)
            continue;
        if (r->nsyms == 1) {
            l->sym = 0;
            if (!r->syms[0].have_scale) {
                stream_msg m;
                if (stream_decode(r->d, r->arena + l->off, l->len, &m) == 0)
                    infer_scale(&r->syms[0], &m);
            }
        } else {
            st->unattributed++;
        }
    }
}

static int read_file(recsrc *r, const char *path, char *why, size_t cap, char *damage, size_t dcap)
{
    recfmt_reader *rd = NULL;
    char err[256];
    int rc = recfmt_open(path, NULL, &rd, err, sizeof err);
    if (rc < 0)
        return bf_why(why, cap, rc, "cannot open %s: %s", path, err);
    load_state st = { .pending_rest = -1 };
    recfmt_line ln;
    while ((rc = recfmt_next(rd, &ln)) != 0) {
        if (rc == BF_ESYNTAX || rc == BF_ETOOBIG) {
            if (st.bad++ == 0)
                snprintf(damage, dcap, "%s: %s (skipped)", path, recfmt_error(rd));
            continue;
        }
        if (rc < 0) {
            snprintf(damage, dcap, "%s is damaged: %s; the %zu lines before it are served", path,
                     recfmt_error(rd), r->nlines);
            break;
        }
        one_line(r, &ln, &st);
    }
    recfmt_stats rs;
    recfmt_get_stats(rd, &rs);
    if (rs.torn_tail && !damage[0]) /* a recording cut short (a crash): reported, not fatal */
        snprintf(damage, dcap, "%s is damaged: %s; the %zu lines before it are served", path,
                 recfmt_error(rd), r->nlines);
    recfmt_close(rd);
    attribute_snapshots(r, &st);
    return 0;
}

/* ---- books ---------------------------------------------------------------------------------- */

static void apply_levels(recsrc *r, rsym *s, const ev_level *lv, ev_levels run, book_side side)
{
    for (uint32_t i = 0; i < run.count; i++) {
        int64_t px, qty;
        const ev_level *l = &lv[run.first + i];
        if (ev_level_px(l, &s->px, &px) < 0 || ev_level_qty(l, &s->qty, &qty) < 0 ||
            book_set(s->b, side, px, qty) < 0) {
            r->apply_errors++;
            continue;
        }
    }
}

static void load_snapshot(recsrc *r, rsym *s, const rline *l)
{
    stream_msg m;
    if (!s->have_scale || stream_decode(r->d, r->arena + l->off, l->len, &m) != 0)
        return;
    const ev_snapshot *sn = &m.events[0].u.snapshot;
    if (!s->b)
        s->b = book_create(NULL);
    book_clear(s->b);
    apply_levels(r, s, m.levels, sn->bids, BOOK_BID);
    apply_levels(r, s, m.levels, sn->asks, BOOK_ASK);
    s->L = sn->last_update_id;
    s->E = m.events[0].has & EV_HAS_E ? sn->E : 0;
    s->T = m.events[0].has & EV_HAS_T ? sn->T : s->E;
    s->seeded = true;
    s->bridged = s->broken = false;
}

static void seed_books(recsrc *r)
{
    for (size_t i = 0; i < r->nlines; i++) {
        const rline *l = &r->lines[i];
        if (l->kind == L_SNAPSHOT && l->sym >= 0 && !r->syms[l->sym].seeded)
            load_snapshot(r, &r->syms[l->sym], l);
    }
}

/* The Binance rule on the served book: drop what is older, bridge once, then follow pu. */
static void apply_diff(recsrc *r, rsym *s, const ev_depth *dp, const ev_level *lv)
{
    if (!s->seeded || dp->u < s->L)
        return;
    if (!s->bridged) {
        if (dp->U > s->L && dp->pu != s->L) {
            s->broken = true; /* the snapshot predates the stream: wait for another one */
            r->gaps++;
        }
        s->bridged = true;
    } else if (dp->pu != s->L) {
        s->broken = true;
        r->gaps++;
    }
    apply_levels(r, s, lv, dp->bids, BOOK_BID);
    apply_levels(r, s, lv, dp->asks, BOOK_ASK);
    s->L = dp->u;
    s->E = dp->E;
    s->T = dp->T;
}

static void copy_str(char *dst, size_t cap, bf_str v)
{
    size_t n = v.p ? (v.n < cap ? v.n : cap - 1) : 0;
    memcpy(dst, v.p ? v.p : "", n);
    dst[n] = '\0';
}

/* What a line going out changes in the served state. */
static void track(recsrc *r, const rline *l)
{
    if (l->sym < 0 || (l->ev != EV_DEPTH && l->ev != EV_BOOK_TICKER && l->ev != EV_MARK_PRICE))
        return;
    if (l->ev == EV_DEPTH && !l->diff)
        return;
    rsym *s = &r->syms[l->sym];
    stream_msg m;
    if (stream_decode(r->d, r->arena + l->off, l->len, &m) != 0)
        return;
    const ev *e = &m.events[0];
    if (e->kind == EV_DEPTH) {
        apply_diff(r, s, &e->u.depth, m.levels);
    } else if (e->kind == EV_BOOK_TICKER) {
        bf_str v[4] = { e->u.bt.bid_px, e->u.bt.bid_qty, e->u.bt.ask_px, e->u.bt.ask_qty };
        for (int i = 0; i < 4; i++)
            copy_str(s->bt[i], sizeof s->bt[i], v[i]);
        s->bt_T = e->has & EV_HAS_T ? e->u.bt.T : e->u.bt.E;
        s->bt_u = e->u.bt.u;
        s->have_bt = true;
    } else if (e->kind == EV_MARK_PRICE) {
        const ev_mark_price *mp = &e->u.mark;
        bf_str v[4] = { mp->mark, mp->index, mp->settle, mp->funding };
        for (int i = 0; i < 4; i++)
            copy_str(s->mark[i], sizeof s->mark[i], v[i]);
        s->mark_next = mp->next_funding;
        s->mark_E = mp->E;
        s->have_mark = true;
    }
}

/* ---- advance -------------------------------------------------------------------------------- */

static int64_t due_ms(const recsrc *r, const rline *l)
{
    return r->t0_ms + (int64_t)((double)(l->recv_ns - r->rec0_ns) / 1e6 / r->speed);
}

static void take_line(recsrc *r, const rline *l, source_emit_fn emit, void *ctx)
{
    if (l->kind == L_SNAPSHOT) {
        if (l->sym >= 0 && r->syms[l->sym].broken)
            load_snapshot(r, &r->syms[l->sym], l);
        return;
    }
    track(r, l);
    const rstream *st = &r->streams[l->stream];
    if (!st->want)
        return;
    source_msg msg = {
        .stream = st->name, .json = r->arena + l->off, .len = l->len, .is_depth_diff = l->diff
    };
    emit(ctx, &msg);
}

static void recsrc_advance(source *src, int64_t now_ms, source_emit_fn emit, void *ctx)
{
    recsrc *r = (recsrc *)src;
    if (!r->started) {
        r->started = true;
        r->t0_ms = r->last_now = now_ms;
    }
    if (r->resume_pending) { /* keep the recorded pace: the quiet time does not count */
        r->t0_ms += now_ms - r->quiet_since;
        r->resume_pending = false;
    }
    r->last_now = now_ms;
    if (r->quiet)
        return;
    for (size_t taken = 0; r->next < r->nlines; r->next++, taken++) {
        const rline *l = &r->lines[r->next];
        if (r->speed > 0 ? due_ms(r, l) > now_ms : taken >= BATCH_UNPACED)
            break;
        take_line(r, l, emit, ctx);
    }
}

static void recsrc_set_quiet(source *src, bool quiet)
{
    recsrc *r = (recsrc *)src;
    if (quiet == r->quiet)
        return;
    r->quiet = quiet;
    if (quiet && !r->resume_pending)
        r->quiet_since = r->last_now; /* the clock stopped at the last advance */
    r->resume_pending = !quiet && r->started;
}

/* ---- streams -------------------------------------------------------------------------------- */

static bool valid_interval(const char *i)
{
    static const char *const ok[] = { "1m", "3m", "5m",  "15m", "30m", "1h", "2h", "4h",
                                      "6h", "8h", "12h", "1d",  "3d",  "1w", "1M" };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        if (strcmp(i, ok[k]) == 0)
            return true;
    return false;
}

/* A per-symbol stream kind Binance serves (what follows "<symbol>@"). */
static bool valid_kind(const char *k)
{
    static const char *const ok[] = { "depth",         "depth@0ms",  "depth@100ms",
                                      "depth@500ms",   "depth5",     "depth5@100ms",
                                      "depth5@500ms",  "depth10",    "depth10@100ms",
                                      "depth10@500ms", "depth20",    "depth20@100ms",
                                      "depth20@500ms", "bookTicker", "aggTrade",
                                      "trade",         "markPrice",  "markPrice@1s",
                                      "forceOrder",    "miniTicker", "ticker" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(k, ok[i]) == 0)
            return true;
    return strncmp(k, "kline_", 6) == 0 && valid_interval(k + 6);
}

static source_route route_of(const char *kind)
{
    if (strncmp(kind, "depth", 5) == 0 || strcmp(kind, "bookTicker") == 0 ||
        strcmp(kind, "trade") == 0 || strcmp(kind, "!bookTicker") == 0)
        return SOURCE_ROUTE_PUBLIC;
    return SOURCE_ROUTE_MARKET;
}

static int recsrc_check_stream(const source *src, const char *stream, source_route *route)
{
    const recsrc *r = (const recsrc *)src;
    if (!stream)
        return BF_EINVAL;
    const char *at = strchr(stream, '@');
    bool ok = find_stream(r, stream) >= 0;
    if (!ok && at && at > stream)
        ok = find_lower(r, stream, (size_t)(at - stream)) >= 0 && valid_kind(at + 1);
    if (!ok)
        return BF_EINVAL;
    if (route)
        *route = route_of(stream[0] == '!' ? stream : at ? at + 1 : stream);
    return 0;
}

static void recsrc_want(source *src, const char *stream, bool want)
{
    recsrc *r = (recsrc *)src;
    int i = stream ? find_stream(r, stream) : -1;
    if (i < 0)
        return; /* valid but never recorded: nothing to send */
    if (want)
        r->streams[i].want++;
    else if (r->streams[i].want > 0)
        r->streams[i].want--;
}

/* ---- REST ----------------------------------------------------------------------------------- */

static void body_put(recsrc *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void body_put(recsrc *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if (r->body_n + (size_t)n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_n + (size_t)n + 1)
            cap *= 2;
        r->body = xrealloc(r->body, cap);
        r->body_cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(r->body + r->body_n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->body_n += (size_t)n;
}

static int body_out(const recsrc *r, char *buf, size_t cap)
{
    if (r->body_n + 1 > cap)
        return BF_ETOOBIG;
    memcpy(buf, r->body, r->body_n);
    buf[r->body_n] = '\0';
    return (int)r->body_n;
}

static rsym *symbol_named(recsrc *r, const char *name)
{
    int i = name ? find_symbol(r, name, strlen(name)) : -1;
    return i < 0 ? NULL : &r->syms[i];
}

static void put_book_side(recsrc *r, const rsym *s, book_side side, size_t n)
{
    if (n > r->cap_top) {
        r->top = xreallocarray(r->top, n, sizeof *r->top);
        r->cap_top = n;
    }
    size_t got = s->b ? book_top(s->b, side, r->top, n) : 0;
    for (size_t i = 0; i < got; i++) {
        char px[DEC_FMT_MAX], qty[DEC_FMT_MAX];
        dec_format(r->top[i].px, &s->px, px, sizeof px);
        dec_format(r->top[i].qty, &s->qty, qty, sizeof qty);
        body_put(r, "%s[\"%s\",\"%s\"]", i ? "," : "", px, qty);
    }
}

static size_t depth_levels(int limit)
{
    static const int valid[] = { 5, 10, 20, 50, 100, 500, 1000 };
    if (limit <= 0)
        return 500;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (limit <= valid[i])
            return (size_t)valid[i];
    return 1000;
}

static int recsrc_depth(source *src, const char *symbol, int limit, int64_t now_ms, char *buf,
                        size_t cap)
{
    recsrc *r = (recsrc *)src;
    (void)now_ms;
    rsym *s = symbol_named(r, symbol);
    if (!s)
        return BF_ENOENT;
    size_t n = depth_levels(limit);
    r->body_n = 0;
    body_put(r, "{\"lastUpdateId\":%lld,\"E\":%lld,\"T\":%lld,\"bids\":[", (long long)s->L,
             (long long)s->E, (long long)s->T);
    put_book_side(r, s, BOOK_BID, n);
    body_put(r, "],\"asks\":[");
    put_book_side(r, s, BOOK_ASK, n);
    body_put(r, "]}");
    return body_out(r, buf, cap);
}

/* Tick strings for a synthesised exchangeInfo: one unit of the last digit ("0.01", "1"). */
static void unit_string(unsigned decimals, char *out, size_t cap)
{
    if (decimals == 0)
        snprintf(out, cap, "1");
    else
        snprintf(out, cap, "0.%0*d", (int)decimals, 1);
}

static int recsrc_exchange_info(source *src, int64_t now_ms, char *buf, size_t cap)
{
    recsrc *r = (recsrc *)src;
    if (r->exinfo) {
        if (r->exinfo_len + 1 > cap)
            return BF_ETOOBIG;
        memcpy(buf, r->exinfo, r->exinfo_len + 1);
        return (int)r->exinfo_len;
    }
    model_symbol *list = xcalloc(r->nsyms ? r->nsyms : 1, sizeof *list);
    char(*ticks)[2][24] = xcalloc(r->nsyms ? r->nsyms : 1, sizeof *ticks);
    size_t n = 0;
    for (size_t i = 0; i < r->nsyms; i++) {
        const rsym *s = &r->syms[i];
        unit_string(s->have_scale ? s->px.decimals : 2, ticks[n][0], sizeof ticks[n][0]);
        unit_string(s->have_scale ? s->qty.decimals : 3, ticks[n][1], sizeof ticks[n][1]);
        list[n] =
            (model_symbol){ .name = s->name, .tick_size = ticks[n][0], .step_size = ticks[n][1] };
        n++;
    }
    int rc = model_write_exchange_info(list, n, now_ms, 2400, buf, cap);
    free(list);
    free(ticks);
    return rc;
}

static void put_book_ticker(recsrc *r, const rsym *s)
{
    char v[4][DEC_FMT_MAX] = { "0", "0", "0", "0" };
    int64_t T = s->bt_T, u = s->bt_u;
    if (s->have_bt) {
        for (int i = 0; i < 4; i++)
            snprintf(v[i], sizeof v[i], "%s", s->bt[i]);
    } else if (s->b) {
        book_level l;
        for (int side = 0; side < 2; side++)
            if (book_best(s->b, (book_side)side, &l)) {
                dec_format(l.px, &s->px, v[side * 2], sizeof v[0]);
                dec_format(l.qty, &s->qty, v[side * 2 + 1], sizeof v[0]);
            }
        T = s->T;
        u = s->L;
    }
    body_put(r,
             "{\"lastUpdateId\":%lld,\"symbol\":\"%s\",\"bidPrice\":\"%s\",\"bidQty\":\"%s\","
             "\"askPrice\":\"%s\",\"askQty\":\"%s\",\"time\":%lld}",
             (long long)u, s->name, v[0], v[1], v[2], v[3], (long long)T);
}

/* Without a recorded markPrice: the book's mid, a zero funding rate, the next 8 h boundary. */
static void put_premium(recsrc *r, const rsym *s, int64_t now_ms)
{
    char v[4][DEC_MAX_CHARS + 1] = { "0.00000000", "0.00000000", "0.00000000", "0.00000000" };
    int64_t next = (now_ms / FUNDING_MS + 1) * FUNDING_MS, t = now_ms;
    book_level b, a;
    if (s->have_mark) {
        for (int i = 0; i < 4; i++)
            snprintf(v[i], sizeof v[i], "%s", s->mark[i]);
        next = s->mark_next;
        t = s->mark_E;
    } else if (s->b && book_best_bid(s->b, &b) && book_best_ask(s->b, &a) &&
               s->px.decimals <= MARK_DEC) {
        int64_t p = 1;
        for (unsigned i = s->px.decimals; i < MARK_DEC; i++)
            p *= 10;
        dec_scale e8 = dec_scale_plain(MARK_DEC);
        for (int i = 0; i < 3; i++)
            dec_format((b.px + a.px) * p / 2, &e8, v[i], sizeof v[i]);
    }
    body_put(r,
             "{\"symbol\":\"%s\",\"markPrice\":\"%s\",\"indexPrice\":\"%s\","
             "\"estimatedSettlePrice\":\"%s\",\"lastFundingRate\":\"%s\",\"interestRate\":"
             "\"0.00010000\",\"nextFundingTime\":%lld,\"time\":%lld}",
             s->name, v[0], v[1], v[2], v[3], (long long)next, (long long)t);
}

static int per_symbol(recsrc *r, bool ticker, const char *symbol, int64_t now_ms, char *buf,
                      size_t cap)
{
    const rsym *one = symbol ? symbol_named(r, symbol) : NULL;
    if (symbol && !one)
        return BF_ENOENT;
    r->body_n = 0;
    if (!one)
        body_put(r, "[");
    for (size_t i = 0; i < r->nsyms; i++) {
        const rsym *s = &r->syms[i];
        if (one && s != one)
            continue;
        if (!one && i)
            body_put(r, ",");
        if (ticker)
            put_book_ticker(r, s);
        else
            put_premium(r, s, now_ms);
    }
    if (!one)
        body_put(r, "]");
    return body_out(r, buf, cap);
}

static int recsrc_book_ticker(source *src, const char *symbol, int64_t now_ms, char *buf,
                              size_t cap)
{
    return per_symbol((recsrc *)src, true, symbol, now_ms, buf, cap);
}

static int recsrc_premium_index(source *src, const char *symbol, int64_t now_ms, char *buf,
                                size_t cap)
{
    return per_symbol((recsrc *)src, false, symbol, now_ms, buf, cap);
}

/* ---- the rest of the interface -------------------------------------------------------------- */

static size_t recsrc_symbol_count(const source *src)
{
    return ((const recsrc *)src)->nsyms;
}

static const char *recsrc_symbol_at(const source *src, size_t i)
{
    const recsrc *r = (const recsrc *)src;
    return i < r->nsyms ? r->syms[i].name : NULL;
}

static size_t recsrc_max_body(const source *src)
{
    const recsrc *r = (const recsrc *)src;
    size_t depth = 256 + 2 * 1000 * (2 * DEC_FMT_MAX + 8);
    size_t per = r->nsyms * (512 + 8 * DEC_MAX_CHARS);
    size_t ei = r->exinfo ? r->exinfo_len + 1 : model_exchange_info_max(r->nsyms);
    size_t mx = depth > per ? depth : per;
    return mx > ei ? mx : ei;
}

static void recsrc_destroy(source *src)
{
    recsrc *r = (recsrc *)src;
    for (size_t i = 0; i < r->nsyms; i++)
        book_destroy(r->syms[i].b);
    for (size_t i = 0; i < r->nstreams; i++)
        free(r->streams[i].name);
    free(r->syms);
    free(r->streams);
    free(r->lines);
    free(r->arena);
    free(r->exinfo);
    free(r->body);
    free(r->top);
    symtab_destroy(r->info);
    stream_decoder_destroy(r->d);
    free(r);
}

static const source_ops recsrc_ops = {
    .advance = recsrc_advance,
    .check_stream = recsrc_check_stream,
    .want = recsrc_want,
    .depth = recsrc_depth,
    .exchange_info = recsrc_exchange_info,
    .book_ticker = recsrc_book_ticker,
    .premium_index = recsrc_premium_index,
    .set_quiet = recsrc_set_quiet,
    .symbol_count = recsrc_symbol_count,
    .symbol_at = recsrc_symbol_at,
    .max_body = recsrc_max_body,
    .destroy = recsrc_destroy,
};

/* ---- creation ------------------------------------------------------------------------------- */

static int load_exchange_info(recsrc *r, const char *path, char *why, size_t cap)
{
    int rc = 0;
    r->exinfo = file_read_all(path, &r->exinfo_len, &rc, why, cap);
    if (!r->exinfo)
        return rc;
    r->info = symtab_create();
    char reason[256];
    rc = rest_parse_exchange_info(r->exinfo, r->exinfo_len, r->info, NULL, NULL, reason,
                                  sizeof reason);
    if (rc < 0)
        return bf_why(why, cap, rc, "%s: %s", path, reason);
    return 0;
}

int recsrc_create(const recsrc_config *cfg, source **out, char *why, size_t why_cap)
{
    *out = NULL;
    if (!cfg || !cfg->path)
        return bf_why(why, why_cap, BF_EINVAL, "no recording given");
    recsrc *r = xcalloc(1, sizeof *r);
    r->base.ops = &recsrc_ops;
    r->speed = cfg->speed >= 0 ? cfg->speed : 1.0; /* negative (or NaN): the recorded pace */
    r->d = stream_decoder_create(NULL);
    int rc =
        cfg->exchange_info_path ? load_exchange_info(r, cfg->exchange_info_path, why, why_cap) : 0;
    char damage[512] = "";
    if (rc == 0)
        rc = read_file(r, cfg->path, why, why_cap, damage, sizeof damage);
    if (rc == 0 && r->nlines == 0)
        rc = bf_why(why, why_cap, BF_ECORRUPT, "%s: nothing usable%s%s", cfg->path,
                    damage[0] ? ": " : "", damage);
    if (rc < 0) {
        recsrc_destroy(&r->base);
        return rc;
    }
    seed_books(r);
    r->rec0_ns = r->lines[0].recv_ns;
    bf_why(why, why_cap, 0, "%s", damage[0] ? damage : "ok");
    *out = &r->base;
    return 0;
}
