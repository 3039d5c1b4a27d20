/*
 * app: the terminal UI loop (see app.h).
 *
 * Dirty tracking. Each panel has a signature: a hash of exactly the inputs it draws (the view's
 * version for the ladder, the last trade for the tape, the second for the funding countdown, ...).
 * A frame redraws only the panels whose signature moved, and screen_draw then sends only the cells
 * that differ, so a quiet market costs nothing and a busy one costs what changed. Frames happen
 * when something is dirty and at most fps times a second; while a frame is pending the engine's
 * eventfd is left out of the poll set, so a fast feed cannot make the loop spin.
 */
#include "tui/app.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "tui/flash.h"
#include "tui/layout.h"
#include "tui/screen.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/xalloc.h"
#include "widgets/help.h"
#include "widgets/ladder.h"
#include "widgets/latency.h"
#include "widgets/search.h"
#include "widgets/spark.h"
#include "widgets/spread.h"
#include "widgets/status.h"
#include "widgets/strip.h"
#include "widgets/tape.h"
#include "widgets/watchlist.h"

#define WATCH_MAX       ENGINE_MAX_SYMBOLS
#define PERP_MAX        2048
#define MATCH_MAX       256
#define QUERY_MAX       24
#define MESSAGE_NS      (8 * CLK_NS_PER_S)
#define RETRY_MIN_NS    CLK_NS_PER_S
#define RETRY_MAX_NS    (15 * CLK_NS_PER_S)
#define DRAWN_SAMPLES   1024
#define DRAWN_WINDOW_NS (10 * CLK_NS_PER_S)
#define SPREAD_LEVELS   10
#define MARKS_MAX       256
#define DOWN_GRACE_NS   (3 * CLK_NS_PER_S) /* a route down this long is worth a message */
#define MAX_GROUP       1000000
#define SLOW_NS         (CLK_NS_PER_S / 4) /* sparklines and latency figures: at most 4 Hz */

enum panel { P_LADDER, P_SPREAD, P_SPARK, P_TAPE, P_STRIP, P_LATENCY, P_WATCH, P_STATUS, P_COUNT };

/* ---- the engine starter ----------------------------------------------------------------------- */

/* engine_start blocks (it fetches exchangeInfo and the time) and holds the engine's lock while it
 * does, so it runs on its own thread and the UI calls nothing that takes that lock before it
 * succeeded. While the endpoints cannot be reached it retries with a growing pause. */
typedef struct starter {
    engine *e;
    recsess *rec; /* --record, or NULL */
    int64_t timeout_ns;
    pthread_t th;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool quit;
    char why[384];       /* the last failure, "" while the first attempt runs */
    int64_t retry_at_ns; /* next attempt (mono) */
    unsigned attempts;
    _Atomic bool started;
    bool has_thread;    /* false in a replay: the caller started the engine */
    char warnings[384]; /* engine_start's notes (symbols skipped) */
} starter;

