/* tpane: tmux-driven terminal tests (see tpane.h). */
#include "tpane.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

char *tpane_script(const char *dir, const char *body)
{
    size_t n = strlen(dir) + 16;
    char *path = malloc(n);
    snprintf(path, n, "%s/run.sh", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fprintf(f,
            "export LANG=C.UTF-8\n"
            "%s\n"
            "echo \"bfmon exited $?\"\n"
            "stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '\n"
            "echo\n"
            "exec sleep 3600\n",
            body);
    fclose(f);
    return path;
}

int tpane_cmd(const tpane *p, char **out, const char *fmt, ...)
{
    char args[2048], cmd[2300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "tmux -L %s -f /dev/null %s 2>&1", p->sock, args);
    return tu_run(cmd, out);
}

void tpane_start(tpane *p, int w, int h, const char *script)
{
    snprintf(p->sock, sizeof p->sock, "bftp-%d", (int)getpid());
    char *out = NULL;
    int rc =
        tpane_cmd(p, &out, "new-session -d -s bf -x %d -y %d 'sh %s' \\; set-option -g status off",
                  w, h, script);
    cr_assert_eq(rc, 0, "tmux new-session failed: %s", out ? out : "");
    p->up = true;
    free(out);
}

void tpane_stop(tpane *p)
{
    if (!p->up)
        return;
    char *path = NULL; /* tmux leaves its socket file behind after kill-server */
    tpane_cmd(p, &path, "display-message -p '#{socket_path}'");
    tpane_cmd(p, NULL, "kill-server");
    if (path && path[0] == '/') {
        path[strcspn(path, "\n")] = '\0';
        unlink(path);
    }
    free(path);
    p->up = false;
}

char *tpane_capture(const tpane *p)
{
    char *out = NULL;
    tpane_cmd(p, &out, "capture-pane -p -t bf");
    return out;
}

char *tpane_capture_escapes(const tpane *p)
{
    char *out = NULL;
    tpane_cmd(p, &out, "capture-pane -e -p -t bf");
    return out;
}

void tpane_keys(const tpane *p, const char *keys)
{
    char *out = NULL;
    int rc = tpane_cmd(p, &out, "send-keys -t bf %s", keys);
    cr_assert_eq(rc, 0, "send-keys %s: %s", keys, out ? out : "");
    free(out);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *tpane_wait(const tpane *p, tpane_pred pred, const void *ctx, int timeout_ms, const char *what)
{
    int64_t end = now_ms() + timeout_ms;
    char *cap = NULL;
    for (;;) {
        free(cap);
        cap = tpane_capture(p);
        if (cap && pred(cap, ctx))
            return cap;
        if (now_ms() > end)
            break;
        struct timespec pause = { 0, 50 * 1000000L }; /* polling interval, not a synchronisation */
        nanosleep(&pause, NULL);
    }
    static char last[1 << 16]; /* the report outlives the capture without leaking it */
    snprintf(last, sizeof last, "%s", cap ? cap : "(none)");
    free(cap);
    cr_assert_fail("timed out waiting for %s; the screen:\n%s", what, last);
    return NULL;
}

void tpane_wait_format(const tpane *p, const char *format, const char *want, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    char *out = NULL;
    for (;;) {
        free(out);
        tpane_cmd(p, &out, "display-message -p -t bf '%s'", format);
        if ((out && !strcmp(out, want)) || now_ms() > end)
            break;
        struct timespec pause = { 0, 50 * 1000000L }; /* polling interval */
        nanosleep(&pause, NULL);
    }
    cr_assert_str_eq(out, want, "%s", format);
    free(out);
}

void tpane_expect_restored(const tpane *p, int timeout_ms)
{
    free(
        tpane_wait(p, tpane_has_text, "bfmon exited 0", timeout_ms, "bfmon to exit with status 0"));
    tpane_wait_format(p, "#{alternate_on} #{cursor_flag}", "0 1\n", timeout_ms);
    free(tpane_wait(p, tpane_has_text, "icanon echo", timeout_ms,
                    "the terminal back in canonical mode"));
}

bool tpane_has_text(const char *cap, const void *text)
{
    return strstr(cap, text) != NULL;
}

bool tpane_lacks_text(const char *cap, const void *text)
{
    return strstr(cap, text) == NULL;
}

bool tpane_matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0, "%s", pattern);
    bool m = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

/* Columns [x0, x1) of a line of UTF-8 text, one column per code point (all bfmon glyphs are one
 * column wide), into out. */
static void cut_columns(const char *line, int x0, int x1, char *out, size_t cap)
{
    size_t n = 0;
    int col = -1;
    for (const char *p = line; *p && *p != '\n'; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80)
            col++;
        if (col >= x1)
            break;
        if (col >= x0 && n + 1 < cap)
            out[n++] = *p;
    }
    out[n] = '\0';
}

char *tpane_region(const char *cap, int x0, int x1, int y0, int y1)
{
    size_t size = strlen(cap) + 1;
    char *out = calloc(1, size + 1), *line = malloc(size);
    size_t used = 0;
    int y = 0;
    for (const char *p = cap; *p && y < y1; y++) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (y >= y0) {
            memcpy(line, p, len);
            line[len] = '\0';
            cut_columns(line, x0, x1, out + used, size - used);
            used += strlen(out + used);
            out[used++] = '\n';
        }
        p += len + (end ? 1 : 0);
    }
    out[used] = '\0';
    free(line);
    return out;
}
