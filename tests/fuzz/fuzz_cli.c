/*
 * fuzz_cli: bfmon's command line (tui/cli) with arbitrary argument vectors. The input is split at
 * '\n' into at most MAX_ARGS arguments after "bfmon"; the command is chosen as main() chooses it
 * and its parser runs twice on the same vector. Invariants:
 *   - a parse ends in run, help or a usage error, nothing else;
 *   - parsing is repeatable: getopt's global state and argv's permutation by the first parse change
 *     neither the verdict nor a single option of the second;
 *   - what a parse accepts is within the documented ranges (symbols, workers, fps, speeds, ports,
 *     levels, sizes, stream kinds, faults), and required options are present;
 *   - every argument that reads as a duration obeys the duration rules (util/dur).
 * Messages go to stdout/stderr as in bfmon itself (scripts/fuzz.sh closes stdout).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feed/player.h"
#include "fuzz.h"
#include "sim/faults.h"
#include "tui/cli.h"
#include "util/dur.h"
#include "util/err.h"

#define MAX_ARGS 32

static void check_duration(const char *s)
{
    int64_t ns = -1, ms = -1;
    int rc = dur_parse_ns(s, &ns), rm = dur_parse_ms(s, &ms);
    FUZZ_CHECK(rc == 0 || rc == BF_EINVAL, "dur_parse_ns('%s') returned %d", s, rc);
    FUZZ_CHECK(rc == rm, "'%s': dur_parse_ns %d but dur_parse_ms %d", s, rc, rm);
    if (rc != 0)
        return;
    FUZZ_CHECK(isdigit((unsigned char)s[0]), "'%s' accepted without a leading digit", s);
    FUZZ_CHECK(ns >= 0 && ms >= 0, "'%s': negative duration %lld ns", s, (long long)ns);
    FUZZ_CHECK(ms == (ns + 500000) / 1000000, "'%s': %lld ns but %lld ms", s, (long long)ns,
               (long long)ms);
}

static void check_verdict(const char *cmd, int rc)
{
    FUZZ_CHECK(rc == CLI_RUN || rc == CLI_DONE || rc == EXIT_USAGE, "%s: parse returned %d", cmd,
               rc);
}

static void check_symbol(const char *s)
{
    size_t n = strlen(s);
    FUZZ_CHECK(n > 0 && n < SYM_NAME_MAX, "symbol '%s' of length %zu", s, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_',
                   "symbol '%s' has '%c'", s, s[i]);
}

static void check_feed(const opts_feed *f)
{
    FUZZ_CHECK(f->nsymbols <= ENGINE_MAX_SYMBOLS, "%zu symbols", f->nsymbols);
    for (size_t i = 0; i < f->nsymbols; i++) {
        FUZZ_CHECK(f->symbols[i] == f->names[i], "symbol %zu points elsewhere", i);
        check_symbol(f->symbols[i]);
    }
    FUZZ_CHECK(f->workers <= 64, "%u workers", f->workers);
    FUZZ_CHECK(f->interval_ns > 0, "status interval %lld ns", (long long)f->interval_ns);
    FUZZ_CHECK(f->duration_ns >= 0, "duration %lld ns", (long long)f->duration_ns);
}

/* b's pointers into its own arrays made a's, so that a memcmp compares values (after checking that
 * they do point into their own arrays). */
static void align_feed(const opts_feed *a, opts_feed *b)
{
    check_feed(b);
    memcpy(b->symbols, a->symbols, sizeof b->symbols);
}

static void check_fps(int fps)
{
    FUZZ_CHECK(fps == 0 || (fps >= 1 && fps <= 240), "fps %d", fps);
}

static void fuzz_live(int argc, char **argv)
{
    cli_live a, b;
    int rc = cli_parse_live(argc, argv, &a);
    check_verdict("live", rc);
    FUZZ_CHECK(cli_parse_live(argc, argv, &b) == rc, "live: a second parse disagrees");
    if (rc != CLI_RUN)
        return;
    check_feed(&a.feed);
    align_feed(&a.feed, &b.feed);
    /* --record: bfmon record's default streams, each pointer into its own array */
    FUZZ_CHECK(a.record ? a.nkinds >= 1 && !a.headless : a.nkinds == 0, "live: %zu stream kinds",
               a.nkinds);
    for (size_t i = 0; i < b.nkinds; i++)
        FUZZ_CHECK(b.kind_ptrs[i] == b.kinds[i] && b.kinds[i][0], "live: stream kind %zu", i);
    memcpy(b.kind_ptrs, a.kind_ptrs, sizeof b.kind_ptrs);
    FUZZ_CHECK(!memcmp(&a, &b, sizeof a), "live: a second parse gives other options");
    check_fps(a.fps);
}

static void check_record(const cli_record *o)
{
    check_feed(&o->feed);
    FUZZ_CHECK(o->out && o->out[0], "record: accepted without --out");
    FUZZ_CHECK(o->prefix[0] && !strchr(o->prefix, '/'), "record: prefix '%s'", o->prefix);
    FUZZ_CHECK(o->nkinds >= 1 && o->nkinds <= ENGINE_MAX_STREAM_KINDS, "record: %zu stream kinds",
               o->nkinds);
    for (size_t i = 0; i < o->nkinds; i++)
        FUZZ_CHECK(o->kind_ptrs[i] == o->kinds[i] && o->kinds[i][0], "record: stream kind %zu", i);
    long top = o->compress == REC_GZIP ? 9 : o->compress == REC_ZSTD ? 19 : 22;
    FUZZ_CHECK(o->level >= 0 && o->level <= top, "record: level %ld", o->level);
    FUZZ_CHECK(o->rotate_bytes == 0 || o->rotate_bytes >= 4096, "record: rotate at %llu bytes",
               (unsigned long long)o->rotate_bytes);
}

