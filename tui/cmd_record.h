/*
 * cmd_record: `bfmon record --out DIR [options]`, the headless recorder. The live engine (books
 * synced, snapshots fetched, gaps detected) runs with its recording tap (engine_config.recorder)
 * writing every WebSocket message, REST snapshot and bfmon event to rotating, compressed files
 * (feed/recorder.h, docs/recording-format.md). A JSON stats line goes to stderr every
 * --status-interval; at the end a data-quality report is written beside the files
 * (<first file>.report.json) and summed up on stderr.
 *
 * Signals: SIGINT/SIGTERM stop, flush and close cleanly; SIGHUP starts a new file; SIGXFSZ and
 * SIGPIPE are ignored (a file size limit is an error the recorder reports, not the end).
 * Exit status: 0 success, 2 usage error, 3 runtime failure (the directory or first file cannot be
 * created, the engine cannot start, or recorded data was lost). Main thread only.
 */
#ifndef BF_CMD_RECORD_H
#define BF_CMD_RECORD_H

/* argv[0] is "record". */
int cmd_record(int argc, char **argv);

#endif
