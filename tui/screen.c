/*
 * screen: ncurses set-up, the terminal's strings, the cell copy and key reading (see screen.h).
 *
 * ncurses sets the terminal up, reads keys and restores everything on the way out; it does not draw
 * frames. The copy compares the canvas with what the terminal shows row by row, and tui/vt turns
 * the changed cells into one buffer of cursor moves, attribute strings (from terminfo, formatted
 * once per role) and glyphs, written in one write(2) per frame when the terminal takes it, so nothing
 * flickers; on terminals that keep synchronized output (DEC mode 2026, asked at start) each frame is
 * bracketed, so it is also shown whole however the terminal's reads split it.
 * Keys are read from a 1x1 pad, because reading from stdscr would let ncurses refresh the screen
 * over bfmon's output.
 *
 * Frames go out through a second, non-blocking open of the terminal. A terminal that stops reading
 * (a stalled ssh link, a hung emulator) would otherwise block the UI thread in write, deaf to every
 * key: instead the rest of the frame waits (screen_busy), no new frame is made until it has gone,
 * and the keys keep working. The next frame after it is still only the difference, because what is
 * queued reaches the terminal in order. The shell's own descriptor stays blocking.
 */
#include "tui/screen.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include "tui/keymap.h"
#include "tui/palette.h"
#include "tui/vt.h"
#include "util/clk.h"
#include "util/xalloc.h"

#define RUN_MAX   256  /* cells per vt_put */
#define RUN_GAP   3    /* unchanged cells a run may bridge */
#define SEQ_MAX   128  /* one role's attribute sequence */
#define DRAIN_MS  1000 /* on the way out, how long a frame still going out may take */
#define PROBE_MS  300  /* how long the terminal may take to answer the start-up probe */
#define PROBE_MAX 256  /* bytes of replies and typed keys the probe keeps */

struct screen {
    theme th;
    screen_opts opts;
    int w, h;
    cell *prev; /* what the terminal shows, w * h; NULL or stale: repaint everything */
    bool valid;
    WINDOW *input; /* a pad: reading keys from it never makes ncurses refresh the screen */
    vt *out;
    int out_fd;          /* the terminal, opened again non-blocking (or STDOUT_FILENO) */
    const char *pending; /* the part of the last frame the terminal has not taken yet */
    size_t pending_len;
    bool sync;       /* frames are bracketed in synchronized output (DEC mode 2026) */
    bool probe_open; /* the terminal did not answer the probe in time: drop its late replies */
};

static volatile sig_atomic_t curses_active;
static volatile sig_atomic_t sync_active; /* a frame cut short may have left mode 2026 on */

static void park_cursor(void);
static void drain_or_drop(screen *s);

/* ---- restoring the terminal ----------------------------------------------------------------- */

static void restore_terminal(void)
{
    if (curses_active && !isendwin()) {
        park_cursor();
        curs_set(1);
        endwin();
    }
    curses_active = 0;
}

/* Best effort on a crash: endwin is not async-signal-safe, but a terminal left in raw mode with an
 * invisible cursor is worse than the small risk. A terminal that takes no output (a stalled link)
 * first loses what is queued for it, or endwin would block here forever and the process would
 * neither restore nor die. Then the default action (core dump). */
