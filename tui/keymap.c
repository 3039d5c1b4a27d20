/* keymap: actions, bindings and the keymap file (see keymap.h). */
#include "tui/keymap.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"
#include "util/file.h"
#include "util/xalloc.h"

#define KEYS_TEXT_MAX 64
#define LINE_MAX_LEN  512

typedef struct binding {
    int key;
    km_action action;
} binding;

struct keymap {
    binding b[KM_MAX_BINDINGS];
    size_t n;
    char help_keys[KM_ACTION_COUNT][KEYS_TEXT_MAX];
};

static const struct {
    const char *name, *what;
} actions[KM_ACTION_COUNT] = {
    [KM_NONE] = { "none", "nothing" },
    [KM_NEXT_SYMBOL] = { "next-symbol", "switch to the next symbol" },
    [KM_PREV_SYMBOL] = { "prev-symbol", "switch to the previous symbol" },
    [KM_SYMBOL_1] = { "symbol-1", "switch to symbol 1 of the watchlist" },
    [KM_SYMBOL_2] = { "symbol-2", "switch to symbol 2 of the watchlist" },
    [KM_SYMBOL_3] = { "symbol-3", "switch to symbol 3 of the watchlist" },
    [KM_SYMBOL_4] = { "symbol-4", "switch to symbol 4 of the watchlist" },
    [KM_SYMBOL_5] = { "symbol-5", "switch to symbol 5 of the watchlist" },
    [KM_SYMBOL_6] = { "symbol-6", "switch to symbol 6 of the watchlist" },
    [KM_SYMBOL_7] = { "symbol-7", "switch to symbol 7 of the watchlist" },
    [KM_SYMBOL_8] = { "symbol-8", "switch to symbol 8 of the watchlist" },
    [KM_SYMBOL_9] = { "symbol-9", "switch to symbol 9 of the watchlist" },
    [KM_SEARCH] = { "search", "search all perpetuals; Enter adds and switches" },
    [KM_GROUP_MORE] = { "group-more", "group the ladder in coarser price steps" },
    [KM_GROUP_LESS] = { "group-less", "group the ladder in finer price steps" },
    [KM_PAUSE] = { "pause", "freeze the display (data keeps flowing)" },
    [KM_HELP] = { "help", "show or hide this help" },
    [KM_QUIT] = { "quit", "quit bfmon" },
    [KM_REDRAW] = { "redraw", "repaint the whole screen" },
    [KM_PLAY_PAUSE] = { "play-pause", "replay: pause / resume the playback" },
    [KM_STEP] = { "step", "replay: up to the next depth update, paused" },
    [KM_NEXT_EVENT] = { "next-event", "replay: run to the next gap / resync / disconnect" },
    [KM_SLOWER] = { "slower", "replay: slower (0.1x 0.25x ... 100x max)" },
    [KM_FASTER] = { "faster", "replay: faster (0.1x 0.25x ... 100x max)" },
};

static const struct {
    const char *name;
    int key;
} key_names[] = {
    { "Tab", KM_KEY_TAB },
    { "S-Tab", KM_KEY_BTAB },
    { "BTab", KM_KEY_BTAB },
    { "Enter", KM_KEY_ENTER },
    { "Return", KM_KEY_ENTER },
    { "Esc", KM_KEY_ESC },
    { "Escape", KM_KEY_ESC },
    { "Space", ' ' },
    { "Backspace", KM_KEY_BACKSPACE },
    { "BSpace", KM_KEY_BACKSPACE },
    { "Left", KM_KEY_LEFT },
    { "Right", KM_KEY_RIGHT },
    { "Up", KM_KEY_UP },
    { "Down", KM_KEY_DOWN },
    { "Home", KM_KEY_HOME },
    { "End", KM_KEY_END },
    { "PgUp", KM_KEY_PGUP },
    { "PageUp", KM_KEY_PGUP },
    { "PgDn", KM_KEY_PGDN },
    { "PageDown", KM_KEY_PGDN },
    { "Insert", KM_KEY_INSERT },
    { "Delete", KM_KEY_DELETE },
};

