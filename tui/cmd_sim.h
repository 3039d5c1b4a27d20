/* cmd_sim: `bfmon sim`, the loopback exchange. Main thread only. */
#ifndef BF_CMD_SIM_H
#define BF_CMD_SIM_H
/* argv[0] is "sim". Exit status: 0, 2 for bad usage, 1 when the server could not start. */
int cmd_sim(int argc, char **argv);
#endif
