/*
 * Tests for the recorder: round trips through recfmt for each compression, writev adjacency,
 * rotation (size, request, UTC midnight), ring-full markers with exact counts, O_EXCL / symlinks,
 * write failures under RLIMIT_FSIZE, flush visibility and kill -9. Runs under the TSan runner too
 * (suite 'threads'): Test / cr_assert* / cr_log_* only.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "feed/recfmt.h"
#include "feed/recorder.h"
#include "testutil.h"
#include "util/clk.h"
#include "util/err.h"
#include "util/memacct.h"

#define BASE_NS   1723161255000000000LL /* 2024-08-08T23:54:15Z */
#define DEADLINE  (clk_mono_ns() + 60 * CLK_NS_PER_S)
#define MAX_FILES 64

static char *tmpdir;

static void setup(void)
{
    tmpdir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(tmpdir);
    free(tmpdir);
}

/* Every test gets its own directory (passed per Test: the TSan runner has no TestSuite). */

/* ---- the fake wall clock, with a gate that can hold the writer thread ---- */

static _Atomic int64_t fake_now = BASE_NS;
static pthread_t main_thread;
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_closed;
static int gate_waiting;

static int64_t fake_clock(void)
{
    if (!pthread_equal(pthread_self(), main_thread)) {
        pthread_mutex_lock(&gate_mu);
        while (gate_closed) {
            gate_waiting++;
            pthread_cond_broadcast(&gate_cv);
            pthread_cond_wait(&gate_cv, &gate_mu);
            gate_waiting--;
        }
        pthread_mutex_unlock(&gate_mu);
    }
    return atomic_load(&fake_now);
}

static void gate_set(bool closed)
{
    pthread_mutex_lock(&gate_mu);
    gate_closed = closed;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_wait_for_writer(void)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_waiting == 0)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

/* ---- helpers ---- */

static recorder_config base_config(recorder_compress c)
{
    recorder_config cfg = { .dir = tmpdir,
                            .prefix = "t",
                            .compress = c,
                            .no_rotate_daily = true,
                            .ring_bytes = (size_t)16 << 20 };
    return cfg;
}

static recorder *make(const recorder_config *cfg)
{
    recorder *r = NULL;
    char why[512] = "";
    int rc = recorder_create(cfg, &r, why, sizeof why);
    cr_assert_eq(rc, 0, "recorder_create: %d %s", rc, why);
    return r;
}

typedef struct line {
    int64_t ns;
    char *json;
} line;

typedef struct lines {
    line *v;
    size_t n, cap;
    int end;   /* recfmt_next's final code */
    bool torn; /* the file ended in a torn tail */
    char why[256];
} lines;

static void lines_push(lines *ls, int64_t ns, const char *json)
{
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 256;
        ls->v = realloc(ls->v, ls->cap * sizeof *ls->v);
    }
    ls->v[ls->n].ns = ns;
    ls->v[ls->n].json = strdup(json);
    ls->n++;
}

static void lines_free(lines *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->v[i].json);
    free(ls->v);
    memset(ls, 0, sizeof *ls);
}

/* Append every line of path; bad lines fail the test. */
static void read_into(const char *path, lines *ls)
{
    recfmt_reader *rd = NULL;
    char why[256];
    cr_assert_eq(recfmt_open(path, NULL, &rd, why, sizeof why), 0, "open %s: %s", path, why);
    recfmt_line l;
    int rc;
    while ((rc = recfmt_next(rd, &l)) == 1)
        lines_push(ls, l.recv_ns, l.json);
    recfmt_stats st;
    recfmt_get_stats(rd, &st);
    ls->end = rc;
    ls->torn = st.torn_tail;
    snprintf(ls->why, sizeof ls->why, "%s", recfmt_error(rd));
    recfmt_close(rd);
}

