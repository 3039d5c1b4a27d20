/* testutil: small helpers shared by the Criterion suites. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_fixture(const char *rel)
{
    const char *dir = getenv("BF_FIXTURES");
    cr_assert(dir && *dir, "BF_FIXTURES is not set");
    cr_assert(access(dir, R_OK | X_OK) == 0,
              "real Binance captures not found at %s: they live in ../shared/fixtures beside the "
              "checkout (or configure with -Dfixtures_dir=DIR)",
              dir);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char **tu_lines(char *buf, size_t *count)
{
    size_t cap = 64, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            if (n == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof *lines);
            }
            lines[n++] = p;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    *count = n;
    return lines;
}

char *tu_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/bfmon-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(buf);
    cr_assert(d, "mkdtemp failed");
    return strdup(d);
}

void tu_rmtree(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", path);
}

int tu_run(const char *cmdline, char **out)
{
    FILE *p = popen(cmdline, "r");
    if (!p)
        return -1;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while ((got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

struct tu_proc {
    pid_t pid;
    int out_fd;
    char buf[1 << 16];
    size_t have;
    int status;
    bool exited;
};

tu_proc *tu_spawn(char *const argv[], char *const env_extra[])
{
    return tu_spawn_ex(argv, env_extra, NULL);
}

/* In the child, before exec. */
static void apply_spawn_opts(const tu_spawn_opts *o, int out_fd)
{
    if (!o)
        return;
    if (o->stderr_to_stdout)
        dup2(out_fd, STDERR_FILENO);
    if (o->fsize_limit > 0) {
        struct rlimit rl = { .rlim_cur = (rlim_t)o->fsize_limit,
                             .rlim_max = (rlim_t)o->fsize_limit };
        setrlimit(RLIMIT_FSIZE, &rl);
    }
}

int tu_proc_signal(tu_proc *p, int sig)
{
    return kill(p->pid, sig);
}

tu_proc *tu_spawn_ex(char *const argv[], char *const env_extra[], const tu_spawn_opts *opts)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* A test that fails an assertion exits at once: its children must not outlive it
         * (they hold the runner's stderr open, and the runner would wait for them). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        apply_spawn_opts(opts, fds[1]);
        close(fds[0]);
        close(fds[1]);
        for (size_t i = 0; env_extra && env_extra[i]; i++)
            putenv(env_extra[i]);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    tu_proc *p = calloc(1, sizeof *p);
    p->pid = pid;
    p->out_fd = fds[0];
    return p;
}

/* Read what is available within timeout_ms into p->buf; false on EOF, timeout or a full buffer. */
static bool proc_fill(tu_proc *p, int timeout_ms)
{
    if (p->have == sizeof p->buf)
        return false;
    struct pollfd pfd = { .fd = p->out_fd, .events = POLLIN };
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return false;
    ssize_t n = read(p->out_fd, p->buf + p->have, sizeof p->buf - p->have);
    if (n <= 0)
        return false;
    p->have += (size_t)n;
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *tu_proc_line(tu_proc *p, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->have);
        if (nl) {
            size_t len = (size_t)(nl - p->buf);
            char *line = strndup(p->buf, len);
            memmove(p->buf, nl + 1, p->have - len - 1);
            p->have -= len + 1;
            return line;
        }
        int64_t left = end - now_ms();
        if (left <= 0 || !proc_fill(p, (int)left))
            return NULL;
    }
}

char *tu_proc_rest(tu_proc *p, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap + 1);
    for (;;) {
        if (p->have) {
            if (n + p->have > cap) {
                cap = (n + p->have) * 2;
                out = realloc(out, cap + 1);
            }
            memcpy(out + n, p->buf, p->have);
            n += p->have;
            p->have = 0;
        }
        int64_t left = end - now_ms();
        if (left <= 0 || !proc_fill(p, (int)left))
            break;
    }
    out[n] = '\0';
    return out;
}

int tu_proc_stop(tu_proc *p, int sig, int timeout_ms)
{
    if (sig)
        kill(p->pid, sig);
    int64_t end = now_ms() + timeout_ms;
    int st = 0;
    pid_t r;
    while ((r = waitpid(p->pid, &st, WNOHANG)) == 0 && now_ms() < end) {
        struct pollfd pfd = { .fd = p->out_fd, .events = POLLIN };
        /* Drain so the child never blocks on a full pipe; at EOF only the exit is left. */
        if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, 20) > 0) {
            char sink[4096];
            if (read(p->out_fd, sink, sizeof sink) <= 0) {
                close(p->out_fd);
                p->out_fd = -1;
            }
        }
    }
    int code = -1;
    if (r == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
    } else if (WIFEXITED(st)) {
        code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        code = 128 + WTERMSIG(st);
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    free(p);
    return code;
}

char *tu_source_path(const char *rel)
{
    const char *root = getenv("BF_SOURCE_ROOT");
    cr_assert(root && *root, "BF_SOURCE_ROOT is not set (run the tests through meson)");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return strdup(buf);
}

char *tu_tls_file(const char *name)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/data/tls/%s", name);
    return tu_source_path(rel);
}

/* Copy the string value of "key":"..." from a flat JSON line. */
static bool json_str(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *at = strstr(line, pat);
    if (!at)
        return false;
    at += strlen(pat);
    const char *end = strchr(at, '"');
    if (!end || (size_t)(end - at) >= cap)
        return false;
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = '\0';
    return true;
}

void tu_sim_start(tu_sim *sim, const char *const extra_args[])
{
    const char *bfmon = getenv("BF_BFMON");
    cr_assert(bfmon, "BF_BFMON is not set (run the tests through meson)");
    char *cert = tu_tls_file("server.pem"), *key = tu_tls_file("server.key");
    const char *argv[64] = { bfmon, "sim",    "--port", "0",     "--tls-port",
                             "0",   "--cert", cert,     "--key", key };
    size_t n = 10;
    for (size_t i = 0; extra_args && extra_args[i] && n < 63; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    memset(sim, 0, sizeof *sim);
    sim->proc = tu_spawn((char *const *)argv, NULL);
    free(cert);
    free(key);
    char *line = tu_proc_line(sim->proc, 20000);
    cr_assert(line, "bfmon sim printed no URL line");
    bool ok = json_str(line, "rest", sim->rest, sizeof sim->rest) &&
              json_str(line, "ws", sim->ws, sizeof sim->ws) &&
              json_str(line, "rest_tls", sim->rest_tls, sizeof sim->rest_tls) &&
              json_str(line, "ws_tls", sim->ws_tls, sizeof sim->ws_tls);
    cr_assert(ok, "unexpected URL line from bfmon sim: %s", line);
    free(line);
}

void tu_sim_stop(tu_sim *sim)
{
    int code = tu_proc_stop(sim->proc, SIGTERM, 10000);
    sim->proc = NULL;
    cr_expect_eq(code, 0, "bfmon sim exit status %d", code);
}
