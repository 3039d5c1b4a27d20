/*
 * player: recordings -> offline engine, paced (see player.h).
 *
 * One thread owns the reader, the decoder and the symbol table; the mutex guards only the controls
 * and the status. The thread holds the mutex while it classifies and feeds a line (microseconds:
 * feeding never blocks) and lets go of it while it reads, waits for the clock, or waits for the
 * engine (barriers), so the UI's status copy never waits long.
 *
 * The playback clock: while playing at a finite speed, recording time = anchor_rec + (now -
 * anchor_clk) * speed. Pausing stores the position reached (hold_ns), and every line at or before
 * it is fed while paused; resuming, changing speed, a step or a jump re-anchor at the position, so
 * the recording time never jumps.
 */
#include "feed/player.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/stream.h"
#include "feed/recfmt.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/xalloc.h"

#define MARKER_PROBE     32 /* bfmon writes the "bfmon" key first */
#define DEFAULT_BARRIER  ((size_t)4 << 20)
#define WAIT_CAP_NS      (CLK_NS_PER_S / 2) /* the longest single wait: the clock is read again */
#define JUMP_CHECK_LINES 128                /* a jump looks at the books' states this often */

typedef struct psym {
    char name[SYM_NAME_MAX];
    bool in_engine; /* the engine watches it */
    bool refused;   /* engine_add_symbol failed: not asked again */
    bool seen;      /* data of it was read (the snapshot attribution rule) */
    bool has_depth;
    bool dirty;     /* fed since the last barrier */
    bool was_live;  /* during a jump: LIVE at the last look */
    int64_t last_u; /* u of the last diff depth event read (0: none) */
} psym;

/* What one line did, for the step and jump rules. */
typedef struct outcome {
    int sym;    /* index of the symbol fed, or -1 */
    bool depth; /* a depth update */
    bool stop;  /* a jump stops here (why says why) */
    char why[200];
} outcome;

struct player {
    /* set-up: fixed once created */
    char **files;
    size_t nfiles;
    size_t max_line, barrier_bytes;
    int64_t (*now)(void *ctx);
    void *now_ctx;
    char *exchange_info;
    size_t exchange_info_len;
    bool header;
    size_t nprescan; /* symbols known before start (player_symbol_at) */

    /* the player thread's own */
    engine *e;
    psym syms[ENGINE_MAX_SYMBOLS]; /* never moves: the prescan names stay readable */
    size_t nsyms;
    stream_decoder *dec;
    recfmt_reader *rd;
    size_t next_file; /* index of the next file to open */
    const char *cur_file;
    recfmt_line line;
    bool rest_pending;
    char rest_symbol[SYM_NAME_MAX];
    size_t fed_bytes;
    view_symbol *view; /* scratch for the jump's state checks */
    uint64_t jump_lines;
    bool jump_init;
    pthread_t th;
    bool started, joined;

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit, paused, step_req, jump_req, ended, have_line;
    char step_symbol[SYM_NAME_MAX];
    double speed;
    bool anchored;
    int64_t anchor_rec, anchor_clk;
    int64_t hold_ns;     /* position while not running */
    int64_t last_fed_ns; /* latest receive time handled */
    player_status st;
};

/* ---- clocks and messages ------------------------------------------------------------------- */

static int64_t player_now(const player *p)
{
    return p->now ? p->now(p->now_ctx) : clk_mono_ns();
}

static void note(player *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Under mu: the status message. */
static void note(player *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->st.message, sizeof p->st.message, fmt, ap);
    va_end(ap);
    p->st.message_seq++;
}

