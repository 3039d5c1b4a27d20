/*
 * palette: the role -> colour/attribute mapping at every colour depth (tui/palette.h).
 */
#include <criterion/criterion.h>

#include "tui/palette.h"

static const color_depth depths[] = { DEPTH_MONO, DEPTH_8, DEPTH_16, DEPTH_256 };

static bool same_style(pal_style a, pal_style b)
{
    return a.fg == b.fg && a.bg == b.bg && a.attrs == b.attrs;
}

static bool in_range(short c, short below)
{
    return c == PAL_DEFAULT || (c >= 0 && c < below);
}

Test(palette, eight_colours_use_only_the_basic_eight)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        pal_style st = palette_style((role)r, DEPTH_8);
        cr_expect(in_range(st.fg, 8) && in_range(st.bg, 8), "role %c: fg %d bg %d",
                  theme_role_letter((role)r), st.fg, st.bg);
    }
}

Test(palette, sixteen_colours_stay_below_16_and_brighten_bold_roles)
{
    bool some_bright = false;
    for (int r = 0; r < ROLE_COUNT; r++) {
        pal_style st = palette_style((role)r, DEPTH_16), base = palette_style((role)r, DEPTH_8);
        cr_expect(in_range(st.fg, 16) && in_range(st.bg, 8), "role %c: fg %d bg %d",
                  theme_role_letter((role)r), st.fg, st.bg);
        if (base.fg >= 0 && (st.attrs & PAL_BOLD)) {
            cr_expect_eq(st.fg, base.fg + 8, "bold role %c is not the bright form",
                         theme_role_letter((role)r));
            some_bright = true;
        } else {
            cr_expect_eq(st.fg, base.fg, "role %c", theme_role_letter((role)r));
        }
        cr_expect_eq(st.bg, base.bg);
    }
    cr_expect(some_bright, "16 colours never use a bright colour");
}

Test(palette, two_hundred_fifty_six_colours_use_the_extended_palette)
{
    bool extended = false;
    for (int r = 0; r < ROLE_COUNT; r++) {
        pal_style st = palette_style((role)r, DEPTH_256);
        cr_expect(in_range(st.fg, 256) && in_range(st.bg, 256));
        extended |= st.fg >= 16 || st.bg >= 16;
    }
    cr_expect(extended);
}

Test(palette, monochrome_has_no_colour)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        pal_style st = palette_style((role)r, DEPTH_MONO);
        cr_expect(st.fg == PAL_DEFAULT && st.bg == PAL_DEFAULT, "role %c has a colour",
                  theme_role_letter((role)r));
    }
    cr_expect_eq(palette_style(ROLE_NORMAL, DEPTH_MONO).attrs, 0u);
}

/* Roles shown side by side must look different at every depth, attributes alone in monochrome. */
Test(palette, roles_that_carry_meaning_stay_apart_at_every_depth)
{
    static const role groups[][4] = {
        { ROLE_FLASH_ADD, ROLE_FLASH_PULL, ROLE_NORMAL, ROLE_COUNT },
        { ROLE_LARGE_BUY, ROLE_LARGE_SELL, ROLE_NORMAL, ROLE_COUNT },
        { ROLE_UP, ROLE_DOWN, ROLE_NORMAL, ROLE_COUNT },
        { ROLE_OK, ROLE_WARN, ROLE_ERROR, ROLE_NORMAL },
        { ROLE_SELECTED, ROLE_NORMAL, ROLE_DIM, ROLE_COUNT },
        { ROLE_DEMO, ROLE_WARN, ROLE_ERROR, ROLE_OK },
        { ROLE_HEADER, ROLE_NORMAL, ROLE_DIM, ROLE_COUNT },
    };
    for (size_t d = 0; d < sizeof depths / sizeof *depths; d++)
        for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
            for (int i = 0; i < 4 && groups[g][i] != ROLE_COUNT; i++)
                for (int j = i + 1; j < 4 && groups[g][j] != ROLE_COUNT; j++)
                    cr_expect(!same_style(palette_style(groups[g][i], depths[d]),
                                          palette_style(groups[g][j], depths[d])),
                              "depth %d: roles %c and %c look the same", (int)depths[d],
                              theme_role_letter(groups[g][i]), theme_role_letter(groups[g][j]));
}

Test(palette, bids_and_asks_differ_wherever_there_is_colour)
{
    for (size_t d = 1; d < sizeof depths / sizeof *depths; d++) {
        cr_expect_neq(palette_style(ROLE_BID, depths[d]).fg, palette_style(ROLE_ASK, depths[d]).fg);
        cr_expect_neq(palette_style(ROLE_BID_BAR, depths[d]).fg,
                      palette_style(ROLE_ASK_BAR, depths[d]).fg);
    }
}

Test(palette, an_unknown_role_looks_normal)
{
    for (size_t d = 0; d < sizeof depths / sizeof *depths; d++)
        cr_expect(
            same_style(palette_style((role)200, depths[d]), palette_style(ROLE_NORMAL, depths[d])));
}
