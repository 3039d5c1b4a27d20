/*
 * player: plays recordings (recfmt.h) into an offline engine (engine_config.offline) in recording
 * order, paced by each line's receive time against a playback clock: 0.1x to 100x, or as fast as
 * possible; pause, single step and "jump to the next gap / resync / disconnect". `bfmon replay`
 * drives the live screens with it.
 *
 * Set-up. player_create() opens every file once to learn the recording: the header line
 * ({"bfmon":"header",...,"symbols":[..],"exchange_info":{..}}) when the first file starts with one,
 * else the symbols of the first PLAYER_PRESCAN_LINES lines of each file (hftbacktest captures have
 * no header). The caller creates the offline engine with player_symbol_at()'s names, loads
 * player_exchange_info() when there is one, starts the engine, then player_start(). Symbols that
 * appear later are added to the engine as they come (engine_add_symbol).
 *
 * Playing. One thread reads the files in order and feeds every data line (engine_feed_message,
 * engine_feed_rest_depth): a REST snapshot goes to the symbol of the bfmon "rest" marker on the line
 * just before it, else to the only symbol seen so far (replay.h's rule), else it is an attribution
 * error. A line with receive time r is released when the playback clock reaches r: the clock runs
 * at `speed` times the player's clock (the injectable now()), holds while paused, and restarts from
 * the current position after a pause, a step, a jump or a speed change. The engine's rings are never
 * overrun: every barrier_bytes fed the player waits until the workers have applied what it fed
 * (engine_book_copy as a barrier). Bad lines, undecodable lines, damaged or torn files are counted
 * and described in the status message, never fatal; a damaged file ends, the next one plays.
 *
 * Threads: create/start/stop/destroy from the owner thread; controls and player_get_status from any
 * thread (one mutex; the status is a consistent copy). The player thread waits on a condition
 * variable with deadlines; player_poke() makes it look at the clock again at once (tests with a fake
 * clock).
 */
#ifndef BF_PLAYER_H
#define BF_PLAYER_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define PLAYER_SPEED_MAX     INFINITY /* as fast as possible */
#define PLAYER_SPEED_MIN     0.1
#define PLAYER_SPEED_TOP     100.0 /* the fastest paced speed */
#define PLAYER_PRESCAN_LINES 2000
#define PLAYER_MESSAGE_MAX   256

typedef struct player player;

typedef struct player_config {
    const char *const *files; /* played in this order */
    size_t nfiles;
    double speed;      /* 0: 1x; PLAYER_SPEED_MIN..PLAYER_SPEED_TOP, or PLAYER_SPEED_MAX */
    bool start_paused; /* wait for player_pause(false) / a step / a jump before the first line */
    int64_t (*now)(void *ctx); /* the playback clock's source in ns; NULL: clk_mono_ns */
    void *now_ctx;
    size_t max_line;      /* recfmt bound; 0 for the default */
    size_t barrier_bytes; /* fed bytes between two waits for the engine; 0: 4 MiB */
} player_config;

typedef enum player_mode {
    PLAYER_PLAYING,
    PLAYER_PAUSED,
    PLAYER_STEPPING, /* a step is being carried out */
    PLAYER_JUMPING,  /* feeding at full speed to the next gap / resync / disconnect */
    PLAYER_ENDED     /* every file was read; what was fed is applied */
} player_mode;

typedef struct player_status {
    player_mode mode;
    double speed;        /* as set (PLAYER_SPEED_MAX for max) */
    int64_t position_ns; /* recording time of the playback clock (epoch ns); 0 before any line */
    int64_t first_ns;    /* receive time of the first line (0 before it) */
    size_t file;         /* 1-based index of the file being read (nfiles once ended) */
    size_t nfiles;
    uint64_t lines;                  /* lines played (event lines included) */
    uint64_t fed;                    /* lines fed to the engine */
    uint64_t depth_fed;              /* diff / partial depth lines fed */
    uint64_t bad_lines;              /* malformed or over-long lines skipped */
    uint64_t undecodable;            /* lines neither the decoder nor the event parser understood */
    uint64_t unsupported;            /* valid JSON of a kind bfmon does not use */
    uint64_t events;                 /* bfmon event lines */
    uint64_t attribution_errors;     /* snapshots without a symbol */
    uint64_t unroutable;             /* lines the engine refused (unknown symbol, full ring) */
    uint64_t read_errors;            /* files that could not be opened again or ended in damage */
    uint64_t torn_tails;             /* compressed files cut short (their complete lines played) */
    uint64_t steps_done, jumps_done; /* completed steps and jumps */
    uint64_t wakeups;                /* times the thread looked at the clock again (tests) */
    int64_t wait_until_ns; /* player clock time the next line waits for; 0 when not waiting */
    uint64_t message_seq;  /* grows with every new message */
    char message[PLAYER_MESSAGE_MAX]; /* the last problem or jump stop, "" for none */
} player_status;

/* Opens the files and learns their symbols (see above). 0, or BF_ENOENT / BF_EIO when a file cannot
 * be opened (why: "cannot open X: No such file or directory"), BF_EINVAL for a bad config. */
int player_create(const player_config *cfg, player **out, char *why, size_t why_cap);
void player_destroy(player *p); /* stops the thread first */

size_t player_symbol_count(const player *p);
const char *player_symbol_at(const player *p, size_t i); /* NULL past the end */
/* The header's exchangeInfo body (NUL-terminated), or NULL; *len may be NULL. */
const char *player_exchange_info(const player *p, size_t *len);
bool player_has_header(const player *p);

/* Start playing into e (offline, started). BF_ESTATE when already started. */
int player_start(player *p, engine *e);
/* Stop the thread (what was fed stays in the engine). Idempotent. */
void player_stop(player *p);

/* Controls: any thread; they take effect at the next line. */
void player_pause(player *p, bool paused);
void player_toggle_pause(player *p);
void player_set_speed(player *p, double speed);
/* Feed until `symbol`'s next depth update is applied (one line when the symbol has no depth
 * stream, or symbol is NULL), then stay paused. */
void player_step(player *p, const char *symbol);
/* Feed at full speed until the next bfmon gap / resync / disconnect / dropped event line, a break
 * of a diff depth chain in the data (pu != the previous u), or a book that leaves LIVE; then pause
 * there, with the reason in the message. */
void player_jump(player *p);
void player_poke(player *p);

void player_get_status(player *p, player_status *out);

/* The speed ladder of the keys: 0.1 0.25 0.5 1 2 5 10 25 50 100 max. The next faster (slower)
 * step from speed; a speed between steps moves to the neighbouring step. */
double player_speed_step(double speed, bool faster);
/* "0.25x", "10x", "max" into buf. */
void player_speed_name(double speed, char *buf, size_t cap);
/* A --speed argument: a number in [PLAYER_SPEED_MIN, PLAYER_SPEED_TOP] or "max". */
bool player_parse_speed(const char *s, double *out);

#endif
