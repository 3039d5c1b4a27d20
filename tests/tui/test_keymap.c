/* keymap: default bindings, the keymap file (good and bad lines), key names and help entries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "tui/keymap.h"
#include "util/err.h"

Test(keymap, defaults_follow_the_issue)
{
    keymap *km = keymap_create();
    cr_assert_eq(keymap_lookup(km, KM_KEY_TAB), KM_NEXT_SYMBOL);
    cr_assert_eq(keymap_lookup(km, KM_KEY_RIGHT), KM_NEXT_SYMBOL);
    cr_assert_eq(keymap_lookup(km, 'l'), KM_NEXT_SYMBOL);
    cr_assert_eq(keymap_lookup(km, KM_KEY_BTAB), KM_PREV_SYMBOL);
    cr_assert_eq(keymap_lookup(km, KM_KEY_LEFT), KM_PREV_SYMBOL);
    cr_assert_eq(keymap_lookup(km, 'h'), KM_PREV_SYMBOL);
    for (int d = 1; d <= 9; d++)
        cr_assert_eq(keymap_lookup(km, '0' + d), (km_action)(KM_SYMBOL_1 + d - 1), "digit %d", d);
    cr_assert_eq(keymap_lookup(km, '/'), KM_SEARCH);
    cr_assert_eq(keymap_lookup(km, '+'), KM_GROUP_MORE);
    cr_assert_eq(keymap_lookup(km, '-'), KM_GROUP_LESS);
    cr_assert_eq(keymap_lookup(km, 'p'), KM_PAUSE);
    cr_assert_eq(keymap_lookup(km, '?'), KM_HELP);
    cr_assert_eq(keymap_lookup(km, 'q'), KM_QUIT);
    cr_assert_eq(keymap_lookup(km, 'x'), KM_NONE);
    cr_assert_eq(keymap_lookup(km, '0'), KM_NONE);
    keymap_destroy(km);
}

Test(keymap, file_rebinds_and_unbinds)
{
    keymap *km = keymap_create();
    char why[256] = "x";
    const char *text = "# my keys\n"
                       "\n"
                       "bind j next-symbol   # vi style\n"
                       "bind k prev-symbol\n"
                       "bind C-c quit\n"
                       "bind F5 redraw\n"
                       "bind # help\n"
                       "unbind q\n"
                       "bind Space pause\r\n";
    size_t bad = 99;
    cr_assert_eq(keymap_parse(km, "keys", text, why, sizeof why, &bad), 0, "%s", why);
    cr_assert_eq(bad, 0);
    cr_assert_str_empty(why);
    cr_assert_eq(keymap_lookup(km, 'j'), KM_NEXT_SYMBOL);
    cr_assert_eq(keymap_lookup(km, 'k'), KM_PREV_SYMBOL);
    cr_assert_eq(keymap_lookup(km, 3), KM_QUIT);
    cr_assert_eq(keymap_lookup(km, KM_KEY_F1 + 4), KM_REDRAW);
    cr_assert_eq(keymap_lookup(km, '#'), KM_HELP);
    cr_assert_eq(keymap_lookup(km, ' '), KM_PAUSE);
    cr_assert_eq(keymap_lookup(km, 'q'), KM_NONE, "unbound");
    cr_assert_eq(keymap_lookup(km, 'l'), KM_NEXT_SYMBOL, "defaults not named stay");
    keymap_destroy(km);
}

Test(keymap, rebinding_a_key_replaces_its_action)
{
    keymap *km = keymap_create();
    cr_assert_eq(keymap_parse(km, "keys", "bind p quit\n", NULL, 0, NULL), 0);
    cr_assert_eq(keymap_lookup(km, 'p'), KM_QUIT);
    keymap_reset(km);
    cr_assert_eq(keymap_lookup(km, 'p'), KM_PAUSE);
    cr_assert_eq(keymap_parse(km, "keys", "unbind-all\nbind x quit\n", NULL, 0, NULL), 0);
    cr_assert_eq(keymap_lookup(km, 'q'), KM_NONE);
    cr_assert_eq(keymap_lookup(km, 'x'), KM_QUIT);
    keymap_destroy(km);
}

Test(keymap, bad_lines_are_reported_with_position_and_skipped)
{
    keymap *km = keymap_create();
    char why[256];
    size_t bad = 0;
    const char *text = "bind j next-symbol\n"
                       "bind k fly-away\n"
                       "bind Hyper-x quit\n"
                       "frobnicate\n"
                       "bind z\n"
                       "unbind\n"
                       "bind m help\n";
    cr_assert_eq(keymap_parse(km, "keys", text, why, sizeof why, &bad), BF_ESYNTAX);
    cr_assert_eq(bad, 5);
    cr_assert_str_eq(why, "keys:2: unknown action 'fly-away' (run bfmon and press ? for the list)");
    cr_assert_eq(keymap_lookup(km, 'j'), KM_NEXT_SYMBOL, "good lines before apply");
    cr_assert_eq(keymap_lookup(km, 'm'), KM_HELP, "good lines after apply");
    cr_assert_eq(keymap_lookup(km, 'k'), KM_NONE);

    cr_assert_eq(keymap_parse(km, "f", "bind Hyper-x quit\n", why, sizeof why, NULL), BF_ESYNTAX);
    cr_assert_str_eq(why, "f:1: unknown key 'Hyper-x'");
    cr_assert_eq(keymap_parse(km, "f", "\n\nfrobnicate now\n", why, sizeof why, NULL), BF_ESYNTAX);
    cr_assert_str_eq(why, "f:3: unknown command 'frobnicate' (use bind, unbind or unbind-all)");
    cr_assert_eq(keymap_parse(km, "f", "bind z\n", why, sizeof why, NULL), BF_ESYNTAX);
    cr_assert_str_eq(why, "f:1: expected 'bind KEY ACTION'");
    cr_assert_eq(keymap_parse(km, "f", "bind a b c d e\n", why, sizeof why, NULL), BF_ESYNTAX);
    keymap_destroy(km);
}

Test(keymap, load_reads_files_and_names_missing_ones)
{
    char *dir = tu_mkdtemp();
    char path[512];
    snprintf(path, sizeof path, "%s/keys", dir);
    keymap *km = keymap_create();
    char why[512];
    cr_assert_eq(keymap_load(km, path, why, sizeof why), BF_ENOENT);
    cr_assert(strstr(why, path), "%s", why);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("bind w quit\nbind v what\n", f);
    fclose(f);
    cr_assert_eq(keymap_load(km, path, why, sizeof why), BF_ESYNTAX);
    char want[600];
    snprintf(want, sizeof want, "%s:2: unknown action 'what'", path);
    cr_assert(!strncmp(why, want, strlen(want)), "%s", why);
    cr_assert_eq(keymap_lookup(km, 'w'), KM_QUIT);
    keymap_destroy(km);
    tu_rmtree(dir);
    free(dir);
}

Test(keymap, default_path_follows_xdg)
{
    char buf[512];
    setenv("XDG_CONFIG_HOME", "/tmp/xdg", 1);
    cr_assert(keymap_default_path(buf, sizeof buf));
    cr_assert_str_eq(buf, "/tmp/xdg/bfmon/keys");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/trader", 1);
    cr_assert(keymap_default_path(buf, sizeof buf));
    cr_assert_str_eq(buf, "/home/trader/.config/bfmon/keys");
    setenv("XDG_CONFIG_HOME", "relative/ignored", 1);
    cr_assert(keymap_default_path(buf, sizeof buf));
    cr_assert_str_eq(buf, "/home/trader/.config/bfmon/keys");
}

/* --config must exist; the default file may be absent; a bad line is a status-bar message. */
Test(keymap, user_file_from_config_or_the_default_path)
{
    char *dir = tu_mkdtemp();
    setenv("XDG_CONFIG_HOME", dir, 1);
    keymap *km = keymap_create();
    char msg[600] = "old", path[512];
    cr_assert_eq(keymap_load_user(km, NULL, msg, sizeof msg), 0, "no default file: fine");
    cr_assert_str_eq(msg, "");
    snprintf(path, sizeof path, "%s/missing", dir);
    cr_assert_eq(keymap_load_user(km, path, msg, sizeof msg), BF_ENOENT, "a --config must exist");
    cr_assert(strstr(msg, path), "%s", msg);

    snprintf(path, sizeof path, "%s/bfmon", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/bfmon/keys", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("bind w quit\nbind v what\n", f);
    fclose(f);
    cr_assert_eq(keymap_load_user(km, NULL, msg, sizeof msg), 0, "a bad line is not fatal");
    cr_assert(strstr(msg, "keymap: ") == msg && strstr(msg, "unknown action 'what'") &&
                  strstr(msg, "(the other lines apply)"),
              "%s", msg);
    cr_assert_eq(keymap_lookup(km, 'w'), KM_QUIT, "the default file applied");
    keymap_destroy(km);
    unsetenv("XDG_CONFIG_HOME");
    tu_rmtree(dir);
    free(dir);
}

Test(keymap, key_names_round_trip)
{
    const char *names[] = { "Tab",   "S-Tab", "Enter", "Esc",  "Space", "Backspace", "Left",
                            "Right", "Up",    "Down",  "Home", "End",   "PgUp",      "PgDn",
                            "F1",    "F12",   "C-a",   "C-z",  "q",     "?",         "/" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int k = keymap_key_by_name(names[i]);
        cr_assert_geq(k, 0, "%s", names[i]);
        char back[16];
        cr_assert(keymap_key_name(k, back, sizeof back), "%s", names[i]);
        cr_assert_str_eq(back, names[i]);
    }
    cr_assert_eq(keymap_key_by_name("F13"), -1);
    cr_assert_eq(keymap_key_by_name("C-1"), -1);
    cr_assert_eq(keymap_key_by_name(""), -1);
    keymap *km = keymap_create();
    cr_assert_eq(keymap_bind(km, KM_KEY_RESIZE, KM_QUIT), BF_EINVAL);
    keymap_destroy(km);
}

static const help_entry *find_help(const help_entry *e, size_t n, const char *action)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].action, action))
            return &e[i];
    return NULL;
}