/* Wait on cv for at most ns (capped), mu held. */
static void wait_for(player *p, int64_t ns)
{
    if (ns > WAIT_CAP_NS)
        ns = WAIT_CAP_NS;
    if (ns < 0)
        ns = 0;
    int64_t at = clk_mono_ns() + ns;
    struct timespec ts = { at / CLK_NS_PER_S, at % CLK_NS_PER_S };
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

static bool paced(const player *p)
{
    return !isinf(p->speed) && !p->paused && !p->step_req && !p->jump_req && !p->ended;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Under mu: the recording time of the playback clock. */
static int64_t position(const player *p, int64_t now)
{
    int64_t base = max64(p->hold_ns, p->last_fed_ns);
    if (!paced(p) || !p->anchored)
        return base ? base : p->st.first_ns;
    int64_t v = p->anchor_rec + (int64_t)((double)(now - p->anchor_clk) * p->speed);
    if (p->have_line && v > max64(p->line.recv_ns, p->last_fed_ns))
        v = max64(p->line.recv_ns, p->last_fed_ns);
    return max64(v, p->last_fed_ns);
}

/* Under mu: stop the clock where it is (before a pause, a speed change, a step or a jump). */
static void hold(player *p)
{
    p->hold_ns = position(p, player_now(p));
    p->anchored = false;
}

/* ---- symbols --------------------------------------------------------------------------------- */

static bool upper_name(const char *s, size_t n, char *out)
{
    if (!s || n == 0 || n >= SYM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)toupper((unsigned char)s[i]);
        if (!isalnum((unsigned char)c) && c != '_')
            return false;
        out[i] = c;
    }
    out[n] = '\0';
    return true;
}

static int find_sym(const player *p, const char *name)
{
    for (size_t i = 0; i < p->nsyms; i++)
        if (!strcmp(p->syms[i].name, name))
            return (int)i;
    return -1;
}

/* The table index of a symbol (added when new), or -1 for a bad name or a full table. */
static int table_sym(player *p, const char *s, size_t n)
{
    char name[SYM_NAME_MAX];
    if (!upper_name(s, n, name))
        return -1;
    int i = find_sym(p, name);
    if (i >= 0 || p->nsyms == ENGINE_MAX_SYMBOLS)
        return i;
    psym *ps = &p->syms[p->nsyms];
    memset(ps, 0, sizeof *ps);
    memcpy(ps->name, name, sizeof name);
    return (int)p->nsyms++;
}

/* Player thread, mu held: the symbol, watched by the engine (added when new). -1 when the engine
 * refuses it (said once). */
static int engine_sym(player *p, const char *s, size_t n)
{
    int i = table_sym(p, s, n);
    if (i < 0 || p->syms[i].in_engine)
        return i;
    psym *ps = &p->syms[i];
    if (ps->refused)
        return -1;
    char why[256] = "";
    int rc = engine_add_symbol(p->e, ps->name, why, sizeof why);
    if (rc < 0) {
        ps->refused = true;
        note(p, "%s is not replayed: %s", ps->name, why[0] ? why : bf_strerror(rc));
        return -1;
    }
    ps->in_engine = true;
    return i;
}

static size_t seen_count(const player *p, int *only)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nsyms; i++)
        if (p->syms[i].seen) {
            n++;
            *only = (int)i;
        }
    return n;
}

/* ---- event lines ----------------------------------------------------------------------------- */

static bool is_event_line(const char *json, size_t len)
{
    size_t head = len < MARKER_PROBE ? len : MARKER_PROBE;
    return len > 0 && json[0] == '{' && memmem(json, head, "\"bfmon\"", 7);
}

/* The kinds a jump stops at. */
static bool is_trouble(const char *kind)
{
    return !strcmp(kind, "gap") || !strcmp(kind, "resync") || !strcmp(kind, "disconnect") ||
           !strcmp(kind, "dropped");
}

static void describe_event(json_t *obj, const char *kind, char *buf, size_t cap)
{
    const char *sym = json_string_value(json_object_get(obj, "symbol"));
    const char *reason = json_string_value(json_object_get(obj, "reason"));
    const char *url = json_string_value(json_object_get(obj, "url"));
    snprintf(buf, cap, "%s%s%s%s%s", kind, sym ? " " : "", sym ? sym : "",
             reason || url ? ": " : "",
             reason ? reason
             : url  ? url
                    : "");
}

/* mu held: a bfmon event line. */
static void on_event_line(player *p, const recfmt_line *l, outcome *o)
{
    json_t *obj = json_loadb(l->json, l->len, 0, NULL);
    const char *kind = json_string_value(json_object_get(obj, "bfmon"));
    if (!kind) {
        p->st.undecodable++;
        note(p, "%s line %llu: not a bfmon event line", p->cur_file,
             (unsigned long long)l->line_no);
        json_decref(obj);
        return;
    }
    p->st.events++;
    if (!strcmp(kind, "rest")) {
        const char *sym = json_string_value(json_object_get(obj, "symbol"));
        if (sym && upper_name(sym, strlen(sym), p->rest_symbol))
            p->rest_pending = true;
    } else if (is_trouble(kind)) {
        o->stop = true;
        describe_event(obj, kind, o->why, sizeof o->why);
    }
    json_decref(obj);
}

