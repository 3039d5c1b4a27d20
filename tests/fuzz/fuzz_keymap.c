/*
 * fuzz_keymap: the keymap file parser (keymap_parse). The input is applied as a keymap file to a
 * fresh default table:
 *   - the result is 0 exactly when no line was bad, the reason is NUL-terminated and never
 *     overruns its buffer, also when that buffer is tiny (and the table comes out the same);
 *   - every key the file can bind has a name that reads back as the same key, every action a name
 *     that reads back as the same action, and a file written from the table ("unbind-all" and one
 *     "bind NAME ACTION" per binding) rebuilds exactly the same table without a bad line;
 *   - the help entries are well formed.
 * The input's first line is also tried as a key name and as an action name.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tui/keymap.h"
#include "util/err.h"
#include "util/xalloc.h"

/* Every key a keymap file can name: ASCII and the special keys. */
static int key_at(size_t i)
{
    return i < 256 ? (int)i : KM_KEY_SPECIAL + (int)(i - 256);
}
#define NKEYS (256 + (KM_KEY_LAST - KM_KEY_SPECIAL + 1))

static void same_table(const keymap *a, const keymap *b, const char *what)
{
    for (size_t i = 0; i < NKEYS; i++) {
        int k = key_at(i);
        FUZZ_CHECK(keymap_lookup(a, k) == keymap_lookup(b, k), "%s: key %d: action %d vs %d", what,
                   k, keymap_lookup(a, k), keymap_lookup(b, k));
    }
}

static void check_key_name(int key)
{
    char name[32], small[4];
    bool named = keymap_key_name(key, name, sizeof name);
    FUZZ_CHECK(named, "bound key %d has no name", key);
    FUZZ_CHECK(keymap_key_by_name(name) == key, "key %d is named '%s', which reads as %d", key,
               name, keymap_key_by_name(name));
    memset(small, 'Z', sizeof small);
    keymap_key_name(key, small, 2);
    FUZZ_CHECK(small[2] == 'Z' && memchr(small, '\0', 2), "keymap_key_name overran cap 2");
}

/* Check names and write the table as a keymap file. */
static char *dump(const keymap *km)
{
    size_t cap = 64 + NKEYS * 48, used = 0;
    char *text = xmalloc(cap);
    used += (size_t)snprintf(text, cap, "unbind-all\n");
    for (size_t i = 0; i < NKEYS; i++) {
        int k = key_at(i);
        km_action a = keymap_lookup(km, k);
        FUZZ_CHECK(a >= KM_NONE && a < KM_ACTION_COUNT, "key %d: action %d", k, a);
        if (a == KM_NONE)
            continue;
        check_key_name(k);
        FUZZ_CHECK(keymap_action_by_name(keymap_action_name(a)) == a, "action %d round trip", a);
        char name[32];
        keymap_key_name(k, name, sizeof name);
        used +=
            (size_t)snprintf(text + used, cap - used, "bind %s %s\n", name, keymap_action_name(a));
        FUZZ_CHECK(used < cap, "dump buffer too small");
    }
    return text;
}

static void check_help(keymap *km)
{
    help_entry e[KM_HELP_MAX];
    size_t n = keymap_help(km, e, KM_HELP_MAX);
    FUZZ_CHECK(n <= KM_HELP_MAX, "keymap_help returned %zu", n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(e[i].keys && e[i].keys[0] && e[i].action && e[i].what,
                   "help entry %zu is incomplete", i);
}

static void check_names(const char *text)
{
    size_t n = strcspn(text, "\n");
    char *word = fuzz_strdup(text, n);
    int key = keymap_key_by_name(word);
    FUZZ_CHECK(key >= -1, "keymap_key_by_name returned %d", key);
    if (key >= 0)
        check_key_name(key);
    km_action a = keymap_action_by_name(word);
    FUZZ_CHECK(a == KM_NONE || strcmp(keymap_action_name(a), word) == 0, "action '%s' reads as %d",
               word, a);
    free(word);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strdup(data, size);
    keymap *km = keymap_create(), *tiny = keymap_create();
    char why[256], why2[4];
    size_t nbad = 12345, nbad2 = 0;
    why2[3] = 'Z';
    int rc = keymap_parse(km, "keys", text, why, sizeof why, &nbad);
    int rc2 = keymap_parse(tiny, "keys", text, why2, 3, &nbad2);
    FUZZ_CHECK(rc == 0 || rc == BF_ESYNTAX, "keymap_parse returned %d", rc);
    FUZZ_CHECK((rc == 0) == (nbad == 0), "rc %d with %zu bad lines", rc, nbad);
    FUZZ_CHECK(memchr(why, '\0', sizeof why), "reason not NUL-terminated");
    FUZZ_CHECK(rc == 0 || strncmp(why, "keys:", 5) == 0, "reason without the file name: '%s'", why);
    FUZZ_CHECK(why2[3] == 'Z' && memchr(why2, '\0', 3), "reason overran a 3-byte buffer");
    FUZZ_CHECK(rc == rc2 && nbad == nbad2, "the reason's buffer size changed the result");
    same_table(km, tiny, "tiny reason buffer");

    char *file = dump(km);
    keymap *again = keymap_create();
    size_t nbad3 = 0;
    rc = keymap_parse(again, "dump", file, why, sizeof why, &nbad3);
    FUZZ_CHECK(rc == 0, "the table written back as a file does not parse: %s", why);
    same_table(km, again, "table written back");
    check_help(km);
    check_names(text);

    keymap_destroy(again);
    free(file);
    keymap_destroy(km);
    keymap_destroy(tiny);
    free(text);
    return 0;
}
