/*
 * screen: ncurses set-up, colours, the cell copy and key reading (see screen.h).
 *
 * Why the copy compares cells itself instead of leaving it to ncurses: widgets redraw whole panels,
 * and handing ncurses 10,000 unchanged cells per frame costs more than comparing them here. Only
 * cells whose glyph or role changed are given to ncurses, and ncurses then sends the terminal the
 * least it can. One doupdate per frame, so a frame never shows half drawn.
 */
#include "tui/screen.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "tui/keymap.h"
#include "tui/palette.h"
#include "util/xalloc.h"

#define RUN_MAX    256 /* cells per ncurses call */
#define RUN_GAP    3   /* unchanged cells a run may bridge */
#define WIDE_SLOTS 256

typedef struct wide_slot {
    uint32_t key; /* the glyph's bytes */
    uint8_t role;
    bool used;
    cchar_t cc;
} wide_slot;

struct screen {
    theme th;
    screen_opts opts;
    int w, h;
    cell *prev; /* what the terminal shows, w * h; NULL or stale: repaint everything */
    bool valid;
    attr_t attr[ROLE_COUNT];
    short pair[ROLE_COUNT];
    wide_slot wide[WIDE_SLOTS]; /* filled after the colours are set up */
};

static volatile sig_atomic_t curses_active;

/* ---- restoring the terminal ----------------------------------------------------------------- */

static void restore_terminal(void)
{
    if (curses_active && !isendwin()) {
        curs_set(1);
        endwin();
    }
    curses_active = 0;
}

/* Best effort on a crash: endwin is not async-signal-safe, but a terminal left in raw mode with an
 * invisible cursor is worse than the small risk. Then the default action (core dump). */
static void on_fatal_signal(int sig)
{
    restore_terminal();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_fatal_handlers(void)
{
    static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL) /* keep ASan's */
            signal(sigs[i], on_fatal_signal);
    }
}

/* ---- colours -------------------------------------------------------------------------------- */

static color_depth detect_depth(void)
{
    const char *no_color = getenv("NO_COLOR"); /* https://no-color.org: set and not empty */
    if ((no_color && no_color[0]) || !has_colors() || start_color() == ERR)
        return DEPTH_MONO;
    if (COLORS >= 256 && COLOR_PAIRS > ROLE_COUNT)
        return DEPTH_256;
    if (COLORS >= 16)
        return DEPTH_16;
    return COLORS >= 8 ? DEPTH_8 : DEPTH_MONO;
}

static attr_t curses_attrs(unsigned pal)
{
    return (pal & PAL_BOLD ? A_BOLD : 0) | (pal & PAL_DIM ? A_DIM : 0) |
           (pal & PAL_REVERSE ? A_REVERSE : 0) | (pal & PAL_UNDERLINE ? A_UNDERLINE : 0);
}

/* One colour pair per role (pair r + 1), from the palette for the terminal's depth. Without
 * default-colour support the default foreground and background become white on black. */
static void setup_colours(screen *s)
{
    color_depth d = s->th.depth;
    bool default_bg = d != DEPTH_MONO && use_default_colors() == OK;
    for (int r = 0; r < ROLE_COUNT; r++) {
        pal_style st = palette_style((role)r, d);
        s->pair[r] = 0;
        s->attr[r] = curses_attrs(st.attrs);
        if (d == DEPTH_MONO)
            continue;
        short fg = st.fg, bg = st.bg;
        if (!default_bg) {
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        if (init_pair((short)(r + 1), fg, bg) == OK)
            s->pair[r] = (short)(r + 1);
    }
}

/* ---- open / close --------------------------------------------------------------------------- */

static bool locale_is_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
}

screen *screen_open(const screen_opts *o, char *why, size_t why_cap)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        snprintf(why, why_cap, "the terminal UI needs a terminal (use --headless otherwise)");
        return NULL;
    }
    setlocale(LC_ALL, "");
    bool utf8 = locale_is_utf8() && !(o && o->force_ascii);
    if (!newterm(NULL, stdout, stdin)) {
        snprintf(why, why_cap, "cannot start the terminal (TERM=%s)",
                 getenv("TERM") ? getenv("TERM") : "unset");
        return NULL;
    }
    curses_active = 1;
    atexit(restore_terminal);
    install_fatal_handlers();
    screen *s = xcalloc(1, sizeof *s);
    if (o)
        s->opts = *o;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25); /* Esc alone closes overlays without a second's wait */
    curs_set(0);
    leaveok(stdscr, TRUE);
    theme_init(&s->th, utf8, detect_depth());
    setup_colours(s);
    getmaxyx(stdscr, s->h, s->w);
    /* Until the first endwin, ncurses (6.4) flushes its output after every cursor move, which made
     * each frame dozens of small tty writes. Leaving and resuming once at start (what Ctrl-Z does)
     * moves it to its running state: one write per frame. The first doupdate resumes. */
    def_prog_mode();
    endwin();
    return s;
}

