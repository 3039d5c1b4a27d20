/* status: the status bar (see status.h). */
#include "widgets/status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "market/sync.h"

#define NS_PER_S    1000000000LL
#define MAX_SYMS    64 /* more never fit a row; the rest are not drawn */
#define MAX_ITEMS   (MAX_SYMS + 8)
#define MAX_PIECES  5
#define PIECE_CHARS 48
#define MESSAGE_MIN 12 /* a message cut shorter says nothing */

/* How far the row is abbreviated; each level keeps the cuts of the ones before. */
enum level {
    LV_FULL,          /* full names, two blanks between items */
    LV_TIGHT,         /* one blank */
    LV_SHORT_REST,    /* "w 84/2400", "REC" */
    LV_SHORT_CONN,    /* "pub▲ mkt▲" */
    LV_SHORT_SYMS,    /* "BTC LIVE", "ETH RESYNC 3s" */
    LV_SHORT_REPLAY,  /* "REPLAY 1x PAUSED 23:54:15 1/2" */
    LV_BARE_LIVE,     /* LIVE symbols but the selected one: the name alone */
    LV_NO_WEIGHT,     /* weight dropped (a ban stays, "BAN 0:42") */
    LV_BARE_OTHERS,   /* other symbols: name and age */
    LV_TINY_CONN,     /* "▲▲" */
    LV_DROP_LIVE,     /* LIVE symbols but the selected one dropped */
    LV_DROP_OTHERS,   /* every symbol but the selected one dropped */
    LV_BARE_SELECTED, /* the selected symbol: name and age */
    LV_DROP_COUNT,    /* the "+2" of dropped symbols */
    LV_DROP_CONN,
    LV_TINY_REPLAY, /* "REPLAY PAUSED" */
    LV_DROP_REC,
    LV_DROP_SELECTED,
    LV_DROP_PAUSED, /* what is left: DEMO and a ban, never dropped */
    LV_COUNT
};

typedef struct piece {
    char text[PIECE_CHARS];
    role ro;
} piece;

typedef struct item {
    piece p[MAX_PIECES];
    int np;
    bool right; /* right-aligned group: ban / weight, REC */
} item;

typedef struct bar {
    item items[MAX_ITEMS];
    int n;
    int gap;
} bar;

static item *add_item(bar *b, bool right)
{
    item *it = &b->items[b->n++];
    it->np = 0;
    it->right = right;
    return it;
}

