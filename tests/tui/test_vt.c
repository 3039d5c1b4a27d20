/*
 * vt: the exact bytes a frame's changed cells become (tui/vt.h), and a round trip through a small
 * terminal model: whatever runs of cells are put, the model ends up showing them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/vt.h"

/* Role sequences that show which role is which: "<r3>" for role 3; reset "<0>", clear "<C>". */
static char seqs[ROLE_COUNT][8];

static vt_caps test_caps(void)
{
    vt_caps c = { .reset = "<0>", .clear = "<C>" };
    for (int r = 0; r < ROLE_COUNT; r++) {
        snprintf(seqs[r], sizeof seqs[r], "<r%d>", r);
        c.role_seq[r] = seqs[r];
    }
    return c;
}

static cell mk(const char *glyph, role r)
{
    cell c;
    memset(&c, 0, sizeof c);
    strncpy(c.glyph, glyph, sizeof c.glyph - 1);
    c.role = (uint8_t)r;
    return c;
}

/* The frame's bytes as a string (the test strings hold no NULs). */
static char *frame(vt *v)
{
    size_t n;
    const char *b = vt_end(v, &n);
    char *s = malloc(n + 1);
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

static void expect_frame(vt *v, const char *want)
{
    char *got = frame(v);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(vt, a_run_moves_once_and_changes_attributes_only_between_roles)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("1", ROLE_BID), mk("2", ROLE_BID), mk(".", ROLE_BID), mk("5", ROLE_DIM) };
    vt_put(v, 9, 4, c, 4);
    expect_frame(v, "\x1b[5;10H<r3>12.<r1>5<0>");
    vt_destroy(v);
}

Test(vt, the_next_run_on_the_spot_the_cursor_reached_needs_no_move)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell a[] = { mk("a", ROLE_NORMAL), mk("b", ROLE_NORMAL) };
    cell b[] = { mk("c", ROLE_NORMAL) };
    vt_put(v, 0, 0, a, 2);
    vt_put(v, 2, 0, b, 1);  /* where the cursor is: no move, same role: no sequence */
    vt_put(v, 10, 0, b, 1); /* elsewhere on the row: a move */
    expect_frame(v, "\x1b[H<r0>abc\x1b[7Cc<0>");
    vt_destroy(v);
}

Test(vt, blanks_become_spaces_utf8_passes_through_and_control_bytes_never_reach_the_terminal)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("", ROLE_NORMAL), mk("\xe2\x96\x88", ROLE_NORMAL), mk("\x1b", ROLE_NORMAL),
                 mk("\x7f", ROLE_NORMAL), mk("x", (role)200) /* unknown role: normal */ };
    vt_put(v, 0, 1, c, 5);
    expect_frame(v, "\x1b[2H<r0> \xe2\x96\x88??x<0>");
    vt_destroy(v);
}

Test(vt, cells_outside_the_screen_are_dropped)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    vt_begin(v, 4, 2, false);
    cell c[] = { mk("a", 0), mk("b", 0), mk("c", 0), mk("d", 0), mk("e", 0), mk("f", 0) };
    vt_put(v, -2, 0, c, 6); /* a, b left of the screen */
    vt_put(v, 3, 1, c, 6);  /* only a fits */
    vt_put(v, 0, 2, c, 1);  /* below */
    vt_put(v, 0, -1, c, 1); /* above */
    vt_put(v, 4, 0, c, 1);  /* right of it */
    vt_put(v, 0, 0, c, 0);  /* nothing */
    expect_frame(v, "\x1b[H<r0>cdef\x1b[2;4Ha<0>");
    vt_destroy(v);
}

Test(vt, after_the_last_column_the_cursor_is_unknown)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    vt_begin(v, 3, 2, false);
    cell c[] = { mk("a", 0), mk("b", 0), mk("c", 0) };
    vt_put(v, 0, 0, c, 3);
    vt_put(v, 0, 1, c, 1); /* a wrap may or may not have happened: address it */
    expect_frame(v, "\x1b[H<r0>abc\x1b[2Ha<0>");
    vt_destroy(v);
}