void screen_close(screen *s)
{
    restore_terminal();
    if (!s)
        return;
    free(s->prev);
    free(s);
}

const theme *screen_theme(const screen *s)
{
    return &s->th;
}

void screen_size(const screen *s, int *w, int *h)
{
    *w = s->w;
    *h = s->h;
}

void screen_invalidate(screen *s)
{
    s->valid = false;
    clearok(curscr, TRUE);
}

bool screen_resize(screen *s)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
        (ws.ws_row != LINES || ws.ws_col != COLS))
        resizeterm(ws.ws_row, ws.ws_col);
    int w, h;
    getmaxyx(stdscr, h, w);
    bool changed = w != s->w || h != s->h;
    s->w = w;
    s->h = h;
    if (changed)
        screen_invalidate(s);
    return changed;
}

void screen_suspend(screen *s)
{
    def_prog_mode();
    endwin();
    fflush(stdout);
    kill(getpid(), SIGSTOP); /* SIGTSTP itself is blocked: the loop took it from its signalfd */
    reset_prog_mode();
    screen_invalidate(s);
    screen_resize(s);
}

/* ---- drawing -------------------------------------------------------------------------------- */

/* Cells compare as plain bytes: the canvas pads every glyph with NULs to its end. */
static bool same_cell(const cell *a, const cell *b)
{
    return !memcmp(a, b, sizeof *a);
}

static int role_of(const cell *c)
{
    return c->role < ROLE_COUNT ? c->role : ROLE_NORMAL;
}

static uint32_t glyph_key(const cell *c)
{
    uint32_t k;
    memcpy(&k, c->glyph, sizeof k);
    return k;
}

/* The ncurses form of a non-ASCII cell, cached: the same few block and box glyphs recur on every
 * frame, and mbrtowc + setcchar for each of them was a visible part of a frame. */
static const cchar_t *wide_cell(screen *s, const cell *c)
{
    int r = role_of(c);
    uint32_t key = glyph_key(c);
    uint32_t h = (key * 2654435761u ^ (uint32_t)r * 40503u) >> (32 - 8);
    wide_slot *slot = &s->wide[h % WIDE_SLOTS];
    if (slot->used && slot->key == key && slot->role == r)
        return &slot->cc;
    wchar_t wc[2] = { L'?', 0 };
    mbstate_t st;
    memset(&st, 0, sizeof st);
    if (mbrtowc(&wc[0], c->glyph, strlen(c->glyph), &st) > 4)
        wc[0] = L'?';
    setcchar(&slot->cc, wc, s->attr[r], s->pair[r], NULL);
    slot->key = key;
    slot->role = (uint8_t)r;
    slot->used = true;
    return &slot->cc;
}

static bool run_is_ascii(const cell *c, int n)
{
    for (int i = 0; i < n; i++)
        if ((unsigned char)c[i].glyph[0] >= 0x80)
            return false;
    return true;
}

/* n cells of one row at (x, y) in one call. An ASCII run goes in as chtypes, which skips the
 * wide-character path (wcwidth, setcchar) altogether. Neither call moves the cursor or wraps, so
 * the bottom-right cell is written like any other. */
static void put_run(screen *s, int x, int y, const cell *c, int n)
{
    if (run_is_ascii(c, n)) {
        chtype buf[RUN_MAX];
        for (int i = 0; i < n; i++) {
            int r = role_of(&c[i]);
            chtype ch = c[i].glyph[0] ? (chtype)(unsigned char)c[i].glyph[0] : (chtype)' ';
            buf[i] = ch | s->attr[r] | (chtype)COLOR_PAIR(s->pair[r]);
        }
        mvwaddchnstr(stdscr, y, x, buf, n);
        return;
    }
    cchar_t buf[RUN_MAX];
    for (int i = 0; i < n; i++) {
        if ((unsigned char)c[i].glyph[0] >= 0x80) {
            buf[i] = *wide_cell(s, &c[i]);
            continue;
        }
        int r = role_of(&c[i]);
        wchar_t wc[2] = { c[i].glyph[0] ? (wchar_t)c[i].glyph[0] : L' ', 0 };
        setcchar(&buf[i], wc, s->attr[r], s->pair[r], NULL);
    }
    mvwadd_wchnstr(stdscr, y, x, buf, n);
}

