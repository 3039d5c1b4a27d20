/*
 * testutil: helpers shared by the Criterion suites: locating fixtures, reading whole files,
 * temporary directories, and running the bfmon binary. Test code only.
 */
#ifndef BF_TESTUTIL_H
#define BF_TESTUTIL_H

#include <stddef.h>

/* $BF_FIXTURES/<rel> as a malloc'd path (aborts the test if BF_FIXTURES is unset). */
char *tu_fixture(const char *rel);
/* Whole file into a NUL-terminated malloc'd buffer; *len gets the size. NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);
/* Split a buffer into lines in place (newlines replaced by NUL); returns a malloc'd array of
 * pointers to non-empty lines and their count. */
char **tu_lines(char *buf, size_t *count);
/* A fresh directory under $TMPDIR, removed by tu_rmtree. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Run a shell command line, capturing stdout into *out (malloc'd, NUL-terminated); returns the exit
 * status (or -1). */
int tu_run(const char *cmdline, char **out);

/* A child process with its stdout on a pipe (stderr inherited, so it lands in the test log). */
typedef struct tu_proc tu_proc;
/* Start argv[0] (searched in PATH) with extra environment entries "K=V" (NULL-terminated, may be
 * NULL). Aborts the test when it cannot start. The child gets SIGTERM when the test process ends
 * (PR_SET_PDEATHSIG), so a failed assertion leaves nothing running. */
tu_proc *tu_spawn(char *const argv[], char *const env_extra[]);
/* tu_spawn with options: stderr onto the same pipe as stdout (so a test can read what a command
 * says on stderr), and an RLIMIT_FSIZE for the child (bytes; 0 leaves the limit alone). */
typedef struct tu_spawn_opts {
    int stderr_to_stdout;
    long long fsize_limit;
} tu_spawn_opts;
tu_proc *tu_spawn_ex(char *const argv[], char *const env_extra[], const tu_spawn_opts *opts);
/* Send a signal without waiting (SIGHUP to a recorder); 0 or -1. */
int tu_proc_signal(tu_proc *p, int sig);
/* Read one line of the child's stdout (newline stripped) into a malloc'd string, waiting at most
 * timeout_ms; NULL on EOF or timeout. */
char *tu_proc_line(tu_proc *p, int timeout_ms);
/* Everything the child writes until it exits (malloc'd), then its exit status as tu_proc_wait. */
char *tu_proc_rest(tu_proc *p, int timeout_ms);
/* Send sig (0: none), wait up to timeout_ms (then SIGKILL); returns the exit status, 128+signal
 * when killed by one, -1 on timeout. Frees p. */
int tu_proc_stop(tu_proc *p, int sig, int timeout_ms);

/* `bfmon sim` started for a test (plain and TLS listeners on ephemeral ports, test certificate).
 * extra_args: further sim options (NULL-terminated, may be NULL). */
typedef struct tu_sim {
    tu_proc *proc;
    char rest[128], ws[128], rest_tls[128], ws_tls[128];
} tu_sim;
void tu_sim_start(tu_sim *sim, const char *const extra_args[]);
/* SIGTERM; asserts a clean exit (0). */
void tu_sim_stop(tu_sim *sim);
/* $BF_SOURCE_ROOT/<rel> (malloc'd; aborts the test if BF_SOURCE_ROOT is unset). */
char *tu_source_path(const char *rel);
/* The sample capture shipped in docs/sample (malloc'd). */
#define TU_SAMPLE "docs/sample/btcusdt_20240808_head2000.txt.gz"
/* $BF_SOURCE_ROOT/tests/data/tls/<name> (malloc'd). */
char *tu_tls_file(const char *name);

#endif
