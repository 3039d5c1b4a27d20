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
    expect_frame(v, "\x1b[1;1H<r0>abc\x1b[1;11Hc<0>");
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
    expect_frame(v, "\x1b[2;1H<r0> \xe2\x96\x88??x<0>");
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
    expect_frame(v, "\x1b[1;1H<r0>cdef\x1b[2;4Ha<0>");
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
    expect_frame(v, "\x1b[1;1H<r0>abc\x1b[2;1Ha<0>");
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
    expect_frame(v, "\x1b[2;1H<r0>a\x1b[1;1Hab<0>");
    vt_destroy(v);

    caps.skip_last_cell = false;
    v = vt_create(&caps);
    vt_begin(v, 2, 2, false);
    vt_put(v, 0, 1, c, 2);
    expect_frame(v, "\x1b[2;1H<r0>ab<0>");
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
    expect_frame(v, "<0><C>\x1b[1;1H<r13>q<0>");
    vt_begin(v, 10, 5, false); /* the same spot and role: still addressed and set again */
    vt_put(v, 1, 0, c, 1);
    expect_frame(v, "\x1b[1;2H<r13>q<0>");
    vt_begin(v, 10, 5, false); /* nothing changed: nothing to send */
    expect_frame(v, "");
    vt_destroy(v);
}

/* ---- round trip through a terminal model ---------------------------------------------------- */

#define TW 200
#define TH 50

typedef struct term_model {
    char glyph[TH][TW][5];
    int role[TH][TW];
    int x, y, r;
} term_model;

static int parse_num(const char **p)
{
    int n = 0;
    while (**p >= '0' && **p <= '9')
        n = n * 10 + (*(*p)++ - '0');
    return n;
}

/* Interprets ANSI cursor addresses, the test's role markers and UTF-8 glyphs. */
static void model_feed(term_model *t, const char *b, size_t n)
{
    const char *p = b, *end = b + n;
    while (p < end) {
        if (*p == '\x1b') {
            p += 2;
            int row = parse_num(&p);
            p++;
            int col = parse_num(&p);
            p++;
            t->y = row - 1;
            t->x = col - 1;
        } else if (*p == '<') {
            if (p[1] == 'r') {
                p += 2;
                t->r = parse_num(&p);
            } else {
                t->r = 0;
                p += 2;
            }
            p++;
        } else {
            int len = (unsigned char)*p < 0x80 ? 1 : (unsigned char)*p < 0xe0 ? 2 : 3;
            cr_assert(t->x >= 0 && t->x < TW && t->y >= 0 && t->y < TH, "write off screen");
            memset(t->glyph[t->y][t->x], 0, 5);
            memcpy(t->glyph[t->y][t->x], p, (size_t)len);
            t->role[t->y][t->x] = t->r;
            t->x++;
            p += len;
        }
    }
}

Test(vt, random_runs_over_many_frames_leave_the_model_showing_exactly_what_was_put)
{
    static const char *glyphs[] = { "0", "7", ".", " ", "\xe2\x96\x8c", "\xe2\x94\x80", "a" };
    static term_model t;
    static cell want[TH][TW];
    memset(&t, 0, sizeof t);
    for (int y = 0; y < TH; y++)
        for (int x = 0; x < TW; x++) {
            want[y][x] = mk(" ", ROLE_NORMAL);
            strcpy(t.glyph[y][x], " ");
        }
    vt_caps caps = test_caps();
    vt *v = vt_create(&caps);
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
                run[i] = want[y][x + i] = mk(glyphs[rand_r(&seed) % 7], (role)(rand_r(&seed) % 4));
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
            cr_assert_eq(t.role[y][x], want[y][x].role, "role at %d,%d", x, y);
        }
    vt_destroy(v);
}
