/* cmd_live: `bfmon [options]`, the live monitor (and `--headless`). Main thread only. */
#ifndef BF_CMD_LIVE_H
#define BF_CMD_LIVE_H
/* argv[0] is the program name; the rest are the live options. Exit 0, 1 (could not start /
 * lost), 2 (usage). */
int cmd_live(int argc, char **argv);
#endif