/* ---- data lines ------------------------------------------------------------------------------ */

static void mark_fed(player *p, int i, size_t len, outcome *o)
{
    p->syms[i].dirty = true;
    p->fed_bytes += len;
    p->st.fed++;
    o->sym = i;
}

static void feed_snapshot(player *p, const recfmt_line *l, bool marked, outcome *o)
{
    int only = -1;
    int i = -1;
    if (marked)
        i = engine_sym(p, p->rest_symbol, strlen(p->rest_symbol));
    else if (seen_count(p, &only) == 1)
        i = p->syms[only].in_engine ? only : -1;
    if (i < 0 && !marked) {
        p->st.attribution_errors++;
        note(p, "%s line %llu: REST snapshot without a symbol (no bfmon \"rest\" marker before it)",
             p->cur_file, (unsigned long long)l->line_no);
        return;
    }
    if (i < 0 || engine_feed_rest_depth(p->e, p->syms[i].name, l->json, l->len, l->recv_ns,
                                        clk_mono_ns()) < 0) {
        p->st.unroutable++;
        return;
    }
    mark_fed(p, i, l->len, o);
}

/* The symbol a stream message is about: its first event's, else its stream name's. */
static bf_str message_symbol(const stream_msg *m)
{
    bf_str s = m->nevents ? ev_symbol(&m->events[0]) : (bf_str){ NULL, 0 };
    if (!s.p && m->stream.p) {
        const char *at = memchr(m->stream.p, '@', m->stream.n);
        s = (bf_str){ m->stream.p, at ? (uint32_t)(at - m->stream.p) : m->stream.n };
    }
    return s;
}

/* Depth bookkeeping: the step rule and the chain check of a jump. */
static void note_depth(psym *ps, const ev *e, outcome *o)
{
    const ev_depth *d = &e->u.depth;
    ps->has_depth = true;
    o->depth = true;
    if (d->partial)
        return;
    if (ps->last_u && (e->has & EV_HAS_PU) && d->pu != ps->last_u && !o->stop) {
        o->stop = true;
        snprintf(o->why, sizeof o->why, "gap in %s's depth stream (pu %lld, previous u %lld)",
                 ps->name, (long long)d->pu, (long long)ps->last_u);
    }
    ps->last_u = d->u;
}

static void feed_stream(player *p, const recfmt_line *l, const stream_msg *m, outcome *o)
{
    bf_str s = message_symbol(m);
    int i = s.p ? engine_sym(p, s.p, s.n) : -1;
    if (i < 0) {
        p->st.unroutable++;
        return;
    }
    psym *ps = &p->syms[i];
    ps->seen = true;
    for (size_t k = 0; k < m->nevents; k++)
        if (m->events[k].kind == EV_DEPTH)
            note_depth(ps, &m->events[k], o);
    if (engine_feed_message(p->e, ps->name, l->json, l->len, l->recv_ns, clk_mono_ns()) < 0) {
        p->st.unroutable++;
        return;
    }
    if (o->depth)
        p->st.depth_fed++;
    mark_fed(p, i, l->len, o);
}

/* mu held: classify the pending line and feed it. */
static void feed_line(player *p, outcome *o)
{
    const recfmt_line *l = &p->line;
    bool marked = p->rest_pending;
    p->rest_pending = false;
    o->sym = -1;
    if (is_event_line(l->json, l->len)) {
        on_event_line(p, l, o);
        return;
    }
    stream_msg msg;
    int rc = stream_decode(p->dec, l->json, l->len, &msg);
    if (rc == BF_EUNSUPPORTED) {
        p->st.unsupported++;
    } else if (rc < 0) {
        p->st.undecodable++;
        note(p, "%s line %llu: cannot decode: %s", p->cur_file, (unsigned long long)l->line_no,
             stream_decoder_error(p->dec));
    } else if (msg.nevents && msg.events[0].kind == EV_SNAPSHOT) {
        feed_snapshot(p, l, marked, o);
    } else {
        feed_stream(p, l, &msg, o);
    }
}

/* ---- waiting for the engine ------------------------------------------------------------------- */

