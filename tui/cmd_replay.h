/*
 * cmd_replay: the `bfmon replay FILE... [--speed X|max] [--headless] [--json] [--verify]
 * [--exchange-info FILE] [--probes]` command.
 *
 * In a terminal (stdout a tty, none of --headless/--json/--verify) the recordings play into the
 * live screens (tui/app with feed/player). Otherwise they are replayed through the market code
 * (feed/replay.h) and the report is printed: one compact JSON object with --json, one verdict per
 * symbol with --verify, a short table otherwise. Exit status: 0 all symbols sound (the UI: quit
 * normally), 1 an integrity failure (gap, resync, bookTicker mismatch, crossed book, unsynced
 * symbol, bad or undecodable lines, damaged file), 2 usage error, 3 runtime failure (a file cannot
 * be opened). Main thread only.
 */
#ifndef BF_CMD_REPLAY_H
#define BF_CMD_REPLAY_H

/* argv[0] is "replay". */
int cmd_replay(int argc, char **argv);

#endif