static void add_piece(item *it, role ro, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_piece(item *it, role ro, const char *fmt, ...)
{
    if (it->np >= MAX_PIECES)
        return;
    piece *p = &it->p[it->np++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->text, sizeof p->text, fmt, ap);
    va_end(ap);
    p->ro = ro;
}

static int item_width(const item *it)
{
    int w = 0;
    for (int i = 0; i < it->np; i++)
        w += canvas_width_of(it->p[i].text);
    return w;
}

/* "12s", "2m05s", "1h02m", "3d04h". */
static void format_age(int64_t ns, char *buf, size_t cap)
{
    int64_t s = ns / NS_PER_S;
    if (s < 60)
        snprintf(buf, cap, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, cap, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, cap, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
    else
        snprintf(buf, cap, "%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
}

/* "0:42", "1:02:03": a ban's remaining time, rounded up. */
static void format_countdown(int64_t ns, char *buf, size_t cap)
{
    int64_t s = ns / NS_PER_S + (ns % NS_PER_S != 0);
    if (s < 3600)
        snprintf(buf, cap, "%" PRId64 ":%02" PRId64, s / 60, s % 60);
    else
        snprintf(buf, cap, "%" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s / 60 % 60, s % 60);
}

/* "BTCUSDT" -> "BTC": the quote asset says nothing when every symbol has the same one. */
static void base_name(const char *sym, char *buf, size_t cap)
{
    static const char *const quotes[] = { "USDT", "USDC", "BUSD" };
    size_t n = strnlen(sym, SYM_NAME_MAX);
    for (size_t i = 0; i < sizeof quotes / sizeof quotes[0]; i++) {
        size_t q = strlen(quotes[i]);
        if (n > q && memcmp(sym + n - q, quotes[i], q) == 0) {
            n -= q;
            break;
        }
    }
    snprintf(buf, cap, "%.*s", (int)n, sym);
}

static const char *state_short(sync_state st)
{
    switch (st) {
    case SYNC_SNAPSHOTTING:
        return "SNAP";
    case SYNC_LIVE:
        return "LIVE";
    case SYNC_RESYNCING:
        return "RESYNC";
    case SYNC_STALE:
        return "STALE";
    }
    return "?";
}

/* What a symbol's state looks like: its role, and the age worth showing (-1: none). A LIVE book
 * whose stream went quiet shows how long it has been silent, so a freeze never looks like data. */
static role symbol_look(const view_symbol *v, int64_t now, int64_t *age)
{
    int64_t since = v->state_since_mono_ns;
    role ro = ROLE_WARN;
    if (v->state == SYNC_LIVE) {
        ro = v->stream_stale ? ROLE_WARN : ROLE_OK;
        since = v->stream_stale ? v->last_msg_mono_ns : 0;
    } else if (v->state == SYNC_STALE) {
        ro = ROLE_ERROR;
        since = v->last_msg_mono_ns > 0 ? v->last_msg_mono_ns : since;
    }
    *age = since > 0 && now >= since ? now - since : -1;
    return ro;
}

/* Adds the symbol's item; returns the role of its state when the level drops it, else -1. */
static int add_symbol(bar *b, const view_symbol *v, bool selected, int lv, int64_t now)
{
    bool live = v->state == SYNC_LIVE && !v->stream_stale;
    if (selected ? lv >= LV_DROP_SELECTED : lv >= (live ? LV_DROP_LIVE : LV_DROP_OTHERS)) {
        int64_t unused;
        return (int)symbol_look(v, now, &unused);
    }
    int64_t age;
    role ro = symbol_look(v, now, &age);
    char name[SYM_NAME_MAX], agebuf[16] = "";
    if (lv >= LV_SHORT_SYMS)
        base_name(v->symbol, name, sizeof name);
    else
        snprintf(name, sizeof name, "%.*s", SYM_NAME_MAX - 1, v->symbol);
    if (age >= 0)
        format_age(age, agebuf, sizeof agebuf);
    bool bare = selected ? lv >= LV_BARE_SELECTED : lv >= (live ? LV_BARE_LIVE : LV_BARE_OTHERS);
    item *it = add_item(b, false);
    add_piece(it, selected ? ROLE_SELECTED : bare ? ro : ROLE_NORMAL, "%s", name);
    if (!bare)
        add_piece(it, ro, " %s",
                  lv >= LV_SHORT_SYMS ? state_short(v->state) : sync_state_name(v->state));
    if (agebuf[0])
        add_piece(it, ro, " %s", agebuf);
    return -1;
}

/* "+2": symbols that did not fit, in the colour of the worst of them. */
static void add_dropped(bar *b, int ndropped, role worst)
{
    if (ndropped > 0)
        add_piece(add_item(b, false), worst == ROLE_OK ? ROLE_DIM : worst, "+%d", ndropped);
}

static role worse(role a, role b)
{
    static const int rank[ROLE_COUNT] = { [ROLE_OK] = 1, [ROLE_WARN] = 2, [ROLE_ERROR] = 3 };
    return rank[b] > rank[a] ? b : a;
}

static void add_conn(bar *b, const theme *t, const view_global *g, int lv)
{
    static const char *const names[2][2] = { { "public", "market" }, { "pub", "mkt" } };
    item *it = add_item(b, false);
    for (int i = 0; i < 2; i++) {
        role ro = g->ws[i].up ? ROLE_OK : ROLE_ERROR;
        const char *arrow = g->ws[i].up ? t->up : t->down;
        const char *sep = i ? " " : "";
        if (lv >= LV_TINY_CONN)
            add_piece(it, ro, "%s", arrow);
        else if (lv >= LV_SHORT_CONN)
            add_piece(it, ro, "%s%s%s", sep, names[1][i], arrow);
        else
            add_piece(it, ro, "%s%s %s", sep, names[0][i], g->ws[i].up ? "up" : "down");
    }
}

/* "12.3M": bytes recorded so far, 3 significant digits. */
static void format_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char suffix[] = "BKMGTPE";
    int s = 0;
    uint64_t d = 1;
    while (n / d >= 1000 && s < 6) {
        d *= 1000;
        s++;
    }
    uint64_t whole = n / d;
    if (s == 0 || whole >= 100)
        snprintf(buf, cap, "%" PRIu64 "%c", whole, suffix[s]);
    else if (whole >= 10)
        snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "%c", whole, n % d / (d / 10), suffix[s]);
    else
        snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64 "%c", whole, n % d / (d / 100), suffix[s]);
}

