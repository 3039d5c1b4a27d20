/*
 * bfmon-tui-bench: CPU used by the terminal UI (`bfmon` in a 200x50 tmux window) under a fast
 * `bfmon sim` feed (default --rate 56000 book updates/s, about 20k messages/s over the five default
 * symbols), against the same binary with --repaint-all (every panel redrawn, every cell rewritten
 * and the whole terminal repainted every frame), in the same run.
 *
 * A third arm measures the floor: the same binary with --bench-floor, whose frames wake, read the
 * views and draw only the status bar. No drawing strategy can make a frame cheaper than that, so
 * floor / repaint-all is the smallest ratio this machine allows.
 *
 * Arms alternate (changed-only, repaint-all, floor, changed-only, ...) for --rounds rounds. Each arm
 * starts bfmon in a fresh tmux server, waits until the screen shows a LIVE book, lets it settle,
 * then reads utime+stime from /proc/<pid>/stat (the whole process: engine threads included) and
 * the run time in ns from /proc/<pid>/task/<pid>/schedstat (the UI thread alone) over a fixed
 * window. The figures are the medians of the per-round ratios changed-only / repaint-all (target
 * <= 0.20) and floor / repaint-all. The sim runs as its own process and is not counted. Prints a
 * table and one JSON line. Not a test.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 32

typedef struct opts {
    const char *bfmon;
    double rate, window_s, settle_s;
    int rounds, w, h, fps;
    bool json_only;
} opts;

typedef struct arm_result {
    double cpu_process, cpu_ui; /* cores (CPU seconds per second) */
    double msgs_per_s;          /* the sim's delivered messages over the window */
} arm_result;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bfmon-tui-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Run a shell command; its stdout (first cap-1 bytes) into out. Returns the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = 0, got;
    char sink[4096];
    while ((got = fread(out && n + 1 < cap ? out + n : sink, 1,
                        out && n + 1 < cap ? cap - n - 1 : sizeof sink, p)) > 0)
        if (out && n + 1 < cap)
            n += got;
    if (out && cap)
        out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the sim -------------------------------------------------------------------------------- */

typedef struct sim {
    pid_t pid;
    char rest[128], ws[128];
} sim;