static const binding defaults[] = {
    { KM_KEY_TAB, KM_NEXT_SYMBOL },
    { 'l', KM_NEXT_SYMBOL },
    { KM_KEY_RIGHT, KM_NEXT_SYMBOL },
    { KM_KEY_BTAB, KM_PREV_SYMBOL },
    { 'h', KM_PREV_SYMBOL },
    { KM_KEY_LEFT, KM_PREV_SYMBOL },
    { '1', KM_SYMBOL_1 },
    { '2', KM_SYMBOL_2 },
    { '3', KM_SYMBOL_3 },
    { '4', KM_SYMBOL_4 },
    { '5', KM_SYMBOL_5 },
    { '6', KM_SYMBOL_6 },
    { '7', KM_SYMBOL_7 },
    { '8', KM_SYMBOL_8 },
    { '9', KM_SYMBOL_9 },
    { '/', KM_SEARCH },
    { '+', KM_GROUP_MORE },
    { '=', KM_GROUP_MORE },
    { '-', KM_GROUP_LESS },
    { 'p', KM_PAUSE },
    { '?', KM_HELP },
    { 'q', KM_QUIT },
    { 'L' - '@', KM_REDRAW },
    { ' ', KM_PLAY_PAUSE },
    { '.', KM_STEP },
    { 'n', KM_NEXT_EVENT },
    { '<', KM_SLOWER },
    { '>', KM_FASTER },
};

keymap *keymap_create(void)
{
    keymap *km = xcalloc(1, sizeof *km);
    keymap_reset(km);
    return km;
}

void keymap_destroy(keymap *km)
{
    free(km);
}

void keymap_reset(keymap *km)
{
    km->n = sizeof defaults / sizeof *defaults;
    memcpy(km->b, defaults, sizeof defaults);
}

static bool bindable(int key)
{
    return key > 0 && key != KM_KEY_RESIZE && key != KM_KEY_SPECIAL && key <= KM_KEY_LAST;
}

km_action keymap_lookup(const keymap *km, int key)
{
    for (size_t i = 0; i < km->n; i++)
        if (km->b[i].key == key)
            return km->b[i].action;
    return KM_NONE;
}

static void unbind(keymap *km, int key)
{
    size_t w = 0;
    for (size_t i = 0; i < km->n; i++)
        if (km->b[i].key != key)
            km->b[w++] = km->b[i];
    km->n = w;
}

int keymap_bind(keymap *km, int key, km_action action)
{
    if (!bindable(key) || action < KM_NONE || action >= KM_ACTION_COUNT)
        return BF_EINVAL;
    unbind(km, key);
    if (action == KM_NONE)
        return 0;
    if (km->n == KM_MAX_BINDINGS)
        return BF_ETOOBIG;
    km->b[km->n++] = (binding){ key, action };
    return 0;
}

/* ---- names ---------------------------------------------------------------------------------- */

const char *keymap_action_name(km_action a)
{
    return a >= 0 && a < KM_ACTION_COUNT ? actions[a].name : "?";
}

const char *keymap_action_what(km_action a)
{
    return a >= 0 && a < KM_ACTION_COUNT ? actions[a].what : "?";
}

km_action keymap_action_by_name(const char *s)
{
    for (int a = KM_NONE + 1; a < KM_ACTION_COUNT; a++)
        if (!strcmp(s, actions[a].name))
            return (km_action)a;
    return KM_NONE;
}

bool keymap_key_name(int key, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof key_names / sizeof *key_names; i++)
        if (key_names[i].key == key && key != ' ')
            return snprintf(buf, cap, "%s", key_names[i].name) > 0;
    if (key == ' ')
        return snprintf(buf, cap, "Space") > 0;
    if (key >= KM_KEY_F1 && key <= KM_KEY_LAST)
        return snprintf(buf, cap, "F%d", key - KM_KEY_F1 + 1) > 0;
    if (key >= 1 && key <= 26)
        return snprintf(buf, cap, "C-%c", 'a' + key - 1) > 0;
    if (key > ' ' && key < 127)
        return snprintf(buf, cap, "%c", key) > 0;
    return false;
}