static void add_rest(bar *b, const view_global *g, int64_t now, int lv)
{
    char buf[48];
    if (g->ban_until_mono_ns > now) {
        format_countdown(g->ban_until_mono_ns - now, buf, sizeof buf);
        add_piece(add_item(b, true), ROLE_ERROR, "%s %s", lv >= LV_NO_WEIGHT ? "BAN" : "BANNED",
                  buf);
    } else if (lv < LV_NO_WEIGHT) {
        item *it = add_item(b, true);
        bool high =
            g->weight_limit > 0 && (int64_t)g->used_weight * 5 >= (int64_t)g->weight_limit * 4;
        add_piece(it, ROLE_DIM, "%s ", lv >= LV_SHORT_REST ? "w" : "weight");
        if (g->weight_limit > 0)
            add_piece(it, high ? ROLE_WARN : ROLE_NORMAL, "%d/%d", g->used_weight, g->weight_limit);
        else
            add_piece(it, ROLE_NORMAL, "%d", g->used_weight);
    }
    if (g->recording && lv < LV_DROP_REC) {
        format_bytes(g->recorded_bytes, buf, sizeof buf);
        if (lv >= LV_SHORT_REST)
            add_piece(add_item(b, true), ROLE_HEADER, "REC");
        else
            add_piece(add_item(b, true), ROLE_HEADER, "REC %s", buf);
    }
}

/* "2024-08-08 23:54:15.123" (UTC), or "23:54:15" when short. */
static void format_recording_time(int64_t ns, bool shrt, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / NS_PER_S);
    struct tm tm;
    if (ns <= 0 || !gmtime_r(&secs, &tm)) {
        snprintf(buf, cap, "--:--:--");
        return;
    }
    char whole[32];
    strftime(whole, sizeof whole, shrt ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    if (shrt)
        snprintf(buf, cap, "%s", whole);
    else
        snprintf(buf, cap, "%s.%03d", whole, (int)(ns % NS_PER_S / 1000000));
}

static void add_replay(bar *b, const status_replay *r, int lv)
{
    item *it = add_item(b, false);
    add_piece(it, ROLE_DEMO, "REPLAY");
    bool playing = !strcmp(r->state, "playing");
    if (lv < LV_TINY_REPLAY)
        add_piece(it, ROLE_HEADER, " %s", r->speed);
    if (!playing || lv < LV_TINY_REPLAY)
        add_piece(it, playing ? ROLE_OK : ROLE_WARN, " %s", r->state);
    if (lv >= LV_TINY_REPLAY)
        return;
    char when[48];
    format_recording_time(r->position_ns, lv >= LV_SHORT_REPLAY, when, sizeof when);
    add_piece(it, ROLE_NORMAL, " %s", when);
    add_piece(it, ROLE_DIM, lv >= LV_SHORT_REPLAY ? " %zu/%zu" : " file %zu/%zu", r->file,
              r->nfiles);
}

static void build_bar(bar *b, const status_input *in, const theme *t, int lv)
{
    b->n = 0;
    b->gap = lv >= LV_TIGHT ? 1 : 2;
    if (in->demo)
        add_piece(add_item(b, false), ROLE_DEMO, "DEMO");
    if (in->replay)
        add_replay(b, in->replay, lv);
    if (in->paused && lv < LV_DROP_PAUSED)
        add_piece(add_item(b, false), ROLE_WARN, in->replay ? "FROZEN" : "PAUSED");
    if (in->g && lv < LV_DROP_CONN)
        add_conn(b, t, in->g, lv);
    size_t n = in->syms ? (in->nsyms < MAX_SYMS ? in->nsyms : MAX_SYMS) : 0;
    int ndropped = 0;
    role worst = ROLE_OK;
    for (size_t i = 0; i < n; i++) {
        int dropped =
            in->syms[i] ? add_symbol(b, in->syms[i], i == in->selected, lv, in->now_mono_ns) : -1;
        if (dropped >= 0 && i != in->selected) {
            ndropped++;
            worst = worse(worst, (role)dropped);
        }
    }
    if (lv < LV_DROP_COUNT)
        add_dropped(b, ndropped, worst);
    if (in->g)
        add_rest(b, in->g, in->now_mono_ns, lv);
}