static bool json_field(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    if (n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static void sim_start(sim *s, const opts *o)
{
    int fd[2];
    if (pipe(fd) < 0)
        die("pipe: %s", strerror(errno));
    char rate[32];
    snprintf(rate, sizeof rate, "%.0f", o->rate);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(o->bfmon, o->bfmon, "sim", "--port", "0", "--tls-port", "-1", "--rate", rate,
              (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[1024];
    if (!f || !fgets(line, sizeof line, f) || !json_field(line, "rest", s->rest, sizeof s->rest) ||
        !json_field(line, "ws", s->ws, sizeof s->ws))
        die("bfmon sim did not print its URLs");
    fclose(f); /* the sim prints nothing more */
}

static void sim_stop(sim *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
}

/* Messages the sim has sent so far (public + market). */
static double sim_messages(const sim *s)
{
    char cmd[256], out[8192];
    snprintf(cmd, sizeof cmd, "curl -s %s/sim/stats", s->rest);
    if (run(cmd, out, sizeof out) != 0)
        return 0;
    const char *m = strstr(out, "\"messages\":");
    double pub = 0, mkt = 0;
    if (m) {
        const char *p = strstr(m, "\"public\":"), *k = strstr(m, "\"market\":");
        pub = p ? strtod(p + 9, NULL) : 0;
        mkt = k ? strtod(k + 9, NULL) : 0;
    }
    return pub + mkt;
}

/* ---- one arm -------------------------------------------------------------------------------- */

/* utime + stime in clock ticks of /proc/<path>/stat. */
static double cpu_ticks(const char *path)
{
    char buf[2048];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st);
}

/* Nanoseconds thread path has run on a CPU (/proc/<pid>/task/<tid>/schedstat): the UI thread uses
 * around 1 % of a core, a handful of 10 ms clock ticks per window, too coarse for a ratio. */
static double cpu_ns(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long ns = 0;
    int n = fscanf(f, "%llu", &ns);
    fclose(f);
    return n == 1 ? (double)ns : -1;
}

static void tmux(const char *sock, const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "tmux -L %s -f /dev/null %s 2>/dev/null", sock, args);
    run(cmd, out, cap);
}

static bool wait_live(const char *sock, double timeout_s)
{
    double end = now_s() + timeout_s;
    char screen[65536];
    while (now_s() < end) {
        tmux(sock, "capture-pane -p -t bench", screen, sizeof screen);
        if (strstr(screen, "BTCUSDT LIVE"))
            return true;
        pause_s(0.1);
    }
    return false;
}

typedef enum arm { ARM_CHANGED, ARM_REPAINT_ALL, ARM_FLOOR, ARM_COUNT } arm;

static const char *const arm_name[ARM_COUNT] = { "changed", "repaint-all", "floor" };
static const char *const arm_flag[ARM_COUNT] = { "", " --repaint-all", " --bench-floor" };

static arm_result run_arm(const opts *o, const sim *s, arm which, int round)
{
    char sock[64], args[1536], out[64];
    snprintf(sock, sizeof sock, "bftuibench-%d-%d-%d", (int)getpid(), round, (int)which);
    snprintf(args, sizeof args,
             "new-session -d -s bench -x %d -y %d 'exec env LANG=C.UTF-8 %s --rest-url %s "
             "--ws-url %s --fps %d%s' \\; set-option -g status off",
             o->w, o->h, o->bfmon, s->rest, s->ws, o->fps, arm_flag[which]);
    tmux(sock, args, NULL, 0);
    if (!wait_live(sock, 30))
        die("bfmon showed no LIVE book within 30 s");
    pause_s(o->settle_s);
    tmux(sock, "display-message -p -t bench '#{pane_pid}'", out, sizeof out);
    int pid = atoi(out);
    char proc[64], task[96];
    snprintf(proc, sizeof proc, "/proc/%d/stat", pid);
    snprintf(task, sizeof task, "/proc/%d/task/%d/schedstat", pid, pid);
    double hz = (double)sysconf(_SC_CLK_TCK);
    double p0 = cpu_ticks(proc), u0 = cpu_ns(task), m0 = sim_messages(s), t0 = now_s();
    pause_s(o->window_s);
    double p1 = cpu_ticks(proc), u1 = cpu_ns(task), m1 = sim_messages(s), t1 = now_s();
    char path[512] = "";
    tmux(sock, "display-message -p '#{socket_path}'", path, sizeof path);
    tmux(sock, "kill-server", NULL, 0);
    path[strcspn(path, "\n")] = '\0';
    if (path[0] == '/')
        unlink(path); /* tmux leaves its socket file behind */
    if (p0 < 0 || p1 < 0)
        die("cannot read %s", proc);
    double dt = t1 - t0;
    if (u0 < 0 || u1 < 0)
        die("cannot read %s", task);
    return (arm_result){ (p1 - p0) / hz / dt, (u1 - u0) / 1e9 / dt, (m1 - m0) / dt };
}

/* ---- main ----------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) /* n <= ARM_COUNT * MAX_ROUNDS */
{
    double s[ARM_COUNT * MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void usage(void)
{
    printf("usage: bfmon-tui-bench [--bfmon PATH] [--rate N] [--window SECONDS] [--rounds N]\n"
           "                       [--size WxH] [--fps N] [--quick] [--json-only]\n");
}

static void parse(int argc, char **argv, opts *o)
{
    *o = (opts){ .bfmon = getenv("BF_BFMON") ? getenv("BF_BFMON") : BFMON_PATH,
                 .rate = 56000,
                 .window_s = 5,
                 .settle_s = 2,
                 .rounds = 5,
                 .w = 200,
                 .h = 50,
                 .fps = 20 };
    static const struct option lo[] = {
        { "bfmon", required_argument, NULL, 'b' },  { "rate", required_argument, NULL, 'r' },
        { "window", required_argument, NULL, 'w' }, { "rounds", required_argument, NULL, 'n' },
        { "size", required_argument, NULL, 's' },   { "fps", required_argument, NULL, 'f' },
        { "quick", no_argument, NULL, 'q' },        { "json-only", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bfmon = optarg;
            break;
        case 'r':
            o->rate = strtod(optarg, NULL);
            break;
        case 'w':
            o->window_s = strtod(optarg, NULL);
            break;
        case 'n':
            o->rounds = (int)strtol(optarg, NULL, 10);
            break;
        case 's':
            if (sscanf(optarg, "%dx%d", &o->w, &o->h) != 2)
                die("--size WxH");
            break;
        case 'f':
            o->fps = (int)strtol(optarg, NULL, 10);
            break;
        case 'q':
            o->rounds = 1, o->window_s = 2, o->settle_s = 1;
            break;
        case 'j':
            o->json_only = true;
            break;
        case 'h':
            usage();
            exit(0);
        default:
            usage();
            exit(2);
        }
    }
    if (o->rounds < 1 || o->rounds > MAX_ROUNDS || o->window_s <= 0 || o->rate <= 0 || o->fps < 1)
        die("bad options");
}

/* The median over rounds of arm a's CPU (a == b) or of the ratio of arm a's to arm b's; ui: the UI
 * thread's, else the whole process's. */
static double median_of(arm_result (*res)[ARM_COUNT], int rounds, arm a, arm b, bool ui)
{
    double v[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        double x = ui ? res[r][a].cpu_ui : res[r][a].cpu_process;
        double y = ui ? res[r][b].cpu_ui : res[r][b].cpu_process;
        v[r] = a == b ? x : y > 0 ? x / y : 0;
    }
    return median(v, rounds);
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    sim s;
    sim_start(&s, &o);
    arm_result res[MAX_ROUNDS][ARM_COUNT];
    double msgs[ARM_COUNT * MAX_ROUNDS];
    if (!o.json_only)
        printf("%-6s %-12s %10s %10s %12s\n", "round", "arm", "process", "UI thread", "sim msg/s");
    for (int r = 0; r < o.rounds; r++) {
        for (arm a = 0; a < ARM_COUNT; a++) {
            arm_result *x = &res[r][a];
            *x = run_arm(&o, &s, a, r);
            msgs[ARM_COUNT * r + a] = x->msgs_per_s;
            if (!o.json_only)
                printf("%-6d %-12s %9.1f%% %9.2f%% %12.0f\n", r + 1, arm_name[a],
                       100 * x->cpu_process, 100 * x->cpu_ui, x->msgs_per_s);
            fflush(stdout);
        }
    }
    sim_stop(&s);
    double mrp = median_of(res, o.rounds, ARM_CHANGED, ARM_REPAINT_ALL, false);
    double mru = median_of(res, o.rounds, ARM_CHANGED, ARM_REPAINT_ALL, true);
    double mfu = median_of(res, o.rounds, ARM_FLOOR, ARM_REPAINT_ALL, true);
    if (!o.json_only) {
        printf("median ratio changed/repaint-all: process %.3f, UI thread %.3f (target <= 0.20)\n",
               mrp, mru);
        printf("median ratio floor/repaint-all, UI thread: %.3f (a frame that draws one row)\n",
               mfu);
    }
    printf("{\"bench\":\"bfmon-tui-bench\",\"size\":\"%dx%d\",\"fps\":%d,\"sim_rate\":%.0f,"
           "\"msgs_per_s\":%.0f,\"rounds\":%d,\"window_s\":%.1f,"
           "\"changed_cpu_process\":%.4f,\"repaint_cpu_process\":%.4f,"
           "\"changed_cpu_ui\":%.4f,\"repaint_cpu_ui\":%.4f,\"floor_cpu_ui\":%.4f,"
           "\"ratio_process\":%.4f,\"ratio_ui_thread\":%.4f,\"ratio_floor_ui_thread\":%.4f,"
           "\"target\":0.2}\n",
           o.w, o.h, o.fps, o.rate, median(msgs, ARM_COUNT * o.rounds), o.rounds, o.window_s,
           median_of(res, o.rounds, ARM_CHANGED, ARM_CHANGED, false),
           median_of(res, o.rounds, ARM_REPAINT_ALL, ARM_REPAINT_ALL, false),
           median_of(res, o.rounds, ARM_CHANGED, ARM_CHANGED, true),
           median_of(res, o.rounds, ARM_REPAINT_ALL, ARM_REPAINT_ALL, true),
           median_of(res, o.rounds, ARM_FLOOR, ARM_FLOOR, true), mrp, mru, mfu);
    return 0;
}