Test(keymap, help_is_generated_from_the_table)
{
    keymap *km = keymap_create();
    help_entry e[KM_HELP_MAX];
    size_t n = keymap_help(km, e, KM_HELP_MAX);
    const help_entry *next = find_help(e, n, "next-symbol");
    cr_assert(next);
    cr_assert_str_eq(next->keys, "Tab, l, Right");
    cr_assert_str_eq(next->what, "switch to the next symbol");
    const help_entry *digits = find_help(e, n, "symbol-N");
    cr_assert(digits);
    cr_assert_str_eq(digits->keys, "1-9");
    cr_assert_null(find_help(e, n, "symbol-3"), "digits collapse into one entry");
    cr_assert_str_eq(find_help(e, n, "quit")->keys, "q");

    cr_assert_eq(keymap_parse(km, "k", "bind x quit\nunbind 3\nunbind ?\n", NULL, 0, NULL), 0);
    n = keymap_help(km, e, KM_HELP_MAX);
    cr_assert_str_eq(find_help(e, n, "quit")->keys, "q, x");
    cr_assert_null(find_help(e, n, "symbol-N"), "a rebound digit lists them one by one");
    cr_assert_null(find_help(e, n, "symbol-3"), "an action without keys is not listed");
    cr_assert_str_eq(find_help(e, n, "symbol-4")->keys, "4");
    cr_assert_null(find_help(e, n, "help"));
    keymap_destroy(km);
}