Test(vt, the_bottom_right_cell_is_left_alone_where_writing_it_would_scroll)
{
    vt_caps caps = test_caps();
    caps.skip_last_cell = true;
    vt *v = vt_create(&caps);
    cell c[] = { mk("a", 0), mk("b", 0) };
    vt_begin(v, 2, 2, false);
    vt_put(v, 0, 1, c, 2);
    vt_put(v, 0, 0, c, 2); /* not the last row: whole */
    expect_frame(v, "\x1b[2H<r0>a\x1b[Hab<0>");
    vt_destroy(v);

    caps.skip_last_cell = false;
    v = vt_create(&caps);
    vt_begin(v, 2, 2, false);
    vt_put(v, 0, 1, c, 2);
    expect_frame(v, "\x1b[2H<r0>ab<0>");
    vt_destroy(v);
}

static const char *odd_cup(int y, int x)
{
    static char b[32];
    snprintf(b, sizeof b, "{%d,%d}", y, x);
    return b;
}

Test(vt, a_terminal_with_its_own_cursor_address_gets_it)
{
    vt_caps caps = test_caps();
    caps.cup = odd_cup;
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("z", ROLE_ASK) };
    vt_put(v, 7, 3, c, 1);
    expect_frame(v, "{3,7}<r4>z<0>");
    vt_destroy(v);
}

Test(vt, a_full_frame_starts_with_reset_and_clear_and_state_never_carries_over)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    cell c[] = { mk("q", ROLE_OK) };
    vt_begin(v, 10, 5, true);
    vt_put(v, 0, 0, c, 1);
    expect_frame(v, "<0><C>\x1b[H<r13>q<0>");
    vt_begin(v, 10, 5, false); /* the same spot and role: still addressed and set again */
    vt_put(v, 1, 0, c, 1);
    expect_frame(v, "\x1b[1;2H<r13>q<0>");
    vt_begin(v, 10, 5, false); /* nothing changed: nothing to send */
    expect_frame(v, "");
    vt_destroy(v);
}

Test(vt, with_synchronized_output_a_frame_is_bracketed_and_an_empty_one_sends_nothing)
{
    vt_caps caps = test_caps();
    caps.sync = true;
    vt *v = vt_create(&caps);
    cell c[] = { mk("q", ROLE_OK) };
    vt_begin(v, 10, 5, true);
    vt_put(v, 0, 0, c, 1);
    expect_frame(v, "\x1b[?2026h<0><C>\x1b[H<r13>q<0>\x1b[?2026l");
    vt_begin(v, 10, 5, false);
    vt_put(v, 1, 0, c, 1);
    expect_frame(v, "\x1b[?2026h\x1b[1;2H<r13>q<0>\x1b[?2026l");
    vt_begin(v, 10, 5, false); /* nothing changed: not even the brackets */
    expect_frame(v, "");
    vt_destroy(v);
}

/* A terminal that reports mode 2026 late: the frame under way stays as it began, the next ones are
 * bracketed. */
Test(vt, synchronized_output_turned_on_later_starts_with_the_next_frame)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    cell c[] = { mk("q", ROLE_OK) };
    vt_begin(v, 10, 5, true);
    vt_set_sync(v, true);
    vt_put(v, 0, 0, c, 1);
    expect_frame(v, "<0><C>\x1b[H<r13>q<0>");
    vt_begin(v, 10, 5, false);
    vt_put(v, 1, 0, c, 1);
    expect_frame(v, "\x1b[?2026h\x1b[1;2H<r13>q<0>\x1b[?2026l");
    vt_set_sync(v, false);
    vt_begin(v, 10, 5, false);
    vt_put(v, 2, 0, c, 1);
    expect_frame(v, "\x1b[1;3H<r13>q<0>");
    vt_destroy(v);
}

/* ---- roles as SGR parameters ---------------------------------------------------------------- */

