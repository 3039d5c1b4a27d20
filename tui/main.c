/*
 * bfmon: command-line entry point. Parses the global options and hands the rest of the command line
 * to the subcommand. Main thread only; owns nothing beyond the process exit status.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bfmon_config.h"
#include "feed/replay.h"
#include "tui/cmd_replay.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: bfmon [--help] [--version] <command> [<args>]\n"
                "\n"
                "A terminal monitor for Binance USD-M Futures market data.\n"
                "\n"
                "commands:\n"
                "  replay FILE...   replay recordings through the engine and report\n"
                "\n"
                "Run 'bfmon <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    /* "+": stop at the first non-option, which is the command; its options are its own. */
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("bfmon %s\n", BFMON_VERSION);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - optind, argv + optind);
    fprintf(stderr, "bfmon: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