static void ensure_prev(screen *s, int w, int h)
{
    if (s->prev && s->valid)
        return;
    free(s->prev);
    s->prev = xcalloc((size_t)w * (size_t)h, sizeof *s->prev);
}

/* Copies the changed cells of one row in runs. Up to RUN_GAP unchanged cells between two changed
 * ones join the run: rewriting them is cheaper than another call, and doupdate sends the terminal
 * nothing for them since they equal what it shows. Returns the cells that changed. */
static int draw_row(screen *s, const cell *now, cell *was, int y, int w, bool full)
{
    if (!full && !memcmp(now, was, (size_t)w * sizeof *now))
        return 0;
    int written = 0;
    int x = 0;
    while (x < w) {
        if (!full && same_cell(&now[x], &was[x])) {
            x++;
            continue;
        }
        int start = x, end = x + 1; /* [start, end) ends on a changed cell */
        written++;
        for (int k = end; k < w && k - start < RUN_MAX && k - end <= RUN_GAP; k++)
            if (full || !same_cell(&now[k], &was[k])) {
                end = k + 1;
                written++;
            }
        put_run(s, start, y, &now[start], end - start);
        memcpy(&was[start], &now[start], (size_t)(end - start) * sizeof *now);
        x = end;
    }
    return written;
}

int screen_draw(screen *s, const canvas *c)
{
    int w = canvas_width(c) < s->w ? canvas_width(c) : s->w;
    int h = canvas_height(c) < s->h ? canvas_height(c) : s->h;
    bool full = !s->valid || s->opts.repaint_all;
    ensure_prev(s, s->w, s->h);
    int written = 0;
    for (int y = 0; y < h && w > 0; y++)
        written += draw_row(s, canvas_at(c, 0, y), &s->prev[(size_t)y * (size_t)s->w], y, w, full);
    if (s->opts.repaint_all)
        clearok(curscr, TRUE);
    wnoutrefresh(stdscr);
    doupdate();
    s->valid = true;
    return written;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static int special_key(wint_t k)
{
    static const struct {
        int curses, km;
    } map[] = {
        { KEY_LEFT, KM_KEY_LEFT },   { KEY_RIGHT, KM_KEY_RIGHT },
        { KEY_UP, KM_KEY_UP },       { KEY_DOWN, KM_KEY_DOWN },
        { KEY_HOME, KM_KEY_HOME },   { KEY_END, KM_KEY_END },
        { KEY_PPAGE, KM_KEY_PGUP },  { KEY_NPAGE, KM_KEY_PGDN },
        { KEY_IC, KM_KEY_INSERT },   { KEY_DC, KM_KEY_DELETE },
        { KEY_BTAB, KM_KEY_BTAB },   { KEY_RESIZE, KM_KEY_RESIZE },
        { KEY_ENTER, KM_KEY_ENTER }, { KEY_BACKSPACE, KM_KEY_BACKSPACE },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if ((wint_t)map[i].curses == k)
            return map[i].km;
    if (k >= (wint_t)KEY_F(1) && k <= (wint_t)KEY_F(12))
        return KM_KEY_F1 + (int)(k - (wint_t)KEY_F(1));
    return -2; /* a key bfmon has no name for: ignored */
}

int screen_key(screen *s)
{
    (void)s;
    for (;;) {
        wint_t k;
        int rc = wget_wch(stdscr, &k);
        if (rc == ERR)
            return -1;
        if (rc == KEY_CODE_YES) {
            int km = special_key(k);
            if (km == -2)
                continue;
            return km;
        }
        if (k == '\r')
            return KM_KEY_ENTER;
        if (k == 8)
            return KM_KEY_BACKSPACE;
        return (int)k;
    }
}

int screen_input_fd(const screen *s)
{
    (void)s;
    return STDIN_FILENO;
}