/* Attributes 1 (bold), 2 (dim), 7 (reverse), 4 (underline), as the screen would map them. */
static const char *const test_attr[VT_ATTR_COUNT] = { "1", "2", "7", "4" };

/* Varied looks: some roles plain, some with attributes, 8- and 256-colour foregrounds and
 * backgrounds, and two roles (NORMAL and DEMO) that look the same. */
static vt_sgr test_sgr(bool default_colours, bool attr_off)
{
    static const char *const fgs[] = { NULL, "31", "38;5;196", "32", NULL, "38;5;16" };
    static const char *const bgs[] = { NULL, NULL, "44", NULL, "48;5;153", NULL, NULL };
    static const char *const off[VT_ATTR_COUNT] = { "22", "22", "27", "24" };
    static const unsigned clears[VT_ATTR_COUNT] = { 3, 3, 4, 8 };
    vt_sgr s = { .default_colours = default_colours, .blank_attrs = 4 | 8 };
    for (int i = 0; i < VT_ATTR_COUNT; i++) {
        s.attr[i] = test_attr[i];
        s.attr_off[i] = attr_off ? off[i] : NULL;
        s.attr_off_clears[i] = clears[i];
    }
    for (int r = 0; r < ROLE_COUNT; r++) {
        s.role_attrs[r] = (unsigned)(r * 7 % 5) & 0xf;
        s.fg[r] = fgs[r % 6];
        s.bg[r] = bgs[r % 7];
    }
    s.role_attrs[ROLE_DEMO] = s.role_attrs[ROLE_NORMAL];
    s.fg[ROLE_DEMO] = s.fg[ROLE_NORMAL];
    s.bg[ROLE_DEMO] = s.bg[ROLE_NORMAL];
    return s;
}

static vt_caps sgr_caps(const vt_sgr *s)
{
    vt_caps c = test_caps();
    c.reset = "\x1b[m\x0f";
    c.sgr = s;
    return c;
}

Test(vt, sgr_roles_change_only_what_differs)
{
    vt_sgr s = { .attr = { "1", "2", "7", "4" }, .default_colours = true };
    s.fg[ROLE_BID] = "32";
    s.fg[ROLE_FLASH_ADD] = "32";
    s.bg[ROLE_FLASH_ADD] = "48;5;22";
    s.role_attrs[ROLE_FLASH_ADD] = 1u << 0;
    s.fg[ROLE_ASK] = "38;5;196";
    s.fg[ROLE_UP] = "31";
    s.bg[ROLE_UP] = "44";
    s.bg[ROLE_DOWN] = "44";
    vt_caps caps = sgr_caps(&s);
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("a", ROLE_BID),  mk("b", ROLE_FLASH_ADD), mk("c", ROLE_BID),
                 mk("d", ROLE_ASK),  mk("e", ROLE_NORMAL),    mk("f", ROLE_HEADER),
                 mk("g", ROLE_DEMO), mk("h", ROLE_UP),        mk("i", ROLE_DOWN) };
    vt_put(v, 0, 0, c, 9);
    /* From unknown: the terminal's reset, then the role. Adding bold and a background: just those.
     * Dropping bold: a reset (no attribute-off codes here). A colour: only the one that changed,
     * 39 for the default unless a reset is shorter. Roles that look the same: nothing. */
    expect_frame(v, "\x1b[H\x1b[m\x0f\x1b[32ma\x1b[1;48;5;22mb\x1b[0;32mc\x1b[38;5;196md"
                    "\x1b[0mefg\x1b[31;44mh\x1b[39mi\x1b[m\x0f");
    vt_destroy(v);
}

