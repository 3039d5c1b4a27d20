/*
 * theme: what a widget may choose when it draws: a role per cell (the screen maps roles to colour
 * pairs and attributes for 256, 16 or 8 colours or monochrome) and a glyph set (UTF-8 block
 * elements, or an ASCII fallback when the locale is not UTF-8). Plain data; any thread.
 */
#ifndef BF_THEME_H
#define BF_THEME_H

#include <stdbool.h>

typedef enum role {
    ROLE_NORMAL = 0,
    ROLE_DIM,    /* labels, stale or untrustworthy data */
    ROLE_HEADER, /* panel titles */
    ROLE_BID,    /* bid prices and quantities */
    ROLE_ASK,
    ROLE_BID_BAR, /* depth bars */
    ROLE_ASK_BAR,
    ROLE_FLASH_ADD,  /* a level that grew or appeared */
    ROLE_FLASH_PULL, /* a level that shrank or vanished */
    ROLE_UP,         /* price up, buy aggressor */
    ROLE_DOWN,       /* price down, sell aggressor */
    ROLE_LARGE_BUY,  /* large prints */
    ROLE_LARGE_SELL,
    ROLE_OK,       /* LIVE, connected */
    ROLE_WARN,     /* SNAPSHOTTING, RESYNCING, skew, PAUSED */
    ROLE_ERROR,    /* STALE, disconnected, banned */
    ROLE_SELECTED, /* the selected symbol, the search cursor */
    ROLE_DEMO,     /* the DEMO mark */
    ROLE_COUNT
} role;

typedef enum color_depth { DEPTH_MONO = 0, DEPTH_8, DEPTH_16, DEPTH_256 } color_depth;

typedef struct theme {
    bool utf8;
    color_depth depth;
    const char *spark[8]; /* sparkline levels, lowest first ("▁".."█" or "_.-~=*#@"-like) */
    const char *hbar[9];  /* horizontal bar eighths: [0] empty ... [8] full */
    const char *hline, *vline; /* separators */
    const char *up, *down;     /* arrows */
    /* Box corners for frames (help, search overlays): top-left, top-right, bottom-left,
     * bottom-right. */
    const char *corner[4];
    const char *ellipsis; /* marks text cut to fit ("…" or "~") */
} theme;

void theme_init(theme *t, bool utf8, color_depth depth);
/* One letter per role for golden dumps (and the reverse, '?' / ROLE_COUNT for unknown):
 *   ' ' normal   'd' dim        'h' header     'b' bid        'a' ask
 *   'B' bid bar  'A' ask bar    '+' flash add  '-' flash pull 'u' up
 *   'n' down     'L' large buy  'S' large sell 'o' ok         'w' warn
 *   'e' error    's' selected   'D' demo */
char theme_role_letter(role r);
role theme_role_from_letter(char letter);

#endif
