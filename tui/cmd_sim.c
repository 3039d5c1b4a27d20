#include "tui/cmd_sim.h"

#include <stdio.h>

int cmd_sim(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("bfmon sim: not written yet\n", stderr);
    return 1;
}