Test(vt, sgr_attribute_off_codes_when_shorter_than_a_reset)
{
    vt_sgr s = { .attr = { "1", "2", "7", "4" },
                 .attr_off = { "22", "22", "27", "24" },
                 .attr_off_clears = { 3, 3, 4, 8 },
                 .default_colours = true };
    s.fg[ROLE_FLASH_ADD] = s.fg[ROLE_BID] = "32";
    s.bg[ROLE_FLASH_ADD] = s.bg[ROLE_BID] = "48;5;22";
    s.role_attrs[ROLE_FLASH_ADD] = 1u << 0;
    s.role_attrs[ROLE_HEADER] = 3; /* bold and dim */
    s.role_attrs[ROLE_DIM] = 2;
    s.role_attrs[ROLE_SELECTED] = 4 | 8; /* reverse, underline */
    s.role_attrs[ROLE_OK] = 8;
    vt_caps caps = sgr_caps(&s);
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("a", ROLE_FLASH_ADD), mk("b", ROLE_BID),      mk("c", ROLE_HEADER),
                 mk("d", ROLE_DIM),       mk("e", ROLE_SELECTED), mk("f", ROLE_OK) };
    vt_put(v, 0, 0, c, 6);
    /* Bold off keeps the colours; from bold and dim to dim alone "0;2" beats "22;2" (22 takes dim
     * too); reverse off alone. */
    expect_frame(v, "\x1b[H\x1b[m\x0f\x1b[1;32;48;5;22ma\x1b[22mb\x1b[0;1;2mc\x1b[0;2md"
                    "\x1b[0;7;4me\x1b[27mf\x1b[m\x0f");
    vt_destroy(v);
}

Test(vt, sgr_without_default_colour_codes_resets_to_drop_a_colour)
{
    vt_sgr s = { .attr = { "1", "2", "7", "4" }, .default_colours = false };
    s.fg[ROLE_BID] = "32";
    s.bg[ROLE_FLASH_PULL] = "41";
    vt_caps caps = sgr_caps(&s);
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("a", ROLE_BID), mk("b", ROLE_NORMAL), mk("c", ROLE_FLASH_PULL),
                 mk("d", ROLE_NORMAL) };
    vt_put(v, 0, 0, c, 4);
    expect_frame(v, "\x1b[H\x1b[m\x0f\x1b[32ma\x1b[0mb\x1b[41mc\x1b[0md\x1b[m\x0f");
    vt_destroy(v);
}

Test(vt, a_blank_keeps_the_attributes_in_force_when_it_looks_the_same_in_them)
{
    vt_sgr s = { .attr = { "1", "2", "7", "4" }, .default_colours = true, .blank_attrs = 4 | 8 };
    s.role_attrs[ROLE_UP] = 1;
    s.fg[ROLE_UP] = "32";
    s.bg[ROLE_FLASH_ADD] = "44";
    s.role_attrs[ROLE_SELECTED] = 4;
    vt_caps caps = sgr_caps(&s);
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("x", ROLE_UP),        mk(" ", ROLE_NORMAL),
                 mk("", ROLE_NORMAL),     mk("y", ROLE_UP),
                 mk(" ", ROLE_FLASH_ADD), /* its background shows */
                 mk(" ", ROLE_SELECTED),  /* reverse shows */ mk("z", ROLE_NORMAL) };
    vt_put(v, 0, 0, c, 7);
    expect_frame(v, "\x1b[H\x1b[m\x0f\x1b[1;32mx  y\x1b[0;44m \x1b[0;7m \x1b[0mz\x1b[m\x0f");
    vt_destroy(v);
}

Test(vt, moves_along_a_row_go_forward_and_first_columns_drop_the_column)
{
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
    vt_begin(v, 80, 24, false);
    cell c[] = { mk("x", ROLE_NORMAL) };
    vt_put(v, 5, 3, c, 1);  /* unknown cursor: full address */
    vt_put(v, 7, 3, c, 1);  /* one cell skipped: ESC[C */
    vt_put(v, 20, 3, c, 1); /* ESC[12C */
    vt_put(v, 2, 3, c, 1);  /* backwards: full address */
    vt_put(v, 0, 9, c, 1);  /* first column: the row alone */
    vt_put(v, 0, 0, c, 1);  /* home */
    expect_frame(v, "\x1b[4;6H<r0>x\x1b[Cx\x1b[12Cx\x1b[4;3Hx\x1b[10Hx\x1b[Hx<0>");
    vt_destroy(v);
}