/* The recording files in tmpdir, sorted by name (= in time order). */
static size_t list_files(char names[][512])
{
    DIR *d = opendir(tmpdir);
    cr_assert(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_FILES)
        if (strstr(de->d_name, ".rec"))
            snprintf(names[n++], 512, "%s/%s", tmpdir, de->d_name);
    closedir(d);
    qsort(names, n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

static bool is_header(const line *l)
{
    return strncmp(l->json, "{\"bfmon\":\"header\"", 17) == 0 || strstr(l->json, "\"hdr\"");
}

static json_t *parse(const char *json)
{
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    cr_assert(j, "bad JSON %s: %s", json, e.text);
    return j;
}

/* {"bfmon":"dropped",...}: its fields, or false when the line is something else. */
typedef struct marker {
    long long lines, bytes, first_ns, last_ns;
    char reason[256];
} marker;

static bool as_marker(const line *l, marker *m)
{
    if (strncmp(l->json, "{\"bfmon\":\"dropped\"", 18) != 0)
        return false;
    json_t *j = parse(l->json);
    m->lines = json_integer_value(json_object_get(j, "lines"));
    m->bytes = json_integer_value(json_object_get(j, "bytes"));
    m->first_ns = json_integer_value(json_object_get(j, "first_ns"));
    m->last_ns = json_integer_value(json_object_get(j, "last_ns"));
    snprintf(m->reason, sizeof m->reason, "%s", json_string_value(json_object_get(j, "reason")));
    cr_assert_eq(l->ns, m->first_ns, "a marker is stamped with its first lost line");
    json_decref(j);
    return true;
}

/* The message of line i of producer p (a fixed shape: the test can rebuild and compare it). */
static size_t message(char *buf, size_t cap, int p, int i, int pad)
{
    int n = snprintf(buf, cap, "{\"p\":%d,\"i\":%d,\"pad\":\"", p, i);
    uint32_t x = (uint32_t)(i * 2654435761u + (uint32_t)p * 40503u + 1);
    for (int k = 0; k < pad && (size_t)n + 3 < cap; k++) {
        x = x * 1664525u + 1013904223u;
        buf[n++] = "0123456789abcdef"[x >> 28];
    }
    n += snprintf(buf + n, cap - (size_t)n, "\"}");
    return (size_t)n;
}

static int64_t stamp(int p, int i)
{
    return BASE_NS + (int64_t)i * 4 + p;
}

/* Check l is line i of producer p. */
static void expect_message(const line *l, int p, int i, int pad)
{
    char want[4096];
    message(want, sizeof want, p, i, pad);
    cr_assert_str_eq(l->json, want);
    cr_assert_eq(l->ns, stamp(p, i));
}

typedef struct producer {
    recorder *r;
    int p, count, pad;
    int eagain;
} producer;

static void *produce(void *arg)
{
    producer *pr = arg;
    char buf[4096];
    for (int i = 0; i < pr->count; i++) {
        size_t n = message(buf, sizeof buf, pr->p, i, pr->pad);
        int rc = recorder_write(pr->r, stamp(pr->p, i), buf, n);
        if (rc == BF_EAGAIN)
            pr->eagain++;
        else
            cr_assert_eq(rc, 0);
    }
    return NULL;
}

/* Lines of producer p in ls must be 0, 1, 2, ... count-1 exactly. */
static void expect_producer_order(const lines *ls, int p, int count, int pad)
{
    int next = 0;
    char key[16];
    snprintf(key, sizeof key, "{\"p\":%d,", p);
    for (size_t k = 0; k < ls->n; k++) {
        if (strncmp(ls->v[k].json, key, strlen(key)) != 0)
            continue;
        expect_message(&ls->v[k], p, next, pad);
        next++;
    }
    cr_assert_eq(next, count, "producer %d: %d of %d lines", p, next, count);
}

/* ---- round trips ---- */

static void round_trip(recorder_compress c, const char *ext)
{
    recorder_config cfg = base_config(c);
    recorder *r = make(&cfg);
    enum { N = 20000 };
    producer pr[2] = { { r, 0, N, 40, 0 }, { r, 1, N, 40, 0 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, produce, &pr[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(pr[0].eagain + pr[1].eagain, 0, "the ring is far larger than the input");
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert_eq(st.lines_in, 2 * N);
    cr_assert_eq(st.lines_written, 2 * N, "after a flush everything is written");
    cr_assert_eq(st.dropped_ring + st.dropped_io + st.markers + st.io_errors, 0);
    cr_assert_eq(st.files, 1);
    cr_assert_gt(st.bytes_out, 0);
    cr_assert_geq(st.ring_high_water, 1);
    cr_assert(strstr(st.path, ext), "%s", st.path);
    recorder_destroy(r);

    char names[MAX_FILES][512];
    cr_assert_eq(list_files(names), 1);
    const char *base = strrchr(names[0], '/') + 1;
    /* t-YYYYMMDDTHHMMSSZ-0001.rec.gz */
    cr_assert_eq(strlen(base), strlen("t-20240808T235415Z-0001") + strlen(ext), "%s", base);
    cr_assert(base[10] == 'T' && base[17] == 'Z', "%s", base);
    cr_assert(strstr(base, "-0001."), "%s", base);
    lines ls = { 0 };
    read_into(names[0], &ls);
    cr_assert_eq(ls.end, 0, "%s", ls.why);
    cr_assert_not(ls.torn, "a finished file has its trailer");
    cr_assert_eq(ls.n, 2 * N + 1);
    cr_assert_str_eq(ls.v[0].json, "{\"bfmon\":\"header\",\"format\":1}");
    expect_producer_order(&ls, 0, N, 40);
    expect_producer_order(&ls, 1, N, 40);
    lines_free(&ls);
}

Test(recorder, round_trip_gzip, .init = setup, .fini = teardown, .timeout = 120)
{
    round_trip(REC_GZIP, ".rec.gz");
}

Test(recorder, round_trip_zstd, .init = setup, .fini = teardown, .timeout = 120)
{
    round_trip(REC_ZSTD, ".rec.zst");
}

Test(recorder, round_trip_plain, .init = setup, .fini = teardown, .timeout = 120)
{
    round_trip(REC_PLAIN, ".rec");
}

/* ---- writev / rest pairs ---- */

static void *produce_rest(void *arg)
{
    producer *pr = arg;
    char body[256], path[64];
    for (int i = 0; i < pr->count; i++) {
        int n = snprintf(body, sizeof body, "{\"lastUpdateId\":%d,\"bids\":[],\"asks\":[]}", i);
        snprintf(path, sizeof path, "/fapi/v1/depth?symbol=BTCUSDT&limit=%d", i);
        cr_assert_eq(recorder_write_rest(pr->r, stamp(9, i), "BTCUSDT", path, 200, body, (size_t)n),
                     0);
    }
    return NULL;
}

Test(recorder, rest_pairs_stay_adjacent, .init = setup, .fini = teardown, .timeout = 120)
{
    recorder_config cfg = base_config(REC_GZIP);
    recorder *r = make(&cfg);
    enum { N = 5000 };
    producer a = { r, 0, N, 10, 0 }, b = { r, 9, N, 0, 0 };
    pthread_t th[2];
    pthread_create(&th[0], NULL, produce, &a);
    pthread_create(&th[1], NULL, produce_rest, &b);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    recorder_destroy(r);
    char names[MAX_FILES][512];
    cr_assert_eq(list_files(names), 1);
    lines ls = { 0 };
    read_into(names[0], &ls);
    cr_assert_eq(ls.end, 0, "%s", ls.why);
    cr_assert_eq(ls.n, 1 + 3 * N);
    int rests = 0;
    for (size_t k = 1; k < ls.n; k++) {
        if (strncmp(ls.v[k].json, "{\"bfmon\":\"rest\"", 15) != 0)
            continue;
        char want[160], body[128];
        snprintf(want, sizeof want,
                 "{\"bfmon\":\"rest\",\"symbol\":\"BTCUSDT\",\"path\":\"/fapi/v1/depth?symbol="
                 "BTCUSDT&limit=%d\",\"status\":200}",
                 rests);
        snprintf(body, sizeof body, "{\"lastUpdateId\":%d,\"bids\":[],\"asks\":[]}", rests);
        cr_assert_str_eq(ls.v[k].json, want);
        cr_assert(k + 1 < ls.n);
        cr_assert_str_eq(ls.v[k + 1].json, body, "the body follows its marker directly");
        cr_assert_eq(ls.v[k + 1].ns, ls.v[k].ns);
        rests++;
    }
    cr_assert_eq(rests, N);
    expect_producer_order(&ls, 0, N, 10);
    lines_free(&ls);
}

Test(recorder, bad_lines_rejected, .init = setup, .fini = teardown)
{
    recorder_config cfg = base_config(REC_PLAIN);
    cfg.ring_bytes = 4096;
    recorder *r = make(&cfg);
    cr_assert_eq(recorder_write(r, 1, "{\"a\":\n1}", 8), BF_EINVAL, "a raw newline");
    cr_assert_eq(recorder_write(r, -1, "{}", 2), BF_EINVAL, "a negative timestamp");
    cr_assert_eq(recorder_write(r, 1, "", 0), BF_EINVAL, "an empty message");
    char *big = malloc(8192);
    memset(big, 'x', 8192);
    cr_assert_eq(recorder_write(r, 1, big, 8192), BF_ETOOBIG);
    free(big);
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert_eq(st.lines_in + st.dropped_ring, 0);
    recorder_destroy(r);
}

Test(recorder, bad_config_rejected, .init = setup, .fini = teardown)
{
    recorder *r = (recorder *)1;
    char why[512] = "";
    recorder_config cfg = base_config(REC_GZIP);
    cfg.prefix = "a/b";
    cr_assert_eq(recorder_create(&cfg, &r, why, sizeof why), BF_EINVAL);
    cr_assert_null(r);
    cr_assert(strstr(why, "prefix"), "%s", why);
    cfg = base_config(REC_GZIP);
    cfg.level = 12;
    cr_assert_eq(recorder_create(&cfg, &r, why, sizeof why), BF_EINVAL);
    /* A directory that is a file. */
    char path[600];
    snprintf(path, sizeof path, "%s/plainfile", tmpdir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    cfg = base_config(REC_GZIP);
    cfg.dir = path;
    cr_assert_eq(recorder_create(&cfg, &r, why, sizeof why), BF_EIO);
    cr_assert(strstr(why, "cannot create"), "%s", why);
    cr_assert(strstr(why, path), "%s", why);
}

Test(recorder, creates_missing_directories, .init = setup, .fini = teardown)
{
    char sub[600];
    snprintf(sub, sizeof sub, "%s/a/b/c", tmpdir);
    recorder_config cfg = base_config(REC_GZIP);
    cfg.dir = sub;
    recorder *r = make(&cfg);
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert(strncmp(st.path, sub, strlen(sub)) == 0, "%s", st.path);
    recorder_destroy(r);
    struct stat sb;
    cr_assert_eq(stat(sub, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
}

/* ---- rotation ---- */

static void rotation_by_size(recorder_compress c)
{
    recorder_config cfg = base_config(c);
    cfg.rotate_bytes = 64 << 10;
    cfg.header_json = "{\"bfmon\":\"header\",\"hdr\":1}";
    recorder *r = make(&cfg);
    enum { N = 12000 };
    producer pr = { r, 0, N, 100, 0 };
    produce(&pr);
    cr_assert_eq(pr.eagain, 0);
    recorder_destroy(r);

    char names[MAX_FILES][512];
    size_t nf = list_files(names);
    cr_assert_geq(nf, 3, "%zu files", nf);
    lines all = { 0 };
    for (size_t f = 0; f < nf; f++) {
        lines ls = { 0 };
        read_into(names[f], &ls); /* each file alone */
        cr_assert_eq(ls.end, 0, "%s: %s", names[f], ls.why);
        cr_assert_not(ls.torn);
        cr_assert_geq(ls.n, 2);
        cr_assert_str_eq(ls.v[0].json, "{\"bfmon\":\"header\",\"hdr\":1}", "%s", names[f]);
        struct stat sb;
        cr_assert_eq(stat(names[f], &sb), 0);
        if (c == REC_PLAIN && f + 1 < nf)
            cr_assert_lt((uint64_t)sb.st_size, (uint64_t)cfg.rotate_bytes + 4096,
                         "plain files rotate right at the size");
        for (size_t k = 1; k < ls.n; k++)
            lines_push(&all, ls.v[k].ns, ls.v[k].json);
        lines_free(&ls);
    }
    cr_assert_eq(all.n, N, "the files together are the input");
    for (int i = 0; i < N; i++)
        expect_message(&all.v[i], 0, i, 100);
    lines_free(&all);
}

Test(recorder, rotation_by_size_plain, .init = setup, .fini = teardown, .timeout = 120)
{
    rotation_by_size(REC_PLAIN);
}

Test(recorder, rotation_by_size_gzip, .init = setup, .fini = teardown, .timeout = 120)
{
    rotation_by_size(REC_GZIP);
}

Test(recorder, rotation_by_size_zstd, .init = setup, .fini = teardown, .timeout = 120)
{
    rotation_by_size(REC_ZSTD);
}

Test(recorder, rotation_on_request_with_new_header, .init = setup, .fini = teardown)
{
    recorder_config cfg = base_config(REC_GZIP);
    cfg.header_json = "{\"bfmon\":\"header\",\"hdr\":\"first\"}";
    recorder *r = make(&cfg);
    producer a = { r, 0, 300, 20, 0 }, b = { r, 1, 200, 20, 0 };
    produce(&a);
    recorder_set_header(r, "{\"bfmon\":\"header\",\"hdr\":\"second\"}");
    recorder_rotate(r);
    produce(&b);
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert_eq(st.files, 2);
    cr_assert_eq(st.rotations, 1);
    char(*paths)[512] = calloc(4, 512);
    cr_assert_eq(recorder_files(r, paths, 4), 2);
    cr_assert_str_eq(paths[1], st.path);
    recorder_destroy(r);

    lines l1 = { 0 }, l2 = { 0 };
    read_into(paths[0], &l1);
    read_into(paths[1], &l2);
    cr_assert(strstr(paths[0], "-0001.rec.gz") && strstr(paths[1], "-0002.rec.gz"));
    cr_assert_eq(l1.end, 0);
    cr_assert_not(l1.torn, "a rotated file is finished");
    cr_assert_eq(l1.n, 301, "everything before the request, nothing after");
    cr_assert_eq(l2.n, 201);
    cr_assert_str_eq(l1.v[0].json, "{\"bfmon\":\"header\",\"hdr\":\"first\"}");
    cr_assert_str_eq(l2.v[0].json, "{\"bfmon\":\"header\",\"hdr\":\"second\"}");
    for (int i = 0; i < 300; i++)
        expect_message(&l1.v[i + 1], 0, i, 20);
    for (int i = 0; i < 200; i++)
        expect_message(&l2.v[i + 1], 1, i, 20);
    lines_free(&l1);
    lines_free(&l2);
    free(paths);
}

Test(recorder, rotation_at_utc_midnight, .init = setup, .fini = teardown)
{
    main_thread = pthread_self();
    atomic_store(&fake_now, 1723161599000000000LL); /* 2024-08-08T23:59:59Z */
    recorder_config cfg = base_config(REC_ZSTD);
    cfg.no_rotate_daily = false;
    cfg.now_real_ns = fake_clock;
    recorder *r = make(&cfg);
    producer a = { r, 0, 100, 20, 0 }, b = { r, 1, 100, 20, 0 };
    produce(&a);
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    atomic_store(&fake_now, 1723161601500000000LL); /* 2024-08-09T00:00:01.5Z */
    produce(&b);
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    recorder_destroy(r);

    char names[MAX_FILES][512];
    cr_assert_eq(list_files(names), 2);
    cr_assert(strstr(names[0], "/t-20240808T235959Z-0001.rec.zst"), "%s", names[0]);
    cr_assert(strstr(names[1], "/t-20240809T000001Z-0002.rec.zst"), "%s", names[1]);
    lines l1 = { 0 }, l2 = { 0 };
    read_into(names[0], &l1);
    read_into(names[1], &l2);
    cr_assert_eq(l1.n, 101);
    cr_assert_eq(l2.n, 101);
    cr_assert_eq(l1.v[0].ns, 1723161599000000000LL, "the header is stamped with the clock");
    cr_assert_eq(l2.v[0].ns, 1723161601500000000LL);
    expect_message(&l1.v[100], 0, 99, 20);
    expect_message(&l2.v[1], 1, 0, 20);
    lines_free(&l1);
    lines_free(&l2);
}

/* ---- ring full ---- */

Test(recorder, ring_full_markers_count_every_lost_line, .init = setup, .fini = teardown,
     .timeout = 120)
{
    main_thread = pthread_self();
    atomic_store(&fake_now, BASE_NS);
    recorder_config cfg = base_config(REC_GZIP);
    cfg.ring_bytes = 64 << 10;
    cfg.now_real_ns = fake_clock;
    cfg.no_rotate_daily = false; /* the writer reads the clock per record: the gate holds it */
    recorder *r = make(&cfg);
    gate_set(true);
    char buf[4096];
    size_t n = message(buf, sizeof buf, 0, 0, 0);
    cr_assert_eq(recorder_write(r, stamp(0, 0), buf, n), 0);
    gate_wait_for_writer(); /* the writer is stuck: the ring can only fill */

    enum { N = 3000, PAD = 1000 };
    int accepted = 1, eagain = 0;
    for (int i = 1; i < N; i++) {
        n = message(buf, sizeof buf, 0, i, PAD);
        int rc = recorder_write(r, stamp(0, i), buf, n);
        cr_assert(rc == 0 || rc == BF_EAGAIN, "rc %d", rc);
        if (rc == 0)
            accepted++;
        else
            eagain++;
    }
    cr_assert_gt(eagain, N / 2, "a 64 KiB ring holds far fewer than 3000 KB lines");
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert_eq(st.dropped_ring, (uint64_t)eagain);
    cr_assert_eq(st.lines_in, (uint64_t)accepted);
    cr_assert_leq(st.ring_high_water, st.ring_bytes);
    gate_set(false);
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    /* Lines after the loss: the marker went in before them. */
    for (int i = N; i < N + 10; i++) {
        n = message(buf, sizeof buf, 0, i, PAD);
        cr_assert_eq(recorder_write(r, stamp(0, i), buf, n), 0);
        accepted++;
    }
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    recorder_get_stats(r, &st);
    cr_assert_eq(st.lines_in + st.dropped_ring, (uint64_t)(N + 10), "offered = in + dropped");
    cr_assert_eq(st.lines_written, st.lines_in);
    cr_assert_eq(st.markers, 1);
    recorder_destroy(r);

    char names[MAX_FILES][512];
    cr_assert_eq(list_files(names), 1);
    lines ls = { 0 };
    read_into(names[0], &ls);
    cr_assert_eq(ls.end, 0, "%s", ls.why);
    /* Every id is either in the file or inside a marker's span; the counts add up exactly. */
    int next = 0, data = 0;
    long long marked = 0;
    for (size_t k = 1; k < ls.n; k++) {
        marker m;
        if (as_marker(&ls.v[k], &m)) {
            cr_assert_str_eq(m.reason, "ring full");
            cr_assert_eq(m.first_ns, stamp(0, next), "the loss starts right after line %d", next);
            marked += m.lines;
            long long bytes = 0;
            for (int i = next; i < next + m.lines; i++)
                bytes += snprintf(buf, sizeof buf, "%lld ", (long long)stamp(0, i)) +
                         (long long)message(buf, sizeof buf, 0, i, PAD) + 1;
            cr_assert_eq(m.bytes, bytes, "bytes of the lost lines (timestamp and newline too)");
            next += (int)m.lines;
            cr_assert_eq(m.last_ns, stamp(0, next - 1));
            continue;
        }
        expect_message(&ls.v[k], 0, next, next == 0 ? 0 : PAD);
        next++;
        data++;
    }
    cr_assert_eq(next, N + 10);
    cr_assert_eq(data, accepted);
    cr_assert_eq(marked, eagain);
    lines_free(&ls);
}

/* ---- names: O_EXCL, never through a symlink ---- */

Test(recorder, existing_names_and_symlinks_are_skipped, .init = setup, .fini = teardown)
{
    main_thread = pthread_self();
    atomic_store(&fake_now, BASE_NS);
    char victim[600], link1[600], taken[600];
    snprintf(victim, sizeof victim, "%s/victim", tmpdir);
    snprintf(link1, sizeof link1, "%s/t-20240808T235415Z-0001.rec", tmpdir);
    snprintf(taken, sizeof taken, "%s/t-20240808T235415Z-0002.rec", tmpdir);
    FILE *f = fopen(victim, "w");
    fputs("precious\n", f);
    fclose(f);
    cr_assert_eq(symlink(victim, link1), 0);
    f = fopen(taken, "w");
    fputs("also precious\n", f);
    fclose(f);

    recorder_config cfg = base_config(REC_PLAIN);
    cfg.now_real_ns = fake_clock;
    recorder *r = make(&cfg);
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert(strstr(st.path, "/t-20240808T235415Z-0003.rec"), "%s", st.path);
    cr_assert_eq(recorder_write(r, 5, "{}", 2), 0);
    recorder_destroy(r);

    size_t n;
    char *v = tu_read_file(victim, &n);
    cr_assert_str_eq(v, "precious\n", "the symlink's target is untouched");
    free(v);
    v = tu_read_file(taken, &n);
    cr_assert_str_eq(v, "also precious\n", "an existing file is never clobbered");
    free(v);
    struct stat sb;
    cr_assert_eq(lstat(link1, &sb), 0);
    cr_assert(S_ISLNK(sb.st_mode));
}

/* ---- flush visibility and kill -9 ---- */

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *d = tu_read_file(from, &n);
    cr_assert(d);
    FILE *f = fopen(to, "wb");
    cr_assert_eq(fwrite(d, 1, n, f), n);
    fclose(f);
    free(d);
}

static void flush_visibility(recorder_compress c)
{
    recorder_config cfg = base_config(c);
    cfg.flush_interval_ns = 3600 * CLK_NS_PER_S; /* only recorder_flush flushes here */
    recorder *r = make(&cfg);
    producer pr = { r, 0, 3000, 50, 0 };
    produce(&pr);
    cr_assert_eq(recorder_flush(r, DEADLINE), 0);
    recorder_stats st;
    recorder_get_stats(r, &st);
    /* The file as a crash would leave it: no trailer. */
    char snap[600];
    snprintf(snap, sizeof snap, "%s/snapshot.bin", tmpdir);
    copy_file(st.path, snap);
    lines ls = { 0 };
    read_into(snap, &ls);
    cr_assert_eq(ls.end, 0, "%s", ls.why);
    cr_assert_eq(ls.n, 3001, "every line flushed decodes");
    if (c != REC_PLAIN)
        cr_assert(ls.torn, "the stream has no end yet: reported as a torn tail");
    for (int i = 0; i < 3000; i++)
        expect_message(&ls.v[i + 1], 0, i, 50);
    lines_free(&ls);
    recorder_destroy(r);
}

Test(recorder, flushed_gzip_decodes_without_destroy, .init = setup, .fini = teardown)
{
    flush_visibility(REC_GZIP);
}

Test(recorder, flushed_zstd_decodes_without_destroy, .init = setup, .fini = teardown)
{
    flush_visibility(REC_ZSTD);
}

Test(recorder, flushed_plain_reads_without_destroy, .init = setup, .fini = teardown)
{
    flush_visibility(REC_PLAIN);
}

/* A real kill -9 of a recording process, after a flush and with more lines in flight. */
Test(recorder, kill_9_leaves_a_readable_file, .init = setup, .fini = teardown, .timeout = 120)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        recorder_config cfg = base_config(REC_GZIP);
        recorder *r = NULL;
        char why[256];
        if (recorder_create(&cfg, &r, why, sizeof why) < 0)
            _exit(2);
        char buf[512];
        for (int i = 0; i < 2000; i++)
            recorder_write(r, stamp(0, i), buf, message(buf, sizeof buf, 0, i, 30));
        if (recorder_flush(r, clk_mono_ns() + 60 * CLK_NS_PER_S) < 0)
            _exit(3);
        if (write(fds[1], "F", 1) != 1)
            _exit(4);
        for (int i = 2000;; i++) /* keep writing until killed */
            recorder_write(r, stamp(0, i), buf, message(buf, sizeof buf, 0, i, 30));
    }
    close(fds[1]);
    char c = 0;
    cr_assert_eq(read(fds[0], &c, 1), 1, "the child flushed");
    close(fds[0]);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    char names[MAX_FILES][512];
    cr_assert_eq(list_files(names), 1);
    lines ls = { 0 };
    read_into(names[0], &ls);
    cr_assert_eq(ls.end, 0, "a killed recording is never damage: %s", ls.why);
    cr_assert_geq(ls.n, 2001, "everything flushed before the kill is there");
    for (size_t k = 1; k < ls.n; k++)
        expect_message(&ls.v[k], 0, (int)k - 1, 30);
    cr_log_info("kill -9: %zu lines readable, torn tail %d (%s)", ls.n - 1, ls.torn, ls.why);
    lines_free(&ls);
}

/* ---- write failure: RLIMIT_FSIZE ---- */

enum { FS_LINES = 4000, FS_PAD = 120, FS_LIMIT = 96 << 10 };

/* Child: record under a file size limit. Exit status says what went wrong (0: as expected). */
static int record_under_limit(recorder_compress c)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { FS_LIMIT, FS_LIMIT };
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        return 2;
    recorder_config cfg = base_config(c);
    cfg.ring_bytes = 4 << 20;
    recorder *r = NULL;
    char why[512];
    if (recorder_create(&cfg, &r, why, sizeof why) < 0)
        return 3;
    char buf[512];
    for (int i = 0; i < FS_LINES; i++) {
        if (recorder_write(r, stamp(0, i), buf, message(buf, sizeof buf, 0, i, FS_PAD)) < 0)
            return 4;
        if (i % 100 == 99 && recorder_flush(r, clk_mono_ns() + 60 * CLK_NS_PER_S) < 0)
            return 5;
    }
    recorder_stats st;
    int64_t deadline = clk_mono_ns() + 30 * CLK_NS_PER_S;
    /* Poll a state with a deadline: the writer retries (a new file) a second after the error. */
    for (;;) {
        recorder_get_stats(r, &st);
        if (st.markers >= 1 && !st.failing)
            break;
        if (clk_mono_ns() > deadline)
            return 6;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    recorder_error(r, why, sizeof why);
    if (!strstr(why, "File too large") || !strstr(why, "write "))
        return 7;
    if (st.io_errors < 1 || st.dropped_io == 0 || st.files < 2)
        return 8;
    if (st.lines_in != FS_LINES || st.lines_written + st.dropped_io != st.lines_in)
        return 9;
    recorder_destroy(r);
    return 0;
}

/* A plain file's last line cut by the failed write: a strict prefix of line i. */
static bool cut_short(const line *l, int i)
{
    char want[512];
    size_t n = message(want, sizeof want, 0, i, FS_PAD);
    size_t got = strlen(l->json);
    return got < n && memcmp(l->json, want, got) == 0;
}

static void write_failure(recorder_compress c)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(record_under_limit(c));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died (status %d)", status);
    cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));

    char names[MAX_FILES][512];
    size_t nf = list_files(names);
    cr_assert_geq(nf, 2);
    /* Every file replays (torn at worst); every line written is intact and in order; every line
     * missing is inside a marker's span, and the markers name the error. */
    char *seen = calloc(FS_LINES, 1);
    int last = -1, markers = 0, readable = 0;
    long long marked = 0;
    for (size_t f = 0; f < nf; f++) {
        lines ls = { 0 };
        read_into(names[f], &ls);
        cr_assert_eq(ls.end, 0, "%s: %s", names[f], ls.why);
        cr_assert(is_header(&ls.v[0]), "%s starts with its header", names[f]);
        for (size_t k = 1; k < ls.n; k++) {
            marker m;
            if (as_marker(&ls.v[k], &m)) {
                cr_assert(strstr(m.reason, "File too large"), "%s", m.reason);
                cr_assert(strstr(m.reason, ".rec"), "the reason names the file: %s", m.reason);
                for (long long ns = m.first_ns; ns <= m.last_ns; ns += 4)
                    seen[(ns - BASE_NS) / 4] = 1;
                marked += m.lines;
                markers++;
                continue;
            }
            int i = (int)((ls.v[k].ns - BASE_NS) / 4);
            cr_assert_gt(i, last, "order kept, no line twice");
            if (c == REC_PLAIN && k == ls.n - 1 && cut_short(&ls.v[k], i))
                continue; /* the write that failed; the marker covers the line */
            expect_message(&ls.v[k], 0, i, FS_PAD);
            seen[i] = 1;
            last = i;
            readable++;
        }
        lines_free(&ls);
    }
    cr_assert_geq(markers, 1);
    cr_assert_gt(readable, 300, "the data before the limit replays");
    for (int i = 0; i < FS_LINES; i++)
        cr_assert(seen[i], "line %d is neither in a file nor in a marker", i);
    cr_log_info("RLIMIT_FSIZE: %zu files, %d lines readable, %lld marked lost in %d markers", nf,
                readable, marked, markers);
    free(seen);
}

Test(recorder, write_failure_gzip_under_rlimit_fsize, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_failure(REC_GZIP);
}

Test(recorder, write_failure_plain_under_rlimit_fsize, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_failure(REC_PLAIN);
}

/* ---- memory ---- */

Test(recorder, ring_memory_is_recorder_memory, .init = setup, .fini = teardown)
{
    int64_t before = memacct_get(MEM_RECORDER), ring_before = memacct_get(MEM_RING);
    recorder_config cfg = base_config(REC_GZIP);
    cfg.ring_bytes = 1 << 20;
    recorder *r = make(&cfg);
    recorder_stats st;
    recorder_get_stats(r, &st);
    cr_assert_geq(st.ring_bytes, (size_t)1 << 20);
    cr_assert_geq(memacct_get(MEM_RECORDER) - before, (int64_t)st.ring_bytes);
    cr_assert_eq(memacct_get(MEM_RING), ring_before);
    recorder_destroy(r);
    cr_assert_eq(memacct_get(MEM_RECORDER), before);
    cr_assert_eq(memacct_get(MEM_RING), ring_before);
}

/* A disk that cannot take even the header: create fails with the sentence, leaves no file. */
static int create_under_tiny_limit(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { 0, 0 };
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        return 2;
    recorder_config cfg = base_config(REC_PLAIN);
    recorder *r = NULL;
    char why[512] = "";
    int rc = recorder_create(&cfg, &r, why, sizeof why);
    if (rc != BF_EIO || r)
        return 3;
    if (!strstr(why, "write ") || !strstr(why, "File too large") || !strstr(why, "-0001.rec"))
        return 4;
    return 0;
}

Test(recorder, create_fails_cleanly_when_nothing_can_be_written, .init = setup, .fini = teardown)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(create_under_tiny_limit());
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    char names[MAX_FILES][512];
    cr_assert_eq(list_files(names), 0, "the file that took no byte was removed");
}