static int function_key(const char *s)
{
    if ((s[0] != 'F' && s[0] != 'f') || !isdigit((unsigned char)s[1]))
        return -1;
    char *end;
    long n = strtol(s + 1, &end, 10);
    return *end || n < 1 || n > 12 ? -1 : KM_KEY_F1 + (int)n - 1;
}

int keymap_key_by_name(const char *s)
{
    if (s[0] && !s[1])
        return (unsigned char)s[0] > ' ' && (unsigned char)s[0] < 127 ? (unsigned char)s[0] : -1;
    for (size_t i = 0; i < sizeof key_names / sizeof *key_names; i++)
        if (!strcasecmp(s, key_names[i].name))
            return key_names[i].key;
    if ((s[0] == 'C' || s[0] == 'c') && s[1] == '-' && isalpha((unsigned char)s[2]) && !s[3])
        return tolower((unsigned char)s[2]) - 'a' + 1;
    return function_key(s);
}

/* ---- the file ------------------------------------------------------------------------------- */

/* A word starting with '#' begins a comment, except the KEY of bind/unbind ("bind # help"). */
static bool starts_comment(char *const *words, size_t n, const char *p)
{
    if (*p != '#')
        return false;
    bool key_slot = n == 1 && (!strcmp(words[0], "bind") || !strcmp(words[0], "unbind"));
    bool lone_hash = p[1] == '\0' || p[1] == ' ' || p[1] == '\t' || p[1] == '\r';
    return !(key_slot && lone_hash);
}

/* Split a line into blank separated words (at most 4; 5 means "too many"), up to a comment. */
static size_t split_words(char *line, char *words[4])
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p || starts_comment(words, n, p))
            return n;
        if (n == 4)
            return 5;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int line_bind(keymap *km, char **w, size_t n, char *err, size_t cap)
{
    if (n != 3)
        return bf_why(err, cap, BF_ESYNTAX, "expected 'bind KEY ACTION'");
    int key = keymap_key_by_name(w[1]);
    if (key < 0)
        return bf_why(err, cap, BF_ESYNTAX, "unknown key '%s'", w[1]);
    km_action a = keymap_action_by_name(w[2]);
    if (a == KM_NONE)
        return bf_why(err, cap, BF_ESYNTAX,
                      "unknown action '%s' (run bfmon and press ? for the "
                      "list)",
                      w[2]);
    if (keymap_bind(km, key, a) < 0)
        return bf_why(err, cap, BF_ESYNTAX, "too many bindings");
    return 0;
}

static int line_unbind(keymap *km, char **w, size_t n, char *err, size_t cap)
{
    if (n != 2)
        return bf_why(err, cap, BF_ESYNTAX, "expected 'unbind KEY'");
    int key = keymap_key_by_name(w[1]);
    if (key < 0)
        return bf_why(err, cap, BF_ESYNTAX, "unknown key '%s'", w[1]);
    keymap_bind(km, key, KM_NONE);
    return 0;
}

static int apply_line(keymap *km, char *line, char *err, size_t cap)
{
    char *w[4];
    size_t n = split_words(line, w);
    if (n == 0)
        return 0;
    if (!strcmp(w[0], "bind"))
        return line_bind(km, w, n, err, cap);
    if (!strcmp(w[0], "unbind"))
        return line_unbind(km, w, n, err, cap);
    if (!strcmp(w[0], "unbind-all") && n == 1) {
        km->n = 0;
        return 0;
    }
    return bf_why(err, cap, BF_ESYNTAX, "unknown command '%s' (use bind, unbind or unbind-all)",
                  w[0]);
}