/* ---- round trip through a terminal model ---------------------------------------------------- */

#define TW 200
#define TH 50

/* What a cell looks like: the test's role marker in absolute mode, or the SGR state. */
typedef struct look {
    int marker; /* absolute mode: the last "<rN>" (0 after a reset) */
    unsigned attrs;
    char fg[16], bg[16];
} look;

typedef struct term_model {
    char glyph[TH][TW][5];
    look at[TH][TW];
    int x, y;
    look cur;
} term_model;

static int parse_num(const char **p, int dflt)
{
    if (**p < '0' || **p > '9')
        return dflt;
    int n = 0;
    while (**p >= '0' && **p <= '9')
        n = n * 10 + (*(*p)++ - '0');
    return n;
}

/* SGR parameters p[0..n): reset, the four attributes, 8- and 256-colour foregrounds and
 * backgrounds, 39 and 49. */
static void model_sgr(look *l, const int *p, int n)
{
    for (int i = 0; i < n; i++) {
        int q = p[i];
        if (q == 0) {
            *l = (look){ 0 };
        } else if (q == 1 || q == 2 || q == 7 || q == 4) {
            l->attrs |= 1u << (q == 1 ? 0 : q == 2 ? 1 : q == 7 ? 2 : 3);
        } else if ((q == 38 || q == 48) && i + 2 < n && p[i + 1] == 5) {
            snprintf(q == 38 ? l->fg : l->bg, sizeof l->fg, "%d;5;%d", q, p[i + 2]);
            i += 2;
        } else if ((q >= 30 && q <= 37) || (q >= 40 && q <= 47)) {
            snprintf(q < 40 ? l->fg : l->bg, sizeof l->fg, "%d", q);
        } else if (q == 22 || q == 27 || q == 24) {
            l->attrs &= ~(q == 22 ? 3u : q == 27 ? 4u : 8u); /* 22: bold and dim off */
        } else if (q == 39 || q == 49) {
            (q == 39 ? l->fg : l->bg)[0] = '\0';
        } else {
            cr_assert_fail("SGR parameter %d the test never sends", q);
        }
    }
}

static const char *model_csi(term_model *t, const char *p)
{
    int par[16], n = 0;
    do {
        if (*p == ';')
            p++;
        cr_assert_lt(n, 16);
        par[n++] = parse_num(&p, 0);
    } while (*p == ';');
    switch (*p) {
    case 'H':
        t->y = (par[0] ? par[0] : 1) - 1;
        t->x = (n > 1 && par[1] ? par[1] : 1) - 1;
        break;
    case 'C':
        t->x += par[0] ? par[0] : 1;
        break;
    case 'm':
        model_sgr(&t->cur, par, n);
        break;
    default:
        cr_assert_fail("CSI %c the test never sends", *p);
    }
    return p + 1;
}

/* Interprets CSI sequences, SI, the test's role markers and UTF-8 glyphs. */
static void model_feed(term_model *t, const char *b, size_t n)
{
    const char *p = b, *end = b + n;
    while (p < end) {
        if (*p == '\x1b') {
            cr_assert_eq(p[1], '[');
            p = model_csi(t, p + 2);
        } else if (*p == '\x0f') {
            p++;
        } else if (*p == '<') {
            if (p[1] == 'r') {
                p += 2;
                t->cur.marker = parse_num(&p, 0);
            } else {
                t->cur.marker = 0;
                p += 2;
            }
            p++;
        } else {
            int len = (unsigned char)*p < 0x80 ? 1 : (unsigned char)*p < 0xe0 ? 2 : 3;
            cr_assert(t->x >= 0 && t->x < TW && t->y >= 0 && t->y < TH, "write off screen");
            memset(t->glyph[t->y][t->x], 0, 5);
            memcpy(t->glyph[t->y][t->x], p, (size_t)len);
            t->at[t->y][t->x] = t->cur;
            t->x++;
            p += len;
        }
    }
}

