/*
 * cmd_replay: the `bfmon replay FILE... [--headless] [--json] [--exchange-info FILE]` command.
 *
 * Replays recordings through the engine (feed/replay.h) and prints the report: one compact JSON
 * object with --json, a short table otherwise. Exit status: 0 all symbols sound, 1 an integrity
 * failure (gap, resync, bookTicker mismatch, crossed book, unsynced symbol, bad or undecodable
 * lines, damaged file), 2 usage error, 3 runtime failure (a file cannot be opened). Main thread only.
 */
#ifndef BF_CMD_REPLAY_H
#define BF_CMD_REPLAY_H

#include <stdio.h>

enum { EXIT_INTEGRITY = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

/* argv[0] is "replay". */
int cmd_replay(int argc, char **argv);
void cmd_replay_usage(FILE *to);

#endif
