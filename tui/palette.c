/*
 * palette: the role table (see palette.h). Colour numbers follow the xterm palette: 0-7 the basic
 * colours, 8-15 their bright forms, 16-255 the 6x6x6 cube and the grey ramp.
 */
#include "tui/palette.h"

enum { BLACK = 0, RED = 1, GREEN = 2, YELLOW = 3, BLUE = 4, MAGENTA = 5, CYAN = 6, WHITE = 7 };

typedef struct role_look {
    short fg256, bg256; /* 256 colours */
    short fg8, bg8;     /* 8 and 16 colours (16: bright fg for bold roles) */
    unsigned attrs;     /* with colour */
    unsigned mono;      /* without colour */
} role_look;

#define D PAL_DEFAULT

static const role_look looks[ROLE_COUNT] = {
    [ROLE_NORMAL] = { D, D, D, D, 0, 0 },
    [ROLE_DIM] = { 244, D, WHITE, D, 0, PAL_DIM },
    [ROLE_HEADER] = { 75, D, CYAN, D, PAL_BOLD, PAL_BOLD | PAL_UNDERLINE },
    [ROLE_BID] = { 41, D, GREEN, D, 0, 0 },
    [ROLE_ASK] = { 203, D, RED, D, 0, 0 },
    [ROLE_BID_BAR] = { 28, D, GREEN, D, 0, PAL_DIM },
    [ROLE_ASK_BAR] = { 124, D, RED, D, 0, PAL_DIM },
    [ROLE_FLASH_ADD] = { 16, 41, BLACK, GREEN, 0, PAL_REVERSE },
    [ROLE_FLASH_PULL] = { 16, 203, BLACK, RED, 0, PAL_UNDERLINE | PAL_BOLD },
    [ROLE_UP] = { 46, D, GREEN, D, PAL_BOLD, PAL_BOLD },
    [ROLE_DOWN] = { 196, D, RED, D, PAL_BOLD, PAL_UNDERLINE },
    [ROLE_LARGE_BUY] = { 16, 46, BLACK, GREEN, PAL_BOLD, PAL_REVERSE | PAL_BOLD },
    [ROLE_LARGE_SELL] = { 231, 160, WHITE, RED, PAL_BOLD, PAL_REVERSE | PAL_UNDERLINE },
    [ROLE_OK] = { 46, D, GREEN, D, PAL_BOLD, PAL_BOLD },
    [ROLE_WARN] = { 16, 220, BLACK, YELLOW, PAL_BOLD, PAL_REVERSE },
    [ROLE_ERROR] = { 231, 160, WHITE, RED, PAL_BOLD, PAL_REVERSE | PAL_BOLD },
    [ROLE_SELECTED] = { 16, 153, BLACK, CYAN, PAL_BOLD, PAL_REVERSE | PAL_BOLD | PAL_UNDERLINE },
    [ROLE_DEMO] = { 16, 213, BLACK, MAGENTA, PAL_BOLD, PAL_REVERSE | PAL_DIM },
};

#undef D

/* 16 colours: the bright form of a basic foreground for the emphasised (bold) roles. */
static short bright(short c, unsigned attrs)
{
    return c >= 0 && c < 8 && (attrs & PAL_BOLD) ? (short)(c + 8) : c;
}

pal_style palette_style(role r, color_depth depth)
{
    const role_look *l = &looks[(unsigned)r < ROLE_COUNT ? r : ROLE_NORMAL];
    switch (depth) {
    case DEPTH_256:
        return (pal_style){ l->fg256, l->bg256, l->attrs };
    case DEPTH_16:
        return (pal_style){ bright(l->fg8, l->attrs), l->bg8, l->attrs };
    case DEPTH_8:
        return (pal_style){ l->fg8, l->bg8, l->attrs };
    case DEPTH_MONO:
    default:
        return (pal_style){ PAL_DEFAULT, PAL_DEFAULT, l->mono };
    }
}