/* How role r should look on the model. */
static look expected_look(const vt_sgr *s, int r)
{
    look l = { 0 };
    if (!s) {
        l.marker = r;
        return l;
    }
    for (int i = 0; i < VT_ATTR_COUNT; i++)
        if (s->role_attrs[r] & (1u << i))
            model_sgr(&l, (int[]){ atoi(s->attr[i]) }, 1);
    snprintf(l.fg, sizeof l.fg, "%s", s->fg[r] ? s->fg[r] : "");
    snprintf(l.bg, sizeof l.bg, "%s", s->bg[r] ? s->bg[r] : "");
    return l;
}

/* On a blank only the background shows, and what the attributes that show on blanks bring. */
static bool looks_same(const look *got, const look *want, bool blank, const vt_sgr *s)
{
    if (!blank || !s)
        return got->marker == want->marker && got->attrs == want->attrs &&
               !strcmp(got->fg, want->fg) && !strcmp(got->bg, want->bg);
    unsigned shown = got->attrs & s->blank_attrs;
    return shown == (want->attrs & s->blank_attrs) && !strcmp(got->bg, want->bg) &&
           (!shown || !strcmp(got->fg, want->fg));
}

/* 200 frames of random runs of random glyphs and roles; then the model must show exactly the last
 * cell put everywhere, glyph and look. */
static void round_trip(const vt_caps *caps)
{
    static const char *glyphs[] = { "0", "7", ".", " ", "\xe2\x96\x8c", "\xe2\x94\x80", "a" };
    static term_model t;
    static cell want[TH][TW];
    memset(&t, 0, sizeof t);
    for (int y = 0; y < TH; y++)
        for (int x = 0; x < TW; x++) {
            want[y][x] = mk(" ", ROLE_NORMAL);
            strcpy(t.glyph[y][x], " ");
            t.at[y][x] = expected_look(caps->sgr, ROLE_NORMAL);
        }
    vt *v = vt_create(caps);
    unsigned seed = 12345;
    for (int f = 0; f < 200; f++) {
        vt_begin(v, TW, TH, false);
        for (int k = 0; k < 60; k++) {
            int y = (int)(rand_r(&seed) % TH), x = (int)(rand_r(&seed) % TW);
            int n = 1 + (int)(rand_r(&seed) % 40);
            if (n > TW - x)
                n = TW - x;
            cell run[40];
            for (int i = 0; i < n; i++)
                run[i] = want[y][x + i] =
                    mk(glyphs[rand_r(&seed) % 7], (role)(rand_r(&seed) % ROLE_COUNT));
            vt_put(v, x, y, run, n);
        }
        size_t len;
        const char *b = vt_end(v, &len);
        model_feed(&t, b, len);
    }
    for (int y = 0; y < TH; y++)
        for (int x = 0; x < TW; x++) {
            const char *g = want[y][x].glyph[0] ? want[y][x].glyph : " ";
            cr_assert_str_eq(t.glyph[y][x], g, "glyph at %d,%d", x, y);
            look w = expected_look(caps->sgr, want[y][x].role);
            cr_assert(looks_same(&t.at[y][x], &w, !strcmp(g, " "), caps->sgr),
                      "look at %d,%d: role %d", x, y, want[y][x].role);
        }
    vt_destroy(v);
}

Test(vt, random_runs_over_many_frames_leave_the_model_showing_exactly_what_was_put)
{
    vt_caps caps = test_caps();
    round_trip(&caps);
}

Test(vt, the_same_with_roles_as_sgr_changes)
{
    vt_sgr s = test_sgr(true, false);
    vt_caps caps = sgr_caps(&s);
    round_trip(&caps);
}

Test(vt, the_same_with_sgr_changes_and_no_default_colour_codes)
{
    vt_sgr s = test_sgr(false, false);
    vt_caps caps = sgr_caps(&s);
    round_trip(&caps);
}

Test(vt, the_same_with_sgr_changes_and_attribute_off_codes)
{
    vt_sgr s = test_sgr(true, true);
    vt_caps caps = sgr_caps(&s);
    round_trip(&caps);
}