Test(keymap, replay_keys_default_and_rebind)
{
    keymap *km = keymap_create();
    cr_assert_eq(keymap_lookup(km, ' '), KM_PLAY_PAUSE);
    cr_assert_eq(keymap_lookup(km, '.'), KM_STEP);
    cr_assert_eq(keymap_lookup(km, 'n'), KM_NEXT_EVENT);
    cr_assert_eq(keymap_lookup(km, '<'), KM_SLOWER);
    cr_assert_eq(keymap_lookup(km, '>'), KM_FASTER);
    cr_assert_eq(keymap_lookup(km, 'p'), KM_PAUSE, "p keeps freezing the display");
    cr_assert(keymap_action_replay_only(KM_STEP));
    cr_assert_not(keymap_action_replay_only(KM_PAUSE));
    cr_assert_eq(keymap_action_by_name("play-pause"), KM_PLAY_PAUSE);
    cr_assert_eq(keymap_action_by_name("next-event"), KM_NEXT_EVENT);
    const char *file = "bind s step\nbind Enter play-pause\nunbind .\n";
    cr_assert_eq(keymap_parse(km, "k", file, NULL, 0, NULL), 0);
    cr_assert_eq(keymap_lookup(km, 's'), KM_STEP);
    cr_assert_eq(keymap_lookup(km, KM_KEY_ENTER), KM_PLAY_PAUSE);
    cr_assert_eq(keymap_lookup(km, '.'), KM_NONE);
    keymap_destroy(km);
}

/* Every default key is bound to one action only: the replay keys clash with nothing. */
Test(keymap, default_keys_are_distinct)
{
    keymap *km = keymap_create();
    int keys[] = { ' ', '.', 'n', '<', '>', 'p', 'q', 'h', 'l', '/', '+', '=', '-', '?' };
    km_action seen[KM_ACTION_COUNT] = { 0 };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        km_action a = keymap_lookup(km, keys[i]);
        cr_assert_neq(a, KM_NONE, "key %c is bound", keys[i]);
        if (a != KM_GROUP_MORE)
            cr_assert_eq(seen[a]++, 0, "%s bound twice among the defaults", keymap_action_name(a));
    }
    keymap_destroy(km);
}

Test(keymap, replay_actions_only_in_the_replay_help)
{
    keymap *km = keymap_create();
    help_entry e[KM_HELP_MAX];
    size_t n = keymap_help(km, e, KM_HELP_MAX);
    cr_assert_null(find_help(e, n, "play-pause"), "live help leaves replay keys out");
    cr_assert_null(find_help(e, n, "step"));
    n = keymap_help_replay(km, e, KM_HELP_MAX);
    cr_assert_str_eq(find_help(e, n, "play-pause")->keys, "Space");
    cr_assert_str_eq(find_help(e, n, "step")->keys, ".");
    cr_assert_str_eq(find_help(e, n, "next-event")->keys, "n");
    cr_assert_str_eq(find_help(e, n, "slower")->keys, "<");
    cr_assert_str_eq(find_help(e, n, "faster")->keys, ">");
    cr_assert_str_eq(find_help(e, n, "quit")->keys, "q", "the usual keys stay");
    keymap_destroy(km);
}
