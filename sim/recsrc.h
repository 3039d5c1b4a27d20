/*
 * recsrc: a recording (the replay line format, docs/recording-format.md; plain or .gz) served as a
 * source (source.h), so real captures travel over real sockets.
 *
 * Stream messages are emitted at their recorded pace: the first advance() maps the first line's
 * receive time to now, later lines become due as the clock passes their offset (scaled by
 * `speed`; 0 = as fast as advance() is called). The stream a raw line belongs to is derived from
 * its payload (depthUpdate -> "<sym>@depth", bookTicker -> "<sym>@bookTicker", ...) unless the line
 * is in the combined wrapper, whose "stream" is used as is. REST snapshot lines are not emitted:
 * they seed a book per symbol that every later diff event is applied to (through the engine's own
 * book), so /fapi/v1/depth always answers with a snapshot consistent with the stream position
 * (lastUpdateId = u of the last diff emitted), trimmed to `limit`. exchangeInfo comes from
 * `exchange_info_path` when given, else is synthesised from the decimals the recording writes.
 * A recorded pu break (or a snapshot older than the stream) leaves the served book marked broken
 * until the next snapshot line of that symbol is reached, which reloads it. /ticker/bookTicker
 * answers with the last bookTicker emitted (else the book's top), /premiumIndex with the last
 * markPrice emitted (else the book's mid, funding 0). check_stream accepts every stream name the
 * recording carries, and any valid Binance stream of a recorded symbol (which then stays silent).
 * set_quiet pauses the clock: after a resume the rest keeps its recorded spacing.
 * At the end of the file the source goes quiet (nothing more is due); `loop` restarts is not
 * offered because update ids would go backwards.
 *
 * Owned by one thread (the sim's service thread).
 */
#ifndef BF_SIM_RECSRC_H
#define BF_SIM_RECSRC_H

#include <stddef.h>

#include "sim/source.h"

typedef struct recsrc_config {
    const char *path;               /* recording file */
    const char *exchange_info_path; /* NULL: synthesise */
    double speed; /* 1.0 = recorded pace (the CLI default); 0 = no pacing: each advance() emits
                   * the next 10000 lines; negative = 1.0 */
} recsrc_config;

/* Reads the whole file up front (a damaged tail is reported in why and the rest served). 0 and
 * *out, or BF_E* (BF_ENOENT, BF_ECORRUPT when nothing usable) with a sentence in why. */
int recsrc_create(const recsrc_config *cfg, source **out, char *why, size_t why_cap);

#endif