/* mu held (released meanwhile): wait until the workers applied everything fed so far. A book copy
 * travels on the symbol's ring behind what was fed, so its answer means the ring is drained. */
static void barrier(player *p)
{
    bool any = false;
    for (size_t i = 0; i < p->nsyms; i++)
        any |= p->syms[i].dirty;
    p->fed_bytes = 0;
    if (!any)
        return;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nsyms; i++) { /* the table is this thread's: no lock needed */
        if (!p->syms[i].dirty)
            continue;
        p->syms[i].dirty = false;
        book_level top;
        engine_book_copy(p->e, p->syms[i].name, BOOK_BID, &top, 1, NULL);
    }
    pthread_mutex_lock(&p->mu);
}

/* mu held (released meanwhile): the books' states; a book that was LIVE and is not any more stops
 * the jump (unless init: then only remember the states). */
static void check_states(player *p, bool init, outcome *o)
{
    barrier(p);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nsyms; i++) {
        psym *ps = &p->syms[i];
        if (!ps->in_engine || engine_view_symbol(p->e, ps->name, p->view) < 0)
            continue;
        bool live = p->view->state == SYNC_LIVE;
        if (!init && ps->was_live && !live && !o->stop) {
            o->stop = true;
            snprintf(o->why, sizeof o->why, "%s left LIVE: %s", ps->name, p->view->reason);
        }
        ps->was_live = live;
    }
    pthread_mutex_lock(&p->mu);
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Without mu: open the next file that opens. false when none is left. Problems go to why. */
static bool open_next(player *p, char *why, size_t cap, bool *failed)
{
    while (p->next_file < p->nfiles) {
        const char *path = p->files[p->next_file++];
        recfmt_config cfg = { .max_line = p->max_line };
        char err[200] = "";
        if (recfmt_open(path, &cfg, &p->rd, err, sizeof err) == 0) {
            p->cur_file = path;
            p->rest_pending = false; /* a marker never reaches into the next file */
            return true;
        }
        snprintf(why, cap, "cannot open %s: %s", path, err);
        *failed = true;
        return true; /* report this one; the loop comes back for the next */
    }
    return false;
}

enum { RD_LINE = 1, RD_DONE = 0, RD_BAD = -1, RD_FILE_ERR = -2, RD_AGAIN = -3, RD_TORN = -4 };

/* Without mu: the next line into p->line. */
static int read_next(player *p, char *why, size_t cap)
{
    if (!p->rd) {
        bool failed = false;
        if (!open_next(p, why, cap, &failed))
            return RD_DONE;
        return failed ? RD_FILE_ERR : RD_AGAIN;
    }
    int rc = recfmt_next(p->rd, &p->line);
    if (rc == 1)
        return RD_LINE;
    if (rc == BF_ESYNTAX || rc == BF_ETOOBIG) {
        snprintf(why, cap, "%s: %s", p->cur_file, recfmt_error(p->rd));
        return RD_BAD;
    }
    recfmt_stats rs;
    recfmt_get_stats(p->rd, &rs);
    if (rc < 0 || rs.torn_tail) /* damage, or a compressed file cut while being written */
        snprintf(why, cap, "%s: %s", p->cur_file, recfmt_error(p->rd));
    recfmt_close(p->rd);
    p->rd = NULL;
    return rc < 0 ? RD_FILE_ERR : rs.torn_tail ? RD_TORN : RD_AGAIN;
}

/* mu held: every file read. Wait for the engine, then END; a step or jump under way is over. */
static void finish(player *p)
{
    barrier(p);
    p->ended = true;
    p->hold_ns = max64(p->hold_ns, p->last_fed_ns);
    p->anchored = false;
    if (p->step_req)
        p->st.steps_done++;
    if (p->jump_req) {
        p->st.jumps_done++;
        note(p, "no gap, resync or disconnect up to the end of the recording");
    }
    p->step_req = p->jump_req = p->jump_init = false;
    p->st.file = p->nfiles;
}