static int group_width(const bar *b, bool right)
{
    int w = 0, k = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->items[i].right != right)
            continue;
        w += (k++ ? b->gap : 0) + item_width(&b->items[i]);
    }
    return w;
}

static int bar_width(const bar *b)
{
    int l = group_width(b, false), r = group_width(b, true);
    return l + r + (l && r ? b->gap : 0);
}

static int draw_group(canvas *c, rect row, const bar *b, bool right, int x)
{
    int k = 0;
    for (int i = 0; i < b->n; i++) {
        const item *it = &b->items[i];
        if (it->right != right)
            continue;
        x += k++ ? b->gap : 0;
        for (int j = 0; j < it->np; j++)
            x += canvas_put(c, x, row.y, row, it->p[j].ro, it->p[j].text);
    }
    return x;
}

static void draw_bar(canvas *c, rect row, const theme *t, const status_input *in, bool message)
{
    bar b;
    int lv = LV_FULL;
    for (; lv < LV_COUNT - 1; lv++) {
        build_bar(&b, in, t, lv);
        if (bar_width(&b) <= row.w)
            break;
    }
    build_bar(&b, in, t, lv);
    int left_end = draw_group(c, row, &b, false, row.x);
    int rw = group_width(&b, true), end = row.x + row.w;
    int mx = left_end + (left_end > row.x ? b.gap : 0); /* where free space starts */
    bool right = rw > 0 && end - rw >= mx;
    if (right)
        draw_group(c, row, &b, true, end - rw);
    else if (rw > 0 && left_end == row.x) /* a ban alone: its start rather than nothing */
        draw_group(c, row, &b, true, row.x);
    /* A single row carries the message in what is left between the groups. */
    int room = (right ? end - rw - b.gap : end) - mx;
    if (message && in->message && in->message[0] && room >= MESSAGE_MIN)
        canvas_put_cut(c, mx, row.y, room, row, ROLE_ERROR, t, in->message);
}

/* The second row: the message, else why the selected book is not LIVE, else why a route is down. */
static void draw_detail(canvas *c, rect row, const theme *t, const status_input *in)
{
    static const char *const routes[2] = { "public", "market" };
    char buf[2 * VIEW_REASON_MAX + 64];
    const view_symbol *sel = in->syms && in->selected < in->nsyms ? in->syms[in->selected] : NULL;
    if (in->message && in->message[0]) {
        canvas_put_cut(c, row.x, row.y, row.w, row, ROLE_ERROR, t, in->message);
        return;
    }
    if (sel && sel->state != SYNC_LIVE && sel->reason[0]) {
        snprintf(buf, sizeof buf, "%.*s %s: %.*s", SYM_NAME_MAX, sel->symbol,
                 sync_state_name(sel->state), VIEW_REASON_MAX, sel->reason);
        canvas_put_cut(c, row.x, row.y, row.w, row,
                       sel->state == SYNC_STALE ? ROLE_ERROR : ROLE_WARN, t, buf);
        return;
    }
    for (int i = 0; in->g && i < 2; i++) {
        if (!in->g->ws[i].up && in->g->ws[i].detail[0]) {
            snprintf(buf, sizeof buf, "%s down: %.*s", routes[i], VIEW_REASON_MAX,
                     in->g->ws[i].detail);
            canvas_put_cut(c, row.x, row.y, row.w, row, ROLE_ERROR, t, buf);
            return;
        }
    }
}

void status_draw(canvas *c, rect r, const theme *t, const status_input *in)
{
    if (rect_empty(r))
        return;
    canvas_clear(c, r, ROLE_NORMAL);
    if (!in)
        return;
    rect row = { r.x, r.y, r.w, 1 };
    draw_bar(c, row, t, in, r.h == 1);
    if (r.h >= 2)
        draw_detail(c, (rect){ r.x, r.y + 1, r.w, 1 }, t, in);
}