static void fuzz_record(int argc, char **argv)
{
    cli_record a, b;
    int rc = cli_parse_record(argc, argv, &a);
    check_verdict("record", rc);
    FUZZ_CHECK(cli_parse_record(argc, argv, &b) == rc, "record: a second parse disagrees");
    if (rc != CLI_RUN)
        return;
    check_record(&a);
    check_record(&b);
    align_feed(&a.feed, &b.feed);
    memcpy(b.kind_ptrs, a.kind_ptrs, sizeof b.kind_ptrs);
    FUZZ_CHECK(!memcmp(&a, &b, sizeof a), "record: a second parse gives other options");
}

static void fuzz_replay(int argc, char **argv)
{
    cli_replay a, b;
    int rc = cli_parse_replay(argc, argv, &a);
    check_verdict("replay", rc);
    FUZZ_CHECK(cli_parse_replay(argc, argv, &b) == rc, "replay: a second parse disagrees");
    if (rc != CLI_RUN)
        return;
    FUZZ_CHECK(a.nfiles == b.nfiles && a.speed == b.speed && a.fps == b.fps && a.json == b.json &&
                   a.verify == b.verify,
               "replay: a second parse gives other options");
    FUZZ_CHECK(a.nfiles >= 1 && a.nfiles < argc, "replay: %d files", a.nfiles);
    for (int i = 0; i < a.nfiles; i++)
        FUZZ_CHECK(a.files[i] != NULL, "replay: file %d is NULL", i);
    FUZZ_CHECK(isinf(a.speed) || (a.speed >= PLAYER_SPEED_MIN && a.speed <= PLAYER_SPEED_TOP),
               "replay: speed %g", a.speed);
    check_fps(a.fps);
}

static void check_sim(const cli_sim *o)
{
    FUZZ_CHECK(o->cfg.port >= -1 && o->cfg.port <= 65535, "sim: port %d", o->cfg.port);
    FUZZ_CHECK(o->cfg.tls_port >= -1 && o->cfg.tls_port <= 65535, "sim: tls port %d",
               o->cfg.tls_port);
    FUZZ_CHECK(!o->cfg.cert_file == !o->cfg.key_file, "sim: a certificate without its key");
    FUZZ_CHECK(!o->exchange_info || o->replay, "sim: --exchange-info without --replay");
    FUZZ_CHECK(o->model.nsymbols <= CLI_SIM_MAX_SYMBOLS, "sim: %zu symbols", o->model.nsymbols);
    for (size_t i = 0; i < o->model.nsymbols; i++)
        check_symbol(o->model.symbols[i].name);
    FUZZ_CHECK(o->cfg.nfaults <= CLI_SIM_MAX_FAULTS && o->cfg.faults == o->faults,
               "sim: %zu faults", o->cfg.nfaults);
    for (size_t i = 0; i < o->cfg.nfaults; i++) {
        fault_spec f;
        char why[256];
        FUZZ_CHECK(fault_parse(o->faults[i], &f, why, sizeof why) == 0,
                   "sim: fault '%s' accepted but does not parse", o->faults[i]);
    }
    FUZZ_CHECK(o->speed >= 0 && o->speed <= 1e6, "sim: speed %g", o->speed);
}

static bool sim_same(const cli_sim *a, const cli_sim *b)
{
    if (a->model.nsymbols != b->model.nsymbols || a->cfg.nfaults != b->cfg.nfaults)
        return false;
    for (size_t i = 0; i < a->model.nsymbols; i++)
        if (strcmp(a->model.symbols[i].name, b->model.symbols[i].name))
            return false;
    return a->cfg.port == b->cfg.port && a->cfg.tls_port == b->cfg.tls_port &&
           a->model.seed == b->model.seed && a->model.rate == b->model.rate &&
           a->model.levels == b->model.levels && a->speed == b->speed &&
           a->cfg.ping_interval_ms == b->cfg.ping_interval_ms &&
           a->cfg.max_streams == b->cfg.max_streams;
}

static void fuzz_sim(int argc, char **argv)
{
    cli_sim a, b;
    int rc = cli_parse_sim(argc, argv, &a);
    check_verdict("sim", rc);
    int rc2 = cli_parse_sim(argc, argv, &b);
    FUZZ_CHECK(rc2 == rc, "sim: a second parse disagrees (%d, then %d)", rc, rc2);
    if (rc == CLI_RUN) {
        FUZZ_CHECK(sim_same(&a, &b), "sim: a second parse gives other options");
        check_sim(&a);
    }
    cli_sim_free(&a);
    cli_sim_free(&b);
}

/* "bfmon" and the input's lines; argv[argc] is NULL as for main(). */
static int split_args(char *s, char **argv)
{
    int argc = 0;
    argv[argc++] = "bfmon";
    for (char *line = s, *next; line && argc < MAX_ARGS + 1; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        argv[argc++] = line;
    }
    argv[argc] = NULL;
    return argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strdup(data, size);
    char *argv[MAX_ARGS + 2];
    int argc = split_args(s, argv);
    for (int i = 1; i < argc; i++)
        check_duration(argv[i]);
    switch (cli_command_of(argc, argv)) {
    case CLI_SIM:
        fuzz_sim(argc - 1, argv + 1);
        break;
    case CLI_REPLAY:
        fuzz_replay(argc - 1, argv + 1);
        break;
    case CLI_RECORD:
        fuzz_record(argc - 1, argv + 1);
        break;
    case CLI_LIVE:
        fuzz_live(argc, argv);
        break;
    default:
        break;
    }
    free(s);
    return 0;
}