/* mu held (released while reading). */
static void read_ahead(player *p)
{
    char why[PLAYER_MESSAGE_MAX] = "";
    pthread_mutex_unlock(&p->mu);
    int rc = read_next(p, why, sizeof why);
    pthread_mutex_lock(&p->mu);
    if (rc == RD_LINE) {
        p->have_line = true;
        p->st.file = p->next_file;
        if (!p->st.first_ns)
            p->st.first_ns = p->line.recv_ns;
    } else if (rc == RD_BAD) {
        p->st.bad_lines++;
        note(p, "%s", why);
    } else if (rc == RD_FILE_ERR || rc == RD_TORN) {
        if (rc == RD_TORN)
            p->st.torn_tails++;
        else
            p->st.read_errors++;
        note(p, "%s", why);
    } else if (rc == RD_DONE) {
        finish(p);
    }
}

/* ---- playing ------------------------------------------------------------------------------- */

/* mu held: true when the pending line may go now; else waits a while and returns false. */
static bool line_due(player *p)
{
    if (p->step_req || p->jump_req)
        return true;
    if (p->paused) {
        /* The clock stopped at or past this line (it had come due, the thread had not fed it yet):
         * the time on screen says it is applied, so apply it, and a step then moves on from it. */
        if (p->line.recv_ns <= p->hold_ns)
            return true;
        p->st.wait_until_ns = 0;
        p->st.wakeups++;
        wait_for(p, WAIT_CAP_NS);
        return false;
    }
    if (isinf(p->speed))
        return true;
    int64_t now = player_now(p);
    if (!p->anchored) {
        int64_t at = max64(p->hold_ns, p->last_fed_ns);
        p->anchor_rec = at ? at : p->line.recv_ns;
        p->anchor_clk = now;
        p->anchored = true;
    }
    int64_t due =
        p->anchor_clk + (int64_t)((double)(p->line.recv_ns - p->anchor_rec) / p->speed + 0.5);
    if (now >= due) {
        p->st.wait_until_ns = 0;
        return true;
    }
    p->st.wait_until_ns = due;
    p->st.wakeups++;
    wait_for(p, due - now);
    return false;
}

/* mu held: a step or a jump is over: pause at the last line. */
static void settle(player *p)
{
    barrier(p);
    p->paused = true;
    p->hold_ns = p->last_fed_ns;
    p->anchored = false;
}

static bool step_complete(const player *p, const outcome *o)
{
    int target = find_sym(p, p->step_symbol);
    if (target < 0 || !p->syms[target].has_depth)
        return true; /* no depth stream: one line is a step */
    return o->depth && o->sym == target;
}

static void jump_rules(player *p, outcome *o)
{
    if (!p->jump_init) {
        p->jump_init = true;
        p->jump_lines = 0;
        outcome none = { .sym = -1 };
        check_states(p, true, &none);
    }
    if (!o->stop && ++p->jump_lines % JUMP_CHECK_LINES == 0)
        check_states(p, false, o);
    if (!o->stop || !p->jump_req)
        return;
    p->jump_req = false;
    p->jump_init = false;
    settle(p);
    p->st.jumps_done++;
    char at[40];
    time_t secs = (time_t)(p->last_fed_ns / CLK_NS_PER_S);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(at, sizeof at, "%H:%M:%S", &tm);
    note(p, "stopped at %s.%03lld: %s", at,
         (long long)(p->last_fed_ns % CLK_NS_PER_S / CLK_NS_PER_MS), o->why);
}

/* mu held: feed the pending line, then apply the step and jump rules. */
static void play_line(player *p)
{
    outcome o = { .sym = -1 };
    bool stepping = p->step_req;
    feed_line(p, &o);
    p->st.lines++;
    p->have_line = false;
    p->last_fed_ns = max64(p->last_fed_ns, p->line.recv_ns);
    if (p->fed_bytes >= p->barrier_bytes)
        barrier(p);
    if (stepping && p->step_req && step_complete(p, &o)) {
        p->step_req = false;
        settle(p);
        p->st.steps_done++;
    }
    if (p->jump_req)
        jump_rules(p, &o);
}

