/*
 * The TSan-build test runner behind tests/support/tsan/criterion/criterion.h: runs every registered
 * test in a forked child with a timeout and prints Criterion's summary line. Test code only.
 */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHIM_MAX_TESTS       512
#define SHIM_SKIP_STATUS     77
#define SHIM_DEFAULT_TIMEOUT 300

struct shim_test {
    const char *suite, *name;
    void (*fn)(void);
    const struct shim_opts *opts;
};

static struct shim_test tests[SHIM_MAX_TESTS];
static size_t ntests;
static int expect_failures;

void shim_register(const char *suite, const char *name, void (*fn)(void),
                   const struct shim_opts *opts)
{
    if (ntests == SHIM_MAX_TESTS) {
        fprintf(stderr, "tsan runner: too many tests\n");
        exit(2);
    }
    tests[ntests++] = (struct shim_test){ suite, name, fn, opts };
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void print_message(const char *fmt, va_list ap)
{
    if (fmt && *fmt) {
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
    }
}
#pragma GCC diagnostic pop

void shim_fail(const char *file, int line, bool fatal, const char *expr, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[----] %s:%d: %s failed: %s", file, line, fatal ? "Assertion" : "Expectation",
            expr);
    va_start(ap, fmt);
    print_message(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (fatal)
        _exit(1);
    expect_failures++;
}

void shim_log(const char *level, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[%s] ", level);
    va_start(ap, fmt);
    print_message(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void shim_skip(const char *fmt, ...)
{
    va_list ap;
    fputs("[SKIP]", stderr);
    va_start(ap, fmt);
    print_message(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(SHIM_SKIP_STATUS);
}

static void run_child(const struct shim_test *t)
{
    unsigned timeout = t->opts->timeout > 0 ? (unsigned)t->opts->timeout : SHIM_DEFAULT_TIMEOUT;
    alarm(timeout);
    if (t->opts->init)
        t->opts->init();
    t->fn();
    if (t->opts->fini)
        t->opts->fini();
    fflush(NULL);
    _exit(expect_failures ? 1 : 0);
}

/* 0 passed, 1 failed, 2 crashed, 3 skipped. */
static int run_one(const struct shim_test *t)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0)
        run_child(t);
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return 2;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == SHIM_SKIP_STATUS)
        return 3;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
        return 1;
    return 2;
}

int main(void)
{
    static const char *const verdict[] = { "PASS", "FAIL", "CRASH", "SKIP" };
    size_t passed = 0, failed = 0, crashed = 0, tested = 0;
    for (size_t i = 0; i < ntests; i++) {
        const struct shim_test *t = &tests[i];
        if (t->opts->disabled)
            continue;
        int r = run_one(t);
        fprintf(stderr, "[%s] %s::%s\n", verdict[r], t->suite, t->name);
        if (r == 3)
            continue;
        tested++;
        passed += r == 0;
        failed += r == 1;
        crashed += r == 2;
    }
    fprintf(stderr,
            "[====] Synthesis: Tested: %zu | Passing: %zu | Failing: %zu | Crashing: %zu \n",
            tested, passed, failed, crashed);
    return failed || crashed ? 1 : 0;
}
