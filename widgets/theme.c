/* theme: glyph sets and role letters (see theme.h). */
#include "widgets/theme.h"

#include <string.h>

static const char role_letters[ROLE_COUNT] = {
    [ROLE_NORMAL] = ' ',     [ROLE_DIM] = 'd',     [ROLE_HEADER] = 'h',  [ROLE_BID] = 'b',
    [ROLE_ASK] = 'a',        [ROLE_BID_BAR] = 'B', [ROLE_ASK_BAR] = 'A', [ROLE_FLASH_ADD] = '+',
    [ROLE_FLASH_PULL] = '-', [ROLE_UP] = 'u',      [ROLE_DOWN] = 'n',    [ROLE_LARGE_BUY] = 'L',
    [ROLE_LARGE_SELL] = 'S', [ROLE_OK] = 'o',      [ROLE_WARN] = 'w',    [ROLE_ERROR] = 'e',
    [ROLE_SELECTED] = 's',   [ROLE_DEMO] = 'D',
};

static void glyphs_utf8(theme *t)
{
    static const char *const spark[8] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
    static const char *const hbar[9] = { " ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█" };
    static const char *const corner[4] = { "┌", "┐", "└", "┘" };
    memcpy(t->spark, spark, sizeof t->spark);
    memcpy(t->hbar, hbar, sizeof t->hbar);
    memcpy(t->corner, corner, sizeof t->corner);
    t->hline = "─";
    t->vline = "│";
    t->up = "▲";
    t->down = "▼";
    t->ellipsis = "…";
}

/* ASCII: eight sparkline levels by visual weight; bars round to a quarter: small '.', at least a
 * half '+', full '#', so a tiny but non-zero depth still shows. */
static void glyphs_ascii(theme *t)
{
    static const char *const spark[8] = { "_", ".", "-", "=", "+", "*", "#", "@" };
    static const char *const hbar[9] = { " ", ".", ".", ".", "+", "+", "+", "#", "#" };
    static const char *const corner[4] = { "+", "+", "+", "+" };
    memcpy(t->spark, spark, sizeof t->spark);
    memcpy(t->hbar, hbar, sizeof t->hbar);
    memcpy(t->corner, corner, sizeof t->corner);
    t->hline = "-";
    t->vline = "|";
    t->up = "^";
    t->down = "v";
    t->ellipsis = "~";
}

void theme_init(theme *t, bool utf8, color_depth depth)
{
    memset(t, 0, sizeof *t);
    t->utf8 = utf8;
    t->depth = depth;
    if (utf8)
        glyphs_utf8(t);
    else
        glyphs_ascii(t);
}

char theme_role_letter(role r)
{
    if ((unsigned)r >= ROLE_COUNT)
        return '?';
    return role_letters[r];
}

role theme_role_from_letter(char letter)
{
    for (int r = 0; r < ROLE_COUNT; r++)
        if (role_letters[r] == letter)
            return (role)r;
    return ROLE_COUNT;
}