int keymap_parse(keymap *km, const char *name, const char *text, char *why, size_t why_cap,
                 size_t *nbad)
{
    size_t bad = 0, lineno = 0;
    if (why && why_cap)
        why[0] = '\0';
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        lineno++;
        char line[LINE_MAX_LEN], err[160] = "";
        int rc = BF_ESYNTAX;
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            rc = apply_line(km, line, err, sizeof err);
        } else {
            bf_why(err, sizeof err, 0, "line too long");
        }
        if (rc < 0 && bad++ == 0)
            bf_why(why, why_cap, 0, "%s:%zu: %s", name, lineno, err);
        p += len;
        if (*p)
            p++;
    }
    if (nbad)
        *nbad = bad;
    return bad ? BF_ESYNTAX : 0;
}

int keymap_load(keymap *km, const char *path, char *why, size_t why_cap)
{
    size_t len = 0;
    int err = 0;
    char *text = file_read_all(path, &len, &err, why, why_cap);
    if (!text)
        return err;
    int rc = keymap_parse(km, path, text, why, why_cap, NULL);
    free(text);
    return rc;
}

bool keymap_default_path(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/bfmon/keys", xdg);
    else if (home && home[0])
        n = snprintf(buf, cap, "%s/.config/bfmon/keys", home);
    else
        return false;
    return n > 0 && (size_t)n < cap;
}

int keymap_load_user(keymap *km, const char *config, char *msg, size_t cap)
{
    char path[4096], why[512] = "";
    const char *p = config;
    if (cap)
        msg[0] = '\0';
    if (!p && keymap_default_path(path, sizeof path))
        p = path;
    if (!p)
        return 0;
    int rc = keymap_load(km, p, why, sizeof why);
    if (rc == BF_ENOENT && !config)
        return 0;
    if (rc == BF_ENOENT || rc == BF_EIO)
        return bf_why(msg, cap, rc, "%s", why);
    if (rc < 0)
        snprintf(msg, cap, "keymap: %s (the other lines apply)", why);
    return 0;
}

/* ---- help ----------------------------------------------------------------------------------- */

/* The keys of action a, comma separated, into out. */
static void keys_of(const keymap *km, km_action a, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < km->n; i++) {
        char name[16];
        if (km->b[i].action != a || !keymap_key_name(km->b[i].key, name, sizeof name))
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", name);
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

/* symbol-1..9 each bound to exactly its digit and nothing else. */
static bool digits_default(const keymap *km)
{
    for (int d = 0; d < 9; d++) {
        char keys[KEYS_TEXT_MAX];
        keys_of(km, (km_action)(KM_SYMBOL_1 + d), keys, sizeof keys);
        if (keys[0] != '1' + d || keys[1])
            return false;
    }
    return true;
}

bool keymap_action_replay_only(km_action a)
{
    return a >= KM_PLAY_PAUSE && a <= KM_FASTER;
}

static size_t help_entries(keymap *km, bool replay, help_entry *out, size_t cap)
{
    size_t n = 0;
    bool digits = digits_default(km);
    for (int a = KM_NONE + 1; a < KM_ACTION_COUNT && n < cap; a++) {
        if ((!replay && keymap_action_replay_only((km_action)a)) || (replay && a == KM_SEARCH))
            continue; /* a replay's symbols come from the recording: no search */
        bool digit_action = a >= KM_SYMBOL_1 && a <= KM_SYMBOL_9;
        if (digits && digit_action && a != KM_SYMBOL_1)
            continue;
        if (digits && a == KM_SYMBOL_1) {
            snprintf(km->help_keys[a], KEYS_TEXT_MAX, "1-9");
            out[n++] =
                (help_entry){ km->help_keys[a], "symbol-N", "switch to symbol N of the watchlist" };
            continue;
        }
        keys_of(km, (km_action)a, km->help_keys[a], KEYS_TEXT_MAX);
        if (km->help_keys[a][0])
            out[n++] = (help_entry){ km->help_keys[a], actions[a].name, actions[a].what };
    }
    return n;
}

size_t keymap_help(keymap *km, help_entry *out, size_t cap)
{
    return help_entries(km, false, out, cap);
}

size_t keymap_help_replay(keymap *km, help_entry *out, size_t cap)
{
    return help_entries(km, true, out, cap);
}