static void on_fatal_signal(int sig)
{
    struct pollfd out = { STDOUT_FILENO, POLLOUT, 0 };
    if (poll(&out, 1, 200) != 1)
        tcflush(STDOUT_FILENO, TCOFLUSH);
    if (sync_active)
        (void)!write(STDOUT_FILENO, VT_SYNC_END, sizeof VT_SYNC_END - 1);
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

/* A terminfo string capability, or NULL when the terminal has none. */
static const char *cap_string(const char *name)
{
    char *v = tigetstr(name);
    return v && v != (char *)-1 ? v : NULL;
}

/* s without terminfo's padding marks ("$<5>", "$<2*>"): tputs turns them into delays that no
 * terminal emulator needs, and written as they are they would show on screen. */
static void strip_padding(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (r[0] == '$' && r[1] == '<') {
            const char *e = r + 2;
            while ((*e >= '0' && *e <= '9') || *e == '.' || *e == '*' || *e == '/')
                e++;
            if (*e == '>') {
                r = e + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

static void seq_add(char *out, size_t cap, const char *s)
{
    size_t have = strlen(out);
    if (!s || have + strlen(s) >= cap)
        return;
    strcpy(out + have, s);
    strip_padding(out + have);
}

/* A colour through setaf/setab (or the older setf/setb), formatted once. */
static void seq_colour(char *out, size_t cap, const char *ansi, const char *old, short c)
{
    const char *fmt = ansi ? ansi : old;
    if (c >= 0 && fmt)
        seq_add(out, cap, tiparm(fmt, (int)c));
}

/* What the terminal needs to draw role r: attributes off, then the role's own attributes and
 * colours (pal_style for the depth). Attributes the terminal lacks are left out. */
static void role_sequence(role r, color_depth d, char *out, size_t cap)
{
    pal_style st = palette_style(r, d);
    out[0] = '\0';
    seq_add(out, cap, cap_string("sgr0"));
    if (st.attrs & PAL_BOLD)
        seq_add(out, cap, cap_string("bold"));
    if (st.attrs & PAL_DIM)
        seq_add(out, cap, cap_string("dim"));
    if (st.attrs & PAL_REVERSE)
        seq_add(out, cap, cap_string("rev"));
    if (st.attrs & PAL_UNDERLINE)
        seq_add(out, cap, cap_string("smul"));
    if (d == DEPTH_MONO)
        return;
    seq_colour(out, cap, cap_string("setaf"), cap_string("setf"), st.fg);
    seq_colour(out, cap, cap_string("setab"), cap_string("setb"), st.bg);
}

/* terminfo's cursor address, for terminals whose cup is not the ANSI one. One screen per
 * process, so the string can live here. */
static const char *cup_string;

static const char *cup_by_terminfo(int y, int x)
{
    static char buf[64];
    buf[0] = '\0';
    seq_add(buf, sizeof buf, tiparm(cup_string, y, x));
    return buf;
}

/* vt's own ANSI moves (full address, forward along the row) are what this terminal takes. */
static bool moves_are_ansi(void)
{
    const char *cuf = cap_string("cuf");
    char fwd[32] = "";
    if (cuf)
        seq_add(fwd, sizeof fwd, tiparm(cuf, 5));
    return !strcmp(cup_by_terminfo(4, 11), "\x1b[5;12H") &&
           !strcmp(cup_by_terminfo(0, 0), "\x1b[1;1H") && !strcmp(fwd, "\x1b[5C");
}

/* The parameters of s when it is one plain SGR, "ESC [ params m" (padding marks aside), into out. */
static bool sgr_params(const char *s, char *out, size_t cap)
{
    char b[SEQ_MAX] = "";
    seq_add(b, sizeof b, s);
    size_t n = strlen(b);
    if (n < 4 || n - 3 >= cap || b[0] != '\x1b' || b[1] != '[' || b[n - 1] != 'm')
        return false;
    for (size_t i = 2; i < n - 1; i++)
        if (!((b[i] >= '0' && b[i] <= '9') || b[i] == ';'))
            return false;
    memcpy(out, b + 2, n - 3);
    out[n - 3] = '\0';
    return true;
}

/* A colour's SGR parameters through setaf/setab; NULL for the default colour, and false when the
 * terminal's colour strings are not plain SGR. */
static bool colour_params(const char *fmt, short c, char *out, size_t cap, const char **param)
{
    *param = NULL;
    if (c < 0)
        return true;
    if (!fmt || !sgr_params(tiparm(fmt, (int)c), out, cap))
        return false;
    *param = out;
    return true;
}

enum { SA_BOLD, SA_DIM, SA_REVERSE, SA_UNDERLINE }; /* vt's attribute indices, as mapped here */

/* The roles as SGR parameters, so that vt sends only what changes between two roles; NULL when a
 * string the roles need is not a plain SGR (then every change is the role's whole sequence). */
static const vt_sgr *roles_as_sgr(color_depth d)
{
    static const char *const attr_cap[VT_ATTR_COUNT] = {
        [SA_BOLD] = "bold", [SA_DIM] = "dim", [SA_REVERSE] = "rev", [SA_UNDERLINE] = "smul"
    };
    static const unsigned pal_bit[VT_ATTR_COUNT] = { [SA_BOLD] = PAL_BOLD,
                                                     [SA_DIM] = PAL_DIM,
                                                     [SA_REVERSE] = PAL_REVERSE,
                                                     [SA_UNDERLINE] = PAL_UNDERLINE };
    static char attr[VT_ATTR_COUNT][16], fg[ROLE_COUNT][32], bg[ROLE_COUNT][32];
    static vt_sgr s;
    memset(&s, 0, sizeof s);
    if (!cap_string("sgr0")) /* vt's reset at the start of each frame */
        return NULL;
    for (int i = 0; i < VT_ATTR_COUNT; i++) {
        const char *cap = cap_string(attr_cap[i]);
        if (cap && !sgr_params(cap, attr[i], sizeof attr[i]))
            return NULL;
        s.attr[i] = cap ? attr[i] : NULL; /* a missing attribute is left out, as before */
    }
    for (int r = 0; r < ROLE_COUNT; r++) {
        pal_style st = palette_style((role)r, d);
        for (int i = 0; i < VT_ATTR_COUNT; i++)
            if (st.attrs & pal_bit[i])
                s.role_attrs[r] |= 1u << i;
        if (d == DEPTH_MONO)
            continue;
        if (!colour_params(cap_string("setaf"), st.fg, fg[r], sizeof fg[r], &s.fg[r]) ||
            !colour_params(cap_string("setab"), st.bg, bg[r], sizeof bg[r], &s.bg[r]))
            return NULL;
    }
    char op[SEQ_MAX] = "", rmul[SEQ_MAX] = "";
    seq_add(op, sizeof op, cap_string("op"));
    s.default_colours = !strcmp(op, "\x1b[39;49m");
    s.blank_attrs = 1u << SA_REVERSE | 1u << SA_UNDERLINE; /* what shows on a blank */
    /* A terminal whose underline ends with ECMA-48's 24 takes its other attribute-off codes. */
    seq_add(rmul, sizeof rmul, cap_string("rmul"));
    if (!strcmp(rmul, "\x1b[24m")) {
        static const char *const off[VT_ATTR_COUNT] = {
            [SA_BOLD] = "22", [SA_DIM] = "22", [SA_REVERSE] = "27", [SA_UNDERLINE] = "24"
        };
        const unsigned intensity = 1u << SA_BOLD | 1u << SA_DIM; /* 22 ends both */
        const unsigned clears[VT_ATTR_COUNT] = { [SA_BOLD] = intensity,
                                                 [SA_DIM] = intensity,
                                                 [SA_REVERSE] = 1u << SA_REVERSE,
                                                 [SA_UNDERLINE] = 1u << SA_UNDERLINE };
        for (int i = 0; i < VT_ATTR_COUNT; i++) {
            s.attr_off[i] = off[i];
            s.attr_off_clears[i] = clears[i];
        }
    }
    return &s;
}

/* NULL when the terminal cannot address the cursor (then no frame could be drawn). */
static vt *make_output(const screen *s)
{
    cup_string = cap_string("cup");
    if (!cup_string)
        return NULL;
    static char seq[ROLE_COUNT][SEQ_MAX];
    static char reset[SEQ_MAX], clear[SEQ_MAX];
    reset[0] = clear[0] = '\0';
    seq_add(reset, sizeof reset, cap_string("sgr0"));
    seq_add(clear, sizeof clear, cap_string("clear"));
    vt_caps caps = { .reset = reset, .clear = clear };
    for (int r = 0; r < ROLE_COUNT; r++) {
        role_sequence((role)r, s->th.depth, seq[r], sizeof seq[r]);
        caps.role_seq[r] = seq[r];
    }
    caps.sgr = roles_as_sgr(s->th.depth);
    caps.cup = moves_are_ansi() ? NULL : cup_by_terminfo;
    caps.skip_last_cell = tigetflag("am") > 0 && tigetflag("xenl") <= 0;
    caps.sync = s->sync;
    return vt_create(&caps); /* copies the strings */
}

/* Hands the screen to ncurses' bookkeeping again before it restores the terminal: the cursor goes
 * to the bottom-left by absolute address, since ncurses cannot know where bfmon's writes left it. */
static void park_cursor(void)
{
    mvcur(-1, -1, LINES - 1, 0);
}

/* Lets ncurses (re)enter its mode (alternate screen, keypad, hidden cursor) and clear the screen,
 * then flushes it, so that nothing of ncurses' is pending when bfmon writes. */
static void curses_take_terminal(void)
{
    clearok(curscr, TRUE);
    wnoutrefresh(stdscr);
    doupdate();
}

/* The terminal's modes while bfmon runs. Output goes out as written: bfmon never sends a newline,
 * and without output processing the kernel copies a frame instead of inspecting each byte. No
 * XON/XOFF flow control: with it a stray Ctrl-S stops all output, the screen freezes with live-
 * looking data and the UI thread blocks in write, deaf to every key but Ctrl-Q. ncurses keeps
 * these as the program's mode (after a suspend too); endwin restores the shell's. */
static void program_modes(void)
{
    struct termios tio;
    if (tcgetattr(STDOUT_FILENO, &tio) == 0) {
        tio.c_oflag &= ~(tcflag_t)OPOST;
        tio.c_iflag &= ~(tcflag_t)IXON;
        tcsetattr(STDOUT_FILENO, TCSADRAIN, &tio);
    }
    def_prog_mode();
}

/* ---- asking the terminal ------------------------------------------------------------------- */

/* A control sequence "ESC [ ? params [intermediates] final" from the terminal. */
typedef struct reply {
    char params[32];
    char inter; /* the last intermediate byte ('$' in a DECRPM), or 0 */
    char final;
} reply;

/* Parses a reply at b (n bytes): its length, 0 when b does not start one, -1 when it is cut off. */
static int parse_reply(const unsigned char *b, int n, reply *r)
{
    if (n >= 1 && b[0] != 0x1b)
        return 0;
    if ((n >= 2 && b[1] != '[') || (n >= 3 && b[2] != '?'))
        return 0;
    memset(r, 0, sizeof *r);
    size_t np = 0;
    for (int i = 3; i < n; i++) {
        if (b[i] >= 0x40 && b[i] <= 0x7e) {
            r->final = (char)b[i];
            return i + 1;
        }
        if (b[i] >= 0x20 && b[i] <= 0x2f)
            r->inter = (char)b[i];
        else if (np + 1 < sizeof r->params)
            r->params[np++] = (char)b[i];
    }
    return -1;
}

/* A DECRPM report ("ESC [ ? 2026 ; Ps $ y") about mode 2026. */
static bool reports_mode_2026(const reply *r)
{
    return r->final == 'y' && r->inter == '$' && strncmp(r->params, "2026;", 5) == 0;
}

/* Ps 1 (set) or 2 (reset): the terminal keeps the mode. 0 (unknown) or 4 (permanently reset): no. */
static bool reports_sync_kept(const reply *r)
{
    return r->params[5] == '1' || r->params[5] == '2';
}

/* Gives bytes that were typed keys, not replies, back to ncurses in their order. */
static void unread(const unsigned char *keys, int n)
{
    while (n > 0)
        ungetch(keys[--n]);
}

static void keep_key(unsigned char *keys, int *n, unsigned char b)
{
    if (*n < PROBE_MAX) /* beyond: a paste during the probe, cut */
        keys[(*n)++] = b;
}

/* Asks whether the terminal keeps synchronized output (DECRQM for DEC mode 2026), then for its
 * primary attributes (DA1), which every terminal answers: a "set" or "reset" report before the
 * DA1 reply means yes, none means no. Terminals that do not know the mode (tmux 3.3, the Linux
 * console, xterm) answer DA1 only. Keys typed meanwhile go back to ncurses. A terminal that has not
 * answered within PROBE_MS starts with plain frames; its replies, if they come later, are read by
 * screen_key instead of being taken for keys, and a late report of the mode turns it on then. */
static void probe_sync(screen *s)
{
    static const char ask[] = "\033[?2026$p\033[c";
    if (write(STDOUT_FILENO, ask, sizeof ask - 1) != (ssize_t)(sizeof ask - 1))
        return;
    unsigned char buf[PROBE_MAX], keys[PROBE_MAX];
    int n = 0, nkeys = 0;
    bool answered = false, sync = false;
    int64_t end = clk_mono_ns() + (int64_t)PROBE_MS * 1000000;
    int64_t left;
    while (!answered && n < PROBE_MAX && (left = end - clk_mono_ns()) > 0) {
        struct pollfd in = { STDIN_FILENO, POLLIN, 0 };
        if (poll(&in, 1, (int)(left / 1000000) + 1) != 1)
            continue;
        ssize_t got = read(STDIN_FILENO, buf + n, (size_t)(PROBE_MAX - n));
        if (got <= 0)
            break;
        n += (int)got;
        int at = 0;
        for (;;) {
            reply r;
            int len = at < n ? parse_reply(buf + at, n - at, &r) : -1;
            if (len < 0)
                break;
            if (len == 0) {
                keep_key(keys, &nkeys, buf[at++]);
                continue;
            }
            at += len;
            if (reports_mode_2026(&r))
                sync = reports_sync_kept(&r);
            else if (r.final == 'c')
                answered = true;
        }
        memmove(buf, buf + at, (size_t)(n - at));
        n -= at;
    }
    for (int i = 0; answered && i < n; i++) /* after the DA1 reply, an ESC alone is a key */
        keep_key(keys, &nkeys, buf[i]);
    unread(keys, nkeys);
    s->probe_open = !answered;
    s->sync = answered && sync;
}

/* While the probe is open: an "ESC [ ?" reply that came late is read and dropped (its DA1 closes
 * the probe); one that reports mode 2026 brackets the frames from then on. Returns false, with the
 * keys read given back, when what follows ESC is not one. */
static bool drop_late_reply(screen *s)
{
    unsigned char b[PROBE_MAX] = { 0x1b };
    int n = 1;
    reply r;
    int len;
    while ((len = parse_reply(b, n, &r)) < 0 && n < PROBE_MAX) {
        int k = wgetch(s->input);
        if (k == ERR)
            break;
        if (k > 0xff) { /* a function key: not a reply */
            ungetch(k);
            break;
        }
        b[n++] = (unsigned char)k;
    }
    if (len <= 0) {
        unread(b + 1, n - 1);
        return false;
    }
    if (reports_mode_2026(&r) && reports_sync_kept(&r)) { /* a slow link: the frames it tears */
        s->sync = true;
        sync_active = 1;
        vt_set_sync(s->out, true);
    }
    if (r.final == 'c')
        s->probe_open = false;
    return true;
}

/* ---- open / close --------------------------------------------------------------------------- */

/* The terminal opened again, non-blocking, for frames; the descriptor the shell shares stays as it
 * is. STDOUT_FILENO when that cannot be done (writes then block as they would anywhere). */
static int open_output(void)
{
    const char *name = ttyname(STDOUT_FILENO);
    int fd = name ? open(name, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
    return fd >= 0 ? fd : STDOUT_FILENO;
}

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
    s->out_fd = open_output();
    if (o)
        s->opts = *o;
    cbreak();
    noecho();
    program_modes();
    probe_sync(s);
    sync_active = s->sync;
    s->input = newpad(1, 1);
    keypad(s->input, TRUE);
    nodelay(s->input, TRUE);
    set_escdelay(25); /* Esc alone closes overlays without a second's wait */
    curs_set(0);
    theme_init(&s->th, utf8, detect_depth());
    s->out = make_output(s);
    if (!s->out) {
        snprintf(why, why_cap, "the terminal (TERM=%s) cannot move the cursor",
                 getenv("TERM") ? getenv("TERM") : "unset");
        screen_close(s);
        return NULL;
    }
    getmaxyx(stdscr, s->h, s->w);
    curses_take_terminal();
    return s;
}

void screen_close(screen *s)
{
    if (s)
        drain_or_drop(s);
    restore_terminal();
    if (!s)
        return;
    if (s->out_fd != STDOUT_FILENO)
        close(s->out_fd);
    free(s->prev);
    vt_destroy(s->out);
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
    drain_or_drop(s);
    park_cursor();
    def_prog_mode();
    endwin();
    fflush(stdout);
    kill(getpid(), SIGSTOP); /* SIGTSTP itself is blocked: the loop took it from its signalfd */
    reset_prog_mode();
    curses_take_terminal();
    screen_invalidate(s);
    screen_resize(s);
}

/* ---- drawing -------------------------------------------------------------------------------- */

/* Cells compare as plain bytes: the canvas pads every glyph with NULs to its end. */
static bool same_cell(const cell *a, const cell *b)
{
    return !memcmp(a, b, sizeof *a);
}

static void ensure_prev(screen *s, int w, int h)
{
    if (s->prev && s->valid)
        return;
    free(s->prev);
    s->prev = xcalloc((size_t)w * (size_t)h, sizeof *s->prev);
}

#define CHUNK 8 /* cells compared at once while looking for the next change: one 48-byte memcmp */

/* The first column from x on where the row changed (w: none). Unchanged stretches go by CHUNK
 * cells at a time; most of a busy frame's row is unchanged between its changes. */
static int next_change(const cell *now, const cell *was, int x, int w)
{
    while (x + CHUNK <= w && !memcmp(&now[x], &was[x], CHUNK * sizeof *now))
        x += CHUNK;
    while (x < w && same_cell(&now[x], &was[x]))
        x++;
    return x;
}

/* Copies the changed cells of one row in runs. Up to RUN_GAP unchanged cells between two changed
 * ones join the run: a few glyphs cost less than a cursor move. Returns the cells that changed. */
static int draw_row(screen *s, const cell *now, cell *was, int y, int w, bool full)
{
    if (!full && !memcmp(now, was, (size_t)w * sizeof *now))
        return 0;
    int written = 0;
    int x = 0;
    while (x < w) {
        if (!full && (x = next_change(now, was, x, w)) >= w)
            break;
        int start = x, end = x + 1; /* [start, end) ends on a changed cell */
        written++;
        for (int k = end; k < w && k - start < RUN_MAX && k - end <= RUN_GAP; k++)
            if (full || !same_cell(&now[k], &was[k])) {
                end = k + 1;
                written++;
            }
        vt_put(s->out, start, y, &now[start], end - start);
        memcpy(&was[start], &now[start], (size_t)(end - start) * sizeof *now);
        x = end;
    }
    return written;
}

/* As much of the pending frame as the terminal takes now. A write error leaves the screen
 * unknown: the rest is dropped and the next frame repaints everything. */
void screen_flush(screen *s)
{
    while (s->pending_len > 0) {
        ssize_t n = write(s->out_fd, s->pending, s->pending_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            s->pending_len = 0;
            s->valid = false;
            return;
        }
        s->pending += n;
        s->pending_len -= (size_t)n;
    }
}

bool screen_busy(const screen *s)
{
    return s->pending_len > 0;
}

int screen_output_fd(const screen *s)
{
    return s->out_fd;
}

static bool writable_within(int fd, int ms)
{
    struct pollfd p = { fd, POLLOUT, 0 };
    return poll(&p, 1, ms) == 1;
}

/* Before ncurses writes (leaving, suspending): let a frame still going out finish and the terminal
 * take output again, for a while; then discard what it has not taken, so ncurses' own blocking
 * writes cannot hang. The screen is unknown afterwards. */
static void drain_or_drop(screen *s)
{
    int64_t end = clk_mono_ns() + (int64_t)DRAIN_MS * 1000000;
    int64_t left;
    while ((left = end - clk_mono_ns()) > 0 &&
           (s->pending_len > 0 || !writable_within(s->out_fd, 0))) {
        writable_within(s->out_fd, (int)(left / 1000000) + 1);
        screen_flush(s);
    }
    if (s->pending_len > 0 || !writable_within(s->out_fd, 0)) {
        tcflush(STDOUT_FILENO, TCOFLUSH);
        if (s->sync) /* the frame cut short had opened mode 2026 */
            (void)!write(STDOUT_FILENO, VT_SYNC_END, sizeof VT_SYNC_END - 1);
        s->pending_len = 0;
        s->valid = false;
    }
}

int screen_draw(screen *s, const canvas *c)
{
    if (screen_busy(s))
        return 0; /* the caller waits for the terminal first: vt still holds the pending bytes */
    int w = canvas_width(c) < s->w ? canvas_width(c) : s->w;
    int h = canvas_height(c) < s->h ? canvas_height(c) : s->h;
    bool full = !s->valid || s->opts.repaint_all;
    ensure_prev(s, s->w, s->h);
    vt_begin(s->out, s->w, s->h, full);
    int written = 0;
    for (int y = 0; y < h && w > 0; y++)
        written += draw_row(s, canvas_at(c, 0, y), &s->prev[(size_t)y * (size_t)s->w], y, w, full);
    s->pending = vt_end(s->out, &s->pending_len);
    s->valid = true;
    screen_flush(s);
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
    for (;;) {
        wint_t k;
        int rc = wget_wch(s->input, &k);
        if (rc == ERR)
            return -1;
        if (rc == OK && k == 0x1b && s->probe_open && drop_late_reply(s))
            continue;
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
