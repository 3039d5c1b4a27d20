/* bfmon: command-line entry point (subcommands are added as they are built). */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "bfmon: nothing here yet\n");
    return 2;
}