static bool starter_wait(starter *s, int64_t until_ns)
{
    pthread_mutex_lock(&s->lock);
    while (!s->quit && clk_mono_ns() < until_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t left = until_ns - clk_mono_ns();
        int64_t step = left < 200 * CLK_NS_PER_MS ? left : 200 * CLK_NS_PER_MS;
        ts.tv_nsec += step % CLK_NS_PER_S;
        ts.tv_sec += step / CLK_NS_PER_S + ts.tv_nsec / CLK_NS_PER_S;
        ts.tv_nsec %= CLK_NS_PER_S;
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    bool quit = s->quit;
    pthread_mutex_unlock(&s->lock);
    return !quit;
}

/* --record: the header needs exchangeInfo and the clock offset, so the engine is prepared and the
 * recording attached before any stream is subscribed (the first message lands in the file). */
static int prepare_recording(starter *s, char *why, size_t cap)
{
    if (!s->rec || recsess_attached(s->rec))
        return 0;
    int rc = engine_prepare(s->e, clk_mono_ns() + s->timeout_ns, why, cap);
    return rc < 0 ? rc : recsess_attach(s->rec, s->e, why, cap);
}

static void *starter_main(void *arg)
{
    starter *s = arg;
    int64_t pause = RETRY_MIN_NS;
    for (;;) {
        char why[384] = "";
        int rc = prepare_recording(s, why, sizeof why);
        if (rc == 0)
            rc = engine_start(s->e, clk_mono_ns() + s->timeout_ns, why, sizeof why);
        pthread_mutex_lock(&s->lock);
        s->attempts++;
        if (rc == 0)
            snprintf(s->warnings, sizeof s->warnings, "%s", why);
        else {
            snprintf(s->why, sizeof s->why, "%s", why[0] ? why : bf_strerror(rc));
            s->retry_at_ns = clk_mono_ns() + pause;
        }
        pthread_mutex_unlock(&s->lock);
        if (rc == 0) {
            atomic_store(&s->started, true);
            return NULL;
        }
        if (!starter_wait(s, clk_mono_ns() + pause))
            return NULL;
        pause = pause * 2 < RETRY_MAX_NS ? pause * 2 : RETRY_MAX_NS;
    }
}

static void starter_stop(starter *s)
{
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->has_thread)
        pthread_join(s->th, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

/* ---- state ------------------------------------------------------------------------------------ */

typedef struct watched {
    char name[SYM_NAME_MAX];
    bool pinned;          /* configured at start: never removed */
    uint64_t last_used;   /* app->use_clock when last selected */
    view_symbol *v;       /* latest copy (frozen while paused) */
    sync_state rec_state; /* replay: the state last seen, and since when in recording time */
    int64_t rec_since;
} watched;

typedef struct drawn_sample {
    int64_t at_ns, lat_ns;
} drawn_sample;

typedef struct app {
    const app_config *cfg;
    engine *e;
    starter st;
    bool refreshed_after_start;
    screen *scr;
    const theme *th;
    canvas *cv;
    layout lay;
    int sigfd;

    watched watch[WATCH_MAX];
    size_t nwatch, sel;
    uint64_t use_clock;
    view_global g;

    int64_t group; /* ladder grouping in ticks */
    bool paused, help, search, quit;
    flash *fl;
    ladder_mark marks[MARKS_MAX];
    size_t nmarks;

    char query[QUERY_MAX + 1];
    char (*perps)[SYM_NAME_MAX];
    size_t nperps;
    const char *matches[MATCH_MAX];
    size_t nmatches, cursor;

    char message[384];
    int64_t message_until;

    drawn_sample drawn[DRAWN_SAMPLES];
    size_t ndrawn, drawn_head;
    uint64_t drawn_version;
    view_latency drawn_lat;
    int64_t drawn_stats_ns; /* when drawn_lat was last computed */
    int64_t others_at_ns;   /* when the views of the symbols not selected were last copied */
    int64_t history[STAGE_COUNT][LATENCY_HISTORY];
    size_t nhistory;
    int64_t next_history_ns;

    int64_t down_since_ns;
    uint64_t sig[P_COUNT];
    uint64_t slow_key[P_COUNT]; /* what a rate-limited panel shows (symbol, state) at its draw */
    int64_t slow_at[P_COUNT];   /* when a rate-limited panel was last drawn */
    int64_t slow_due_ns;        /* a rate-limited panel has news to show then (INT64_MAX: none) */
    bool all_dirty;             /* relayout, overlay closed, symbol switch: every panel redraws */
    bool dirty;
    bool hot; /* data arrived for the last frame: poll the version on the frame clock */
    uint64_t seen_version; /* engine_version() at the last frame */
    int64_t frame_interval_ns, last_frame_ns, next_tick_ns;
    int64_t started_ns;

    player_status ps;     /* replay: the player's status at the last look */
    char speed_name[16];  /* replay: "1x", for the status bar */
    uint64_t ps_msg_seen; /* its message_seq already said */
} app;

/* ---- messages ----------------------------------------------------------------------------------- */

static void say(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
    a->message_until = clk_mono_ns() + MESSAGE_NS;
    a->dirty = true;
}

/* The status line's message: a connection problem while there is one, else the last message. */
static const char *current_message(app *a, int64_t now, char *buf, size_t cap)
{
    /* The short part first: a narrow status line still shows what to do. */
    const char *hint = a->cfg->demo ? "" : " (try --demo)";
    if (!atomic_load(&a->st.started)) {
        pthread_mutex_lock(&a->st.lock);
        int64_t left = (a->st.retry_at_ns - now + CLK_NS_PER_S - 1) / CLK_NS_PER_S;
        if (a->st.why[0] && left > 0)
            snprintf(buf, cap, "not connected, retrying in %llds%s: %s", (long long)left, hint,
                     a->st.why);
        else if (a->st.why[0])
            snprintf(buf, cap, "not connected, retrying now%s: %s", hint, a->st.why);
        else
            snprintf(buf, cap, "connecting to %s ... %llds", a->cfg->rest_url,
                     (long long)((now - a->started_ns) / CLK_NS_PER_S));
        pthread_mutex_unlock(&a->st.lock);
        return buf;
    }
    if (!a->cfg->pl && a->down_since_ns && now - a->down_since_ns >= DOWN_GRACE_NS) {
        const view_conn *c = a->g.ws[0].up ? &a->g.ws[1] : &a->g.ws[0];
        snprintf(buf, cap, "WebSocket down, reconnecting%s%s%s", hint, c->detail[0] ? ": " : "",
                 c->detail);
        return buf;
    }
    return now < a->message_until ? a->message : NULL;
}

/* ---- watchlist ------------------------------------------------------------------------------ */

static watched *selected(app *a)
{
    return a->nwatch ? &a->watch[a->sel] : NULL;
}

static void watch_append(app *a, const char *name, bool pinned)
{
    if (a->nwatch == WATCH_MAX)
        return;
    watched *w = &a->watch[a->nwatch++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->pinned = pinned;
    w->v = xcalloc(1, sizeof *w->v);
    snprintf(w->v->symbol, sizeof w->v->symbol, "%s", name);
    w->v->state = SYNC_SNAPSHOTTING;
    w->rec_state = SYNC_SNAPSHOTTING;
    a->others_at_ns = 0; /* its view on the next frame */
}

static void watch_drop(app *a, size_t i)
{
    free(a->watch[i].v);
    memmove(&a->watch[i], &a->watch[i + 1], (a->nwatch - i - 1) * sizeof a->watch[0]);
    a->nwatch--;
    if (a->sel > i || a->sel == a->nwatch)
        a->sel = a->sel ? a->sel - 1 : 0;
}

static void reset_symbol_state(app *a)
{
    flash_reset(a->fl);
    a->nmarks = 0;
    a->ndrawn = a->drawn_head = 0;
    a->drawn_version = 0;
    memset(&a->drawn_lat, 0, sizeof a->drawn_lat);
    a->nhistory = 0;
    a->all_dirty = a->dirty = true;
}

static void select_symbol(app *a, size_t i)
{
    if (i >= a->nwatch)
        return;
    bool changed = i != a->sel;
    a->sel = i;
    a->watch[i].last_used = ++a->use_clock;
    engine_focus(a->e, a->watch[i].name);
    if (changed)
        reset_symbol_state(a);
}

/* Too many added symbols: the least recently viewed added one (never the selected) goes. Its name
 * goes into gone (empty when nothing went). */
static void evict_old(app *a, char *gone, size_t cap)
{
    size_t added = 0, oldest = SIZE_MAX;
    gone[0] = '\0';
    for (size_t i = 0; i < a->nwatch; i++) {
        if (a->watch[i].pinned)
            continue;
        added++;
        if (i != a->sel &&
            (oldest == SIZE_MAX || a->watch[i].last_used < a->watch[oldest].last_used))
            oldest = i;
    }
    if (added <= APP_RECENT_MAX || oldest == SIZE_MAX)
        return;
    engine_remove_symbol(a->e, a->watch[oldest].name);
    snprintf(gone, cap, "%s", a->watch[oldest].name);
    watch_drop(a, oldest);
}

static size_t find_watched(const app *a, const char *name)
{
    for (size_t i = 0; i < a->nwatch; i++)
        if (!strcmp(a->watch[i].name, name))
            return i;
    return SIZE_MAX;
}

static void add_and_switch(app *a, const char *name)
{
    size_t i = find_watched(a, name);
    if (i != SIZE_MAX) {
        select_symbol(a, i);
        return;
    }
    char why[256] = "";
    int rc = engine_add_symbol(a->e, name, why, sizeof why);
    if (rc < 0) {
        say(a, "cannot add %s: %s", name, why[0] ? why : bf_strerror(rc));
        return;
    }
    watch_append(a, name, false);
    select_symbol(a, a->nwatch - 1);
    char gone[SYM_NAME_MAX];
    evict_old(a, gone, sizeof gone);
    if (gone[0]) /* one message: a second would hide the first */
        say(a, "%s added; %s unsubscribed (at most %d added symbols stay subscribed)", name, gone,
            APP_RECENT_MAX);
    else
        say(a, "%s added", name);
}

/* Once the engine runs: its watchlist (symbols exchangeInfo does not list were skipped) replaces
 * the configured one. */
static void adopt_engine_watchlist(app *a)
{
    char cur[SYM_NAME_MAX] = "";
    if (selected(a))
        snprintf(cur, sizeof cur, "%s", selected(a)->name);
    while (a->nwatch)
        watch_drop(a, a->nwatch - 1);
    char name[SYM_NAME_MAX];
    for (size_t i = 0; engine_symbol_at(a->e, i, name, sizeof name); i++)
        watch_append(a, name, true);
    size_t i = find_watched(a, cur);
    a->sel = 0;
    select_symbol(a, i == SIZE_MAX ? 0 : i);
    reset_symbol_state(a);
    pthread_mutex_lock(&a->st.lock);
    if (a->st.warnings[0])
        say(a, "%s", a->st.warnings);
    pthread_mutex_unlock(&a->st.lock);
    layout_compute(a->lay.screen.w, a->lay.screen.h, a->nwatch, &a->lay);
}

/* ---- views and latency ------------------------------------------------------------------------ */

/* Replay: "now" is the recording time of the player, so ages and countdowns stand still while the
 * playback is paused, and move at its speed. */
static int64_t now_real_ns(const app *a)
{
    return a->cfg->pl ? a->ps.position_ns : clk_real_ns();
}

/* Replay: a state's age counts in recording time from the position where the UI saw it change
 * (the engine stamps states with its own clock, which runs on while the replay is paused). */
static void recording_ages(app *a, watched *w)
{
    view_symbol *v = w->v;
    if (v->state != w->rec_state || !w->rec_since) {
        w->rec_since =
            w->rec_state == v->state && a->ps.first_ns ? a->ps.first_ns : a->ps.position_ns;
        w->rec_state = v->state;
    }
    v->state_since_mono_ns = w->rec_since;
    v->last_msg_mono_ns = 0; /* no stream goes stale in a replay */
}

static void refresh_views(app *a, int64_t now)
{
    engine_view_global(a->e, &a->g);
    bool down = atomic_load(&a->st.started) && (!a->g.ws[0].up || !a->g.ws[1].up);
    if (!down)
        a->down_since_ns = 0;
    else if (!a->down_since_ns)
        a->down_since_ns = now;
    if (a->paused)
        return;
    /* The selected symbol's view every frame. The others feed only the watchlist (drawn at most
     * every SLOW_NS) and the status bar's states, so they are copied at that pace: a view is ~20 KB
     * of memory the engine keeps writing, and copying all of them was a tenth of a busy frame. */
    bool others = a->all_dirty || now - a->others_at_ns >= SLOW_NS;
    if (others)
        a->others_at_ns = now;
    for (size_t i = 0; i < a->nwatch; i++) {
        if (i != a->sel && !others)
            continue;
        engine_view_symbol(a->e, a->watch[i].name, a->watch[i].v);
        if (a->cfg->pl)
            recording_ages(a, &a->watch[i]);
    }
    watched *w = selected(a);
    if (w) {
        flash_update(a->fl, w->v, now);
        a->nmarks = flash_marks(a->fl, now, a->marks, MARKS_MAX);
    }
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* applied -> drawn for the selected symbol: publish time to the doupdate that showed it. */
static void note_drawn(app *a, const view_symbol *v, int64_t now)
{
    if (!v || v->version == a->drawn_version || !v->published_mono_ns)
        return;
    a->drawn_version = v->version;
    a->drawn[a->drawn_head] = (drawn_sample){ now, now - v->published_mono_ns };
    a->drawn_head = (a->drawn_head + 1) % DRAWN_SAMPLES;
    if (a->ndrawn < DRAWN_SAMPLES)
        a->ndrawn++;
    /* The figures are shown at most every SLOW_NS; sorting the window every frame cost more than
     * drawing the ladder. */
    if (now - a->drawn_stats_ns < SLOW_NS && a->drawn_lat.count > 0)
        return;
    a->drawn_stats_ns = now;
    int64_t vals[DRAWN_SAMPLES];
    size_t n = 0;
    for (size_t i = 0; i < a->ndrawn; i++)
        if (now - a->drawn[i].at_ns <= DRAWN_WINDOW_NS)
            vals[n++] = a->drawn[i].lat_ns;
    qsort(vals, n, sizeof *vals, cmp_i64);
    view_latency *l = &a->drawn_lat;
    l->count = n;
    l->p50_ns = n ? vals[n / 2] : 0;
    l->p99_ns = n ? vals[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0;
    l->p999_ns = n ? vals[(n * 999) / 1000 < n ? (n * 999) / 1000 : n - 1] : 0;
    l->max_ns = n ? vals[n - 1] : 0;
}

static void sample_history(app *a, int64_t now)
{
    watched *w = selected(a);
    if (!w || now < a->next_history_ns || a->paused)
        return;
    a->next_history_ns = now + CLK_NS_PER_S;
    if (a->nhistory == LATENCY_HISTORY) {
        for (int s = 0; s < STAGE_COUNT; s++)
            memmove(a->history[s], a->history[s] + 1, (LATENCY_HISTORY - 1) * sizeof(int64_t));
        a->nhistory--;
    }
    for (int s = 0; s < STAGE_COUNT; s++)
        a->history[s][a->nhistory] =
            s == STAGE_APPLIED_TO_PUB ? a->drawn_lat.p99_ns : w->v->stages[s].p99_ns;
    a->nhistory++;
}

/* ---- signatures ------------------------------------------------------------------------------- */

/* FNV-1a over 8-byte words (then the odd bytes): a byte at a time, hashing the ladder's marks cost
 * more than drawing a panel. Any one changed word changes the result (each step is a bijection). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (; n >= 8; b += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, b, sizeof w);
        h = (h ^ w) * 1099511628211ULL;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

#define FNV0      14695981039346656037ULL
#define MIX(h, x) ((h) = fnv((h), &(x), sizeof(x)))

static uint64_t sig_ladder(const app *a, const view_symbol *v)
{
    uint64_t h = FNV0;
    MIX(h, v->version);
    MIX(h, a->group);
    h = fnv(h, a->marks, a->nmarks * sizeof *a->marks);
    return fnv(h, v->symbol, sizeof v->symbol);
}

static uint64_t key_spark(const view_symbol *v)
{
    uint64_t h = FNV0;
    MIX(h, v->state);
    return fnv(h, v->symbol, sizeof v->symbol);
}

static uint64_t sig_spark(const view_symbol *v)
{
    uint64_t h = key_spark(v);
    MIX(h, v->nticks);
    if (v->nticks)
        MIX(h, v->ticks[v->nticks - 1]);
    return h;
}

static uint64_t sig_tape(const view_symbol *v)
{
    uint64_t h = FNV0;
    MIX(h, v->ntrades);
    if (v->ntrades)
        MIX(h, v->trades[v->ntrades - 1]);
    return fnv(h, v->symbol, sizeof v->symbol);
}

static uint64_t sig_strip(const view_symbol *v, int64_t now_s)
{
    uint64_t h = FNV0;
    MIX(h, v->last);
    MIX(h, now_s);
    return fnv(h, v->symbol, sizeof v->symbol);
}

static uint64_t sig_latency(const app *a, const view_symbol *v)
{
    uint64_t h = FNV0;
    MIX(h, v->stages);
    MIX(h, v->msgs_per_s);
    MIX(h, a->drawn_lat);
    MIX(h, a->g.clock_skewed);
    MIX(h, a->g.clock_offset_ns);
    MIX(h, a->nhistory);
    return h;
}

/* The watchlist's selection, names and states: a change there shows at once. */
static uint64_t key_watch(const app *a)
{
    uint64_t h = FNV0;
    MIX(h, a->sel);
    for (size_t i = 0; i < a->nwatch; i++) {
        const view_symbol *v = a->watch[i].v;
        h = fnv(h, v->symbol, sizeof v->symbol);
        MIX(h, v->state);
    }
    return h;
}

static uint64_t sig_watch(const app *a)
{
    uint64_t h = key_watch(a);
    for (size_t i = 0; i < a->nwatch; i++) {
        const view_symbol *v = a->watch[i].v;
        MIX(h, v->nticks);
        if (v->nticks)
            MIX(h, v->ticks[v->nticks - 1].mid_x2);
    }
    return h;
}

static uint64_t sig_status(const app *a, int64_t now_s, const char *msg)
{
    uint64_t h = FNV0;
    MIX(h, now_s);
    MIX(h, a->sel);
    MIX(h, a->paused);
    MIX(h, a->g.ws);
    MIX(h, a->g.used_weight);
    MIX(h, a->g.weight_limit);
    MIX(h, a->g.ban_until_mono_ns);
    MIX(h, a->g.recording);
    if (a->cfg->pl) {
        int64_t ms = a->ps.position_ns / CLK_NS_PER_MS;
        MIX(h, ms);
        MIX(h, a->ps.mode);
        MIX(h, a->ps.speed);
        MIX(h, a->ps.file);
    }
    for (size_t i = 0; i < a->nwatch; i++) {
        const view_symbol *v = a->watch[i].v;
        h = fnv(h, v->symbol, sizeof v->symbol);
        MIX(h, v->state);
        MIX(h, v->stream_stale);
    }
    return msg ? fnv(h, msg, strlen(msg)) : h;
}

/* ---- drawing ---------------------------------------------------------------------------------- */

/* Sparklines and latency figures move with every update under a busy feed, yet redrawn 20 times
 * a second they say nothing more than 4 times a second, and a scrolling sparkline changes every
 * one of its cells. So their data redraws them at most every SLOW_NS; a change of key (symbol,
 * state, selection) or a full redraw still shows at once, and the news held back is drawn when
 * its time comes even if the feed went quiet (slow_due_ns). Returns the signature to compare. */
static uint64_t slow_sig(app *a, enum panel p, uint64_t key, uint64_t sig, int64_t now)
{
    if (sig == a->sig[p])
        return sig;
    bool at_once = a->all_dirty || a->cfg->repaint_all || key != a->slow_key[p];
    if (!at_once && now - a->slow_at[p] < SLOW_NS) {
        int64_t due = a->slow_at[p] + SLOW_NS;
        a->slow_due_ns = due < a->slow_due_ns ? due : a->slow_due_ns;
        return a->sig[p];
    }
    a->slow_key[p] = key;
    a->slow_at[p] = now;
    return sig;
}

/* Redraw panel p into r when its signature moved (or everything is dirty). */
static bool panel_due(app *a, enum panel p, rect r, uint64_t sig)
{
    if (rect_empty(r) || (!a->all_dirty && !a->cfg->repaint_all && a->sig[p] == sig))
        return false;
    a->sig[p] = sig;
    canvas_clear(a->cv, r, ROLE_NORMAL);
    return true;
}

static void draw_data_panels(app *a, const view_symbol *v, int64_t now)
{
    const layout *l = &a->lay;
    if (panel_due(a, P_LADDER, l->ladder, sig_ladder(a, v))) {
        /* Grouping counts ticks; the ladder wants price units. */
        int64_t tick = spread_tick(v);
        ladder_input in = { v, a->group * (tick > 0 ? tick : 1), a->marks, a->nmarks };
        ladder_draw(a->cv, l->ladder, a->th, &in);
    }
    if (panel_due(a, P_SPREAD, l->spread, v->version ^ FNV0))
        spread_draw(a->cv, l->spread, a->th, v, SPREAD_LEVELS);
    if (panel_due(a, P_SPARK, l->spark, slow_sig(a, P_SPARK, key_spark(v), sig_spark(v), now))) {
        int64_t vals[VIEW_TICKS];
        for (size_t i = 0; i < v->nticks; i++)
            vals[i] = v->ticks[i].mid_x2;
        spark_input in = { vals, v->nticks, v->has_scale ? &v->px_scale : NULL,
                           2,    true,      v->state != SYNC_LIVE };
        spark_draw(a->cv, l->spark, a->th, &in);
    }
    if (panel_due(a, P_TAPE, l->tape, sig_tape(v)))
        tape_draw(a->cv, l->tape, a->th, v, 0);
    int64_t now_ms = now_real_ns(a) / CLK_NS_PER_MS;
    if (panel_due(a, P_STRIP, l->strip, sig_strip(v, now_ms / 1000))) {
        /* The selected symbol's name leads the strip: the one place that says whose book the
         * ladder shows. */
        rect sr = l->strip;
        int nw = canvas_put(a->cv, sr.x, sr.y, sr, ROLE_HEADER, v->symbol) + 2;
        sr.x += nw;
        sr.w -= nw;
        strip_draw(a->cv, sr, a->th, v, now_ms);
    }
    if (panel_due(a, P_LATENCY, l->latency, slow_sig(a, P_LATENCY, FNV0, sig_latency(a, v), now))) {
        latency_input in = { v, &a->g, a->drawn_lat, a->nhistory ? a->history : NULL, a->nhistory };
        latency_draw(a->cv, l->latency, a->th, &in);
    }
}

static const char *mode_name(player_mode m)
{
    switch (m) {
    case PLAYER_PLAYING:
        return "playing";
    case PLAYER_PAUSED:
        return "PAUSED";
    case PLAYER_STEPPING:
        return "stepping";
    case PLAYER_JUMPING:
        return "jumping";
    case PLAYER_ENDED:
        return "END";
    }
    return "?";
}

static void replay_mark(app *a, status_replay *rp)
{
    player_speed_name(a->ps.speed, a->speed_name, sizeof a->speed_name);
    *rp = (status_replay){ a->speed_name, mode_name(a->ps.mode), a->ps.position_ns, a->ps.file,
                           a->ps.nfiles };
}

static void watched_views(const app *a, const view_symbol **syms)
{
    for (size_t i = 0; i < a->nwatch; i++)
        syms[i] = a->watch[i].v;
}

static void draw_status(app *a, int64_t now)
{
    const layout *l = &a->lay;
    char buf[512];
    const char *msg = current_message(a, now, buf, sizeof buf);
    if (panel_due(a, P_STATUS, l->status, sig_status(a, now / CLK_NS_PER_S, msg))) {
        const view_symbol *syms[WATCH_MAX];
        watched_views(a, syms);
        status_replay rp;
        status_input in = { &a->g, syms, a->nwatch, a->sel, now, a->cfg->demo, a->paused, msg };
        if (a->cfg->pl) { /* no routes, no REST weight; ages in recording time */
            replay_mark(a, &rp);
            in.g = NULL;
            in.now_mono_ns = a->ps.position_ns;
            in.replay = &rp;
        }
        status_draw(a->cv, l->status, a->th, &in);
    }
}

static void draw_chrome(app *a, int64_t now)
{
    const layout *l = &a->lay;
    const view_symbol *syms[WATCH_MAX];
    watched_views(a, syms);
    if (panel_due(a, P_WATCH, l->watchlist, slow_sig(a, P_WATCH, key_watch(a), sig_watch(a), now)))
        watchlist_draw(a->cv, l->watchlist, a->th, syms, a->nwatch, a->sel);
    draw_status(a, now);
    if (a->all_dirty && !rect_empty(l->separator))
        for (int y = 0; y < l->separator.h; y++)
            canvas_put(a->cv, l->separator.x, l->separator.y + y, l->separator, ROLE_DIM,
                       a->th->vline);
}

static rect overlay_rect(const app *a, int want_w, int want_h)
{
    layout area = a->lay;
    area.screen.h = a->lay.status.y > 0 ? a->lay.status.y : a->lay.screen.h;
    return layout_overlay(&area, want_w, want_h);
}

static void draw_overlays(app *a)
{
    if (a->help) {
        help_entry e[KM_HELP_MAX];
        size_t n = a->cfg->pl ? keymap_help_replay(a->cfg->km, e, KM_HELP_MAX)
                              : keymap_help(a->cfg->km, e, KM_HELP_MAX);
        rect r = overlay_rect(a, 76, (int)n + 4);
        canvas_clear(a->cv, r, ROLE_NORMAL);
        help_draw(a->cv, r, a->th, e, n);
    }
    if (a->search) {
        rect r = overlay_rect(a, 40, 18);
        canvas_clear(a->cv, r, ROLE_NORMAL);
        search_draw(a->cv, r, a->th, a->query, a->matches, a->nmatches, a->cursor);
    }
}

static void draw_too_small(app *a)
{
    char text[128];
    layout_too_small_text(&a->lay, text, sizeof text);
    rect all = a->lay.screen;
    canvas_clear(a->cv, all, ROLE_NORMAL);
    int y = all.h / 2;
    int x = (all.w - canvas_width_of(text)) / 2;
    canvas_put(a->cv, x > 0 ? x : 0, y, all, ROLE_WARN, text);
    if (a->cfg->demo && all.h > 1)
        canvas_put(a->cv, 0, 0, all, ROLE_DEMO, "DEMO");
    if (a->cfg->pl && all.h > 1)
        canvas_put(a->cv, 0, 0, all, ROLE_DEMO, "REPLAY");
}

static void frame(app *a, int64_t now)
{
    uint64_t version = engine_version(a->e);
    a->hot = version != a->seen_version;
    a->seen_version = version;
    refresh_views(a, now);
    sample_history(a, now);
    a->slow_due_ns = INT64_MAX;
    if (a->lay.too_small) {
        draw_too_small(a);
    } else if (a->cfg->bench_floor) { /* the views read, one row drawn: what any frame costs */
        draw_status(a, now);
    } else {
        watched *w = selected(a);
        if (w)
            draw_data_panels(a, w->v, now);
        draw_chrome(a, now);
        if (a->help || a->search)
            draw_overlays(a);
    }
    a->all_dirty = a->help || a->search; /* an overlay's cells are restored by a full redraw */
    screen_draw(a->scr, a->cv);
    watched *w = selected(a);
    if (w && !a->paused)
        note_drawn(a, w->v, clk_mono_ns());
}

static void relayout(app *a)
{
    int w, h;
    screen_size(a->scr, &w, &h);
    canvas_resize(a->cv, w, h);
    layout_compute(w, h, a->nwatch, &a->lay);
    a->all_dirty = a->dirty = true;
}

/* ---- search ----------------------------------------------------------------------------------- */

static bool contains_ci(const char *hay, const char *needle)
{
    for (; *hay; hay++) {
        size_t i = 0;
        while (needle[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (!needle[i])
            return true;
    }
    return !*needle;
}

/* Prefix matches first, then the rest, both in name order. */
static void update_matches(app *a)
{
    a->nmatches = 0;
    size_t qn = strlen(a->query);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < a->nperps && a->nmatches < MATCH_MAX; i++) {
            bool prefix = !strncasecmp(a->perps[i], a->query, qn);
            if ((pass == 0 && prefix) ||
                (pass == 1 && !prefix && contains_ci(a->perps[i], a->query)))
                a->matches[a->nmatches++] = a->perps[i];
        }
    if (a->cursor >= a->nmatches)
        a->cursor = a->nmatches ? a->nmatches - 1 : 0;
}

static void open_search(app *a)
{
    if (a->cfg->pl) {
        say(a, "search is not available in a replay: the recording decides the symbols");
        return;
    }
    if (!atomic_load(&a->st.started)) {
        say(a, "the symbol list is not loaded yet (exchangeInfo): not connected");
        return;
    }
    if (!a->perps) {
        a->perps = xcalloc(PERP_MAX, SYM_NAME_MAX);
        a->nperps = engine_perpetuals(a->e, a->perps, PERP_MAX);
        if (a->nperps > PERP_MAX)
            a->nperps = PERP_MAX;
    }
    a->search = true;
    a->help = false;
    a->query[0] = '\0';
    a->cursor = 0;
    update_matches(a);
}

static void close_overlay(app *a)
{
    a->search = a->help = false;
    a->all_dirty = true;
}

static void search_key(app *a, int key)
{
    size_t qn = strlen(a->query);
    if (key == KM_KEY_ESC) {
        close_overlay(a);
    } else if (key == KM_KEY_ENTER) {
        const char *pick = a->nmatches ? a->matches[a->cursor] : NULL;
        char name[SYM_NAME_MAX] = "";
        if (pick)
            snprintf(name, sizeof name, "%s", pick);
        close_overlay(a);
        if (name[0])
            add_and_switch(a, name);
        else
            say(a, "no perpetual matches '%s'", a->query);
    } else if (key == KM_KEY_BACKSPACE || key == KM_KEY_DELETE) {
        if (qn)
            a->query[qn - 1] = '\0';
        update_matches(a);
    } else if (key == KM_KEY_UP || key == KM_KEY_BTAB) {
        a->cursor = a->cursor ? a->cursor - 1 : 0;
    } else if (key == KM_KEY_DOWN || key == KM_KEY_TAB) {
        a->cursor = a->cursor + 1 < a->nmatches ? a->cursor + 1 : a->cursor;
    } else if (key < 128 && isalnum(key) && qn < QUERY_MAX) {
        a->query[qn] = (char)toupper(key);
        a->query[qn + 1] = '\0';
        a->cursor = 0;
        update_matches(a);
    }
}

/* ---- keys ------------------------------------------------------------------------------------- */

static int64_t group_step(int64_t g, bool coarser)
{
    /* 1, 2, 5, 10, 20, 50, ... ticks */
    int64_t steps[] = { 1, 2, 5 };
    int64_t base = 1;
    int64_t seq[40];
    size_t n = 0;
    while (n < 40 && base <= MAX_GROUP) {
        for (int i = 0; i < 3 && n < 40; i++)
            seq[n++] = steps[i] * base;
        base *= 10;
    }
    for (size_t i = 0; i < n; i++)
        if (seq[i] == g)
            return coarser ? (i + 1 < n ? seq[i + 1] : g) : (i ? seq[i - 1] : g);
    return 1;
}

/* The player's keys; nothing outside a replay. */
static void replay_action(app *a, km_action act)
{
    player *pl = a->cfg->pl;
    if (!pl || !keymap_action_replay_only(act))
        return;
    char name[16];
    double speed;
    switch (act) {
    case KM_PLAY_PAUSE:
        player_toggle_pause(pl);
        break;
    case KM_STEP:
        player_step(pl, selected(a) ? selected(a)->name : NULL);
        break;
    case KM_NEXT_EVENT:
        player_jump(pl);
        say(a, "running to the next gap, resync or disconnect ...");
        break;
    case KM_SLOWER:
    case KM_FASTER:
        speed = player_speed_step(a->ps.speed, act == KM_FASTER);
        player_set_speed(pl, speed);
        a->ps.speed = speed; /* two presses within a frame step twice */
        player_speed_name(speed, name, sizeof name);
        say(a, "replay speed %s", name);
        break;
    default:
        break;
    }
}

static void do_action(app *a, km_action act)
{
    switch (act) {
    case KM_NEXT_SYMBOL:
        select_symbol(a, a->nwatch ? (a->sel + 1) % a->nwatch : 0);
        break;
    case KM_PREV_SYMBOL:
        select_symbol(a, a->nwatch ? (a->sel + a->nwatch - 1) % a->nwatch : 0);
        break;
    case KM_SYMBOL_1 ... KM_SYMBOL_9:
        select_symbol(a, (size_t)(act - KM_SYMBOL_1));
        break;
    case KM_SEARCH:
        open_search(a);
        break;
    case KM_GROUP_MORE:
    case KM_GROUP_LESS:
        a->group = group_step(a->group, act == KM_GROUP_MORE);
        say(a, "ladder grouped by %lld tick%s", (long long)a->group, a->group > 1 ? "s" : "");
        break;
    case KM_PAUSE:
        a->paused = !a->paused;
        break;
    case KM_HELP:
        a->help = !a->help;
        a->search = false;
        a->all_dirty = true;
        break;
    case KM_QUIT:
        a->quit = true;
        break;
    case KM_REDRAW:
        screen_invalidate(a->scr);
        a->all_dirty = true;
        break;
    default:
        replay_action(a, act);
        break;
    }
    a->dirty = true;
}

static void on_key(app *a, int key)
{
    if (key == KM_KEY_RESIZE) {
        screen_resize(a->scr);
        relayout(a);
        return;
    }
    a->dirty = true;
    if (a->search) {
        search_key(a, key);
        return;
    }
    km_action act = keymap_lookup(a->cfg->km, key);
    if (a->help && (key == KM_KEY_ESC || act == KM_QUIT)) { /* q or Esc close the help first */
        close_overlay(a);
        return;
    }
    do_action(a, act);
}

/* ---- the loop --------------------------------------------------------------------------------- */

static void on_signal(app *a)
{
    struct signalfd_siginfo si;
    while (read(a->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGWINCH) {
            screen_resize(a->scr);
            relayout(a);
        } else if (si.ssi_signo == SIGTSTP) {
            screen_suspend(a->scr);
            relayout(a);
        } else {
            a->quit = true;
        }
    }
}

static void drain_wakeups(app *a)
{
    uint64_t n;
    while (read(engine_wakeup_fd(a->e), &n, sizeof n) == (ssize_t)sizeof n)
        a->dirty = true;
}

/* While the terminal is busy taking the last frame nothing can be drawn, so every deadline (frame,
 * tick, flash, slow panels) waits for it: POLLOUT, a key or a signal wakes the loop, and a terminal
 * that stopped reading costs no spinning (and at least once a second the loop looks around). */
static int64_t next_deadline(app *a, int64_t now)
{
    if (screen_busy(a->scr))
        return now + CLK_NS_PER_S;
    if (a->dirty || a->hot) {
        int64_t due = a->last_frame_ns + a->frame_interval_ns;
        return due > now ? due : now;
    }
    int64_t t = a->next_tick_ns;
    int64_t fx = flash_next_expiry(a->fl);
    t = fx < t ? fx : t;
    return a->slow_due_ns < t ? a->slow_due_ns : t;
}

static void read_keys(app *a)
{
    int key;
    while (!a->quit && (key = screen_key(a->scr)) >= 0)
        on_key(a, key);
}

static void wait_events(app *a)
{
    int64_t now = clk_mono_ns();
    int64_t wait = next_deadline(a, now) - now;
    wait = wait > 0 ? wait : 0; /* a deadline already gone: look at the descriptors and return */
    bool busy = screen_busy(a->scr);
    struct pollfd fds[3] = {
        { screen_input_fd(a->scr), POLLIN, 0 },
        { a->sigfd, POLLIN, 0 },
        { busy ? screen_output_fd(a->scr) : engine_wakeup_fd(a->e), busy ? POLLOUT : POLLIN, 0 },
    };
    /* While a frame is pending the eventfd would only wake us for nothing; while data keeps
     * coming (hot) the frame clock looks at the version instead, one wakeup per frame. */
    nfds_t n = busy || !(a->dirty || a->hot) ? 3 : 2;
    struct timespec ts = { wait / CLK_NS_PER_S, wait % CLK_NS_PER_S };
    int rc = ppoll(fds, n, &ts, NULL);
    if (rc <= 0)
        return;
    if (busy && fds[2].revents)
        screen_flush(a->scr);
    if (fds[1].revents)
        on_signal(a);
    if (fds[0].revents)
        read_keys(a);
    if (!busy && n == 3 && fds[2].revents)
        drain_wakeups(a);
}

/* Replay: the player's status; while it plays the recording time moves, so every frame is due. */
static void replay_tick(app *a)
{
    player_mode was = a->ps.mode;
    player_get_status(a->cfg->pl, &a->ps);
    if (a->ps.mode != PLAYER_PAUSED && a->ps.mode != PLAYER_ENDED)
        a->dirty = true;
    else if (a->ps.mode != was)
        a->dirty = true;
    if (a->ps.message_seq != a->ps_msg_seen) {
        a->ps_msg_seen = a->ps.message_seq;
        say(a, "%s", a->ps.message);
    }
    if (engine_symbol_count(a->e) != a->nwatch) /* the player added a symbol of the recording */
        adopt_engine_watchlist(a);
}

/* --record, once a second: the header follows the clock offset; a failing recorder is said. */
static void recording_tick(app *a)
{
    char err[512];
    if (a->cfg->rec && atomic_load(&a->st.started) && recsess_tick(a->cfg->rec, err, sizeof err))
        say(a, "recording: %s (lines are being dropped and counted)", err);
}

static void tick(app *a, int64_t now)
{
    if (now >= a->next_tick_ns) { /* ages, countdowns and messages move every second */
        a->dirty = true;
        a->next_tick_ns = (now / CLK_NS_PER_S + 1) * CLK_NS_PER_S;
        recording_tick(a);
    }
    if (flash_next_expiry(a->fl) <= now || a->slow_due_ns <= now)
        a->dirty = true;
    if (a->hot && now - a->last_frame_ns >= a->frame_interval_ns) {
        if (engine_version(a->e) != a->seen_version)
            a->dirty = true;
        else
            a->hot = false; /* quiet again: back to the eventfd */
    }
    if (!a->refreshed_after_start && atomic_load(&a->st.started)) {
        a->refreshed_after_start = true;
        adopt_engine_watchlist(a);
    }
    if (a->cfg->pl)
        replay_tick(a);
}

static void loop(app *a)
{
    read_keys(a); /* typed while the screen asked the terminal: not on the descriptor any more */
    while (!a->quit) {
        wait_events(a);
        int64_t now = clk_mono_ns();
        tick(a, now);
        if (a->quit)
            break;
        if ((a->dirty || a->cfg->repaint_all) && now - a->last_frame_ns >= a->frame_interval_ns &&
            !screen_busy(a->scr)) {
            a->dirty = false;
            a->last_frame_ns = now;
            frame(a, now);
        } else if (a->cfg->repaint_all) {
            a->dirty = true; /* the baseline draws every frame, changed or not */
        }
    }
}

/* ---- set-up ----------------------------------------------------------------------------------- */

void app_block_signals(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGWINCH);
    sigaddset(&s, SIGTSTP);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static int open_signalfd(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGWINCH);
    sigaddset(&s, SIGTSTP);
    return signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void initial_watchlist(app *a)
{
    char name[SYM_NAME_MAX];
    /* Before the engine runs its lock may be held by engine_start: ask for names only now, when
     * nothing else holds it (the starter thread does not exist yet). */
    for (size_t i = 0; engine_symbol_at(a->e, i, name, sizeof name); i++)
        watch_append(a, name, true);
    select_symbol(a, 0);
}

static void start_starter(app *a)
{
    starter *s = &a->st;
    s->e = a->e;
    s->rec = a->cfg->rec;
    s->timeout_ns = a->cfg->start_timeout_ns > 0 ? a->cfg->start_timeout_ns : 10 * CLK_NS_PER_S;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (a->cfg->pl) { /* a replay's offline engine was started by the caller */
        atomic_store(&s->started, true);
        player_get_status(a->cfg->pl, &a->ps); /* the speed before the first key */
        return;
    }
    s->has_thread = true;
    if (pthread_create(&s->th, NULL, starter_main, s) != 0)
        abort(); /* like an allocation failure */
}

static void app_free(app *a)
{
    while (a->nwatch)
        watch_drop(a, a->nwatch - 1);
    flash_destroy(a->fl);
    canvas_destroy(a->cv);
    free(a->perps);
    if (a->sigfd >= 0)
        close(a->sigfd);
    free(a);
}

int app_run(const app_config *cfg, char *why, size_t why_cap)
{
    screen_opts so = { .force_ascii = cfg->force_ascii, .repaint_all = cfg->repaint_all };
    screen *scr = screen_open(&so, why, why_cap);
    if (!scr)
        return 1;
    app *a = xcalloc(1, sizeof *a);
    a->cfg = cfg;
    a->e = cfg->e;
    a->scr = scr;
    a->th = screen_theme(scr);
    a->sigfd = open_signalfd();
    a->group = 1;
    a->fl = flash_create(0);
    a->cv = canvas_create(1, 1);
    a->frame_interval_ns = CLK_NS_PER_S / (cfg->fps > 0 ? cfg->fps : APP_DEFAULT_FPS);
    a->started_ns = clk_mono_ns();
    a->last_frame_ns = a->started_ns - a->frame_interval_ns;
    a->slow_due_ns = INT64_MAX;
    initial_watchlist(a);
    relayout(a);
    if (cfg->first_message)
        say(a, "%s", cfg->first_message);
    start_starter(a);
    loop(a);
    screen_close(scr); /* the terminal comes back at once; the engine may take a moment */
    starter_stop(&a->st);
    if (cfg->pl)
        player_stop(cfg->pl); /* nothing feeds the engine any more */
    engine_stop(a->e);
    app_free(a);
    return 0;
}
