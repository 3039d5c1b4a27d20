/*
 * bfmon: command-line entry point. Finds the command (tui/cli) and hands it the rest of the command
 * line. Main thread only; owns nothing beyond the process exit status.
 */
#include <signal.h>
#include <stdio.h>

#include "bfmon_config.h"
#include "tui/cli.h"
#include "tui/cmd_live.h"
#include "tui/cmd_record.h"
#include "tui/cmd_replay.h"
#include "tui/cmd_sim.h"

int main(int argc, char **argv)
{
    /* A peer that closes a socket mid-write must be an error code, not the end of the process. */
    signal(SIGPIPE, SIG_IGN);
    switch (cli_command_of(argc, argv)) {
    case CLI_SIM:
        return cmd_sim(argc - 1, argv + 1);
    case CLI_REPLAY:
        return cmd_replay(argc - 1, argv + 1);
    case CLI_RECORD:
        return cmd_record(argc - 1, argv + 1);
    case CLI_HELP:
        cli_usage(stdout);
        return 0;
    case CLI_VERSION:
        printf("bfmon %s\n", BFMON_VERSION);
        return 0;
    case CLI_UNKNOWN:
        fprintf(stderr, "bfmon: unknown command '%s'\n", argv[1]);
        cli_usage(stderr);
        return EXIT_USAGE;
    case CLI_LIVE:
    default:
        return cmd_live(argc, argv); /* it answers --help-live */
    }
}
