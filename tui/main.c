/*
 * bfmon: command-line entry point. Parses the global options and hands the rest of the command line
 * to the subcommand. Main thread only; owns nothing beyond the process exit status.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bfmon_config.h"
#include "feed/replay.h"
#include "tui/cmd_live.h"
#include "tui/cmd_record.h"
#include "tui/cmd_replay.h"
#include "tui/cmd_sim.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: bfmon [--help] [--version] [<live options>]\n"
                "       bfmon <command> [<args>]\n"
                "\n"
                "A terminal monitor for Binance USD-M Futures market data.\n"
                "Without a command it watches the live market (see 'bfmon --help-live').\n"
                "\n"
                "commands:\n"
                "  sim              run the built-in Binance-compatible loopback exchange\n"
                "  replay FILE...   replay recordings through the engine and report\n"
                "  record --out DIR record market data to files, without the terminal UI\n"
                "\n"
                "Run 'bfmon <command> --help' for a command's options.\n");
}

static bool is_command(const char *arg, const char *name)
{
    return strcmp(arg, name) == 0;
}

int main(int argc, char **argv)
{
    /* A peer that closes a socket mid-write must be an error code, not the end of the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && is_command(argv[1], "sim"))
        return cmd_sim(argc - 1, argv + 1);
    if (argc >= 2 && is_command(argv[1], "replay"))
        return cmd_replay(argc - 1, argv + 1);
    if (argc >= 2 && is_command(argv[1], "record"))
        return cmd_record(argc - 1, argv + 1);
    if (argc == 2 && (is_command(argv[1], "--help") || is_command(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && (is_command(argv[1], "--version") || is_command(argv[1], "-V"))) {
        printf("bfmon %s\n", BFMON_VERSION);
        return 0;
    }
    if (argc >= 2 && argv[1][0] != '-') {
        fprintf(stderr, "bfmon: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    /* Everything else is the live monitor's options (cmd_live answers --help-live). */
    return cmd_live(argc, argv);
}