static void *player_main(void *arg)
{
    player *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        if (p->ended)
            wait_for(p, WAIT_CAP_NS);
        else if (!p->have_line)
            read_ahead(p);
        else if (line_due(p))
            play_line(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- prescan --------------------------------------------------------------------------------- */

static void header_symbols(player *p, json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        int k = s ? table_sym(p, s, strlen(s)) : -1;
        if (k >= 0)
            p->syms[k].has_depth = true; /* bfmon records every symbol's depth */
    }
}

/* The first line of the first file: a header names the symbols and may carry exchangeInfo. */
static bool take_header(player *p, const recfmt_line *l)
{
    if (!is_event_line(l->json, l->len))
        return false;
    json_t *obj = json_loadb(l->json, l->len, 0, NULL);
    const char *kind = json_string_value(json_object_get(obj, "bfmon"));
    bool ok = kind && !strcmp(kind, "header");
    if (ok) {
        header_symbols(p, json_object_get(obj, "symbols"));
        json_t *info = json_object_get(obj, "exchange_info");
        if (json_is_object(info)) {
            p->exchange_info = json_dumps(info, JSON_COMPACT);
            p->exchange_info_len = p->exchange_info ? strlen(p->exchange_info) : 0;
        }
        p->header = true;
    }
    json_decref(obj);
    return ok;
}

static void scan_line(player *p, const recfmt_line *l)
{
    if (is_event_line(l->json, l->len)) {
        json_t *obj = json_loadb(l->json, l->len, 0, NULL);
        const char *sym = json_string_value(json_object_get(obj, "symbol"));
        if (sym)
            table_sym(p, sym, strlen(sym));
        json_decref(obj);
        return;
    }
    stream_msg m;
    if (stream_decode(p->dec, l->json, l->len, &m) < 0 ||
        (m.nevents && m.events[0].kind == EV_SNAPSHOT))
        return;
    bf_str s = message_symbol(&m);
    int k = s.p ? table_sym(p, s.p, s.n) : -1;
    for (size_t i = 0; k >= 0 && i < m.nevents; i++)
        if (m.events[i].kind == EV_DEPTH)
            p->syms[k].has_depth = true;
}

/* Returns false when the header made further scanning needless. */
static bool scan_file(player *p, recfmt_reader *rd, bool first)
{
    recfmt_line l;
    int rc;
    for (size_t n = 0; n < PLAYER_PRESCAN_LINES && (rc = recfmt_next(rd, &l)) != 0;) {
        if (rc == BF_ESYNTAX || rc == BF_ETOOBIG)
            continue;
        if (rc < 0)
            break;
        if (first && n == 0 && take_header(p, &l))
            return false;
        n++;
        scan_line(p, &l);
    }
    return true;
}

static int prescan(player *p, char *why, size_t cap)
{
    for (size_t i = 0; i < p->nfiles; i++) {
        recfmt_reader *rd = NULL;
        recfmt_config cfg = { .max_line = p->max_line };
        char err[200] = "";
        int rc = recfmt_open(p->files[i], &cfg, &rd, err, sizeof err);
        if (rc < 0)
            return bf_why(why, cap, rc, "cannot open %s: %s", p->files[i], err);
        bool more = scan_file(p, rd, i == 0);
        recfmt_close(rd);
        if (!more)
            break;
    }
    for (size_t i = 0; i < p->nsyms; i++)
        p->syms[i].in_engine = true; /* the caller creates the engine with these */
    p->nprescan = p->nsyms;
    return 0;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

int player_create(const player_config *cfg, player **out, char *why, size_t why_cap)
{
    *out = NULL;
    if (!cfg || !cfg->files || !cfg->nfiles)
        return bf_why(why, why_cap, BF_EINVAL, "no recording to play");
    if (cfg->speed < 0 || (cfg->speed > 0 && !isinf(cfg->speed) &&
                           (cfg->speed < PLAYER_SPEED_MIN || cfg->speed > PLAYER_SPEED_TOP)))
        return bf_why(why, why_cap, BF_EINVAL, "speed %g is not within 0.1 to 100 or max",
                      cfg->speed);
    player *p = xcalloc(1, sizeof *p);
    p->files = xcalloc(cfg->nfiles, sizeof *p->files);
    for (size_t i = 0; i < cfg->nfiles; i++)
        p->files[i] = xstrdup(cfg->files[i]);
    p->nfiles = cfg->nfiles;
    p->max_line = cfg->max_line;
    p->barrier_bytes = cfg->barrier_bytes ? cfg->barrier_bytes : DEFAULT_BARRIER;
    p->now = cfg->now;
    p->now_ctx = cfg->now_ctx;
    p->speed = cfg->speed > 0 ? cfg->speed : 1.0;
    p->paused = cfg->start_paused;
    p->dec = stream_decoder_create(NULL);
    p->view = xmalloc(sizeof *p->view);
    p->st.nfiles = cfg->nfiles;
    p->st.file = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = prescan(p, why, why_cap);
    if (rc < 0) {
        player_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void player_destroy(player *p)
{
    if (!p)
        return;
    player_stop(p);
    if (p->rd)
        recfmt_close(p->rd);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->exchange_info);
    free(p->view);
    stream_decoder_destroy(p->dec);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

size_t player_symbol_count(const player *p)
{
    return p->nprescan;
}

const char *player_symbol_at(const player *p, size_t i)
{
    return i < p->nprescan ? p->syms[i].name : NULL;
}

const char *player_exchange_info(const player *p, size_t *len)
{
    if (len)
        *len = p->exchange_info_len;
    return p->exchange_info;
}

bool player_has_header(const player *p)
{
    return p->header;
}

int player_start(player *p, engine *e)
{
    if (p->started)
        return BF_ESTATE;
    p->e = e;
    p->started = true;
    if (pthread_create(&p->th, NULL, player_main, p) != 0)
        abort(); /* like an allocation failure */
    return 0;
}

void player_stop(player *p)
{
    if (!p->started || p->joined)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    p->joined = true;
}

/* ---- controls ---------------------------------------------------------------------------------- */

static void set_paused_locked(player *p, bool paused)
{
    if (paused == p->paused)
        return;
    if (paused)
        hold(p);
    p->paused = paused;
    p->anchored = false;
}

void player_pause(player *p, bool paused)
{
    pthread_mutex_lock(&p->mu);
    set_paused_locked(p, paused);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void player_toggle_pause(player *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->step_req || p->jump_req) { /* a key during a step or jump: stop there */
        p->step_req = p->jump_req = p->jump_init = false;
        p->hold_ns = p->last_fed_ns;
        p->paused = true;
        p->anchored = false;
    } else {
        set_paused_locked(p, !p->paused);
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void player_set_speed(player *p, double speed)
{
    if (!(speed > 0))
        return;
    pthread_mutex_lock(&p->mu);
    hold(p);
    p->speed = speed;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void player_step(player *p, const char *symbol)
{
    pthread_mutex_lock(&p->mu);
    if (!p->ended) {
        set_paused_locked(p, true);
        p->step_req = true;
        snprintf(p->step_symbol, sizeof p->step_symbol, "%s", symbol ? symbol : "");
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void player_jump(player *p)
{
    pthread_mutex_lock(&p->mu);
    if (!p->ended) {
        set_paused_locked(p, true);
        p->jump_req = true;
        p->jump_init = false;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void player_poke(player *p)
{
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void player_get_status(player *p, player_status *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    out->speed = p->speed;
    out->position_ns = position(p, player_now(p));
    out->mode = p->ended      ? PLAYER_ENDED
                : p->jump_req ? PLAYER_JUMPING
                : p->step_req ? PLAYER_STEPPING
                : p->paused   ? PLAYER_PAUSED
                              : PLAYER_PLAYING;
    pthread_mutex_unlock(&p->mu);
}

/* ---- speeds ---------------------------------------------------------------------------------- */

static const double ladder[] = { 0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100 };
#define LADDER_N (sizeof ladder / sizeof ladder[0])

double player_speed_step(double speed, bool faster)
{
    if (isinf(speed))
        return faster ? PLAYER_SPEED_MAX : ladder[LADDER_N - 1];
    if (faster) {
        for (size_t i = 0; i < LADDER_N; i++)
            if (ladder[i] > speed * 1.0001)
                return ladder[i];
        return PLAYER_SPEED_MAX;
    }
    for (size_t i = LADDER_N; i-- > 0;)
        if (ladder[i] < speed * 0.9999)
            return ladder[i];
    return ladder[0];
}

void player_speed_name(double speed, char *buf, size_t cap)
{
    if (isinf(speed))
        snprintf(buf, cap, "max");
    else
        snprintf(buf, cap, "%gx", speed);
}

bool player_parse_speed(const char *s, double *out)
{
    if (!strcmp(s, "max")) {
        *out = PLAYER_SPEED_MAX;
        return true;
    }
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= PLAYER_SPEED_MIN && v <= PLAYER_SPEED_TOP))
        return false;
    *out = v;
    return true;
}
