#include "tui/cmd_live.h"

#include <stdio.h>

int cmd_live(int argc, char **argv)
{
    (void)argv;
    fputs("bfmon: the live monitor is not written yet\n", stderr);
    return argc > 1 ? 2 : 1;
}
