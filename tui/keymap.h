/*
 * keymap: named actions, the keys bound to them, and the keymap file that rebinds them. Pure (no
 * ncurses): keys are integers, printable characters as their code point, control keys as 1..31
 * and 127, special keys as the KM_KEY_* values above the Unicode range (tui/screen maps ncurses'
 * codes to them). One owner thread.
 *
 * Defaults (issue 4): Tab, l, Right: next symbol; Shift-Tab, h, Left: previous; 1..9: the Nth
 * symbol; '/': search; '+' '=': coarser grouping; '-': finer; p: pause; ?: help; q: quit;
 * Ctrl-L: repaint. Replay only (issue 5): Space: pause/resume playback; '.': single step; n: jump to
 * the next gap / resync / disconnect; '<' '>': slower / faster.
 *
 * The keymap file (XDG: $XDG_CONFIG_HOME/bfmon/keys, else ~/.config/bfmon/keys, or --config FILE)
 * holds one command per line, '#' starts a comment:
 *     bind KEY ACTION      # KEY also triggers ACTION (replacing what KEY did before)
 *     unbind KEY           # KEY does nothing
 *     unbind-all           # start from an empty table
 * KEY is one printable character, or a name: Tab, S-Tab, Enter, Esc, Space, Backspace, Left,
 * Right, Up, Down, Home, End, PgUp, PgDn, Insert, Delete, F1..F12, C-a..C-z ("#" needs no
 * quoting: a comment starts only at a '#' preceded by a blank or at the start of a line).
 * A bad line is skipped with a reason ("keys:3: unknown action 'foo'"); the other lines apply.
 */
#ifndef BF_KEYMAP_H
#define BF_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "widgets/help.h"

typedef enum km_action {
    KM_NONE = 0,
    KM_NEXT_SYMBOL,
    KM_PREV_SYMBOL,
    KM_SYMBOL_1, /* ... KM_SYMBOL_9 follow in order */
    KM_SYMBOL_2,
    KM_SYMBOL_3,
    KM_SYMBOL_4,
    KM_SYMBOL_5,
    KM_SYMBOL_6,
    KM_SYMBOL_7,
    KM_SYMBOL_8,
    KM_SYMBOL_9,
    KM_SEARCH,
    KM_GROUP_MORE,
    KM_GROUP_LESS,
    KM_PAUSE,
    KM_HELP,
    KM_QUIT,
    KM_REDRAW,
    /* replay only (bfmon replay): the player's controls */
    KM_PLAY_PAUSE,
    KM_STEP,
    KM_NEXT_EVENT,
    KM_SLOWER,
    KM_FASTER,
    KM_ACTION_COUNT
} km_action;

enum {
    KM_KEY_TAB = 9,
    KM_KEY_ENTER = 10,
    KM_KEY_ESC = 27,
    KM_KEY_BACKSPACE = 127,
    KM_KEY_SPECIAL = 0x110000, /* above every code point */
    KM_KEY_LEFT,
    KM_KEY_RIGHT,
    KM_KEY_UP,
    KM_KEY_DOWN,
    KM_KEY_HOME,
    KM_KEY_END,
    KM_KEY_PGUP,
    KM_KEY_PGDN,
    KM_KEY_INSERT,
    KM_KEY_DELETE,
    KM_KEY_BTAB,
    KM_KEY_RESIZE, /* not bindable: the terminal changed size */
    KM_KEY_F1,     /* ... KM_KEY_F1 + 11 = F12 */
    KM_KEY_LAST = KM_KEY_F1 + 11
};

#define KM_MAX_BINDINGS 128
#define KM_HELP_MAX     KM_ACTION_COUNT

typedef struct keymap keymap;

keymap *keymap_create(void); /* the default bindings */
void keymap_destroy(keymap *km);
void keymap_reset(keymap *km); /* back to the defaults */

km_action keymap_lookup(const keymap *km, int key);
/* Bind key to action (replacing its previous binding); KM_NONE unbinds. BF_EINVAL for a key that
 * cannot be bound. */
int keymap_bind(keymap *km, int key, km_action action);

/* Apply a keymap file's text; name is used in the reasons ("keys:3: ..."). 0 when every line was
 * good, else BF_ESYNTAX with the first bad line's reason in why (every good line still applies)
 * and *nbad the number of bad lines (may be NULL). */
int keymap_parse(keymap *km, const char *name, const char *text, char *why, size_t why_cap,
                 size_t *nbad);
/* Read and apply a file. BF_ENOENT when it does not exist (not an error for the default path),
 * BF_EIO when it cannot be read, else as keymap_parse. */
int keymap_load(keymap *km, const char *path, char *why, size_t why_cap);
/* The default keymap file path ($XDG_CONFIG_HOME/bfmon/keys or $HOME/.config/bfmon/keys); false
 * when neither variable is set. */
bool keymap_default_path(char *buf, size_t cap);
/* The user's keymap: `config` (from --config: it must exist) or, when NULL, the default path (which
 * may be absent). 0 when it applied or there is none; a bad line is not fatal: then msg holds
 * "keymap: <reason> (the other lines apply)" for the status bar, else "". BF_ENOENT / BF_EIO when
 * `config` cannot be read, with the reason in msg. */
int keymap_load_user(keymap *km, const char *config, char *msg, size_t cap);

/* Names. */
const char *keymap_action_name(km_action a);    /* "next-symbol" */
const char *keymap_action_what(km_action a);    /* "switch to the next symbol" */
km_action keymap_action_by_name(const char *s); /* KM_NONE if unknown */
/* "Tab", "S-Tab", "C-l", "q", "F5"; false for a key with no name. */
bool keymap_key_name(int key, char *buf, size_t cap);
/* The key named s, or -1. */
int keymap_key_by_name(const char *s);

/* The help entries, one per action that has at least one key, in action order; symbol-1..9 bound
 * to 1..9 collapse into one "1-9" entry. The strings live in km until it changes. Returns n.
 * keymap_help leaves out the replay-only actions; keymap_help_replay lists them too. */
size_t keymap_help(keymap *km, help_entry *out, size_t cap);
size_t keymap_help_replay(keymap *km, help_entry *out, size_t cap);
/* True for the actions that only `bfmon replay` uses (KM_PLAY_PAUSE ... KM_FASTER). */
bool keymap_action_replay_only(km_action a);

#endif
